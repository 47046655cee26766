"""The segmentation cache behind /signals, /org, cells and the digest (SQLite and PostgreSQL).

services.segmentation keeps an application's segmentation (cells, tiers, case suggestions) between
scans, keyed by (database, application, latest successful scan, as-of day, configuration).
These tests pin the staleness rule: reused until the next scan, rebuilt by it, never shared
between databases, never used before the first scan, and never by the alerts a scan reads
inside its own transaction.

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
from storage.models import Base, Org, Subscription, UsageDaily, UsageDailyUser

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
            s.add(UsageDaily(org_id="growing", day=day, events=events, active_users=2, distinct_features=1,
                             last_event_at=dt.datetime.combine(day, dt.time(9), tzinfo=UTC)))
            for user in ("u1", "u2"):
                s.add(UsageDailyUser(org_id="growing", day=day, user_id=user, events=events // 2))
        return app.id


def _mrr(seg: segmentation.Segmentation) -> float:
    return float(seg.orgs.loc["growing", "mrr"])


def test_reused_between_scans_and_rebuilt_by_the_next(session_factory) -> None:
    cfg = Config()
    app_id = _seed(session_factory)
    scanning.run_scan(session_factory, cfg, at(1))
    with session_factory() as s:
        seg = segmentation.load_segmentation(s, app_id, at(1, 1), cfg)
        assert seg.segments.cells.loc["growing", "cell"] == "champions"
        assert seg.suggestion("growing") == ("expansion", "high MRR, growing usage (+100%): strategic expansion")
        assert segmentation.load_segmentation(s, app_id, at(1, 5), cfg) is seg  # same day, same scan
        snaps = seg.latest_snapshots(s, app_id)  # read once, kept with it
        assert seg.latest_snapshots(s, app_id) is snaps
        assert snaps.loc["growing", "score"] == seg.orgs.loc["growing", "health"] >= 60
    with session_factory() as s:  # another session (another request) gets the same one
        assert segmentation.load_segmentation(s, "default", at(1, 6), cfg) is seg

    # An import between scans (MRR 1200 → 2000) shows up after the next scan, not before.
    with session_factory() as s, s.begin():
        s.execute(update(Subscription).where(Subscription.subscription_id == "g1").values(mrr=2000))
    with session_factory() as s:
        assert segmentation.load_segmentation(s, app_id, at(1, 7), cfg) is seg and _mrr(seg) == 1200.0
        # Another day or another configuration is another entry, read now.
        other_day = segmentation.load_segmentation(s, app_id, at(2), cfg)
        other_cfg = segmentation.load_segmentation(s, app_id, at(1, 7), config_from_dict({"tiers": {"mode": "growth"}}))
        assert other_day is not seg and _mrr(other_day) == 2000.0
        assert other_cfg is not seg and _mrr(other_cfg) == 2000.0 and other_cfg.cfg.tiers.mode == "growth"

    scanning.run_scan(session_factory, cfg, at(15))
    with session_factory() as s:
        fresh = segmentation.load_segmentation(s, app_id, at(1, 7), cfg)
        assert fresh is not seg and _mrr(fresh) == 2000.0
        fresh15 = segmentation.load_segmentation(s, app_id, at(15, 1), cfg)
        assert fresh15.segments.cells.loc["growing", "cell"] == "revenue_at_risk"
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
