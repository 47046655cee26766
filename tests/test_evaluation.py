"""Backtest evidence core: outcomes, ranking metrics, signals and the assembled result.

Every figure below is worked out by hand in the comments, so a wrong definition (ties, the
horizon's ends, the cut, what counts as a hit) fails a test rather than shifting a number.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest_history import D1, D2, history_frames

from scoring.evaluation import (
    BY_MRR,
    BY_SILENCE,
    MODEL,
    NO_SIGNAL,
    RIGHT_WAY,
    SIGNAL_TYPES,
    WRONG_WAY,
    NotEnoughEvidence,
    auc_difference_interval,
    backtest,
    bootstrap_auc_interval,
    churn_event_ids,
    component_auc,
    count_events,
    health_band_rates,
    label_outcomes,
    mrr_caught,
    open_signals_from_episodes,
    require_evidence,
    risk_decile_rates,
    roc_auc,
    signal_flags,
    signal_precision_recall,
    top_fraction_lift,
    top_k_weights,
    top_list_precision,
    usable_asof_dates,
)

D0 = pd.Timestamp("2024-01-01")


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# ---------------------------------------------------------------------------------------
# label_outcomes
# ---------------------------------------------------------------------------------------


def _label_one(changes: list[tuple[str, float]], mrr: float = 100.0, **kwargs) -> pd.Series:
    obs = pd.DataFrame({"as_of": [D0], "org_id": ["o"], "mrr": [mrr]})
    ch = pd.DataFrame(
        {
            "org_id": ["o"] * len(changes),
            "day": [day(d) for d, _ in changes],
            "mrr": [float(v) for _, v in changes],
        }
    )
    return label_outcomes(obs, ch, **kwargs).iloc[0]


def test_churn_is_mrr_at_zero_to_the_end_of_the_horizon():
    out = _label_one([("2024-01-10", 0)])
    assert (out.churned, out.contracted, out.expanded) == (True, False, False)
    assert out.outcome_day == day("2024-01-10")
    assert out.mrr_before_outcome == 100.0
    assert out.mrr_at_end == 0.0


def test_cancel_and_come_back_inside_the_horizon_is_not_churn():
    out = _label_one([("2024-01-10", 0), ("2024-01-20", 100)])
    assert not (out.churned or out.contracted or out.expanded)
    assert pd.isna(out.outcome_day) and math.isnan(out.mrr_before_outcome)


def test_churn_day_is_the_start_of_the_final_zero_stretch():
    # 100 → 0 (Jan 10) → 80 (Jan 20) → 0 (Feb 1): churned on Feb 1, losing 80.
    out = _label_one([("2024-01-10", 0), ("2024-01-20", 80), ("2024-02-01", 0)])
    assert out.churned and out.outcome_day == day("2024-02-01")
    assert out.mrr_before_outcome == 80.0


def test_contraction_counts_from_the_first_drop_that_lasted():
    # 100 → 90 (Jan 15) → 50 (Feb 1): below 100 from Jan 15 to the end.
    out = _label_one([("2024-01-15", 90), ("2024-02-01", 50)])
    assert out.contracted and not out.churned
    assert out.outcome_day == day("2024-01-15") and out.mrr_at_end == 50.0
    assert out.mrr_before_outcome == 100.0


def test_expansion_needs_the_threshold_and_exactly_the_threshold_counts():
    assert not _label_one([("2024-01-05", 109.99)]).expanded
    exact = _label_one([("2024-01-05", 110)])
    assert exact.expanded and exact.outcome_day == day("2024-01-05")
    assert _label_one([("2024-01-05", 120)], expansion_threshold=0.25).expanded is np.False_
    # Rose by 5 %: nothing at 10 %, an expansion at 5 %.
    assert not _label_one([("2024-01-05", 105)]).expanded
    assert _label_one([("2024-01-05", 105)], expansion_threshold=0.05).expanded


def test_contraction_threshold_ignores_small_drops():
    assert _label_one([("2024-01-05", 97)]).contracted
    assert not _label_one([("2024-01-05", 97)], contraction_threshold=0.05).contracted


def test_horizon_is_after_the_asof_day_and_includes_its_last_day():
    # 2024 is a leap year: Jan 1 + 60 days = Mar 1.
    assert _label_one([("2024-03-01", 0)]).churned
    assert not _label_one([("2024-03-02", 0)]).churned
    # A change on D itself is already in D's MRR (the observation's baseline).
    assert not _label_one([("2024-01-01", 0)]).churned
    assert _label_one([("2024-01-20", 0)], horizon_days=30).churned
    assert not _label_one([("2024-02-05", 0)], horizon_days=30).churned


def test_outcomes_keep_the_index_and_ignore_row_order():
    obs = pd.DataFrame(
        {
            "as_of": [D0, D0 + pd.Timedelta(days=7), D0],
            "org_id": ["a", "a", "b"],
            "mrr": [100.0, 100.0, 50.0],
        },
        index=[10, 20, 30],
    )
    changes = pd.DataFrame(
        {
            "org_id": ["a", "b", "a"],
            "day": [day("2024-01-05"), day("2024-01-03"), day("2024-02-20")],
            "mrr": [100.0, 80.0, 0.0],
        }
    )
    out = label_outcomes(obs, changes)
    again = label_outcomes(obs.iloc[::-1], changes.iloc[::-1]).loc[out.index]
    pd.testing.assert_frame_equal(out, again)
    assert list(out.index) == [10, 20, 30]
    # a: churned Feb 20 seen from Jan 1 and Jan 8; b: 50 → 80 is +60 %, an expansion.
    assert out["churned"].tolist() == [True, True, False]
    assert out["expanded"].tolist() == [False, False, True]
    assert out.loc[30, "outcome_day"] == day("2024-01-03")


def test_a_daily_mrr_snapshot_gives_the_same_outcomes_as_change_points():
    obs = pd.DataFrame(
        {"as_of": [D0, D0 + pd.Timedelta(days=14)], "org_id": ["a", "a"], "mrr": [100.0, 100.0]}
    )
    changes = pd.DataFrame(
        {
            "org_id": ["a", "a", "a"],
            "day": [day("2023-06-01"), day("2024-01-20"), day("2024-02-10")],
            "mrr": [100.0, 60.0, 0.0],
        }
    )
    days = pd.date_range("2023-06-01", "2024-06-30", freq="D")
    daily = pd.DataFrame(
        {
            "org_id": "a",
            "day": days,
            "mrr": np.select([days >= "2024-02-10", days >= "2024-01-20"], [0.0, 60.0], 100.0),
        }
    )
    pd.testing.assert_frame_equal(label_outcomes(obs, daily), label_outcomes(obs, changes))
    out = label_outcomes(obs, changes)
    # 100 → 60 (Jan 20) → 0 (Feb 10): churned on Feb 10 losing 60, seen from both as-of days.
    assert out["churned"].all() and (out["outcome_day"] == day("2024-02-10")).all()
    assert out["mrr_before_outcome"].tolist() == [60.0, 60.0]


def test_outcome_inputs_are_checked():
    obs = pd.DataFrame({"as_of": [D0], "org_id": ["a"], "mrr": [0.0]})
    with pytest.raises(ValueError, match="no positive MRR"):
        label_outcomes(obs, pd.DataFrame({"org_id": [], "day": pd.to_datetime([]), "mrr": []}))
    obs["mrr"] = 10.0
    twice = pd.DataFrame({"org_id": ["a", "a"], "day": [day("2024-01-05")] * 2, "mrr": [1.0, 2.0]})
    with pytest.raises(ValueError, match="more than one row"):
        label_outcomes(obs, twice)
    with pytest.raises(ValueError, match="ends after the MRR history"):
        label_outcomes(obs, twice.iloc[:1], horizon_days=60, history_end="2024-02-15")
    label_outcomes(obs, twice.iloc[:1], horizon_days=60, history_end="2024-03-01")


def test_usable_asof_dates_stop_a_horizon_before_the_history_ends():
    dates = usable_asof_dates("2024-01-01", "2024-03-31", horizon_days=60, every_days=7)
    # Mar 31 − 60 days = Jan 31; weekly from Jan 1: 1, 8, 15, 22, 29.
    assert [d.day for d in dates] == [1, 8, 15, 22, 29]
    assert len(usable_asof_dates("2024-01-01", "2024-02-01", horizon_days=60)) == 0


# ---------------------------------------------------------------------------------------
# roc_auc and its bootstrap
# ---------------------------------------------------------------------------------------


def test_auc_hand_cases():
    assert roc_auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert roc_auc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0
    assert roc_auc([5, 5, 5, 5], [0, 1, 0, 1]) == 0.5
    # positives {2, 4} vs negatives {1, 3}: 2>1, 2<3, 4>1, 4>3 → 3 of 4 pairs.
    assert roc_auc([1, 3, 2, 4], [0, 0, 1, 1]) == 0.75
    # positives {2, 3} vs negatives {1, 2}: 1 + ½ + 1 + 1 = 3.5 of 4.
    assert roc_auc([1, 2, 2, 3], [False, True, False, True]) == 0.875


def test_auc_is_nan_with_one_class_and_skips_missing_scores():
    assert math.isnan(roc_auc([1, 2, 3], [1, 1, 1]))
    assert math.isnan(roc_auc([1, 2, 3], [0, 0, 0]))
    assert roc_auc([1, np.nan, 2], [0, 0, 1]) == 1.0
    with pytest.raises(ValueError, match="missing"):
        roc_auc([1, 2], [np.nan, 1])


def _pairwise_auc(s: list[float], y: list[bool]) -> float:
    pos = [a for a, lab in zip(s, y) if lab]
    neg = [a for a, lab in zip(s, y) if not lab]
    wins = sum((p > q) + 0.5 * (p == q) for p, q in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


scored = st.lists(st.tuples(st.integers(-20, 20).map(float), st.booleans()), min_size=2, max_size=60).filter(
    lambda rows: 0 < sum(lab for _, lab in rows) < len(rows)
)


@settings(deadline=None, max_examples=200)
@given(scored)
def test_auc_equals_the_pairwise_definition(rows):
    s, y = zip(*rows)
    assert roc_auc(s, y) == pytest.approx(_pairwise_auc(list(s), list(y)), abs=1e-12)


@settings(deadline=None, max_examples=200)
@given(scored)
def test_auc_ignores_monotone_transforms_and_flips_with_the_sign(rows):
    s, y = (np.array(v) for v in zip(*rows))
    auc = roc_auc(s, y)
    assert roc_auc(np.exp(s / 10.0) * 3.0 + 7.0, y) == pytest.approx(auc, abs=1e-12)
    assert roc_auc(-s, y) == pytest.approx(1.0 - auc, abs=1e-12)  # ties give ½ both ways


@settings(deadline=None, max_examples=100)
@given(st.lists(st.floats(-1e6, 1e6), min_size=4, max_size=40, unique=True), st.data())
def test_auc_and_reversed_auc_sum_to_one_without_ties(values, data):
    y = data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    if not 0 < sum(y) < len(y):
        y[0], y[1] = True, False
    assert roc_auc(values, y) + roc_auc([-v for v in values], y) == pytest.approx(1.0, abs=1e-12)


def test_bootstrap_interval_edges_are_exact():
    # Perfectly separated classes stay separated in every stratified resample.
    assert bootstrap_auc_interval([1, 2, 3, 10, 11], [0, 0, 0, 1, 1], draws=200) == (1.0, 1.0)
    assert bootstrap_auc_interval([3, 3, 3, 3], [0, 1, 0, 1], draws=200) == (0.5, 0.5)
    assert all(math.isnan(v) for v in bootstrap_auc_interval([1, 2], [1, 1]))


def _mixed_sample(n: int = 400, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.2
    s = np.round(rng.normal(size=n) + 1.0 * y, 1)  # rounded: plenty of ties
    return s, y


def test_bootstrap_is_deterministic_and_brackets_the_auc():
    s, y = _mixed_sample()
    low, high = bootstrap_auc_interval(s, y, draws=500, seed=7)
    assert (low, high) == bootstrap_auc_interval(s, y, draws=500, seed=7)
    assert (low, high) != bootstrap_auc_interval(s, y, draws=500, seed=8)
    assert low < roc_auc(s, y) < high
    assert 0.05 < high - low < 0.25


def test_bootstrap_matches_a_plain_per_observation_resampling():
    """The multinomial-per-score-level shortcut must give the interval a plain loop does."""
    s, y = _mixed_sample()
    rng = np.random.default_rng(11)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    plain = []
    for _ in range(3000):
        rows = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
        plain.append(roc_auc(s[rows], y[rows]))
    low, high = bootstrap_auc_interval(s, y, draws=3000, seed=3)
    assert low == pytest.approx(np.percentile(plain, 2.5), abs=0.012)
    assert high == pytest.approx(np.percentile(plain, 97.5), abs=0.012)


def test_difference_interval_hand_cases():
    s = [1, 2, 3, 10, 11]
    y = [0, 0, 0, 1, 1]
    # Separated (every placement 1) against all-tied (every placement ½): exactly ½.
    assert auc_difference_interval(s, [4] * 5, y) == (0.5, 0.5)
    assert auc_difference_interval(s, s, y) == (0.0, 0.0)
    assert all(math.isnan(v) for v in auc_difference_interval(s, s, [1] * 5))
    assert all(math.isnan(v) for v in auc_difference_interval(s, s, [0, 0, 0, 0, 1]))


def test_difference_interval_hand_computed_variance():
    # a = [1, 3, 2, 4], b = [2, 1, 3, 4], labels [0, 0, 1, 1]: AUC(a) = 0.75, AUC(b) = 1.
    # Placements (share of the other class beaten, ties ½):
    #   positives: a → (0.5, 1), b → (1, 1); differences −0.5, 0 → variance 0.125
    #   negatives: a → (0, 0.5), b → (0, 0);   differences 0, 0.5 → variance 0.125
    # Var = 0.125 / 2 + 0.125 / 2 = 0.125; half width = 1.959964 × √0.125 = 0.692952.
    low, high = auc_difference_interval([1, 3, 2, 4], [2, 1, 3, 4], [0, 0, 1, 1])
    assert low == pytest.approx(-0.25 - 0.692952, abs=1e-6) and high == pytest.approx(
        -0.25 + 0.692952, abs=1e-6
    )


def test_difference_interval_agrees_with_a_plain_paired_bootstrap():
    a, y = _mixed_sample()
    rng = np.random.default_rng(2)
    b = a + rng.normal(scale=0.6, size=a.size)  # a noisier copy of the same ranking
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    plain = []
    for _ in range(3000):
        rows = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
        plain.append(roc_auc(a[rows], y[rows]) - roc_auc(b[rows], y[rows]))
    low, high = auc_difference_interval(a, b, y)
    assert (low + high) / 2 == pytest.approx(roc_auc(a, y) - roc_auc(b, y), abs=1e-12)
    assert low == pytest.approx(np.percentile(plain, 2.5), abs=0.01)
    assert high == pytest.approx(np.percentile(plain, 97.5), abs=0.01)
    # Pairing: the difference is better determined than either AUC on its own (here 0.065
    # wide against 0.111), although b is only a noisy copy of a.
    single_low, single_high = bootstrap_auc_interval(a, y, draws=3000, seed=4)
    assert high - low < 0.7 * (single_high - single_low)


# ---------------------------------------------------------------------------------------
# Cuts: top-k weights, lift, deciles, top lists
# ---------------------------------------------------------------------------------------


def test_top_k_weights_share_ties_at_the_cut():
    # k = 2: 5 is in; the three 4s share the one place left.
    assert top_k_weights([5, 4, 4, 4, 1], 2).tolist() == pytest.approx([1, 1 / 3, 1 / 3, 1 / 3, 0])
    # Per group, NaN and ineligible rows never listed.
    w = top_k_weights(
        [9, 8, 7, 9, np.nan, 1],
        2,
        groups=["a", "a", "a", "b", "b", "b"],
        eligible=[True, False, True, True, True, True],
    )
    assert w.tolist() == [1, 0, 1, 1, 0, 1]


@settings(deadline=None, max_examples=100)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=40), st.floats(0.1, 50))
def test_top_k_weights_fill_exactly_k_places(values, k):
    w = top_k_weights(values, k)
    assert w.sum() == pytest.approx(min(k, len(values)))
    assert ((w >= 0) & (w <= 1)).all()


def test_lift_hand_cases():
    # 10 rows, churns at ranks 1 and 6: overall 2/10; the top 10 % (one row) churned → 5.
    scores = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    labels = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert top_fraction_lift(scores, labels) == pytest.approx(5.0)
    # Top 20 % = ranks 1-2: rate ½ → lift 2.5.
    assert top_fraction_lift(scores, labels, fraction=0.2) == pytest.approx(2.5)
    # A tie at the cut: the two 9s share the single place, half a churn → rate ½, lift 2.5.
    tied = [9, 9, 5, 5, 5, 5, 5, 5, 5, 5]
    assert top_fraction_lift(tied, [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]) == pytest.approx(2.5)
    # 15 rows → the top 1.5 rows: row 1 (churned) and half of row 2 (not): rate 1/1.5.
    fifteen = list(range(15, 0, -1))
    assert top_fraction_lift(fifteen, [1] + [0] * 13 + [1]) == pytest.approx((1 / 1.5) / (2 / 15))
    assert math.isnan(top_fraction_lift(scores, [0] * 10))


def test_decile_rates_add_up_and_agree_with_lift():
    s, y = _mixed_sample(n=203)
    deciles = risk_decile_rates(s, y)
    assert deciles["observations"].tolist() == pytest.approx([20.3] * 10)
    assert deciles["churns"].sum() == pytest.approx(y.sum())
    assert deciles["churn_rate"].iloc[0] / y.mean() == pytest.approx(top_fraction_lift(s, y))


def test_health_bands_split_at_40_and_70():
    out = health_band_rates([39.9, 40, 69.9, 70, 100, np.nan], [1, 1, 0, 0, 1, 1]).set_index("band")
    assert out["observations"].tolist() == [1, 2, 2]
    assert out["churns"].tolist() == [1, 1, 1]
    assert out.loc["yellow", "churn_rate"] == 0.5


def test_top_list_precision_pools_weeks():
    # k = 2. Week 1: 90 hit, 80 miss (70 and the 0 are off the list) → 1/2.
    # Week 2: two 50s share the 2 places fully (hit, miss), 40 off → 1/2.
    # Week 3: one eligible row, a hit → 1/1. Pooled: 3 hits / 5 places.
    as_of = ["2024-01-01"] * 4 + ["2024-01-08"] * 3 + ["2024-01-15"] * 2
    priority = [90, 80, 70, 0, 50, 50, 40, 60, np.nan]
    hits = [1, 0, 1, 1, 1, 0, 1, 1, 1]
    precision, places, found = top_list_precision(as_of, priority, hits, k=2)
    assert (precision, places, found) == (pytest.approx(0.6), 5.0, 3.0)


# ---------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------


def test_component_directions():
    y = [1] * 5 + [0] * 5
    ramp = np.arange(10, 110, 10, dtype=float)  # churners have the low scores
    frame = pd.DataFrame(
        {
            "activity": ramp,  # risk 100 − score: churners riskiest → AUC 1
            "breadth": ramp[::-1],  # the other way round → AUC 0
            "seat_utilization": [50.0] * 10,  # constant → AUC ½
            "trend": [np.nan] * 10,
            "support": [10, 20, np.nan, np.nan, np.nan, 60, 70, 80, 90, 100],  # 2 churns present
            # risk: churners {90, 70, 50, 30, 85} vs stayers {60, 40, 20, 10, 95}:
            # 90→4, 70→4, 50→3, 30→2, 85→4 wins = 17 of 25 → AUC 0.68.
            "sentiment": [10, 30, 50, 70, 15, 40, 60, 80, 90, 5],
        }
    )
    out = component_auc(frame, y, min_churns=2).set_index("component")
    assert out.loc["activity", "auc"] == 1.0 and out.loc["activity", "direction"] == RIGHT_WAY
    assert out.loc["breadth", "auc"] == 0.0 and out.loc["breadth", "direction"] == WRONG_WAY
    assert out.loc["seat_utilization", "direction"] == NO_SIGNAL
    assert "within" in out.loc["seat_utilization", "reason"]
    assert out.loc["trend", "observations"] == 0 and out.loc["trend", "direction"] == NO_SIGNAL
    assert math.isnan(out.loc["trend", "auc"])
    assert out.loc["support", "observations"] == 7 and out.loc["support", "churns"] == 2
    assert out.loc["sentiment", "auc"] == pytest.approx(0.68)
    strict = component_auc(frame, y, min_churns=3).set_index("component")
    assert strict.loc["support", "direction"] == NO_SIGNAL and math.isnan(strict.loc["support", "auc"])
    assert strict.loc["support", "reason"] == "only 2 churns where present; at least 3 are needed"


# ---------------------------------------------------------------------------------------
# A hand-made history, end to end (tests/backtest_history.py: the table of what happened)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history():
    obs, changes, episodes = history_frames()
    outcomes = label_outcomes(obs, changes, horizon_days=60)
    open_signals = open_signals_from_episodes(obs, episodes)
    return obs, outcomes, open_signals


def test_history_outcomes(history):
    obs, outcomes, _ = history
    by_org = outcomes.assign(org=obs["org_id"]).groupby("org")[["churned", "contracted", "expanded"]].all()
    assert sorted(by_org.index[by_org["churned"]]) == ["A", "B", "C", "I"]
    assert by_org.index[by_org["contracted"]].tolist() == ["D"]
    assert by_org.index[by_org["expanded"]].tolist() == ["E"]
    ids = churn_event_ids(obs, outcomes)
    assert count_events(ids) == 4 and int(outcomes["churned"].sum()) == 8


def test_open_signals_follow_the_episode_days(history):
    obs, _, open_signals = history
    # Open at D1: A, D, E, F; at D2 also B, I and G → 4 + 7 = 11 rows.
    assert len(open_signals) == 11
    flags = signal_flags(obs, open_signals)
    at = flags.assign(org=obs["org_id"], as_of=obs["as_of"]).set_index(["org", "as_of"])
    assert not at.loc[("B", D1), "usage_drop"] and at.loc[("B", D2), "usage_drop"]
    # Opened Jan 3 09:30 UTC: open at the Jan 8 scan, not the Jan 1 one.
    assert at.loc[("G", D2), "expansion_candidate"] and not at.loc[("G", D1), "expansion_candidate"]


def test_closed_episodes_are_not_open():
    obs = pd.DataFrame({"as_of": [D1, D2], "org_id": ["a", "a"]})
    episodes = pd.DataFrame(
        {
            "org_id": ["a"],
            "type": ["usage_drop"],
            "opened_at": [day("2023-12-01")],
            "closed_at": [day("2024-01-05")],
        }
    )
    assert open_signals_from_episodes(obs, episodes)["as_of"].tolist() == [D1]


def test_signal_precision_recall_and_lead_times(history):
    obs, outcomes, open_signals = history
    out = signal_precision_recall(obs, outcomes, open_signals).set_index("type")
    assert out.index.tolist() == list(SIGNAL_TYPES)
    # Losses (churn or contraction): A, B, C, I, D at both dates = 10 rows.
    # Revenue at risk: A ×2 (hits), I at D2 (hit), F ×2 (misses) → 3/5; recall 3/10.
    # Lead: A Jan 20 − Dec 25 = 26 days; I Feb 20 − Jan 2 = 49 days → median 37.5.
    risk = out.loc["revenue_at_risk"]
    assert (risk.signal_observations, risk.hits, risk.outcome_observations) == (5, 3, 10)
    assert risk.precision == pytest.approx(0.6) and risk.recall == pytest.approx(0.3)
    assert risk.lead_episodes == 2 and risk.median_lead_days == 37.5
    # Usage drop: B at D2, a hit → 1/1; recall 1/10; lead Feb 10 − Jan 5 = 36.
    drop = out.loc["usage_drop"]
    assert (drop.precision, drop.recall, drop.median_lead_days) == (1.0, pytest.approx(0.1), 36.0)
    # Inactive paying: D ×2, contracted → 2/2; recall 2/10; lead Jan 30 − Dec 1 = 60.
    inactive = out.loc["inactive_paying"]
    assert (inactive.precision, inactive.recall, inactive.median_lead_days) == (1.0, pytest.approx(0.2), 60.0)
    # Expansion candidate: E ×2 (hits), G at D2 (miss) → 2/3; expanded rows E ×2 → recall 1;
    # lead Feb 1 − Dec 20 = 43.
    exp = out.loc["expansion_candidate"]
    assert exp.precision == pytest.approx(2 / 3) and exp.recall == 1.0 and exp.median_lead_days == 43.0


def test_mrr_caught_counts_each_churn_once(history):
    obs, outcomes, open_signals = history
    flags = signal_flags(obs, open_signals)
    risk = flags[["revenue_at_risk", "usage_drop", "inactive_paying"]].any(axis=1)
    # Lost: A 1000 + B 500 + C 200 + I 800 = 2500; caught A, B, I (B and I only at D2) = 2300.
    share, lost, caught, events, caught_events = mrr_caught(obs, outcomes, risk)
    assert (lost, caught, events, caught_events) == (2500.0, 2300.0, 4, 3)
    assert share == pytest.approx(0.92)


def test_backtest_figures(history):
    obs, outcomes, open_signals = history
    result = backtest(obs, outcomes, open_signals, horizon_days=60, top_k=2, min_churns=3, draws=300)
    assert (result.observations, result.churned_observations, result.churn_events) == (18, 8, 4)
    assert (result.asof_dates, result.first_asof, result.last_asof) == (2, D1, D2)
    model, by_mrr, by_silence = result.rankings
    assert (model.name, by_mrr.name, by_silence.name) == (MODEL, BY_MRR, BY_SILENCE)
    # Model risk 100 − health; churners {80, 65, 40, 70} vs stayers {55, 20, 70, 25, 35}:
    # 80→5, 65→4, 40→3, 70→4.5 → 16.5 / 20 = 0.825 (each org seen twice: same ratio).
    assert model.auc.value == pytest.approx(0.825)
    assert (model.auc.observations, model.auc.positives) == (18, 8)
    assert model.auc.low <= 0.825 <= model.auc.high
    # Top 10 % of 18 rows = 1.8 rows, both of A's (risk 80, churned) → rate 1 ÷ 8/18 = 2.25.
    assert model.lift.value == pytest.approx(2.25)
    # Top 2 by priority: D1 A (hit), F (miss); D2 A, I (hits) → 3/4.
    assert model.top_precision.value == pytest.approx(0.75)
    assert (model.top_precision.observations, model.top_precision.positives) == (4, 3)
    # MRR, biggest first: churners {1000, 500, 200, 800} vs stayers {300, 400, 100, 100, 100}:
    # 5 + 5 + 3 + 5 = 18 / 20 = 0.9; top 2 each week A and I, both lost → 1.0.
    assert by_mrr.auc.value == pytest.approx(0.9) and by_mrr.top_precision.value == 1.0
    # Silence, never seen first: churners {30, 10, ∞, 5} vs stayers {20, 1, 3, 2, 40}:
    # 4 + 3 + 5 + 3 = 15 / 20 = 0.75; top 2 each week C (churn) and H (no) → ½.
    assert by_silence.auc.value == pytest.approx(0.75) and by_silence.top_precision.value == 0.5
    # The model's gain over each baseline: 0.825 − 0.9 and 0.825 − 0.75.
    assert model.model_gain is None
    assert by_mrr.model_gain.value == pytest.approx(-0.075) and by_silence.model_gain.value == pytest.approx(
        0.075
    )
    assert by_mrr.model_gain.low <= -0.075 <= by_mrr.model_gain.high
    assert result.mrr_caught.value == pytest.approx(0.92)
    assert (result.lost_mrr, result.caught_mrr) == (2500.0, 2300.0)

    bands = result.health_bands.set_index("band")
    # red: A, B, I, F (×2) → 6 churned of 8; yellow: C, D, H → 2 of 6; green: E, G → 0 of 4.
    assert bands["observations"].tolist() == [8, 6, 4]
    assert bands["churns"].tolist() == [6, 2, 0]
    assert result.risk_deciles["churn_rate"].iloc[0] == pytest.approx(1.0)

    comps = result.components.set_index("component")
    assert comps.loc["activity", "auc"] == pytest.approx(0.825)
    assert (
        comps.loc["breadth", "auc"] == pytest.approx(0.175) and comps.loc["breadth", "direction"] == WRONG_WAY
    )
    assert comps.loc["support", "direction"] == NO_SIGNAL
    # Sentiment is present only for C: one churn event behind it.
    assert comps.loc["sentiment", "churns"] == 1 and comps.loc["sentiment", "direction"] == NO_SIGNAL

    table = result.comparison().set_index("ranking")
    assert table.loc[BY_MRR, "auc"] == pytest.approx(0.9) and table.loc[MODEL, "churns"] == 8
    assert table.loc[BY_SILENCE, "model_gain"] == pytest.approx(0.075) and math.isnan(
        table.loc[MODEL, "model_gain"]
    )


def test_backtest_reports_nothing_on_too_few_churns(history):
    obs, outcomes, open_signals = history
    result = backtest(obs, outcomes, open_signals, draws=50)  # default: at least 5 churns
    assert not result.model.auc.reported
    assert result.model.auc.reason == "only 4 churns; at least 5 are needed"
    assert math.isnan(result.rankings[1].lift.value)
    assert math.isnan(result.rankings[1].model_gain.value) and result.rankings[1].model_gain.reason
    assert (result.components["direction"] == NO_SIGNAL).all()
    # Figures not resting on the churn count still come out. Top 10 lists every open signal:
    # D1 A, F, D, E → hits A, D, E; D2 adds B, I, G → hits A, I, B, D, E: 8 of 11 places.
    assert result.model.top_precision.value == pytest.approx(8 / 11)
    assert result.mrr_caught.value == pytest.approx(0.92)


def test_require_evidence_sentences(history):
    obs, outcomes, _ = history
    with pytest.raises(NotEnoughEvidence) as err:
        require_evidence(obs, outcomes)
    assert str(err.value) == "only 4 churns in the scored period; at least 5 are needed to score"
    require_evidence(obs, outcomes, min_churns=4)
    one = outcomes["churned"] & (obs["org_id"] == "A")
    with pytest.raises(NotEnoughEvidence, match="^only 1 churn in the scored period"):
        require_evidence(obs, outcomes.assign(churned=one))
    with pytest.raises(NotEnoughEvidence, match="no paying org was scored"):
        require_evidence(obs.iloc[:0], outcomes.iloc[:0])
    with pytest.raises(NotEnoughEvidence, match="every scored org churned"):
        require_evidence(obs, outcomes.assign(churned=True), min_churns=1)


def test_backtest_checks_alignment(history):
    obs, outcomes, open_signals = history
    with pytest.raises(ValueError, match="aligned"):
        backtest(obs, outcomes.iloc[::-1].reset_index(drop=True).iloc[1:], open_signals)
    with pytest.raises(KeyError, match="days_since_seen"):
        backtest(obs.drop(columns="days_since_seen"), outcomes, open_signals)
