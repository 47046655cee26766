"""Message builders: exact output for small inputs, in-place updates after clicks, and
extreme data (500-character names, 25 items, hundreds of subscriptions, mrkdwn characters)
that must still pass Slack's limits with everything from data escaped."""

from __future__ import annotations

import copy

import dataclasses
import datetime as dt
import json
import re

import pytest

from bot import payloads as act
from bot import messages as m
from bot.blocks import iter_text_objects
from bot.limits import BlockKitLimitError, block_text_length, validate_message, validate_view
from domain.config import Config
from domain.vocabulary import SIGNAL_LABELS, SIGNAL_TYPES
from services.read_models import ComponentView, OrgDetail, OrgItem, SignalView, SubscriptionView, SummaryCards

NOW = dt.datetime(2026, 11, 23, 9, 0)
CFG = Config()


def signal(sid: int, type_: str = "revenue_at_risk", priority: float = 91.2, **kw) -> SignalView:
    base = dict(
        id=sid,
        type=type_,
        label=SIGNAL_LABELS[type_],
        priority=priority,
        reason="Health 34 < 40 with $12,400 MRR",
        evidence={"health": 34.4, "mrr": 12400.0, "usage_change": -0.45},
        status="active",
        opened_at=dt.datetime(2026, 11, 20, 6),
        suggested_case="risk",
    )
    base.update(kw)
    return SignalView(**base)


def org_item(org_id: str = "org_1", name: str = "Acme & <Co>", **kw) -> OrgItem:
    base = dict(
        org_id=org_id,
        name=name,
        owner="U0ANA",
        mrr=12400.0,
        health=34.4,
        band="red",
        health_delta=-6.2,
        last_seen=dt.datetime(2026, 11, 20, 10),
        priority=91.2,
        signals=(signal(12), signal(13, "usage_drop", 80.0, reason="Events −45%", evidence={"previous_events": 120})),
        reason="Health 34 < 40 with $12,400 MRR",
        case_suggested="risk",
    )
    base.update(kw)
    return OrgItem(**base)


CARDS = SummaryCards(
    orgs_with_signals=12, mrr_at_risk=34500.0, opened_this_week=5, resolved_this_week=3,
    scanned_at=dt.datetime(2026, 11, 23, 6)
)

ITEM_TEXT = (
    "*Acme &amp; &lt;Co&gt;*\n"
    ":rotating_light: Revenue at risk   :chart_with_downwards_trend: Usage drop\n"
    "MRR *$12,400* · Health *34* :red_circle: ↓ · Last seen 2 days ago · Priority *91* · Owner <@U0ANA>\n"
    "Health 34 &lt; 40 with $12,400 MRR\n"
    ":label: Suggested: risk"
)


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _opt(text: str, value: str) -> dict:
    return {"text": _plain(text), "value": value}


ITEM_ACTIONS = {
    "type": "actions",
    "elements": [
        {"type": "button", "text": _plain("Open"), "action_id": "org_open", "value": "org_1", "style": "primary"},
        {
            "type": "static_select",
            "placeholder": _plain("Tag case"),
            "action_id": "case_tag",
            "options": [_opt("Risk", "risk|org_1"), _opt("Onboarding", "onboarding|org_1"),
                        _opt("Expansion", "expansion|org_1")],
        },
        {
            "type": "static_select",
            "placeholder": _plain("Dismiss"),
            "action_id": "signal_dismiss",
            "options": [
                _opt("Dismiss", "dismiss|12,13"),
                _opt("Snooze 1 week", "snooze7|12,13"),
                _opt("Snooze 4 weeks", "snooze28|12,13"),
            ],
        },
    ],
    "block_id": "item_actions|org_1",
}


# --- one item, exactly ----------------------------------------------------------------------


def test_signal_item_blocks_exactly() -> None:
    assert m.signal_item_blocks(org_item(), NOW, CFG) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": ITEM_TEXT}, "block_id": "item|org_1"},
        ITEM_ACTIONS,
    ]


