"""Value × Potential: quadrants, account priority and tiers per org.

Value = revenue 40 % + tenure 15 % + engagement 20 % + strategic 25 %;
Potential = expansion signals 35 % + fit 25 % + relationship 20 % + timing 20 %
(weights in ``config.tiers``). Each input is a 0-100 score:

* **revenue**: percentile rank of the org's MRR among the paying orgs in the frame (one
  application): 100 × (paying orgs with MRR ≤ this one) / (paying orgs). The top payer gets
  100, ties share the higher rank; an org with no MRR gets 0 (known: it pays nothing).
* **tenure**: min(calendar days (UTC) from ``created_at`` to ``as_of`` /
  ``tiers.tenure_full_days``, 1) × 100.
* **engagement**: the health score's *activity* component (how many days the org actually
  used the product; ``activity_score``), or the health score itself when the activity
  component isn't available; 0 for an org not active yet (nobody has used the product, so
  its engagement is known to be nil). Activity rather than whole health, so that support
  tickets or a bad survey don't lower an account's value twice (they already lower health).
* **strategic**: ``strategic`` as given (clipped to 0-100).
* **expansion signals**: 100 with an open Expansion candidate signal; otherwise how close
  the org comes to the candidate's thresholds (``config.signals``): 100 × the larger of
  usage change / ``expansion_growth_from`` and seat utilization /
  ``expansion_seat_utilization_from``, each clipped to 0-1. An org that reaches a threshold
  without the health to be a candidate still scores 100: potential is room to grow; the
  health gate belongs to the signal.
* **fit**: ``icp_fit``; **relationship**: ``relationship`` (both clipped to 0-100).
* **timing**: renewal within ``tiers.renewal_horizon_days`` (90) days scores
  (1 − days to renewal / horizon) × 100: 100 on the renewal day, 0 at the horizon; 0
  beyond it. A renewal date in the past is left out like a missing one: it says nothing
  about the next renewal.

An input with no data (NaN) counts as a typical account's: the median of that input among
the orgs of the frame that have it when at least ten do (``tiers.missing_input_score``, 50,
otherwise), at its full weight. Unlike health, where a component nobody imported is simply left out, a
tier that rested on one known input would let that input stand for the whole value or
potential (a Tier 1 account on the strength of its revenue alone); missing inputs pull the
score toward the middle instead. ``value_inputs`` and ``potential_inputs`` say how many of
each side's four inputs the scores rest on, and ``inputs_used`` / ``inputs_left_out`` list
them. A side with no known input at all is shown as missing (NaN, and no quadrant) but
still counts at its typical value in the account priority. Value and potential are rounded
to two decimals, and account priority = value × w + potential × (1 − w) (w from
``tiers.mode_weight[mode]``) is rounded likewise, before any boundary is applied: the
quadrant and tier always agree with the number shown. Quadrants split at
``tiers.quadrant_split`` (50, which counts as high); tiers by account priority: Tier 1 ≥ 80,
Tier 2 ≥ 60, Tier 3 ≥ 40, else Tier 4.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from domain.config import SignalsConfig, TiersConfig
from domain.vocabulary import (  # noqa: F401  (quadrants and tiers are part of this module's interface)
    CASH_COWS,
    GROWTH_BETS,
    MAINTENANCE,
    QUADRANTS,
    STARS,
    TIER_INPUTS,
    TIER_POTENTIAL_INPUTS,
    TIER_VALUE_INPUTS,
    TIERS,
)

VALUE_INPUTS = TIER_VALUE_INPUTS
POTENTIAL_INPUTS = TIER_POTENTIAL_INPUTS
INPUTS = TIER_INPUTS

# Columns the input frame (index org_id) may carry; any missing column is all-missing.
TIER_INPUT_COLUMNS: dict[str, str] = {
    "mrr": "float, MRR now (0 when not paying)",
    "created_at": "datetime (UTC) or NaT",
    "activity_score": "float 0-100: health's activity component score, NaN when unknown",
    "not_active": "bool: scanned but never seen in the product (engagement is then 0, known)",
    "health": "float 0-100, NaN when not scored",
    "strategic": "float 0-100, NaN when unknown",
    "icp_fit": "float 0-100, NaN when unknown",
    "relationship": "float 0-100, NaN when unknown",
    "renewal_date": "date/datetime or NaT",
    "expansion_candidate": "bool: an open Expansion candidate signal",
    "usage_change": "float ratio (0.25 = +25 %), NaN when undefined",
    "seat_utilization": "float ratio (0.9 = 90 %), NaN when no seats",
}


TIER_OUTPUT_COLUMNS = (
    "value",
    "potential",
    "account_priority",
    "quadrant",
    "tier",
    *(f"{name}_score" for name in INPUTS),
    "value_inputs",
    "potential_inputs",
    "inputs_used",
    "inputs_left_out",
)


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series(np.nan, index=frame.index, dtype=float)


def _num(frame: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(_col(frame, name), errors="coerce").astype(float)


def _utc(values: pd.Series) -> pd.Series:
    ts = pd.to_datetime(values)
    if ts.dt.tz is None:
        return ts.dt.tz_localize("UTC")
    return ts.dt.tz_convert("UTC")


def _as_of(as_of: dt.date | dt.datetime) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def revenue_score(mrr: pd.Series) -> pd.Series:
    paying = mrr > 0
    ranks = mrr[paying].rank(method="max", pct=True) * 100
    return pd.Series(np.where(mrr.isna(), np.nan, 0.0), index=mrr.index).mask(paying, ranks)


def tenure_score(created_at: pd.Series, as_of: pd.Timestamp, full_days: int) -> pd.Series:
    days = (as_of.normalize() - _utc(created_at).dt.normalize()).dt.days.astype(float).clip(lower=0)
    return (days / full_days).clip(upper=1.0) * 100


def expansion_score(frame: pd.DataFrame, signals: SignalsConfig) -> pd.Series:
    def ratio(values: pd.Series, threshold: float) -> pd.Series:
        if threshold <= 0:
            return pd.Series(np.where(values.isna(), np.nan, (values >= 0).astype(float)), index=values.index)
        return (values / threshold).clip(0.0, 1.0)

    growth = ratio(_num(frame, "usage_change"), signals.expansion_growth_from)
    seats = ratio(_num(frame, "seat_utilization"), signals.expansion_seat_utilization_from)
    scaled = pd.concat([growth, seats], axis=1).max(axis=1, skipna=True) * 100
    candidate = _col(frame, "expansion_candidate").astype("boolean").fillna(False).astype(bool)
    return scaled.mask(candidate, 100.0)


def timing_score(renewal: pd.Series, as_of: pd.Timestamp, horizon_days: int) -> pd.Series:
    days = (_utc(renewal).dt.normalize() - as_of.normalize()).dt.days.astype(float)
    score = np.where(days > horizon_days, 0.0, (1 - days / horizon_days) * 100)
    return pd.Series(score, index=renewal.index).where(days >= 0)


def input_scores(
    frame: pd.DataFrame,
    as_of: dt.date | dt.datetime,
    tiers: TiersConfig = TiersConfig(),
    signals: SignalsConfig = SignalsConfig(),
) -> pd.DataFrame:
    """The eight 0-100 input scores per org (columns named as INPUTS), NaN when missing."""
    ts = _as_of(as_of)
    activity = _num(frame, "activity_score")
    not_active = _col(frame, "not_active").astype("boolean").fillna(False).astype(bool)
    # Nobody has used the product yet: engagement is known to be nil, not missing.
    engagement = activity.fillna(_num(frame, "health")).clip(0, 100).mask(not_active, 0.0)
    return pd.DataFrame(
        {
            "revenue": revenue_score(_num(frame, "mrr")),
            "tenure": tenure_score(_col(frame, "created_at"), ts, tiers.tenure_full_days),
            "engagement": engagement,
            "strategic": _num(frame, "strategic").clip(0, 100),
            "expansion": expansion_score(frame, signals),
            "fit": _num(frame, "icp_fit").clip(0, 100),
            "relationship": _num(frame, "relationship").clip(0, 100),
            "timing": timing_score(_col(frame, "renewal_date"), ts, tiers.renewal_horizon_days),
        },
        index=frame.index,
    )


def _weighted(scores: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    w = pd.Series({name: float(weights.get(name, 0.0)) for name in scores.columns})
    present = scores.notna()
    total = present.mul(w, axis=1).sum(axis=1)
    points = scores.fillna(0.0).mul(w, axis=1).sum(axis=1)
    return (points / total.where(total > 0)).round(2)


def _join_names(flags: pd.DataFrame) -> pd.Series:
    """Per row, the names of the columns whose flag is set (a list, in column order). Rows share
    a handful of patterns, so each pattern's list is worked out once."""
    values = flags.to_numpy(dtype=bool)
    codes = values.astype(np.int64) @ (np.int64(1) << np.arange(values.shape[1], dtype=np.int64))
    names = {int(code): [n for k, n in enumerate(flags.columns) if int(code) >> k & 1] for code in np.unique(codes)}
    return pd.Series([list(names[code]) for code in codes.tolist()], index=flags.index, dtype=object)


