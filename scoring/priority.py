"""Signal priority (SPEC §4): one revenue-aware 0-100 number that orders everything.

Formula
-------
For a signal of type ``t`` on an org with MRR ``m`` and severity ``s``::

    r        = m / (m + priority.revenue_half_mrr)                      (0 for m <= 0)
    priority = type_weight[t] × (base_points + severity_points × s^c + revenue_points × r)

with ``c = priority.severity_curve`` (default 0.5): the first steps past a threshold count
most — health 20 is already a serious case, not "half as bad" as health 0.

clipped to 0..100 and rounded to one decimal. With the defaults (weights 1.0 / 0.95 / 0.9
/ 0.8, points 20 + 35 + 45, half MRR $5,000, curve 0.5): an org with $5,000 MRR and
severity 0.25 on a Revenue at risk signal (health 30) gets 1.0 × (20 + 35·0.5 + 45·0.5) =
60; a $24,000 org at health 20 (s = 0.5) gets 20 + 24.7 + 37.2 = 82.0, enough for a
real-time alert (80). Revenue carries more points than severity: revenue teams work the
money first. Expansion's weight 0.8 keeps it below the alert threshold: growth can wait
for the weekly digest.

Terms
-----
* ``r``, the revenue factor, is 0 at $0 MRR, one half at ``revenue_half_mrr`` and tends to 1:
  more MRR always counts, but the step from $0 to $5k matters more than $50k to $55k, so
  one huge customer can't drown every other signal.
* ``s``, the severity, is in [0, 1] and measures how far past its threshold the condition is
  (0 exactly at the threshold):

  - Revenue at risk: (threshold − health) / threshold — health 0 is the worst case, 1.
  - Usage drop: (threshold − change) / (1 + threshold) — a −40 % drop is 0, losing all
    usage (−100 %) is 1.
  - Inactive paying: x / (x + inactive_half_days) with x = days silent beyond
    ``signals.inactive_days`` (for never-seen orgs: days since creation beyond it; 0 when
    the creation date is unknown). Silence has no natural end, so it saturates smoothly.
  - Expansion candidate: the mean of three parts, each in [0, 1]:
    growth beyond ``expansion_growth_from`` as g / (g + expansion_growth_half);
    seat utilization beyond ``expansion_seat_utilization_from`` as
    u / (u + expansion_utilization_half); and health beyond ``expansion_health_from`` as
    (health − from) / (100 − from). A part whose input is missing or below its threshold
    counts 0 (the condition held through the other part).

* ``type_weight`` ranks the kinds of trouble: losing revenue before growing it.
* ``base_points`` is what any true condition is worth; the three points add up to 100, so
  with type weights <= 1 priority stays within 0..100 even before clipping.

Why it is monotonic
-------------------
``r`` is strictly increasing in MRR (its derivative half / (m + half)² is positive), and
each severity is a strictly increasing function of the strength of its condition (a
positive multiple of the distance past the threshold, or x / (x + k) which has derivative
k / (x + k)² > 0). Priority is an affine function of ``s`` and ``r`` with positive
coefficients, so for the same condition more MRR ranks strictly higher, and for the same MRR
a stronger condition ranks strictly higher — before rounding (``s^c`` with ``c > 0`` is
strictly increasing on [0, 1], so the curve keeps the order). Rounding to one decimal keeps
the order but may merge two close values into a tie (never a swap); clipping at 100 can tie
values only when a deployment configures points that add up to more than 100.
``priority_unrounded`` exposes the exact value for "why this rank" and for the tests.

Interface
---------
* ``revenue_factor(mrr, cfg) -> Series``
* ``revenue_at_risk_severity(health, cfg)``, ``usage_drop_severity(usage_change, cfg)``,
  ``inactive_paying_severity(days_inactive, cfg)``,
  ``expansion_severity(health, usage_change, seat_utilization, cfg)`` → Series in [0, 1].
* ``signal_severity(signal_type, measures, cfg) -> Series``: dispatches on the type; ``measures``
  is a frame with the columns that type needs (``health``, ``usage_change``,
  ``seat_utilization``, ``days_inactive``).
* ``priority_unrounded(signal_type, severity, mrr, cfg)`` / ``signal_priority(...)``:
  ``signal_type`` is one type id or a Series of them aligned with ``severity`` and ``mrr``.
* ``priority_breakdown(...) -> DataFrame`` with each term, for "why this rank".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from domain.config import Config
from domain.vocabulary import EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK, SIGNAL_TYPES, USAGE_DROP

PRIORITY_FORMULA = "type weight × (base + severity points × severity + revenue points × MRR / (MRR + half MRR))"


def _series(values: pd.Series | float | np.ndarray) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.astype("float64")
    return pd.Series(np.atleast_1d(np.asarray(values, dtype="float64")))


def _saturate(excess: pd.Series, half: float) -> pd.Series:
    """x / (x + half) for x >= 0: 0 at 0, one half at ``half``, strictly increasing, below 1."""
    x = excess.clip(lower=0.0).fillna(0.0)
    return x / (x + half)


def revenue_factor(mrr: pd.Series | float, cfg: Config) -> pd.Series:
    m = _series(mrr).fillna(0.0).clip(lower=0.0)
    return m / (m + cfg.priority.revenue_half_mrr)


def revenue_at_risk_severity(health: pd.Series | float, cfg: Config) -> pd.Series:
    h = _series(health)
    threshold = cfg.signals.revenue_at_risk_health_below
    if threshold <= 0:
        return pd.Series(0.0, index=h.index)
    return ((threshold - h) / threshold).clip(0.0, 1.0).fillna(0.0)


def usage_drop_severity(usage_change: pd.Series | float, cfg: Config) -> pd.Series:
    c = _series(usage_change)
    threshold = cfg.signals.usage_drop_change_at_most
    room = 1.0 + threshold  # distance from the threshold to losing all usage
    if room <= 0:
        return pd.Series(np.where(c <= threshold, 1.0, 0.0), index=c.index)
    return ((threshold - c) / room).clip(0.0, 1.0).fillna(0.0)


def inactive_paying_severity(days_inactive: pd.Series | float, cfg: Config) -> pd.Series:
    d = _series(days_inactive)
    return _saturate(d - cfg.signals.inactive_days, cfg.priority.inactive_half_days)


def expansion_severity(
    health: pd.Series | float,
    usage_change: pd.Series | float,
    seat_utilization: pd.Series | float,
    cfg: Config,
) -> pd.Series:
    sig, pri = cfg.signals, cfg.priority
    h, g, u = _series(health), _series(usage_change), _series(seat_utilization)
    growth = _saturate(g - sig.expansion_growth_from, pri.expansion_growth_half)
    util = _saturate(u - sig.expansion_seat_utilization_from, pri.expansion_utilization_half)
    room = 100.0 - sig.expansion_health_from
    if room > 0:
        fit = ((h - sig.expansion_health_from) / room).clip(0.0, 1.0).fillna(0.0)
    else:
        fit = pd.Series(0.0, index=h.index)
    return (growth + util + fit) / 3.0


def signal_severity(signal_type: str, measures: pd.DataFrame, cfg: Config) -> pd.Series:
    """Severity for one signal type over a frame of orgs (index kept)."""
    if signal_type == REVENUE_AT_RISK:
        return revenue_at_risk_severity(measures["health"], cfg)
    if signal_type == USAGE_DROP:
        return usage_drop_severity(measures["usage_change"], cfg)
    if signal_type == INACTIVE_PAYING:
        return inactive_paying_severity(measures["days_inactive"], cfg)
    if signal_type == EXPANSION_CANDIDATE:
        return expansion_severity(measures["health"], measures["usage_change"], measures["seat_utilization"], cfg)
    raise ValueError(f"unknown signal type {signal_type!r} (expected one of {', '.join(SIGNAL_TYPES)})")


def _type_weight(signal_type: str | pd.Series, index: pd.Index, cfg: Config) -> pd.Series:
    weights = cfg.priority.type_weight
    if isinstance(signal_type, pd.Series):
        unknown = set(signal_type.unique()) - set(weights)
        if unknown:
            raise ValueError(f"unknown signal type {sorted(unknown)[0]!r}")
        return signal_type.map(weights).astype("float64").set_axis(index)
    if signal_type not in weights:
        raise ValueError(f"unknown signal type {signal_type!r} (expected one of {', '.join(SIGNAL_TYPES)})")
    return pd.Series(float(weights[signal_type]), index=index)


def _common_index(*values: object) -> pd.Index:
    for v in values:
        if isinstance(v, pd.Series):
            return v.index
    return pd.RangeIndex(1)


def _broadcast(values: pd.Series | float, index: pd.Index) -> pd.Series:
    if isinstance(values, pd.Series):
        if len(values) != len(index):
            raise ValueError("severity, mrr and signal types must have the same length")
        return values.astype("float64").set_axis(index)
    return pd.Series(float(values), index=index)


def priority_breakdown(
    signal_type: str | pd.Series, severity: pd.Series | float, mrr: pd.Series | float, cfg: Config
) -> pd.DataFrame:
    """Every term of the formula per row: ``type_weight``, ``base_points``, ``severity``,
    ``severity_points`` (= points × severity), ``revenue_factor``, ``revenue_points``
    (= points × factor), ``priority_unrounded`` and ``priority``. Series arguments are
    aligned by position and give the result its index; scalars are broadcast."""
    index = _common_index(severity, mrr, signal_type)
    s = _broadcast(severity, index).clip(0.0, 1.0).fillna(0.0)
    r = revenue_factor(_broadcast(mrr, index), cfg)
    p = cfg.priority
    types = signal_type.set_axis(index) if isinstance(signal_type, pd.Series) else signal_type
    weight = _type_weight(types, index, cfg)
    curved = s ** p.severity_curve
    sev_pts = p.severity_points * curved
    rev_pts = p.revenue_points * r
    raw = (weight * (p.base_points + sev_pts + rev_pts)).clip(0.0, 100.0)
    return pd.DataFrame(
        {
            "type_weight": weight,
            "base_points": float(p.base_points),
            "severity": s,
            "severity_curved": curved,
            "severity_points": sev_pts,
            "revenue_factor": r,
            "revenue_points": rev_pts,
            "priority_unrounded": raw,
            "priority": raw.round(1),
        },
        index=index,
    )


def priority_unrounded(
    signal_type: str | pd.Series, severity: pd.Series | float, mrr: pd.Series | float, cfg: Config
) -> pd.Series:
    return priority_breakdown(signal_type, severity, mrr, cfg)["priority_unrounded"]


def signal_priority(
    signal_type: str | pd.Series, severity: pd.Series | float, mrr: pd.Series | float, cfg: Config
) -> pd.Series:
    """Priority 0-100, one decimal: what is stored, sorted on and shown."""
    return priority_breakdown(signal_type, severity, mrr, cfg)["priority"]
