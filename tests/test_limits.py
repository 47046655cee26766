"""Every Block Kit limit is enforced at exactly Slack's number, and the error names the path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot import limits
from bot.limits import BlockKitLimitError, block_text_length, validate_blocks, validate_message, validate_view


def txt(n: int, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": kind, "text": "x" * n}


def plain(n: int) -> dict[str, Any]:
    return txt(n, "plain_text")


def section(n: int = 10, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": txt(n), **extra}


def button(text: int = 4, **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": plain(text), "action_id": "b", **extra}


def opt(text: int = 3, value: str = "v") -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def select(options: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "static_select", "action_id": "s", "placeholder": plain(5), "options": options, **extra}


def modal(blocks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": plain(10), "close": plain(5), "blocks": blocks or [section()], **extra}


def error_of(blocks: list[dict[str, Any]], text: str = "fallback") -> str:
    with pytest.raises(BlockKitLimitError) as info:
        validate_message(blocks, text)
    return str(info.value)


def view_error_of(view: dict[str, Any]) -> str:
    with pytest.raises(BlockKitLimitError) as info:
        validate_view(view)
    return str(info.value)


# (description, blocks at the limit, blocks one over, expected error)
MESSAGE_CASES = [
    (
        "blocks per message",
        [section(1) for _ in range(50)],
        [section(1) for _ in range(51)],
        "blocks: 51 items > 50",
    ),
    ("section text", [section(3000)], [section(2), section(3001)], "blocks[1].text.text: 3001 > 3000"),
    (
        "number of fields",
        [{"type": "section", "fields": [txt(1)] * 10}],
        [{"type": "section", "fields": [txt(1)] * 11}],
        "blocks[0].fields: 11 items > 10",
    ),
    (
        "field text",
        [{"type": "section", "fields": [txt(1), txt(2000)]}],
        [{"type": "section", "fields": [txt(1), txt(2001)]}],
        "blocks[0].fields[1].text: 2001 > 2000",
    ),
    (
        "header text",
        [{"type": "header", "text": plain(150)}],
        [{"type": "header", "text": plain(151)}],
        "blocks[0].text.text: 151 > 150",
    ),
    (
        "actions elements",
        [{"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(25)]}],
        [{"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(26)]}],
        "blocks[0].elements: 26 items > 25",
    ),
    (
        "context elements",
        [{"type": "context", "elements": [txt(1)] * 10}],
        [{"type": "context", "elements": [txt(1)] * 11}],
        "blocks[0].elements: 11 items > 10",
    ),
    (
        "button text",
        [{"type": "actions", "elements": [button(75)]}],
        [{"type": "actions", "elements": [button(76)]}],
        "blocks[0].elements[0].text.text: 76 > 75",
    ),
    (
        "button value",
        [{"type": "actions", "elements": [button(value="v" * 2000)]}],
        [{"type": "actions", "elements": [button(value="v" * 2001)]}],
        "blocks[0].elements[0].value: 2001 > 2000",
    ),
    (
        "button action_id",
        [section(accessory=button(action_id="a" * 255))],
        [section(accessory=button(action_id="a" * 256))],
        "blocks[0].accessory.action_id: 256 > 255",
    ),
    (
        "button url",
        [{"type": "actions", "elements": [button(url="u" * 3000)]}],
        [{"type": "actions", "elements": [button(url="u" * 3001)]}],
        "blocks[0].elements[0].url: 3001 > 3000",
    ),
    ("block_id", [section(block_id="b" * 255)], [section(block_id="b" * 256)], "blocks[0].block_id: 256 > 255"),
    (
        "option text",
        [{"type": "actions", "elements": [select([opt(75)])]}],
        [{"type": "actions", "elements": [select([opt(1), opt(76)])]}],
        "blocks[0].elements[0].options[1].text.text: 76 > 75",
    ),
    (
        "option value",
        [{"type": "actions", "elements": [select([opt(value="v" * 150)])]}],
        [{"type": "actions", "elements": [select([opt(value="v" * 151)])]}],
        "blocks[0].elements[0].options[0].value: 151 > 150",
    ),
    (
        "select options",
        [{"type": "actions", "elements": [select([opt(value=str(i)) for i in range(100)])]}],
        [{"type": "actions", "elements": [select([opt(value=str(i)) for i in range(101)])]}],
        "blocks[0].elements[0].options: 101 items > 100",
    ),
    (
        "overflow options",
        [{"type": "actions", "elements": [{"type": "overflow", "action_id": "o", "options": [opt()] * 5}]}],
        [{"type": "actions", "elements": [{"type": "overflow", "action_id": "o", "options": [opt()] * 6}]}],
        "blocks[0].elements[0].options: 6 items > 5",
    ),
    (
        "placeholder",
        [{"type": "actions", "elements": [select([opt()], placeholder=plain(150))]}],
        [{"type": "actions", "elements": [select([opt()], placeholder=plain(151))]}],
        "blocks[0].elements[0].placeholder.text: 151 > 150",
    ),
    (
        "total text budget",
        [section(3000), section(3000), section(3000), section(3000)],
        [section(3000), section(3000), section(3000), section(3000), section(1)],
        "blocks: 12001 characters of text > 12000",
    ),
]


@pytest.mark.parametrize("what, at_limit, over, expected", MESSAGE_CASES, ids=[c[0] for c in MESSAGE_CASES])
def test_message_limit_accepts_the_limit_and_names_the_path_one_over(
    what: str, at_limit: list[dict[str, Any]], over: list[dict[str, Any]], expected: str
) -> None:
    validate_message(at_limit, "fallback")
    assert error_of(over) == expected


def test_the_limits_are_slacks_numbers() -> None:
    assert (limits.MESSAGE_MAX_BLOCKS, limits.VIEW_MAX_BLOCKS) == (50, 100)
    assert (limits.SECTION_TEXT_MAX, limits.SECTION_FIELDS_MAX, limits.SECTION_FIELD_TEXT_MAX) == (3000, 10, 2000)
    assert limits.HEADER_TEXT_MAX == 150
    assert (limits.ACTIONS_ELEMENTS_MAX, limits.CONTEXT_ELEMENTS_MAX) == (25, 10)
    assert (limits.BUTTON_TEXT_MAX, limits.BUTTON_VALUE_MAX, limits.ACTION_ID_MAX, limits.BUTTON_URL_MAX) == (
        75,
        2000,
        255,
        3000,
    )
    assert (limits.BLOCK_ID_MAX, limits.CALLBACK_ID_MAX) == (255, 255)
    assert (limits.MODAL_TITLE_MAX, limits.PRIVATE_METADATA_MAX) == (24, 3000)
    assert (limits.OPTION_TEXT_MAX, limits.OPTION_VALUE_MAX) == (75, 150)
    assert limits.MESSAGE_TEXT_BUDGET == 12_000


def test_the_first_problem_is_reported_with_its_size() -> None:
    blocks = [section(10) for _ in range(12)] + [section(3104)]
    assert error_of(blocks) == "blocks[12].text.text: 3104 > 3000"


def test_empty_texts_and_missing_fallback_are_refused() -> None:
    assert error_of([section(0)]) == "blocks[0].text.text: 0 < 1 (must not be empty)"
    assert error_of([section(1)], text="") == "text: 0 < 1 (must not be empty)"
    assert error_of([{"type": "section"}]) == "blocks[0]: a section needs text or fields"


def test_structure_errors_slack_would_reject() -> None:
    assert error_of([{"type": "header", "text": txt(5)}]) == "blocks[0].text.type: 'mrkdwn' is not one of plain_text"
    assert error_of([section(block_id="a"), section(block_id="a")]) == "blocks[1].block_id: 'a' repeats in the message"
    dup = {"type": "actions", "elements": [button(action_id="x"), button(action_id="x")]}
    assert error_of([dup]) == "blocks[0].elements[1].action_id: 'x' repeats within the block"
    assert error_of([{"type": "actions", "elements": [button(style="green")]}]) == (
        "blocks[0].elements[0].style: 'green' is not one of primary, danger"
    )
    one_option = {"type": "overflow", "action_id": "o", "options": [opt()]}
    assert error_of([{"type": "actions", "elements": [one_option]}]) == "blocks[0].elements[0].options: 1 items < 2"
    stray = select([opt(value="a")], initial_option=opt(value="b"))
    assert error_of([{"type": "actions", "elements": [stray]}]) == (
        "blocks[0].elements[0].initial_option: is not one of the options")
    assert error_of([{"type": "table"}]) == "blocks[0].type: unsupported block type 'table'"


def test_text_length_counts_every_text_object_including_buttons_and_options() -> None:
    blocks = [
        section(10),
        {"type": "section", "fields": [txt(3), txt(4)]},
        {"type": "actions", "elements": [button(5), select([opt(6), opt(7)], placeholder=plain(8))]},
        {"type": "context", "elements": [txt(9)]},
        {"type": "divider"},
    ]
    assert block_text_length(blocks) == 10 + 3 + 4 + 5 + 6 + 7 + 8 + 9


def test_validate_blocks_uses_the_given_surface() -> None:
    blocks = [section(1) for _ in range(60)]
    validate_blocks(blocks, max_blocks=100, text_budget=None)
    with pytest.raises(BlockKitLimitError, match=r"^blocks: 60 items > 50$"):
        validate_blocks(blocks)


# --- views --------------------------------------------------------------------------------

VIEW_CASES = [
    ("blocks per modal", modal([section(1)] * 100), modal([section(1)] * 101), "blocks: 101 items > 100"),
    ("modal title", modal(title=plain(24)), modal(title=plain(25)), "title.text: 25 > 24"),
    ("close button", modal(close=plain(24)), modal(close=plain(25)), "close.text: 25 > 24"),
    ("callback_id", modal(callback_id="c" * 255), modal(callback_id="c" * 256), "callback_id: 256 > 255"),
    (
        "private_metadata",
        modal(private_metadata="m" * 3000),
        modal(private_metadata="m" * 3001),
        "private_metadata: 3001 > 3000",
    ),
    ("block inside a view", modal([section(3000)]), modal([section(3001)]), "blocks[0].text.text: 3001 > 3000"),
]


@pytest.mark.parametrize("what, at_limit, over, expected", VIEW_CASES, ids=[c[0] for c in VIEW_CASES])
def test_view_limit_accepts_the_limit_and_names_the_path_one_over(
    what: str, at_limit: dict[str, Any], over: dict[str, Any], expected: str
) -> None:
    validate_view(at_limit)
    assert view_error_of(over) == expected


def test_a_modal_needs_a_plain_title_and_a_home_tab_none() -> None:
    no_title = modal()
    del no_title["title"]
    assert view_error_of(no_title) == "title: expected a text object"
    validate_view({"type": "home", "blocks": [section(1)] * 100})
    assert view_error_of({"type": "home", "blocks": [section(1)] * 101}) == "blocks: 101 items > 100"
    assert view_error_of({"type": "workflow_step", "blocks": []}) == "type: 'workflow_step' is not one of modal, home"


def test_views_may_hold_more_text_than_a_message() -> None:
    view = modal([section(3000)] * 10)
    validate_view(view)
    assert block_text_length(view["blocks"]) == 30_000


def test_validation_does_not_change_the_payload() -> None:
    blocks = [section(5, block_id="a"), {"type": "actions", "elements": [button()]}]
    before = copy.deepcopy(blocks)
    validate_message(blocks, "t")
    assert blocks == before
