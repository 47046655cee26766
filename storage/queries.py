"""The heavy aggregation of a scan, done by the database.

Each function returns one row per org (a DataFrame indexed by org_id) built from a single
GROUP BY over the daily rollups; ``org_frame`` joins them into the frame described by
``domain.org_frame.ORG_COLUMNS``. Only rows up to the scan's ``as_of`` are read, so history
can be replayed. Rollups are daily: the day that contains ``as_of`` counts as a whole day.

The rollups key their rows by numbers (``org_key``, ``user_key``, ``feature_key``), not
names: the aggregates filter and group by the numbers, and the names (org ids, user ids) are
joined from ``usage_orgs`` and ``usage_users`` to the grouped rows afterwards, one per org or
user, never to the millions of rollup rows scanned.

Everything here is SQLAlchemy Core so the same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import (BigInteger, Float, Integer, Select, String, and_, case, cast, column, func, literal, or_,
                        select, true)
from sqlalchemy.orm import Session, aliased

from domain.config import Config
from domain.vocabulary import HEALTH_COMPONENTS
from domain.org_frame import ORG_COLUMNS, USAGE_WEEKS, WEEK_COLUMNS
from storage import staging
from storage.side_reads import Submit, done_now
from storage.models import (
    HealthSnapshot,
    Org,
    Subscription,
    SupportTicket,
    SurveyResponse,
    UsageDaily,
    UsageDailyFeature,
    UsageDailyUser,
    UsageFeature,
    UsageOrg,
    UsageUser,
    UTCDateTime,
)

DAY = dt.timedelta(days=1)


def rows_frame(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of result rows, built column by column.

    pandas' record path inspects every Row object on its way in, ten times the cost of
    transposing the rows once with zip; the dtypes come out the same.
    """
    if not rows:
        return pd.DataFrame.from_records([], columns=list(columns))
    return pd.DataFrame(dict(zip(columns, zip(*rows))))


def _frame(session: Session, stmt, columns: Sequence[str]) -> pd.DataFrame:
    """The rows of a Core statement as a frame indexed by org_id. Run on the session's
    connection: the ORM's result layer adds nothing to plain column rows but its cost.

    On PostgreSQL, a statement whose columns are all numbers, text or timestamps comes as
    CSV that pyarrow parses (``storage.staging.stored_arrow``), with no Python object per
    value: the scan's aggregates are 100k rows of up to 20 columns, 1.3 s of the client's
    time through the driver's rows. The frame is the same, dtypes included."""
    conn = session.connection()
    schema = _arrow_schema(stmt, columns) if conn.dialect.name == "postgresql" else None
    if schema is None:
        return rows_frame(conn.execute(stmt).all(), columns).set_index("org_id")
    table = staging.stored_arrow(conn, stmt, schema)
    if table.num_rows == 0:
        return rows_frame([], columns).set_index("org_id")
    frame = table.to_pandas()
    for name, field in zip(columns, schema):
        if pa.types.is_timestamp(field.type):
            frame[name] = frame[name].dt.tz_localize("UTC")
    return frame.set_index("org_id")


def _arrow_schema(stmt: Select, columns: Sequence[str]) -> pa.Schema | None:
    """The Arrow types of ``stmt``'s columns as ``_frame`` names them, or None when one of
    them has no exact counterpart here (money as Decimal, dates, booleans: read row by row)."""
    fields = []
    for name, col in zip(columns, stmt.selected_columns):
        kind = col.type
        if isinstance(kind, UTCDateTime):
            arrow = pa.timestamp("us")
        elif isinstance(kind, (Integer, BigInteger)):
            arrow = pa.int64()
        elif isinstance(kind, Float) and not getattr(kind, "asdecimal", False):
            arrow = pa.float64()
        elif isinstance(kind, String):
            arrow = pa.string()
        else:
            return None
        fields.append(pa.field(name, arrow))
    return pa.schema(fields)


def _int_sum(expr):
    """SUM of a BIGINT expression as a BIGINT: PostgreSQL sums bigints to NUMERIC, which the
    driver hands over as one Decimal per value; the sums here are whole numbers anyway."""
    return cast(func.sum(expr), BigInteger)


