"""Suggested case type per org, with a one-line why.

A person's tag always wins over this suggestion; that choice is made where tags are read,
not here. Precedence, first match wins:

1. **onboarding**: an org never seen in the product (not active yet) that was imported from
   billing or pays (signed up and paying, or holding an Inactive paying signal). Checked
   first because such an org also looks inactive, but the work is getting it started, not
   saving it; it has no health score to judge it on. A free sign-up nobody used gets no case.
2. **risk**: high MRR and low health (the high-MRR, low-health cell): retention.
3. **risk**: any open risk-type signal (Revenue at risk, Usage drop, Inactive paying).
4. **expansion**: low MRR and high health (Expansion cell): growth.
5. **expansion**: high MRR and growing usage (usage change at or above the Expansion
   candidate's growth threshold, +20 %): strategic expansion.
6. **expansion**: an open Expansion candidate signal.
7. otherwise no suggestion (None).

Risk comes before expansion: money walking out the door is more urgent than money that
might come in, and an org showing both needs saving first.

The why of the two cell rules names the org's health band, so its words match the band
shown beside it: a red org in the high-MRR, low-health cell is "urgent retention", a yellow
one (below the split but not red) is plain "retention"; an org of the low-MRR, high-health
cell reads "green health" or "yellow health (60 or more)", never "high health" for a yellow
org. Without a ``band`` column the why names the split instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from domain.config import SegmentsConfig, SignalsConfig
from domain.vocabulary import (
    CASE_TYPES,
    EXPANSION_CANDIDATE,
    INACTIVE_PAYING,
    RISK_SIGNAL_TYPES,
    SIGNAL_LABELS,
)
from scoring.segments import CELL_EXPANSION, CELL_REVENUE_AT_RISK, HIGH_MRR_CELLS

CASE_RISK, CASE_ONBOARDING, CASE_EXPANSION = CASE_TYPES
IMPORT_SOURCE = "import"

CASE_INPUT_COLUMNS: dict[str, str] = {
    "source": "'signup', 'import' or None",
    "mrr": "float, MRR now (0 when not paying)",
    "last_seen": "datetime or NaT when never seen",
    "cell": "Revenue x Health cell key (scoring.segments) or None when not placed",
    "usage_change": "float ratio, NaN when undefined",
    "band": "health band of the latest scan ('red', 'yellow', 'green'), or None",
    **{t: "bool: an open signal of this type" for t in (*RISK_SIGNAL_TYPES, EXPANSION_CANDIDATE)},
}


def _flag(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[name].astype("boolean").fillna(False).astype(bool)


def _signed_percent(ratio: pd.Series) -> pd.Series:
    pct = ratio.fillna(0.0).mul(100).round(0).astype(int)
    return pd.Series(np.where(pct >= 0, "+", ""), index=ratio.index, dtype="str") + pct.astype(str) + "%"


def _cell_whys(band: pd.Series, health_split: float) -> tuple[pd.Series, pd.Series]:
    """The why of the two cell rules, in the words of the org's band."""
    split = f"{health_split:g}"
    low = pd.Series(f"high MRR, health below {split}: retention", index=band.index, dtype=object)
    low = low.mask(band == "red", "high MRR, red health: urgent retention")
    low = low.mask(band == "yellow", f"high MRR, yellow health (below {split}): retention")
    high = pd.Series(f"low MRR, health {split} or more: growth", index=band.index, dtype=object)
    high = high.mask(band == "green", "low MRR, green health: growth")
    high = high.mask(band == "yellow", f"low MRR, yellow health ({split} or more): growth")
    return low, high


def suggest_case(frame: pd.DataFrame, signals: SignalsConfig = SignalsConfig(),
                 health_split: float = SegmentsConfig().health_split) -> pd.DataFrame:
    """Columns ``case`` (risk / onboarding / expansion, None) and ``why`` (None with no case).

    ``health_split`` is the Revenue × Health split the cells were placed with (named in the
    why when the frame has no ``band`` column)."""
    idx = frame.index
    source = frame["source"] if "source" in frame.columns else pd.Series(None, index=idx, dtype=object)
    last_seen = frame["last_seen"] if "last_seen" in frame.columns else pd.Series(pd.NaT, index=idx)
    cell = frame["cell"] if "cell" in frame.columns else pd.Series(None, index=idx, dtype=object)
    change = pd.to_numeric(frame["usage_change"], errors="coerce") if "usage_change" in frame.columns \
        else pd.Series(np.nan, index=idx)

    # No last_seen column means "not known", not "never seen".
    never_seen = pd.Series(pd.isna(last_seen), index=idx) & ("last_seen" in frame.columns)
    imported = (source == IMPORT_SOURCE).fillna(False).astype(bool)
    mrr = pd.to_numeric(frame["mrr"], errors="coerce") if "mrr" in frame.columns else pd.Series(np.nan, index=idx)
    paying = (mrr > 0).fillna(False) | _flag(frame, INACTIVE_PAYING)
    not_active = never_seen & (imported | paying)
    onboarding_why = pd.Series("not active yet, never used the product: onboarding", index=idx, dtype=object)
    onboarding_why = onboarding_why.mask(imported, "imported, never used the product: onboarding")
    risk_flags = pd.DataFrame({t: _flag(frame, t) for t in RISK_SIGNAL_TYPES}, index=idx)
    risk_names = pd.Series("", index=idx, dtype=object)
    for t in RISK_SIGNAL_TYPES:
        sep = np.where(risk_names.to_numpy() == "", "", ", ")
        risk_names = risk_names + np.where(risk_flags[t].to_numpy(), sep + SIGNAL_LABELS[t], "")
    band = frame["band"] if "band" in frame.columns else pd.Series(None, index=idx, dtype=object)
    low_why, high_why = _cell_whys(band, health_split)
    growing = cell.isin(HIGH_MRR_CELLS) & (change >= signals.expansion_growth_from).fillna(False)

    rules = [
        (not_active, CASE_ONBOARDING, onboarding_why),
        (cell == CELL_REVENUE_AT_RISK, CASE_RISK, low_why),
        (risk_flags.any(axis=1), CASE_RISK, "open " + risk_names + ": retention"),
        (cell == CELL_EXPANSION, CASE_EXPANSION, high_why),
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

