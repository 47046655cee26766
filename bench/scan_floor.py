"""The floor of a scan: one SQL aggregate query yielding every per-org number a scan reads from
the database and stores (the snapshot's ``usage`` counts, MRR, last seen), plus the other
per-org inputs it aggregates (weekly events, past-due MRR, support penalty, champions' previous
events, previous features) and the key-feature total. Nothing else: no scoring, no writes.

A scan can't be faster than the database doing this work and handing the rows over, so the
benchmark times the scan against it, in pairs, and reports the ratio. ``check_floor`` compares
the query's values with what the scan stored, org by org.

The rollups are keyed by numbers, and the floor reads them the way the scan does: filtered and
grouped by the numbers, the names joined to the grouped rows (the user ids, which break the
champions' ties, to one row per user; the org ids to one row per org).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

from domain.config import Config
from domain.org_frame import USAGE_WEEKS
from storage.models import UTCDateTime

DAY = dt.timedelta(days=1)


def floor_sql(cfg: Config) -> str:
    penalty = " ".join(f"WHEN '{sev}' THEN {float(points)!r}" for sev, points in cfg.health.severity_penalty.items())
    keys = ", ".join(f"'{k}'" for k in cfg.health.key_features)
    key_count = ("COUNT(DISTINCT CASE WHEN f.day >= :recent_start AND f.feature_key IN "
                 f"(SELECT feature_key FROM usage_features WHERE feature IN ({keys})) THEN f.feature_key END)"
                 if keys else "COUNT(DISTINCT CASE WHEN f.day >= :recent_start THEN f.feature_key END)")
    key_total = (f"{len(set(cfg.health.key_features))}" if keys else
                 "(SELECT COUNT(DISTINCT f2.feature_key) FROM usage_daily_features f2 "
                 "JOIN app_keys a2 ON a2.org_key = f2.org_key WHERE f2.day <= :as_of_day)")
    since_week = ",\n".join(
        f"SUM(CASE WHEN d.day > :week_{k} THEN d.events ELSE 0 END) AS since_{k}" for k in range(USAGE_WEEKS - 1))
    return f"""
