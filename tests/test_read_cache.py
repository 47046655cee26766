"""Where /signals, /org, cells and the digest get an application's segmentation (cells, tiers,
case suggestions) from (SQLite and PostgreSQL).

On the day of the latest scan, with the configuration it ran with, from what that scan stored
per org (``storage.org_segments``). Another day or configuration builds it and keeps it
between scans, keyed by (database, application, latest successful scan, as-of day,
configuration). These tests pin the staleness rule: what the scan stored (or the cached build)
is used until the next scan, never shared between databases, nothing is cached before the
first scan, and the alerts a scan reads inside its own transaction see that scan.

One org, "growing": the only paying org ($1,200, so MRR high), two seats. Scan 1 (day 1):
active every day of the last 28, twice as many events in the recent 14 days as in the
previous 14 and both seats in use: health high, usage +100 %, so Champions and the case
suggestion "expansion" (high MRR, growing usage). Then silence: scan 2 (day 15) finds it
14 days unseen with an empty recent window: health low, Revenue at risk cell, "risk".
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from services import scanning
from services import segmentation, signal_list
from domain.config import Config, config_from_dict
from storage.db import get_or_create_application, make_engine, make_session_factory
from storage.models import Base, Org, Subscription
from usage_rows import add_usage_day

UTC = dt.timezone.utc
START = dt.datetime(2026, 10, 1, 12, tzinfo=UTC)


def at(days: int, hours: int = 0) -> dt.datetime:
    return START + dt.timedelta(days=days, hours=hours)


def _seed(factory: sessionmaker[Session], mrr: float = 1200) -> int:
    with factory() as s, s.begin():
        app = get_or_create_application(s)
        s.add(Org(org_id="growing", application_id=app.id, name="Growing Co", seats=2, source="signup",
                  created_at=START - dt.timedelta(days=400)))
        s.flush()
        s.add(Subscription(subscription_id="g1", org_id="growing", mrr=mrr, started_at=dt.date(2026, 1, 1)))
        for back in range(28):  # days 1-28 before day 1's scan, and day 1 itself
            day = (at(1) - dt.timedelta(days=back)).date()
            events = 4 if back < 14 else 2
            add_usage_day(s, "growing", day, users={"u1": events // 2, "u2": events // 2}, distinct_features=1,
                          last_event_at=dt.datetime.combine(day, dt.time(9), tzinfo=UTC))
        return app.id


def _mrr(seg) -> float:
    """The MRR the segments placed "growing" with (its cell's member row)."""
    members = seg.cell_members(seg.cell_of("growing")).set_index("org_id")
    return float(members.loc["growing", "mrr"])


def test_stored_by_the_scan_on_its_day_built_and_cached_otherwise(session_factory) -> None:
    cfg = Config()
    app_id = _seed(session_factory)
    scanning.run_scan(session_factory, cfg, at(1))
    with session_factory() as s:
        seg = segmentation.load_segmentation(s, app_id, at(1, 1), cfg)
        assert isinstance(seg, segmentation.StoredSegmentation)  # what the scan stored, read per org
        assert seg.cell_of("growing") == "champions"
        assert seg.suggestion("growing") == ("expansion", "high MRR, growing usage (+100%): strategic expansion")
        snaps = seg.latest_snapshots(s, app_id)
        assert snaps.loc["growing", "score"] >= 60
        built = segmentation.segmentation_for_day(s, app_id, at(1).date(), cfg, cached=False)
        assert built.segments.cells.loc["growing", "cell"] == "champions"
        assert built.suggestion("growing") == seg.suggestion("growing")
        assert built.tier_of("growing") == seg.tier_of("growing")
        assert snaps.loc["growing", "score"] == built.orgs.loc["growing", "health"]

    # An import between scans (MRR 1200 → 2000) shows up after the next scan, not before.
    with session_factory() as s, s.begin():
        s.execute(update(Subscription).where(Subscription.subscription_id == "g1").values(mrr=2000))
    with session_factory() as s:
        seg = segmentation.load_segmentation(s, app_id, at(1, 7), cfg)
        assert isinstance(seg, segmentation.StoredSegmentation) and _mrr(seg) == 1200.0
        # Another day or another configuration is built now, and cached until the next scan.
        other_day = segmentation.load_segmentation(s, app_id, at(2), cfg)
        other_cfg = segmentation.load_segmentation(s, app_id, at(1, 7), config_from_dict({"tiers": {"mode": "growth"}}))
        assert isinstance(other_day, segmentation.Segmentation) and _mrr(other_day) == 2000.0
        assert isinstance(other_cfg, segmentation.Segmentation) and _mrr(other_cfg) == 2000.0
        assert other_cfg.cfg.tiers.mode == "growth"
        assert segmentation.load_segmentation(s, app_id, at(2, 3), cfg) is other_day
    with session_factory() as s:  # another session (another request) gets the same one
        assert segmentation.load_segmentation(s, "default", at(2, 6), cfg) is other_day

    scanning.run_scan(session_factory, cfg, at(15))
    with session_factory() as s:
        fresh = segmentation.load_segmentation(s, app_id, at(2, 7), cfg)
        assert fresh is not other_day and _mrr(fresh) == 2000.0
        fresh15 = segmentation.load_segmentation(s, app_id, at(15, 1), cfg)
        assert isinstance(fresh15, segmentation.StoredSegmentation)
        assert fresh15.cell_of("growing") == "revenue_at_risk" and _mrr(fresh15) == 2000.0
        assert fresh15.suggestion("growing") == ("risk", "high MRR, red health: urgent retention")
        assert fresh15.latest_snapshots(s, app_id).loc["growing", "score"] < 60


def test_nothing_is_cached_before_the_first_scan(session_factory) -> None:
    app_id = _seed(session_factory)
    with session_factory() as s:
        first = segmentation.load_segmentation(s, app_id, at(1), Config())
        assert segmentation.load_segmentation(s, app_id, at(1), Config()) is not first


def test_each_database_has_its_own(session_factory, tmp_path) -> None:
    """Same application, same scan id, same day and configuration: still two databases."""
    other_engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    Base.metadata.create_all(other_engine)
    other = make_session_factory(other_engine)
    try:
        for factory, mrr in ((session_factory, 1200), (other, 700)):
            _seed(factory, mrr)
            assert scanning.run_scan(factory, Config(), at(1)).run_id == 1
        with session_factory() as a, other() as b:
            seg_a = segmentation.load_segmentation(a, "default", at(1, 1), Config())
            seg_b = segmentation.load_segmentation(b, "default", at(1, 1), Config())
            assert (_mrr(seg_a), _mrr(seg_b)) == (1200.0, 700.0)
    finally:
        other_engine.dispose()


def test_alerts_inside_a_scan_see_that_scan_not_the_cache(session_factory) -> None:
    """A cached segmentation for day 15 from scan 1 says "expansion"; the alert of scan 2,
    read in scan 2's transaction before it commits, must say "risk" like every read after."""
    cfg = Config()
    app_id = _seed(session_factory)
    scanning.run_scan(session_factory, cfg, at(1))
    with session_factory() as s:
        stale = segmentation.load_segmentation(s, app_id, at(15), cfg)
        assert stale.suggestion("growing")[0] == "expansion"

    seen: list[tuple[str, str | None]] = []

    def alert_items(session: Session, result: scanning.ScanResult, cfg: Config) -> None:
        items = signal_list.items_for_signals(session, result.application_id, result.opened_ids, result.as_of, cfg)
        seen.extend((item.org_id, item.case_suggested) for item in items)

    result = scanning.run_scan(session_factory, cfg, at(15), after_signals=alert_items)
    assert result.opened >= 1 and seen == [("growing", "risk")]
    with session_factory() as s:
        (item,) = signal_list.list_signals(s, app_id, at(15, 1), signal_list.SignalFilter(), cfg).items
        assert item.case_suggested == "risk"
