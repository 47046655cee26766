"""Priority: the formula's numbers, and its promises checked as properties.

Promises: for the same condition more MRR never ranks lower (strictly higher before rounding,
and strictly higher after rounding whenever the exact values are more than 0.1 apart); for the
same MRR a stronger condition never ranks lower; priority always stays within 0..100.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scoring_helpers import AS_OF, DAY, make_ctx, make_orgs

from domain.config import Config, PriorityConfig
from domain.vocabulary import EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK, SIGNAL_TYPES, USAGE_DROP
from scoring.health import score_health
from scoring.priority import (
    expansion_severity,
    inactive_paying_severity,
    priority_breakdown,
    priority_unrounded,
    revenue_at_risk_severity,
    revenue_factor,
    signal_priority,
    usage_drop_severity,
)
from scoring.signals import evaluate_signals

# The arithmetic below is pinned on round numbers; the shipped defaults are pinned separately.
CFG = Config(priority=PriorityConfig(revenue_half_mrr=2000.0, revenue_curve=1.0, severity_points=40.0,
                                     revenue_points=40.0, severity_curve=1.0))

types = st.sampled_from(SIGNAL_TYPES)
severities = st.floats(min_value=0.0, max_value=1.0)
mrrs = st.floats(min_value=0.0, max_value=1_000_000.0)


def _p(signal_type: str, severity: float, mrr: float, cfg: Config = CFG,
       reference: float | None = None) -> tuple[float, float]:
    exact = float(priority_unrounded(signal_type, severity, mrr, cfg, reference).iloc[0])
    shown = float(signal_priority(signal_type, severity, mrr, cfg, reference).iloc[0])
    return exact, shown


# --- the formula, by hand -------------------------------------------------------------------


def test_formula_worked_example() -> None:
    # r = 2000 / (2000 + 2000) = 0.5; 1.0 × (20 + 40·0.5 + 40·0.5) = 60
    b = priority_breakdown(REVENUE_AT_RISK, 0.5, 2000.0, CFG).iloc[0]
    assert b["revenue_factor"] == 0.5
    assert b["severity_points"] == 20.0
    assert b["revenue_points"] == 20.0
    assert b["priority"] == 60.0


def test_default_formula_worked_example() -> None:
    # Defaults with the demo's reference, $1,072 (its paying orgs' 90th percentile): at the
    # reference r = 0.5 whatever the curve; s = 0.25 → √s = 0.5; 20 + 35·0.5 + 45·0.5 = 60.
    assert priority_breakdown(REVENUE_AT_RISK, 0.25, 1072.0, Config(), 1072.0).iloc[0]["priority"] == 60.0
    # $24,000 at health 20: s = 0.5, √s = 0.7071; r = 24000 / (24000 + 1072) = 0.9572
    # → 20 + 24.749 + 43.076 = 87.8
    assert _p(REVENUE_AT_RISK, 0.5, 24000.0, Config(), 1072.0)[1] == 87.8
    # Expansion can't reach the default alert threshold (80): 0.8 × at most 100.
    assert _p(EXPANSION_CANDIDATE, 1.0, 1e9, Config(), 1072.0)[0] < 80.0
    # Without a scan's reference or a configured amount there is no scale to weigh MRR on.
    with pytest.raises(ValueError, match="no revenue reference"):
        signal_priority(REVENUE_AT_RISK, 0.5, 100.0, Config())


def test_type_weights_scale_priority() -> None:
    sev = pd.Series([0.5] * 4)
    mrr = pd.Series([2000.0] * 4)
    got = signal_priority(pd.Series(list(SIGNAL_TYPES)), sev, mrr, CFG).tolist()
    # revenue_at_risk 1.0, usage_drop 0.9, inactive_paying 0.95, expansion 0.8 × 60
    assert got == [60.0, 54.0, 57.0, 48.0]


def test_revenue_factor_values() -> None:
    assert revenue_factor(pd.Series([0.0, 2000.0, 6000.0, -50.0]), CFG).tolist() == [0.0, 0.5, 0.75, 0.0]


def test_priority_rounds_to_one_decimal() -> None:
    # r = 1000 / 3000 = 1/3 → 40/3 = 13.333…; 20 + 13.333 = 33.333… → 33.3
    assert _p(REVENUE_AT_RISK, 0.0, 1000.0) == (pytest.approx(100 / 3), 33.3)


def test_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown signal type"):
        signal_priority("churned", 0.5, 100.0, CFG)


@pytest.mark.parametrize(("health", "severity"), [(40.0, 0.0), (30.0, 0.25), (10.0, 0.75), (0.0, 1.0)])
def test_revenue_at_risk_severity(health: float, severity: float) -> None:
    assert revenue_at_risk_severity(health, CFG).iloc[0] == pytest.approx(severity)


@pytest.mark.parametrize(("change", "severity"), [(-0.4, 0.0), (-0.7, 0.5), (-1.0, 1.0)])
def test_usage_drop_severity(change: float, severity: float) -> None:
    assert usage_drop_severity(change, CFG).iloc[0] == pytest.approx(severity)


@pytest.mark.parametrize(("days", "severity"), [(14.0, 0.0), (28.0, 0.5), (56.0, 0.75), (math.nan, 0.0)])
def test_inactive_paying_severity_saturates(days: float, severity: float) -> None:
    assert inactive_paying_severity(days, CFG).iloc[0] == pytest.approx(severity)


def test_expansion_severity_is_mean_of_three_parts() -> None:
    # growth +45%: excess 0.25 → 0.25/(0.25+0.25) = 0.5; utilization 100%: excess 0.1 → 0.5;
    # health 85: (85−70)/30 = 0.5 → mean 0.5
    assert expansion_severity(85.0, 0.45, 1.0, CFG).iloc[0] == pytest.approx(0.5)
    # utilization unknown counts 0, health at its threshold counts 0: (0.5 + 0 + 0) / 3
    assert expansion_severity(70.0, 0.45, math.nan, CFG).iloc[0] == pytest.approx(0.5 / 3)
    assert expansion_severity(70.0, 0.1, 0.9, CFG).iloc[0] == 0.0


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(types, severities, mrrs, mrrs)
def test_more_mrr_never_ranks_lower(signal_type: str, severity: float, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assume(high - low >= 0.01)
    exact_low, shown_low = _p(signal_type, severity, low)
    exact_high, shown_high = _p(signal_type, severity, high)
    assert exact_high > exact_low
    assert shown_high >= shown_low
    if exact_high - exact_low > 0.1 + 1e-9:
        assert shown_high > shown_low


@settings(max_examples=300, deadline=None)
@given(types, severities, severities, mrrs)
def test_more_severity_never_ranks_lower(signal_type: str, a: float, b: float, mrr: float) -> None:
    low, high = sorted((a, b))
    assume(high - low >= 1e-9)
    exact_low, shown_low = _p(signal_type, low, mrr)
    exact_high, shown_high = _p(signal_type, high, mrr)
    assert exact_high > exact_low
    assert shown_high >= shown_low


@settings(deadline=None)
@given(
    types,
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e15),
    st.floats(min_value=0.0, max_value=5.0),
    st.floats(min_value=0.0, max_value=100.0),
    st.floats(min_value=0.0, max_value=100.0),
    st.floats(min_value=0.0, max_value=100.0),
    st.floats(min_value=0.01, max_value=1e7),
    st.floats(min_value=0.05, max_value=5.0),
)
def test_priority_always_within_0_100(
    signal_type: str, severity: float, mrr: float, weight: float, base: float, sev_pts: float, rev_pts: float,
    reference: float, curve: float,
) -> None:
    cfg = Config(
        priority=PriorityConfig(
            type_weight=dict.fromkeys(SIGNAL_TYPES, weight),
            base_points=base,
            severity_points=sev_pts,
            revenue_points=rev_pts,
            revenue_curve=curve,
        )
    )
    exact, shown = _p(signal_type, severity, mrr, cfg, reference)
    assert 0.0 <= exact <= 100.0
    assert 0.0 <= shown <= 100.0


def _stronger_ranks_higher(signal_type: str, weak_severity: float, strong_severity: float, mrr: float) -> None:
    assert strong_severity > weak_severity
    exact_weak, shown_weak = _p(signal_type, weak_severity, mrr)
    exact_strong, shown_strong = _p(signal_type, strong_severity, mrr)
    assert exact_strong > exact_weak
    assert shown_strong >= shown_weak


@settings(deadline=None)
@given(st.integers(0, 399), st.integers(0, 399), mrrs)
def test_lower_health_ranks_higher_for_revenue_at_risk(a: int, b: int, mrr: float) -> None:
    assume(a != b)
    low, high = sorted((a / 10, b / 10))  # health is shown and compared with one decimal
    sev = revenue_at_risk_severity(pd.Series([high, low]), CFG).tolist()
    _stronger_ranks_higher(REVENUE_AT_RISK, sev[0], sev[1], mrr)


@settings(deadline=None)
@given(st.floats(-1.0, -0.4), st.floats(-1.0, -0.4), mrrs)
def test_deeper_drop_ranks_higher(a: float, b: float, mrr: float) -> None:
    deep, shallow = sorted((a, b))
    assume(shallow - deep >= 1e-6)
    sev = usage_drop_severity(pd.Series([shallow, deep]), CFG).tolist()
    _stronger_ranks_higher(USAGE_DROP, sev[0], sev[1], mrr)


@settings(deadline=None)
@given(st.floats(14.0, 3650.0), st.floats(14.0, 3650.0), mrrs)
def test_longer_inactivity_ranks_higher(a: float, b: float, mrr: float) -> None:
    short, long = sorted((a, b))
    assume(long - short >= 1e-3)
    sev = inactive_paying_severity(pd.Series([short, long]), CFG).tolist()
    _stronger_ranks_higher(INACTIVE_PAYING, sev[0], sev[1], mrr)


@settings(deadline=None)
@given(
    st.floats(70.0, 100.0),
    st.floats(0.2, 20.0),
    st.floats(0.9, 5.0),
    st.sampled_from(["health", "growth", "utilization"]),
    st.floats(1e-3, 5.0),
    mrrs,
)
def test_stronger_expansion_ranks_higher(
    health: float, growth: float, util: float, which: str, step: float, mrr: float
) -> None:
    stronger = {"health": health, "growth": growth, "utilization": util}
    stronger[which] += step
    assume(stronger["health"] <= 100.0)
    weak = expansion_severity(health, growth, util, CFG).iloc[0]
    strong = expansion_severity(stronger["health"], stronger["growth"], stronger["utilization"], CFG).iloc[0]
    _stronger_ranks_higher(EXPANSION_CANDIDATE, weak, strong, mrr)


@settings(max_examples=40, deadline=None)
@given(st.floats(1.0, 100_000.0), st.floats(1.0, 100_000.0), st.integers(0, 7))
def test_evaluated_signals_rank_the_richer_of_two_identical_orgs_first(a: float, b: float, days: int) -> None:
    assume(abs(a - b) >= 0.01)
    # Same low activity, same drop, same silence; only MRR differs.
    same = {"activity_active_days": days, "recent_key_features": 0, "recent_events": 0, "previous_events": 50,
            "last_seen": AS_OF - 30 * DAY}
    orgs = make_orgs({"one": same | {"mrr": a}, "two": same | {"mrr": b}})
    ctx = make_ctx()
    signals = evaluate_signals(orgs, score_health(orgs, ctx, CFG), ctx, CFG)
    richer, poorer = ("one", "two") if a > b else ("two", "one")
    by_type = signals.pivot(index="type", columns="org_id", values="priority")
    assert set(by_type.index) == {REVENUE_AT_RISK, USAGE_DROP, INACTIVE_PAYING}
    assert (by_type[richer] >= by_type[poorer]).all()


# --- on the customer base's own scale (shipped defaults: the reference comes from the scan) ---

base_mrrs = st.lists(st.floats(1.0, 50_000.0), min_size=1, max_size=25)


def _base(mrrs: list[float]) -> dict[str, dict[str, object]]:
    """Healthy paying orgs that raise nothing themselves but set the scan's revenue reference."""
    return {f"base{i:02d}": {"mrr": m} for i, m in enumerate(mrrs)}