def test_signals_list_message_exactly() -> None:
    msg = m.signals_list_message(CARDS, [org_item()], NOW, CFG, filters_text="risk · top 10")
    assert msg == {
        "text": "Top signals: 1 org needs attention · $34,500 MRR at risk",
        "blocks": [
            {"type": "header", "text": _plain("Top signals")},
            {"type": "context",
             "elements": [{"type": "mrkdwn", "text": "Filters: risk · top 10 · Last scan 2026-11-23 06:00"}]},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Orgs with active signals*\n12"},
                    {"type": "mrkdwn", "text": "*MRR at risk*\n$34,500"},
                    {"type": "mrkdwn", "text": "*New signals this week*\n5"},
                    {"type": "mrkdwn", "text": "*Resolved this week*\n3"},
                ],
            },
            {"type": "divider"},
            {"type": "section", "text": {"type": "mrkdwn", "text": ITEM_TEXT}, "block_id": "item|org_1"},
            ITEM_ACTIONS,
        ],
    }


@pytest.mark.parametrize(
    "changes, expected_lines",
    [
        ({"health": 82.0, "band": "green", "health_delta": 3.0},
         {2: "MRR *$12,400* · Health *82* :large_green_circle: ↑"}),
        ({"health": 55.0, "band": "yellow", "health_delta": 0.4},
         {2: "MRR *$12,400* · Health *55* :large_yellow_circle: →"}),
        ({"health": None, "band": None, "health_delta": None}, {2: "MRR *$12,400* · Health n/a · Last seen"}),
        ({"health_delta": None}, {2: "MRR *$12,400* · Health *34* :red_circle: · Last seen"}),
        ({"last_seen": None, "owner": None}, {2: "Last seen never · Priority *91*"}),
        ({"case_type": "onboarding", "case_by": "U0BEN"}, {-1: ":label: Tagged *onboarding* by <@U0BEN>"}),
        ({"case_suggested": None}, {-1: ":label: No case yet"}),
        ({"reason": ""}, {3: ":label: Suggested: risk"}),
        ({"signals": ()}, {1: "No open signals"}),
        (
            {"signals": tuple(signal(i, t) for i, t in enumerate(SIGNAL_TYPES))},
            {1: ":rotating_light: Revenue at risk   :chart_with_downwards_trend: Usage drop   "
                ":zzz: Inactive paying   :rocket: Expansion candidate"},
        ),
    ],
)
def test_item_text_variants(changes: dict, expected_lines: dict[int, str]) -> None:
    lines = m.signal_item_text(org_item(**changes), NOW, CFG).split("\n")
    for index, expected in expected_lines.items():
        assert expected in lines[index], (index, lines)


def test_a_tagged_item_preselects_its_case_and_an_item_without_signals_has_no_dismiss() -> None:
    tagged = m.item_actions_block(org_item(case_type="expansion", case_by="U0BEN"))
    assert tagged["elements"][1]["initial_option"] == _opt("Expansion", "expansion|org_1")
    bare = m.item_actions_block(org_item(signals=()))
    assert [e["action_id"] for e in bare["elements"]] == ["org_open", "case_tag"]


def test_the_currency_symbol_comes_from_config() -> None:
    text = m.signal_item_text(org_item(), NOW, dataclasses.replace(CFG, currency_symbol="€"))
    assert "MRR *€12,400*" in text


def test_empty_list_says_nothing_needs_attention() -> None:
    msg = m.signals_list_message(CARDS, [], NOW, CFG, filters_text="drop")
    assert msg["blocks"][-1] == {
        "type": "section",
        "text": {"type": "mrkdwn",
                 "text": ":white_check_mark: *Nothing needs attention.* No org has an active signal matching _drop_."},
    }
    assert msg["text"] == "Top signals: nothing needs attention"