def _app_orgs(application_id: int):
    return select(Org.org_id).where(Org.application_id == application_id)


def app_org_keys(application_id: int) -> Select:
    """The rollup numbers of the application's orgs, to filter rollup rows by: the rollups are
    keyed by ``org_key``, the application's orgs listed by org id (``usage_orgs`` pairs them)."""
    return (select(UsageOrg.org_key).join(Org, Org.org_id == UsageOrg.org_id)
            .where(Org.application_id == application_id))


def org_key_of(org_id: str):
    """One org's rollup number, as a scalar subquery: NULL, which matches no rollup row, for an
    org no usage was ever imported for."""
    return select(UsageOrg.org_key).where(UsageOrg.org_id == org_id).scalar_subquery()


def named_by_org(grouped: Select) -> Select:
    """``grouped``, an aggregate per org whose first column is ``org_key``, with the org's id in
    its place: the ids are joined to the grouped rows, one per org, after the rollup rows were
    grouped by their numbers."""
    g = grouped.subquery("grouped")
    key, *values = g.c
    return select(UsageOrg.org_id, *values).join_from(g, UsageOrg, UsageOrg.org_key == key)


def mrr_condition(day: dt.date):
    """Subscriptions that count towards MRR on `day`.

    A subscription counts while started_at <= day < ended_at. Trials never count. A
    canceled subscription counts only through its recorded ended_at: without one there is no
    period in which it was paid, so it counts nowhere.
    """
    return and_(
        Subscription.started_at <= day,
        or_(Subscription.ended_at.is_(None), Subscription.ended_at > day),
        Subscription.status != "trialing",
        or_(Subscription.status != "canceled", Subscription.ended_at.is_not(None)),
    )


def org_attributes(session: Session, application_id: int) -> pd.DataFrame:
    cols = [
        Org.org_id, Org.name, Org.domain, Org.owner, Org.created_at, Org.source, Org.plan,
        Org.seats, Org.renewal_date, Org.icp_fit, Org.strategic, Org.relationship_score,
    ]
    names = ["org_id", "name", "domain", "owner", "created_at", "source", "plan", "seats",
             "renewal_date", "icp_fit", "strategic", "relationship"]
    stmt = select(*cols).where(Org.application_id == application_id).order_by(Org.org_id)
    return _frame(session, stmt, names)


def mrr_by_org(session: Session, application_id: int, day: dt.date) -> pd.DataFrame:
    """MRR on ``day`` per paying org, and the part of it whose subscriptions are past_due."""
    s = Subscription
    stmt = (
        select(s.org_id, func.sum(s.mrr), func.sum(case((s.status == "past_due", s.mrr), else_=0)))
        .where(s.org_id.in_(_app_orgs(application_id)), mrr_condition(day))
        .group_by(s.org_id)
    )
    frame = _frame(session, stmt, ["org_id", "mrr", "past_due_mrr"])
    return frame.astype(float)


def usage_windows(session: Session, application_id: int, as_of_day: dt.date, cfg: Config,
                  as_of: dt.datetime | None = None, submit: Submit | None = None) -> pd.DataFrame:
    """Per org: the recent and previous windows, the activity window, and the events of each
    of the last ``USAGE_WEEKS`` weeks (``events_week_k``: the 7 days ending k weeks before
    ``as_of_day``), all from one GROUP BY over the daily rollups (``daily_windows``); then
    active users and champions (``users_and_champions``) and features (``feature_counts``)
    from their own rollups, through ``submit`` (``storage.side_reads``) when given: the three
    aggregates are independent, and the database can compute them side by side.

    With ``as_of``, also ``last_seen`` from the same GROUP BY: the latest event time at or
    before ``as_of`` among these days (NaN for an org with none in them: its last event, if
    any, is older than the windows, see ``last_seen_by_org``)."""
    submit = submit or (lambda fn: done_now(fn, session))
    users = submit(lambda side: users_and_champions(side, application_id, as_of_day, cfg))
    features = submit(lambda side: feature_counts(side, application_id, as_of_day, cfg))
    frame = daily_windows(session, application_id, as_of_day, cfg, as_of)
    return frame.join(users.result(), how="outer").join(features.result(), how="outer")


