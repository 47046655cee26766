"""Backtest evidence: did past health scores and signals point at the revenue that moved?

A team deciding whether to trust the health score (or to change its weights) needs figures
computed on *its own* history, with the counts behind every figure and an honest "too few to
tell" when the history is thin. This module is the pure computational core of that check:
frames in, figures out, no database and no project imports, so the same numbers come out in a
test, in the CLI and in a notebook.

Input frames (what the SQL side provides)
-----------------------------------------
``observations``: one row per (as-of date D, org paying at D), scored point-in-time at D.

  ==================  ==============  ===================================================
  column              dtype           meaning
  ==================  ==============  ===================================================
  ``as_of``           datetime64[ns]  the as-of day D (naive, midnight; e.g. weekly)
  ``org_id``          str             the org
  ``health``          float64         health 0-100 as scored at D
  ``activity`` …      float64         one column per name in ``COMPONENTS``: the
  ``sentiment``                       component's score 0-100 at D, NaN when left out
  ``priority``        float64         priority 0-100 of the org's top open signal at D;
                                      0 or NaN when no signal was open
  ``mrr``             float64         MRR at D; must be > 0 (only paying orgs are scored)
  ``days_since_seen`` float64         days from the last activity to D; NaN = never seen
  ==================  ==============  ===================================================

  Any index works; every result aligned with observations keeps it.

``mrr_changes``: the MRR history as a step function, one row per change point.

  ===========  ==============  =========================================================
  ``org_id``   str             the org
  ``day``      datetime64[ns]  from this day on (inclusive) the org's MRR is ``mrr``
  ``mrr``      float64         MRR from ``day`` until the org's next change point (0 =
                               no paying subscription)
  ===========  ==============  =========================================================

  MRR only changes when a subscription starts, ends or changes amount, so this is a small
  frame a SQL query builds from subscription start and end dates (a daily MRR snapshot works
  too; repeated equal values are harmless). At most one row per (org_id, day). Only change
  points inside each horizon matter: the baseline is the observation's own ``mrr``.

``open_signals``: one row per signal open at an as-of date. ``open_signals_from_episodes``
builds it from stored episodes: ``org_id``, ``type``, ``opened_at`` and ``closed_at``
(datetimes, tz-aware or naive; ``closed_at`` NaT while open), open at D when opened on or
before D and not closed by D.

  ==============  ==============  ======================================================
  ``as_of``       datetime64[ns]  the as-of day D
  ``org_id``      str             the org
  ``type``        str             stored signal type id (``SIGNAL_TYPES``)
  ``opened_at``   datetime64[ns]  when the episode opened (its day is what counts)
  ==============  ==============  ======================================================

Outcomes (``label_outcomes``)
-----------------------------
Over the horizon (D, D + horizon], with b the MRR at D and e the MRR at the horizon's end:

* churned: e == 0 — the MRR went to zero and stayed zero to the end of the horizon; an org
  that cancels and comes back inside the horizon did not churn;
* contracted: 0 < e < b × (1 − contraction_threshold);
* expanded: e >= b × (1 + expansion_threshold).

The three are exclusive. Judging by where the account *landed* rather than by any dip on the
way ignores a one-day gap while a subscription is swapped. ``outcome_day`` is the first day of
the final stretch of the horizon during which the outcome held (the day the MRR hit zero for a
churn), which is what lead times are measured to.

Figures and their definitions
-----------------------------
* Churn AUC of a risk score (model: 100 − health): the chance that a churned observation
  ranks riskier than one that did not churn, ties counting half (Mann–Whitney with average
  ranks). Scale-free, so it compares the model with baselines measured in dollars or days.
* 95 % interval: percentile bootstrap, resampling observations within each class (so every
  resample has both). Weekly observations of one org are correlated, so the interval is on the
  narrow side; treat it as a lower bound on the uncertainty.
* Component direction: per health component, the churn AUC of 100 − score over the
  observations where it is present. "points the right way" above 0.5 + ``NO_SIGNAL_BAND``,
  "wrong way" below 0.5 − band (low scores went with staying), "no signal" in the band, when
  the component is never present, or with fewer than ``MIN_CHURNS`` churn events.
* Lift: churn rate among the riskiest ``fraction`` of observations ÷ the overall churn rate.
  The cut takes exactly fraction × n observations' worth: rows tied at the cut share the
  remaining places fractionally, which is the expected value under a random tie-break and
  does not depend on row order. Weekly top-k lists use the same rule.
* Signal precision: share of observations with the signal open that were followed by the
  outcome the signal stands for (risk signals → churn or contraction; Expansion candidate →
  expansion). Recall: share of observations with that outcome that had the signal open. Both
  pooled over as-of dates: each as-of date is one look at the list.
* Lead time: days from an episode's opening day to its outcome day, one value per
  (org, type, episode, outcome) so a long-open signal is not counted once per week.
* Top-k precision: per as-of date, the k highest-priority orgs with an open signal; a listed
  org is a hit when its revenue moved the way one of its open signals claims. Baselines rank
  risk only, so for them a hit is a churn or a contraction.
* MRR caught: of the MRR lost to churn (the MRR just before it went to zero, once per churned
  org and churn day), the share whose org had a risk signal open at an as-of date before it.
* Baselines: "MRR alone" ranks the biggest accounts first (what a team without a health score
  tends to do); "days since seen alone" ranks the longest-silent first, never-seen first of
  all. The model's figures are only worth something where they beat these, so each baseline
  carries the model's AUC gain over it with DeLong's interval for two AUCs measured on the
  same observations: above 0 means the model really adds.

Too few
-------
A figure resting on a handful of churns is noise. Figures carry the counts behind them and a
``reason`` when not reported (value NaN). ``require_evidence`` raises ``NotEnoughEvidence``
with one sentence ("only 2 churns in the scored period; at least 5 are needed to score") for
the CLI to print before exiting non-zero. Churns are counted as distinct (org, churn day)
events there: one org that churned is one churn, however many weekly observations saw it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from domain.vocabulary import (  # noqa: F401  (SIGNAL_LABELS and SIGNAL_TYPES are re-exported)
    GROWTH_SIGNAL_TYPES,
    HEALTH_COMPONENTS,
    RISK_SIGNAL_TYPES,
    SIGNAL_LABELS,
    SIGNAL_TYPES,
)

COMPONENTS = HEALTH_COMPONENTS
RISK_SIGNALS = RISK_SIGNAL_TYPES
EXPANSION_SIGNALS = GROWTH_SIGNAL_TYPES

OBSERVATION_COLUMNS = ("as_of", "org_id", "health", *COMPONENTS, "priority", "mrr", "days_since_seen")
MRR_CHANGE_COLUMNS = ("org_id", "day", "mrr")
OPEN_SIGNAL_COLUMNS = ("as_of", "org_id", "type", "opened_at")
EPISODE_COLUMNS = ("org_id", "type", "opened_at", "closed_at")
OUTCOME_COLUMNS = ("churned", "contracted", "expanded", "outcome_day", "mrr_at_end", "mrr_before_outcome")

DEFAULT_HORIZON_DAYS = 60
DEFAULT_EXPANSION_THRESHOLD = 0.10
DEFAULT_TOP_FRACTION = 0.10
DEFAULT_TOP_K = 10
DEFAULT_DRAWS = 1000
DEFAULT_SEED = 20240601
# Below this many churn events an AUC, a lift or a component's direction is not reported.
MIN_CHURNS = 5
# A component whose AUC is within this distance of 0.5 is reported as carrying no signal.
NO_SIGNAL_BAND = 0.02
RED_BELOW = 40.0
GREEN_FROM = 70.0

RIGHT_WAY = "points the right way"
WRONG_WAY = "wrong way"
NO_SIGNAL = "no signal"

MODEL = "health score"
BY_MRR = "MRR alone"
BY_SILENCE = "days since seen alone"


class NotEnoughEvidence(ValueError):
    """The scored period cannot support the figures; the message is one sentence to print."""


# ---------------------------------------------------------------------------------------
# Input plumbing
# ---------------------------------------------------------------------------------------


def as_day(values: pd.Series) -> pd.Series:
    """Datetimes as naive UTC days: stored timestamps are tz-aware while as-of dates are
    plain days, and comparing the two directly raises (or, worse, shifts by the offset)."""
    stamps = pd.to_datetime(values)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.dt.normalize().astype("datetime64[ns]")


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{name} is missing column(s) {', '.join(missing)}")


def _bool_array(labels: Sequence[bool] | pd.Series | np.ndarray) -> np.ndarray:
    """Labels as a bool array; a missing label is a caller bug, not a negative."""
    arr = np.asarray(labels)
    if arr.dtype != bool:
        if pd.isna(arr).any():
            raise ValueError("labels contain missing values")
        arr = arr.astype(bool)
    return arr


def _float_array(scores: Sequence[float] | pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(np.asarray(scores)), errors="coerce"), dtype="float64")


def _scored(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels with the rows whose score is NaN dropped (nothing to rank)."""
    s = _float_array(scores)
    y = _bool_array(labels)
    if s.shape != y.shape:
        raise ValueError(f"scores ({s.shape[0]}) and labels ({y.shape[0]}) differ in length")
    keep = ~np.isnan(s)
    return s[keep], y[keep]


