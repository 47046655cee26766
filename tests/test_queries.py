"""The database aggregation behind a scan, pinned with exact numbers on both databases."""

from __future__ import annotations

import datetime as dt
import math

from domain.config import Config, config_from_dict
from services import scanning
from storage import queries
from storage.db import get_or_create_application
from storage.models import (
    Org,
    Subscription,
    SupportTicket,
    SurveyResponse,
)
from usage_rows import add_usage_day

UTC = dt.timezone.utc
AS_OF = dt.datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)
DAY = AS_OF.date()


def _usage(session, org_id: str, day: dt.date, users: dict[str, int], features: dict[str, int], hour: int = 10):
    add_usage_day(session, org_id, day, users=users, features=features,
                  last_event_at=dt.datetime.combine(day, dt.time(hour), tzinfo=UTC))


def _seed(session) -> int:
    app = get_or_create_application(session, "default")
    other = get_or_create_application(session, "other")
    session.add_all([
        Org(org_id="a", application_id=app.id, name="Acme", seats=10,
            created_at=dt.datetime(2025, 1, 1, tzinfo=UTC)),
        Org(org_id="b", application_id=app.id, name="Beta"),
        Org(org_id="x", application_id=other.id, name="Other app org"),
    ])
    session.flush()
    # Recent window = Nov 7..20, previous = Oct 24..Nov 6, activity = Oct 24..Nov 20.
    _usage(session, "a", DAY, {"u1": 5, "u2": 3}, {"reports": 6, "api": 2}, hour=22)
    _usage(session, "a", DAY - dt.timedelta(days=13), {"u1": 2}, {"reports": 2})
    _usage(session, "a", DAY - dt.timedelta(days=14), {"u3": 10}, {"exports": 10})
    _usage(session, "a", DAY - dt.timedelta(days=27), {"u1": 4}, {"reports": 4})
    _usage(session, "a", DAY - dt.timedelta(days=28), {"u9": 100}, {"alerts": 100})  # outside both windows
    _usage(session, "a", DAY + dt.timedelta(days=1), {"u1": 50}, {"reports": 50})  # after as_of: ignored
    _usage(session, "x", DAY, {"z": 7}, {"reports": 7})
    session.add_all([
        Subscription(subscription_id="s1", org_id="a", mrr=100, started_at=dt.date(2026, 1, 1)),
        Subscription(subscription_id="s2", org_id="a", mrr=50, started_at=dt.date(2026, 6, 1), ended_at=DAY),
        Subscription(subscription_id="s3", org_id="a", mrr=70, started_at=dt.date(2026, 6, 1), status="trialing"),
        Subscription(subscription_id="s4", org_id="a", mrr=30, started_at=dt.date(2026, 6, 1),
                     ended_at=DAY + dt.timedelta(days=1), status="canceled"),
        Subscription(subscription_id="s5", org_id="b", mrr=20, started_at=DAY + dt.timedelta(days=1)),
        SupportTicket(ticket_id="t1", org_id="a", opened_at=AS_OF - dt.timedelta(days=3), severity="p1"),
        SupportTicket(ticket_id="t2", org_id="a", opened_at=AS_OF - dt.timedelta(days=3), severity="p3"),
        SupportTicket(ticket_id="t3", org_id="a", opened_at=AS_OF - dt.timedelta(days=9), severity="p2",
                      closed_at=AS_OF - dt.timedelta(days=1)),
        SupportTicket(ticket_id="t4", org_id="a", opened_at=AS_OF + dt.timedelta(hours=1), severity="p1"),
        # Three respondents: u1's latest is 9 (promoter), u2 says 3 (detractor), one anonymous 8.
        SurveyResponse(org_id="a", user_id="u1", score=2, responded_at=AS_OF - dt.timedelta(days=40)),
        SurveyResponse(org_id="a", user_id="u1", score=9, responded_at=AS_OF - dt.timedelta(days=10)),
        SurveyResponse(org_id="a", user_id="u2", score=3, responded_at=AS_OF - dt.timedelta(days=5)),
        SurveyResponse(org_id="a", user_id="", score=8, responded_at=AS_OF - dt.timedelta(days=5)),
        SurveyResponse(org_id="a", user_id="u4", score=10, responded_at=AS_OF - dt.timedelta(days=400)),
    ])
    session.commit()
    return app.id