def daily_windows(session: Session, application_id: int, as_of_day: dt.date, cfg: Config,
                  as_of: dt.datetime | None = None) -> pd.DataFrame:
    """The daily rollups' part of ``usage_windows``: events per window and week, active days,
    and ``last_seen`` with ``as_of``."""
    recent_days = cfg.scan.recent_window_days
    recent_start = as_of_day - (recent_days - 1) * DAY
    prev_start = recent_start - recent_days * DAY
    act_start = as_of_day - (cfg.scan.activity_window_days - 1) * DAY
    weeks_start = as_of_day - (USAGE_WEEKS * 7 - 1) * DAY
    lower = min(prev_start, act_start, weeks_start)
    d = UsageDaily
    in_recent = d.day >= recent_start
    in_prev_window = and_(d.day >= prev_start, d.day < recent_start)
    # Events since the start of each week (one comparison a row and week); each week's own
    # events are the differences, taken below.
    since_week = [_int_sum(case((d.day > as_of_day - (7 * k + 7) * DAY, d.events), else_=0))
                  for k in range(USAGE_WEEKS - 1)]
    stmt = named_by_org(
        select(
            d.org_key,
            _int_sum(case((in_recent, d.events), else_=0)),
            _int_sum(case((in_prev_window, d.events), else_=0)),
            func.sum(case((and_(in_recent, d.events > 0), 1), else_=0)),
            func.sum(case((and_(in_prev_window, d.events > 0), 1), else_=0)),
            func.sum(case((and_(d.day >= act_start, d.events > 0), 1), else_=0)),
            *since_week,
            _int_sum(case((d.day >= weeks_start, d.events), else_=0)),
            *([func.max(case((d.last_event_at <= as_of, d.last_event_at)))] if as_of is not None else []),
        )
        .where(d.org_key.in_(app_org_keys(application_id)), d.day >= lower, d.day <= as_of_day)
        .group_by(d.org_key)
    )
    since = [f"_since_{k}" for k in range(USAGE_WEEKS)]
    frame = _frame(session, stmt, ["org_id", "recent_events", "previous_events", "recent_active_days",
                                   "previous_active_days", "activity_active_days", *since,
                                   *(["last_seen"] if as_of is not None else [])])
    cumulative = frame[since].apply(pd.to_numeric).fillna(0).to_numpy()
    weekly = np.diff(cumulative, axis=1, prepend=0)  # week k = events since week k's start − since week k−1's
    frame = frame.drop(columns=since).assign(**{col: weekly[:, k] for k, col in enumerate(WEEK_COLUMNS)})
    return frame


def feature_counts(session: Session, application_id: int, as_of_day: dt.date, cfg: Config) -> pd.DataFrame:
    """Per org: distinct features used in the recent and previous windows, and key features
    in the recent one (every feature is key when none are configured). Features are counted by
    their numbers, one per name; the key features' numbers are looked up first, so each row
    compares an integer with a few constants (a key feature never imported has no number and
    matches nothing, as its name matched nothing)."""
    recent_start = as_of_day - (cfg.scan.recent_window_days - 1) * DAY
    prev_start = recent_start - cfg.scan.recent_window_days * DAY
    f = UsageDailyFeature
    key_features = list(cfg.health.key_features)
    counts = [
        func.count(func.distinct(case((f.day >= recent_start, f.feature_key)))),
        func.count(func.distinct(case((f.day < recent_start, f.feature_key)))),
    ]
    if key_features:  # without key features every feature is key: the first count again, not recounted
        keys = feature_keys(session, key_features)
        counts.append(func.count(func.distinct(case((and_(f.day >= recent_start, f.feature_key.in_(keys)),
                                                      f.feature_key)))))
    feats = named_by_org(
        select(f.org_key, *counts)
        .where(f.org_key.in_(app_org_keys(application_id)), f.day >= prev_start, f.day <= as_of_day)
        .group_by(f.org_key)
    )
    columns = ["org_id", "recent_features", "previous_features", "recent_key_features"]
    feats_frame = _frame(session, feats, columns[: len(counts) + 1])
    if not key_features:
        feats_frame["recent_key_features"] = feats_frame["recent_features"]
    return feats_frame