def usable_asof_dates(
    first_day: pd.Timestamp | str,
    history_end: pd.Timestamp | str,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    every_days: int = 7,
) -> pd.DatetimeIndex:
    """As-of days from ``first_day`` every ``every_days`` whose whole horizon lies inside the
    known MRR history: a later as-of day would count a churn that has not happened yet as
    "stayed"."""
    last = pd.Timestamp(history_end).normalize() - pd.Timedelta(days=horizon_days)
    start = pd.Timestamp(first_day).normalize()
    if last < start:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    return pd.date_range(start, last, freq=f"{every_days}D", unit="ns")


def open_signals_from_episodes(observations: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """The ``open_signals`` frame from stored episodes (``EPISODE_COLUMNS``; ``closed_at`` NaT
    while open): an episode is open at D when it opened on or before D and had not closed by
    D. Days, not timestamps, decide, because D stands for the whole day the scan scored."""
    _require_columns(observations, ("as_of", "org_id"), "observations")
    _require_columns(episodes, EPISODE_COLUMNS, "episodes")
    keys = observations[["as_of", "org_id"]].drop_duplicates()
    keys = keys.assign(as_of=as_day(keys["as_of"]))
    eps = episodes.assign(opened_at=as_day(episodes["opened_at"]), closed_at=as_day(episodes["closed_at"]))
    pairs = keys.merge(eps[list(EPISODE_COLUMNS)], on="org_id")
    still_open = pairs["closed_at"].isna() | (pairs["closed_at"] > pairs["as_of"])
    pairs = pairs[(pairs["opened_at"] <= pairs["as_of"]) & still_open]
    return pairs[list(OPEN_SIGNAL_COLUMNS)].reset_index(drop=True)


def signal_flags(
    observations: pd.DataFrame, open_signals: pd.DataFrame, types: Sequence[str] = SIGNAL_TYPES
) -> pd.DataFrame:
    """One bool column per signal type, aligned with ``observations``: was it open at D?"""
    keys = pd.DataFrame(
        {
            "as_of": as_day(observations["as_of"]),
            "org_id": observations["org_id"],
            "_row": np.arange(len(observations)),
        }
    )
    sig = open_signals.assign(as_of=as_day(open_signals["as_of"]))[["as_of", "org_id", "type"]]
    hits = keys.merge(sig, on=["as_of", "org_id"])
    flags = np.zeros((len(observations), len(types)), dtype=bool)
    for col, kind in enumerate(types):  # a handful of types, each vectorized over rows
        flags[hits.loc[hits["type"] == kind, "_row"].to_numpy(), col] = True
    return pd.DataFrame(flags, index=observations.index, columns=list(types))


# ---------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------


def _change_points(changes: pd.DataFrame) -> pd.DataFrame:
    """Only the rows where an org's MRR actually changes: a daily snapshot would otherwise
    pair every observation with every day of its org's history."""
    ordered = changes.sort_values(["org_id", "day"], kind="stable")
    same_org = ordered["org_id"].eq(ordered["org_id"].shift())
    same_mrr = ordered["mrr"].eq(ordered["mrr"].shift())
    return ordered[~(same_org & same_mrr)]


def _horizon_points(obs: pd.DataFrame, changes: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Each observation's change points strictly after D and up to D + horizon, in day order."""
    obs = obs.assign(_end=obs["as_of"] + pd.Timedelta(days=horizon_days))
    pts = obs[["_row", "org_id", "as_of", "_end", "mrr"]].merge(
        changes.rename(columns={"mrr": "point_mrr"}), on="org_id"
    )
    pts = pts[(pts["day"] > pts["as_of"]) & (pts["day"] <= pts["_end"])]
    return pts.sort_values(["_row", "day"], kind="stable")


# Relative slack on the thresholds: 100 × 1.1 is 110.00000000000001 in floating point, and
# a rise of exactly 10 % must count as one.
_SLACK = 1e-9


def _in_state(
    state: np.ndarray, baseline: np.ndarray, value: np.ndarray, expansion: float, contraction: float
) -> np.ndarray:
    """Whether an MRR value is in the outcome ``state`` (1 churned, 2 contracted, 3 expanded)."""
    ratio = value / baseline
    return np.select(
        [state == 1, state == 2, state == 3],
        [value <= 0, (value > 0) & (ratio < 1 - contraction - _SLACK), ratio >= 1 + expansion - _SLACK],
        default=False,
    )


def _outcome_state(baseline: np.ndarray, end: np.ndarray, expansion: float, contraction: float) -> np.ndarray:
    """0 none, 1 churned, 2 contracted, 3 expanded — decided by where the MRR landed."""
    state = np.zeros(baseline.shape[0], dtype=int)
    for code in (3, 2, 1):  # exclusive conditions; three vectorized steps
        state = np.where(
            _in_state(np.full_like(state, code), baseline, end, expansion, contraction), code, state
        )
    return state


def _validate_outcome_inputs(obs: pd.DataFrame, changes: pd.DataFrame) -> None:
    if not (obs["mrr"] > 0).all():
        bad = int((~(obs["mrr"] > 0)).sum())
        raise ValueError(
            f"{bad} observation(s) have no positive MRR at their as-of date; only paying orgs are scored"
        )
    if changes.duplicated(["org_id", "day"]).any():
        raise ValueError("mrr_changes has more than one row for an (org_id, day)")
    if changes["mrr"].isna().any():
        raise ValueError("mrr_changes has missing MRR values")


def label_outcomes(
    observations: pd.DataFrame,
    mrr_changes: pd.DataFrame,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    expansion_threshold: float = DEFAULT_EXPANSION_THRESHOLD,
    contraction_threshold: float = 0.0,
    history_end: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Per observation: ``churned``, ``contracted``, ``expanded`` (bool), ``outcome_day``
    (NaT when none), ``mrr_at_end`` (MRR at D + horizon) and ``mrr_before_outcome`` (the MRR
    the day before the outcome day: the MRR lost for a churn; NaN when none).

    ``history_end`` (the last day the MRR history is complete) guards against labelling an
    as-of day whose horizon is still running: its churns have not happened yet.
    """
    _require_columns(observations, ("as_of", "org_id", "mrr"), "observations")
    _require_columns(mrr_changes, MRR_CHANGE_COLUMNS, "mrr_changes")
    obs = pd.DataFrame(
        {
            "_row": np.arange(len(observations)),
            "org_id": observations["org_id"].to_numpy(),
            "as_of": as_day(observations["as_of"]).to_numpy(),
            "mrr": pd.to_numeric(observations["mrr"], errors="coerce").to_numpy(dtype="float64"),
        }
    )
    changes = mrr_changes[list(MRR_CHANGE_COLUMNS)].assign(
        day=as_day(mrr_changes["day"]),
        mrr=pd.to_numeric(mrr_changes["mrr"], errors="coerce").astype("float64"),
    )
    _validate_outcome_inputs(obs, changes)
    if history_end is not None and len(obs):
        last_end = obs["as_of"].max() + pd.Timedelta(days=horizon_days)
        if last_end > pd.Timestamp(history_end).normalize():
            raise ValueError(
                f"the horizon of as-of day {obs['as_of'].max():%Y-%m-%d} ends after the MRR history "
                f"({pd.Timestamp(history_end):%Y-%m-%d}); use usable_asof_dates"
            )

    pts = _horizon_points(obs, _change_points(changes), horizon_days)
    baseline = obs["mrr"].to_numpy()
    end = pts.groupby("_row")["point_mrr"].last().reindex(obs["_row"]).to_numpy()
    end = np.where(np.isnan(end), baseline, end)
    state = _outcome_state(baseline, end, expansion_threshold, contraction_threshold)

    # The final stretch starts at the first change point after the last one outside the state
    # (D itself, at the baseline, is never in an outcome state).
    row = pts["_row"].to_numpy()
    inside = _in_state(
        state[row], baseline[row], pts["point_mrr"].to_numpy(), expansion_threshold, contraction_threshold
    )
    last_outside = pts.loc[~inside].groupby("_row")["day"].max().reindex(obs["_row"])
    last_outside_day = last_outside.fillna(obs.set_index("_row")["as_of"]).to_numpy()
    after = pts["day"].to_numpy() > last_outside_day[row]
    outcome_day = pts.loc[inside & after].groupby("_row")["day"].min().reindex(obs["_row"]).to_numpy()
    outcome_day = np.where(state > 0, outcome_day, np.datetime64("NaT"))

    before = _value_before(pts, obs, outcome_day)
    out = pd.DataFrame(
        {
            "churned": state == 1,
            "contracted": state == 2,
            "expanded": state == 3,
            "outcome_day": pd.to_datetime(outcome_day).astype("datetime64[ns]"),
            "mrr_at_end": end,
            "mrr_before_outcome": np.where(state > 0, before, np.nan),
        },
        index=observations.index,
    )
    return out


def _value_before(pts: pd.DataFrame, obs: pd.DataFrame, outcome_day: np.ndarray) -> np.ndarray:
    """MRR in force the day before each outcome day (the baseline if nothing changed first)."""
    row = pts["_row"].to_numpy()
    earlier = pts["day"].to_numpy() < outcome_day[row]
    last = pts.loc[earlier].groupby("_row")["point_mrr"].last().reindex(obs["_row"]).to_numpy()
    return np.where(np.isnan(last), obs["mrr"].to_numpy(), last)


def churn_event_ids(observations: pd.DataFrame, outcomes: pd.DataFrame) -> pd.Series:
    """A key per churned observation naming its churn event (org and churn day), None for
    the rest: one org that churned once is one churn, however many as-of dates saw it."""
    day = outcomes["outcome_day"].dt.strftime("%Y-%m-%d")
    key = observations["org_id"].astype(str) + "@" + day
    return key.where(outcomes["churned"].astype(bool), None)


def count_events(event_ids: pd.Series, mask: np.ndarray | pd.Series | None = None) -> int:
    """Distinct non-null event ids (optionally among rows where ``mask`` holds)."""
    ids = event_ids if mask is None else event_ids[np.asarray(mask, dtype=bool)]
    return int(ids.dropna().nunique())


# ---------------------------------------------------------------------------------------
# Ranking metrics
# ---------------------------------------------------------------------------------------


def _average_ranks(sorted_scores: np.ndarray) -> np.ndarray:
    """1-based ranks of already sorted values, tied values sharing their average rank."""
    n = sorted_scores.shape[0]
    new_group = np.empty(n, dtype=bool)
    new_group[:1] = True
    new_group[1:] = sorted_scores[1:] != sorted_scores[:-1]
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], n)
    group = np.cumsum(new_group) - 1
    return ((starts + 1 + ends) / 2.0)[group]


def auc_arrays(s: np.ndarray, y: np.ndarray) -> float:
    """``roc_auc`` for a float array without NaN and a bool array of the same length, minus
    the checks: the weight fit calls it thousands of times."""
    n_pos = int(y.sum())
    n_neg = y.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(s, kind="stable")
    rank_sum = _average_ranks(s[order])[y[order]].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_auc(scores, labels) -> float:
    """Mann–Whitney AUC of ``scores`` (higher = more likely positive) for bool ``labels``;
    ties count half. Rows with a NaN score are left out; NaN when only one class remains."""
    return auc_arrays(*_scored(scores, labels))


# Elements per block of bootstrap draws (draws × observations or levels): bounds memory.
_BLOCK_ELEMENTS = 4_000_000


def _levels(s: np.ndarray) -> tuple[np.ndarray, int]:
    """Each value's index among the sorted distinct values, and how many there are."""
    _, index = np.unique(s, return_inverse=True)
    index = index.reshape(-1)
    return index, int(index.max()) + 1 if index.size else 0


def _bincount_rows(picked_levels: np.ndarray, m: int) -> np.ndarray:
    """Per row of ``picked_levels`` (draws × picks), how many picks fell on each level."""
    size = picked_levels.shape[0]
    flat = (picked_levels + (np.arange(size) * m)[:, None]).ravel()
    return np.bincount(flat, minlength=size * m).reshape(size, m)


def _drawn_level_counts(rng: np.random.Generator, size: int, row_levels: np.ndarray, m: int) -> np.ndarray:
    """Level counts of ``size`` resamples, with replacement, of rows with these levels.

    Rows at the same level are interchangeable for the AUC, so a resample is a multinomial
    over levels: cheap when levels are few (health rounded to 0.1 has at most 1001). With
    many levels, drawing row indices and counting them costs less. Same distribution.
    """
    n = row_levels.size
    if 3 * m < n:
        return rng.multinomial(n, np.bincount(row_levels, minlength=m) / n, size=size)
    return _bincount_rows(row_levels[rng.integers(0, n, size=(size, n), dtype=np.int32)], m)


def _aucs_from_counts(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUC per row from class counts per level (levels ascending): each positive beats the
    negatives below its level and ties half of those at it."""
    below_and_half = np.cumsum(neg, axis=1) - 0.5 * neg
    return (pos * below_and_half).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def _percentile_interval(values: list[np.ndarray], level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(np.concatenate(values), [tail, 100.0 - tail])
    return (float(low), float(high))


def bootstrap_auc_interval(
    scores, labels, draws: int = DEFAULT_DRAWS, seed: int = DEFAULT_SEED, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``roc_auc``, resampling observations within each
    class (so every resample has both), a block of draws at a time. Deterministic for a
    seed. (NaN, NaN) when only one class is present."""
    s, y = _scored(scores, labels)
    if y.all() or not y.any() or draws < 1:
        return (math.nan, math.nan)
    row_levels, m = _levels(s)
    rng = np.random.default_rng(seed)
    block = max(1, min(draws, _BLOCK_ELEMENTS // max(m, y.shape[0])))
    aucs = []
    for start in range(0, draws, block):  # one loop step per block of draws
        size = min(block, draws - start)
        pos = _drawn_level_counts(rng, size, row_levels[y], m)
        neg = _drawn_level_counts(rng, size, row_levels[~y], m)
        aucs.append(_aucs_from_counts(pos, neg))
    return _percentile_interval(aucs, level)


def _midranks(s: np.ndarray) -> np.ndarray:
    """1-based ranks in the original order, ties sharing their average rank."""
    order = np.argsort(s, kind="stable")
    ranks = np.empty(s.shape[0], dtype="float64")
    ranks[order] = _average_ranks(s[order])
    return ranks


def _placements(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values: per positive, the share of negatives it beats (ties ½);
    per negative, the share of positives that beat it. Their means are both the AUC."""
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    overall = _midranks(s)
    pos = (overall[y] - _midranks(s[y])) / n_neg
    neg = 1.0 - (overall[~y] - _midranks(s[~y])) / n_pos
    return pos, neg


def auc_difference_interval(score_a, score_b, labels, level: float = 0.95) -> tuple[float, float]:
    """Interval of AUC(a) − AUC(b) on the same observations, by DeLong's method for
    correlated ROC curves: the variance of the difference from each observation's placement
    values under both scores. Pairing matters: two rankings of the same orgs share most of
    their luck, so their difference is far better determined than either AUC alone, and an
    interval that excludes 0 says one ranking really is better on this data. Exact variance
    in O(n log n), no draws, so it stays instant at 100k observations where a paired
    bootstrap takes seconds per comparison. Rows where either score is NaN are left out;
    (NaN, NaN) with only one class (or a single observation in a class)."""
    a, b, y = _float_array(score_a), _float_array(score_b), _bool_array(labels)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b, y = a[keep], b[keep], y[keep]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos < 2 or n_neg < 2:
        return (math.nan, math.nan)
    pos_a, neg_a = _placements(a, y)
    pos_b, neg_b = _placements(b, y)
    variance = np.var(pos_a - pos_b, ddof=1) / n_pos + np.var(neg_a - neg_b, ddof=1) / n_neg
    diff = pos_a.mean() - pos_b.mean()
    half = NormalDist().inv_cdf(0.5 + level / 2.0) * math.sqrt(max(float(variance), 0.0))
    return (float(diff - half), float(diff + half))


def _cut_counts(scores, groups=None, eligible=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: listable at all, how many listable rows of its group score strictly higher,
    and how many share its score. Any top-k cut follows from these without re-ranking."""
    s = pd.Series(_float_array(scores))
    g = pd.Series(np.zeros(len(s), dtype=int) if groups is None else np.asarray(groups))
    ok = s.notna().to_numpy()
    if eligible is not None:
        ok = ok & np.asarray(eligible, dtype=bool)
    above = np.zeros(len(s), dtype="float64")
    tied = np.ones(len(s), dtype="float64")
    if ok.any():
        frame = pd.DataFrame({"g": g[ok].to_numpy(), "s": s[ok].to_numpy()})
        above[ok] = frame.groupby("g")["s"].rank(method="min", ascending=False).to_numpy() - 1.0
        tied[ok] = frame.groupby(["g", "s"])["s"].transform("size").to_numpy()
    return ok, above, tied


def _cut_weights(ok: np.ndarray, above: np.ndarray, tied: np.ndarray, k: float) -> np.ndarray:
    return np.where(ok, np.clip((k - above) / tied, 0.0, 1.0), 0.0)


def top_k_weights(scores, k: float, groups=None, eligible=None) -> np.ndarray:
    """Each row's share of a place among the ``k`` highest scores of its group (0..1).

    Rows strictly inside the cut get 1, rows beyond it 0, and rows tied at the cut share the
    places left equally, so a group's weights sum to min(k, eligible rows) whatever the row
    order. Rows with a NaN score or not ``eligible`` get 0. ``k`` may be fractional.
    """
    return _cut_weights(*_cut_counts(scores, groups, eligible), k)


def _top_fraction_rate(s: np.ndarray, y: np.ndarray, fraction: float) -> float:
    w = top_k_weights(s, fraction * s.shape[0])
    total = w.sum()
    return float((w * y).sum() / total) if total > 0 else math.nan


def top_fraction_lift(scores, labels, fraction: float = DEFAULT_TOP_FRACTION) -> float:
    """Churn rate among the riskiest ``fraction`` (ties at the cut shared) ÷ overall churn
    rate; NaN when there is no churn or nothing to rank."""
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    s, y = _scored(scores, labels)
    if s.shape[0] == 0 or not y.any():
        return math.nan
    return _top_fraction_rate(s, y, fraction) / float(y.mean())


def risk_decile_rates(scores, labels, bins: int = 10) -> pd.DataFrame:
    """Churn rate per risk slice, riskiest first (``decile`` 1), for the lift chart.

    Slices are differences of the top-fraction cuts, so ties are shared the same way as in
    ``top_fraction_lift`` and decile 1's rate ÷ the overall rate is exactly the lift.
    Columns: ``decile``, ``observations`` (n / bins), ``churns`` (may be fractional at a
    shared tie), ``churn_rate``.
    """
    s, y = _scored(scores, labels)
    n = s.shape[0]
    counts = _cut_counts(s)
    cuts = np.array([_cut_weights(*counts, n * j / bins) for j in range(bins + 1)])  # bins + 1 cuts
    slices = np.diff(cuts, axis=0)
    size = slices.sum(axis=1)
    churns = (slices * y).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(size > 0, churns / size, np.nan)
    return pd.DataFrame(
        {"decile": np.arange(1, bins + 1), "observations": size, "churns": churns, "churn_rate": rate}
    )


def health_band_rates(
    health, labels, red_below: float = RED_BELOW, green_from: float = GREEN_FROM
) -> pd.DataFrame:
    """Churn rate per health band (red below ``red_below``, green from ``green_from``,
    yellow between): the plainest check that "red" means what it says."""
    h, y = _scored(health, labels)
    band = np.select([h < red_below, h >= green_from], ["red", "green"], default="yellow")
    rows = []
    for name in ("red", "yellow", "green"):
        inside = band == name
        n = int(inside.sum())
        c = int(y[inside].sum())
        rows.append({"band": name, "observations": n, "churns": c, "churn_rate": c / n if n else math.nan})
    return pd.DataFrame(rows)


def top_list_precision(
    as_of, priority, hits, k: int = DEFAULT_TOP_K, eligible=None
) -> tuple[float, float, float]:
    """Precision of the per-as-of-date top-``k`` list, pooled over dates: (precision, list
    places, hits). Without ``eligible``, only rows with priority > 0 (an open signal) can be
    listed, so a quiet week has a shorter list rather than filler."""
    p = _float_array(priority)
    ok = (p > 0) if eligible is None else np.asarray(eligible, dtype=bool)
    w = top_k_weights(p, k, groups=as_day(pd.Series(np.asarray(as_of))), eligible=ok)
    places = float(w.sum())
    hit_sum = float((w * _bool_array(hits)).sum())
    return (hit_sum / places if places > 0 else math.nan, places, hit_sum)


# ---------------------------------------------------------------------------------------
# Components and signals
# ---------------------------------------------------------------------------------------


def _direction(auc: float, observations: int, churns: int, min_churns: int, band: float) -> tuple[str, str]:
    if observations == 0:
        return NO_SIGNAL, "never present in the period"
    if churns < min_churns:
        return (
            NO_SIGNAL,
            f"only {churns} churn{'s' if churns != 1 else ''} where present; at least {min_churns} are needed",
        )
    if math.isnan(auc):
        return NO_SIGNAL, "every observation where present churned"
    if abs(auc - 0.5) < band:
        return NO_SIGNAL, f"AUC within {band:g} of 0.5"
    return (RIGHT_WAY, "") if auc > 0.5 else (WRONG_WAY, "low scores went with staying, not churning")


def component_auc(
    component_scores: pd.DataFrame,
    labels,
    min_churns: int = MIN_CHURNS,
    band: float = NO_SIGNAL_BAND,
    event_ids: pd.Series | None = None,
) -> pd.DataFrame:
    """Per component (each column, 0-100): churn AUC of 100 − score where the component is
    present, with ``observations``, ``churns`` (distinct churn events when ``event_ids`` is
    given, else churned observations), ``direction`` and, when not "points the right way",
    a ``reason``. Shows which components carry signal on this team's data."""
    y = _bool_array(labels)
    rows = []
    for name in component_scores.columns:  # one step per component, vectorized over rows
        score = _float_array(component_scores[name])
        present = ~np.isnan(score)
        churns = int(y[present].sum()) if event_ids is None else count_events(event_ids, present & y)
        auc = roc_auc(100.0 - score[present], y[present]) if churns >= min_churns else math.nan
        direction, reason = _direction(auc, int(present.sum()), churns, min_churns, band)
        rows.append(
            {
                "component": name,
                "observations": int(present.sum()),
                "churns": churns,
                "auc": auc,
                "direction": direction,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows, columns=["component", "observations", "churns", "auc", "direction", "reason"])


def _signal_outcome(kind: str, outcomes: pd.DataFrame) -> np.ndarray:
    """The outcome a signal type stands for: expansion for expansion signals, else a loss."""
    if kind in EXPANSION_SIGNALS:
        return outcomes["expanded"].to_numpy(dtype=bool)
    return (outcomes["churned"] | outcomes["contracted"]).to_numpy(dtype=bool)


def _median_lead_days(observations, outcomes, open_signals, kind: str) -> tuple[float, int]:
    """Median days from an episode's opening day to its outcome day, one value per
    (org, type, opening, outcome day), over observations where the signal was right."""
    matched = _signal_outcome(kind, outcomes)
    rows = pd.DataFrame(
        {
            "as_of": as_day(observations["as_of"]).to_numpy(),
            "org_id": observations["org_id"].to_numpy(),
            "outcome_day": outcomes["outcome_day"].to_numpy(),
        }
    )[matched]
    sig = open_signals[open_signals["type"] == kind]
    sig = sig.assign(as_of=as_day(sig["as_of"]), opened_at=as_day(sig["opened_at"]))
    episodes = rows.merge(sig, on=["as_of", "org_id"])[
        ["org_id", "opened_at", "outcome_day"]
    ].drop_duplicates()
    if episodes.empty:
        return math.nan, 0
    lead = (episodes["outcome_day"] - episodes["opened_at"]).dt.days
    return float(lead.median()), int(len(episodes))


def signal_precision_recall(
    observations: pd.DataFrame,
    outcomes: pd.DataFrame,
    open_signals: pd.DataFrame,
    types: Sequence[str] = SIGNAL_TYPES,
) -> pd.DataFrame:
    """Per signal type: ``type``, ``label``, ``signal_observations`` (open at an as-of
    date), ``hits`` (open and followed by its outcome), ``precision``,
    ``outcome_observations``, ``recall``, ``lead_episodes`` and ``median_lead_days`` (see the
    module docstring for each definition)."""
    flags = signal_flags(observations, open_signals, types)
    rows = []
    for kind in types:  # a handful of types, each vectorized over rows
        flag = flags[kind].to_numpy()
        outcome = _signal_outcome(kind, outcomes)
        hits = int((flag & outcome).sum())
        lead, episodes = _median_lead_days(observations, outcomes, open_signals, kind)
        rows.append(
            {
                "type": kind,
                "label": SIGNAL_LABELS.get(kind, kind),
                "signal_observations": int(flag.sum()),
                "hits": hits,
                "precision": hits / flag.sum() if flag.any() else math.nan,
                "outcome_observations": int(outcome.sum()),
                "recall": hits / outcome.sum() if outcome.any() else math.nan,
                "lead_episodes": episodes,
                "median_lead_days": lead,
            }
        )
    return pd.DataFrame(rows)


def mrr_caught(
    observations: pd.DataFrame, outcomes: pd.DataFrame, risk_flag
) -> tuple[float, float, float, int, int]:
    """Share of MRR lost to churn whose org had a risk signal open before it churned:
    (share, lost MRR, caught MRR, churn events, caught events). Each churn event (org, churn
    day) counts once, with the MRR just before it, taken from the as-of date nearest to it."""
    churned = outcomes["churned"].to_numpy(dtype=bool)
    events = pd.DataFrame(
        {
            "org_id": observations["org_id"].to_numpy(),
            "as_of": as_day(observations["as_of"]).to_numpy(),
            "day": outcomes["outcome_day"].to_numpy(),
            "lost": outcomes["mrr_before_outcome"].to_numpy(),
            "flag": np.asarray(risk_flag, dtype=bool),
        }
    )[churned]
    if events.empty:
        return math.nan, 0.0, 0.0, 0, 0
    per_event = (
        events.sort_values("as_of")
        .groupby(["org_id", "day"])
        .agg(lost=("lost", "last"), flag=("flag", "any"))
    )
    lost = float(per_event["lost"].sum())
    caught = float(per_event.loc[per_event["flag"], "lost"].sum())
    share = caught / lost if lost > 0 else math.nan
    return share, lost, caught, int(len(per_event)), int(per_event["flag"].sum())


# ---------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One reported number with the counts behind it.

    ``observations`` is what it rests on (observations for an AUC or a lift, list places for
    a top-k precision, churn events for MRR caught) and ``positives`` how many of those are
    churns / hits / caught (fractional only when a tie at a cut is shared). ``value`` is NaN
    when not reported, and then ``reason`` says why in a few words.
    """

    value: float
    observations: float
    positives: float
    low: float = math.nan
    high: float = math.nan
    reason: str = ""

    @property
    def reported(self) -> bool:
        return not math.isnan(self.value)


@dataclass(frozen=True)
class RankingFigures:
    """The headline figures of one way of ranking orgs (the model or a baseline)."""

    name: str
    auc: Figure
    lift: Figure
    top_precision: Figure
    # For a baseline: the model's AUC minus this one's, with DeLong's 95 % interval (above 0
    # means the model really ranks churn better here). None for the model.
    model_gain: Figure | None = None


@dataclass(frozen=True)
class BacktestResult:
    """Everything the report shows. ``rankings[0]`` is the model, then the baselines.

    Frames: ``components`` (``component_auc``), ``signals`` (``signal_precision_recall``),
    ``risk_deciles`` (``risk_decile_rates`` of the model) and ``health_bands``
    (``health_band_rates``).
    """

    horizon_days: int | None
    first_asof: pd.Timestamp | None
    last_asof: pd.Timestamp | None
    asof_dates: int
    observations: int
    churned_observations: int
    churn_events: int
    top_fraction: float
    top_k: int
    rankings: tuple[RankingFigures, ...]
    mrr_caught: Figure
    lost_mrr: float
    caught_mrr: float
    components: pd.DataFrame
    signals: pd.DataFrame
    risk_deciles: pd.DataFrame
    health_bands: pd.DataFrame

    @property
    def model(self) -> RankingFigures:
        return self.rankings[0]

    def comparison(self) -> pd.DataFrame:
        """Tidy model-vs-baselines table: one row per ranking."""
        return comparison_table(self.rankings)


def comparison_table(rankings: Iterable[RankingFigures]) -> pd.DataFrame:
    """One row per ranking: AUC with its interval, lift, top-k precision and the model's AUC
    gain over it, with counts."""
    rows = [
        {
            "ranking": r.name,
            "auc": r.auc.value,
            "auc_low": r.auc.low,
            "auc_high": r.auc.high,
            "observations": int(r.auc.observations),
            "churns": int(r.auc.positives),
            "lift": r.lift.value,
            "top_precision": r.top_precision.value,
            "top_places": r.top_precision.observations,
            "top_hits": r.top_precision.positives,
            "model_gain": r.model_gain.value if r.model_gain else math.nan,
            "model_gain_low": r.model_gain.low if r.model_gain else math.nan,
            "model_gain_high": r.model_gain.high if r.model_gain else math.nan,
        }
        for r in rankings
    ]
    return pd.DataFrame(rows)


def _too_few(events: int, min_churns: int) -> str:
    if events >= min_churns:
        return ""
    return f"only {events} churn{'s' if events != 1 else ''}; at least {min_churns} are needed"


def _auc_and_lift(
    risk: np.ndarray,
    churned: np.ndarray,
    events: int,
    *,
    fraction: float,
    draws: int,
    seed: int,
    min_churns: int,
) -> tuple[Figure, Figure]:
    """AUC (with interval) and lift of one risk ranking, or NaN with a reason when the churn
    events behind them are too few."""
    s, y = _scored(risk, churned)
    n, pos = float(s.shape[0]), float(y.sum())
    reason = _too_few(events, min_churns)
    if reason:
        return Figure(math.nan, n, pos, reason=reason), Figure(math.nan, n, pos, reason=reason)
    low, high = bootstrap_auc_interval(s, y, draws=draws, seed=seed)
    return Figure(roc_auc(s, y), n, pos, low, high), Figure(top_fraction_lift(s, y, fraction), n, pos)


def _model_gain(
    model_risk: np.ndarray, risk: np.ndarray, churned: np.ndarray, model_auc: Figure, auc: Figure
) -> Figure:
    """The model's AUC minus a baseline's on the same observations, with DeLong's interval."""
    if not (model_auc.reported and auc.reported):
        return Figure(math.nan, auc.observations, auc.positives, reason=auc.reason or model_auc.reason)
    low, high = auc_difference_interval(model_risk, risk, churned)
    return Figure(model_auc.value - auc.value, auc.observations, auc.positives, low, high)


def _top_figure(
    as_of: pd.Series, ranking: np.ndarray, hits: np.ndarray, k: int, eligible: np.ndarray
) -> Figure:
    """Weekly top-k precision as a figure resting on the list places filled."""
    precision, places, hit_sum = top_list_precision(as_of, ranking, hits, k=k, eligible=eligible)
    return Figure(precision, places, hit_sum, reason="" if places else "nothing was listed")


def backtest(
    observations: pd.DataFrame,
    outcomes: pd.DataFrame,
    open_signals: pd.DataFrame,
    *,
    horizon_days: int | None = None,
    top_fraction: float = DEFAULT_TOP_FRACTION,
    top_k: int = DEFAULT_TOP_K,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
    min_churns: int = MIN_CHURNS,
    components: Sequence[str] = COMPONENTS,
    red_below: float = RED_BELOW,
    green_from: float = GREEN_FROM,
) -> BacktestResult:
    """All backtest figures for ``observations`` with their ``outcomes`` (``label_outcomes``,
    same index) and ``open_signals``. ``horizon_days`` is only carried into the report.
    Figures resting on fewer than ``min_churns`` churn events are NaN with a reason; call
    ``require_evidence`` first to refuse the whole run instead."""
    _require_columns(
        observations,
        ("as_of", "org_id", "health", "priority", "mrr", "days_since_seen", *components),
        "observations",
    )
    _require_columns(outcomes, OUTCOME_COLUMNS, "outcomes")
    if not observations.index.equals(outcomes.index):
        raise ValueError("outcomes must be aligned with observations (same index)")
    as_of = as_day(observations["as_of"])
    churned = outcomes["churned"].to_numpy(dtype=bool)
    lost = churned | outcomes["contracted"].to_numpy(dtype=bool)
    event_ids = churn_event_ids(observations, outcomes)
    events = count_events(event_ids)
    flags = signal_flags(observations, open_signals)
    risk_flag = flags[[t for t in RISK_SIGNALS if t in flags]].any(axis=1).to_numpy()
    exp_flag = flags[[t for t in EXPANSION_SIGNALS if t in flags]].any(axis=1).to_numpy()
    model_hits = (risk_flag & lost) | (exp_flag & outcomes["expanded"].to_numpy(dtype=bool))

    health = _float_array(observations["health"])
    priority = _float_array(observations["priority"])
    silence = _float_array(observations["days_since_seen"])
    silence = np.where(np.isnan(silence), np.inf, silence)
    mrr = _float_array(observations["mrr"])
    common: dict[str, Any] = dict(fraction=top_fraction, draws=draws, seed=seed, min_churns=min_churns)
    everyone = np.ones(len(observations), dtype=bool)
    # The model ranks risk by 100 − health for AUC and lift, and lists by signal priority.
    model_auc, model_lift = _auc_and_lift(100.0 - health, churned, events, **common)
    rankings = [
        RankingFigures(
            MODEL, model_auc, model_lift, _top_figure(as_of, priority, model_hits, top_k, priority > 0)
        )
    ]
    for name, risk in ((BY_MRR, mrr), (BY_SILENCE, silence)):
        auc, lift = _auc_and_lift(risk, churned, events, **common)
        gain = _model_gain(100.0 - health, risk, churned, model_auc, auc)
        rankings.append(
            RankingFigures(name, auc, lift, _top_figure(as_of, risk, lost, top_k, everyone), gain)
        )
    share, lost_mrr, caught_mrr, n_events, n_caught = mrr_caught(observations, outcomes, risk_flag)
    caught_fig = Figure(share, n_events, n_caught, reason="" if n_events else "no churn in the period")
    return BacktestResult(
        horizon_days=horizon_days,
        first_asof=as_of.min() if len(as_of) else None,
        last_asof=as_of.max() if len(as_of) else None,
        asof_dates=int(as_of.nunique()),
        observations=len(observations),
        churned_observations=int(churned.sum()),
        churn_events=events,
        top_fraction=top_fraction,
        top_k=top_k,
        rankings=tuple(rankings),
        mrr_caught=caught_fig,
        lost_mrr=lost_mrr,
        caught_mrr=caught_mrr,
        components=component_auc(observations[list(components)], churned, min_churns, event_ids=event_ids),
        signals=signal_precision_recall(observations, outcomes, open_signals),
        risk_deciles=risk_decile_rates(100.0 - health, churned),
        health_bands=health_band_rates(health, churned, red_below, green_from),
    )


def require_evidence(
    observations: pd.DataFrame, outcomes: pd.DataFrame, min_churns: int = MIN_CHURNS
) -> None:
    """Raise ``NotEnoughEvidence`` with one printable sentence when the scored period cannot
    support a backtest: no observations, fewer than ``min_churns`` churn events, or nobody
    who stayed to compare the churns with."""
    if len(observations) == 0:
        raise NotEnoughEvidence("no paying org was scored in the period; choose a period with MRR history")
    events = count_events(churn_event_ids(observations, outcomes))
    if events < min_churns:
        noun = "churn" if events == 1 else "churns"
        raise NotEnoughEvidence(
            f"only {events} {noun} in the scored period; at least {min_churns} are needed to score"
        )
    if bool(outcomes["churned"].all()):
        raise NotEnoughEvidence(
            "every scored org churned; at least one org that stayed is needed to compare with"
        )
