"""The contract between the database aggregation and the pure scoring code.

The database turns rollups into one row per org (``domain.org_frame.ORG_COLUMNS``);
everything in ``scoring/`` takes that frame (indexed by ``org_id``) plus a ``ScanContext`` and
returns frames.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from domain.org_frame import ORG_COLUMNS, USAGE_WEEKS, WEEK_COLUMNS  # noqa: F401  (the contract, re-exported)


@dataclass(frozen=True)
class ScanContext:
    """What a scan knows beyond the per-org rows."""

    as_of: dt.datetime
    # Denominator of breadth: configured key features, or all features seen in the application.
    key_feature_total: int
    # False when the application has no support tickets at all: support is then left out.
    tickets_available: bool
    # Previous scan's health components per org (index org_id, columns = component names,
    # values = component scores), for "what moved"; empty when there was no previous scan.
    previous_components: pd.DataFrame = field(default_factory=pd.DataFrame)
    previous_health: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    # Each org's health score of its latest scan on or before as_of − signals.renewal_fall_days
    # (index org_id), to tell falling health before a renewal; empty without such a scan.
    health_before: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))


def empty_org_frame() -> pd.DataFrame:
    return pd.DataFrame(columns=list(ORG_COLUMNS)).rename_axis("org_id")
