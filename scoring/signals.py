"""Signal conditions (SPEC §4): which orgs need work, of what kind, how urgently, and why.

Interface
---------
``evaluate_signals(orgs, health, ctx, cfg) -> DataFrame``

* ``orgs``: the org frame (index ``org_id``, ``scoring.frames.ORG_COLUMNS``); read here:
  ``mrr``, ``recent_events``, ``previous_events``, ``last_seen``, ``created_at``,
  ``activity_active_days``, ``seats``, ``recent_active_users``.
* ``health``: ``scoring.health.score_health``'s result for the same orgs; read here:
  ``health``, ``band``, ``usage_change``, ``active_users_change``, ``seat_utilization``.
* Returns long form, one row per (org, signal type) whose condition holds, columns
  ``SIGNAL_COLUMNS``: ``org_id``, ``type`` (a ``config`` type id), ``priority`` (0-100, one
  decimal, see ``scoring.priority``), ``severity`` (0-1), ``evidence`` (dict of plain
  JSON-ready values: float / int / str / bool / None — never NaN), ``reason`` (one line for
  people) and ``suggested_case`` (``risk``, ``onboarding`` or ``expansion``). Rows are sorted
  by priority (highest first), then org id, then type in ``SIGNAL_TYPES`` order; the index is
  a plain RangeIndex.

Conditions (thresholds from ``cfg.signals``; "health" is the rounded health people see):

* Revenue at risk: mrr > 0 and health < revenue_at_risk_health_below → risk.
* Usage drop: usage_change <= usage_drop_change_at_most and previous_events >=
  usage_drop_min_previous_events → risk. (The minimum keeps a 5-event trial from "dropping".)
* Inactive paying: mrr > 0 and either last_seen <= as_of − inactive_days, or never seen and
  created_at <= as_of − inactive_days (or created_at unknown: an org nobody knows the age of
  is not brand new) → risk when seen before, onboarding when never seen.
* Expansion candidate: health >= expansion_health_from and (usage_change >=
  expansion_growth_from or seat_utilization >= expansion_seat_utilization_from) → expansion.

``org_priority(signals) -> Series``: an org's priority, the highest of its signals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import numpy as np
import pandas as pd

from domain.config import Config
from domain.vocabulary import (
    CASE_TYPES,
    EXPANSION_CANDIDATE,
    INACTIVE_PAYING,
    REVENUE_AT_RISK,
    SIGNAL_TYPES,
    STATUS_ACTIVE,
    USAGE_DROP,
)
from scoring.frames import ScanContext
from scoring.health import numeric
from scoring.priority import (
    expansion_severity,
    inactive_paying_severity,
    revenue_at_risk_severity,
    signal_priority,
    usage_drop_severity,
)
from scoring.text import money, plain_number, signed_percent

CASE_RISK, CASE_ONBOARDING, CASE_EXPANSION = CASE_TYPES

SIGNAL_COLUMNS = ["org_id", "type", "priority", "severity", "evidence", "reason", "suggested_case"]
_DAY = pd.Timedelta(days=1)


def _utc(moment: dt.datetime) -> pd.Timestamp:
    ts = pd.Timestamp(moment)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _times(orgs: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_datetime(orgs[column], utc=True)


def _measures(orgs: pd.DataFrame, health: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Everything the four conditions look at, one row per org, as plain float/time columns."""
    h = health.reindex(orgs.index)
    last_seen = _times(orgs, "last_seen")
    created_at = _times(orgs, "created_at")
    seen = last_seen.notna()
    since_seen = (as_of - last_seen) / _DAY
    age = (as_of - created_at) / _DAY
    return pd.DataFrame(
        {
            "mrr": numeric(orgs, "mrr").fillna(0.0),
            "health": pd.to_numeric(h["health"], errors="coerce").astype("float64"),
            "band": h["band"],
            "usage_change": pd.to_numeric(h["usage_change"], errors="coerce").astype("float64"),
            "active_users_change": pd.to_numeric(h["active_users_change"], errors="coerce").astype("float64"),
            "seat_utilization": pd.to_numeric(h["seat_utilization"], errors="coerce").astype("float64"),
            "recent_events": numeric(orgs, "recent_events").fillna(0.0),
            "previous_events": numeric(orgs, "previous_events").fillna(0.0),
            "activity_active_days": numeric(orgs, "activity_active_days").fillna(0.0),
            "seats": numeric(orgs, "seats"),
            "recent_active_users": numeric(orgs, "recent_active_users").fillna(0.0),
            "last_seen": last_seen,
            "created_at": created_at,
            "seen": seen,
            "days_inactive": since_seen.where(seen, age),
        },
        index=orgs.index,
    )


