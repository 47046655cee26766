"""Signal priority: one revenue-aware 0-100 number that orders everything.

Formula
-------
For a signal of type ``t`` on an org with MRR ``m`` and severity ``s``::

    r        = m^k / (m^k + R^k)                                          (0 for m <= 0)
    priority = type_weight[t] × (base_points + severity_points × s^c + revenue_points × r)

with ``c = priority.severity_curve`` (default 0.5: the first steps past a threshold count
most — health 20 is already a serious case, not "half as bad" as health 0), ``k =
priority.revenue_curve`` (default 1: r = m / (m + R)) and ``R`` the *revenue reference*,
clipped to 0..100 and rounded to one decimal.

The revenue reference
---------------------
``R`` is the MRR at which the revenue term is worth half its points. By default it comes
from the customer base itself: the ``priority.revenue_half_percentile`` (90th) percentile of
the MRR of the application's paying orgs in the scan (``revenue_reference``). On the demo
data, where the median paying org pays about $100, that is about $1,300; on a base of
enterprise accounts it would be tens of thousands. ``priority.revenue_half_mrr`` > 0
replaces it with a fixed amount. Measured this way, for orgs in comparable trouble an
order of magnitude more MRR ranks clearly higher across the base (on the demo data, +7
points from $30 to $300, +23 from $300 to $3k, +12 from $3k to $30k), and one huge account
still can't drown every other signal: the term never passes ``revenue_points``. The
reference a signal was ranked with is stored in its evidence, and "why this rank" shows it.

Worked example (defaults, the demo's reference $1,344): a $24,000 org at health 20 (Revenue
at risk, s = 0.5) gets 1.0 × (20 + 35·√0.5 + 45·24000 / (24000 + 1344)) = 20 + 24.7 + 42.6 =
87.4; a $211 org at health 9 (s = 0.775) gets 20 + 30.8 + 6.1 = 56.9, below a $791 org at
health 24 (s = 0.4): 20 + 22.1 + 16.7 = 58.8.

Terms
-----
* ``r``, the revenue factor, is 0 at $0 MRR, one half at ``R`` and tends to 1.
* ``s``, the severity, is in [0, 1] and measures how far past its threshold the condition is
  (0 exactly at the threshold):

  - Revenue at risk: the strongest of its conditions, combined (see ``scoring.signals``);
    for low health alone (threshold − health) / threshold — health 0 is the worst case, 1.
  - Usage drop: (threshold − change) / (1 + threshold) — a −40 % drop is 0, losing all
    usage (−100 %) is 1; for a sustained decline the same on the fitted change over the
    weeks, and the larger of the two when both hold.
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
For a given reference, ``r`` is strictly increasing in MRR (m^k / (m^k + R^k) with k > 0),
and each severity is a strictly increasing function of the strength of its condition (a
positive multiple of the distance past the threshold, or x / (x + h) which has derivative
h / (x + h)² > 0). Priority is an affine function of ``s^c`` and ``r`` with positive
coefficients, so within one scan (one reference) more MRR ranks strictly higher for the same
condition, and for the same MRR a stronger condition ranks strictly higher — before rounding.
Rounding to one decimal keeps the order but may merge two close values into a tie (never a
swap); clipping at 100 can tie values only when a deployment configures points that add up to
more than 100. ``priority_unrounded`` exposes the exact value for "why this rank" and tests.

Interface
---------
* ``revenue_reference(mrr, cfg) -> float``: ``R`` for one scan's orgs.
* ``revenue_factor(mrr, cfg, reference=None) -> Series``
* ``revenue_at_risk_severity(health, cfg)``, ``usage_drop_severity(usage_change, cfg)``,
  ``usage_decline_severity(decline_change, cfg)``,
  ``inactive_paying_severity(days_inactive, cfg)``,
  ``expansion_severity(health, usage_change, seat_utilization, cfg)`` → Series in [0, 1].
* ``signal_severity(signal_type, measures, cfg) -> Series``: dispatches on the type; ``measures``
  is a frame with the columns that type needs (``health``, ``usage_change``,
  ``seat_utilization``, ``days_inactive``).
* ``priority_unrounded(signal_type, severity, mrr, cfg, reference=None)`` /
  ``signal_priority(...)``: ``signal_type`` is one type id or a Series of them aligned with
  ``severity`` and ``mrr``. ``reference`` defaults to ``priority.revenue_half_mrr`` when that
  is configured; without either there is no scale to weigh MRR on and a ``ValueError`` says so.
* ``priority_breakdown(...) -> DataFrame`` with each term, for "why this rank".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from domain.config import Config
from domain.vocabulary import EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK, SIGNAL_TYPES, USAGE_DROP

PRIORITY_FORMULA = ("type weight × (base + severity points × severity^c "
                    "+ revenue points × MRR^k / (MRR^k + reference^k))")


def _series(values: pd.Series | float | np.ndarray) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.astype("float64")
    return pd.Series(np.atleast_1d(np.asarray(values, dtype="float64")))


def _saturate(excess: pd.Series, half: float) -> pd.Series:
    """x / (x + half) for x >= 0: 0 at 0, one half at ``half``, strictly increasing, below 1."""
    x = excess.clip(lower=0.0).fillna(0.0)
    return x / (x + half)


def revenue_reference(mrr: pd.Series, cfg: Config) -> float:
    """The MRR at which the revenue term is one half: ``priority.revenue_half_mrr`` when set,
    else the ``priority.revenue_half_percentile`` percentile (linear between orgs) of the
    paying orgs' MRR in ``mrr``. With no paying org there is no money to weigh: 1."""
    p = cfg.priority
    if p.revenue_half_mrr > 0:
        return float(p.revenue_half_mrr)
    amounts = pd.to_numeric(mrr, errors="coerce").astype("float64")
    paying = amounts[amounts > 0]
    if paying.empty:
        return 1.0
    return max(float(np.percentile(paying.to_numpy(), p.revenue_half_percentile)), 0.01)


