"""One small pure helper per Block Kit block and element type.

Every helper truncates its human-readable text to Slack's limit (ending in "…"), so no
helper can produce an over-limit block whatever the data. Identifiers (action_id, button
and option values, block_id) are never truncated: a cut id would silently point a click at
the wrong org, so an over-long id raises BlockKitLimitError instead and the builder decides.

Text passed to `mrkdwn`/`section`/`context` is mrkdwn *as sent*: builders escape every
piece of data with `escape_mrkdwn` before composing it (templates do it by default).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bot import limits
from bot.limits import BlockKitLimitError, block_text_length

Block = dict[str, Any]

ELLIPSIS = "…"
EMPTY_TEXT = "–"  # Slack rejects empty text objects; this stands in for "nothing".

_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")


def escape_mrkdwn(text: object) -> str:
    """Escape &, < and > as Slack asks, so data can never form links or @channel pings.

    Slack offers no escape for *, _, ~ or `; those stay as typed (at worst they style text).
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: object) -> str:
    """Collapse newlines and runs of whitespace: data shown inline must not break layout."""
    return " ".join(str(text).split())


def user_mention(user: str | None) -> str:
    """`<@U123>` for a Slack user id; anything else (an e-mail, a name) shown escaped."""
    if not user:
        return ""
    if _USER_ID.match(user):
        return f"<@{user}>"
    return escape_mrkdwn(one_line(user))


def truncate(text: str, limit: int) -> str:
    """Cut plain text to `limit` characters, the last being "…"."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def truncate_mrkdwn(text: str, limit: int) -> str:
    """Cut mrkdwn to `limit` characters without splitting an &entity; or a <token>."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    return cut + ELLIPSIS


def _non_empty(text: str) -> str:
    return text if text.strip() else EMPTY_TEXT


def _check_id(path: str, value: str, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise BlockKitLimitError(path, "must be a non-empty string")
    if len(value) > limit:
        raise BlockKitLimitError(path, f"{len(value)} > {limit}")
    return value


# --- text objects ------------------------------------------------------------------------


def plain_text(text: str, limit: int | None = None) -> Block:
    text = _non_empty(str(text))
    if limit is not None:
        text = truncate(text, limit)
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str, limit: int | None = None) -> Block:
    text = _non_empty(str(text))
    if limit is not None:
        text = truncate_mrkdwn(text, limit)
    return {"type": "mrkdwn", "text": text}


# --- blocks ------------------------------------------------------------------------------


def _with_block_id(block: Block, block_id: str | None) -> Block:
    if block_id is not None:
        block["block_id"] = _check_id("block_id", block_id, limits.BLOCK_ID_MAX)
    return block


def header(text: str, *, block_id: str | None = None) -> Block:
    return _with_block_id({"type": "header", "text": plain_text(one_line(text), limits.HEADER_TEXT_MAX)}, block_id)


def more_line(hidden: int) -> str:
    return f"{ELLIPSIS}and {hidden} more"


def section(
    text: str | None = None,
    *,
    fields: Sequence[str] | None = None,
    accessory: Block | None = None,
    block_id: str | None = None,
) -> Block:
    """A section from mrkdwn text and/or fields; more than 10 fields end in "…and N more"."""
    if text is None and not fields:
        raise ValueError("a section needs text or fields")
    block: Block = {"type": "section"}
    if text is not None:
        block["text"] = mrkdwn(text, limits.SECTION_TEXT_MAX)
    if fields:
        shown = list(fields)
        if len(shown) > limits.SECTION_FIELDS_MAX:
            hidden = len(shown) - (limits.SECTION_FIELDS_MAX - 1)
            shown = shown[: limits.SECTION_FIELDS_MAX - 1] + [more_line(hidden)]
        block["fields"] = [mrkdwn(f, limits.SECTION_FIELD_TEXT_MAX) for f in shown]
    if accessory is not None:
        block["accessory"] = accessory
    return _with_block_id(block, block_id)


def context(*texts: str, block_id: str | None = None) -> Block:
    """A context line; more than 10 elements are cut, the last saying how many were left."""
    shown = [t for t in texts]
    if not shown:
        raise ValueError("a context block needs at least one element")
    if len(shown) > limits.CONTEXT_ELEMENTS_MAX:
        hidden = len(shown) - (limits.CONTEXT_ELEMENTS_MAX - 1)
        shown = shown[: limits.CONTEXT_ELEMENTS_MAX - 1] + [more_line(hidden)]
    return _with_block_id({"type": "context", "elements": [mrkdwn(t, limits.CONTEXT_TEXT_MAX) for t in shown]},
                          block_id)


def divider() -> Block:
    return {"type": "divider"}


def actions(elements: Sequence[Block], *, block_id: str | None = None) -> Block:
    """An actions row. More than 25 elements is a builder bug (a row of 26 buttons is no
    UI), so it raises rather than hiding the extra actions."""
    if not elements:
        raise ValueError("an actions block needs at least one element")
    if len(elements) > limits.ACTIONS_ELEMENTS_MAX:
        raise BlockKitLimitError("elements", f"{len(elements)} items > {limits.ACTIONS_ELEMENTS_MAX}")
    return _with_block_id({"type": "actions", "elements": list(elements)}, block_id)


# --- elements ----------------------------------------------------------------------------


def button(
    text: str,
    *,
    action_id: str,
    value: str | None = None,
    style: str | None = None,
    url: str | None = None,
) -> Block:
    el: Block = {
        "type": "button",
        "text": plain_text(one_line(text), limits.BUTTON_TEXT_MAX),
        "action_id": _check_id("action_id", action_id, limits.ACTION_ID_MAX),
    }
    if value is not None:
        el["value"] = _check_id("value", value, limits.BUTTON_VALUE_MAX)
    if url is not None:
        el["url"] = _check_id("url", url, limits.BUTTON_URL_MAX)
    if style is not None:
        if style not in limits.BUTTON_STYLES:
            raise ValueError(f"button style {style!r} is not one of {', '.join(limits.BUTTON_STYLES)}")
        el["style"] = style
    return el


def option(text: str, value: str, *, description: str | None = None) -> Block:
    opt: Block = {
        "text": plain_text(one_line(text), limits.OPTION_TEXT_MAX),
        "value": _check_id("value", value, limits.OPTION_VALUE_MAX),
    }
    if description is not None:
        opt["description"] = plain_text(one_line(description), limits.OPTION_DESCRIPTION_MAX)
    return opt


def static_select(
    placeholder: str,
    *,
    action_id: str,
    options: Sequence[Block],
    initial_option: Block | None = None,
) -> Block:
    """A static select; options beyond Slack's 100 are dropped (the list is a menu, not data)."""
    if not options:
        raise ValueError("a select needs at least one option")
    shown = list(options)[: limits.SELECT_OPTIONS_MAX]
    el: Block = {
        "type": "static_select",
        "placeholder": plain_text(one_line(placeholder), limits.PLACEHOLDER_MAX),
        "action_id": _check_id("action_id", action_id, limits.ACTION_ID_MAX),
        "options": shown,
    }
    if initial_option is not None:
        if initial_option not in shown:
            raise ValueError("initial_option must be one of the options")
        el["initial_option"] = initial_option
    return el


def users_select(placeholder: str, *, action_id: str, initial_user: str | None = None) -> Block:
    """A person picker (Slack lists the workspace's members itself)."""
    el: Block = {
        "type": "users_select",
        "placeholder": plain_text(one_line(placeholder), limits.PLACEHOLDER_MAX),
        "action_id": _check_id("action_id", action_id, limits.ACTION_ID_MAX),
    }
    if initial_user and _USER_ID.match(initial_user):
        el["initial_user"] = initial_user
    return el


def plain_text_input(*, action_id: str, multiline: bool = False, max_length: int = limits.PLAIN_TEXT_INPUT_MAX,
                     placeholder: str | None = None) -> Block:
    el: Block = {
        "type": "plain_text_input",
        "action_id": _check_id("action_id", action_id, limits.ACTION_ID_MAX),
        "multiline": multiline,
        "max_length": max(1, min(max_length, limits.PLAIN_TEXT_INPUT_MAX)),
    }
    if placeholder:
        el["placeholder"] = plain_text(one_line(placeholder), limits.PLACEHOLDER_MAX)
    return el


def input_block(label: str, element: Block, *, block_id: str, hint: str | None = None) -> Block:
    """A form field of a modal; what was entered comes back in the view_submission under
    ``state.values[block_id][action_id]``."""
    block: Block = {"type": "input", "label": plain_text(one_line(label), limits.INPUT_LABEL_MAX),
                    "element": element}
    if hint:
        block["hint"] = plain_text(hint, limits.INPUT_HINT_MAX)
    return _with_block_id(block, block_id)


def overflow(*, action_id: str, options: Sequence[Block]) -> Block:
    if not limits.OVERFLOW_OPTIONS_MIN <= len(options) <= limits.OVERFLOW_OPTIONS_MAX:
        raise BlockKitLimitError(
            "options",
            f"an overflow menu holds {limits.OVERFLOW_OPTIONS_MIN}-{limits.OVERFLOW_OPTIONS_MAX} options, "
            f"got {len(options)}",
        )
    return {
        "type": "overflow",
        "action_id": _check_id("action_id", action_id, limits.ACTION_ID_MAX),
        "options": list(options),
    }


# --- views -------------------------------------------------------------------------------


def modal_view(
    title: str,
    blocks: Sequence[Block],
    *,
    close: str = "Close",
    submit: str | None = None,
    callback_id: str | None = None,
    private_metadata: str | None = None,
    external_id: str | None = None,
) -> Block:
    """A modal for views.open; more than 100 blocks end in a "…and N more" context line."""
    view: Block = {
        "type": "modal",
        "title": plain_text(one_line(title), limits.MODAL_TITLE_MAX),
        "close": plain_text(close, limits.MODAL_BUTTON_MAX),
        "blocks": cap_blocks(blocks, limits.VIEW_MAX_BLOCKS),
    }
    if submit is not None:
        view["submit"] = plain_text(submit, limits.MODAL_BUTTON_MAX)
    if callback_id is not None:
        view["callback_id"] = _check_id("callback_id", callback_id, limits.CALLBACK_ID_MAX)
    if private_metadata is not None:
        view["private_metadata"] = _check_id("private_metadata", private_metadata, limits.PRIVATE_METADATA_MAX)
    if external_id is not None:
        view["external_id"] = _check_id("external_id", external_id, limits.EXTERNAL_ID_MAX)
    return view


# --- fitting lists -----------------------------------------------------------------------


def cap_blocks(blocks: Sequence[Block], max_blocks: int) -> list[Block]:
    """Keep at most `max_blocks`, replacing the overflow by one "…and N more" line."""
    blocks = list(blocks)
    if len(blocks) <= max_blocks:
        return blocks
    hidden = len(blocks) - (max_blocks - 1)
    return blocks[: max_blocks - 1] + [context(more_line(hidden))]


def fit_items(
    groups: Sequence[Sequence[Block]],
    *,
    head: Sequence[Block] = (),
    tail: Sequence[Block] = (),
    max_blocks: int = limits.MESSAGE_MAX_BLOCKS,
    text_budget: int = limits.MESSAGE_TEXT_BUDGET,
    more: Callable[[int], str] = more_line,
) -> list[Block]:
    """head + as many whole item groups as fit + "…and N more" + tail.

    Groups are kept whole and in order (a section without its buttons would be a broken
    item); the cut is made so the block count and the text budget both hold, so Slack never
    rejects a long list. Raises only when head and tail alone cannot fit.
    """
    head, tail = list(head), list(tail)
    fixed_blocks = len(head) + len(tail)
    fixed_text = block_text_length(head) + block_text_length(tail)
    sizes = [(len(g), block_text_length(g)) for g in groups]
    n = len(groups)

    def fits(used_blocks: int, used_text: int, hidden: int) -> bool:
        if hidden:
            line = [context(more(hidden))]
            used_blocks += 1
            used_text += block_text_length(line)
        return used_blocks <= max_blocks and used_text <= text_budget

    if not fits(fixed_blocks, fixed_text, n):
        raise BlockKitLimitError("blocks", "the fixed blocks alone do not fit in the message")
    kept = 0
    used_blocks, used_text = fixed_blocks, fixed_text
    for count, chars in sizes:
        if not fits(used_blocks + count, used_text + chars, n - kept - 1):
            break
        used_blocks += count
        used_text += chars
        kept += 1
    out = head + [b for g in groups[:kept] for b in g]
    if kept < n:
        out.append(context(more(n - kept)))
    return out + tail


def iter_text_objects(blocks: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    """Every text object in the blocks, depth first (tests and updates use it)."""
    stack: list[Any] = list(reversed(list(blocks)))
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if node.get("type") in limits.TEXT_TYPES and isinstance(node.get("text"), str):
                yield node
            children = [v for v in node.values() if isinstance(v, (Mapping, list))]
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(reversed(node))
