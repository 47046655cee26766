"""Signal conditions: which orgs need work, of what kind, how urgently, and why
(the rules in people's words: docs/ranking.md).

Interface
---------
``evaluate_signals(orgs, health, ctx, cfg) -> DataFrame``

* ``orgs``: the org frame (index ``org_id``, ``scoring.frames.ORG_COLUMNS``); read here:
  ``mrr``, ``past_due_mrr``, ``recent_events``, ``previous_events``, ``events_week_*``,
  ``last_seen``, ``created_at``, ``renewal_date``, ``activity_active_days``, ``seats``,
  ``recent_active_users`` and the ``champions*`` counts.
* ``health``: ``scoring.health.score_health``'s result for the same orgs; read here:
  ``health``, ``band``, ``usage_change``, ``active_users_change``, ``seat_utilization``.
* ``ctx``: the scan time, and ``health_before`` (each org's health ``renewal_fall_days`` ago).
* Returns long form, one row per (org, signal type) whose condition holds, columns
  ``SIGNAL_COLUMNS``: ``org_id``, ``type`` (a ``config`` type id), ``priority`` (0-100, one
  decimal, see ``scoring.priority``), ``severity`` (0-1), ``revenue_reference`` (the MRR at
  which this scan's revenue term is one half, the same on every row: the paying orgs' 90th
  percentile by default, see ``scoring.priority``), ``evidence`` (dict of plain
  JSON-ready values: float / int / str / bool / None — never NaN) and ``suggested_case``
  (``risk``, ``onboarding`` or ``expansion``). No text: the one-line reason people read is
  written from the evidence by ``services.reasons``. Rows are sorted by priority (highest
  first), then org id, then type in ``SIGNAL_TYPES`` order; the index is a plain RangeIndex.

Conditions (thresholds from ``cfg.signals``; "health" is the health as people see it, whole
points — ``scoring.health.shown_health`` — so a reason never says "40 (red)"):

* Revenue at risk → risk: a paying org, seen in the product at least once, with any of

  - *low health*: health < revenue_at_risk_health_below (40);
  - *renewal at risk*: renewal_date within renewal_window_days (90) of the scan, and health
    below renewal_health_below (60) or fallen by renewal_health_fall_points (10) or more since
    its scan renewal_fall_days (28) ago;
  - *payment past due*: part of its MRR is on past_due subscriptions (past_due_mrr > 0);
  - *key account slipping*: MRR at or above the scan's revenue reference (the same scale the
    priority's revenue term uses) and health below key_account_health_below (45), not
    already low: a lower-yellow health is worth a call when that much money rides on it.

  Renewal and payment are conditions of Revenue at risk, not signal types of their own:
  each says the same thing — this org's revenue may not be there next month — and the work
  is the same (a risk case). One signal per org keeps the list to one line per problem, the
  ``risk`` filter and the alert threshold already know it, and the evidence and the reason
  name every condition that holds. Severity combines the conditions (see
  ``scoring.priority.revenue_at_risk_severity``): each further condition strengthens it.
  An org not active yet has no health score (``scoring.health``) and never holds this
  signal: it is an onboarding case.
* Usage drop → risk, when either holds (both are kept in the evidence):

  - *fortnight drop*: usage_change <= usage_drop_change_at_most and previous_events >=
    usage_drop_min_previous_events (the minimum keeps a 5-event trial from "dropping");
  - *sustained decline* (paying orgs): over the last usage_decline_weeks weeks (12), the
    typical (median) week of the last usage_decline_compare_weeks weeks (4) is at least
    −usage_decline_change_at_most (40 %) below the typical week of the first 4, which had at
    least usage_decline_min_weekly_events (10) events. Its evidence names the weeks compared.

  A sustained decline is a condition of Usage drop, not a signal of its own: the work is the
  same (find out why usage is falling), the ``drop`` filter finds both, and one fall never
  shows as two signals. Severity is the larger of the two conditions' severities.
* Inactive paying: mrr > 0 and either last_seen <= as_of − inactive_days, or never seen and
  created_at <= as_of − inactive_days (or created_at unknown: an org nobody knows the age of
  is not brand new) → risk when seen before; onboarding when never seen (not active yet:
  its MRR is onboarding MRR, not MRR at risk).
* Expansion candidate: health >= expansion_health_from, at least expansion_min_active_users
  active users in the recent window, and either growth (usage_change >= expansion_growth_from
  with previous_events >= expansion_min_previous_events: growth needs a minimum volume, as a
  drop does) or full seats (seat_utilization >= expansion_seat_utilization_from) → expansion.

Champion gone quiet: when one of the org's most active users of the previous window (see
``signals.champion_*``) has no event in the recent window while others carry on, every
signal of that org carries ``champions``, ``champions_silent`` and
``champions_silent_previous_events`` in its evidence, and the org detail says so in its
drivers. It raises no signal of its own: it explains a drop or low health, and alone (a
person on holiday) it is not yet a reason to call.

No contradictions: an org holding any risk-type signal (Revenue at risk, Usage drop,
Inactive paying) never holds an Expansion candidate in the same scan. Risk wins — money
walking out the door comes before money that might come in — and the risk signals of an org
that met the expansion condition carry ``expansion_held_back: True`` in their evidence, so
the org detail can say that expansion was held back, and why.

``org_priority(signals) -> Series``: an org's priority, the highest of its signals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import cast

import numpy as np
import pandas as pd

from domain.config import Config
from domain.vocabulary import (
    CASE_TYPES,
    EXPANSION_CANDIDATE,
    INACTIVE_PAYING,
    REVENUE_AT_RISK,
    RISK_SIGNAL_TYPES,
    SIGNAL_TYPES,
    STATUS_ACTIVE,
    USAGE_DROP,
)
from scoring.frames import WEEK_COLUMNS, ScanContext
from scoring.health import numeric, shown_health
from scoring.priority import (
    expansion_severity,
    inactive_paying_severity,
    revenue_at_risk_severity,
    revenue_reference,
    signal_priority,
    usage_decline_severity,
    usage_drop_severity,
)

CASE_RISK, CASE_ONBOARDING, CASE_EXPANSION = CASE_TYPES

SIGNAL_COLUMNS = ["org_id", "type", "priority", "severity", "revenue_reference", "evidence", "suggested_case"]
_DAY = pd.Timedelta(days=1)


def _utc(moment: dt.datetime) -> pd.Timestamp:
    ts = pd.Timestamp(moment)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _times(orgs: pd.DataFrame, column: str) -> pd.Series[pd.Timestamp]:
    return pd.to_datetime(orgs[column], utc=True)


def _measures(orgs: pd.DataFrame, health: pd.DataFrame, as_of: pd.Timestamp, cfg: Config,
              health_before: pd.Series) -> pd.DataFrame:
    """Everything the conditions look at, one row per org, as plain float/time columns."""
    h = health.reindex(orgs.index)
    renewal = _times(orgs, "renewal_date")
    last_seen = _times(orgs, "last_seen")
    created_at = _times(orgs, "created_at")
    seen = last_seen.notna()
    since_seen = (as_of - last_seen) / _DAY
    age = (as_of - created_at) / _DAY
    return pd.DataFrame(
        {
            "mrr": numeric(orgs, "mrr").fillna(0.0),
            "health": shown_health(h["health"]),
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
            "renewal_date": renewal,
            "days_to_renewal": (renewal.dt.normalize() - as_of.normalize()) / _DAY,
            "past_due_mrr": numeric(orgs, "past_due_mrr").fillna(0.0),
            "champions": numeric(orgs, "champions").fillna(0.0),
            "champions_silent": numeric(orgs, "champions_silent").fillna(0.0),
            "champions_silent_previous_events": numeric(orgs, "champions_silent_previous_events").fillna(0.0),
            "health_before": shown_health(health_before.reindex(orgs.index).astype("float64")),
        },
        index=orgs.index,
    ).join(_sustained_decline(orgs, cfg, as_of))


def _sustained_decline(orgs: pd.DataFrame, cfg: Config, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per org: the typical (median) week of the first and of the last compared weeks of the
    decline span, the change between them, whether it is a sustained decline, and the dates
    of the weeks compared. Medians over a few weeks: one odd week can't make or hide a fall."""
    sig = cfg.signals
    span, compare = sig.usage_decline_weeks, sig.usage_decline_compare_weeks
    oldest_first = [WEEK_COLUMNS[k] for k in range(span - 1, -1, -1)]
    weekly = np.column_stack([numeric(orgs, c).fillna(0.0).to_numpy() for c in oldest_first])  # orgs × weeks
    first = pd.Series(np.median(weekly[:, :compare], axis=1), index=orgs.index, dtype="float64")
    last = pd.Series(np.median(weekly[:, -compare:], axis=1), index=orgs.index, dtype="float64")
    change = ((last - first) / first.where(first > 0)).clip(lower=-1.0)
    holds = (change <= sig.usage_decline_change_at_most) & (first >= sig.usage_decline_min_weekly_events)
    day = as_of.normalize()

    def week_day(weeks_back: int, end: bool) -> str:
        """First (or last) day of the week ending ``weeks_back`` weeks before the scan's day."""
        return (day - pd.Timedelta(days=7 * weeks_back + (0 if end else 6))).strftime("%Y-%m-%d")

    return pd.DataFrame(
        {
            "decline_first_weekly": first,
            "decline_last_weekly": last,
            "decline_change": change,
            "sustained_decline": holds.fillna(False),
            # The weeks compared: the first `compare` weeks of the span and the last ones.
            "decline_first_from": week_day(span - 1, False),
            "decline_first_to": week_day(span - compare, True),
            "decline_last_from": week_day(compare - 1, False),
            "decline_last_to": week_day(0, True),
        },
        index=orgs.index,
    )


