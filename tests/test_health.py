"""Health score rules pinned with numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scoring_helpers import AS_OF, make_ctx, make_orgs

from domain.config import Config, HealthConfig, ScanConfig
from domain.vocabulary import HEALTH_COMPONENTS
from scoring.frames import ScanContext, empty_org_frame
from scoring.health import (
    component_scores,
    health_band,
    health_columns,
    left_out_components,
    score_health,
)

CFG = Config()


def test_activity_scores_active_days_against_full_days() -> None:
    orgs = make_orgs({f"d{d}": {"activity_active_days": d} for d in (0, 5, 10, 20, 28)})
    h = score_health(orgs, make_ctx(), CFG)
    assert h["activity_value"].tolist() == [0, 5, 10, 20, 28]
    assert h["activity_score"].tolist() == [0.0, 25.0, 50.0, 100.0, 100.0]


def test_activity_full_days_comes_from_config() -> None:
    cfg = Config(scan=ScanConfig(activity_full_days=10))
    h = score_health(make_orgs({"a": {"activity_active_days": 5}}), make_ctx(), cfg)
    assert h.loc["a", "activity_score"] == 50.0


def test_breadth_is_key_features_used_over_configured_total_capped() -> None:
    orgs = make_orgs({"a": {"recent_key_features": 2}, "b": {"recent_key_features": 8},
                      "c": {"recent_key_features": 10}})
    h = score_health(orgs, make_ctx(key_feature_total=8), CFG)
    assert h["breadth_value"].tolist() == [2, 8, 10]
    assert h["breadth_score"].tolist() == [25.0, 100.0, 100.0]


def test_breadth_left_out_when_no_key_features_known() -> None:
    h = score_health(make_orgs({"a": {}}), make_ctx(key_feature_total=0), CFG)
    assert np.isnan(h.loc["a", "breadth_score"])
    assert np.isnan(h.loc["a", "breadth_weight"])
    assert np.isnan(h.loc["a", "breadth_contribution"])


def test_seat_utilization_value_score_and_missing_seats() -> None:
    orgs = make_orgs(
        {
            "eighty": {"seats": 10.0, "recent_active_users": 8},
            "over": {"seats": 10.0, "recent_active_users": 12},
            "unknown": {"seats": np.nan, "recent_active_users": 8},
            "zero": {"seats": 0.0, "recent_active_users": 8},
            "none": {"seats": None, "recent_active_users": 8},
        }
    )
    h = score_health(orgs, make_ctx(), CFG)
    assert h.loc["eighty", "seat_utilization"] == pytest.approx(0.8)
    assert h.loc["eighty", "seat_utilization_value"] == pytest.approx(0.8)
    assert h.loc["eighty", "seat_utilization_score"] == pytest.approx(80.0)
    assert h.loc["over", "seat_utilization"] == pytest.approx(1.2)
    assert h.loc["over", "seat_utilization_score"] == 100.0
    for org in ("unknown", "zero", "none"):
        assert np.isnan(h.loc[org, "seat_utilization"])
        assert np.isnan(h.loc[org, "seat_utilization_score"])
        assert np.isnan(h.loc[org, "seat_utilization_weight"])


@pytest.mark.parametrize(
    ("recent", "change", "score"),
    [
        (30, -0.7, 0.0),
        (50, -0.5, 0.0),
        (75, -0.25, 25.0),
        (100, 0.0, 50.0),
        (110, 0.1, 60.0),
        (150, 0.5, 100.0),
        (400, 3.0, 100.0),
    ],
)
def test_trend_maps_usage_change_linearly_and_clamps(recent: int, change: float, score: float) -> None:
    h = score_health(make_orgs({"a": {"recent_events": recent, "previous_events": 100}}), make_ctx(), CFG)
    assert h.loc["a", "usage_change"] == pytest.approx(change)
    assert h.loc["a", "trend_value"] == pytest.approx(change)
    assert h.loc["a", "trend_score"] == pytest.approx(score)


def test_trend_floor_and_ceiling_come_from_config() -> None:
    cfg = Config(health=HealthConfig(trend_floor=-1.0, trend_ceiling=1.0))
    orgs = make_orgs({"down": {"recent_events": 50, "previous_events": 100},
                      "up": {"recent_events": 150, "previous_events": 100}})
    h = score_health(orgs, make_ctx(), cfg)
    assert h["trend_score"].tolist() == [25.0, 75.0]


def test_usage_change_undefined_without_previous_window_and_trend_left_out() -> None:
    orgs = make_orgs({"a": {"recent_events": 40, "previous_events": 0, "recent_active_users": 6,
                            "previous_active_users": 0}})
    h = score_health(orgs, make_ctx(), CFG)
    assert np.isnan(h.loc["a", "usage_change"])
    assert np.isnan(h.loc["a", "active_users_change"])
    assert np.isnan(h.loc["a", "trend_score"])
    assert np.isnan(h.loc["a", "trend_weight"])


def test_active_users_change() -> None:
    h = score_health(make_orgs({"a": {"recent_active_users": 6, "previous_active_users": 4}}), make_ctx(), CFG)
    assert h.loc["a", "active_users_change"] == pytest.approx(0.5)


def test_support_penalty_scores_and_left_out_without_tickets() -> None:
    orgs = make_orgs({"none": {"support_penalty": 0.0}, "some": {"support_penalty": 30.0},
                      "lots": {"support_penalty": 120.0}})
    h = score_health(orgs, make_ctx(tickets_available=True), CFG)
    assert h["support_score"].tolist() == [100.0, 70.0, 0.0]
    assert h["support_value"].tolist() == [0.0, 30.0, 120.0]
    off = score_health(orgs, make_ctx(tickets_available=False), CFG)
    assert off["support_score"].isna().all()
    assert off["support_weight"].isna().all()
    assert off["support_value"].isna().all()


@pytest.mark.parametrize(("nps", "score"), [(-100.0, 0.0), (0.0, 50.0), (20.0, 60.0), (100.0, 100.0)])
def test_sentiment_maps_nps_to_0_100(nps: float, score: float) -> None:
    h = score_health(make_orgs({"a": {"nps": nps, "survey_responses": 3}}), make_ctx(), CFG)
    assert h.loc["a", "sentiment_value"] == nps
    assert h.loc["a", "sentiment_score"] == pytest.approx(score)


def test_sentiment_left_out_without_surveys() -> None:
    h = score_health(make_orgs({"a": {"nps": np.nan}}), make_ctx(), CFG)
    assert np.isnan(h.loc["a", "sentiment_score"])
    assert np.isnan(h.loc["a", "sentiment_weight"])


def test_all_components_present_use_configured_weights() -> None:
    # activity 25/20 → 100, breadth 2/8 → 25, seats 8/10 → 80, usage +10% → 60,
    # support penalty 30 → 70, NPS 20 → 60:
    # (100·30 + 25·20 + 80·20 + 60·15 + 70·10 + 60·5) / 100 = 70.0
    orgs = make_orgs(
        {
            "a": {
                "activity_active_days": 25,
                "recent_key_features": 2,
                "seats": 10.0,
                "recent_active_users": 8,
                "recent_events": 110,
                "previous_events": 100,
                "support_penalty": 30.0,
                "nps": 20.0,
            }
        }
    )
    h = score_health(orgs, make_ctx(key_feature_total=8), CFG)
    row = h.loc["a"]
    weights = {c: row[f"{c}_weight"] for c in HEALTH_COMPONENTS}
    assert weights == pytest.approx(
        {"activity": 30, "breadth": 20, "seat_utilization": 20, "trend": 15, "support": 10, "sentiment": 5}
    )
    contributions = {c: row[f"{c}_contribution"] for c in HEALTH_COMPONENTS}
    assert contributions == pytest.approx(
        {"activity": 30.0, "breadth": 5.0, "seat_utilization": 16.0, "trend": 9.0, "support": 7.0, "sentiment": 3.0}
    )
    assert row["health"] == 70.0
    assert row["band"] == "green"


def test_missing_components_renormalise_remaining_weights() -> None:
    # No seats, no tickets, no surveys: 30/20/15 → 46.15/30.77/23.08.
    # activity 10/20 → 50, breadth 3/4 → 75, usage −20% → 30:
    # (50·30 + 75·20 + 30·15) / 65 = 3450 / 65 = 53.0769… → 53.1
    orgs = make_orgs(
        {"a": {"activity_active_days": 10, "recent_key_features": 3, "recent_events": 80, "previous_events": 100,
               "seats": np.nan}}
    )
    h = score_health(orgs, make_ctx(key_feature_total=4, tickets_available=False), CFG)
    row = h.loc["a"]
    assert row["activity_weight"] == pytest.approx(46.15, abs=0.005)
    assert row["breadth_weight"] == pytest.approx(30.77, abs=0.005)
    assert row["trend_weight"] == pytest.approx(23.08, abs=0.005)
    assert row["activity_weight"] + row["breadth_weight"] + row["trend_weight"] == pytest.approx(100.0)
    assert row["activity_contribution"] == pytest.approx(1500 / 65)
    assert row["breadth_contribution"] == pytest.approx(1500 / 65)
    assert row["trend_contribution"] == pytest.approx(450 / 65)
    assert row["health"] == 53.1
    assert row["band"] == "yellow"
    assert left_out_components(h).loc["a"] == "seat utilization, support, sentiment"


def test_renormalisation_is_per_org() -> None:
    orgs = make_orgs({"seats": {"seats": 10.0, "recent_active_users": 10}, "noseats": {"seats": np.nan}})
    h = score_health(orgs, make_ctx(key_feature_total=4, tickets_available=True), CFG)
    # with seats: activity, breadth, seats, trend, support = 95 points of weight
    assert h.loc["seats", "activity_weight"] == pytest.approx(3000 / 95)
    # without: 75 points
    assert h.loc["noseats", "activity_weight"] == pytest.approx(3000 / 75)
    assert h.loc["seats", "health"] == 92.1  # (100·30+100·20+100·20+50·15+100·10)/95 = 92.105
    assert h.loc["noseats", "health"] == 90.0  # (3000+2000+750+1000)/75


def test_only_activity_left_gives_activity_score() -> None:
    orgs = make_orgs({"a": {"activity_active_days": 7, "previous_events": 0, "seats": np.nan}})
    h = score_health(orgs, make_ctx(key_feature_total=0, tickets_available=False), CFG)
    assert h.loc["a", "activity_weight"] == 100.0
    assert h.loc["a", "health"] == 35.0
    assert h.loc["a", "band"] == "red"


def _sentiment_only_cfg() -> Config:
    weights = {c: 0.0 for c in HEALTH_COMPONENTS} | {"sentiment": 5.0}
    return Config(health=HealthConfig(weights=weights))


@pytest.mark.parametrize(
    ("nps", "health", "band"),
    [(-21.2, 39.4, "red"), (-21.0, 39.5, "yellow"), (-20.0, 40.0, "yellow"), (38.8, 69.4, "yellow"),
     (39.0, 69.5, "green"), (40.0, 70.0, "green")],
)
def test_bands_at_their_edges(nps: float, health: float, band: str) -> None:
    # Zero weight everywhere but sentiment: health is exactly (nps + 100) / 2. The band is the
    # band of the number as shown (whole points): 39.5 reads "40", so it is yellow, never a
    # "40 red" beside a "40 yellow".
    orgs = make_orgs({"a": {"nps": nps, "previous_events": 0}})
    h = score_health(orgs, make_ctx(key_feature_total=0, tickets_available=False), _sentiment_only_cfg())
    assert h.loc["a", "health"] == health
    assert h.loc["a", "band"] == band
    assert h.loc["a", "activity_weight"] == 0.0  # included with weight 0, not "left out"
    assert h.loc["a", "sentiment_weight"] == 100.0


def test_health_band_function_edges_and_config() -> None:
    # Judged on whole points, as shown: 39.4 reads 39 (red), 39.9 reads 40 (yellow).
    h = pd.Series([0.0, 39.4, 39.9, 40.0, 69.4, 69.9, 70.0, 100.0, np.nan])
    assert health_band(h, CFG).tolist()[:8] == ["red", "red", "yellow", "yellow", "yellow", "green", "green",
                                                "green"]
    assert pd.isna(health_band(h, CFG).iloc[8])
    cfg = Config(health=HealthConfig(red_below=50.0, green_from=80.0))
    assert health_band(pd.Series([49.4, 50.0, 79.4, 80.0]), cfg).tolist() == ["red", "yellow", "yellow", "green"]


def test_band_follows_rounded_health() -> None:
    # NPS −20.08 → 39.96, shown as 40.0: the band must agree with the shown number.
    orgs = make_orgs({"a": {"nps": -20.08, "previous_events": 0}})
    h = score_health(orgs, make_ctx(key_feature_total=0, tickets_available=False), _sentiment_only_cfg())
    assert h.loc["a", "health"] == 40.0
    assert h.loc["a", "band"] == "yellow"


def test_columns_index_and_dtypes() -> None:
    orgs = make_orgs({"b": {}, "a": {}})
    h = score_health(orgs, make_ctx(), CFG)
    assert list(h.columns) == health_columns()
    assert list(h.index) == ["b", "a"]
    assert h.index.name == "org_id"
    assert h["health"].dtype == "float64"
    assert h["activity_score"].dtype == "float64"


def test_object_columns_from_sql_are_coerced() -> None:
    orgs = make_orgs({"a": {"seats": 10.0, "recent_active_users": 9}})
    orgs = orgs.astype({"seats": object, "recent_active_users": object})
    h = score_health(orgs, make_ctx(), CFG)
    assert h.loc["a", "seat_utilization_score"] == pytest.approx(90.0)


def test_empty_org_frame_gives_empty_result() -> None:
    h = score_health(empty_org_frame(), ScanContext(as_of=AS_OF, key_feature_total=3, tickets_available=True), CFG)
    assert h.empty
    assert list(h.columns) == health_columns()


def test_component_scores_shape_for_next_scan() -> None:
    orgs = make_orgs({"a": {"activity_active_days": 10, "seats": np.nan}})
    scores = component_scores(score_health(orgs, make_ctx(tickets_available=False), CFG))
    assert list(scores.columns) == list(HEALTH_COMPONENTS)
    assert scores.loc["a", "activity"] == 50.0
    assert scores.loc["a", "breadth"] == 100.0
    assert np.isnan(scores.loc["a", "seat_utilization"])
    assert np.isnan(scores.loc["a", "support"])