WITH app_orgs AS (SELECT org_id FROM orgs WHERE application_id = :app),
app_keys AS (SELECT k.org_key FROM usage_orgs k JOIN orgs o ON o.org_id = k.org_id WHERE o.application_id = :app),
usage AS (
  SELECT d.org_key,
    SUM(CASE WHEN d.day >= :recent_start THEN d.events ELSE 0 END) AS recent_events,
    SUM(CASE WHEN d.day >= :prev_start AND d.day < :recent_start THEN d.events ELSE 0 END) AS previous_events,
    SUM(CASE WHEN d.day >= :recent_start AND d.events > 0 THEN 1 ELSE 0 END) AS recent_active_days,
    SUM(CASE WHEN d.day >= :prev_start AND d.day < :recent_start AND d.events > 0 THEN 1 ELSE 0 END)
      AS previous_active_days,
    SUM(CASE WHEN d.day >= :act_start AND d.events > 0 THEN 1 ELSE 0 END) AS activity_active_days,
    {since_week},
    SUM(CASE WHEN d.day >= :weeks_start THEN d.events ELSE 0 END) AS since_all,
    MAX(CASE WHEN d.last_event_at <= :as_of THEN d.last_event_at END) AS last_seen
  FROM usage_daily d JOIN app_keys a ON a.org_key = d.org_key
  WHERE d.day <= :as_of_day
  GROUP BY d.org_key
),
per_key AS (
  SELECT u.org_key, u.user_key,
    SUM(CASE WHEN u.day < :recent_start THEN u.events ELSE 0 END) AS previous,
    SUM(CASE WHEN u.day >= :recent_start THEN u.events ELSE 0 END) AS recent,
    MAX(CASE WHEN u.day >= :recent_start THEN 1 ELSE 0 END) AS in_recent,
    MAX(CASE WHEN u.day < :recent_start THEN 1 ELSE 0 END) AS in_previous
  FROM usage_daily_users u JOIN app_keys a ON a.org_key = u.org_key
  WHERE u.day >= :prev_start AND u.day <= :as_of_day
  GROUP BY u.org_key, u.user_key
),
ranked AS (
  SELECT p.org_key, p.previous, p.recent, p.in_recent, p.in_previous,
    ROW_NUMBER() OVER (PARTITION BY p.org_key ORDER BY p.previous DESC, n.user_id) AS rnk,
    SUM(p.previous) OVER (PARTITION BY p.org_key) AS org_previous
  FROM per_key p JOIN usage_users n ON n.user_key = p.user_key
),
users AS (
  SELECT org_key, SUM(in_recent) AS recent_active_users, SUM(in_previous) AS previous_active_users,
    SUM(CASE WHEN rnk <= :top AND previous > 0 AND previous >= :share * org_previous THEN 1 ELSE 0 END) AS champions,
    SUM(CASE WHEN rnk <= :top AND previous > 0 AND previous >= :share * org_previous AND recent = 0
        THEN 1 ELSE 0 END) AS champions_silent,
    SUM(CASE WHEN rnk <= :top AND previous > 0 AND previous >= :share * org_previous AND recent = 0
        THEN previous ELSE 0 END) AS champions_silent_previous_events
  FROM ranked GROUP BY org_key
),
feats AS (
  SELECT f.org_key,
    COUNT(DISTINCT CASE WHEN f.day >= :recent_start THEN f.feature_key END) AS recent_features,
    COUNT(DISTINCT CASE WHEN f.day < :recent_start THEN f.feature_key END) AS previous_features,
    {key_count} AS recent_key_features
  FROM usage_daily_features f JOIN app_keys a ON a.org_key = f.org_key
  WHERE f.day >= :prev_start AND f.day <= :as_of_day
  GROUP BY f.org_key
),
mrr AS (
  SELECT s.org_id, SUM(s.mrr) AS mrr, SUM(CASE WHEN s.status = 'past_due' THEN s.mrr ELSE 0 END) AS past_due_mrr
  FROM subscriptions s JOIN app_orgs a ON a.org_id = s.org_id
  WHERE s.started_at <= :as_of_day AND (s.ended_at IS NULL OR s.ended_at > :as_of_day)
    AND s.status != 'trialing' AND (s.status != 'canceled' OR s.ended_at IS NOT NULL)
  GROUP BY s.org_id
),
tickets AS (
  SELECT t.org_id, COUNT(*) AS open_tickets, SUM(CASE WHEN t.severity = 'p1' THEN 1 ELSE 0 END) AS open_tickets_p1,
    SUM(CASE t.severity {penalty} ELSE 0.0 END) AS support_penalty
  FROM support_tickets t JOIN app_orgs a ON a.org_id = t.org_id
  WHERE t.opened_at <= :as_of AND (t.closed_at IS NULL OR t.closed_at > :as_of)
  GROUP BY t.org_id
),
answers AS (
  SELECT r.org_id, r.score,
    ROW_NUMBER() OVER (PARTITION BY r.org_id, CASE WHEN r.user_id = '' THEN CAST(r.id AS VARCHAR(20)) ELSE r.user_id END
                       ORDER BY r.responded_at DESC, r.id DESC) AS rn
  FROM survey_responses r JOIN app_orgs a ON a.org_id = r.org_id
  WHERE r.responded_at <= :as_of AND r.responded_at > :survey_since
),
survey AS (
  SELECT org_id, COUNT(*) AS survey_responses,
    100.0 * (SUM(CASE WHEN score >= 9 THEN 1 ELSE 0 END) - SUM(CASE WHEN score <= 6 THEN 1 ELSE 0 END))
      / COUNT(*) AS nps
  FROM answers WHERE rn = 1 GROUP BY org_id
)
SELECT o.org_id,
  COALESCE(mrr.mrr, 0) AS mrr, COALESCE(mrr.past_due_mrr, 0) AS past_due_mrr,
  COALESCE(usage.recent_events, 0) AS recent_events, COALESCE(usage.previous_events, 0) AS previous_events,
  COALESCE(users.recent_active_users, 0) AS recent_active_users,
  COALESCE(users.previous_active_users, 0) AS previous_active_users,
  COALESCE(usage.recent_active_days, 0) AS recent_active_days,
  COALESCE(usage.previous_active_days, 0) AS previous_active_days,
  COALESCE(feats.recent_features, 0) AS recent_features, COALESCE(feats.previous_features, 0) AS previous_features,
  COALESCE(feats.recent_key_features, 0) AS recent_key_features,
  COALESCE(usage.activity_active_days, 0) AS activity_active_days,
  COALESCE(tickets.open_tickets, 0) AS open_tickets, COALESCE(tickets.open_tickets_p1, 0) AS open_tickets_p1,
  COALESCE(tickets.support_penalty, 0) AS support_penalty,
  COALESCE(survey.survey_responses, 0) AS survey_responses, survey.nps AS nps,
  COALESCE(users.champions, 0) AS champions, COALESCE(users.champions_silent, 0) AS champions_silent,
  COALESCE(users.champions_silent_previous_events, 0) AS champions_silent_previous_events,
  usage.last_seen AS last_seen,
  {", ".join(f"usage.since_{k}" for k in range(USAGE_WEEKS - 1))}, usage.since_all,
  {key_total} AS key_feature_total
