"""The per-org frame the database hands to scoring: one row per org, its columns named here.

The SQL side (``storage.queries.org_frame``) builds exactly these columns and the pure scoring
side (``scoring/``) reads them; both import the list from here, so they can't drift apart
silently, and neither has to import the other.
"""

from __future__ import annotations

# Weekly event counts the database provides per org, for declines over a quarter:
# ``events_week_k`` is the events in the 7 days ending k weeks before the scan's day
# (k = 0: the week ending on the scan's day, which counts as a whole day, as in every window).
USAGE_WEEKS = 13
WEEK_COLUMNS = tuple(f"events_week_{k}" for k in range(USAGE_WEEKS))

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
    "mrr": "float, MRR at as_of: subscriptions with started_at <= day < ended_at, trials never, "
    "canceled ones only before their ended_at (0 when not paying)",
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
    "champions": "int, the org's champions: its signals.champion_top_users most active users of the "
    "previous window, each with at least signals.champion_min_share of that window's events",
    "champions_silent": "int, champions with no event in the recent window",
    "champions_silent_previous_events": "int, the silent champions' events in the previous window",
    **{col: f"int, events in the 7 days ending {k} week(s) before the scan's day (0: ending on it)"
       for k, col in enumerate(WEEK_COLUMNS)},
    "last_seen": "datetime64[ns, UTC], latest event at or before as_of; NaT when never seen",
    "past_due_mrr": "float, the part of mrr whose subscriptions are past_due (0 when none)",
    "open_tickets": "int, tickets open at as_of",
    "open_tickets_p1": "int, p1 tickets open at as_of",
    "support_penalty": "float, sum of health.severity_penalty over tickets open at as_of",
    "survey_responses": "int, responses counted for sentiment",
    "nps": "float -100..100 from the latest response per user in the lookback; NaN when none",
}
