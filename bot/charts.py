"""Charts for Slack messages: plain Python values in, PNG bytes out.

Slack shows an uploaded PNG inline, which carries a 12-week trend or the Revenue × Health
grid better than text. These functions know nothing about the rest of the project (no
project classes, no database), so a caller builds the inputs from whatever read model it
has, and the module can be tested, moved or reused on its own.

Why it is written this way:

* matplotlib is imported inside the render functions, not at module level: importing it
  costs a noticeable fraction of a second, and the CLI imports ``bot`` modules at start-up
  even when it draws nothing.
* Only the object-oriented API (``Figure`` + ``FigureCanvasAgg``) is used, never pyplot:
  pyplot keeps global "current figure" state, and Slack handlers run on several threads at
  once. Since pyplot is never imported, no backend has to be selected either; the Agg
  canvas is attached to each figure explicitly.
* Every chart has the same pixel size (``WIDTH_PX`` × ``HEIGHT_PX``), uses constrained
  layout so titles and tick labels are never cut off, and is saved without the
  "Software" PNG text chunk, so the same input gives byte-identical output (cacheable,
  and easy to compare in tests).
* Each chart is drawn with Python's cyclic garbage collector paused and its young
  generation collected right after (``domain.collector``): a figure is some 60,000 objects in
  reference cycles, which would otherwise reach the oldest generation and make every later
  full collection, in the middle of some Slack answer, walk them (150-350 ms each).
* Odd data (no rows, all zeros, all health missing, huge amounts) draws an honest chart
  or a "No data" panel instead of raising: a missing picture must never stop a digest.
  Inputs of mismatched lengths are a caller bug and raise ValueError.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, ParamSpec, cast

from domain.collector import collector_paused
from domain.vocabulary import CELL_KEYS, CELL_LABELS

if TYPE_CHECKING:  # only for annotations: keeps `import bot.charts` free of matplotlib
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

__all__ = [
    "CELL_NAMES",
    "DPI",
    "HEIGHT_PX",
    "WIDTH_PX",
    "format_money_short",
    "mrr_trend_png",
    "org_trend_png",
    "revenue_health_map_png",
]

WIDTH_PX = 800
HEIGHT_PX = 400
DPI = 100

# Health bands, the same thresholds the health score uses for red / yellow / green.
RED_BELOW = 40.0
GREEN_FROM = 70.0

# Revenue × Health cells in grid order: MRR-high row (health low, high), then MRR-low row.
CELL_NAMES = tuple(CELL_LABELS[key] for key in CELL_KEYS)  # Retention, Champions, Watch, Expansion

_RED = "#d64541"
_YELLOW = "#f2b134"
_GREEN = "#2e9e5b"
_BLUE = "#3b7dd8"
_AMBER = "#e8a33d"
_INK = "#1f2933"
_MUTED = "#6b7785"
_GRID = "#d9dee4"
_CELL_COLOURS = (_RED, _GREEN, _AMBER, _BLUE)  # at risk, champions, watch, expansion

_TITLE_SIZE = 13
_LABEL_SIZE = 10
_TICK_SIZE = 9
_TITLE_MARGIN_PX = 12
# Largest marker in the grid (points): the one a cell holding all the MRR gets. It fits a
# cell of an 800×400 chart with room for the labels.
_MAX_MARKER_PT = 110.0


# --- formatting ------------------------------------------------------------------------------


def format_money_short(amount: float | None, symbol: str = "$") -> str:
    """$950, $12k, $12.5k, $1.2M, $3B: chart labels must stay short, so no cents and at most
    one decimal. Missing amounts read "–" rather than "$0", which would be a claim."""
    if amount is None or (isinstance(amount, float) and not math.isfinite(amount)):
        return "–"
    sign = "-" if amount < 0 else ""
    value = abs(float(amount))
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= threshold:
            scaled = value / threshold
            text = f"{scaled:.0f}" if scaled >= 100 else f"{scaled:.1f}".removesuffix(".0")
            return f"{sign}{symbol}{text}{suffix}"
    return f"{sign}{symbol}{value:.0f}"


def _set_title(fig: "Figure", title: str) -> None:
    """A bold title that fits the width. Constrained layout cannot wrap a suptitle and an
    org name can be long, so it is cut with an ellipsis, measured in rendered pixels (a
    character count would not do: "W" is three times as wide as "i")."""
    text = " ".join(str(title).split())
    artist = fig.suptitle(text, fontsize=_TITLE_SIZE, color=_INK, fontweight="bold")
    renderer = cast("FigureCanvasAgg", fig.canvas).get_renderer()  # every figure here is on an Agg canvas
    room = WIDTH_PX - 2 * _TITLE_MARGIN_PX
    if artist.get_window_extent(renderer).width <= room:
        return
    low, high = 0, len(text)  # longest prefix that fits, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        artist.set_text(text[:middle].rstrip() + "…")
        if artist.get_window_extent(renderer).width <= room:
            low = middle
        else:
            high = middle - 1
    artist.set_text(text[:low].rstrip() + "…")


def _count_short(value: float) -> str:
    """Event counts on an axis: 950, 12k, 1.2M."""
    return format_money_short(value, symbol="")


def _week_label(day: date) -> str:
    return f"{day:%b} {day.day}"


def _month_label(day: date) -> str:
    return f"{day:%b %y}"


# --- figure plumbing -------------------------------------------------------------------------


_P = ParamSpec("_P")


def _drawn_apart(draw: Callable[_P, bytes]) -> Callable[_P, bytes]:
    """The chart drawn with the collector paused, its figure's cycles freed young after."""

    @functools.wraps(draw)
    def drawn(*args: _P.args, **kwargs: _P.kwargs) -> bytes:
        with collector_paused(free_young_after=True):
            return draw(*args, **kwargs)

    return drawn