def feature_keys(session: Session, features: Sequence[str]) -> list[int]:
    """The rollup numbers of these feature names, those that have one."""
    return list(session.scalars(select(UsageFeature.feature_key).where(UsageFeature.feature.in_(list(features)))))


def users_and_champions(session: Session, application_id: int, as_of_day: dt.date, cfg: Config) -> pd.DataFrame:
    """Per org, from one aggregate over the per-user rollups: active users in the recent and
    previous windows; how many champions it has (its ``signals.champion_top_users`` most
    active users of the previous window, each with at least ``signals.champion_min_share`` of
    that window's events); how many of them have no event in the recent window; and their
    events in the previous window.

    The rollup rows are grouped by the users' numbers; their user ids, which break ties in
    the ranking, are joined to the grouped rows (one per user) before it."""
    recent_start = as_of_day - (cfg.scan.recent_window_days - 1) * DAY
    prev_start = recent_start - cfg.scan.recent_window_days * DAY
    u = UsageDailyUser
    per_key = (
        select(
            u.org_key.label("org_key"),
            u.user_key.label("user_key"),
            func.sum(case((u.day < recent_start, u.events), else_=0)).label("previous"),
            func.sum(case((u.day >= recent_start, u.events), else_=0)).label("recent"),
            func.max(case((u.day >= recent_start, 1), else_=0)).label("in_recent"),
            func.max(case((u.day < recent_start, 1), else_=0)).label("in_previous"),
        )
        .where(u.org_key.in_(app_org_keys(application_id)), u.day >= prev_start, u.day <= as_of_day)
        .group_by(u.org_key, u.user_key)
        .subquery("per_key")
    )
    k = per_key.c
    per_user = (
        select(k.org_key, UsageUser.user_id, k.previous, k.recent, k.in_recent, k.in_previous)
        .join_from(per_key, UsageUser, UsageUser.user_key == k.user_key)
        .subquery("per_user")
    )
    ranked = select(
        per_user.c.org_key,
        per_user.c.previous,
        per_user.c.recent,
        per_user.c.in_recent,
        per_user.c.in_previous,
        func.row_number().over(partition_by=per_user.c.org_key,
                               order_by=(per_user.c.previous.desc(), per_user.c.user_id)).label("rank"),
        func.sum(per_user.c.previous).over(partition_by=per_user.c.org_key).label("org_previous"),
    ).subquery("ranked")
    r = ranked.c
    champion = and_(r.rank <= cfg.signals.champion_top_users, r.previous > 0,
                    r.previous >= literal(float(cfg.signals.champion_min_share)) * r.org_previous)
    silent = and_(champion, r.recent == 0)
    stmt = named_by_org(select(
        r.org_key,
        func.sum(r.in_recent),
        func.sum(r.in_previous),
        func.sum(case((champion, 1), else_=0)),
        func.sum(case((silent, 1), else_=0)),
        _int_sum(case((silent, r.previous), else_=0)),
    ).group_by(r.org_key))
    return _frame(session, stmt, ["org_id", "recent_active_users", "previous_active_users", "champions",
                                  "champions_silent", "champions_silent_previous_events"])


def champion_users(session: Session, org_id: str, as_of_day: dt.date, cfg: Config) -> list[tuple[str, int, int]]:
    """One org's champions as (user_id, previous events, recent events), most active first:
    who the drivers name when a champion has gone quiet. Grouped by the users' numbers, their
    ids joined to the grouped rows for the ties and the answer."""
    recent_start = as_of_day - (cfg.scan.recent_window_days - 1) * DAY
    prev_start = recent_start - cfg.scan.recent_window_days * DAY
    u = UsageDailyUser
    per_user = (
        select(
            u.user_key.label("user_key"),
            func.sum(case((u.day < recent_start, u.events), else_=0)).label("previous"),
            func.sum(case((u.day >= recent_start, u.events), else_=0)).label("recent"),
        )
        .where(u.org_key == org_key_of(org_id), u.day >= prev_start, u.day <= as_of_day)
        .group_by(u.user_key)
        .subquery("per_user")
    )
    p = per_user.c
    rows = session.execute(
        select(UsageUser.user_id, p.previous, p.recent)
        .join_from(per_user, UsageUser, UsageUser.user_key == p.user_key)
        .order_by(p.previous.desc(), UsageUser.user_id)
    ).all()
    total = sum(int(p or 0) for _, p, _ in rows)
    top = rows[: cfg.signals.champion_top_users]
    return [(str(user), int(p), int(r)) for user, p, r in top
            if p and int(p) >= cfg.signals.champion_min_share * total]


