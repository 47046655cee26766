"""Hand-made org frames for the scoring tests: a healthy, paying baseline org that each test
bends in the one way it is about, so every expected number can be worked out by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from scoring.frames import ORG_COLUMNS, WEEK_COLUMNS, ScanContext

AS_OF = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def baseline_org(org_id: str) -> dict[str, Any]:
    return {
        "name": org_id.title(),
        "domain": f"{org_id}.example",
        "owner": None,
        "created_at": AS_OF - 365 * DAY,
        "source": "signup",
        "plan": "pro",
        "seats": np.nan,
        "renewal_date": pd.NaT,
        "icp_fit": np.nan,
        "strategic": np.nan,
        "relationship": np.nan,
        "mrr": 1000.0,
        "past_due_mrr": 0.0,
        "recent_events": 100,
        "previous_events": 100,
        "recent_active_users": 5,
        "previous_active_users": 5,
        "recent_active_days": 10,
        "previous_active_days": 10,
        "recent_features": 4,
        "previous_features": 4,
        "recent_key_features": 4,
        "activity_active_days": 20,
        "champions": 0,
        "champions_silent": 0,
        "champions_silent_previous_events": 0,
        # Steady: 50 events every week of the quarter (100 a fortnight, as above).
        **dict.fromkeys(WEEK_COLUMNS, 50),
        "last_seen": AS_OF - DAY,
        "open_tickets": 0,
        "open_tickets_p1": 0,
        "support_penalty": 0.0,
        "survey_responses": 0,
        "nps": np.nan,
    }


def weeks(*events: int) -> dict[str, int]:
    """Weekly events, oldest first, as the ``events_week_k`` overrides of an org (the last
    value is the week ending on the scan's day); weeks before the first given are 0."""
    values = list(events)[::-1] + [0] * (len(WEEK_COLUMNS) - len(events))
    return dict(zip(WEEK_COLUMNS, values))


def make_orgs(rows: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per org id: the baseline with the given overrides."""
    records = []
    for org_id, overrides in rows.items():
        unknown = set(overrides) - set(ORG_COLUMNS)
        assert not unknown, f"not an org column: {unknown}"
        records.append({**baseline_org(org_id), **overrides})
    frame = pd.DataFrame.from_records(records, index=pd.Index(list(rows), name="org_id"), columns=list(ORG_COLUMNS))
    for col in ("created_at", "last_seen", "renewal_date"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def make_ctx(key_feature_total: int = 4, tickets_available: bool = True, **kw: Any) -> ScanContext:
    return ScanContext(as_of=AS_OF, key_feature_total=key_feature_total, tickets_available=tickets_available, **kw)