def _new_figure() -> "Figure":
    """A fixed-size figure with its own Agg canvas (no pyplot, no shared state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained", facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: "Figure") -> bytes:
    """PNG bytes of exactly WIDTH_PX × HEIGHT_PX. No bbox_inches="tight" (it would change
    the size; constrained layout already keeps labels inside), no Software chunk (it
    names the matplotlib version, which would make output differ between installs)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _style_axes(ax: "Axes") -> None:
    """Light grid, no top/right frame, readable ticks: the same look on every chart."""
    ax.tick_params(labelsize=_TICK_SIZE, colors=_INK)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(_GRID)
    ax.grid(axis="y", color=_GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _no_data(ax: "Axes", message: str = "No data") -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=_LABEL_SIZE + 1, color=_MUTED)


def _clean(value: float | int | None) -> float | None:
    """None for anything that is not a finite number (None, NaN, inf)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _category_ticks(ax: "Axes", labels: Sequence[str], max_labels: int = 13) -> None:
    """One tick per category; past `max_labels`, every n-th (always the last, the newest)."""
    count = len(labels)
    step = max(1, math.ceil(count / max_labels))
    positions = [i for i in range(count) if (count - 1 - i) % step == 0]
    ax.set_xticks(positions, [labels[i] for i in positions])
    ax.set_xlim(-0.6, count - 0.4)


def _check_lengths(**sequences: Sequence[Any]) -> None:
    lengths = {name: len(seq) for name, seq in sequences.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"chart inputs must have the same length, got {lengths}")


# --- org trend -------------------------------------------------------------------------------


@_drawn_apart
def org_trend_png(
    weeks: Sequence[date],
    health: Sequence[float | None],
    events: Sequence[int],
    *,
    title: str,
) -> bytes:
    """An org's weekly health (0-100, red/yellow/green bands) above its weekly usage bars.

    Two panels sharing the week axis rather than one twin-axis plot: two y scales on one
    panel invite reading the crossing of the lines as meaningful. Missing health (None or
    NaN) leaves a gap in the line, because interpolating would invent a score.
    """
    _check_lengths(weeks=weeks, health=health, events=events)
    fig = _new_figure()
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (2, 1)})
    _set_title(fig, title)
    labels = [_week_label(w) for w in weeks]
    scores = [_clean(h) for h in health]
    _draw_health(top, scores)
    _draw_events(bottom, [_clean(e) for e in events])
    if labels:
        _category_ticks(bottom, labels)
    else:
        bottom.set_xticks([])
    return _png(fig)


def _draw_health(ax: "Axes", scores: Sequence[float | None]) -> None:
    _style_axes(ax)
    ax.axhspan(0, RED_BELOW, color=_RED, alpha=0.10, linewidth=0)
    ax.axhspan(RED_BELOW, GREEN_FROM, color=_YELLOW, alpha=0.12, linewidth=0)
    ax.axhspan(GREEN_FROM, 100, color=_GREEN, alpha=0.10, linewidth=0)
    ax.set_ylim(0, 100)
    ax.set_yticks([0, RED_BELOW, GREEN_FROM, 100])
    ax.set_ylabel("Health", fontsize=_LABEL_SIZE, color=_INK)
    known = [(i, min(100.0, max(0.0, s))) for i, s in enumerate(scores) if s is not None]
    if not known:
        _no_data(ax, "No health score yet")
        return
    # NaN breaks the line where a week has no score; markers keep isolated weeks visible.
    ys = [math.nan if s is None else min(100.0, max(0.0, s)) for s in scores]
    ax.plot(range(len(ys)), ys, color=_INK, linewidth=2.2, marker="o", markersize=4.5, zorder=3)
    last_x, last_y = known[-1]
    ax.annotate(
        f"{last_y:.0f}",
        (last_x, last_y),
        xytext=(0, -16 if last_y > 90 else 7),  # stay inside the panel near the top
        textcoords="offset points",
        ha="center",
        fontsize=_LABEL_SIZE,
        fontweight="bold",
        color=_INK,
    )


def _draw_events(ax: "Axes", counts: Sequence[float | None]) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    _style_axes(ax)
    ax.set_ylabel("Events", fontsize=_LABEL_SIZE, color=_INK)
    values = [max(0.0, c) if c is not None else 0.0 for c in counts]
    if not values:
        _no_data(ax)
        ax.set_yticks([])
        return
    ax.bar(range(len(values)), values, color=_BLUE, alpha=0.85, width=0.7)
    if max(values) == 0:
        _no_data(ax, "No events in these weeks")
    ax.set_ylim(0, max(values) * 1.1 if max(values) > 0 else 1)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _count_short(v)))


# --- Revenue × Health grid -----------------------------------------------------------------


@_drawn_apart
def revenue_health_map_png(
    cells: Sequence[tuple[str, int, float]],
    *,
    currency_symbol: str = "$",
    health_split: float = 60.0,
) -> bytes:
    """The Revenue × Health 2×2 grid: (name, org count, MRR) per cell, in grid order
    ("Retention", "Champions", "Watch", "Expansion") = MRR high / low rows × health
    low / high columns.

    Each cell shows a disc whose *area* is proportional to the cell's share of total MRR,
    so "where is the money" reads at a glance; areas, not radii, because the eye compares
    areas. An empty sequence draws the grid with the default names and zeros.
    """
    placed = _grid_cells(cells)
    total = sum(mrr for _, _, mrr in placed)
    fig = _new_figure()
    ax = fig.subplots()
    ax.set_xlim(0, 2)
    ax.set_ylim(0, 2)
    ax.set_xticks([0.5, 1.5], [f"Health < {health_split:g}", f"Health ≥ {health_split:g}"])
    ax.set_yticks([0.5, 1.5], ["MRR low", "MRR high"])
    ax.tick_params(length=0, labelsize=_LABEL_SIZE, colors=_INK)
    for side in ax.spines.values():
        side.set_visible(False)
    _set_title(fig, f"Revenue × Health · {format_money_short(total, currency_symbol)} MRR")
    for index, (name, count, mrr) in enumerate(placed):
        share = mrr / total if total > 0 else 0.0
        _draw_cell(ax, index, name, count, mrr, share, currency_symbol)
    return _png(fig)


def _grid_cells(cells: Sequence[tuple[str, int, float]]) -> list[tuple[str, int, float]]:
    """Exactly four (name, count, MRR ≥ 0) cells; no cells at all means four empty ones."""
    if len(cells) == 0:
        return [(name, 0, 0.0) for name in CELL_NAMES]
    if len(cells) != len(CELL_NAMES):
        raise ValueError(f"the Revenue × Health grid needs 4 cells in grid order, got {len(cells)}")
    out = []
    for name, count, mrr in cells:
        amount = _clean(mrr)
        out.append((str(name), max(0, int(count or 0)), max(0.0, amount) if amount is not None else 0.0))
    return out


def _draw_cell(ax: "Axes", index: int, name: str, count: int, mrr: float, share: float, symbol: str) -> None:
    from matplotlib.patches import Rectangle

    colour = _CELL_COLOURS[index]
    x0 = float(index % 2)  # health low | high
    y0 = 1.0 - index // 2  # MRR high row on top
    ax.add_patch(Rectangle((x0, y0), 1, 1, facecolor=colour, alpha=0.08, edgecolor="white", linewidth=3))
    ax.text(x0 + 0.04, y0 + 0.88, name, ha="left", va="top", fontsize=_LABEL_SIZE + 2, fontweight="bold", color=colour)
    orgs = f"{count:,} org" + ("" if count == 1 else "s")
    ax.text(x0 + 0.04, y0 + 0.62, orgs, ha="left", va="top", fontsize=_LABEL_SIZE, color=_INK)
    money = f"{format_money_short(mrr, symbol)} MRR · {share:.0%}"
    ax.text(x0 + 0.04, y0 + 0.44, money, ha="left", va="top", fontsize=_LABEL_SIZE, color=_INK)
    if share > 0:
        # scatter sizes are areas in points²: proportional to the share, as promised.
        size = share * _MAX_MARKER_PT**2
        ax.scatter([x0 + 0.76], [y0 + 0.5], s=[size], color=colour, alpha=0.55, edgecolors=colour, linewidths=1.5)


# --- MRR trend -----------------------------------------------------------------------------


@_drawn_apart
def mrr_trend_png(months: Sequence[date], mrr: Sequence[float], *, currency_symbol: str = "$") -> bytes:
    """Monthly MRR as bars with money ticks ($12k), the latest month labelled.

    Bars rather than a line: each month's MRR is a level, not a point on a continuum, and
    a missing month (None or NaN) then simply has no bar instead of a misleading slope.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    _check_lengths(months=months, mrr=mrr)
    fig = _new_figure()
    ax = fig.subplots()
    _style_axes(ax)
    values = [_clean(v) for v in mrr]
    known = [v for v in values if v is not None]
    latest = known[-1] if known else None
    headline = f" · {format_money_short(latest, currency_symbol)} now" if latest is not None else ""
    _set_title(fig, f"MRR by month{headline}")
    if not known:
        _no_data(ax)
        ax.set_xticks([])
        ax.set_yticks([])
        return _png(fig)
    assert latest is not None  # known is not empty
    xs = [i for i, v in enumerate(values) if v is not None]
    ax.bar(xs, known, color=_BLUE, alpha=0.9, width=0.7)
    low, high = min(0.0, min(known)), max(0.0, max(known))
    if low == high:
        high = 1.0
    ax.set_ylim(low * 1.12, high * 1.12)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_money_short(v, currency_symbol)))
    ax.annotate(
        format_money_short(latest, currency_symbol),
        (xs[-1], latest),
        xytext=(0, 4 if latest >= 0 else -12),
        textcoords="offset points",
        ha="center",
        fontsize=_LABEL_SIZE,
        fontweight="bold",
        color=_INK,
    )
    _category_ticks(ax, [_month_label(m) for m in months])
    return _png(fig)
