"""The contract between the database aggregation and the pure scoring code.

The database turns rollups into one row per org (``ORG_COLUMNS``); everything in ``scoring/``
takes that frame (indexed by ``org_id``) plus a ``ScanContext`` and returns frames. Keeping
the column list here means the SQL side and the scoring side can't drift apart silently.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

# One row per org, index = org_id. Counts are ints (0 when nothing happened); optional
# numbers are floats with NaN when missing; times are tz-aware UTC (NaT when missing).
ORG_COLUMNS: dict[str, str] = {
    "name": "org display name",
    "domain": "org domain or None",
    "owner": "CSM e-mail or Slack id, or None",
    "created_at": "datetime64[ns, UTC] or NaT",
    "source": "'signup', 'import' or None",
    "plan": "plan name or None",
    "seats": "float, NaN when unknown",
    "renewal_date": "datetime64[ns, UTC] or NaT",
    "icp_fit": "float 0-100, NaN when unknown",
    "strategic": "float 0-100, NaN when unknown",
    "relationship": "float 0-100, NaN when unknown",
    "mrr": "float, MRR at as_of per SPEC §1 (0 when not paying)",
    "recent_events": "int, events in (as_of - 14d, as_of]",
    "previous_events": "int, events in (as_of - 28d, as_of - 14d]",
    "recent_active_users": "int, distinct users in the recent window",
    "previous_active_users": "int, distinct users in the previous window",
    "recent_active_days": "int, days with events in the recent window",
    "previous_active_days": "int, days with events in the previous window",
    "recent_features": "int, distinct features in the recent window",
    "previous_features": "int, distinct features in the previous window",
    "recent_key_features": "int, distinct *key* features in the recent window "
    "(equals recent_features when no key features are configured)",
    "activity_active_days": "int, days with events in the last activity_window_days (28)",
    "last_seen": "datetime64[ns, UTC], latest event at or before as_of; NaT when never seen",
    "open_tickets": "int, tickets open at as_of",
    "open_tickets_p1": "int, p1 tickets open at as_of",
    "support_penalty": "float, sum of health.severity_penalty over tickets open at as_of",
    "survey_responses": "int, responses counted for sentiment",
    "nps": "float -100..100 from the latest response per user in the lookback; NaN when none",
}


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


def empty_org_frame() -> pd.DataFrame:
    return pd.DataFrame(columns=list(ORG_COLUMNS)).rename_axis("org_id")