def last_seen_by_org(session: Session, application_id: int, as_of: dt.datetime,
                     org_ids: Sequence[str] | None = None) -> pd.Series:
    """Latest event time at or before ``as_of`` per org (NaT when never seen).

    A rollup row's ``last_event_at`` lies within its own day, so the latest event is the one
    of the latest day that qualifies: found per org through the (org_key, day) primary key,
    newest first, instead of aggregating the org's whole usage history. A day whose last
    event is after ``as_of`` (the scan's own day) is skipped: the rollup does not say when
    that day's earlier events were. ``org_ids``: only these orgs (every org of the
    application by default).
    """
    d = UsageDaily
    latest = (
        select(d.last_event_at)
        .where(d.org_key == UsageOrg.org_key, d.day <= as_of.date(), d.last_event_at <= as_of)
        .order_by(d.day.desc())
        .limit(1)
        .scalar_subquery()
    )
    # An org without a number has no usage: its key is NULL and its last event too.
    stmt = (select(Org.org_id, latest).outerjoin(UsageOrg, UsageOrg.org_id == Org.org_id)
            .where(Org.application_id == application_id))
    columns = ["org_id", "last_seen"]
    if org_ids is None:
        frame = _frame(session, stmt, columns)
    else:
        ids = list(org_ids)
        frames = [_frame(session, stmt.where(Org.org_id.in_(ids[i:i + _ID_CHUNK])), columns)
                  for i in range(0, len(ids), _ID_CHUNK)]
        frame = pd.concat(frames) if frames else rows_frame([], columns).set_index("org_id")
    return pd.to_datetime(frame["last_seen"], utc=True)


# Orgs named per statement in an IN list (well under SQLite's limit on bound values).
_ID_CHUNK = 5000
# Up to this many orgs without a recent event, their last event is looked up by name;
# beyond it, for every org (one index probe each either way).
_FEW_UNSEEN = 20000


def open_tickets(session: Session, application_id: int, as_of: dt.datetime, cfg: Config) -> pd.DataFrame:
    t = SupportTicket
    penalty = case(
        *[(t.severity == sev, literal(float(points))) for sev, points in cfg.health.severity_penalty.items()],
        else_=literal(0.0),
    )
    stmt = (
        select(
            t.org_id,
            func.count(),
            func.sum(case((t.severity == "p1", 1), else_=0)),
            func.sum(penalty),
        )
        .where(
            t.org_id.in_(_app_orgs(application_id)),
            t.opened_at <= as_of,
            or_(t.closed_at.is_(None), t.closed_at > as_of),
        )
        .group_by(t.org_id)
    )
    return _frame(session, stmt, ["org_id", "open_tickets", "open_tickets_p1", "support_penalty"])


def tickets_available(session: Session, application_id: int, as_of: dt.datetime) -> bool:
    stmt = select(func.count()).select_from(SupportTicket).where(
        SupportTicket.org_id.in_(_app_orgs(application_id)), SupportTicket.opened_at <= as_of
    )
    return bool(session.scalar(stmt))


def survey_nps(session: Session, application_id: int, as_of: dt.datetime, cfg: Config) -> pd.DataFrame:
    """NPS from each respondent's latest answer in the lookback; anonymous answers count alone."""
    s = SurveyResponse
    since = as_of - dt.timedelta(days=cfg.scan.sentiment_lookback_days)
    respondent = case((s.user_id == "", cast(s.id, String)), else_=s.user_id)
    ranked = (
        select(
            s.org_id.label("org_id"),
            s.score.label("score"),
            func.row_number()
            .over(partition_by=(s.org_id, respondent), order_by=(s.responded_at.desc(), s.id.desc()))
            .label("rn"),
        )
        .where(s.org_id.in_(_app_orgs(application_id)), s.responded_at <= as_of, s.responded_at > since)
        .subquery()
    )
    stmt = (
        select(
            ranked.c.org_id,
            func.count(),
            func.sum(case((ranked.c.score >= 9, 1), else_=0)),
            func.sum(case((ranked.c.score <= 6, 1), else_=0)),
        )
        .where(ranked.c.rn == 1)
        .group_by(ranked.c.org_id)
    )
    frame = _frame(session, stmt, ["org_id", "survey_responses", "promoters", "detractors"])
    n = frame["survey_responses"].astype(float)
    frame["nps"] = 100.0 * (frame["promoters"].astype(float) - frame["detractors"].astype(float)) / n
    return frame[["survey_responses", "nps"]]


