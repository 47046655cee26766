"""Missing values as Python sees them: one rule for NaN, NaT, pandas' NA and None.

Frames carry missing numbers as NaN and missing times as NaT; read models, JSON and Slack
want None. Written without importing pandas so the bottom layer stays cheap to import.
"""

from __future__ import annotations

from typing import Any


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or pandas.NA (the only values not equal to themselves, or NA)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pandas.NA refuses to be a bool: it is missing by definition
        return True


def none_if_missing(value: Any) -> Any:
    return None if is_missing(value) else value


def as_float(value: Any) -> float | None:
    """A number as float, or None when missing."""
    return None if is_missing(value) else float(value)