def _json_records(frame: pd.DataFrame, optional: Collection[str] = ()) -> list[dict[str, object]]:
    """Rows as dicts of plain Python values, missing → None (JSON has no NaN; JSONB refuses it).
    A column named in ``optional`` is left out of a row's dict where it is missing, so evidence
    carries a condition's numbers only on the orgs where that condition holds."""
    if frame.empty:
        return [{} for _ in range(len(frame))]
    plain = frame.astype(object).where(frame.notna(), None)
    records = cast(list[dict[str, object]], plain.to_dict("records"))
    keep = [c for c in optional if c in frame.columns]
    if keep:
        records = [{k: v for k, v in r.items() if v is not None or k not in keep} for r in records]
    return records


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
    case: pd.Series | str,
    optional: Collection[str] = (),
) -> pd.DataFrame:
    sel = m.index[mask.fillna(False).to_numpy(dtype=bool)]
    case_col = case.loc[sel] if isinstance(case, pd.Series) else pd.Series(case, index=sel, dtype="str")
    rows = pd.DataFrame(
        {
            "org_id": sel,
            "type": signal_type,
            "mrr": m.loc[sel, "mrr"].to_numpy(),
            "severity": severity.loc[sel].to_numpy(dtype="float64"),
            "evidence": pd.Series(_json_records(evidence.loc[sel], optional), dtype=object).to_numpy(),
            "suggested_case": case_col.astype("str").to_numpy(),
        }
    )
    return rows