def _json_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts of plain Python values, missing → None (JSON has no NaN; JSONB refuses it)."""
    if frame.empty:
        return [{} for _ in range(len(frame))]
    plain = frame.astype(object).where(frame.notna(), None)
    return plain.to_dict("records")


def _iso(times: pd.Series) -> pd.Series:
    return times.dt.strftime("%Y-%m-%dT%H:%M:%SZ").where(times.notna())


def _whole(values: pd.Series) -> pd.Series:
    """Counts as nullable ints, so evidence says 20, not 20.0."""
    return np.floor(values).astype("Int64")


def _signal_rows(
    m: pd.DataFrame,
    mask: pd.Series,
    signal_type: str,
    severity: pd.Series,
    evidence: pd.DataFrame,
    reason: pd.Series,
    case: pd.Series | str,
) -> pd.DataFrame:
    sel = m.index[mask.fillna(False).to_numpy(dtype=bool)]
    case_col = case.loc[sel] if isinstance(case, pd.Series) else pd.Series(case, index=sel, dtype="str")
    rows = pd.DataFrame(
        {
            "org_id": sel,
            "type": signal_type,
            "mrr": m.loc[sel, "mrr"].to_numpy(),
            "severity": severity.loc[sel].to_numpy(dtype="float64"),
            "evidence": pd.Series(_json_records(evidence.loc[sel]), dtype=object).to_numpy(),
            "reason": reason.loc[sel].astype("str").to_numpy(),
            "suggested_case": case_col.astype("str").to_numpy(),
        }
    )
    return rows


def _with_mrr(m: pd.DataFrame, symbol: str, lead: str = " with ") -> pd.Series:
    """" with $4,200 MRR" for paying orgs, nothing otherwise."""
    return (lead + money(m["mrr"], symbol) + " MRR").where(m["mrr"] > 0, "")


def _usage_text(m: pd.DataFrame) -> pd.Series:
    return ("usage " + signed_percent(m["usage_change"])).fillna("usage n/a")


def _revenue_at_risk(m: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    threshold = cfg.signals.revenue_at_risk_health_below
    mask = (m["mrr"] > 0) & (m["health"] < threshold)
    evidence = pd.DataFrame(
        {
            "health": m["health"],
            "band": m["band"],
            "threshold": float(threshold),
            "mrr": m["mrr"].round(2),
            "activity_active_days": _whole(m["activity_active_days"]),
            "usage_change": m["usage_change"].round(4),
        }
    )
    reason = (
        "Health " + plain_number(m["health"]) + " (" + m["band"].astype("str") + ")"
        + _with_mrr(m, cfg.currency_symbol)
        + " — activity " + _whole(m["activity_active_days"]).astype("str")
        + f"/{cfg.scan.activity_full_days} days, " + _usage_text(m)
    )
    severity = revenue_at_risk_severity(m["health"], cfg)
    return _signal_rows(m, mask, REVENUE_AT_RISK, severity, evidence, reason, CASE_RISK)


def _usage_drop(m: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    sig = cfg.signals
    mask = (m["usage_change"] <= sig.usage_drop_change_at_most) & (
        m["previous_events"] >= sig.usage_drop_min_previous_events
    )
    evidence = pd.DataFrame(
        {
            "usage_change": m["usage_change"].round(4),
            "threshold": float(sig.usage_drop_change_at_most),
            "recent_events": _whole(m["recent_events"]),
            "previous_events": _whole(m["previous_events"]),
            "min_previous_events": int(sig.usage_drop_min_previous_events),
            "active_users_change": m["active_users_change"].round(4),
            "mrr": m["mrr"].round(2),
        }
    )
    users = (", active users " + signed_percent(m["active_users_change"])).fillna("")
    reason = (
        "Usage " + signed_percent(m["usage_change"])
        + f" vs the previous {cfg.scan.recent_window_days} days ("
        + _whole(m["recent_events"]).astype("str") + " vs "
        + _whole(m["previous_events"]).astype("str") + " events)"
        + users + _with_mrr(m, cfg.currency_symbol, ", ")
    )
    severity = usage_drop_severity(m["usage_change"], cfg)
    return _signal_rows(m, mask, USAGE_DROP, severity, evidence, reason, CASE_RISK)


def _inactive_paying(m: pd.DataFrame, cfg: Config, as_of: pd.Timestamp) -> pd.DataFrame:
    days = cfg.signals.inactive_days
    cutoff = as_of - pd.Timedelta(days=days)
    seen = m["seen"]
    silent = seen & (m["last_seen"] <= cutoff)
    never_activated = ~seen & (m["created_at"].isna() | (m["created_at"] <= cutoff))
    mask = (m["mrr"] > 0) & (silent | never_activated)
    whole_days = _whole(m["days_inactive"])
    evidence = pd.DataFrame(
        {
            "mrr": m["mrr"].round(2),
            "days_inactive": whole_days,
            "threshold_days": int(days),
            "never_seen": ~seen,
            "last_seen": _iso(m["last_seen"]),
            "created_at": _iso(m["created_at"]),
        }
    )
    paying = " paying " + money(m["mrr"], cfg.currency_symbol) + " MRR"
    seen_text = "No activity for " + whole_days.astype("str") + " days," + paying
    created_text = ("Never seen since created " + whole_days.astype("str") + " days ago,").where(
        m["created_at"].notna(), "Never seen,"
    )
    never_text = created_text + paying + " — not yet activated"
    reason = seen_text.where(seen, never_text)
    case = pd.Series(np.where(seen, CASE_RISK, CASE_ONBOARDING), index=m.index, dtype="str")
    severity = inactive_paying_severity(m["days_inactive"], cfg)
    return _signal_rows(m, mask, INACTIVE_PAYING, severity, evidence, reason, case)


def _expansion(m: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    sig = cfg.signals
    growing = m["usage_change"] >= sig.expansion_growth_from
    full = m["seat_utilization"] >= sig.expansion_seat_utilization_from
    mask = (m["health"] >= sig.expansion_health_from) & (growing | full)
    evidence = pd.DataFrame(
        {
            "health": m["health"],
            "health_threshold": float(sig.expansion_health_from),
            "usage_change": m["usage_change"].round(4),
            "growth_threshold": float(sig.expansion_growth_from),
            "seat_utilization": m["seat_utilization"].round(4),
            "seat_utilization_threshold": float(sig.expansion_seat_utilization_from),
            "recent_active_users": _whole(m["recent_active_users"]),
            "seats": _whole(m["seats"]),
            "mrr": m["mrr"].round(2),
        }
    )
    seats_text = (
        ", " + _whole(m["recent_active_users"]).astype("str") + "/" + _whole(m["seats"]).astype("str")
        + " seats in use (" + signed_percent(m["seat_utilization"]).str.removeprefix("+") + ")"
    ).fillna("")
    usage = (", usage " + signed_percent(m["usage_change"])).fillna("")
    reason = (
        "Health " + plain_number(m["health"]) + " (" + m["band"].astype("str") + ")"
        + usage + seats_text + _with_mrr(m, cfg.currency_symbol, ", ")
    )
    severity = expansion_severity(m["health"], m["usage_change"], m["seat_utilization"], cfg)
    return _signal_rows(m, mask, EXPANSION_CANDIDATE, severity, evidence, reason, CASE_EXPANSION)


def empty_signals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "org_id": pd.Series(dtype="str"),
            "type": pd.Series(dtype="str"),
            "priority": pd.Series(dtype="float64"),
            "severity": pd.Series(dtype="float64"),
            "evidence": pd.Series(dtype=object),
            "reason": pd.Series(dtype="str"),
            "suggested_case": pd.Series(dtype="str"),
        }
    )


def evaluate_signals(orgs: pd.DataFrame, health: pd.DataFrame, ctx: ScanContext, cfg: Config) -> pd.DataFrame:
    """Every (org, type) whose condition holds this scan, ranked by priority."""
    as_of = _utc(ctx.as_of)
    m = _measures(orgs, health, as_of)
    parts = [
        _revenue_at_risk(m, cfg),
        _usage_drop(m, cfg),
        _inactive_paying(m, cfg, as_of),
        _expansion(m, cfg),
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_signals()
    rows = pd.concat(parts, ignore_index=True)
    rows["priority"] = signal_priority(rows["type"], rows["severity"], rows["mrr"], cfg).to_numpy()
    rows["_type_order"] = rows["type"].map({t: i for i, t in enumerate(SIGNAL_TYPES)})
    rows = rows.sort_values(
        ["priority", "org_id", "_type_order"], ascending=[False, True, True], kind="mergesort"
    )
    return rows[SIGNAL_COLUMNS].reset_index(drop=True)


def org_priority(signals: pd.DataFrame, statuses: Collection[str] = (STATUS_ACTIVE,)) -> pd.Series:
    """Highest signal priority per org (index org_id), highest first.

    ``evaluate_signals``' output has no status and counts whole. A frame of stored signals with
    a ``status`` column counts only the given statuses (default: active), because a dismissed
    or snoozed signal has left the active lists and must not keep its org at the top.
    """
    rows = signals
    if "status" in rows.columns:
        rows = rows[rows["status"].isin(list(statuses))]
    if rows.empty:
        return pd.Series(dtype="float64", name="priority").rename_axis("org_id")
    best = rows.groupby("org_id", sort=True)["priority"].max()
    return best.sort_values(ascending=False, kind="mergesort").rename("priority")
