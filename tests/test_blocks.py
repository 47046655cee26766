"""Block helpers: exact output, truncation inside every helper, escaping, fitting long lists,
and the click-value codec."""

from __future__ import annotations

import pytest

from bot import payloads as act
from bot.blocks import (
    actions,
    button,
    cap_blocks,
    context,
    divider,
    escape_mrkdwn,
    fit_items,
    header,
    modal_view,
    mrkdwn,
    option,
    overflow,
    plain_text,
    section,
    static_select,
    truncate,
    truncate_mrkdwn,
    user_mention,
)
from bot.limits import BlockKitLimitError, block_text_length, validate_message, validate_view
from bot.sparkline import sparkline


# --- escaping and truncation ------------------------------------------------------------


def test_escape_mrkdwn_follows_slacks_three_rules_only() -> None:
    assert escape_mrkdwn("A&B <!channel> x>y") == "A&amp;B &lt;!channel&gt; x&gt;y"
    assert escape_mrkdwn("&amp;") == "&amp;amp;"  # a literal "&amp;" stays visible as typed
    assert escape_mrkdwn("*bold* _it_ ~s~ `c`") == "*bold* _it_ ~s~ `c`"


def test_user_mention_only_formats_real_user_ids() -> None:
    assert user_mention("U0ANA") == "<@U0ANA>"
    assert user_mention("W123") == "<@W123>"
    assert user_mention("ana@example.com") == "ana@example.com"
    assert user_mention("<!here>") == "&lt;!here&gt;"
    assert user_mention(None) == ""


def test_truncate_keeps_exactly_the_limit_with_an_ellipsis() -> None:
    assert truncate("abcdef", 6) == "abcdef"
    assert truncate("abcdefg", 6) == "abcde…"
    assert len(truncate("x" * 5000, 3000)) == 3000


def test_truncate_mrkdwn_never_splits_an_entity_or_a_token() -> None:
    assert truncate_mrkdwn("abc &amp; def", 7) == "abc …"
    assert truncate_mrkdwn("hi <@U0ANA> there", 8) == "hi …"
    assert truncate_mrkdwn("abc &amp; def", 11) == "abc &amp; …"


# --- one helper per block type ------------------------------------------------------------


def test_text_objects() -> None:
    assert plain_text("Hi :wave:") == {"type": "plain_text", "text": "Hi :wave:", "emoji": True}
    assert mrkdwn("*Hi*") == {"type": "mrkdwn", "text": "*Hi*"}
    assert mrkdwn("") == {"type": "mrkdwn", "text": "–"}  # Slack rejects empty text


def test_header_is_plain_one_line_and_cut_at_150() -> None:
    assert header("Top\nsignals") == {"type": "header",
                                      "text": {"type": "plain_text", "text": "Top signals", "emoji": True}}
    long = header("n" * 500)["text"]["text"]
    assert len(long) == 150 and long.endswith("…")


def test_section_with_text_fields_accessory_and_block_id() -> None:
    acc = button("Open", action_id="org_open", value="o1")
    assert section("*A*", fields=["a", "b"], accessory=acc, block_id="item|o1") == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*A*"},
        "fields": [{"type": "mrkdwn", "text": "a"}, {"type": "mrkdwn", "text": "b"}],
        "accessory": {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open", "emoji": True},
            "action_id": "org_open",
            "value": "o1",
        },
        "block_id": "item|o1",
    }


def test_section_truncates_text_and_fields_and_cuts_extra_fields() -> None:
    block = section("t" * 4000, fields=["f" * 2500] + [str(i) for i in range(14)])
    assert len(block["text"]["text"]) == 3000
    assert len(block["fields"]) == 10
    assert len(block["fields"][0]["text"]) == 2000
    assert block["fields"][-1]["text"] == "…and 6 more"
    validate_message([block], "t")


def test_context_divider_actions() -> None:
    assert context("a", "b") == {"type": "context",
                                 "elements": [{"type": "mrkdwn", "text": "a"}, {"type": "mrkdwn", "text": "b"}]}
    many = context(*[str(i) for i in range(15)])
    assert len(many["elements"]) == 10 and many["elements"][-1]["text"] == "…and 6 more"
    assert divider() == {"type": "divider"}
    row = actions([button("Go", action_id="go")], block_id="row")
    assert row == {
        "type": "actions",
        "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go", "emoji": True},
                      "action_id": "go"}],
        "block_id": "row",
    }
    with pytest.raises(BlockKitLimitError, match="26 items > 25"):
        actions([button("b", action_id=f"b{i}") for i in range(26)])


