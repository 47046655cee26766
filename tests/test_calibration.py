"""Weight calibration: health the product's way, the time split, the fit, the TOML block."""

from __future__ import annotations

import dataclasses
import math
import time
import tomllib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.calibration import (
    DEFAULT_WEIGHTS,
    calibrate,
    fit_weights,
    health_from_components,
    require_calibration_evidence,
    round_weights,
    time_split,
    weights_toml_block,
)
from scoring.evaluation import COMPONENTS, NotEnoughEvidence, roc_auc

# ---------------------------------------------------------------------------------------
# Health from components
# ---------------------------------------------------------------------------------------


def test_health_renormalises_over_present_components():
    frame = pd.DataFrame(
        {
            "activity": [80.0, np.nan, 50.0],
            "breadth": [np.nan, np.nan, 100.0],
            "seat_utilization": [40.0, np.nan, np.nan],
            "trend": [np.nan, np.nan, np.nan],
            "support": [np.nan, np.nan, np.nan],
            "sentiment": [np.nan, np.nan, 0.0],
        },
        index=["x", "y", "z"],
    )
    health = health_from_components(frame, DEFAULT_WEIGHTS)
    # x: (80·30 + 40·20) / 50 = 64; y: nothing present; z: (50·30 + 100·20 + 0·5) / 55 = 63.6.
    assert health["x"] == 64.0 and math.isnan(health["y"]) and health["z"] == 63.6
    # Only proportions matter; a present component weighing 0 is still present, adding nothing.
    assert health_from_components(frame, {c: 2 * w for c, w in DEFAULT_WEIGHTS.items()}).equals(health)
    zero_seat = {**DEFAULT_WEIGHTS, "seat_utilization": 0}
    assert health_from_components(frame, zero_seat)["x"] == 80.0


def test_health_matches_the_product_scoring():
    from scoring_helpers import make_ctx, make_orgs

    from domain.config import Config, HealthConfig
    from scoring.health import component_scores, score_health

    weights = {
        "activity": 50.0,
        "breadth": 0.0,
        "seat_utilization": 25.0,
        "trend": 10.0,
        "support": 10.0,
        "sentiment": 5.0,
    }
    cfg = dataclasses.replace(Config(), health=HealthConfig(weights=weights))
    orgs = make_orgs(
        {
            "plain": {},
            "seats": {"seats": 8, "recent_active_users": 6, "nps": 40},
            "falling": {"recent_events": 30, "activity_active_days": 7, "support_penalty": 25.0},
            "new": {"previous_events": 0, "recent_key_features": 1},
        }
    )
    scored = score_health(orgs, make_ctx(), cfg)
    ours = health_from_components(component_scores(scored), weights)
    pd.testing.assert_series_equal(ours, scored["health"], check_names=False)


# ---------------------------------------------------------------------------------------
# Time split
# ---------------------------------------------------------------------------------------