def test_a_click_on_the_list_decodes_back_to_the_org_and_signals() -> None:
    msg = m.signals_list_message(CARDS, [org_item()], NOW, CFG)
    row = next(b for b in msg["blocks"] if b["type"] == "actions")
    dismiss = row["elements"][2]
    parsed = act.parse_action({"action_id": dismiss["action_id"], "block_id": row["block_id"],
                               "selected_option": dismiss["options"][2]})
    assert parsed == act.ItemAction("signal_dismiss", "org_1", verb="snooze", snooze_days=28, signal_ids=(12, 13))


# --- long lists ---------------------------------------------------------------------------


def test_twenty_five_plain_items_are_cut_by_block_count_with_a_more_line() -> None:
    items = [org_item(f"org_{i}", f"Org {i}", signals=(signal(i),)) for i in range(25)]
    msg = m.signals_list_message(CARDS, items, NOW, CFG, filters_text="top 25")
    blocks = msg["blocks"]
    # header, context, cards, divider + 22 items x 2 + the "more" line = 49; a 23rd item
    # would need 50 blocks before the "more" line.
    assert len(blocks) == 49
    assert sum(1 for b in blocks if b.get("block_id", "").startswith("item|")) == 22
    assert blocks[-1]["elements"][0]["text"] == (
        "…and 3 more — narrow the list with a filter, e.g. `/signals risk` or `/signals mine`")


# --- org detail ---------------------------------------------------------------------------


def detail(item: OrgItem | None = None, **kw) -> OrgDetail:
    base = dict(
        item=item or org_item(),
        domain="acme.com",
        plan="Pro",
        seats=50,
        created_at=dt.datetime(2023, 1, 1),
        components=(
            ComponentView("activity", "Activity", 12, "12 of 28 days active", 60.0, 37.5, 22.5),
            ComponentView("trend", "Trend", -0.45, "events −45%", 5.0, 18.75, 0.9),
            ComponentView("seat_utilization", "Seat utilization", None, "no seats", None, None, None, left_out=True),
        ),
        moved=(("Activity", -18.0), ("Seat utilization", -6.0)),
        usage_weeks=(10, 20, 30, 40, 50, 60, 70, 80, 5, 0, 3, 100),
        subscriptions=(
            SubscriptionView("s1", "Analytics", "Pro", 10000.0, "active", dt.date(2024, 1, 5), None, True),
            SubscriptionView("s2", "CRM", None, 2400.0, "past_due", dt.date(2024, 3, 1), None, True),
            SubscriptionView("s0", "Analytics", "Trial", 0.0, "canceled", dt.date(2023, 12, 1), dt.date(2024, 1, 5),
                             False),
        ),
        mrr_history=((dt.date(2024, 1, 5), 10000.0), (dt.date(2024, 3, 1), 12400.0)),
        renewal_date=dt.date(2027, 1, 5),
        cell="Revenue at risk",
        tier="Tier 1",
        quadrant="Stars",
    )
    base.update(kw)
    return OrgDetail(**base)


