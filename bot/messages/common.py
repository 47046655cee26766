"""What every message builder shares: the validated return, short values, dates, symbols.

`finish` is the last step of every builder in this package: it checks the blocks and the
fallback text against Block Kit limits (``bot.limits``) and raises rather than let Slack
reject a message, so nothing over a limit ever leaves ``bot.messages``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot import limits
from bot.blocks import Block, one_line, truncate
from bot.limits import validate_message
from domain.vocabulary import EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK, USAGE_DROP

Message = dict[str, Any]

# --- symbols ------------------------------------------------------------------------------
SIGNAL_SYMBOLS = {
    REVENUE_AT_RISK: ":rotating_light:",
    USAGE_DROP: ":chart_with_downwards_trend:",
    INACTIVE_PAYING: ":zzz:",
    EXPANSION_CANDIDATE: ":rocket:",
}
UNKNOWN_SIGNAL_SYMBOL = ":grey_question:"
BAND_EMOJI = {"red": ":red_circle:", "yellow": ":large_yellow_circle:", "green": ":large_green_circle:"}
NO_BAND_EMOJI = ":white_circle:"
TREND_UP, TREND_DOWN, TREND_FLAT = "↑", "↓", "→"
# A health change smaller than this (points) reads as flat.
HEALTH_FLAT_DELTA = 1.0

# --- labels of controls (structure, not prose) ---------------------------------------------
OPEN_LABEL = "Open"

# --- layout budgets: how much of each piece of data a message shows -----------------------
ITEM_NAME_MAX = 150
ITEM_REASON_MAX = 300
FILTERS_TEXT_MAX = 200
QUERY_MAX = 100
DETAIL_VALUE_MAX = 60
SUBSCRIPTION_LABEL_MAX = 40
SUBSCRIPTIONS_SHOWN = 15
PRODUCTS_SHOWN = 6
MRR_HISTORY_SHOWN = 8
SIGNALS_SHOWN = 10
EVIDENCE_SHOWN = 6
EVIDENCE_VALUE_MAX = 40
CHOICES_SHOWN = 10
CLOSEST_SHOWN = 5
ERROR_TEXT_MAX = 1000
MORE_HINT_FILTER = "filter"
MORE_HINT_QUERY = "query"
# Evidence keys (split on "_") holding ratios are shown as percentages ("usage_change":
# -0.45 -> -45%), those holding money with the currency symbol.
RATIO_KEY_PARTS = ("change", "utilization", "ratio", "growth", "share")
MONEY_KEY_PARTS = ("mrr", "arr", "revenue")


def finish(text: str, blocks: list[Block], **extra: Any) -> Message:
    """{"text", "blocks", **extra}, the fallback cut to Slack's length; raises
    BlockKitLimitError when the blocks break a limit."""
    text = truncate(text, limits.MESSAGE_FALLBACK_TEXT_MAX)
    validate_message(blocks, text)
    return {"text": text, "blocks": blocks, **extra}


def short(text: object, limit: int) -> str:
    """One line of data, cut to `limit` characters."""
    return truncate(one_line("" if text is None else text), limit)


def date_text(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()


def datetime_text(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    text = value.strftime("%Y-%m-%d %H:%M")
    return f"{text} {value.tzname()}" if value.tzinfo is not None else text


def trend_arrow(delta: float | None) -> str:
    if delta is None:
        return ""
    if delta >= HEALTH_FLAT_DELTA:
        return TREND_UP
    if delta <= -HEALTH_FLAT_DELTA:
        return TREND_DOWN
    return TREND_FLAT


def band_emoji(band: str | None) -> str:
    return BAND_EMOJI.get(band or "", NO_BAND_EMOJI)


def signal_symbol(signal_type: str) -> str:
    return SIGNAL_SYMBOLS.get(signal_type, UNKNOWN_SIGNAL_SYMBOL)