def _reference(cfg: Config, reference: float | None) -> float:
    if reference is not None:
        if not reference > 0:
            raise ValueError(f"the revenue reference must be positive, got {reference!r}")
        return float(reference)
    if cfg.priority.revenue_half_mrr > 0:
        return float(cfg.priority.revenue_half_mrr)
    raise ValueError("no revenue reference: pass the scan's reference (revenue_reference) "
                     "or configure priority.revenue_half_mrr")


def revenue_factor(mrr: pd.Series | float, cfg: Config, reference: float | None = None) -> pd.Series:
    m = _series(mrr).fillna(0.0).clip(lower=0.0)
    k = cfg.priority.revenue_curve
    ref = _reference(cfg, reference)
    return m**k / (m**k + ref**k)


def revenue_at_risk_severity(
    health: pd.Series | float,
    cfg: Config,
    renewal_days: pd.Series | float | None = None,
    fall: pd.Series | float | None = None,
    past_due_share: pd.Series | float | None = None,
    key_account: pd.Series | None = None,
) -> pd.Series:
    """Severity of Revenue at risk from each of its conditions, combined as 1 − Π(1 − s_i):
    never below the strongest condition, raised by each further one, and increasing in every
    part. ``renewal_days``, ``fall`` and ``past_due_share`` are NaN where that condition does
    not hold (or None: it holds nowhere).

    * low health: (threshold − health) / threshold (health 0 → 1; 0 at or above threshold);
    * renewal at risk: the mean of how close the renewal is (1 − days / renewal_window_days)
      and how weak the health is: the larger of (renewal_health_below − health) /
      renewal_health_below and the fall in points / renewal_health_below;
    * payment past due: priority.past_due_severity × the past-due share of the MRR;
    * key account slipping (``key_account`` True): (key_account_health_below − health) /
      key_account_health_below — small by design, the revenue term carries such an org.
    """
    h = _series(health)
    sig = cfg.signals
    threshold = sig.revenue_at_risk_health_below
    parts = [((threshold - h) / threshold).clip(0.0, 1.0).fillna(0.0) if threshold > 0
             else pd.Series(0.0, index=h.index)]
    if renewal_days is not None:
        days = _broadcast(renewal_days, h.index)
        near = (1.0 - days / sig.renewal_window_days).clip(0.0, 1.0)
        below = sig.renewal_health_below
        weak_now = ((below - h) / below).clip(0.0, 1.0).fillna(0.0) if below > 0 else 0.0 * near
        fell = (_broadcast(fall, h.index) / below).clip(0.0, 1.0).fillna(0.0) if (fall is not None and below > 0) \
            else 0.0 * near
        weak = pd.concat([weak_now, fell], axis=1).max(axis=1)
        parts.append(((near + weak) / 2.0).where(days.notna(), 0.0).fillna(0.0))
    if past_due_share is not None:
        share = _broadcast(past_due_share, h.index).clip(0.0, 1.0).fillna(0.0)
        parts.append(cfg.priority.past_due_severity * share)
    key_below = sig.key_account_health_below
    if key_account is not None and key_below > 0:
        slipping = ((key_below - h) / key_below).clip(0.0, 1.0).fillna(0.0)
        parts.append(slipping.where(_broadcast(key_account, h.index).astype(bool), 0.0))
    keep = pd.Series(1.0, index=h.index)
    for part in parts:
        keep = keep * (1.0 - part.clip(0.0, 1.0))
    return 1.0 - keep