def test_org_detail_message_sections_exactly() -> None:
    msg = m.org_detail_message(detail(), NOW, CFG)
    blocks = msg["blocks"]
    assert msg["text"] == "Acme &amp; &lt;Co&gt; — health 34, MRR $12,400"
    assert [b["type"] for b in blocks] == ["section", "section", "divider", "section", "section", "section", "section",
                                           "section", "actions", "actions"]
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": ITEM_TEXT}, "block_id": "item|org_1"}
    assert [f["text"] for f in blocks[1]["fields"]] == [
        "*Domain*\nacme.com",
        "*Owner*\n<@U0ANA>",
        "*Plan*\nPro",
        "*Seats*\n50",
        "*Customer since*\n2023-01-01",
        "*Renewal*\n2027-01-05",
        "*Revenue × Health*\nRevenue at risk",
        "*Tier*\nTier 1 · Stars",
    ]
    assert blocks[3]["text"]["text"] == (
        "*Health 34/100* :red_circle: red · ↓ −6 since the previous scan\n"
        "*Drivers* (score × weight = points)\n"
        "• Activity: 12 of 28 days active — 60 × 38% = *22.5*\n"
        "• Trend: events −45% — 5 × 19% = *0.9*\n"
        "Left out, no data: Seat utilization\n"
        "*What moved:* activity −18, seat utilization −6"
    )
    assert blocks[4]["text"]["text"] == (
        "*Usage, last 12 weeks* (events per week)\n▂▂▃▄▅▅▆▇▁▁▁█   latest *100* · peak 100")
    assert blocks[5]["text"]["text"] == (
        "*Subscriptions* · current MRR *$12,400* · Analytics, CRM · plan Pro\n"
        "• CRM: $2,400/mo · past_due · 2024-03-01\n"
        "• Analytics (Pro): $10,000/mo · active · 2024-01-05\n"
        "• Analytics (Trial): $0/mo · canceled · 2023-12-01 → 2024-01-05 · _not in MRR_\n"
        "*MRR history:* 2024-01-05 $10,000 → 2024-03-01 $12,400"
    )
    assert blocks[6]["text"]["text"] == (
        "*Open signals*\n"
        ":rotating_light: *Revenue at risk* · priority 91 · since 2026-11-20\n"
        "    Health 34 &lt; 40 with $12,400 MRR\n"
        "    _Evidence:_ health 34.4 · mrr $12,400 · usage change -45%\n"
        ":chart_with_downwards_trend: *Usage drop* · priority 80 · since 2026-11-20\n"
        "    Events −45%\n"
        "    _Evidence:_ previous events 120"
    )
    assert blocks[7]["text"]["text"] == (
        "*Notes*\nNone yet. *Add note* records what was done or agreed, for everyone who opens this org.")
    assert blocks[8] == ITEM_ACTIONS
    assert blocks[9] == {"type": "actions", "block_id": "org_tools|org_1", "elements": [
        {"type": "button", "text": _plain("Add note"), "action_id": "note_open", "value": "org_1"},
        {"type": "users_select", "placeholder": _plain("Assign owner"), "action_id": "org_assign",
         "initial_user": "U0ANA"}]}


def test_snoozed_signal_shows_until_when() -> None:
    item = org_item(signals=(signal(1, status="snoozed", snoozed_until=dt.datetime(2026, 12, 7)),))
    text = m.org_detail_message(detail(item), NOW, CFG)["blocks"][6]["text"]["text"]
    assert "· priority 91 · since 2026-11-20 · snoozed until 2026-12-07" in text


def test_org_detail_modal() -> None:
    view = m.org_detail_modal(detail(), NOW, CFG)
    assert view["type"] == "modal"
    assert view["title"] == _plain("Acme & <Co>")
    assert view["close"] == _plain("Close")
    assert view["callback_id"] == "org_detail" and view["private_metadata"] == "org_1"
    assert view["blocks"] == m.org_detail_message(detail(), NOW, CFG)["blocks"]


def test_detail_with_no_data_at_all_still_renders() -> None:
    bare_item = org_item(health=None, band=None, health_delta=None, signals=(), owner=None, case_suggested=None,
                         mrr=0.0)
    bare = OrgDetail(
        item=bare_item, domain=None, plan=None, seats=None, created_at=None, components=(), moved=(),
        usage_weeks=(), subscriptions=(), mrr_history=(),
    )
    blocks = m.org_detail_message(bare, NOW, CFG)["blocks"]
    texts = [b["text"]["text"] for b in blocks if "text" in b]
    assert "*Health* n/a — not scored yet" in texts
    assert "*Usage* — no usage recorded in the last 12 weeks" in texts
    assert "*Subscriptions* · current MRR *$0*\nNo subscriptions on record." in texts
    assert "*Open signals*\nNone." in texts
    assert blocks[-2]["elements"][-1]["action_id"] == "case_tag"  # no signals, so no Dismiss
    assert [e["action_id"] for e in blocks[-1]["elements"]] == ["note_open", "org_assign"]
    assert "initial_user" not in blocks[-1]["elements"][1]  # nobody owns it