def test_button_truncates_text_but_never_an_id() -> None:
    b = button("x" * 100, action_id="a", value="v", style="danger", url="https://example.com")
    assert b["text"]["text"] == "x" * 74 + "…" and b["style"] == "danger" and b["url"] == "https://example.com"
    with pytest.raises(BlockKitLimitError, match=r"^value: 2001 > 2000$"):
        button("b", action_id="a", value="v" * 2001)
    with pytest.raises(BlockKitLimitError, match=r"^action_id: 256 > 255$"):
        button("b", action_id="a" * 256)
    with pytest.raises(ValueError, match="style"):
        button("b", action_id="a", style="green")


def test_options_selects_and_overflow() -> None:
    o = option("Snooze 1 week", "snooze7|1", description="hidden until next Monday")
    assert o == {
        "text": {"type": "plain_text", "text": "Snooze 1 week", "emoji": True},
        "value": "snooze7|1",
        "description": {"type": "plain_text", "text": "hidden until next Monday", "emoji": True},
    }
    assert len(option("o" * 80, "v")["text"]["text"]) == 75
    with pytest.raises(BlockKitLimitError, match=r"^value: 151 > 150$"):
        option("x", "v" * 151)
    sel = static_select("Tag case", action_id="case_tag", options=[o], initial_option=o)
    assert sel["type"] == "static_select" and sel["initial_option"] == o and sel["placeholder"]["text"] == "Tag case"
    assert len(static_select("p", action_id="s",
                             options=[option(str(i), str(i)) for i in range(130)])["options"]) == 100
    ov = overflow(action_id="more", options=[option("a", "a"), option("b", "b")])
    assert ov == {"type": "overflow", "action_id": "more", "options": [option("a", "a"), option("b", "b")]}
    with pytest.raises(BlockKitLimitError, match="2-5 options, got 6"):
        overflow(action_id="more", options=[option(str(i), str(i)) for i in range(6)])


def test_modal_view_cuts_title_and_blocks() -> None:
    view = modal_view("Acme Corporation International Holdings", [section(str(i)) for i in range(130)],
                      callback_id="org_detail", private_metadata="o1")
    assert view["title"] == {"type": "plain_text", "text": "Acme Corporation Intern…", "emoji": True}
    assert view["close"]["text"] == "Close"
    assert len(view["blocks"]) == 100
    assert view["blocks"][-1] == context("…and 31 more")
    assert (view["callback_id"], view["private_metadata"]) == ("org_detail", "o1")
    validate_view(view)


def test_cap_blocks_keeps_short_lists_untouched() -> None:
    blocks = [divider()] * 3
    assert cap_blocks(blocks, 3) == blocks


# --- fitting a list ---------------------------------------------------------------------


def _group(i: int, chars: int = 10) -> list[dict]:
    return [section(f"{i:02d}" + "x" * (chars - 2), block_id=f"item|{i}"),
            actions([button("Open", action_id="org_open", value=str(i))], block_id=f"item_actions|{i}")]


def test_fit_items_keeps_everything_that_fits() -> None:
    head, tail = [header("Top")], [context("footer")]
    out = fit_items([_group(1), _group(2)], head=head, tail=tail)
    assert out == head + _group(1) + _group(2) + tail


def test_fit_items_cuts_by_block_count_and_says_how_many_are_left() -> None:
    head = [header("Top"), divider()]
    out = fit_items([_group(i) for i in range(30)], head=head)
    # 2 head + 23 groups x 2 + 1 "more" line = 49; a 24th group would make 51.
    assert len(out) == 49
    assert out[-1] == context("…and 7 more")
    assert out[-3]["block_id"] == "item|22"
    validate_message(out, "t")


def test_fit_items_uses_the_last_slot_for_a_whole_group_when_nothing_is_left() -> None:
    head = [header("Top"), divider()]
    out = fit_items([_group(i) for i in range(24)], head=head)
    assert len(out) == 50 and out[-1]["block_id"] == "item_actions|23"


