"""Calibrate health weights on a team's own history, and check them on a later period.

The shipped weights (activity 30, breadth 20, …) are a reasonable guess for a typical B2B
product; on a given team's data a component may carry no signal, or even point the wrong
way. This module fits weights that rank past churns best on an earlier period and reports,
on a later period the fit never saw, whether they beat the current weights. Pure: frames in,
figures out; the CLI reads the history and prints the result.

Input
-----
``frame``: one row per (as-of date, org), as in ``scoring.evaluation``'s observations:

* ``as_of`` (datetime64[ns]) — the as-of day; the split is by these dates;
* one float64 column per component in ``COMPONENTS`` — the score 0-100, NaN when left out;
* ``churned`` (bool) — ``scoring.evaluation.label_outcomes``' label.

Health the product's way
------------------------
health = Σ w_c·s_c / Σ w_c over the components present for that org, rounded to 0.1 like the
product; risk = 100 − health. An org whose present components all weigh 0 has no health; it
is given risk 50 (no opinion) so every candidate weight vector is judged on the same rows.

The fit
-------
Weights are non-negative whole points summing to 100 (a component may get 0). The objective
is the churn AUC of risk on the training part minus a light pull toward the current weights:
``penalty`` AUC per 100 points of total absolute change (default 0.005, so moving 20 points
from one component to another must buy at least 0.002 AUC). AUC is a step function of the
weights, so many weight vectors tie or differ by a hair; the pull breaks those ties toward
the current weights and leaves components without data in the period where they were.

The pull is deliberately light, because it is not what protects against overfitting: how
much AUC noise can buy depends on the sample size, so no fixed pull is right everywhere (on
churn unrelated to every component, a pull strong enough to hold 3,000 observations still
lets weights wander). The protection is the held-out check below: the suggested weights
count as an improvement only when the 95 % interval of the held-out AUC gain (suggested −
current on the same held-out orgs, DeLong's method for correlated AUCs) lies above 0.

Search, without scipy: steepest-ascent moves of ``step`` points from one component to
another, over shrinking steps (20, 10, 5, 2, 1), from the current weights and from uniform
weights; the best end point wins. Deterministic, and ~10k observations × 6 components fit in
a second or two.

Evaluation: a time split, never random (``time_split``): everything in training is strictly
earlier than everything held out, optionally with a gap of ``gap_days`` (pass the outcome
horizon) so no training label looks into the held-out period. The result carries AUC and
top-decile lift before (current weights) and after (suggested, rounded weights) on the
held-out part, the held-out AUC gain with its interval, the counts behind them, and
warnings when the held-out evidence is too thin to act on (fewer than ``MIN_TEST_CHURNS``
churned observations, an AUC interval wider than ``MAX_INTERVAL_WIDTH``, or a gain whose
interval does not lie above 0). Fewer than ``MIN_TRAIN_CHURNS`` training churns, or a
held-out period without both classes, raise ``NotEnoughEvidence`` instead: there is nothing
to fit or nothing to compare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from domain.config import HealthConfig

from scoring.evaluation import (
    COMPONENTS,
    DEFAULT_DRAWS,
    DEFAULT_SEED,
    DEFAULT_TOP_FRACTION,
    NotEnoughEvidence,
    as_day,
    auc_arrays,
    auc_difference_interval,
    bootstrap_auc_interval,
    top_fraction_lift,
)

# The product's shipped weights: what "before" means when no configuration is given.
DEFAULT_WEIGHTS = {name: int(weight) for name, weight in HealthConfig().weights.items()}
DEFAULT_TRAIN_FRACTION = 0.6
DEFAULT_PENALTY = 0.005
STEPS = (20.0, 10.0, 5.0, 2.0, 1.0)
MAX_PASSES_PER_STEP = 100
MIN_TRAIN_CHURNS = 5
MIN_TEST_CHURNS = 20
MAX_INTERVAL_WIDTH = 0.15
NEUTRAL_RISK = 50.0


def _weight_vector(weights: Mapping[str, float], components: Sequence[str]) -> np.ndarray:
    """Weights in component order, scaled to sum to 100 (only proportions matter)."""
    missing = [c for c in components if c not in weights]
    if missing:
        raise KeyError(f"weights are missing component(s) {', '.join(missing)}")
    w = np.array([float(weights[c]) for c in components])
    if (w < 0).any() or not w.sum() > 0:
        raise ValueError("weights must be non-negative with a positive sum")
    return w * (100.0 / w.sum())


def _component_arrays(frame: pd.DataFrame, components: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(scores with NaN as 0, presence as 0/1): health is then two matrix products."""
    scores = frame[list(components)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    present = ~np.isnan(scores)
    return np.where(present, scores, 0.0), present.astype("float64")


def _risk(filled: np.ndarray, present: np.ndarray, w: np.ndarray) -> np.ndarray:
    den = present @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        health = np.round((filled @ w) / den, 1)
    return np.where(den > 0, 100.0 - health, NEUTRAL_RISK)


def health_from_components(
    components: pd.DataFrame, weights: Mapping[str, float], names: Sequence[str] = COMPONENTS
) -> pd.Series:
    """Health 0-100 the product's way (re-normalised over present components, rounded to
    0.1); NaN where every present component weighs 0 or none is present."""
    filled, present = _component_arrays(components, names)
    w = _weight_vector(weights, names)
    den = present @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        health = np.where(den > 0, np.round((filled @ w) / den, 1), np.nan)
    return pd.Series(health, index=components.index, name="health")


class SplitError(ValueError):
    """The history cannot be split into a training and a held-out part: too few as-of dates,
    or none left after the gap. Its own type so callers tell it from a programming error."""


def time_split(
    frame: pd.DataFrame,
    asof_column: str = "as_of",
    train_fraction: float = DEFAULT_TRAIN_FRACTION,
    gap_days: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) by as-of date: the earliest dates train, and dates more than ``gap_days``
    after the last training date are held out; the split point is the one that gives the
    training part the share of the *used* observations (train + held out) closest to
    ``train_fraction`` (the earlier point on a tie). Counting only what is used keeps a long
    gap from eating the held-out period: a gap of a 60-day horizon is two months of dates
    that neither side may use. Whole dates stay on one side, so every training row is
    strictly earlier than every held-out row. A random split would let the fit learn from
    the very weeks it is judged on."""
    if not 0 < train_fraction < 1:
        raise ValueError("train_fraction must be between 0 and 1")
    days = as_day(frame[asof_column])
    counts = days.value_counts().sort_index()
    if len(counts) < 2:
        raise SplitError("a time split needs at least two as-of dates")
    dates = counts.index
    train_n = counts.cumsum().to_numpy()[:-1]  # with each date but the last as the split point
    later_total = counts.sum() - train_n
    # Rows on dates within the gap after each candidate split point: not used on either side.
    when, n = dates.to_numpy(dtype="datetime64[ns]"), counts.to_numpy()
    gap = np.timedelta64(gap_days, "D")
    in_gap = np.array([n[(when > c) & (when <= c + gap)].sum() for c in when[:-1]])
    test_n = later_total - in_gap
    usable = test_n > 0
    if not usable.any():
        raise SplitError(f"no as-of date is more than {gap_days} days after the training period")
    share = np.where(usable, train_n / np.maximum(train_n + test_n, 1), np.inf)
    best = int(np.argmin(np.abs(share - train_fraction)))
    last_train = dates[best]
    train = frame[(days <= last_train).to_numpy()]
    test = frame[(days > last_train + pd.Timedelta(days=gap_days)).to_numpy()]
    return train, test


def round_weights(weights: Mapping[str, float], names: Sequence[str] = COMPONENTS) -> dict[str, int]:
    """Whole points summing to exactly 100 (largest remainder; ties go to the earlier
    component), because people read and paste whole numbers."""
    w = _weight_vector(weights, names)
    floor = np.floor(w + 1e-9)
    left = int(round(100 - floor.sum()))
    order = np.argsort(-(w - floor), kind="stable")
    floor[order[:left]] += 1
    return {c: int(v) for c, v in zip(names, floor)}


@dataclass(frozen=True)
class _Problem:
    """The training data and the objective's anchor, prepared once for the search."""

    filled: np.ndarray
    present: np.ndarray
    churned: np.ndarray
    anchor: np.ndarray
    penalty: float

    def objective(self, w: np.ndarray) -> float:
        auc = auc_arrays(_risk(self.filled, self.present, w), self.churned)
        return auc - self.penalty * np.abs(w - self.anchor).sum() / 100.0


def _best_move(problem: _Problem, w: np.ndarray, value: float, step: float) -> tuple[np.ndarray, float]:
    """The best move of ``step`` points (or what is left) from one component to another,
    or ``w`` itself when no move improves the objective."""
    best_w, best = w, value
    for i in range(w.shape[0]):  # c × (c − 1) candidate moves, each vectorized over rows
        amount = min(step, w[i])
        if amount <= 0:
            continue
        for j in range(w.shape[0]):
            if i == j:
                continue
            cand = w.copy()
            cand[i] -= amount
            cand[j] += amount
            score = problem.objective(cand)
            if score > best + 1e-12:
                best_w, best = cand, score
    return best_w, best


def _ascend(problem: _Problem, start: np.ndarray, steps: Sequence[float]) -> tuple[np.ndarray, float]:
    w, value = start, problem.objective(start)
    for step in steps:
        for _ in range(MAX_PASSES_PER_STEP):
            moved, better = _best_move(problem, w, value, step)
            if moved is w:
                break
            w, value = moved, better
    return w, value


def fit_weights(
    components: pd.DataFrame,
    churned,
    current_weights: Mapping[str, float],
    *,
    names: Sequence[str] = COMPONENTS,
    penalty: float = DEFAULT_PENALTY,
    steps: Sequence[float] = STEPS,
) -> dict[str, int]:
    """Weights (whole points, sum 100) maximising churn AUC of risk on these rows, pulled
    toward ``current_weights`` by ``penalty``. Raises ``NotEnoughEvidence`` without both
    churned and staying rows."""
    y = np.asarray(churned, dtype=bool)
    if not y.any() or y.all():
        raise NotEnoughEvidence(
            "the training period needs both churned orgs and orgs that stayed to fit weights"
        )
    filled, present = _component_arrays(components, names)
    anchor = _weight_vector(current_weights, names)
    problem = _Problem(filled, present, y, anchor, penalty)
    uniform = np.full(len(names), 100.0 / len(names))
    ends = [_ascend(problem, start, steps) for start in (anchor, uniform)]
    best_w, _ = max(ends, key=lambda end: end[1])  # ties keep the current-weights start
    rounded = round_weights(dict(zip(names, best_w)), names)
    # Rounding may cost a little; never suggest something worse than the start point.
    if problem.objective(_weight_vector(rounded, names)) < problem.objective(anchor):
        return round_weights(current_weights, names)
    return rounded


@dataclass(frozen=True)
class PeriodFigures:
    """AUC (with 95 % interval) and top-decile lift of one weight vector on one period."""

    auc: float
    auc_low: float
    auc_high: float
    lift: float


@dataclass(frozen=True)
class CalibrationResult:
    """Suggested weights and the held-out evidence for (or against) them."""

    current_weights: dict[str, int]
    suggested_weights: dict[str, int]
    train_first: pd.Timestamp
    train_last: pd.Timestamp
    test_first: pd.Timestamp
    test_last: pd.Timestamp
    train_observations: int
    train_churns: int
    test_observations: int
    test_churns: int
    train_auc_before: float
    train_auc_after: float
    before: PeriodFigures
    after: PeriodFigures
    gain_low: float
    gain_high: float
    warnings: tuple[str, ...]

    @property
    def warning(self) -> str:
        """All warnings as one string; empty when the held-out evidence is solid."""
        return " ".join(self.warnings)

    @property
    def gain(self) -> float:
        """Held-out AUC of the suggested weights minus that of the current ones."""
        return self.after.auc - self.before.auc

    @property
    def improved(self) -> bool:
        """Whether the held-out gain is beyond noise (its interval lies above 0)."""
        return not math.isnan(self.gain_low) and self.gain_low > 0


def _period_figures(
    risk: np.ndarray, churned: np.ndarray, fraction: float, draws: int, seed: int
) -> PeriodFigures:
    low, high = bootstrap_auc_interval(risk, churned, draws=draws, seed=seed)
    return PeriodFigures(auc_arrays(risk, churned), low, high, top_fraction_lift(risk, churned, fraction))


def _warnings(
    after: PeriodFigures,
    before: PeriodFigures,
    gain: tuple[float, float],
    test_churns: int,
    min_test_churns: int,
    max_width: float,
) -> tuple[str, ...]:
    out = []
    if test_churns < min_test_churns:
        out.append(
            f"Only {test_churns} churned observations in the held-out period (at least "
            f"{min_test_churns} are needed to trust the comparison)."
        )
    width = after.auc_high - after.auc_low
    if not math.isnan(width) and width > max_width:
        out.append(
            f"The held-out AUC is uncertain (95 % interval {after.auc_low:.2f} to {after.auc_high:.2f})."
        )
    if math.isnan(gain[0]) or not gain[0] > 0:
        out.append(
            f"The held-out AUC gain ({after.auc - before.auc:+.3f}, 95 % interval {gain[0]:+.3f} to "
            f"{gain[1]:+.3f}) is not clearly above 0; keep the current weights."
        )
    return tuple(out)


def require_calibration_evidence(
    train_churned: np.ndarray, test_churned: np.ndarray, min_train_churns: int = MIN_TRAIN_CHURNS
) -> None:
    """Raise ``NotEnoughEvidence`` with one printable sentence when the split cannot support a
    fit (too few training churns) or a comparison (a held-out period without both churned
    and staying observations). A thin but usable held-out period only warns."""
    churns = int(train_churned.sum())
    if churns < min_train_churns:
        noun = "churned observation" if churns == 1 else "churned observations"
        raise NotEnoughEvidence(
            f"only {churns} {noun} in the training period; at least {min_train_churns} are needed to fit weights"
        )
    if train_churned.all():
        raise NotEnoughEvidence(
            "every training observation churned; orgs that stayed are needed to fit weights"
        )
    if not test_churned.any() or test_churned.all():
        missing = "no churn" if not test_churned.any() else "no org that stayed"
        raise NotEnoughEvidence(
            f"the held-out period has {missing}; a longer history is needed to compare weights"
        )


def calibrate(
    frame: pd.DataFrame,
    current_weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    *,
    asof_column: str = "as_of",
    label_column: str = "churned",
    names: Sequence[str] = COMPONENTS,
    train_fraction: float = DEFAULT_TRAIN_FRACTION,
    gap_days: int = 0,
    penalty: float = DEFAULT_PENALTY,
    top_fraction: float = DEFAULT_TOP_FRACTION,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
    min_train_churns: int = MIN_TRAIN_CHURNS,
    min_test_churns: int = MIN_TEST_CHURNS,
    max_interval_width: float = MAX_INTERVAL_WIDTH,
) -> CalibrationResult:
    """Fit weights on the earlier part of ``frame`` and compare them with ``current_weights``
    on the later part (see the module docstring). Raises ``NotEnoughEvidence`` when either
    part cannot support its job (``require_calibration_evidence``)."""
    train, test = time_split(frame, asof_column, train_fraction, gap_days)
    y_train = train[label_column].to_numpy(dtype=bool)
    y_test = test[label_column].to_numpy(dtype=bool)
    require_calibration_evidence(y_train, y_test, min_train_churns)
    suggested = fit_weights(train[list(names)], y_train, current_weights, names=names, penalty=penalty)
    current = round_weights(current_weights, names)

    def risk(part: pd.DataFrame, weights: Mapping[str, float]) -> np.ndarray:
        return _risk(*_component_arrays(part, names), _weight_vector(weights, names))

    risk_before, risk_after = risk(test, current_weights), risk(test, suggested)
    before = _period_figures(risk_before, y_test, top_fraction, draws, seed)
    after = _period_figures(risk_after, y_test, top_fraction, draws, seed)
    gain = auc_difference_interval(risk_after, risk_before, y_test)
    train_days, test_days = as_day(train[asof_column]), as_day(test[asof_column])
    return CalibrationResult(
        current_weights=current,
        suggested_weights=suggested,
        train_first=train_days.min(),
        train_last=train_days.max(),
        test_first=test_days.min(),
        test_last=test_days.max(),
        train_observations=len(train),
        train_churns=int(y_train.sum()),
        test_observations=len(test),
        test_churns=int(y_test.sum()),
        train_auc_before=auc_arrays(risk(train, current_weights), y_train),
        train_auc_after=auc_arrays(risk(train, suggested), y_train),
        before=before,
        after=after,
        gain_low=gain[0],
        gain_high=gain[1],
        warnings=_warnings(after, before, gain, int(y_test.sum()), min_test_churns, max_interval_width),
    )


def weights_toml_block(weights: Mapping[str, float], names: Sequence[str] = COMPONENTS) -> str:
    """The ``[health.weights]`` table to paste into saas-tracker.toml, one whole number per
    component in the product's component order, ending with a newline."""
    lines = ["[health.weights]"]
    for name in names:
        value = float(weights[name])
        if value < 0 or value != round(value):
            raise ValueError(f"weight for {name} must be a non-negative whole number, got {weights[name]!r}")
        lines.append(f"{name} = {int(value)}")
    return "\n".join(lines) + "\n"
