"""A hand-made backtest history whose every figure is worked out by hand in
tests/test_evaluation.py; tests/test_backtest_report.py renders the same history."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Two weekly as-of dates, D1 = Jan 1 and D2 = Jan 8 2024; nine orgs seen at both (18 rows);
# horizon 60 days.
#
#   org  MRR   what happened             health  days   signals (opened)
#   A   1000   churn Jan 20              20      30     revenue_at_risk (Dec 25)  p 90
#   B    500   churn Feb 10              35      10     usage_drop (Jan 5, so D2 only) p 75
#   C    200   churn Jan 15              60      never  —
#   I    800   churn Feb 20              30       5     revenue_at_risk (Jan 2, D2 only) p 85
#   D    300   contract to 100, Jan 30   45      20     inactive_paying (Dec 1)   p 70
#   E    400   expand to 500, Feb 1      80       1     expansion_candidate (Dec 20) p 60
#   F    100   —                         30       3     revenue_at_risk (Dec 28)  p 80
#   G    100   —                         75       2     expansion_candidate (Jan 3, D2 only) p 50
#   H    100   —                         65      40     —
#
# Churned rows: A, B, C, I at both dates = 8 of 18; churn events: 4.
ORGS = {
    #     mrr,  change,                    health, days,  signal,               opened,       prio
    "A": (1000, ("2024-01-20", 0), 20, 30, "revenue_at_risk", "2023-12-25", 90),
    "B": (500, ("2024-02-10", 0), 35, 10, "usage_drop", "2024-01-05", 75),
    "C": (200, ("2024-01-15", 0), 60, np.nan, None, None, 0),
    "I": (800, ("2024-02-20", 0), 30, 5, "revenue_at_risk", "2024-01-02", 85),
    "D": (300, ("2024-01-30", 100), 45, 20, "inactive_paying", "2023-12-01", 70),
    "E": (400, ("2024-02-01", 500), 80, 1, "expansion_candidate", "2023-12-20", 60),
    "F": (100, None, 30, 3, "revenue_at_risk", "2023-12-28", 80),
    "G": (100, None, 75, 2, "expansion_candidate", "2024-01-03", 50),
    "H": (100, None, 65, 40, None, None, 0),
}
D1, D2 = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-08")


def history_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(observations, mrr_changes, episodes) in the shapes the SQL side will provide."""
    rows, changes, episodes = [], [], []
    for org, (mrr, change, health, days, kind, opened, prio) in ORGS.items():
        if change:
            changes.append({"org_id": org, "day": pd.Timestamp(change[0]), "mrr": float(change[1])})
        if kind:
            # Stored episodes carry tz-aware timestamps; only the day counts.
            episodes.append(
                {
                    "org_id": org,
                    "type": kind,
                    "opened_at": pd.Timestamp(opened + " 09:30", tz="UTC"),
                    "closed_at": pd.NaT,
                }
            )
        for as_of in (D1, D2):
            is_open = kind is not None and pd.Timestamp(opened) <= as_of
            rows.append(
                {
                    "as_of": as_of,
                    "org_id": org,
                    "health": float(health),
                    "activity": float(health),
                    "breadth": 100.0 - health,
                    "seat_utilization": np.nan,
                    "trend": np.nan,
                    "support": 50.0,
                    "sentiment": 10.0 if org == "C" else np.nan,
                    "priority": float(prio) if is_open else 0.0,
                    "mrr": float(mrr),
                    "days_since_seen": days,
                }
            )
    episodes_frame = pd.DataFrame(episodes)
    episodes_frame["closed_at"] = pd.Series(pd.NaT, index=episodes_frame.index, dtype="datetime64[ns, UTC]")
    return pd.DataFrame(rows), pd.DataFrame(changes), episodes_frame