def test_fit_items_cuts_by_text_budget() -> None:
    groups = [_group(i, chars=2900) for i in range(10)]
    out = fit_items(groups, head=[header("Top")], more=lambda n: f"…and {n} more — narrow it")
    assert block_text_length(out) <= 12_000
    assert out[-1] == context("…and 6 more — narrow it")
    assert [b.get("block_id") for b in out if b["type"] == "section"] == ["item|0", "item|1", "item|2", "item|3"]
    validate_message(out, "t")


def test_fit_items_with_a_tail_and_an_empty_list() -> None:
    assert fit_items([], head=[header("Top")], tail=[divider()]) == [header("Top"), divider()]
    with pytest.raises(BlockKitLimitError):
        fit_items([_group(1)], head=[section("x")] * 50)


# --- click values ------------------------------------------------------------------------


def test_item_block_ids_and_values_round_trip() -> None:
    assert act.item_block_id("org_1") == "item|org_1"
    assert act.item_actions_block_id("org_1") == "item_actions|org_1"
    assert act.case_value("risk", "org_1") == "risk|org_1"
    assert act.dismiss_value("snooze28", [12, 13]) == "snooze28|12,13"
    assert act.parse_action({"action_id": "org_open", "block_id": "item_actions|o|1", "value": "o|1"}) == (
        act.ItemAction("org_open", "o|1"))
    assert act.parse_action(
        {"action_id": "case_tag", "block_id": "item_actions|o|1", "selected_option": {"value": "onboarding|o|1"}}
    ) == act.ItemAction("case_tag", "o|1", case_type="onboarding")
    assert act.parse_action(
        {"action_id": "signal_dismiss", "block_id": "item_actions|org_1", "selected_option": {"value": "snooze7|12,13"}}
    ) == act.ItemAction("signal_dismiss", "org_1", verb="snooze", snooze_days=7, signal_ids=(12, 13))
    assert act.parse_action(
        {"action_id": "signal_dismiss", "block_id": "item_actions|org_1", "selected_option": {"value": "dismiss|5"}}
    ) == act.ItemAction("signal_dismiss", "org_1", verb="dismiss", signal_ids=(5,))
    assert act.parse_action({"action_id": "org_pick", "value": "o2"}) == act.ItemAction("org_pick", "o2")


def test_a_long_org_id_moves_from_the_option_value_to_the_block_id() -> None:
    org_id = "o" * 200
    assert act.case_value("expansion", org_id) == "expansion"
    parsed = act.parse_action(
        {"action_id": "case_tag", "block_id": act.item_actions_block_id(org_id),
         "selected_option": {"value": "expansion"}}
    )
    assert parsed.org_id == org_id and parsed.case_type == "expansion"
    assert act.org_id_fits("o" * 242) and not act.org_id_fits("o" * 243)


@pytest.mark.parametrize(
    "action, problem",
    [
        ({"action_id": "case_tag", "block_id": "item_actions|o", "selected_option": {"value": "vip|o"}},
         "unknown case type"),
        ({"action_id": "signal_dismiss", "block_id": "item_actions|o", "selected_option": {"value": "nuke|1"}},
         "unknown choice"),
        ({"action_id": "signal_dismiss", "block_id": "item_actions|o", "selected_option": {"value": "dismiss|x"}},
         "bad signal ids"),
        ({"action_id": "signal_dismiss", "block_id": "other", "selected_option": {"value": "dismiss|1"}}, "no org id"),
        ({"action_id": "signal_dismiss", "block_id": "item_actions|o", "selected_option": {"value": "dismiss|"}},
         "no signal ids"),
        ({"action_id": "org_open"}, "no org id"),
        ({"action_id": "delete_everything", "value": "x"}, "unknown action_id"),
    ],
)
def test_parse_action_refuses_payloads_it_did_not_produce(action: dict, problem: str) -> None:
    with pytest.raises(act.ActionValueError, match=problem):
        act.parse_action(action)


# --- sparkline ---------------------------------------------------------------------------


def test_sparkline_scales_from_zero_to_the_peak() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([100, 100, 100]) == "███"
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([]) == ""
    assert sparkline([None, -5, 10]) == "▁▁█"
    assert sparkline([50, 100]) == "▅█"