def key_feature_total(session: Session, application_id: int, as_of: dt.datetime, cfg: Config) -> int:
    if cfg.health.key_features:
        return len(set(cfg.health.key_features))
    f = UsageDailyFeature
    # COUNT(*) over a DISTINCT subquery rather than COUNT(DISTINCT …): the same number, which
    # PostgreSQL finds by hashing the features instead of sorting every feature row (a third of
    # the time at 10k orgs); SQLite plans both alike. Features by number: one per name.
    features = (select(f.feature_key)
                .where(f.org_key.in_(app_org_keys(application_id)), f.day <= as_of.date()).distinct())
    return int(session.scalar(select(func.count()).select_from(features.subquery())) or 0)


_INT_COLUMNS = (
    "recent_events", "previous_events", "recent_active_users", "previous_active_users",
    "recent_active_days", "previous_active_days", "recent_features", "previous_features",
    "recent_key_features", "activity_active_days", "open_tickets", "open_tickets_p1", "survey_responses",
    "champions", "champions_silent", "champions_silent_previous_events", *WEEK_COLUMNS,
)
_FLOAT_COLUMNS = ("seats", "icp_fit", "strategic", "relationship", "mrr", "past_due_mrr", "support_penalty", "nps")


def org_frame(session: Session, application_id: int, as_of: dt.datetime, cfg: Config,
              submit: Submit | None = None) -> pd.DataFrame:
    """One row per org of the application with every column of ORG_COLUMNS (the usage
    aggregates through ``submit``, see ``usage_windows``)."""
    as_of_day = as_of.date()
    windows = usage_windows(session, application_id, as_of_day, cfg, as_of=as_of, submit=submit)
    frame = org_attributes(session, application_id)
    frame = frame.join(mrr_by_org(session, application_id, as_of_day))
    frame = frame.join(windows.drop(columns="last_seen"))
    # Last seen from the windows' own GROUP BY; only orgs with no event in them are looked
    # up one by one (their latest day with an event, through the rollups' primary key).
    last_seen = pd.to_datetime(windows["last_seen"], utc=True).reindex(frame.index)
    unseen = frame.index[last_seen.isna().to_numpy()]
    if len(unseen):
        older = last_seen_by_org(session, application_id, as_of,
                                 org_ids=unseen.tolist() if len(unseen) <= _FEW_UNSEEN else None)
        last_seen = last_seen.fillna(older.reindex(frame.index))
    frame["last_seen"] = last_seen
    frame = frame.join(open_tickets(session, application_id, as_of, cfg))
    frame = frame.join(survey_nps(session, application_id, as_of, cfg))
    for col in _INT_COLUMNS:
        frame[col] = frame[col].fillna(0).astype("int64")
    for col in _FLOAT_COLUMNS:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["mrr"] = frame["mrr"].fillna(0.0)
    frame["past_due_mrr"] = frame["past_due_mrr"].fillna(0.0)
    frame["support_penalty"] = frame["support_penalty"].fillna(0.0)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["renewal_date"] = pd.to_datetime(frame["renewal_date"], utc=True)
    frame["last_seen"] = pd.to_datetime(frame["last_seen"], utc=True)
    return frame[list(ORG_COLUMNS)]


def latest_snapshot_day(org_id, *, on_or_before: dt.date | None = None, before: dt.date | None = None):
    """The day of an org's latest health snapshot, as a scalar subquery correlated on ``org_id``:
    one probe of the (org_id, day) unique index."""
    x = aliased(HealthSnapshot)
    stmt = select(func.max(x.day)).where(x.org_id == org_id)
    if on_or_before is not None:
        stmt = stmt.where(x.day <= on_or_before)
    if before is not None:
        stmt = stmt.where(x.day < before)
    return stmt.scalar_subquery()