FROM orgs o
LEFT JOIN usage_orgs k ON k.org_id = o.org_id
LEFT JOIN usage ON usage.org_key = k.org_key
LEFT JOIN users ON users.org_key = k.org_key
LEFT JOIN feats ON feats.org_key = k.org_key
LEFT JOIN mrr ON mrr.org_id = o.org_id
LEFT JOIN tickets ON tickets.org_id = o.org_id
LEFT JOIN survey ON survey.org_id = o.org_id
WHERE o.application_id = :app
"""


def floor_params(application_id: int, as_of: dt.datetime, cfg: Config) -> dict[str, Any]:
    day = as_of.date()
    recent_start = day - (cfg.scan.recent_window_days - 1) * DAY
    prev_start = recent_start - cfg.scan.recent_window_days * DAY
    params: dict[str, Any] = {
        "app": application_id, "as_of": as_of, "as_of_day": day, "recent_start": recent_start,
        "prev_start": prev_start, "act_start": day - (cfg.scan.activity_window_days - 1) * DAY,
        "weeks_start": day - (USAGE_WEEKS * 7 - 1) * DAY,
        "survey_since": as_of - dt.timedelta(days=cfg.scan.sentiment_lookback_days),
        "top": cfg.signals.champion_top_users, "share": float(cfg.signals.champion_min_share),
    }
    for k in range(USAGE_WEEKS - 1):
        params[f"week_{k}"] = day - (7 * k + 7) * DAY
    return params


def floor_statement(cfg: Config):
    dates = ["as_of_day", "recent_start", "prev_start", "act_start", "weeks_start",
             *[f"week_{k}" for k in range(USAGE_WEEKS - 1)]]
    return text(floor_sql(cfg)).bindparams(
        *[bindparam(n, type_=Date()) for n in dates],
        bindparam("as_of", type_=UTCDateTime()), bindparam("survey_since", type_=UTCDateTime()))


def run_floor(session: Session, application_id: int, as_of: dt.datetime, cfg: Config) -> list[Any]:
    """The floor query's rows, fetched (what is timed)."""
    return session.execute(floor_statement(cfg), floor_params(application_id, as_of, cfg)).all()


_CHECKED = ("recent_events", "previous_events", "recent_active_users", "previous_active_users",
            "recent_active_days", "previous_active_days", "recent_features", "recent_key_features",
            "activity_active_days", "open_tickets", "open_tickets_p1", "survey_responses", "nps",
            "champions", "champions_silent")


def _num(v: Any) -> float | None:
    if v is None:
        return None
    return round(float(v), 4)


def check_floor(session: Session, application_id: int, as_of: dt.datetime, cfg: Config, orgs: int = 1000) -> int:
    """Compare the floor's values with the snapshots the scan stored on ``as_of``'s day for the
    first ``orgs`` orgs (by id): the usage counts, NPS, MRR and last seen. Raises on a
    difference; returns how many orgs were compared."""
    from storage.models import HealthSnapshot
    from sqlalchemy import select

    rows = {r.org_id: r for r in run_floor(session, application_id, as_of, cfg)}
    stored = session.execute(
        select(HealthSnapshot.org_id, HealthSnapshot.usage, HealthSnapshot.mrr, HealthSnapshot.last_seen)
        .where(HealthSnapshot.day == as_of.date()).order_by(HealthSnapshot.org_id).limit(orgs)).all()
    if len(stored) < min(orgs, len(rows)):
        raise AssertionError(f"only {len(stored)} snapshots stored on {as_of.date()}")
    for org_id, usage, mrr, last_seen in stored:
        row = rows[org_id]._mapping
        for key in _CHECKED:
            want, got = usage.get(key), row[key]
            if _num(want) != _num(got):
                raise AssertionError(f"{org_id} {key}: scan stored {want!r}, floor {got!r}")
        if Decimal(str(round(float(row["mrr"]), 2))) != Decimal(mrr):
            raise AssertionError(f"{org_id} mrr: scan stored {mrr}, floor {row['mrr']}")
        seen = row["last_seen"]
        if isinstance(seen, str):  # SQLite hands a MAX over the stored text back as text
            seen = dt.datetime.fromisoformat(seen)
        if seen is not None and seen.tzinfo is not None:
            seen = seen.astimezone(dt.timezone.utc).replace(tzinfo=None)
        mine = last_seen.astimezone(dt.timezone.utc).replace(tzinfo=None) if last_seen is not None else None
        if seen != mine:
            raise AssertionError(f"{org_id} last_seen: scan stored {mine}, floor {seen}")
    return len(stored)