@settings(max_examples=40, deadline=None)
@given(base_mrrs, st.floats(1.0, 100_000.0), st.floats(1.0, 100_000.0), st.integers(0, 7))
def test_within_a_scan_more_mrr_never_ranks_lower_on_the_default_scale(
    base: list[float], a: float, b: float, days: int
) -> None:
    assume(abs(a - b) >= 0.01)
    same = {"activity_active_days": days, "recent_key_features": 0, "recent_events": 0, "previous_events": 50,
            "last_seen": AS_OF - 30 * DAY}
    orgs = make_orgs(_base(base) | {"one": same | {"mrr": a}, "two": same | {"mrr": b}})
    cfg, ctx = Config(), make_ctx()
    signals = evaluate_signals(orgs, score_health(orgs, ctx, cfg), ctx, cfg)
    signals = signals[signals["org_id"].isin(["one", "two"])]
    richer, poorer = ("one", "two") if a > b else ("two", "one")
    by_type = signals.pivot(index="type", columns="org_id", values="priority")
    assert set(by_type.index) >= {REVENUE_AT_RISK, USAGE_DROP, INACTIVE_PAYING}
    assert (by_type[richer] >= by_type[poorer]).all()
    # One reference for the whole scan, from every paying org (the base and the two).
    assert signals["revenue_reference"].nunique() == 1


