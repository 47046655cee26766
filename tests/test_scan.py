"""The scan end to end through the database: snapshots, the episode life cycle, atomicity."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from services import actions, scanning
from services import signal_list
from domain.config import Config
from domain.vocabulary import INACTIVE_PAYING
from storage.db import get_or_create_application
from storage.models import HealthSnapshot, Org, ScanRun, Signal, Subscription
from usage_rows import add_event

UTC = dt.timezone.utc
START = dt.datetime(2026, 10, 1, 12, tzinfo=UTC)


def at(days: int) -> dt.datetime:
    return START + dt.timedelta(days=days)


def _seed(factory) -> None:
    with factory() as s, s.begin():
        app = get_or_create_application(s)
        s.add(Org(org_id="quiet", application_id=app.id, name="Quiet Co", seats=5,
                  created_at=START - dt.timedelta(days=200)))
        s.flush()
        s.add(Subscription(subscription_id="q1", org_id="quiet", mrr=1200, started_at=dt.date(2026, 1, 1)))
        add_event(s, "quiet", at(0))


def _open_inactive(factory) -> list[Signal]:
    with factory() as s:
        return s.scalars(select(Signal).where(Signal.type == INACTIVE_PAYING).order_by(Signal.id)).all()


def test_episode_life_cycle_open_update_dismiss_hidden_clear_reopen(session_factory) -> None:
    cfg = Config()
    _seed(session_factory)

    # 13 days of silence: not yet inactive.
    r = scanning.run_scan(session_factory, cfg, at(13))
    assert r.orgs_scanned == 1 and _open_inactive(session_factory) == []

    # 14 days: opens, with its evidence.
    r = scanning.run_scan(session_factory, cfg, at(14))
    (sig,) = _open_inactive(session_factory)
    assert r.opened_ids == [sig.id] and sig.status == "active"
    assert sig.evidence["days_inactive"] == 14 and sig.evidence["mrr"] == 1200.0

    # Still true next day: the same signal is updated, not a new one.
    r = scanning.run_scan(session_factory, cfg, at(15))
    (same,) = _open_inactive(session_factory)
    assert same.id == sig.id and r.opened_ids == [] and r.updated >= 1 and same.updated_at == at(15)
    assert same.priority >= sig.priority  # longer inactivity never ranks lower

    # Dismissed: leaves the lists and stays hidden while the condition keeps holding.
    with session_factory() as s, s.begin():
        actions.dismiss_signals(s, [sig.id], "U1", at(15))
    r = scanning.run_scan(session_factory, cfg, at(16))
    (hidden,) = _open_inactive(session_factory)
    assert hidden.id == sig.id and hidden.status == "dismissed" and r.opened_ids == []
    with session_factory() as s:
        only_inactive = signal_list.SignalFilter(types=frozenset([INACTIVE_PAYING]))
        assert signal_list.list_signals(s, r.application_id, at(16), only_inactive).items == []
        # Its other open signal (health 2, red: Revenue at risk) keeps the org listed for that.
        (item,) = signal_list.list_signals(s, r.application_id, at(16), signal_list.SignalFilter()).items
        assert [v.type for v in item.signals] == ["revenue_at_risk"]

    # The org comes back: the condition clears and the dismissed episode resolves.
    with session_factory() as s, s.begin():
        add_event(s, "quiet", at(17))
    r = scanning.run_scan(session_factory, cfg, at(17))
    (closed,) = _open_inactive(session_factory)
    assert closed.status == "resolved" and closed.resolved_at == at(17) and r.resolved >= 1

    # Silent again for 14 days: a fresh episode opens (and would alert).
    r = scanning.run_scan(session_factory, cfg, at(31))
    signals = _open_inactive(session_factory)
    assert len(signals) == 2 and signals[1].status == "active" and signals[1].id in r.opened_ids


def test_snooze_expires_and_the_signal_is_active_again_if_still_true(session_factory) -> None:
    cfg = Config()
    _seed(session_factory)
    scanning.run_scan(session_factory, cfg, at(14))
    (sig,) = _open_inactive(session_factory)
    with session_factory() as s, s.begin():
        actions.dismiss_signals(s, [sig.id], "U1", at(14), snooze_until=at(21))
    scanning.run_scan(session_factory, cfg, at(20))
    assert _open_inactive(session_factory)[0].status == "snoozed"
    r = scanning.run_scan(session_factory, cfg, at(22))
    (again,) = _open_inactive(session_factory)
    assert again.id == sig.id and again.status == "active" and again.snoozed_until is None
    assert r.opened_ids == []  # the same episode: no second alert


def test_one_snapshot_per_org_per_day_and_runs_recorded(session_factory) -> None:
    cfg = Config()
    _seed(session_factory)
    scanning.run_scan(session_factory, cfg, at(14))
    scanning.run_scan(session_factory, cfg, at(14) + dt.timedelta(hours=6))
    scanning.run_scan(session_factory, cfg, at(15))
    with session_factory() as s:
        days = s.execute(select(HealthSnapshot.day).order_by(HealthSnapshot.day)).scalars().all()
        assert days == [at(14).date(), at(15).date()]
        snap = s.scalar(select(HealthSnapshot).where(HealthSnapshot.day == at(15).date()))
        assert float(snap.mrr) == 1200.0 and snap.last_seen == at(0)
        assert set(snap.components) == {"activity", "breadth", "seat_utilization", "trend", "support", "sentiment"}
        # Day 0 sits in the previous window: trend is defined (usage −100 %).
        assert snap.left_out == ["breadth", "support", "sentiment"]  # no features seen at all
        assert snap.components["trend"]["score"] == 0.0
        runs = s.scalars(select(ScanRun).order_by(ScanRun.id)).all()
        assert [r.status for r in runs] == ["ok", "ok", "ok"]
        assert runs[0].signals_opened >= 1 and runs[0].orgs_scanned == 1 and runs[0].finished_at is not None


def test_a_scan_that_fails_half_way_leaves_the_previous_state_and_records_the_failure(
        session_factory, monkeypatch) -> None:
    cfg = Config()
    _seed(session_factory)
    scanning.run_scan(session_factory, cfg, at(14))
    with session_factory() as s:
        before = (s.scalar(select(func.count()).select_from(Signal)),
                  s.scalar(select(func.count()).select_from(HealthSnapshot)))

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    # Fail after snapshots are written, while signals are applied: nothing may stick.
    monkeypatch.setattr(scanning, "write_signals", explode)
    with pytest.raises(RuntimeError):
        scanning.run_scan(session_factory, cfg, at(15))
    with session_factory() as s:
        after = (s.scalar(select(func.count()).select_from(Signal)),
                 s.scalar(select(func.count()).select_from(HealthSnapshot)))
        assert after == before
        assert s.scalar(select(func.count()).select_from(HealthSnapshot).where(
            HealthSnapshot.day == at(15).date())) == 0
        statuses = s.scalars(select(ScanRun.status).order_by(ScanRun.id)).all()
        assert statuses == ["ok", "failed: RuntimeError"]


def test_a_scan_dated_before_the_latest_is_refused_and_changes_nothing(session_factory) -> None:
    cfg = Config()
    _seed(session_factory)
    scanning.run_scan(session_factory, cfg, at(14))
    with pytest.raises(scanning.ScanOrderError, match="before the latest scan"):
        scanning.run_scan(session_factory, cfg, at(10))
    with session_factory() as s:
        assert s.scalars(select(ScanRun.status)).all() == ["ok"]
    scanning.run_scan(session_factory, cfg, at(14))  # the same time again is fine


def test_signal_evidence_keeps_the_severity_for_why_this_rank(session_factory) -> None:
    _seed(session_factory)
    scanning.run_scan(session_factory, Config(), at(21))
    (sig,) = _open_inactive(session_factory)
    # 21 days silent, 7 beyond the threshold: x / (x + 14) = 1/3
    assert sig.evidence["severity"] == pytest.approx(1 / 3, abs=1e-4)


def test_the_garbage_collector_is_off_during_a_scan_and_as_it_was_after(session_factory, monkeypatch) -> None:
    import gc

    cfg = Config()
    _seed(session_factory)
    seen: list[bool] = []
    real = scanning.write_signals

    def watching(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(scanning, "write_signals", watching)
    assert gc.isenabled()
    scanning.run_scan(session_factory, cfg, at(14))
    assert seen == [False] and gc.isenabled()

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(scanning, "write_signals", explode)
    with pytest.raises(RuntimeError):
        scanning.run_scan(session_factory, cfg, at(15))
    assert gc.isenabled()  # a failed scan turns it back on too

    monkeypatch.setattr(scanning, "write_signals", watching)
    gc.disable()
    try:
        scanning.run_scan(session_factory, cfg, at(16))
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
    assert seen == [False, False]


def test_a_scans_segmentation_reads_nothing_and_says_what_it_would_need() -> None:
    """A scan builds its segments while its connection stores its signals, so from what it
    hands over alone, with no session: the cells, tiers and cases come out, and a missing
    piece is named instead of read from a database that is not there."""
    import pandas as pd

    from services.segmentation import Segmentation

    day = dt.date(2026, 1, 15)
    index = pd.Index(["a", "b"], name="org_id")
    snapshots = pd.DataFrame({"health": [80.0, 20.0], "activity_score": [70.0, 10.0], "usage_change": [0.1, -0.6],
                              "seat_utilization": [0.9, 0.2],
                              "last_seen": pd.to_datetime(["2026-01-14", "2026-01-01"], utc=True)}, index=index)
    attributes = pd.DataFrame({"name": ["Acme", "Beta"], "source": ["sales", "self-serve"],
                               "created_at": pd.to_datetime(["2025-01-01", "2025-06-01"], utc=True),
                               "renewal_date": pd.to_datetime(["2026-03-01", "2026-02-01"]),
                               "icp_fit": [0.8, 0.3], "strategic": [1.0, 0.0], "relationship": [0.7, 0.2]},
                              index=index)
    mrr = pd.Series([5000.0, 300.0], index=index)
    open_signals = pd.DataFrame({"org_id": ["b"], "type": ["revenue_at_risk"]})
    seg = Segmentation(None, "default", day, Config(), snapshots=snapshots, open_signals=open_signals,
                       attributes=attributes, mrr=mrr, application_id=1)
    assert seg.segments.cells["cell"].notna().all()
    assert set(seg.tiers.index) == {"a", "b"} and seg.suggestions.loc["b", "case"] == "risk"
    with pytest.raises(ValueError, match="needs the scan's MRR"):
        Segmentation(None, "default", day, Config(), snapshots=snapshots, open_signals=open_signals,
                     attributes=attributes, application_id=1)
    with pytest.raises(ValueError, match="needs the database"):  # an org never scanned: its last event is read
        Segmentation(None, "default", day, Config(), snapshots=snapshots.loc[["a"]], open_signals=open_signals,
                     attributes=attributes, mrr=mrr, application_id=1)