_RENEWAL_KEYS = ("renewal_date", "days_to_renewal", "renewal_window_days", "renewal_health_below",
                 "health_before", "health_fall", "renewal_fall_days")
_PAST_DUE_KEYS = ("past_due_mrr",)
_KEY_ACCOUNT_KEYS = ("key_account_mrr_from", "key_account_health_below")


def _revenue_at_risk(m: pd.DataFrame, cfg: Config, reference: float) -> pd.DataFrame:
    sig = cfg.signals
    threshold = sig.revenue_at_risk_health_below
    # Only orgs that have used the product: one not active yet is an onboarding case (its
    # Inactive paying signal says so), not a health failure.
    paying_and_seen = (m["mrr"] > 0) & m["seen"]
    low_health = paying_and_seen & (m["health"] < threshold)
    # Renewal at risk: low or falling health within the window before the renewal date.
    fall = m["health_before"] - m["health"]
    due = m["days_to_renewal"].between(0, sig.renewal_window_days)
    weak = (m["health"] < sig.renewal_health_below) | (fall >= sig.renewal_health_fall_points)
    renewal = paying_and_seen & due & weak.fillna(False)
    falling = renewal & (fall >= sig.renewal_health_fall_points)
    # Payment trouble: part of the MRR is on past_due subscriptions.
    past_due = paying_and_seen & (m["past_due_mrr"] > 0)
    # Key account slipping: a top account (MRR at or above the revenue reference) in lower yellow.
    key_below = sig.key_account_health_below
    key = paying_and_seen & (m["mrr"] >= reference) & (m["health"] < key_below) & ~low_health
    mask = low_health | renewal | past_due | key

    def where(values: pd.Series, condition: pd.Series) -> pd.Series:
        return values.where(condition)

    evidence = pd.DataFrame(
        {
            "health": m["health"],
            "band": m["band"],
            "threshold": float(threshold),
            "mrr": m["mrr"].round(2),
            "activity_active_days": _whole(m["activity_active_days"]),
            "usage_change": m["usage_change"].round(4),
            # Each further condition's numbers, only where it holds.
            "renewal_date": where(m["renewal_date"].dt.strftime("%Y-%m-%d"), renewal),
            "days_to_renewal": where(_whole(m["days_to_renewal"]), renewal),
            "renewal_window_days": where(pd.Series(sig.renewal_window_days, index=m.index), renewal).astype("Int64"),
            "renewal_health_below": where(pd.Series(float(sig.renewal_health_below), index=m.index), renewal),
            "health_before": where(m["health_before"], falling),
            "health_fall": where(fall, falling),
            "renewal_fall_days": where(pd.Series(sig.renewal_fall_days, index=m.index), falling).astype("Int64"),
            "past_due_mrr": where(m["past_due_mrr"].round(2), past_due),
            "key_account_mrr_from": where(pd.Series(round(reference, 2), index=m.index), key),
            "key_account_health_below": where(pd.Series(float(key_below), index=m.index), key),
        }
    )
    severity = revenue_at_risk_severity(
        m["health"], cfg,
        renewal_days=m["days_to_renewal"].where(renewal), fall=fall.where(falling),
        past_due_share=(m["past_due_mrr"] / m["mrr"].where(m["mrr"] > 0)).where(past_due),
        key_account=key,
    )
    return _signal_rows(m, mask, REVENUE_AT_RISK, severity, evidence, CASE_RISK,
                        optional=_RENEWAL_KEYS + _PAST_DUE_KEYS + _KEY_ACCOUNT_KEYS)