def test_org_frame_aggregates_windows_mrr_tickets_and_nps_exactly(session) -> None:
    app_id = _seed(session)
    frame = queries.org_frame(session, app_id, AS_OF, Config())
    assert sorted(frame.index) == ["a", "b"]
    a = frame.loc["a"]
    assert a["recent_events"] == 10  # 8 today + 2 thirteen days ago
    assert a["previous_events"] == 14  # 10 + 4
    assert a["recent_active_days"] == 2
    assert a["previous_active_days"] == 2
    assert a["activity_active_days"] == 4
    # Champions of the previous window: u3 (10 of its 14 events) and u1 (4); u9's 100 are older.
    # u3 has not been seen since, while u1 and u2 carry on.
    assert (a["champions"], a["champions_silent"], a["champions_silent_previous_events"]) == (2, 1, 10)
    assert queries.champion_users(session, "a", DAY, Config()) == [("u3", 10, 0), ("u1", 4, 7)]
    # Weekly events, the week ending on the scan's day first (the same buckets as the sparkline).
    assert [a[f"events_week_{k}"] for k in range(13)] == [8, 2, 10, 4, 100, 0, 0, 0, 0, 0, 0, 0, 0]
    assert a["recent_active_users"] == 2  # u1, u2
    assert a["previous_active_users"] == 2  # u3, u1
    assert a["recent_features"] == 2
    assert a["previous_features"] == 2
    assert a["recent_key_features"] == 2
    assert a["last_seen"] == dt.datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    # s1 100 + s4 30 (canceled, but ends tomorrow); s2 ended today, s3 is a trial.
    assert a["mrr"] == 130.0
    assert a["open_tickets"] == 2 and a["open_tickets_p1"] == 1
    assert a["support_penalty"] == 50.0  # p1 40 + p3 10
    assert a["survey_responses"] == 3
    assert math.isclose(a["nps"], 0.0)  # 1 promoter, 1 detractor, 1 passive
    assert a["seats"] == 10.0

    b = frame.loc["b"]
    assert b["mrr"] == 0.0 and b["recent_events"] == 0 and b["open_tickets"] == 0
    assert b["events_week_0"] == 0 and b["events_week_12"] == 0
    assert (b["champions"], b["champions_silent"]) == (0, 0)
    assert math.isnan(b["nps"]) and math.isnan(b["seats"])
    assert b["last_seen"] is None or str(b["last_seen"]) == "NaT"


def test_key_features_limit_breadth_and_set_its_denominator(session) -> None:
    app_id = _seed(session)
    cfg = config_from_dict({"health": {"key_features": ["reports", "exports", "alerts"]}})
    frame = queries.org_frame(session, app_id, AS_OF, cfg)
    assert frame.loc["a", "recent_key_features"] == 1  # only "reports" is key among reports/api
    ctx = scanning.scan_context(session, app_id, AS_OF, cfg)
    assert ctx.key_feature_total == 3
    assert ctx.tickets_available is True
    # Without key features, the denominator is every feature the application has seen by as_of.
    assert scanning.scan_context(session, app_id, AS_OF, Config()).key_feature_total == 4


def test_weekly_usage_buckets_oldest_first(session) -> None:
    _seed(session)
    weeks = queries.weekly_usage(session, "a", DAY, weeks=5)
    assert weeks == [100, 4, 10, 2, 8]


def test_weekly_events_cover_thirteen_weeks_ending_on_the_scan_day(session) -> None:
    app = get_or_create_application(session, "default")
    session.add(Org(org_id="w", application_id=app.id, name="Weekly"))
    session.flush()
    # The oldest week (k = 12) is DAY − 90 … DAY − 84; DAY − 91 is before it.
    for days_back, events in ((0, 1), (6, 2), (7, 4), (84, 8), (90, 16), (91, 32)):
        _usage(session, "w", DAY - dt.timedelta(days=days_back), {"u1": events}, {"reports": events})
    session.commit()
    w = queries.org_frame(session, app.id, AS_OF, Config()).loc["w"]
    assert [w[f"events_week_{k}"] for k in range(13)] == [3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24]
    assert w["recent_events"] == 7 and w["previous_events"] == 0


