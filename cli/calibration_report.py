"""Calibration result for the terminal: what was fitted on which dates, current against
suggested weights on the held-out period, the warnings, and the TOML block to paste.

The verdict comes first and the TOML block last, so a lead who reads one line knows whether
to act, and one who acts can copy the block without scrolling back up.
"""

from __future__ import annotations

from cli.backtest_report import fmt_interval, fmt_lift, text_table
from scoring.calibration import CalibrationResult, PeriodFigures, weights_toml_block


def _auc_text(fig: PeriodFigures) -> str:
    interval = fmt_interval(fig.auc_low, fig.auc_high)
    return f"{fig.auc:.2f} ({interval})" if interval else f"{fig.auc:.2f}"


def verdict(result: CalibrationResult) -> str:
    gain = f"{result.gain:+.2f} AUC, 95 % interval {fmt_interval(result.gain_low, result.gain_high, signed=True)}"
    if result.improved:
        return f"The suggested weights rank held-out churn better than the current ones ({gain})."
    return f"Keep the current weights: the suggested ones are not clearly better on the held-out period ({gain})."


def period_lines(result: CalibrationResult) -> list[str]:
    return [
        f"Fitted on {result.train_first:%Y-%m-%d} to {result.train_last:%Y-%m-%d}: "
        f"{result.train_observations:,} observations, {result.train_churns:,} churned.",
        f"Held out {result.test_first:%Y-%m-%d} to {result.test_last:%Y-%m-%d}: "
        f"{result.test_observations:,} observations, {result.test_churns:,} churned.",
    ]


def render_calibration_text(result: CalibrationResult) -> str:
    """The whole calibration report as plain text, ending with the ``[health.weights]`` block."""
    weights = text_table(
        ["Component", "Current", "Suggested"],
        [
            [c.replace("_", " "), str(result.current_weights[c]), str(w)]
            for c, w in result.suggested_weights.items()
        ],
        numeric=(1, 2),
    )
    held_out = text_table(
        ["Held-out period", "Churn AUC (95 % interval)", "Top-decile lift"],
        [
            ["Current weights", _auc_text(result.before), fmt_lift(result.before.lift)],
            ["Suggested weights", _auc_text(result.after), fmt_lift(result.after.lift)],
        ],
        numeric=(2,),
    )
    lines = [
        "Calibration",
        verdict(result),
        *period_lines(result),
        "",
        weights,
        "",
        held_out,
        f"On the training period: AUC {result.train_auc_before:.2f} with the current weights, "
        f"{result.train_auc_after:.2f} with the suggested ones.",
        "",
        *(f"Warning: {w}" for w in result.warnings),
        *([""] if result.warnings else []),
        "To use the suggested weights, put this in saas-tracker.toml:",
        "",
        weights_toml_block(result.suggested_weights).rstrip("\n"),
    ]
    return "\n".join(lines) + "\n"
