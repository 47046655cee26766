"""What moved since the previous scan: "activity −18, seat utilization −6".

Choice: the numbers are changes of each component's *score* (0-100 points), not of its
weighted contribution. ``ScanContext.previous_components`` stores scores only, weights can
differ between scans (a component left out then, included now), and a CSM reads "activity
−18" against the activity score shown beside it. Components are listed biggest absolute
change first (ties in ``HEALTH_COMPONENTS`` order); a component missing on either side (left
out for lack of data) has no change to report.

Interface
---------
Both frames are indexed by ``org_id`` and hold component scores either under the bare
component names (the shape of ``ScanContext.previous_components`` and of
``scoring.health.component_scores``) or as ``{component}_score`` columns (``score_health``'s
output as is).

* ``moved_components(current_scores, previous_scores, min_points=1.0) -> DataFrame``: long
  form, columns ``org_id, component, previous, current, change``; only changes with
  ``abs(change) >= min_points``; orgs in ``current_scores`` order, biggest change first.
* ``what_moved(current_scores, previous_scores, min_points=1.0) -> Series`` (str) indexed like
  ``current_scores``: "activity −18, seat utilization +6"; whole points, or one decimal when
  a change would round to 0 (only with ``min_points`` < 0.5); "−" is U+2212. Empty string when
  nothing moved or no previous scan.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from domain.vocabulary import HEALTH_COMPONENTS
from scoring.text import signed_number

MOVED_COLUMNS = ["org_id", "component", "previous", "current", "change"]


def component_label(component: str) -> str:
    return component.replace("_", " ")


def _scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Component scores under bare component names, as floats (absent components → NaN)."""
    cols: dict[str, pd.Series] = {}
    for comp in HEALTH_COMPONENTS:
        if f"{comp}_score" in frame.columns:
            cols[comp] = frame[f"{comp}_score"]
        elif comp in frame.columns:
            cols[comp] = frame[comp]
    out = pd.DataFrame(cols, index=frame.index).reindex(columns=list(HEALTH_COMPONENTS))
    return out.apply(pd.to_numeric, errors="coerce").astype("float64")


def moved_components(
    current_scores: pd.DataFrame, previous_scores: pd.DataFrame, min_points: float = 1.0
) -> pd.DataFrame:
    if min_points < 0:
        raise ValueError("min_points must not be negative")
    cur = _scores(current_scores)
    prev = _scores(previous_scores).reindex(index=cur.index)
    change = cur - prev
    comps = list(HEALTH_COMPONENTS)
    long = pd.DataFrame(
        {
            "org_id": np.repeat(cur.index.to_numpy(), len(comps)),
            "component": np.tile(comps, len(cur)),
            "previous": prev.to_numpy().ravel(),
            "current": cur.to_numpy().ravel(),
            "change": change.to_numpy().ravel(),
            "_org_pos": np.repeat(np.arange(len(cur)), len(comps)),
            "_comp_pos": np.tile(np.arange(len(comps)), len(cur)),
        }
    )
    long = long[long["change"].notna() & (long["change"].abs() >= min_points)]
    long = long.assign(_size=-long["change"].abs()).sort_values(
        ["_org_pos", "_size", "_comp_pos"], kind="mergesort"
    )
    return long[MOVED_COLUMNS].astype({"component": "str"}).reset_index(drop=True)


def what_moved(current_scores: pd.DataFrame, previous_scores: pd.DataFrame, min_points: float = 1.0) -> pd.Series:
    moved = moved_components(current_scores, previous_scores, min_points)
    result = pd.Series("", index=current_scores.index, dtype="str")
    if moved.empty:
        return result
    whole = signed_number(moved["change"], 0)
    fine = signed_number(moved["change"], 1)
    number = whole.where(moved["change"].abs().round(0) > 0, fine)
    moved = moved.assign(
        text=moved["component"].str.replace("_", " ", regex=False) + " " + number,
        rank=moved.groupby("org_id", sort=False).cumcount(),
    )
    wide = moved.pivot(index="org_id", columns="rank", values="text")
    text = wide[0]
    for rank in wide.columns[1:]:  # at most one step per component, each vectorized over orgs
        text = text.where(wide[rank].isna(), text + ", " + wide[rank])
    return text.reindex(current_scores.index).fillna("").astype("str").rename(None)
