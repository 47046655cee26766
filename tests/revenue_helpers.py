"""A small application in the database for the revenue, segments, tiers and case services.

As of 2026-03-31 (MRR in parentheses):

* A Acme (150): 100 from Jan 1, upgraded to 150 on Mar 15. Latest snapshot Mar 30 health 30;
  an older one (Mar 1, 90) and a later one (Apr 2, 99) must be ignored. Resolved risk signal.
* B Beta (200): 300 from Jan 1, downgraded to 200 on Mar 10. Health 75, usage +30 %.
* C Cyan (50): 50 from Jan 1. Health 65, last seen Mar 30; a dismissed (still open)
  Expansion candidate.
* D Delta (80): imported, paying from Feb 1, never seen (its only usage is after as_of).
  Health 20, an active Inactive paying signal.
* E Echo (40): from Mar 20, never scanned (no snapshot).
* F Free: no subscription, health 90.
* X in another application pays 1000: never part of "default".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from storage.db import get_or_create_application
from storage.models import HealthSnapshot, Org, Signal, Subscription
from usage_rows import add_usage_day

UTC = dt.timezone.utc
AS_OF = dt.date(2026, 3, 31)
D = dt.date


def _components(activity: float | None, trend: float | None, seats: float | None) -> dict[str, Any]:
    return {
        "activity": {"value": None, "score": activity, "weight": 30.0, "contribution": None},
        "trend": {"value": trend, "score": None, "weight": 15.0, "contribution": None},
        "seat_utilization": {"value": seats, "score": None, "weight": 20.0, "contribution": None},
    }


def _snapshot(org_id: str, day: dt.date, score: float, activity: float | None = None,
              trend: float | None = None, seats: float | None = None,
              last_seen: dt.datetime | None = None) -> HealthSnapshot:
    return HealthSnapshot(org_id=org_id, day=day, score=score, band=None,
                          components=_components(activity, trend, seats), left_out=[], mrr=0, last_seen=last_seen,
                          usage={})


def _signal(app_id: int, org_id: str, type_: str, status: str) -> Signal:
    at = dt.datetime(2026, 3, 30, tzinfo=UTC)
    return Signal(application_id=app_id, org_id=org_id, type=type_, status=status, priority=50.0, evidence={},
                  reason="", opened_at=at, updated_at=at, resolved_at=at if status == "resolved" else None)


def seed(session: Session) -> None:
    app = get_or_create_application(session, "default")
    other = get_or_create_application(session, "other")
    session.add_all(
        [
            Org(org_id="A", application_id=app.id, name="Acme", source="signup",
                created_at=dt.datetime(2025, 3, 31, 15, 0, tzinfo=UTC), strategic=40.0),
            Org(org_id="B", application_id=app.id, name="Beta", source="signup",
                created_at=dt.datetime(2024, 3, 31, tzinfo=UTC), strategic=80.0, icp_fit=90.0,
                relationship_score=60.0, renewal_date=D(2026, 5, 15)),
            Org(org_id="C", application_id=app.id, name="Cyan", source="signup"),
            Org(org_id="D", application_id=app.id, name="Delta", source="import"),
            Org(org_id="E", application_id=app.id, name="Echo", source="signup"),
            Org(org_id="F", application_id=app.id, name="Free", source="signup"),
            Org(org_id="X", application_id=other.id, name="Other app", source="signup"),
        ]
    )
    session.flush()
    session.add_all(
        [
            Subscription(subscription_id="a1", org_id="A", mrr=100, started_at=D(2026, 1, 1), ended_at=D(2026, 3, 15),
                         status="canceled"),
            Subscription(subscription_id="a2", org_id="A", mrr=150, started_at=D(2026, 3, 15)),
            Subscription(subscription_id="b1", org_id="B", mrr=300, started_at=D(2026, 1, 1), ended_at=D(2026, 3, 10),
                         status="canceled"),
            Subscription(subscription_id="b2", org_id="B", mrr=200, started_at=D(2026, 3, 10)),
            Subscription(subscription_id="c1", org_id="C", mrr=50, started_at=D(2026, 1, 1)),
            Subscription(subscription_id="d1", org_id="D", mrr=80, started_at=D(2026, 2, 1)),
            Subscription(subscription_id="e1", org_id="E", mrr=40, started_at=D(2026, 3, 20)),
            Subscription(subscription_id="f1", org_id="F", mrr=99, started_at=D(2026, 3, 1), status="trialing"),
            Subscription(subscription_id="x1", org_id="X", mrr=1000, started_at=D(2026, 1, 1)),
            _snapshot("A", D(2026, 3, 1), 90.0, activity=90.0),
            _snapshot("A", D(2026, 3, 30), 30.0, activity=20.0, trend=-0.5,
                      last_seen=dt.datetime(2026, 3, 29, 17, 5, tzinfo=UTC)),
            _snapshot("A", D(2026, 4, 2), 99.0, activity=99.0, last_seen=dt.datetime(2026, 4, 1, 9, 0, tzinfo=UTC)),
            _snapshot("B", D(2026, 3, 31), 75.0, activity=70.0, trend=0.3,
                      last_seen=dt.datetime(2026, 3, 31, 8, 0, tzinfo=UTC)),
            _snapshot("C", D(2026, 3, 31), 65.0, activity=64.0, last_seen=dt.datetime(2026, 3, 30, 11, 0, tzinfo=UTC)),
            _snapshot("D", D(2026, 3, 31), 20.0, activity=0.0),
            _snapshot("F", D(2026, 3, 31), 90.0, activity=90.0),
            _snapshot("X", D(2026, 3, 31), 10.0, activity=10.0),
            _signal(app.id, "A", "revenue_at_risk", "resolved"),
            _signal(app.id, "C", "expansion_candidate", "dismissed"),
            _signal(app.id, "D", "inactive_paying", "active"),
        ]
    )
    # Daily rows alone: the revenue reads only when each org was last active.
    for org_id, day, events, users, features, last in (
            ("A", D(2026, 3, 29), 5, 1, 1, dt.datetime(2026, 3, 29, 17, 5, tzinfo=UTC)),
            ("B", D(2026, 3, 31), 9, 2, 2, None),
            ("D", D(2026, 4, 5), 3, 1, 1, dt.datetime(2026, 4, 5, 9, 0, tzinfo=UTC)),
            ("E", D(2026, 3, 30), 2, 1, 1, None)):
        add_usage_day(session, org_id, day, events=events, active_users=users, distinct_features=features,
                      last_event_at=last)
    session.commit()
