"""Backtest report: one self-contained HTML page and a plain-text version for the terminal.

The HTML opens offline from a file or an e-mail attachment: no scripts, no fonts, no
external URLs; the charts are small inline SVGs drawn here (a bar per value, an optional
dashed reference line), so matplotlib is not needed. Every piece of text from the result goes
through ``html.escape``.

Both renderers show the same things, in the order a customer-success lead reads them: a
verdict (does the health score beat the naive rankings?), the summary beside the baselines,
which components carry signal, how each signal type did, then the charts (churn rate by risk
decile, by health band, AUC per component). Figures not reported say why.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cli.common import table_rows
from scoring.evaluation import BacktestResult, Figure

BAND_COLORS = {"red": "#d64545", "yellow": "#e0b400", "green": "#3c9a5f"}
BAR_COLOR = "#4a6fa5"
WRONG_COLOR = "#d64545"
MUTED_COLOR = "#9aa5b1"
DASH = "—"

# ---------------------------------------------------------------------------------------
# Number formatting shared by both renderers
# ---------------------------------------------------------------------------------------


def _nan(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_auc(value: float) -> str:
    return DASH if _nan(value) else f"{value:.2f}"


def fmt_interval(low: float, high: float, signed: bool = False) -> str:
    if _nan(low) or _nan(high):
        return ""
    spec = "+.2f" if signed else ".2f"
    return f"{low:{spec}} to {high:{spec}}"


def fmt_share(value: float) -> str:
    return DASH if _nan(value) else f"{100 * value:.1f} %"


def fmt_lift(value: float) -> str:
    return DASH if _nan(value) else f"{value:.2f}×"


def fmt_count(value: float) -> str:
    """Counts are whole except where a tie at a cut was shared; show a decimal only then. A
    slice's size comes from differences of float cuts, so "whole" allows float noise: 2,003,
    never 2,003.0."""
    if _nan(value):
        return DASH
    whole = round(float(value))
    return f"{whole:,}" if abs(float(value) - whole) < 0.05 else f"{value:,.1f}"


def fmt_days(value: float) -> str:
    return DASH if _nan(value) else f"{value:g} d"


def fmt_money(value: float, symbol: str) -> str:
    return DASH if _nan(value) else f"{symbol}{value:,.0f}"


def fmt_figure_auc(fig: Figure) -> str:
    """ "0.83 (0.77 to 0.88)", or the dash and the reason."""
    if not fig.reported:
        return f"{DASH} ({fig.reason})" if fig.reason else DASH
    interval = fmt_interval(fig.low, fig.high)
    return f"{fig.value:.2f} ({interval})" if interval else f"{fig.value:.2f}"


def fmt_gain(fig: Figure | None) -> str:
    if fig is None:
        return ""
    if not fig.reported:
        return DASH
    interval = fmt_interval(fig.low, fig.high, signed=True)
    return f"{fig.value:+.2f} ({interval})" if interval else f"{fig.value:+.2f}"


def fmt_top(fig: Figure) -> str:
    if not fig.reported:
        return DASH
    return f"{fmt_share(fig.value)} ({fmt_count(fig.positives)}/{fmt_count(fig.observations)})"


# ---------------------------------------------------------------------------------------
# What the report says, as plain rows (both renderers draw these)
# ---------------------------------------------------------------------------------------


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _gain_text(gain: Figure) -> str:
    return f"AUC difference {gain.value:+.2f}, 95 % interval {fmt_interval(gain.low, gain.high, True)}"


def verdict_lines(result: BacktestResult) -> list[str]:
    """One sentence per baseline: does the health score rank churn better than it?"""
    lines = []
    for ranking in result.rankings[1:]:
        gain = ranking.model_gain
        if gain is None or not gain.reported:
            lines.append(f"Health score vs {ranking.name}: not enough churns to compare.")
        elif gain.low > 0:
            lines.append(f"The health score ranks churn better than {ranking.name} ({_gain_text(gain)}).")
        elif gain.high < 0:
            lines.append(
                f"{_capital(ranking.name)} ranks churn better than the health score ({_gain_text(gain)})."
            )
        else:
            lines.append(f"The health score is not clearly better than {ranking.name} ({_gain_text(gain)}).")
    return lines


def period_line(result: BacktestResult) -> str:
    if result.first_asof is None:
        return "No as-of dates."
    horizon = f", outcomes over {result.horizon_days} days" if result.horizon_days else ""
    return (
        f"{result.first_asof:%Y-%m-%d} to {result.last_asof:%Y-%m-%d}, {result.asof_dates} as-of dates"
        f"{horizon}: {result.observations:,} observations, {result.churned_observations:,} churned, "
        f"{result.churn_events:,} churn events."
    )


SUMMARY_HEADERS = [
    "Ranking",
    "Churn AUC (95 % interval)",
    "Health score gain",
    "Top-decile lift",
    "Top-{k} precision",
    "MRR caught",
    "Observations",
    "Churned",
]


def summary_rows(result: BacktestResult, symbol: str) -> list[list[str]]:
    caught = result.mrr_caught
    caught_text = (
        (
            f"{fmt_share(caught.value)} ({fmt_money(result.caught_mrr, symbol)} of "
            f"{fmt_money(result.lost_mrr, symbol)})"
        )
        if caught.reported
        else DASH
    )
    rows = []
    for i, r in enumerate(result.rankings):
        rows.append(
            [
                _capital(r.name),
                fmt_figure_auc(r.auc),
                fmt_gain(r.model_gain),
                fmt_lift(r.lift.value),
                fmt_top(r.top_precision),
                caught_text if i == 0 else DASH,
                fmt_count(r.auc.observations),
                fmt_count(r.auc.positives),
            ]
        )
    return rows


def summary_headers(result: BacktestResult) -> list[str]:
    return [h.replace("{k}", str(result.top_k)) for h in SUMMARY_HEADERS]


COMPONENT_HEADERS = ["Component", "Churn AUC", "Direction", "Observations", "Churns", "Note"]


def component_rows(result: BacktestResult) -> list[list[str]]:
    return [
        [
            row.component.replace("_", " "),
            fmt_auc(row.auc),
            row.direction,
            fmt_count(row.observations),
            fmt_count(row.churns),
            row.reason,
        ]
        for row in table_rows(result.components)
    ]


SIGNAL_HEADERS = [
    "Signal",
    "Open (obs.)",
    "Followed by outcome",
    "Precision",
    "Recall",
    "Median lead",
    "Episodes",
]


def signal_rows(result: BacktestResult) -> list[list[str]]:
    return [
        [
            row.label,
            fmt_count(row.signal_observations),
            fmt_count(row.hits),
            fmt_share(row.precision),
            fmt_share(row.recall),
            fmt_days(row.median_lead_days),
            fmt_count(row.lead_episodes),
        ]
        for row in table_rows(result.signals)
    ]


NOTES = [
    "Churn AUC: the chance a churned observation ranks riskier than one that stayed (0.5 = coin toss).",
    "Health score gain: the health score's AUC minus the baseline's, scored on the same resampled orgs.",
    "Top-{k} precision: of the orgs on each week's top-{k} list, the share whose revenue then moved the way "
    "their signal said (baselines: churned or contracted).",
    "MRR caught: MRR lost to churn whose org had a risk signal open beforehand.",
    "Signals: risk signals count as right when churn or contraction followed, Expansion candidate when "
    "expansion did; lead time runs from the signal's opening to the outcome.",
]


def notes(result: BacktestResult) -> list[str]:
    return [n.replace("{k}", str(result.top_k)) for n in NOTES]


# ---------------------------------------------------------------------------------------
# Inline SVG bar chart
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # NaN draws no bar, just the label and a dash
    color: str = BAR_COLOR
    text: str = ""  # printed above the bar


def svg_bar_chart(
    bars: Sequence[Bar],
    title: str,
    y_max: float,
    reference: tuple[float, str] | None = None,
    width: int = 520,
    height: int = 240,
) -> str:
    """A vertical bar chart as an inline ``<svg>`` (no namespace URL needed inside HTML)."""
    left, right, top, bottom = 12, 12, 48, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(bars), 1)
    y_max = y_max if y_max > 0 else 1.0

    def y_of(value: float) -> float:
        return top + plot_h * (1 - min(max(value, 0.0), y_max) / y_max)

    esc = html.escape
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
        f'<text x="{left}" y="16" class="chart-title">{esc(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#555"/>',
    ]
    for i, bar in enumerate(bars):
        x = left + i * slot + slot * 0.15
        mid = left + (i + 0.5) * slot
        if not _nan(bar.value):
            y = y_of(bar.value)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{top + plot_h - y:.1f}" '
                f'fill="{esc(bar.color)}"/>'
            )
        label_y = (y_of(bar.value) if not _nan(bar.value) else top + plot_h) - 4
        parts.append(
            f'<text x="{mid:.1f}" y="{label_y:.1f}" text-anchor="middle" class="value">'
            f"{esc(bar.text or DASH)}</text>"
        )
        parts.append(
            f'<text x="{mid:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{esc(bar.label)}</text>'
        )
    if reference is not None and not _nan(reference[0]):
        # The dashed line across the plot; its legend sits under the title, clear of the bars.
        y, key_x = y_of(reference[0]), left + plot_w
        dash = 'stroke="#333" stroke-dasharray="4 3"'
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{key_x}" y2="{y:.1f}" {dash}/>')
        parts.append(f'<line x1="{left}" y1="30" x2="{left + 24}" y2="30" {dash}/>')
        parts.append(f'<text x="{left + 30}" y="34" class="ref">{esc(reference[1])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _overall_rate(result: BacktestResult) -> float:
    return result.churned_observations / result.observations if result.observations else math.nan


def _rate_axis(rates: pd.Series) -> float:
    top = rates.max(skipna=True)
    return 1.0 if _nan(top) or top <= 0 else top * 1.1


def lift_chart(result: BacktestResult) -> str:
    deciles = result.risk_deciles
    bars = [
        Bar(str(row.decile), row.churn_rate, BAR_COLOR, fmt_share(row.churn_rate))
        for row in table_rows(deciles)
    ]
    overall = _overall_rate(result)
    return svg_bar_chart(
        bars,
        "Churn rate by risk decile (1 = riskiest tenth by health)",
        _rate_axis(deciles["churn_rate"]),
        reference=(overall, f"overall {fmt_share(overall)}"),
    )


def band_chart(result: BacktestResult) -> str:
    bands = result.health_bands
    bars = [
        Bar(
            f"{row.band} ({fmt_count(row.observations)})",
            row.churn_rate,
            BAND_COLORS.get(row.band, BAR_COLOR),
            fmt_share(row.churn_rate),
        )
        for row in table_rows(bands)
    ]
    return svg_bar_chart(
        bars,
        "Churn rate by health band (red < 40, yellow 40-69, green >= 70)",
        _rate_axis(bands["churn_rate"]),
    )


def component_chart(result: BacktestResult) -> str:
    def color(direction: str) -> str:
        return (
            BAR_COLOR
            if direction.startswith("points")
            else WRONG_COLOR
            if direction == "wrong way"
            else MUTED_COLOR
        )

    bars = [
        Bar(row.component.replace("_", " "), row.auc, color(row.direction), fmt_auc(row.auc))
        for row in table_rows(result.components)
    ]
    return svg_bar_chart(bars, "Churn AUC per component", 1.05, reference=(0.5, "0.5 = no signal"), width=640)


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }
td.num { text-align: right; white-space: nowrap; }
.verdict { font-weight: 600; } .muted { color: #666; font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: #333; } svg .chart-title { font-size: 13px; font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
"""


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{html.escape(c)}</td>' if i in numeric else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_backtest_html(
    result: BacktestResult,
    title: str = "SaaS Tracker backtest",
    currency_symbol: str = "$",
    generated_at: str | None = None,
) -> str:
    """The whole report as one HTML document (UTF-8, no external references)."""
    esc = html.escape
    stamp = f'<p class="muted">Generated {esc(generated_at)}</p>' if generated_at else ""
    verdicts = "".join(f'<p class="verdict">{esc(v)}</p>' for v in verdict_lines(result))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>{esc(period_line(result))}</p>{stamp}",
        verdicts,
        "<h2>Summary</h2>",
        _html_table(summary_headers(result), summary_rows(result, currency_symbol), numeric=(3, 6, 7)),
        "<h2>Health components</h2>",
        _html_table(COMPONENT_HEADERS, component_rows(result), numeric=(1, 3, 4)),
        "<h2>Signals</h2>",
        _html_table(SIGNAL_HEADERS, signal_rows(result), numeric=(1, 2, 3, 4, 5, 6)),
        "<h2>Charts</h2>",
        f'<div class="charts">{lift_chart(result)}{band_chart(result)}{component_chart(result)}</div>',
        "<h2>How to read this</h2>",
        "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes(result)) + "</ul>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------
