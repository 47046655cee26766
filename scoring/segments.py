"""Revenue × Health: every paying org in one of four cells.

MRR is high at or above the split: a configured amount, or (amount 0, the default) the
median MRR of the application's paying orgs, so at least half of them count as high.
Health is high at or above ``health_split`` (60), judged on the health as shown (whole points,
``scoring.health.shown_health``): an org listed at "60" is never in the "health < 60" cells.
Orgs with no MRR are not placed; a paying
org with no health score yet (never scanned) is not placed either, rather than guessed
into a cell, and has ``cell`` None.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from domain.config import SegmentsConfig
from domain.vocabulary import (  # noqa: F401  (the cells are part of this module's interface)
    CELL_CHAMPIONS,
    CELL_EXPANSION,
    CELL_KEYS,
    CELL_LABELS,
    CELL_REVENUE_AT_RISK,
    CELL_WATCH,
    HIGH_MRR_CELLS,
)
from scoring.health import shown_health


_DEFAULTS = SegmentsConfig()


def mrr_split(mrr: pd.Series, split_amount: float = _DEFAULTS.mrr_split_amount) -> float:
    """The MRR at which an org counts as high: ``split_amount``, or the paying median when 0."""
    if split_amount > 0:
        return float(split_amount)
    paying = pd.to_numeric(mrr, errors="coerce")
    paying = paying[paying > 0]
    return float(paying.median()) if len(paying) else 0.0


def revenue_health_cells(
    frame: pd.DataFrame,
    split_amount: float = _DEFAULTS.mrr_split_amount,
    health_split: float = _DEFAULTS.health_split,
) -> pd.DataFrame:
    """Place each paying org of ``frame`` (index org_id; columns mrr, health) in a cell.

    Returns one row per paying org (same index): mrr, health, mrr_high, health_high,
    cell (key from CELL_KEYS, None when health is missing), cell_label.
    """
    mrr = pd.to_numeric(frame["mrr"], errors="coerce").astype(float)
    health = pd.to_numeric(frame["health"], errors="coerce").astype(float)
    paying = mrr > 0
    split = mrr_split(mrr, split_amount)
    out = pd.DataFrame({"mrr": mrr[paying], "health": health[paying]})
    out["mrr_high"] = out["mrr"] >= split
    out["health_high"] = shown_health(out["health"]) >= health_split
    scored = out["health"].notna()
    cell = np.select(
        [out["mrr_high"] & ~out["health_high"], out["mrr_high"] & out["health_high"],
         ~out["mrr_high"] & ~out["health_high"]],
        [CELL_REVENUE_AT_RISK, CELL_CHAMPIONS, CELL_WATCH],
        default=CELL_EXPANSION,
    )
    out["cell"] = pd.Series(cell, index=out.index, dtype=object).where(scored, None)
    out["cell_label"] = out["cell"].map(CELL_LABELS)
    return out


def cell_summary(cells: pd.DataFrame) -> pd.DataFrame:
    """Per cell, in CELL_KEYS order and always all four: key, label, org_count, mrr."""
    placed = cells[cells["cell"].notna()]
    grouped = placed.groupby("cell")["mrr"].agg(["count", "sum"]).reindex(list(CELL_KEYS))
    return pd.DataFrame(
        {
            "key": list(CELL_KEYS),
            "label": [CELL_LABELS[k] for k in CELL_KEYS],
            "org_count": grouped["count"].fillna(0).astype(int).to_numpy(),
            "mrr": grouped["sum"].fillna(0.0).astype(float).round(2).to_numpy(),
        }
    )
