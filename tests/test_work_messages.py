"""The org page's playbooks, notes, owner, review and "moved by" lines, the note modal, and
the chart block: exact text for small inputs, Block Kit limits for extreme ones."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from bot import messages as m
from bot.chart_upload import UploadedFile
from bot.limits import block_text_length, validate_message, validate_view
from domain.config import Config
from services.playbooks import playbooks_for
from services.read_models import HealthMove, NoteView, OwnerView, ReviewStatus
from test_messages import CARDS, NASTY, detail, org_item

NOW = dt.datetime(2026, 11, 23, 9, 0)
CFG = Config()
CHART = UploadedFile("F0CHART0001", None, "Acme: 12 weeks")


def _texts(blocks: list[dict]) -> list[str]:
    out = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"])
        out += [e["text"] for e in b.get("elements", []) if e.get("type") == "mrkdwn"]
    return out


def _worked_detail(**kw):
    item = org_item()
    base = dict(
        playbooks=playbooks_for(item, CFG),
        notes=(NoteView(2, "U0ANA", "Called the CFO:\nrecovery plan agreed", dt.datetime(2026, 11, 22, 10), "slack"),
               NoteView(1, "cli:ben", "Kickoff held", dt.datetime(2026, 11, 1, 9), "cli")),
        notes_total=2,
        owner=OwnerView("U0CAL", "assigned", "ana@example.com", "U0ANA", dt.datetime(2026, 11, 20, 8)),
        review=ReviewStatus("Tier 1", 7, dt.datetime(2026, 11, 22, 10), dt.date(2026, 11, 29), False),
        health_move=HealthMove("data and configuration", ("health.weights.activity 30 → 60",), "ops@host",
                               dt.datetime(2026, 11, 21, 6), 4.2),
        week_ends=tuple(dt.date(2026, 9, 7) + dt.timedelta(weeks=i) for i in range(12)),
        health_weeks=(None, 70.0, 68.0, 60.0, None, 55.0, 50.0, 48.0, 44.0, 40.0, 38.0, 34.4),
    )
    base.update(kw)
    return detail(item, **base)


def test_playbooks_notes_owner_review_and_moved_by_exactly() -> None:
    blocks = m.org_detail_message(_worked_detail(), NOW, CFG)["blocks"]
    texts = _texts(blocks)
    health = next(t for t in texts if t.startswith("*Health 34/100*"))
    assert health.endswith("\n_Moved by data and configuration:_ +4.2 points from the configuration · "
                           "health.weights.activity 30 → 60 (first used in a scan by ops@host on 2026-11-21)")
    usage = next(t for t in texts if t.startswith("*Usage"))
    assert usage.endswith("\n*Health by week:* – · 70 · 68 · 60 · – · 55 · 50 · 48 · 44 · 40 · 38 · 34")
    playbook = next(t for t in texts if t.startswith(":compass:"))
    assert playbook == (
        ":compass: *Playbook: Urgent retention* (risk case)\n"
        "Revenue is at stake: a paying account that is unhealthy, quieter or using less. Act this week.\n"
        "1. Reach the champion and the economic buyer this week\n"
        "2. Find the cause: usage, support or value\n"
        "3. Agree a recovery plan with dates, and note it here\n"
        ":rotating_light: *How to read Revenue at risk:* Low health on a paying account: the health drivers say "
        "what is weak, the MRR says how much is at stake. Next: Check which health drivers are weakest; "
        "Call the champion this week and ask what is in the way.\n"
        ":chart_with_downwards_trend: *How to read Usage drop:* Usage fell sharply against the previous weeks: "
        "something changed at the customer. Next: Ask what changed: team, project or a competitor; "
        "Check open support tickets for a blocker."
    )
    notes = next(t for t in texts if t.startswith("*Notes*"))
    assert notes == ("*Notes* (2)\n"
                     "• *2026-11-22* <@U0ANA>: Called the CFO: recovery plan agreed\n"
                     "• *2026-11-01* cli:ben: Kickoff held")
    assert (":bust_in_silhouette: Owner <@U0CAL>, assigned by <@U0ANA> on 2026-11-20 (imported: ana@example.com)"
            in texts)
    assert (":calendar: Tier 1: reviewed every 7 days · last review 2026-11-22 · next due 2026-11-29 "
            "(a note or a case tag counts)") in texts


def test_the_chart_goes_under_the_usage_with_its_alt_text() -> None:
    d = _worked_detail()
    blocks = m.org_detail_message(d, NOW, CFG, chart=CHART)["blocks"]
    i = next(i for i, b in enumerate(blocks) if b.get("text", {}).get("text", "").startswith("*Usage"))
    assert blocks[i + 1] == {
        "type": "image", "slack_file": {"id": "F0CHART0001"},
        "alt_text": "Acme & <Co>, last 12 weeks: health 70 → 34; events per week 10 → 100",
        "title": {"type": "plain_text", "text": "Acme & <Co>: health and weekly usage, last 12 weeks"}}
    view = m.org_detail_modal(d, NOW, CFG, chart=CHART)
    validate_view(view)
    assert any(b["type"] == "image" for b in view["blocks"])


def test_never_reviewed_and_imported_owner_lines() -> None:
    d = _worked_detail(owner=OwnerView("ana@example.com", "import", "ana@example.com"),
                       review=ReviewStatus("Tier 3", 30, None, None, True), notes=(), notes_total=0,
                       health_move=HealthMove("data"))
    texts = _texts(m.org_detail_message(d, NOW, CFG)["blocks"])
    assert ":bust_in_silhouette: Owner ana@example.com (from the import)" in texts
    assert (":calendar: Tier 3: reviewed every 30 days · never reviewed · *due now* "
            "(a note or a case tag counts)") in texts
    assert any(t.endswith("\n_Moved by the data: same configuration as the previous scan._") for t in texts)


def test_extreme_notes_and_playbooks_stay_within_block_kit_limits_and_are_escaped() -> None:
    notes = tuple(NoteView(i, NASTY * 3, NASTY * 60, dt.datetime(2026, 11, 1, 9), "slack") for i in range(5))
    long_steps = [(f"{i} " + NASTY * 10)[:200] for i in range(8)]
    books = dataclasses.replace(CFG.playbooks, **{
        name: dataclasses.replace(getattr(CFG.playbooks, name), title=NASTY[:80], read=(NASTY * 20)[:500],
                                  steps=long_steps)
        for name in ("risk", "revenue_at_risk", "usage_drop")})
    cfg = dataclasses.replace(CFG, playbooks=books)
    d = _worked_detail(notes=notes, notes_total=240, playbooks=playbooks_for(org_item(), cfg),
                       owner=OwnerView(NASTY, "assigned", NASTY, NASTY, None),
                       health_move=HealthMove("configuration", tuple(NASTY * 3 for _ in range(5)), NASTY, None, None))
    msg = m.org_detail_message(d, NOW, cfg, chart=CHART)
    validate_message(msg["blocks"], msg["text"])
    assert block_text_length(msg["blocks"]) <= 12_000
    text = json.dumps(msg["blocks"])
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    notes_text = next(t for t in _texts(msg["blocks"]) if t.startswith("*Notes*"))
    assert notes_text.startswith("*Notes* (240)") and "older — `saas-tracker notes org_1` lists them all" in notes_text
    validate_view(m.org_detail_modal(d, NOW, cfg, chart=CHART))


def test_note_modals_are_valid_views() -> None:
    view = m.note_modal("acme", '{"org":"acme"}')
    validate_view(view)
    assert view["callback_id"] == "note_add" and view["submit"]["text"] == "Save"
    (field,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert field["block_id"] == "note" and field["element"]["action_id"] == "note_text"
    assert field["element"]["multiline"] is True and field["element"]["max_length"] == 3000
    validate_view(m.note_saving_modal())
    note = NoteView(1, "U0ANA", NASTY * 100, dt.datetime(2026, 11, 1), "slack")
    saved = m.note_saved_modal("acme", NASTY * 10, [note], 9)
    validate_view(saved)
    assert "<!channel>" not in json.dumps(saved)


def test_alert_and_digest_items_carry_the_case_playbooks_next_step_and_a_tag_changes_it() -> None:
    from bot.alert_messages import alert_message

    item = org_item()
    blocks = alert_message(item, NOW, CFG)["blocks"]
    text = next(b["text"]["text"] for b in blocks if b.get("block_id") == "item|org_1")
    assert text.endswith("\n:compass: Next: Reach the champion and the economic buyer this week\n"
                         ":label: Suggested: risk")
    updated = m.item_tagged_update(blocks, "org_1", "expansion", "U0BEN", "Book a QBR or an upsell call")
    text = next(b["text"]["text"] for b in updated if b.get("block_id") == "item|org_1")
    assert text.endswith("\n:compass: Next: Book a QBR or an upsell call\n:label: Tagged *expansion* by <@U0BEN>")
    # /signals items stay as they were: no next-step line to rewrite.
    plain = m.signals_list_message(CARDS, [item], NOW, CFG)
    assert ":compass:" not in json.dumps(plain["blocks"])
