"""Slack's Block Kit limits, and the check every message and view passes before it is sent.

Slack answers an over-limit payload with `invalid_blocks` or `msg_blocks_too_long` and the
user sees nothing, so each limit is a named constant and `validate_message` /
`validate_view` walk the whole payload and name the exact path that broke
("blocks[12].text.text: 3104 > 3000"). slack_sdk's model classes check some element
limits, but not block counts, field lengths or total size, and raw dicts not at all.

Numbers come from Slack's Block Kit reference (api.slack.com/reference/block-kit) and, for
option values (150) and select/overflow option counts, from slack_sdk.models.blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

# --- surfaces --------------------------------------------------------------------------
MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100  # modal and Home tab
# Undocumented: Slack answers msg_blocks_too_long around 13,000 characters of block text.
# We keep a margin under it and count every text object (see block_text_length).
MESSAGE_TEXT_BUDGET = 12_000
# The top-level `text` (notification fallback); Slack truncates beyond this.
MESSAGE_FALLBACK_TEXT_MAX = 40_000

# --- blocks ----------------------------------------------------------------------------
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
# Slack documents no separate limit for a context text element; the text-object maximum.
CONTEXT_TEXT_MAX = 3000
BLOCK_ID_MAX = 255
IMAGE_URL_MAX = 3000
IMAGE_ALT_TEXT_MAX = 2000
IMAGE_TITLE_MAX = 2000
INPUT_LABEL_MAX = 2000
INPUT_HINT_MAX = 2000

# --- elements ---------------------------------------------------------------------------
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
BUTTON_URL_MAX = 3000
BUTTON_STYLES = ("primary", "danger")
ACTION_ID_MAX = 255
PLACEHOLDER_MAX = 150
SELECT_OPTIONS_MAX = 100
OVERFLOW_OPTIONS_MIN = 2
OVERFLOW_OPTIONS_MAX = 5
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTION_DESCRIPTION_MAX = 75
PLAIN_TEXT_INPUT_MAX = 3000  # the most a plain_text_input's max_length may allow
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30

# --- views -----------------------------------------------------------------------------
MODAL_TITLE_MAX = 24
MODAL_BUTTON_MAX = 24  # close / submit
CALLBACK_ID_MAX = 255
PRIVATE_METADATA_MAX = 3000
EXTERNAL_ID_MAX = 255

# --- interaction timing (used by the app, kept with the other limits) -------------------
ACK_DEADLINE_SECONDS = 3
RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60

TEXT_TYPES = ("plain_text", "mrkdwn")


class BlockKitLimitError(ValueError):
    """A payload Slack would reject; the message names the path, the size and the limit."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _fail(path: str, problem: str) -> NoReturn:
    raise BlockKitLimitError(path, problem)


def _check_len(path: str, value: Any, limit: int, *, min_len: int = 0) -> None:
    if not isinstance(value, str):
        _fail(path, f"expected a string, got {type(value).__name__}")
    if len(value) > limit:
        _fail(path, f"{len(value)} > {limit}")
    if len(value) < min_len:
        _fail(path, f"{len(value)} < {min_len} (must not be empty)")


def _check_count(path: str, items: Any, limit: int, *, min_count: int = 0) -> list[Any]:
    if not isinstance(items, list):
        _fail(path, f"expected a list, got {type(items).__name__}")
    if len(items) > limit:
        _fail(path, f"{len(items)} items > {limit}")
    if len(items) < min_count:
        _fail(path, f"{len(items)} items < {min_count}")
    return items


def _check_text(path: str, obj: Any, limit: int, *, plain_only: bool = False) -> None:
    if not isinstance(obj, Mapping):
        _fail(path, "expected a text object")
    kind = obj.get("type")
    allowed = ("plain_text",) if plain_only else TEXT_TYPES
    if kind not in allowed:
        _fail(f"{path}.type", f"{kind!r} is not one of {', '.join(allowed)}")
    _check_len(f"{path}.text", obj.get("text"), limit, min_len=1)


def _check_option(path: str, opt: Any) -> None:
    if not isinstance(opt, Mapping):
        _fail(path, "expected an option object")
    _check_text(f"{path}.text", opt.get("text"), OPTION_TEXT_MAX)
    _check_len(f"{path}.value", opt.get("value"), OPTION_VALUE_MAX, min_len=1)
    if "description" in opt:
        _check_text(f"{path}.description", opt["description"], OPTION_DESCRIPTION_MAX, plain_only=True)


def _check_confirm(path: str, conf: Any) -> None:
    _check_text(f"{path}.title", conf.get("title"), CONFIRM_TITLE_MAX, plain_only=True)
    _check_text(f"{path}.text", conf.get("text"), CONFIRM_TEXT_MAX)
    _check_text(f"{path}.confirm", conf.get("confirm"), CONFIRM_BUTTON_MAX, plain_only=True)
    _check_text(f"{path}.deny", conf.get("deny"), CONFIRM_BUTTON_MAX, plain_only=True)