# --- choices, not found, help, errors ----------------------------------------------------


def test_org_choices_message() -> None:
    msg = m.org_choices_message("acme", [("o1", "Acme", "acme.com"), ("o2", "Acme <EU>", None)])
    assert msg == {
        "text": "2 orgs match “acme”",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*2 orgs match “acme”* — pick one:"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Acme* · acme.com"},
                "accessory": {"type": "button", "text": _plain("Open"), "action_id": "org_pick", "value": "o1"},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Acme &lt;EU&gt;*"},
                "accessory": {"type": "button", "text": _plain("Open"), "action_id": "org_pick", "value": "o2"},
            },
        ],
    }


def test_org_choices_shows_ten_and_counts_the_rest() -> None:
    msg = m.org_choices_message("a", [(f"o{i}", f"A{i}", None) for i in range(14)])
    assert sum(1 for b in msg["blocks"] if b.get("accessory", {}).get("action_id") == "org_pick") == 10
    assert msg["blocks"][-1]["elements"][0]["text"] == "…and 4 more — type more of the name, or the domain"


def test_org_choices_says_how_many_match_in_all_when_only_some_were_fetched() -> None:
    msg = m.org_choices_message("widget", [(f"o{i}", f"Widget {i}", None) for i in range(10)], total=312)
    assert msg["text"] == "312 orgs match “widget”"
    assert msg["blocks"][0]["text"]["text"] == "*312 orgs match “widget”* (showing 10 of 312) — pick one:"
    assert msg["blocks"][-1]["elements"][0]["text"] == "…and 302 more — type more of the name, or the domain"


def test_org_not_found_message() -> None:
    msg = m.org_not_found_message("acmx", ["Acme", "Acne & Co"])
    assert msg == {
        "text": "No org matches “acmx”",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":mag: No org matches “acmx”.\nClosest names: *Acme*, *Acne &amp; Co*\n"
                            "Try `/org &lt;name, domain or id&gt;`.",
                },
            }
        ],
    }
    assert m.org_not_found_message("zz", [])["blocks"][0]["text"]["text"] == (
        ":mag: No org matches “zz”.\nTry `/org &lt;name, domain or id&gt;`.")


def test_help_message_lists_commands_and_says_what_was_not_understood() -> None:
    text = m.help_message("tpo 5 <x>")["blocks"][0]["text"]["text"]
    assert text.startswith(":thinking_face: I didn't understand `tpo 5 &lt;x&gt;`.\n\n*/signals*")
    for line in (
        "• `/signals` or `/signals top 10` — the top N (default 10, at most 25)",
        "• Signal type: `risk` · `drop` · `inactive` · `expansion`",
        "• Case type: `case:risk` · `case:onboarding` · `case:expansion`",
        "• Owner: `mine` — orgs you own",
        "• Revenue × Health cell: `cell:at-risk` · `cell:champions` · `cell:watch` · `cell:expansion`",
        "• Tier: `tier1` · `tier2` · `tier3` · `tier4`",
        "*/org &lt;name, domain or id&gt;* — health and its drivers, subscriptions, usage, open signals and case tag"
        " of one org",
    ):
        assert line in text.split("\n")
    assert m.help_message(None)["blocks"][0]["text"]["text"].startswith("*/signals*")


def test_help_follows_the_configured_top() -> None:
    cfg = dataclasses.replace(CFG, slack=dataclasses.replace(CFG.slack, signals_default_top=5, signals_max_top=20))
    assert "(default 5, at most 20)" in m.help_message(None, cfg=cfg)["blocks"][0]["text"]["text"]