def latest_snapshot_days(application_id: int, *, on_or_before: dt.date | None = None,
                         before: dt.date | None = None, org_ids: Sequence[str] | None = None):
    """(org_id, day) of each org's latest health snapshot, as a subquery to join the snapshots on.

    Driven from the orgs, two index probes per org find the row, so reading the latest
    snapshots costs the same after a year of daily scans as after one, where a GROUP BY over
    the snapshots reads the history. ``OFFSET 0`` keeps PostgreSQL from merging this into
    the outer query: merged, it hashed every snapshot ever taken and ran the probe once per
    snapshot (4.5 s instead of 1.2 s for 100k orgs with a month of history). SQLite plans
    the same either way.
    """
    day = latest_snapshot_day(Org.org_id, on_or_before=on_or_before, before=before)
    stmt = select(Org.org_id.label("org_id"), day.label("day")).where(Org.application_id == application_id)
    if org_ids is not None:
        stmt = stmt.where(Org.org_id.in_(list(org_ids)))
    return stmt.offset(0).subquery("latest_snapshot")


def component_field(name: str, key: str):
    """One number of a snapshot's ``components`` JSON (``{name: {key: …}}``), extracted by the
    database (JSON_EXTRACT on SQLite, ``#>>`` on PostgreSQL) as a float, NULL when absent."""
    return HealthSnapshot.components[(name, key)].as_float()


def previous_snapshots(session: Session, application_id: int, before_day: dt.date) -> pd.DataFrame:
    """Each org's latest health snapshot strictly before `before_day` (the previous scan's view):
    ``score`` and one column of component scores per ``HEALTH_COMPONENTS``."""
    h = HealthSnapshot
    latest = latest_snapshot_days(application_id, before=before_day)
    rows = latest.join(h, and_(h.org_id == latest.c.org_id, h.day == latest.c.day))
    # The scores come from ``component_scores``, a small object; snapshots written before it
    # existed (NULL there) from ``components``, about 1 KB of JSON each.
    old = h.component_scores.is_(None)
    if session.get_bind().dialect.name == "postgresql":
        # A json column is text: json_to_record parses the small object once, straight into
        # one float column per component.
        parts = func.json_to_record(h.component_scores).table_valued(
            *[column(c, Float) for c in HEALTH_COMPONENTS]).render_derived(name="parts", with_types=True)
        scores = [case((old, component_field(c, "score")), else_=parts.c[c]).label(c) for c in HEALTH_COMPONENTS]
        rows = rows.outerjoin(parts, true())
    else:
        scores = [case((old, component_field(c, "score")), else_=h.component_scores[c].as_float()).label(c)
                  for c in HEALTH_COMPONENTS]
    stmt = select(latest.c.org_id, h.score, *scores).select_from(rows)
    return _frame(session, stmt, ["org_id", "score", *HEALTH_COMPONENTS])


def health_on_or_before(session: Session, application_id: int, day: dt.date) -> pd.Series:
    """Each org's health score of its latest snapshot on or before ``day`` (index org_id)."""
    h = HealthSnapshot
    latest = latest_snapshot_days(application_id, on_or_before=day)
    stmt = select(latest.c.org_id, h.score).join(h, and_(h.org_id == latest.c.org_id, h.day == latest.c.day))
    frame = _frame(session, stmt, ["org_id", "score"])
    return pd.to_numeric(frame["score"], errors="coerce").astype(float)


def weekly_usage(session: Session, org_id: str, end_day: dt.date, weeks: int = 12) -> list[int]:
    """Events per 7-day bucket ending at end_day, oldest first (for the sparkline)."""
    start = end_day - (weeks * 7 - 1) * DAY
    rows = session.execute(
        select(UsageDaily.day, UsageDaily.events).where(
            UsageDaily.org_key == org_key_of(org_id), UsageDaily.day >= start, UsageDaily.day <= end_day
        )
    ).all()
    buckets = np.zeros(weeks, dtype=np.int64)
    for day, events in rows:  # at most weeks*7 rows of one org
        buckets[(day - start).days // 7] += int(events)
    return [int(x) for x in buckets]