def _check_element(path: str, el: Any) -> None:
    if not isinstance(el, Mapping):
        _fail(path, "expected an element object")
    kind = el.get("type")
    if "action_id" in el:
        _check_len(f"{path}.action_id", el["action_id"], ACTION_ID_MAX, min_len=1)
    if "confirm" in el:
        _check_confirm(f"{path}.confirm", el["confirm"])
    if kind == "button":
        _check_text(f"{path}.text", el.get("text"), BUTTON_TEXT_MAX, plain_only=True)
        if "value" in el:
            _check_len(f"{path}.value", el["value"], BUTTON_VALUE_MAX, min_len=1)
        if "url" in el:
            _check_len(f"{path}.url", el["url"], BUTTON_URL_MAX, min_len=1)
        if "style" in el and el["style"] not in BUTTON_STYLES:
            _fail(f"{path}.style", f"{el['style']!r} is not one of {', '.join(BUTTON_STYLES)}")
    elif kind == "static_select":
        if "placeholder" in el:
            _check_text(f"{path}.placeholder", el["placeholder"], PLACEHOLDER_MAX, plain_only=True)
        options = el.get("options")
        options = _check_count(f"{path}.options", options, SELECT_OPTIONS_MAX, min_count=1)
        for i, opt in enumerate(options):
            _check_option(f"{path}.options[{i}]", opt)
        if "initial_option" in el:
            _check_option(f"{path}.initial_option", el["initial_option"])
            if el["initial_option"] not in options:
                _fail(f"{path}.initial_option", "is not one of the options")
    elif kind == "overflow":
        options = el.get("options")
        options = _check_count(f"{path}.options", options, OVERFLOW_OPTIONS_MAX, min_count=OVERFLOW_OPTIONS_MIN)
        for i, opt in enumerate(options):
            _check_option(f"{path}.options[{i}]", opt)
    elif kind == "image":
        _check_image_source(path, el)
        _check_len(f"{path}.alt_text", el.get("alt_text"), IMAGE_ALT_TEXT_MAX, min_len=1)
    elif kind == "users_select":
        if "placeholder" in el:
            _check_text(f"{path}.placeholder", el["placeholder"], PLACEHOLDER_MAX, plain_only=True)
        if "initial_user" in el:
            _check_len(f"{path}.initial_user", el["initial_user"], ACTION_ID_MAX, min_len=1)
    elif kind == "plain_text_input":
        if "placeholder" in el:
            _check_text(f"{path}.placeholder", el["placeholder"], PLACEHOLDER_MAX, plain_only=True)
        max_length = el.get("max_length", PLAIN_TEXT_INPUT_MAX)
        if not isinstance(max_length, int) or not 1 <= max_length <= PLAIN_TEXT_INPUT_MAX:
            _fail(f"{path}.max_length", f"{max_length!r} is not 1-{PLAIN_TEXT_INPUT_MAX}")
        if "initial_value" in el:
            _check_len(f"{path}.initial_value", el["initial_value"], max_length)
    elif kind in TEXT_TYPES:
        _check_len(f"{path}.text", el.get("text"), CONTEXT_TEXT_MAX, min_len=1)
    else:
        _fail(f"{path}.type", f"unsupported element type {kind!r}")


def _check_image_source(path: str, image: Mapping[str, Any]) -> None:
    """Exactly one source: image_url, or slack_file with exactly one of id and url (a file
    uploaded to Slack, shown without a public URL)."""
    has_url, ref = "image_url" in image, image.get("slack_file")
    if has_url == (ref is not None):
        _fail(path, "an image needs exactly one of image_url and slack_file")
    if has_url:
        _check_len(f"{path}.image_url", image["image_url"], IMAGE_URL_MAX, min_len=1)
        return
    if not isinstance(ref, Mapping) or ("id" in ref) == ("url" in ref):
        _fail(f"{path}.slack_file", "needs exactly one of id and url")
    key = "id" if "id" in ref else "url"
    _check_len(f"{path}.slack_file.{key}", ref[key], IMAGE_URL_MAX, min_len=1)