def test_error_and_refusal_are_ephemeral_and_never_replace_the_original() -> None:
    assert m.error_message("Unknown org <x>") == {
        "text": ":warning: Unknown org &lt;x&gt;",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ":warning: Unknown org &lt;x&gt;"}}],
        "response_type": "ephemeral",
        "replace_original": False,
    }
    refusal = m.refusal_message("dismiss signals")
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
    assert refusal["blocks"][0]["text"]["text"].startswith(":no_entry: You're not allowed to dismiss signals.")


# --- in-place updates -------------------------------------------------------------------------


def _two_item_list() -> list[dict]:
    items = [org_item(), org_item("org_2", "Beta", signals=(signal(21),))]
    return m.signals_list_message(CARDS, items, NOW, CFG)["blocks"]


def test_item_tagged_update_changes_the_case_line_and_keeps_the_buttons_showing_the_tag() -> None:
    original = _two_item_list()
    updated = m.item_tagged_update(original, "org_1", "risk", "U1")
    expected = copy.deepcopy(original)
    expected[4] = {
        "type": "section",
        "text": {"type": "mrkdwn",
                 "text": ITEM_TEXT.replace(":label: Suggested: risk", ":label: Tagged *risk* by <@U1>")},
        "block_id": "item|org_1",
    }
    (menu,) = [e for e in expected[5]["elements"] if e["action_id"] == "case_tag"]
    menu["initial_option"] = menu["options"][0]  # Risk
    assert expected[5]["block_id"] == "item_actions|org_1"
    assert updated == expected
    assert original[4]["text"]["text"] == ITEM_TEXT  # the input is not mutated
    assert "initial_option" not in [e for e in original[5]["elements"] if e["action_id"] == "case_tag"][0]


def test_item_dismissed_and_snoozed_updates() -> None:
    original = _two_item_list()
    dismissed = m.item_dismissed_update(original, "org_1", "dismiss", None, "U1")
    assert dismissed[4] == {"type": "section",
                            "text": {"type": "mrkdwn", "text": "~Acme &amp; &lt;Co&gt;~ dismissed by <@U1>"},
                            "block_id": "item|org_1"}
    assert len(dismissed) == len(original) - 1
    snoozed = m.item_dismissed_update(original, "org_2", "snooze7", dt.date(2026, 12, 2), "U1")
    section = next(b for b in snoozed if b.get("block_id") == "item|org_2")
    assert section["text"]["text"] == "~Beta~ snoozed until 2026-12-02 by <@U1>"
    assert not any(b.get("block_id") == "item_actions|org_2" for b in snoozed)


def test_updates_work_on_blocks_as_slack_echoes_them_and_refuse_unknown_orgs() -> None:
    # Slack sends the message back with extra keys (verbatim, emoji) and as parsed JSON.
    echoed = json.loads(json.dumps(_two_item_list()))
    for block in echoed:
        if block.get("text", {}).get("type") == "mrkdwn":
            block["text"]["verbatim"] = False
    updated = m.item_tagged_update(echoed, "org_2", "expansion", "U0BEN")
    assert next(b for b in updated if b.get("block_id") == "item|org_2")["text"]["text"].endswith(
        "\n:label: Tagged *expansion* by <@U0BEN>"
    )
    with pytest.raises(LookupError):
        m.item_tagged_update(echoed, "org_404", "risk", "U1")
    with pytest.raises(ValueError):
        m.item_tagged_update(echoed, "org_1", "vip", "U1")
    with pytest.raises(ValueError):
        m.item_dismissed_update(echoed, "org_1", "snooze", None, "U1")


def test_updates_apply_to_the_org_detail_too() -> None:
    blocks = m.org_detail_message(detail(), NOW, CFG)["blocks"]
    updated = m.item_dismissed_update(blocks, "org_1", "snooze28", dt.datetime(2026, 12, 21, 9), "U0ANA")
    assert updated[0]["text"]["text"] == "~Acme &amp; &lt;Co&gt;~ snoozed until 2026-12-21 by <@U0ANA>"
    # The item's buttons are gone, the details stay, and notes and Assign remain possible.
    assert [b.get("block_id") for b in updated if b["type"] == "actions"] == ["org_tools|org_1"]


