"""Calibration report text: the verdict follows the gain's interval, the numbers are the
result's, and the block at the end is the exact TOML that loads."""

from __future__ import annotations

import dataclasses
import tomllib

import pandas as pd

from cli.calibration_report import render_calibration_text
from scoring.calibration import DEFAULT_WEIGHTS, CalibrationResult, PeriodFigures

SUGGESTED = {"activity": 55, "breadth": 3, "seat_utilization": 0, "trend": 12, "support": 10, "sentiment": 20}


def _result(**changes) -> CalibrationResult:
    base = CalibrationResult(
        current_weights=dict(DEFAULT_WEIGHTS),
        suggested_weights=SUGGESTED,
        train_first=pd.Timestamp("2024-01-01"),
        train_last=pd.Timestamp("2024-03-04"),
        test_first=pd.Timestamp("2024-03-11"),
        test_last=pd.Timestamp("2024-05-13"),
        train_observations=3600,
        train_churns=700,
        test_observations=2400,
        test_churns=480,
        train_auc_before=0.7234,
        train_auc_after=0.8367,
        before=PeriodFigures(0.7200, 0.7003, 0.7395, 2.1944),
        after=PeriodFigures(0.8347, 0.8171, 0.8487, 3.5616),
        gain_low=0.0981,
        gain_high=0.1313,
        warnings=(),
    )
    return dataclasses.replace(base, **changes)


def test_calibration_text_when_the_fit_helps():
    text = render_calibration_text(_result())
    lines = text.splitlines()
    assert (
        lines[1] == "The suggested weights rank held-out churn better than the current ones "
        "(+0.11 AUC, 95 % interval +0.10 to +0.13)."
    )
    assert "Fitted on 2024-01-01 to 2024-03-04: 3,600 observations, 700 churned." in lines
    assert "Held out 2024-03-11 to 2024-05-13: 2,400 observations, 480 churned." in lines
    assert "seat utilization       20          0" in lines
    assert "activity               30         55" in lines
    assert "Current weights    0.72 (0.70 to 0.74)                  2.19×" in lines
    assert "Suggested weights  0.83 (0.82 to 0.85)                  3.56×" in lines
    assert "On the training period: AUC 0.72 with the current weights, 0.84 with the suggested ones." in lines
    assert "Warning" not in text
    block = text[text.index("[health.weights]") :]
    assert tomllib.loads(block)["health"]["weights"] == SUGGESTED


def test_calibration_text_when_it_does_not():
    result = _result(
        gain_low=-0.02,
        gain_high=0.05,
        warnings=(
            "Only 12 churned observations in the held-out "
            "period (at least 20 are needed to trust the comparison).",
        ),
    )
    text = render_calibration_text(result)
    assert text.splitlines()[1] == (
        "Keep the current weights: the suggested ones are not clearly better on the "
        "held-out period (+0.11 AUC, 95 % interval -0.02 to +0.05)."
    )
    assert "Warning: Only 12 churned observations in the held-out period" in text