def test_past_due_mrr_and_the_health_of_four_weeks_ago(session) -> None:
    from storage.models import HealthSnapshot

    app = get_or_create_application(session, "default")
    session.add_all([Org(org_id="p", application_id=app.id, name="Past due"),
                     Org(org_id="q", application_id=app.id, name="Paid")])
    session.flush()
    session.add_all([
        Subscription(subscription_id="p1", org_id="p", mrr=300, started_at=dt.date(2026, 1, 1), status="past_due"),
        Subscription(subscription_id="p2", org_id="p", mrr=200, started_at=dt.date(2026, 1, 1)),
        # Past due but ended: no longer part of MRR, so not past-due MRR either.
        Subscription(subscription_id="p3", org_id="p", mrr=999, started_at=dt.date(2026, 1, 1),
                     ended_at=dt.date(2026, 2, 1), status="past_due"),
        Subscription(subscription_id="q1", org_id="q", mrr=100, started_at=dt.date(2026, 1, 1)),
    ])
    for day, score in ((DAY - dt.timedelta(days=40), 70.0), (DAY - dt.timedelta(days=28), 80.0),
                       (DAY - dt.timedelta(days=27), 50.0)):
        session.add(HealthSnapshot(org_id="p", day=day, score=score, band=None, components={}, left_out=[], mrr=0,
                                   usage={}))
    session.commit()
    frame = queries.org_frame(session, app.id, AS_OF, Config())
    assert frame.loc["p", ["mrr", "past_due_mrr"]].tolist() == [500.0, 300.0]
    assert frame.loc["q", ["mrr", "past_due_mrr"]].tolist() == [100.0, 0.0]
    # The health an org had renewal_fall_days (28) before the scan: its latest scan on or before then.
    ctx = scanning.scan_context(session, app.id, AS_OF, Config())
    assert ctx.health_before.to_dict() == {"p": 80.0}


def test_last_seen_of_orgs_quiet_through_the_windows_and_of_the_scan_day(session) -> None:
    """Last seen comes with the windows' own aggregate; an org with no event in those days is
    looked up in the older rollups, and a day whose last event is after ``as_of`` does not
    count (the rollup does not say when that day's earlier events were)."""
    app_id = _seed(session)
    session.add_all([Org(org_id="c", application_id=app_id, name="Dormant"),
                     Org(org_id="d", application_id=app_id, name="Late today")])
    session.flush()
    _usage(session, "c", DAY - dt.timedelta(days=400), {"u1": 1}, {"reports": 1}, hour=7)
    _usage(session, "c", DAY - dt.timedelta(days=401), {"u1": 1}, {"reports": 1}, hour=9)
    _usage(session, "d", DAY - dt.timedelta(days=200), {"u1": 1}, {"reports": 1}, hour=8)
    late = DAY + dt.timedelta(days=1)  # stored as a day's rollup ending after as_of
    add_usage_day(session, "d", DAY, events=3, active_users=1, distinct_features=1,
                  last_event_at=dt.datetime.combine(late, dt.time(0, 30), tzinfo=UTC))
    session.commit()
    frame = queries.org_frame(session, app_id, AS_OF, Config())
    assert frame.loc["a", "last_seen"] == dt.datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    assert frame.loc["c", "last_seen"] == dt.datetime.combine(DAY - dt.timedelta(days=400), dt.time(7), tzinfo=UTC)
    assert frame.loc["d", "last_seen"] == dt.datetime.combine(DAY - dt.timedelta(days=200), dt.time(8), tzinfo=UTC)
    assert str(frame.loc["b", "last_seen"]) == "NaT"
    by_org = queries.last_seen_by_org(session, app_id, AS_OF)
    assert by_org.reindex(frame.index).equals(frame["last_seen"].rename(by_org.name))


def test_the_scans_mrr_is_the_revenue_readers_to_the_float(session) -> None:
    """The scan hands its aggregated MRR to the segments instead of their reading every
    subscription again: the same subscriptions count (trials never, canceled ones only through
    their end, nothing from its end day on or before its start) and the same floats come out."""
    from scoring import revenue as rev
    from storage import revenue_data

    app_id = _seed(session)
    session.add(Org(org_id="c", application_id=app_id, name="Cents"))
    session.flush()
    cents = ["19.99", "29.99", "0.01", "0.07", "1234.56", "0.10", "0.20"]
    session.add_all([
        *[Subscription(subscription_id=f"c{i}", org_id="c", mrr=v, started_at=dt.date(2026, 1, 1))
          for i, v in enumerate(cents)],
        Subscription(subscription_id="c-past-due", org_id="c", mrr="33.33", started_at=DAY, status="past_due"),
        Subscription(subscription_id="c-canceled-open", org_id="c", mrr="5.55", started_at=dt.date(2026, 1, 1),
                     status="canceled"),
        Subscription(subscription_id="c-ends-today", org_id="b", mrr="7.77", started_at=dt.date(2026, 1, 1),
                     ended_at=DAY),
        Subscription(subscription_id="c-trial", org_id="b", mrr="8.88", started_at=dt.date(2026, 1, 1),
                     status="trialing"),
    ])
    session.commit()
    frame = queries.org_frame(session, app_id, AS_OF, Config())
    expected = rev.mrr_by_org(revenue_data.subscriptions(session, app_id), DAY).reindex(frame.index, fill_value=0.0)
    assert frame["mrr"].tolist() == expected.tolist()
    assert frame.loc["c", "mrr"] == 1318.25  # the seven and the past-due one; not the open-ended cancel