# A median of fewer known values than this says more about those few orgs than about the base.
MIN_KNOWN_FOR_MEDIAN = 10


def neutral_scores(scores: pd.DataFrame, fallback: float) -> pd.Series:
    """What a missing input counts as: the median of the orgs that have it (a typical account
    of this base) when at least MIN_KNOWN_FOR_MEDIAN orgs have it, else ``fallback`` (50)."""
    known = scores.notna().sum(axis=0)
    return scores.median(axis=0, skipna=True).where(known >= MIN_KNOWN_FOR_MEDIAN).fillna(fallback)


def score_tiers(
    frame: pd.DataFrame,
    as_of: dt.date | dt.datetime,
    mode: str | None = None,
    tiers: TiersConfig = TiersConfig(),
    signals: SignalsConfig = SignalsConfig(),
) -> pd.DataFrame:
    """Value, potential, account priority, quadrant and tier per org (TIER_OUTPUT_COLUMNS)."""
    mode = mode or tiers.mode
    if mode not in tiers.mode_weight:
        raise ValueError(f"mode must be one of {', '.join(tiers.mode_weight)}, got {mode!r}")
    w = float(tiers.mode_weight[mode])
    scores = input_scores(frame, as_of, tiers, signals)
    # A missing input counts as a typical account's, at its full weight: one input that is
    # known can't stand for the whole side, and an org known by little stays near the middle.
    filled = scores.fillna(neutral_scores(scores, tiers.missing_input_score))
    value_all = _weighted(filled[list(VALUE_INPUTS)], tiers.value_weights)
    potential_all = _weighted(filled[list(POTENTIAL_INPUTS)], tiers.potential_weights)
    value_inputs = scores[list(VALUE_INPUTS)].notna().sum(axis=1)
    potential_inputs = scores[list(POTENTIAL_INPUTS)].notna().sum(axis=1)
    # A side not one input is known for is shown as unknown (and gives no quadrant), but still
    # counts at its neutral value in the account priority.
    value = value_all.where(value_inputs > 0)
    potential = potential_all.where(potential_inputs > 0)
    priority = (value_all * w + potential_all * (1 - w)).where((value_inputs + potential_inputs) > 0).round(2)

    split = tiers.quadrant_split
    v_high, p_high = value >= split, potential >= split
    quadrant = np.select([v_high & p_high, ~v_high & p_high, v_high & ~p_high], [STARS, GROWTH_BETS, CASH_COWS],
                         default=MAINTENANCE)
    tier = np.select(
        [priority >= tiers.tier1_from, priority >= tiers.tier2_from, priority >= tiers.tier3_from],
        list(TIERS[:3]),
        default=TIERS[3],
    )
    out = pd.DataFrame({"value": value, "potential": potential, "account_priority": priority}, index=frame.index)
    out["quadrant"] = pd.Series(quadrant, index=frame.index, dtype=object).where(value.notna() & potential.notna(),
                                                                                 None)
    out["tier"] = pd.Series(tier, index=frame.index, dtype=object).where(priority.notna(), None)
    for name in INPUTS:
        out[f"{name}_score"] = scores[name].round(2)
    out["value_inputs"] = value_inputs.astype(int)
    out["potential_inputs"] = potential_inputs.astype(int)
    out["inputs_used"] = _join_names(scores.notna())
    out["inputs_left_out"] = _join_names(scores.isna())
    return out[list(TIER_OUTPUT_COLUMNS)]
