"""Suggested case type per org, with a one-line why (SPEC §5).

A person's tag always wins over this suggestion; that choice is made where tags are read,
not here. Precedence, first match wins:

1. **onboarding**: imported org (``source`` = import) never seen in the product. Checked
   first because such an org also looks inactive and unhealthy, but the work is getting it
   started, not saving it.
2. **risk**: high MRR and low health (Revenue at risk cell): urgent retention.
3. **risk**: any open risk-type signal (Revenue at risk, Usage drop, Inactive paying).
4. **expansion**: low MRR and high health (Expansion cell): growth.
5. **expansion**: high MRR and growing usage (usage change at or above the Expansion
   candidate's growth threshold, +20 %): strategic expansion.
6. **expansion**: an open Expansion candidate signal.
7. otherwise no suggestion (None).

Risk comes before expansion: money walking out the door is more urgent than money that
might come in, and an org showing both needs saving first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from domain.config import SignalsConfig
from domain.vocabulary import (
    CASE_TYPES,
    EXPANSION_CANDIDATE,
    INACTIVE_PAYING,
    REVENUE_AT_RISK,
    SIGNAL_LABELS,
    USAGE_DROP,
)
from scoring.segments import CELL_EXPANSION, CELL_REVENUE_AT_RISK, HIGH_MRR_CELLS

CASE_RISK, CASE_ONBOARDING, CASE_EXPANSION = CASE_TYPES
RISK_SIGNAL_TYPES = (REVENUE_AT_RISK, USAGE_DROP, INACTIVE_PAYING)
IMPORT_SOURCE = "import"

CASE_INPUT_COLUMNS: dict[str, str] = {
    "source": "'signup', 'import' or None",
    "last_seen": "datetime or NaT when never seen",
    "cell": "Revenue x Health cell key (scoring.segments) or None when not placed",
    "usage_change": "float ratio, NaN when undefined",
    **{t: "bool: an open signal of this type" for t in (*RISK_SIGNAL_TYPES, EXPANSION_CANDIDATE)},
}


def _flag(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[name].astype("boolean").fillna(False).astype(bool)


def _signed_percent(ratio: pd.Series) -> pd.Series:
    pct = ratio.fillna(0.0).mul(100).round(0).astype(int)
    return pd.Series(np.where(pct >= 0, "+", ""), index=ratio.index) + pct.astype(str) + "%"


def suggest_case(frame: pd.DataFrame, signals: SignalsConfig = SignalsConfig()) -> pd.DataFrame:
    """Columns ``case`` (risk / onboarding / expansion, None) and ``why`` (None with no case)."""
    idx = frame.index
    source = frame["source"] if "source" in frame.columns else pd.Series(None, index=idx, dtype=object)
    last_seen = frame["last_seen"] if "last_seen" in frame.columns else pd.Series(pd.NaT, index=idx)
    cell = frame["cell"] if "cell" in frame.columns else pd.Series(None, index=idx, dtype=object)
    change = pd.to_numeric(frame["usage_change"], errors="coerce") if "usage_change" in frame.columns \
        else pd.Series(np.nan, index=idx)

    never_seen_import = (source == IMPORT_SOURCE).fillna(False).astype(bool) & pd.isna(last_seen)
    risk_flags = pd.DataFrame({t: _flag(frame, t) for t in RISK_SIGNAL_TYPES}, index=idx)
    risk_names = pd.Series("", index=idx, dtype=object)
    for t in RISK_SIGNAL_TYPES:
        sep = np.where(risk_names.to_numpy() == "", "", ", ")
        risk_names = risk_names + np.where(risk_flags[t].to_numpy(), sep + SIGNAL_LABELS[t], "")
    growing = cell.isin(HIGH_MRR_CELLS) & (change >= signals.expansion_growth_from).fillna(False)

    rules = [
        (never_seen_import, CASE_ONBOARDING, pd.Series("imported, never used the product: onboarding", index=idx)),
        (cell == CELL_REVENUE_AT_RISK, CASE_RISK, pd.Series("high MRR, low health: urgent retention", index=idx)),
        (risk_flags.any(axis=1), CASE_RISK, "open " + risk_names + ": retention"),
        (cell == CELL_EXPANSION, CASE_EXPANSION, pd.Series("low MRR, high health: growth", index=idx)),
        (growing, CASE_EXPANSION,
         "high MRR, growing usage (" + _signed_percent(change) + "): strategic expansion"),
        (_flag(frame, EXPANSION_CANDIDATE), CASE_EXPANSION,
         pd.Series(f"open {SIGNAL_LABELS[EXPANSION_CANDIDATE]}: expansion", index=idx)),
    ]
    conditions = [cond.fillna(False).astype(bool).to_numpy() for cond, _, _ in rules]
    case = np.select(conditions, [c for _, c, _ in rules], default="")
    why = np.select(conditions, [w.astype(str).to_numpy() for _, _, w in rules], default="")
    out = pd.DataFrame({"case": case, "why": why}, index=idx).astype(object)
    return out.where(out["case"] != "", None)