@settings(max_examples=40, deadline=None)
@given(base_mrrs, st.floats(1.0, 100_000.0), st.integers(0, 39), st.integers(0, 39))
def test_within_a_scan_lower_health_never_ranks_lower_on_the_default_scale(
    base: list[float], mrr: float, a: int, b: int
) -> None:
    assume(a != b)
    # Same MRR, same everything but support penalty: the org with more open trouble has the
    # lower health, so the stronger Revenue at risk condition.
    orgs = make_orgs(_base(base) | {
        "weak": {"mrr": mrr, "activity_active_days": 0, "recent_key_features": 0, "support_penalty": float(min(a, b))},
        "worse": {"mrr": mrr, "activity_active_days": 0, "recent_key_features": 0,
                  "support_penalty": float(max(a, b)) + 40.0},
    })
    cfg, ctx = Config(), make_ctx()
    health = score_health(orgs, ctx, cfg)
    assert health.loc["worse", "health"] <= health.loc["weak", "health"]
    signals = evaluate_signals(orgs, health, ctx, cfg)
    risk = signals[signals["type"] == REVENUE_AT_RISK].set_index("org_id")["priority"]
    assert "worse" in risk.index
    assert risk["worse"] >= risk.get("weak", 0.0)


@pytest.mark.parametrize(("low", "high", "gain"), [(30.0, 300.0, 5.0), (300.0, 3000.0, 5.0), (3000.0, 30000.0, 5.0)])
def test_an_order_of_magnitude_more_mrr_ranks_clearly_higher(low: float, high: float, gain: float) -> None:
    # A base like the demo's: the median paying org pays $100, the 90th percentile about $1,000,
    # the biggest $40,000. Same trouble (health 24), ten times the MRR: clearly higher.
    base = [40.0] * 20 + [100.0] * 25 + [300.0] * 15 + [1000.0] * 6 + [5000.0, 12000.0, 40000.0]
    orgs = make_orgs(_base(base) | {
        "low": {"mrr": low, "activity_active_days": 0, "recent_key_features": 0, "support_penalty": 60.0},
        "high": {"mrr": high, "activity_active_days": 0, "recent_key_features": 0, "support_penalty": 60.0},
    })
    cfg, ctx = Config(), make_ctx()
    signals = evaluate_signals(orgs, score_health(orgs, ctx, cfg), ctx, cfg)
    risk = signals[signals["type"] == REVENUE_AT_RISK].set_index("org_id")["priority"]
    assert risk["high"] - risk["low"] >= gain, (risk["low"], risk["high"])