def _dated(days: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {"as_of": pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D"), "n": range(len(days))}
    )


def test_time_split_hand_case():
    # Ten weekly dates, ten rows each: 60 % → the first six dates train.
    frame = _dated([7 * (i // 10) for i in range(100)])
    train, test = time_split(frame, train_fraction=0.6)
    assert len(train) == 60 and len(test) == 40
    assert train["as_of"].max() == pd.Timestamp("2024-02-05") and test["as_of"].min() == pd.Timestamp(
        "2024-02-12"
    )
    # A 20-day gap drops the two dates after the last training date (7 and 14 days after it)
    # from both sides; 60 % of what is used: five dates train, the last three are held out
    # (50 of 80 rows used = 62.5 %; six training dates would leave two held out: 60 of 80 = 75 %).
    gtrain, gapped = time_split(frame, train_fraction=0.6, gap_days=20)
    assert gtrain["as_of"].max() == pd.Timestamp("2024-01-29") and len(gtrain) == 50
    assert gapped["as_of"].min() == pd.Timestamp("2024-02-19") and len(gapped) == 30


@settings(deadline=None, max_examples=150)
@given(
    st.lists(st.integers(0, 60), min_size=2, max_size=80).filter(lambda d: len(set(d)) >= 2),
    st.floats(0.05, 0.95),
    st.integers(0, 10),
)
def test_time_split_never_leaks(days, fraction, gap):
    frame = _dated(days)
    try:
        train, test = time_split(frame, train_fraction=fraction, gap_days=gap)
    except ValueError as err:  # only when the gap swallows every later date
        assert "days after the training period" in str(err)
        return
    assert not train.empty and not test.empty
    assert train["as_of"].max() + pd.Timedelta(days=gap) < test["as_of"].min()
    assert set(train["n"]).isdisjoint(test["n"])
    if gap == 0:
        assert len(train) + len(test) == len(frame)


def test_time_split_needs_two_dates():
    with pytest.raises(ValueError, match="two as-of dates"):
        time_split(_dated([3, 3, 3]))


# ---------------------------------------------------------------------------------------
# Rounding and the TOML block
# ---------------------------------------------------------------------------------------


def test_round_weights_hand_case():
    # 100/6 = 16.67 each: four get 17, the last two 16 (ties go to the earlier component).
    assert list(round_weights({c: 1.0 for c in COMPONENTS}).values()) == [17, 17, 17, 17, 16, 16]
    assert round_weights(DEFAULT_WEIGHTS) == DEFAULT_WEIGHTS


@settings(deadline=None, max_examples=200)
@given(st.lists(st.floats(0, 1000), min_size=6, max_size=6).filter(lambda w: sum(w) > 1e-3))
def test_round_weights_are_whole_and_sum_to_100(values):
    weights = dict(zip(COMPONENTS, values))
    rounded = round_weights(weights)
    assert sum(rounded.values()) == 100 and all(v >= 0 for v in rounded.values())
    exact = {c: v * 100 / sum(values) for c, v in weights.items()}
    assert all(abs(rounded[c] - exact[c]) < 1 for c in COMPONENTS)


def test_toml_block_is_exact_and_parses():
    block = weights_toml_block(DEFAULT_WEIGHTS)
    assert block == (
        "[health.weights]\nactivity = 30\nbreadth = 20\nseat_utilization = 20\ntrend = 15\n"
        "support = 10\nsentiment = 5\n"
    )
    parsed = tomllib.loads(block)["health"]["weights"]
    assert parsed == DEFAULT_WEIGHTS and sum(parsed.values()) == 100
    with pytest.raises(ValueError, match="whole number"):
        weights_toml_block({**DEFAULT_WEIGHTS, "trend": 15.5})


def test_toml_block_loads_as_product_configuration(tmp_path):
    from domain.config import load_config

    path = tmp_path / "saas-tracker.toml"
    path.write_text(weights_toml_block({**DEFAULT_WEIGHTS, "breadth": 0, "activity": 50}))
    cfg = load_config(path)
    assert cfg.health.weights["activity"] == 50.0 and cfg.health.weights["breadth"] == 0.0


# ---------------------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------------------


def synthetic(n: int = 6000, dates: int = 20, seed: int = 1) -> pd.DataFrame:
    """Churn driven by a latent risk: activity tracks it (strong), trend weakly, sentiment
    (present for 30 %) moderately; breadth is pure noise; seat utilization points the wrong
    way (high utilization went with churning); support is never present."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    churned = rng.random(n) < 1 / (1 + np.exp(-(2.0 * latent - 2.5)))

    def score(x: np.ndarray) -> np.ndarray:
        return np.clip(50 + 15 * x, 0, 100)

    return pd.DataFrame(
        {
            "as_of": pd.Timestamp("2024-01-01") + pd.to_timedelta(7 * rng.integers(0, dates, n), unit="D"),
            "activity": score(-latent + rng.normal(scale=0.5, size=n)),
            "breadth": score(rng.normal(size=n)),
            "seat_utilization": score(latent + rng.normal(scale=0.7, size=n)),
            "trend": score(-latent + rng.normal(scale=1.5, size=n)),
            "support": np.nan,
            "sentiment": np.where(rng.random(n) < 0.3, score(-latent + rng.normal(size=n)), np.nan),
            "churned": churned,
        }
    )


@pytest.fixture(scope="module")
def calibrated():
    frame = synthetic()
    start = time.perf_counter()
    result = calibrate(frame, DEFAULT_WEIGHTS, draws=300)
    return frame, result, time.perf_counter() - start


def test_fit_drops_noise_and_wrong_way_and_helps_held_out(calibrated):
    _, result, _ = calibrated
    w = result.suggested_weights
    assert sum(w.values()) == 100 and all(v >= 0 for v in w.values())
    assert w["seat_utilization"] == 0  # wrong way
    assert w["breadth"] <= 5  # noise (from 20)
    assert w["activity"] >= 50 and w["activity"] == max(w.values())
    # No support data anywhere: the pull toward the current weights leaves it alone.
    assert w["support"] == 10
    assert result.after.auc > result.before.auc + 0.05
    assert result.gain == pytest.approx(result.after.auc - result.before.auc)
    assert 0 < result.gain_low < result.gain < result.gain_high
    assert result.after.lift > result.before.lift
    assert result.train_auc_after > result.train_auc_before
    assert result.improved and result.warning == ""


def test_calibration_counts_and_split(calibrated):
    frame, result, _ = calibrated
    assert result.train_observations + result.test_observations == len(frame)
    assert result.train_last < result.test_first
    assert result.test_churns == int(frame.loc[frame["as_of"] >= result.test_first, "churned"].sum())
    assert result.current_weights == DEFAULT_WEIGHTS
    test = frame[frame["as_of"] >= result.test_first]
    risk_after = 100 - health_from_components(test, result.suggested_weights)
    assert result.after.auc == pytest.approx(roc_auc(risk_after, test["churned"]))
    assert result.after.auc_low < result.after.auc < result.after.auc_high


def test_fit_is_fast_enough(calibrated):
    _, _, seconds = calibrated
    frame = synthetic(n=10_000, seed=2)
    start = time.perf_counter()
    fit_weights(frame[list(COMPONENTS)], frame["churned"], DEFAULT_WEIGHTS)
    assert time.perf_counter() - start < 10 and seconds < 10


def test_without_signal_the_weights_stay():
    rng = np.random.default_rng(4)
    frame = synthetic(n=3000, seed=4)
    frame["churned"] = rng.random(len(frame)) < 0.1  # unrelated to every component
    assert (
        fit_weights(frame[list(COMPONENTS)], frame["churned"], DEFAULT_WEIGHTS, penalty=0.05)
        == DEFAULT_WEIGHTS
    )


def test_noise_fits_are_flagged_not_recommended():
    # Churn unrelated to every component: the fit will find something on the training part,
    # and the held-out gain's paired interval must then straddle 0 and say so.
    rng = np.random.default_rng(6)
    frame = synthetic(n=3000, seed=6)
    frame["churned"] = rng.random(len(frame)) < 0.1
    result = calibrate(frame, DEFAULT_WEIGHTS, draws=400)
    assert result.test_churns >= 20 and not result.improved
    assert result.gain_low < 0 < result.gain_high
    assert "is not clearly above 0; keep the current weights." in result.warning


def test_fit_is_deterministic():
    frame = synthetic(n=2000, seed=9)
    first = fit_weights(frame[list(COMPONENTS)], frame["churned"], DEFAULT_WEIGHTS)
    assert fit_weights(frame[list(COMPONENTS)], frame["churned"], DEFAULT_WEIGHTS) == first


def test_small_held_out_sample_warns():
    frame = synthetic(n=150, dates=10, seed=3)
    result = calibrate(frame, DEFAULT_WEIGHTS, draws=200)
    assert result.test_churns < 20
    assert f"Only {result.test_churns} churned observations in the held-out period" in result.warning


def test_fit_needs_both_classes():
    frame = synthetic(n=200, seed=5)
    with pytest.raises(NotEnoughEvidence, match="both churned orgs and orgs that stayed"):
        fit_weights(frame[list(COMPONENTS)], np.zeros(len(frame), dtype=bool), DEFAULT_WEIGHTS)


def test_calibration_refuses_what_it_cannot_fit_or_compare():
    yes, no = np.ones(10, dtype=bool), np.zeros(10, dtype=bool)
    mixed = np.array([True] * 3 + [False] * 7)
    with pytest.raises(NotEnoughEvidence) as err:
        require_calibration_evidence(mixed, mixed)
    assert (
        str(err.value)
        == "only 3 churned observations in the training period; at least 5 are needed to fit weights"
    )
    with pytest.raises(NotEnoughEvidence, match="^only 1 churned observation in the training"):
        require_calibration_evidence(np.array([True] + [False] * 9), mixed)
    with pytest.raises(NotEnoughEvidence, match="every training observation churned"):
        require_calibration_evidence(yes, mixed)
    with pytest.raises(NotEnoughEvidence, match="^the held-out period has no churn;"):
        require_calibration_evidence(mixed, no, min_train_churns=3)
    with pytest.raises(NotEnoughEvidence, match="^the held-out period has no org that stayed;"):
        require_calibration_evidence(mixed, yes, min_train_churns=3)
    require_calibration_evidence(mixed, mixed, min_train_churns=3)
    # calibrate checks before fitting: churn only in the later dates.
    frame = synthetic(n=400, seed=3)
    frame["churned"] = frame["as_of"] > frame["as_of"].quantile(0.9)
    with pytest.raises(NotEnoughEvidence, match="in the training period"):
        calibrate(frame, draws=50)