# --- extreme data ---------------------------------------------------------------------------

NASTY = "<!channel> & *bold* _it_ ~strike~ `code` <@U999|x> > "


def nasty_name(i: int) -> str:
    return (f"{i:02d} " + NASTY * 20)[:500]


def nasty_item(i: int) -> OrgItem:
    signals = tuple(
        signal(
            1000 * i + k,
            t,
            99.0 - k,
            reason=("R" + NASTY) * 30,
            evidence={f"key_{n}_{NASTY}": NASTY * 3 for n in range(12)},
        )
        for k, t in enumerate(SIGNAL_TYPES)
    )
    return org_item(
        f"org-{i}-" + "x" * 40,
        nasty_name(i),
        owner=NASTY,
        mrr=123456789.0,
        reason=("Why " + NASTY) * 40,
        signals=signals,
        case_type="expansion",
        case_by="U0BEN",
    )


def nasty_detail() -> OrgDetail:
    subs = tuple(
        SubscriptionView(f"s{i}", f"Product {NASTY}" * 5, f"Plan {NASTY}" * 5, 99.5 * i, "active",
                         dt.date(2020, 1, 1) + dt.timedelta(days=i), None, i % 3 != 0)
        for i in range(400)
    )
    components = tuple(
        ComponentView(f"c{i}", f"Component {NASTY}" * 5, 1.0, f"value {NASTY}" * 10, 50.0, 16.7, 8.3,
                      left_out=i % 2 == 0)
        for i in range(6)
    )
    return detail(
        nasty_item(0),
        domain=("d" + NASTY) * 30,
        plan=NASTY * 10,
        components=components,
        moved=tuple((f"Component {NASTY}" * 5, -3.0) for _ in range(6)),
        usage_weeks=tuple(range(12)),
        subscriptions=subs,
        mrr_history=tuple((dt.date(2020, 1, 1) + dt.timedelta(days=i), 10.0 * i) for i in range(300)),
        cell=NASTY * 5,
        tier=NASTY * 5,
        quadrant=NASTY * 5,
    )


def _assert_escaped(blocks: list[dict]) -> None:
    """No text from data can form a Slack control sequence: every '<' starts a mention we made."""
    for obj in iter_text_objects(blocks):
        text = obj["text"]
        if obj["type"] == "plain_text":
            continue
        for token in re.findall(r"<[^>]*>", text):
            assert re.fullmatch(r"<@[UW][A-Z0-9]+>", token), (token, text[:200])
        assert "<!channel>" not in text
        # every & is an entity we wrote
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), text[:200]


def test_extreme_list_of_25_items_fits_and_is_escaped() -> None:
    items = [nasty_item(i) for i in range(25)]
    msg = m.signals_list_message(CARDS, items, NOW, CFG, title="T" * 400, filters_text=NASTY * 20)
    validate_message(msg["blocks"], msg["text"])
    assert block_text_length(msg["blocks"]) <= 12_000
    last = msg["blocks"][-1]
    assert last["type"] == "context" and re.match(r"…and \d+ more", last["elements"][0]["text"])
    first = next(b for b in msg["blocks"] if b.get("block_id", "").startswith("item|"))
    assert first["text"]["text"].startswith(
        "*00 &lt;!channel&gt; &amp; *bold* _it_ ~strike~ `code` &lt;@U999|x&gt; &gt;")
    assert (":rotating_light: Revenue at risk   :chart_with_downwards_trend: Usage drop   "
            ":zzz: Inactive paying   :rocket: Expansion candidate") in first["text"]["text"]
    assert "Owner &lt;!channel&gt;" in first["text"]["text"]
    _assert_escaped(msg["blocks"])


