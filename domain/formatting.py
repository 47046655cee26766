"""Plain-text formatting of numbers shared by the terminal, templates and Slack builders."""

from __future__ import annotations

import datetime as dt
import math


def format_money(amount: float | None, symbol: str = "$") -> str:
    """$1,234 below $100k, $123k and $1.2M above: a CS lead scans magnitudes, not cents."""
    if amount is None or (isinstance(amount, float) and math.isnan(amount)):
        return "–"
    sign = "-" if amount < 0 else ""
    a = abs(float(amount))
    if a >= 1_000_000:
        return f"{sign}{symbol}{a / 1_000_000:.1f}M"
    if a >= 100_000:
        return f"{sign}{symbol}{a / 1000:.0f}k"
    return f"{sign}{symbol}{a:,.0f}"


def format_percent(ratio: float | None, signed: bool = True) -> str:
    if ratio is None or (isinstance(ratio, float) and math.isnan(ratio)):
        return "n/a"
    return f"{ratio * 100:+.0f}%" if signed else f"{ratio * 100:.0f}%"


def format_last_seen(last_seen: dt.datetime | None, now: dt.datetime) -> str:
    if last_seen is None:
        return "never"
    days = (now - last_seen).days
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    return f"{days} days ago"
