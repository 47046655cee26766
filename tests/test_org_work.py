"""Notes, assigned owners, review cadence, the 12-week health history and why a score moved:
what a person records about an org and what `/org` and `saas-tracker org` read back."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from cli import cli
from delivery_helpers import SEEN, seed_orgs
from usage_rows import add_event
from domain.config import Config
from services import org_history, signal_list
from services.read_models import HealthMove
from services.scanning import run_scan
from services.tracker import Tracker
from storage.importer import import_paths
from storage.models import AuditLog, HealthSnapshot, Note, OrgOwner, ScanRun

UTC = dt.timezone.utc
CFG = Config()
SCAN_AT = SEEN + dt.timedelta(days=14)


def _tracker(factory, cfg: Config = CFG) -> Tracker:
    return Tracker(factory, cfg, clock=lambda: SCAN_AT)


def _audit(factory, action: str) -> list[AuditLog]:
    with factory() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_notes_are_stored_with_author_and_time_newest_first_and_audited(session_factory) -> None:
    seed_orgs(session_factory, {"acme": 5_000})
    tracker = _tracker(session_factory)
    first = tracker.add_note("acme", "  Kickoff call booked  ", "U0ANA", SCAN_AT, via="slack")
    second = tracker.add_note("acme", "Admin set up\nsecond line", "cli:ana", SCAN_AT + dt.timedelta(hours=1),
                              via="cli")
    assert first.changed and second.changed
    notes, total = tracker.notes("acme")
    assert total == 2 and [(n.author, n.text, n.via) for n in notes] == [
        ("cli:ana", "Admin set up\nsecond line", "cli"), ("U0ANA", "Kickoff call booked", "slack")]
    assert notes[0].created_at == SCAN_AT + dt.timedelta(hours=1)
    audits = _audit(session_factory, "note")
    assert [(a.actor, a.org_id, a.via, a.after["text"]) for a in audits] == [
        ("U0ANA", "acme", "slack", "Kickoff call booked"), ("cli:ana", "acme", "cli", "Admin set up second line")]
    # Refused without a change: empty, too long, an org that no longer exists.
    assert not tracker.add_note("acme", "   ", "U0ANA", SCAN_AT).changed
    assert "at most 3,000" in tracker.add_note("acme", "x" * 3001, "U0ANA", SCAN_AT).message
    assert not tracker.add_note("gone", "hello", "U0ANA", SCAN_AT).changed
    with session_factory() as s:
        assert len(s.scalars(select(Note)).all()) == 2
    # /org reads them back newest first, and the note counts as a review.
    run_scan(session_factory, CFG, SCAN_AT)
    detail = tracker.org_detail("acme", SCAN_AT + dt.timedelta(hours=2))
    assert [n.text for n in detail.notes] == ["Admin set up\nsecond line", "Kickoff call booked"]
    assert detail.notes_total == 2
    assert detail.review is not None and detail.review.last_review == SCAN_AT + dt.timedelta(hours=1)


def test_an_assigned_owner_wins_over_the_import_and_survives_the_next_import(session_factory, tmp_path) -> None:
    seed_orgs(session_factory, {"acme": 5_000, "globex": 9_000})
    run_scan(session_factory, CFG, SCAN_AT)
    orgs_csv = tmp_path / "orgs.csv"
    orgs_csv.write_text("org_id,name,owner\nacme,Acme Co,ben@example.com\nglobex,Globex Co,ben@example.com\n")
    import_paths([orgs_csv], session_factory)
    tracker = _tracker(session_factory)
    mine = signal_list.SignalFilter(top=10, owners=frozenset({"U0ANA"}))
    assert tracker.signals(mine, SCAN_AT).items == []

    assert tracker.assign_owner("acme", "U0ANA", "U0LEAD", SCAN_AT, via="slack").changed
    assert [i.org_id for i in tracker.signals(mine, SCAN_AT).items] == ["acme"]  # at once, no new scan
    assert sorted(tracker.owners()) == ["U0ANA", "ben@example.com"]
    (item,) = tracker.signals(mine, SCAN_AT).items
    assert item.owner == "U0ANA"

    import_paths([orgs_csv], session_factory)  # the CSV still says ben: the assignment stays
    assert [i.org_id for i in tracker.signals(mine, SCAN_AT).items] == ["acme"]
    detail = tracker.org_detail("acme", SCAN_AT)
    assert detail.owner is not None
    assert (detail.owner.owner, detail.owner.source, detail.owner.imported, detail.owner.assigned_by) == (
        "U0ANA", "assigned", "ben@example.com", "U0LEAD")

    again = tracker.assign_owner("acme", "U0ANA", "U0LEAD", SCAN_AT)
    assert not again.changed and "Already assigned to U0ANA" in again.message
    assert tracker.assign_owner("acme", "U0CAL", "U0LEAD", SCAN_AT).changed
    assert tracker.assign_owner("acme", None, "U0LEAD", SCAN_AT).changed  # back to the imported owner
    assert tracker.org_detail("acme", SCAN_AT).owner.source == "import"
    with session_factory() as s:
        assert s.scalars(select(OrgOwner)).all() == []
    audits = [(a.before["owner"], a.after["owner"], a.after["source"]) for a in _audit(session_factory, "assign")]
    assert audits == [("ben@example.com", "U0ANA", "assigned"), ("U0ANA", "U0CAL", "assigned"),
                      ("U0CAL", "ben@example.com", "import")]


def test_health_weeks_line_up_with_the_usage_weeks(session_factory) -> None:
    seed_orgs(session_factory, {"acme": 5_000})
    day = SCAN_AT.date()
    with session_factory() as s, s.begin():
        for back, score in ((0, 20.0), (3, 30.0), (5, 35.0), (20, 60.0), (83, 90.0), (84, 99.0)):
            s.add(HealthSnapshot(org_id="acme", day=day - dt.timedelta(days=back), score=score, band="red",
                                 components={}, left_out=[], mrr=5000, usage={}))
    with session_factory() as s:
        ends, health = org_history.health_weeks(s, "acme", day)
    assert len(ends) == 12 and ends[-1] == day and ends[0] == day - dt.timedelta(days=77)
    # The last week's latest snapshot (today, 20); day −20 in week 9; day −83 is the first
    # week's first day; day −84 is before the 12 weeks.
    assert health[-1] == 20.0 and health[-3] == 60.0 and health[0] == 90.0
    assert [h for h in health if h is not None] == [90.0, 60.0, 20.0]


def _scan_with(factory, cfg: Config, at: dt.datetime) -> None:
    run_scan(factory, cfg, at)


def test_what_moved_says_whether_the_data_or_the_configuration_moved_the_score(session_factory) -> None:
    seed_orgs(session_factory, {"acme": 5_000})
    _scan_with(session_factory, CFG, SCAN_AT)
    _scan_with(session_factory, CFG, SCAN_AT + dt.timedelta(days=1))
    tracker = _tracker(session_factory)
    assert tracker.org_detail("acme", SCAN_AT + dt.timedelta(days=1)).health_move == HealthMove("data")

    # Only the weights change: same inputs, so the configuration moved it, by a known amount.
    heavier = dataclasses.replace(CFG, health=dataclasses.replace(
        CFG.health, weights={**CFG.health.weights, "activity": 60.0}))
    _scan_with(session_factory, heavier, SCAN_AT + dt.timedelta(days=2))
    move = tracker.org_detail("acme", SCAN_AT + dt.timedelta(days=2)).health_move
    assert move is not None and move.cause in ("configuration", "data and configuration")
    assert move.changes == ("health.weights.activity 30 → 60",)
    assert move.changed_by and move.changed_at is not None
    with session_factory() as s:
        snaps = s.scalars(select(HealthSnapshot).where(HealthSnapshot.org_id == "acme")
                          .order_by(HealthSnapshot.day.desc()).limit(2)).all()
    latest, previous = snaps
    assert move.config_points == round(org_history.rescore(previous.components, heavier.health.weights)
                                       - previous.score, 1)
    if move.cause == "configuration":
        assert abs(latest.score - (previous.score + move.config_points)) < 0.11

    # A change that a health score does not read (the digest channel) is no configuration move.
    elsewhere = dataclasses.replace(heavier, slack=dataclasses.replace(heavier.slack, digest_channel="#cs"))
    _scan_with(session_factory, elsewhere, SCAN_AT + dt.timedelta(days=3))
    assert tracker.org_detail("acme", SCAN_AT + dt.timedelta(days=3)).health_move == HealthMove("data")

    history = tracker.config_history()
    assert [e.scans for e in history] == [2, 1, 1] and history[0].first
    assert [c.text for c in history[1].changes] == ["health.weights.activity 30 → 60"]
    assert [c.text for c in history[2].changes] == ['slack.digest_channel "#customer-success" → "#cs"']
    with session_factory() as s:
        assert len(set(s.scalars(select(ScanRun.config_version_id)))) == 3


def test_a_config_move_with_unchanged_inputs_is_the_configuration_alone(session_factory) -> None:
    seed_orgs(session_factory, {"acme": 5_000})
    _scan_with(session_factory, CFG, SCAN_AT)
    heavier = dataclasses.replace(CFG, health=dataclasses.replace(
        CFG.health, weights={**CFG.health.weights, "sentiment": 0.0, "activity": 50.0}))
    # The same scan time the next second: the windows and so every raw input are the same.
    _scan_with(session_factory, heavier, SCAN_AT + dt.timedelta(days=1))
    with session_factory() as s, s.begin():  # make the inputs identical to rule out the day's drift
        latest, previous = s.scalars(select(HealthSnapshot).order_by(HealthSnapshot.day.desc())).all()
        latest.components = {c: {**v, "value": (previous.components.get(c) or {}).get("value")}
                             for c, v in latest.components.items()}
        latest.left_out = previous.left_out
    move = _tracker(session_factory).org_detail("acme", SCAN_AT + dt.timedelta(days=1)).health_move
    assert move is not None and move.cause == "configuration"
    assert set(move.changes) == {"health.weights.activity 30 → 50", "health.weights.sentiment 5 → 0"}


def test_review_status_and_the_due_list_follow_the_tier_interval(session_factory) -> None:
    from services import reviews
    from services.segmentation import segmentation_for_day

    seed_orgs(session_factory, {"acme": 50_000, "globex": 9_000, "initech": 4_000, "free": 0})
    run_scan(session_factory, CFG, SCAN_AT)
    tracker = _tracker(session_factory)
    tracker.add_note("globex", "QBR booked", "U0ANA", SCAN_AT - dt.timedelta(days=1))
    tracker.tag_case("initech", "risk", "U0ANA", SCAN_AT - dt.timedelta(days=200))
    with session_factory() as s:
        seg = segmentation_for_day(s, 1, SCAN_AT.date(), CFG)  # the whole application's, as the digest reads it
        tiers = {o: seg.tiers.at[o, "tier"] for o in ("acme", "globex", "initech")}
        due, total = reviews.reviews_due(s, 1, seg, SCAN_AT, CFG)
    assert "free" not in [d.org_id for d in due]  # not paying: not an account to review
    assert [d.org_id for d in due] == sorted(["acme", "initech"], key=lambda o: (tiers[o], o != "acme"))
    assert total == 2
    never = next(d for d in due if d.org_id == "acme")
    assert never.last_review is None and never.overdue_days is None
    late = next(d for d in due if d.org_id == "initech")
    interval = CFG.review.interval_days(tiers["initech"])
    assert late.overdue_days == 200 - interval and late.interval_days == interval
    globex = tracker.org_detail("globex", SCAN_AT)
    assert globex.review is not None and not globex.review.due
    assert globex.review.due_on == (SCAN_AT - dt.timedelta(days=1)).date() + dt.timedelta(
        days=CFG.review.interval_days(tiers["globex"]))


def test_org_detail_carries_the_case_and_signal_playbooks(session_factory) -> None:
    seed_orgs(session_factory, {"acme": 5_000})
    run_scan(session_factory, CFG, SCAN_AT)
    detail = _tracker(session_factory).org_detail("acme", SCAN_AT)
    kinds = [(p.kind, p.key) for p in detail.playbooks]
    assert kinds[0] == ("case", "risk")
    assert ("signal", "revenue_at_risk") in kinds and ("signal", "inactive_paying") in kinds
    assert detail.playbooks[0].steps[0] == "Reach the champion and the economic buyer this week"
    cfg = Config(playbooks=dataclasses.replace(CFG.playbooks, risk=dataclasses.replace(
        CFG.playbooks.risk, steps=["Call the CFO today"])))
    assert _tracker(session_factory, cfg).org_detail("acme", SCAN_AT).playbooks[0].steps == ("Call the CFO today",)


def _cli(args: list[str], db_url: str, tmp_path: Path) -> str:
    config = tmp_path / "saas-tracker.toml"
    config.write_text("")
    result = CliRunner().invoke(cli, ["--config", str(config), *args], env={"DATABASE_URL": db_url},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_command_line_notes_assigns_and_shows_the_history(session_factory, db_url, tmp_path) -> None:
    seed_orgs(session_factory, {"acme": 5_000})
    with session_factory() as s, s.begin():
        add_event(s, "acme", SEEN + dt.timedelta(days=1))
    run_scan(session_factory, CFG, SCAN_AT)
    assert _cli(["note", "acme", "Kickoff", "call", "booked", "--actor", "ana@example.com"], db_url, tmp_path) == \
        "acme: Note added.\n"
    assert "acme: Assigned to ana@example.com." in _cli(["assign", "acme", "ana@example.com", "--actor", "lead"],
                                                       db_url, tmp_path)
    out = _cli(["org", "acme"], db_url, tmp_path)
    assert "owner ana@example.com (assigned by lead on" in out
    assert "Playbook — Urgent retention" in out and "1. Reach the champion and the economic buyer this week" in out
    assert "How to read: Revenue at risk" in out
    assert "Notes (1)" in out and "ana@example.com  (via cli)" in out and "Kickoff call booked" in out
    assert "Health, end of each week (12 weeks):" in out
    assert "Review: Tier" in out
    notes = _cli(["notes", "acme"], db_url, tmp_path)
    assert "Kickoff call booked" in notes
    audit = _cli(["audit"], db_url, tmp_path)
    assert "noted on acme: Kickoff call booked" in audit and "assigned acme to ana@example.com (was nobody" in audit
    assert "Acme Co" in _cli(["signals", "--owner", "ana@example.com"], db_url, tmp_path)
    history = _cli(["config", "history"], db_url, tmp_path)
    assert "1 scan, first by" in history and "the first configuration recorded" in history
    charted = _cli(["org", "acme", "--chart", str(tmp_path / "charts")], db_url, tmp_path)
    png = tmp_path / "charts" / "acme-12-weeks.png"
    assert f"chart written to {png}" in charted
    from PIL import Image

    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (800, 400)
        assert len(image.convert("RGB").getcolors(maxcolors=800 * 400) or []) > 50
    assert "Assignment removed" in _cli(["assign", "acme", "--imported"], db_url, tmp_path)
    assert "Acme Co" not in _cli(["signals", "--owner", "ana@example.com"], db_url, tmp_path)