def test_extreme_detail_message_and_modal_fit_and_are_escaped() -> None:
    d = nasty_detail()
    msg = m.org_detail_message(d, NOW, CFG)
    validate_message(msg["blocks"], msg["text"])
    _assert_escaped(msg["blocks"])
    subs_text = next(b["text"]["text"] for b in msg["blocks"]
                     if b.get("text", {}).get("text", "").startswith("*Subscriptions*"))
    assert re.search(r"\n…and (\d+) more\n", subs_text)
    shown = subs_text.count("\n• ")
    assert int(re.search(r"…and (\d+) more", subs_text).group(1)) == 400 - shown
    assert "*MRR history:* …, " in subs_text
    view = m.org_detail_modal(d, NOW, CFG)
    validate_view(view)
    assert len(view["title"]["text"]) == 24
    _assert_escaped(view["blocks"])


def test_extreme_other_messages_fit_and_are_escaped() -> None:
    many = [(f"o{i}" * 30, nasty_name(i), NASTY * 10) for i in range(40)]
    for msg in (
        m.org_choices_message(NASTY * 20, many),
        m.org_not_found_message(NASTY * 20, [nasty_name(i) for i in range(40)]),
        m.help_message(NASTY * 20),
        m.error_message(NASTY * 200),
        m.refusal_message(NASTY * 20),
    ):
        validate_message(msg["blocks"], msg["text"])
        _assert_escaped(msg["blocks"])


def test_extreme_updates_stay_within_limits() -> None:
    items = [nasty_item(i) for i in range(25)]
    blocks = m.signals_list_message(CARDS, items, NOW, CFG)["blocks"]
    org_ids = [b["block_id"].split("|", 1)[1] for b in blocks if b.get("block_id", "").startswith("item|")]
    for org_id in org_ids:
        blocks = m.item_tagged_update(blocks, org_id, "onboarding", "W" + "9" * 20)
    for org_id in org_ids[::2]:
        blocks = m.item_dismissed_update(blocks, org_id, "dismiss", None, "U1")
    validate_message(blocks, "t")
    _assert_escaped(blocks)


def test_an_org_id_too_long_for_a_block_id_gets_no_buttons() -> None:
    group = m.signal_item_blocks(org_item("o" * 300), NOW, CFG)
    assert len(group) == 1 and "block_id" not in group[0]


def test_builders_refuse_what_they_cannot_fit() -> None:
    # Nothing a caller passes can make a builder emit an over-limit message; ids that cannot
    # be cut (a 3000-character org id on a choice button) are shown without a button.
    msg = m.org_choices_message("x", [("i" * 2001, "Huge id", None)])
    assert "accessory" not in msg["blocks"][1]
    with pytest.raises(BlockKitLimitError):
        validate_message([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "t")


# --- templates ---------------------------------------------------------------------------------


def test_templates_escape_data_by_default_and_filters_format_numbers() -> None:
    from bot.templates import Mrkdwn, environment, money_filter, pct_filter, signed_filter

    env = environment()
    assert env.from_string("{{ name }}").render(name="A & <B>\nC") == "A &amp; &lt;B&gt; C"
    assert env.from_string("{{ name|mrkdwn }}").render(name="<x>") == "&lt;x&gt;"
    assert env.from_string("{{ name }}").render(name=Mrkdwn("<@U1>")) == "<@U1>"
    assert env.from_string("{{ u|mention }}").render(u="U0ANA") == "<@U0ANA>"
    assert (money_filter(1234.4), money_filter(250_000, "€"), money_filter(None)) == ("$1,234", "€250k", "–")
    assert (pct_filter(-0.453), pct_filter(0.9, signed=False)) == ("-45%", "90%")
    assert (signed_filter(18.2), signed_filter(-6.0), signed_filter(0.2), signed_filter(None)) == ("+18", "−6", "0", "")
    with pytest.raises(Exception, match="undefined"):
        env.from_string("{{ missing }}").render()
