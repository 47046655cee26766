"""bot.charts: every chart decodes as an 800×400 PNG with real content, follows its data
(gaps, areas, labels), is byte-for-byte repeatable, and survives odd input."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot import charts
from bot.charts import format_money_short, mrr_trend_png, org_trend_png, revenue_health_map_png

REPO = Path(__file__).resolve().parent.parent
WEEKS = [date(2026, 9, 7) + timedelta(weeks=i) for i in range(12)]
HEALTH = [72.0, 74.0, 71.0, None, 65.0, 60.0, 55.0, 48.0, None, 41.0, 38.0, 35.0]
EVENTS = [1200, 1300, 1250, 0, 1100, 900, 800, 600, 500, 450, 300, 200]
MONTHS = [date(2025, m, 1) for m in range(1, 13)]
MRR = [100_000 + 7_300.5 * i for i in range(12)]
CELLS = [("Revenue at risk", 12, 48_000.0), ("Champions", 30, 120_000.0), ("Watch", 40, 9_000.0),
         ("Expansion", 25, 21_000.0)]


def _image(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def _assert_real_chart(png: bytes) -> Image.Image:
    """800×400, several colours, and a meaningful share of pixels that are not background."""
    image = _image(png)
    assert image.size == (charts.WIDTH_PX, charts.HEIGHT_PX)
    colours = image.getcolors(maxcolors=charts.WIDTH_PX * charts.HEIGHT_PX)
    assert colours is not None and len(colours) > 50
    white = sum(count for count, rgb in colours if rgb == (255, 255, 255))
    assert 1 - white / (charts.WIDTH_PX * charts.HEIGHT_PX) > 0.10
    return image


def _blend(colour: str, alpha: float, under: tuple[float, float, float]) -> tuple[float, float, float]:
    rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return tuple(u * (1 - alpha) + c * alpha for u, c in zip(under, rgb))  # type: ignore[return-value]


def _pixels_near(image: Image.Image, target: tuple[float, float, float], tolerance: float = 4) -> int:
    colours = image.getcolors(maxcolors=charts.WIDTH_PX * charts.HEIGHT_PX) or []
    return sum(n for n, rgb in colours if all(abs(a - b) <= tolerance for a, b in zip(rgb, target)))


# --- every chart is a real, fixed-size picture ------------------------------------------------


@pytest.mark.parametrize(
    "render",
    [
        lambda: org_trend_png(WEEKS, HEALTH, EVENTS, title="Initech · health 35 (red)"),
        lambda: revenue_health_map_png(CELLS),
        lambda: mrr_trend_png(MONTHS, MRR),
    ],
    ids=["org_trend", "revenue_health_map", "mrr_trend"],
)
def test_each_chart_is_an_800_by_400_png_with_content(render) -> None:  # noqa: ANN001
    png = render()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    _assert_real_chart(png)
    assert "Software" not in Image.open(io.BytesIO(png)).info  # no version stamp in the file


@pytest.fixture(scope="module")
def base() -> dict[str, bytes]:
    """The three charts of the default data, drawn once for the comparisons below."""
    return {
        "trend": org_trend_png(WEEKS, HEALTH, EVENTS, title="A"),
        "grid": revenue_health_map_png(CELLS),
        "mrr": mrr_trend_png(MONTHS, MRR),
    }


def test_the_same_input_gives_the_same_bytes(base: dict[str, bytes]) -> None:
    assert org_trend_png(WEEKS, HEALTH, EVENTS, title="A") == base["trend"]
    assert revenue_health_map_png(CELLS) == base["grid"]
    assert mrr_trend_png(MONTHS, MRR) == base["mrr"]


def test_other_input_gives_other_bytes(base: dict[str, bytes]) -> None:
    assert org_trend_png(WEEKS, HEALTH[::-1], EVENTS, title="A") != base["trend"]
    assert org_trend_png(WEEKS, HEALTH, EVENTS[::-1], title="A") != base["trend"]
    assert org_trend_png(WEEKS, HEALTH, EVENTS, title="B") != base["trend"]
    assert revenue_health_map_png(CELLS[::-1]) != base["grid"]
    assert mrr_trend_png(MONTHS, MRR[::-1]) != base["mrr"]
    assert mrr_trend_png(MONTHS, MRR, currency_symbol="€") != base["mrr"]


def test_charts_drawn_on_many_threads_at_once_match_the_serial_ones() -> None:
    """Slack handlers run on threads; without pyplot's global figure they cannot mix."""
    jobs = [
        lambda: org_trend_png(WEEKS, HEALTH, EVENTS, title="threads"),
        lambda: revenue_health_map_png(CELLS),
        lambda: mrr_trend_png(MONTHS, MRR),
    ] * 2
    serial = [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        parallel = list(pool.map(lambda job: job(), jobs))
    assert parallel == serial


def test_importing_the_module_does_not_import_matplotlib() -> None:
    """The CLI imports bot modules at start-up; matplotlib loads only when a chart is drawn."""
    code = "import sys, bot.charts; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- the charts follow their data ---------------------------------------------------------------


def test_missing_health_leaves_a_gap_instead_of_joining_the_line() -> None:
    ink = _blend(charts._INK, 1.0, (255, 255, 255))
    three_weeks = WEEKS[:3]
    full = _image(org_trend_png(three_weeks, [50.0, 50.0, 50.0], [1, 1, 1], title="t"))
    gap = _image(org_trend_png(three_weeks, [50.0, None, 50.0], [1, 1, 1], title="t"))
    full_ink, gap_ink = _pixels_near(full, ink, 40), _pixels_near(gap, ink, 40)
    # The title and ticks are the same ink on both; only the line differs. Joined across
    # the gap, the line would cost about as many pixels as the full one.
    assert gap_ink < full_ink - 800


def test_the_health_bands_are_shaded_red_yellow_green() -> None:
    image = _image(org_trend_png(WEEKS, HEALTH, EVENTS, title="bands"))
    white = (255.0, 255.0, 255.0)
    for colour, alpha in ((charts._RED, 0.10), (charts._YELLOW, 0.12), (charts._GREEN, 0.10)):
        assert _pixels_near(image, _blend(colour, alpha, white), 3) > 10_000


def test_grid_disc_areas_are_proportional_to_each_cells_mrr_share() -> None:
    cells = [("Revenue at risk", 3, 20_000.0), ("Champions", 9, 80_000.0), ("Watch", 1, 0.0), ("Expansion", 4, 5_000.0)]
    image = _image(revenue_health_map_png(cells))
    white = (255.0, 255.0, 255.0)
    areas = []
    for colour in charts._CELL_COLOURS:
        cell_background = _blend(colour, 0.08, white)
        areas.append(_pixels_near(image, _blend(colour, 0.55, cell_background), 6))
    at_risk, champions, watch, expansion = areas
    assert watch < 100  # no MRR, no disc (a few anti-aliased text pixels come close)
    assert champions > 5_000
    assert champions / at_risk == pytest.approx(4.0, rel=0.12)
    assert at_risk / expansion == pytest.approx(4.0, rel=0.2)


def test_grid_changes_with_counts_and_the_health_split_label() -> None:
    base = revenue_health_map_png(CELLS)
    assert base != revenue_health_map_png([(n, c + 1, m) for n, c, m in CELLS])
    assert base != revenue_health_map_png(CELLS, health_split=50)


@pytest.mark.parametrize(
    "amount, symbol, text",
    [
        (0, "$", "$0"),
        (950, "$", "$950"),
        (12_000, "$", "$12k"),
        (12_500, "$", "$12.5k"),
        (250_000, "€", "€250k"),
        (1_200_000, "$", "$1.2M"),
        (3_000_000_000, "$", "$3B"),
        (-3_400, "$", "-$3.4k"),
        (None, "$", "–"),
        (math.nan, "$", "–"),
    ],
)
def test_money_is_formatted_short_for_ticks_and_labels(amount: float | None, symbol: str, text: str) -> None:
    assert format_money_short(amount, symbol) == text


# --- odd input draws something honest or fails loudly for caller bugs -----------------------------


@pytest.mark.parametrize(
    "render",
    [
        lambda: org_trend_png(WEEKS, [0.0] * 12, [0] * 12, title="all zeros"),
        lambda: org_trend_png(WEEKS, [None] * 12, EVENTS, title="never scored"),
        lambda: org_trend_png(WEEKS, [math.nan] * 12, [0] * 12, title="NaN"),
        lambda: org_trend_png([], [], [], title="no weeks"),
        lambda: org_trend_png(WEEKS[:1], [100.0], [5], title="one week, top score"),
        lambda: org_trend_png(WEEKS, [-20.0, 180.0] * 6, [10**12] * 12, title="out of range"),
        lambda: org_trend_png(WEEKS, HEALTH, EVENTS, title="W" * 300),
        lambda: revenue_health_map_png([]),
        lambda: revenue_health_map_png([(n, 0, 0.0) for n, _, _ in CELLS]),
        lambda: revenue_health_map_png([(n, 10**6, 1e13) for n, _, _ in CELLS], currency_symbol="£"),
        lambda: revenue_health_map_png([(n, 1, math.nan) for n, _, _ in CELLS]),
        lambda: mrr_trend_png(MONTHS, [0.0] * 12),
        lambda: mrr_trend_png(MONTHS, [None] * 12),  # type: ignore[list-item]
        lambda: mrr_trend_png([], []),
        lambda: mrr_trend_png(MONTHS[:3], [1e13, 2e13, math.nan]),
        lambda: mrr_trend_png(MONTHS[:3], [-500.0, 200.0, 0.0]),
        lambda: mrr_trend_png([date(2000, 1, 1) + timedelta(days=31 * i) for i in range(120)], list(range(120))),
    ],
)
def test_odd_data_still_draws_a_full_size_chart(render) -> None:  # noqa: ANN001
    image = _image(render())
    assert image.size == (charts.WIDTH_PX, charts.HEIGHT_PX)
    assert len(image.getcolors(maxcolors=charts.WIDTH_PX * charts.HEIGHT_PX) or []) > 10


def test_a_long_title_is_cut_to_fit_rather_than_running_off_the_image() -> None:
    image = _image(org_trend_png(WEEKS, HEALTH, EVENTS, title="W" * 300))
    # The title row: its leftmost and rightmost columns stay background.
    title_band = image.crop((0, 0, charts.WIDTH_PX, 25))
    for x in (0, 1, 2, charts.WIDTH_PX - 3, charts.WIDTH_PX - 2, charts.WIDTH_PX - 1):
        assert {title_band.getpixel((x, y)) for y in range(25)} == {(255, 255, 255)}


def test_mismatched_inputs_are_caller_bugs() -> None:
    with pytest.raises(ValueError, match="same length"):
        org_trend_png(WEEKS, HEALTH[:-1], EVENTS, title="t")
    with pytest.raises(ValueError, match="same length"):
        mrr_trend_png(MONTHS, MRR[:-1])
    with pytest.raises(ValueError, match="4 cells"):
        revenue_health_map_png(CELLS[:3])


def test_an_org_chart_is_drawn_once_per_set_of_numbers(monkeypatch) -> None:
    """A repeated /org skips matplotlib: the picture is kept by the numbers it shows."""
    import dataclasses
    import datetime as dt

    from test_messages import detail

    from bot import org_charts
    from domain.config import Config

    weeks = tuple(dt.date(2026, 9, 6) + dt.timedelta(weeks=i) for i in range(12))
    shown = detail(week_ends=weeks, health_weeks=(50.0,) * 12)
    drawn: list[str] = []
    real = org_charts.org_chart_png
    monkeypatch.setattr(org_charts, "org_chart_png", lambda d: drawn.append(d.item.org_id) or real(d))
    charts = org_charts.OrgCharts(Config())
    first = charts.png(shown)
    assert first is not None and first.startswith(b"\x89PNG")
    assert charts.png(dataclasses.replace(shown)) == first and len(drawn) == 1
    # A scan later the numbers differ: drawn again.
    later = dataclasses.replace(shown, usage_weeks=shown.usage_weeks[1:] + (7,))
    assert charts.png(later) != first and len(drawn) == 2


def test_a_chart_leaves_no_cycles_for_a_full_collection_to_walk() -> None:
    """A figure is tens of thousands of objects in reference cycles: freed young, right after
    the drawing, they never reach the generation a full collection (mid Slack answer) walks."""
    import gc

    org_trend_png(WEEKS, HEALTH, EVENTS, title="warm-up")  # matplotlib's own first-use caches
    gc.collect()
    png = org_trend_png(WEEKS, HEALTH, EVENTS, title="Initech")
    mrr_trend_png([date(2026, m, 1) for m in range(1, 7)], [10_000.0 * m for m in range(1, 7)])
    assert gc.collect() < 2_000  # drawn with the collector running: over 8,000 here
    _assert_real_chart(png)
    assert gc.isenabled()