def usage_drop_severity(usage_change: pd.Series | float, cfg: Config) -> pd.Series:
    c = _series(usage_change)
    threshold = cfg.signals.usage_drop_change_at_most
    room = 1.0 + threshold  # distance from the threshold to losing all usage
    if room <= 0:
        return pd.Series(np.where(c <= threshold, 1.0, 0.0), index=c.index)
    return ((threshold - c) / room).clip(0.0, 1.0).fillna(0.0)


def usage_decline_severity(decline_change: pd.Series | float, cfg: Config) -> pd.Series:
    """A sustained decline's severity: as a fortnight drop's, on the change over the weeks and
    against signals.usage_decline_change_at_most (−40 % → 0, all usage gone → 1)."""
    c = _series(decline_change)
    threshold = cfg.signals.usage_decline_change_at_most
    room = 1.0 + threshold
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
    signal_type: str | pd.Series, severity: pd.Series | float, mrr: pd.Series | float, cfg: Config,
    reference: float | None = None,
) -> pd.DataFrame:
    """Every term of the formula per row: ``type_weight``, ``base_points``, ``severity``,
    ``severity_points`` (= points × severity^c), ``revenue_reference``, ``revenue_factor``,
    ``revenue_points`` (= points × factor), ``priority_unrounded`` and ``priority``. Series
    arguments are aligned by position and give the result its index; scalars are broadcast."""
    index = _common_index(severity, mrr, signal_type)
    s = _broadcast(severity, index).clip(0.0, 1.0).fillna(0.0)
    ref = _reference(cfg, reference)
    r = revenue_factor(_broadcast(mrr, index), cfg, ref)
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
            "revenue_reference": ref,
            "revenue_factor": r,
            "revenue_points": rev_pts,
            "priority_unrounded": raw,
            "priority": raw.round(1),
        },
        index=index,
    )


def priority_unrounded(
    signal_type: str | pd.Series, severity: pd.Series | float, mrr: pd.Series | float, cfg: Config,
    reference: float | None = None,
) -> pd.Series:
    return priority_breakdown(signal_type, severity, mrr, cfg, reference)["priority_unrounded"]


def signal_priority(
    signal_type: str | pd.Series, severity: pd.Series | float, mrr: pd.Series | float, cfg: Config,
    reference: float | None = None,
) -> pd.Series:
    """Priority 0-100, one decimal: what is stored, sorted on and shown."""
    return priority_breakdown(signal_type, severity, mrr, cfg, reference)["priority"]