def test_the_previous_scans_scores_read_the_same_from_their_own_column_or_from_the_components(session_factory):
    """A snapshot keeps its component scores twice: in ``components`` and, since migration
    0009, alone in ``component_scores``, which the next scan reads. Snapshots written before
    (NULL there) are read from ``components``, with the same numbers."""
    import pandas as pd
    from sqlalchemy import select
    from sqlalchemy import text as sql_text

    from domain.config import Config
    from domain.vocabulary import HEALTH_COMPONENTS
    from services.scanning import run_scan
    from storage.models import HealthSnapshot
    from storage.queries import previous_snapshots

    with session_factory() as session, session.begin():
        app_id = _seed(session)
    run_scan(session_factory, Config(), AS_OF)
    next_day = AS_OF.date() + dt.timedelta(days=1)
    with session_factory() as session:
        stored = session.execute(select(HealthSnapshot.components, HealthSnapshot.component_scores)).all()
        from_column = previous_snapshots(session, app_id, next_day).sort_values("org_id", ignore_index=True)
    assert stored and all(scores == {c: parts[c]["score"] for c in HEALTH_COMPONENTS} for parts, scores in stored)
    assert from_column[list(HEALTH_COMPONENTS)].notna().to_numpy().sum() > len(from_column)  # real numbers
    with session_factory() as session, session.begin():
        session.execute(sql_text("UPDATE health_snapshots SET component_scores = NULL"))
    with session_factory() as session:
        from_components = previous_snapshots(session, app_id, next_day).sort_values("org_id", ignore_index=True)
    pd.testing.assert_frame_equal(from_components, from_column)


def test_an_aggregate_read_as_csv_is_the_frame_the_drivers_rows_make(pg_schema_url) -> None:
    """On PostgreSQL the scan's aggregates come as CSV parsed by pyarrow: the frame must be
    the one the driver's rows make, value for value and dtype for dtype: NULLs among ints
    (floats then), NaN and infinities, text that looks like NULL ("NA", "null", empty) or
    holds commas, quotes and new lines, instants with and without microseconds."""
    import pandas as pd
    from sqlalchemy import BigInteger, Column, Date, Float, Integer, MetaData, String, Table, insert, literal, select
    from sqlalchemy.orm import Session

    from storage.db import make_engine
    from storage.models import UTCDateTime

    table = Table("frame_rows", MetaData(), Column("org_id", String(50)), Column("n", Integer),
                  Column("big", BigInteger), Column("ratio", Float), Column("label", String(50)),
                  Column("seen", UTCDateTime()), Column("day", Date))
    rows = [
        dict(org_id="a", n=1, big=2**62, ratio=0.1, label="NA", seen=dt.datetime(2025, 6, 1, 6, tzinfo=UTC)),
        dict(org_id="b, \"quoted\"\nline", n=None, big=-5, ratio=float("nan"), label="",
             seen=dt.datetime(2025, 6, 1, 6, 0, 0, 123456, tzinfo=UTC)),
        dict(org_id="c", n=3, big=0, ratio=float("inf"), label=None, seen=None),
        dict(org_id="d", n=4, big=7, ratio=None, label="null", seen=dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ]
    columns = ["org_id", "n", "big", "ratio", "label", "seen"]
    stmt = select(table.c.org_id, table.c.n, table.c.big, table.c.ratio, table.c.label, table.c.seen).where(
        table.c.seen.is_(None) | (table.c.seen <= dt.datetime(2030, 1, 1, tzinfo=UTC))).order_by(table.c.org_id)
    engine = make_engine(pg_schema_url)
    try:
        with Session(engine) as session, session.begin():
            table.create(session.connection())
            session.execute(insert(table), rows)
            assert queries._arrow_schema(stmt, columns) is not None  # the CSV path is the one taken
            as_csv = queries._frame(session, stmt, columns)
            as_rows = queries.rows_frame(session.connection().execute(stmt).all(), columns).set_index("org_id")
            empty = queries._frame(session, stmt.where(table.c.n > 100), columns)
            dated = select(table.c.org_id, table.c.day, literal(1))
            assert queries._arrow_schema(dated, ["org_id", "day", "one"]) is None  # dates: row by row
            session.rollback()
    finally:
        engine.dispose()
    pd.testing.assert_frame_equal(as_csv, as_rows)
    labels = as_csv["label"].tolist()
    assert labels[:2] == ["NA", ""] and pd.isna(labels[2]) and labels[3] == "null"
    assert as_csv.loc["a", "big"] == 2**62 and math.isnan(as_csv["n"].iloc[1])
    assert as_csv["seen"].iloc[1] == pd.Timestamp("2025-06-01 06:00:00.123456", tz="UTC")
    assert empty.empty and list(empty.columns) == columns[1:]
