"""What moved since the previous scan: component score changes as one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scoring_helpers import make_ctx, make_orgs

from domain.config import Config
from scoring.drivers import MOVED_COLUMNS, moved_components, what_moved
from scoring.health import component_scores, score_health


def frame(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("org_id")


def test_spec_example_biggest_change_first_with_unicode_minus() -> None:
    prev = frame({"acme": {"activity": 68.0, "seat_utilization": 80.0, "trend": 50.0}})
    cur = frame({"acme": {"activity": 50.0, "seat_utilization": 74.0, "trend": 50.4}})
    assert what_moved(cur, prev).to_dict() == {"acme": "activity \u221218, seat utilization \u22126"}


def test_order_is_by_absolute_change_then_component_order() -> None:
    prev = frame({"a": {"activity": 50.0, "breadth": 50.0, "trend": 50.0, "sentiment": 50.0}})
    cur = frame({"a": {"activity": 45.0, "breadth": 60.0, "trend": 55.0, "sentiment": 20.0}})
    assert what_moved(cur, prev).loc["a"] == "sentiment −30, breadth +10, activity −5, trend +5"


def test_min_points_threshold_and_small_changes() -> None:
    prev = frame({"a": {"activity": 50.0, "trend": 50.0, "support": 100.0}})
    cur = frame({"a": {"activity": 51.0, "trend": 50.99, "support": 99.6}})
    assert what_moved(cur, prev).loc["a"] == "activity +1"
    assert what_moved(cur, prev, min_points=0.3).loc["a"] == "activity +1, trend +1, support −0.4"
    assert what_moved(cur, prev, min_points=5).loc["a"] == ""


def test_nothing_moved_or_no_previous_gives_empty_strings() -> None:
    cur = frame({"a": {"activity": 50.0}, "b": {"activity": 70.0}})
    assert what_moved(cur, frame({"a": {"activity": 50.0}})).to_dict() == {"a": "", "b": ""}
    assert what_moved(cur, pd.DataFrame()).to_dict() == {"a": "", "b": ""}


def test_component_left_out_on_either_side_is_not_reported() -> None:
    prev = frame({"a": {"activity": 50.0, "seat_utilization": np.nan, "sentiment": 80.0}})
    cur = frame({"a": {"activity": 40.0, "seat_utilization": 90.0, "sentiment": np.nan}})
    assert what_moved(cur, prev).loc["a"] == "activity −10"


def test_moved_components_structured() -> None:
    prev = frame({"a": {"activity": 68.0, "trend": 40.0}, "b": {"activity": 10.0, "trend": 10.0}})
    cur = frame({"b": {"activity": 30.0, "trend": 10.0}, "a": {"activity": 50.0, "trend": 65.0}})
    moved = moved_components(cur, prev)
    assert list(moved.columns) == MOVED_COLUMNS
    assert moved.values.tolist() == [
        ["b", "activity", 10.0, 30.0, 20.0],
        ["a", "trend", 40.0, 65.0, 25.0],
        ["a", "activity", 68.0, 50.0, -18.0],
    ]


def test_negative_min_points_refused() -> None:
    with pytest.raises(ValueError):
        moved_components(frame({"a": {"activity": 1.0}}), frame({"a": {"activity": 1.0}}), -1)


def test_accepts_score_health_output_against_stored_previous_components() -> None:
    cfg = Config()
    ctx = make_ctx(tickets_available=False)
    before = score_health(make_orgs({"acme": {"activity_active_days": 16}}), ctx, cfg)
    after = score_health(make_orgs({"acme": {"activity_active_days": 10, "recent_key_features": 3}}), ctx, cfg)
    # activity 80 → 50, breadth 100 → 75
    assert what_moved(after, component_scores(before)).to_dict() == {"acme": "activity −30, breadth −25"}