_DECLINE_KEYS = ("decline_weeks", "decline_first_from", "decline_first_to", "decline_last_from", "decline_last_to",
                 "decline_first_weekly", "decline_last_weekly", "decline_change", "decline_threshold",
                 "decline_min_weekly_events")


def _usage_drop(m: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    sig = cfg.signals
    fortnight = (m["usage_change"] <= sig.usage_drop_change_at_most) & (
        m["previous_events"] >= sig.usage_drop_min_previous_events
    )
    # A quarter-long fade matters for the revenue behind it: a free or churned org's fade is
    # already in the revenue report (the fortnight rule still watches every org).
    sustained = m["sustained_decline"] & (m["mrr"] > 0)
    mask = fortnight.fillna(False) | sustained
    only_when_sustained = lambda values: values.where(sustained)  # noqa: E731
    evidence = pd.DataFrame(
        {
            "usage_change": m["usage_change"].round(4),
            "threshold": float(sig.usage_drop_change_at_most),
            "recent_events": _whole(m["recent_events"]),
            "previous_events": _whole(m["previous_events"]),
            "min_previous_events": int(sig.usage_drop_min_previous_events),
            "active_users_change": m["active_users_change"].round(4),
            "mrr": m["mrr"].round(2),
            # The sustained decline's numbers, on the orgs where it holds.
            "decline_weeks": only_when_sustained(pd.Series(sig.usage_decline_weeks, index=m.index)).astype("Int64"),
            "decline_first_from": only_when_sustained(m["decline_first_from"]),
            "decline_first_to": only_when_sustained(m["decline_first_to"]),
            "decline_last_from": only_when_sustained(m["decline_last_from"]),
            "decline_last_to": only_when_sustained(m["decline_last_to"]),
            "decline_first_weekly": only_when_sustained(m["decline_first_weekly"].round(1)),
            "decline_last_weekly": only_when_sustained(m["decline_last_weekly"].round(1)),
            "decline_change": only_when_sustained(m["decline_change"].round(4)),
            "decline_threshold": only_when_sustained(pd.Series(sig.usage_decline_change_at_most, index=m.index)),
            "decline_min_weekly_events": only_when_sustained(
                pd.Series(float(sig.usage_decline_min_weekly_events), index=m.index)),
        }
    )
    severity = pd.concat(
        [
            usage_drop_severity(m["usage_change"], cfg).where(fortnight, 0.0),
            usage_decline_severity(m["decline_change"], cfg).where(sustained, 0.0),
        ],
        axis=1,
    ).max(axis=1)
    return _signal_rows(m, mask, USAGE_DROP, severity, evidence, CASE_RISK, optional=_DECLINE_KEYS)


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
    case = pd.Series(np.where(seen, CASE_RISK, CASE_ONBOARDING), index=m.index, dtype="str")
    severity = inactive_paying_severity(m["days_inactive"], cfg)
    return _signal_rows(m, mask, INACTIVE_PAYING, severity, evidence, case)


def _expansion(m: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    sig = cfg.signals
    enough_users = m["recent_active_users"] >= sig.expansion_min_active_users
    growing = (m["usage_change"] >= sig.expansion_growth_from) & (
        m["previous_events"] >= sig.expansion_min_previous_events)
    full = m["seat_utilization"] >= sig.expansion_seat_utilization_from
    mask = (m["health"] >= sig.expansion_health_from) & enough_users & (growing | full)
    evidence = pd.DataFrame(
        {
            "health": m["health"],
            "health_threshold": float(sig.expansion_health_from),
            "usage_change": m["usage_change"].round(4),
            "growth_threshold": float(sig.expansion_growth_from),
            "recent_events": _whole(m["recent_events"]),
            "previous_events": _whole(m["previous_events"]),
            "min_previous_events": int(sig.expansion_min_previous_events),
            "seat_utilization": m["seat_utilization"].round(4),
            "seat_utilization_threshold": float(sig.expansion_seat_utilization_from),
            "recent_active_users": _whole(m["recent_active_users"]),
            "min_active_users": int(sig.expansion_min_active_users),
            "seats": _whole(m["seats"]),
            "mrr": m["mrr"].round(2),
        }
    )
    # Growth below the minimum volume is noise: it adds no severity either.
    change = m["usage_change"].where(growing)
    severity = expansion_severity(m["health"], change, m["seat_utilization"], cfg)
    return _signal_rows(m, mask, EXPANSION_CANDIDATE, severity, evidence, CASE_EXPANSION)


def champion_gone_quiet(m: pd.DataFrame, cfg: Config) -> pd.Series:
    """True where one of the org's champions (its most active users of the previous window)
    has no event in the recent window while others carry on (the org still has events)."""
    return (
        (m["champions_silent"] >= 1)
        & (m["recent_events"] > 0)
        & (m["previous_events"] >= cfg.signals.champion_min_previous_events)
    )


def _add_champion_evidence(rows: pd.DataFrame, m: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Every signal of an org whose champion went quiet says so in its evidence."""
    quiet = champion_gone_quiet(m, cfg)
    mark = rows["org_id"].isin(m.index[quiet.to_numpy()])
    if not mark.any():
        return rows
    facts = pd.DataFrame(
        {
            "champions": _whole(m["champions"]),
            "champions_silent": _whole(m["champions_silent"]),
            "champions_silent_previous_events": _whole(m["champions_silent_previous_events"]),
        }
    ).loc[rows.loc[mark, "org_id"]]
    rows = rows.copy()
    # A list of dicts set on the marked rows of one column; pandas-stubs type neither side.
    rows.loc[mark, "evidence"] = [  # type: ignore[index, assignment]
        {**e, **f} for e, f in zip(rows.loc[mark, "evidence"], _json_records(facts))
    ]
    return rows


def _hold_back_expansion(rows: pd.DataFrame) -> pd.DataFrame:
    """Drop the Expansion candidate of orgs that hold a risk-type signal, and mark those orgs'
    risk signals with ``expansion_held_back`` in their evidence."""
    risky = rows["type"].isin(RISK_SIGNAL_TYPES)
    held = (rows["type"] == EXPANSION_CANDIDATE) & rows["org_id"].isin(rows.loc[risky, "org_id"])
    if not held.any():
        return rows
    held_orgs = rows.loc[held, "org_id"]
    rows = rows[~held].copy()
    mark = rows["type"].isin(RISK_SIGNAL_TYPES) & rows["org_id"].isin(held_orgs)
    # The evidence is JSON: a new dict per marked row (a handful), the key only where it holds.
    rows.loc[mark, "evidence"] = rows.loc[mark, "evidence"].map(lambda e: {**e, "expansion_held_back": True})
    return rows


def empty_signals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "org_id": pd.Series(dtype="str"),
            "type": pd.Series(dtype="str"),
            "priority": pd.Series(dtype="float64"),
            "severity": pd.Series(dtype="float64"),
            "revenue_reference": pd.Series(dtype="float64"),
            "evidence": pd.Series(dtype=object),
            "suggested_case": pd.Series(dtype="str"),
        }
    )


def evaluate_signals(orgs: pd.DataFrame, health: pd.DataFrame, ctx: ScanContext, cfg: Config) -> pd.DataFrame:
    """Every (org, type) whose condition holds this scan, ranked by priority."""
    as_of = _utc(ctx.as_of)
    m = _measures(orgs, health, as_of, cfg, ctx.health_before)
    reference = revenue_reference(m["mrr"], cfg)  # the whole base's scale, not just the flagged orgs'
    parts = [
        _revenue_at_risk(m, cfg, reference),
        _usage_drop(m, cfg),
        _inactive_paying(m, cfg, as_of),
        _expansion(m, cfg),
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_signals()
    rows = _add_champion_evidence(_hold_back_expansion(pd.concat(parts, ignore_index=True)), m, cfg)
    rows["revenue_reference"] = reference
    rows["priority"] = signal_priority(rows["type"], rows["severity"], rows["mrr"], cfg, reference).to_numpy()
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