def _check_block(path: str, block: Any) -> None:
    if not isinstance(block, Mapping):
        _fail(path, "expected a block object")
    kind = block.get("type")
    if "block_id" in block:
        _check_len(f"{path}.block_id", block["block_id"], BLOCK_ID_MAX, min_len=1)
    if kind == "header":
        _check_text(f"{path}.text", block.get("text"), HEADER_TEXT_MAX, plain_only=True)
    elif kind == "section":
        if "text" not in block and "fields" not in block:
            _fail(path, "a section needs text or fields")
        if "text" in block:
            _check_text(f"{path}.text", block["text"], SECTION_TEXT_MAX)
        if "fields" in block:
            fields = block["fields"]
            _check_count(f"{path}.fields", fields, SECTION_FIELDS_MAX, min_count=1)
            for i, f in enumerate(fields):
                _check_text(f"{path}.fields[{i}]", f, SECTION_FIELD_TEXT_MAX)
        if "accessory" in block:
            _check_element(f"{path}.accessory", block["accessory"])
    elif kind == "context":
        elements = block.get("elements")
        elements = _check_count(f"{path}.elements", elements, CONTEXT_ELEMENTS_MAX, min_count=1)
        for i, el in enumerate(elements):
            if not isinstance(el, Mapping) or el.get("type") not in (*TEXT_TYPES, "image"):
                _fail(f"{path}.elements[{i}]", "a context element must be text or an image")
            _check_element(f"{path}.elements[{i}]", el)
    elif kind == "actions":
        elements = block.get("elements")
        elements = _check_count(f"{path}.elements", elements, ACTIONS_ELEMENTS_MAX, min_count=1)
        seen: set[str] = set()
        for i, el in enumerate(elements):
            _check_element(f"{path}.elements[{i}]", el)
            action_id = el.get("action_id")
            if action_id is not None:
                if action_id in seen:
                    _fail(f"{path}.elements[{i}].action_id", f"{action_id!r} repeats within the block")
                seen.add(action_id)
    elif kind == "divider":
        pass
    elif kind == "image":
        _check_element(path, block)
        if "title" in block:
            _check_text(f"{path}.title", block["title"], IMAGE_TITLE_MAX, plain_only=True)
    elif kind == "input":
        _check_text(f"{path}.label", block.get("label"), INPUT_LABEL_MAX, plain_only=True)
        if "hint" in block:
            _check_text(f"{path}.hint", block["hint"], INPUT_HINT_MAX, plain_only=True)
        element = block.get("element")
        if not isinstance(element, Mapping) or element.get("type") not in ("plain_text_input", "users_select"):
            _fail(f"{path}.element", "an input holds a plain_text_input or a users_select here")
        _check_element(f"{path}.element", element)
    else:
        _fail(f"{path}.type", f"unsupported block type {kind!r}")


def block_text_length(blocks: Iterable[Any]) -> int:
    """Characters of every text object in the blocks: what Slack's total-size check counts."""
    total = 0
    stack: list[Any] = list(blocks)
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if node.get("type") in TEXT_TYPES and isinstance(node.get("text"), str):
                total += len(node["text"])
            stack.extend(v for k, v in node.items() if isinstance(v, (Mapping, list)))
        elif isinstance(node, list):
            stack.extend(node)
    return total


def _check_blocks(blocks: Any, max_blocks: int, path: str = "blocks") -> None:
    _check_count(path, blocks, max_blocks)
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        _check_block(f"{path}[{i}]", block)
        bid = block.get("block_id")
        if bid is not None:
            if bid in block_ids:
                _fail(f"{path}[{i}].block_id", f"{bid!r} repeats in the message")
            block_ids.add(bid)


def validate_blocks(
    blocks: Sequence[Mapping[str, Any]],
    *,
    max_blocks: int = MESSAGE_MAX_BLOCKS,
    text_budget: int | None = MESSAGE_TEXT_BUDGET,
) -> None:
    """Check a list of blocks on its own (e.g. blocks rebuilt for chat.update)."""
    _check_blocks(list(blocks), max_blocks)
    if text_budget is not None:
        used = block_text_length(blocks)
        if used > text_budget:
            _fail("blocks", f"{used} characters of text > {text_budget}")


def validate_message(blocks: Sequence[Mapping[str, Any]], text: str) -> None:
    """Raise BlockKitLimitError unless Slack would accept these blocks and fallback text."""
    _check_len("text", text, MESSAGE_FALLBACK_TEXT_MAX, min_len=1)
    validate_blocks(blocks)


def validate_view(view: Mapping[str, Any]) -> None:
    """Raise BlockKitLimitError unless Slack would accept this modal or Home tab view."""
    kind = view.get("type")
    if kind == "modal":
        _check_text("title", view.get("title"), MODAL_TITLE_MAX, plain_only=True)
        for key in ("close", "submit"):
            if key in view:
                _check_text(key, view[key], MODAL_BUTTON_MAX, plain_only=True)
    elif kind != "home":
        _fail("type", f"{kind!r} is not one of modal, home")
    if "callback_id" in view:
        _check_len("callback_id", view["callback_id"], CALLBACK_ID_MAX)
    if "private_metadata" in view:
        _check_len("private_metadata", view["private_metadata"], PRIVATE_METADATA_MAX)
    if "external_id" in view:
        _check_len("external_id", view["external_id"], EXTERNAL_ID_MAX, min_len=1)
    _check_blocks(view.get("blocks"), VIEW_MAX_BLOCKS)
