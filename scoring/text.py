"""Vectorized text pieces for reasons and "what moved": whole columns at once.

Signed numbers use the typographic minus "−" (U+2212) and "+": in a Slack line like
"activity −18" a hyphen reads as a dash. Money is never written here: scoring keeps amounts
as numbers, and ``services.reasons`` writes them through ``domain.formatting``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MINUS = "\u2212"


def plain_number(values: pd.Series, decimals: int = 1) -> pd.Series:
    """32.0 → "32", 39.94 → "39.9"; NaN stays NaN."""
    return values.astype("float64").round(decimals).astype("str").str.removesuffix(".0").where(values.notna())


def signed_number(values: pd.Series, decimals: int = 1, suffix: str = "") -> pd.Series:
    """−18, +6, +19.9 (with ``suffix``); zero is "+0"; NaN stays NaN."""
    v = values.astype("float64").round(decimals)
    sign = pd.Series(np.where(v < 0, MINUS, "+"), index=values.index, dtype="str")
    return (sign + plain_number(v.abs(), decimals) + suffix).where(values.notna())


def signed_percent(ratios: pd.Series) -> pd.Series:
    """Ratio → percent with sign: −0.45 → "−45%", 0.199 → "+19.9%"."""
    return signed_number(ratios.astype("float64") * 100.0, 1, "%")