# Plain text
# ---------------------------------------------------------------------------------------


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; numeric columns right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(c).rjust(w) if i in numeric else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def _rate_rows(frame: pd.DataFrame, key: str) -> list[list[str]]:
    return [
        [str(getattr(r, key)), fmt_count(r.observations), fmt_count(r.churns), fmt_share(r.churn_rate)]
        for r in table_rows(frame)
    ]


def render_backtest_text(result: BacktestResult, currency_symbol: str = "$") -> str:
    """The report for a terminal: the same sections as the HTML, charts as small tables."""
    sections = [
        "Backtest",
        period_line(result),
        *verdict_lines(result),
        "",
        "Summary",
        text_table(summary_headers(result), summary_rows(result, currency_symbol), numeric=(3, 6, 7)),
        "",
        "Health components",
        text_table(COMPONENT_HEADERS, component_rows(result), numeric=(1, 3, 4)),
        "",
        "Signals",
        text_table(SIGNAL_HEADERS, signal_rows(result), numeric=(1, 2, 3, 4, 5, 6)),
        "",
        "Churn rate by risk decile (1 = riskiest)",
        text_table(
            ["Decile", "Observations", "Churns", "Churn rate"],
            _rate_rows(result.risk_deciles, "decile"),
            numeric=(0, 1, 2, 3),
        ),
        "",
        "Churn rate by health band",
        text_table(
            ["Band", "Observations", "Churns", "Churn rate"],
            _rate_rows(result.health_bands, "band"),
            numeric=(1, 2, 3),
        ),
        "",
        *notes(result),
    ]
    return "\n".join(sections) + "\n"
