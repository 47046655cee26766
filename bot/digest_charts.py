"""The digest's two charts, drawn from its read model: the Revenue × Health map (each cell's
disc sized by its MRR) and the MRR trend of the last 12 months.

``saas-tracker digest --dry-run --chart DIR`` writes the same PNGs; the Slack delivery
uploads them once per digest (``services.digest``) and the message shows them under the
cells (``bot.digest_messages``).
"""

from __future__ import annotations

from domain.config import Config
from domain.formatting import format_money
from services.ports import ChartImage
from services.read_models import Digest

REVENUE_HEALTH_MAP = "revenue_health_map"
MRR_TREND = "mrr_trend"
CHART_NAMES = (REVENUE_HEALTH_MAP, MRR_TREND)


def map_title(digest: Digest) -> str:
    return f"Revenue × Health, {digest.period}"


def trend_title(digest: Digest) -> str:
    return f"MRR by month, {digest.period}"


def map_alt_text(digest: Digest, cfg: Config) -> str:
    cells = "; ".join(f"{c.label}: {c.org_count} org{'s' if c.org_count != 1 else ''}, "
                      f"{format_money(c.mrr, cfg.currency_symbol)} MRR" for c in digest.cells)
    return f"Revenue × Health map, each cell's disc sized by its MRR — {cells}"


def trend_alt_text(digest: Digest, cfg: Config) -> str:
    first, last = digest.mrr_trend[0], digest.mrr_trend[-1]
    return (f"MRR by month from {first[0]:%b %Y} to {last[0]:%b %Y}: "
            f"{format_money(first[1], cfg.currency_symbol)} → {format_money(last[1], cfg.currency_symbol)}")


def digest_charts(digest: Digest, cfg: Config) -> list[ChartImage]:
    """The charts the digest has data for (none when nothing is paying)."""
    from bot.charts import mrr_trend_png, revenue_health_map_png  # matplotlib: loaded when drawn

    charts: list[ChartImage] = []
    if digest.cells and any(c.mrr for c in digest.cells):
        png = revenue_health_map_png([(c.label, c.org_count, c.mrr) for c in digest.cells],
                                     currency_symbol=cfg.currency_symbol, health_split=cfg.segments.health_split)
        charts.append(ChartImage(REVENUE_HEALTH_MAP, png, f"revenue-health-{digest.period}.png", map_title(digest),
                                 map_alt_text(digest, cfg)))
    if digest.mrr_trend:
        months, amounts = zip(*digest.mrr_trend)
        png = mrr_trend_png(list(months), list(amounts), currency_symbol=cfg.currency_symbol)
        charts.append(ChartImage(MRR_TREND, png, f"mrr-trend-{digest.period}.png", trend_title(digest),
                                 trend_alt_text(digest, cfg)))
    return charts
