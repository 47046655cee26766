"""Episode planning: open, update, keep dismissed/snoozed hidden, wake, resolve."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from domain.vocabulary import EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK, USAGE_DROP
from scoring.episodes import plan_episodes
from scoring.signals import SIGNAL_COLUMNS, empty_signals

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def current(*rows: tuple[str, str, float]) -> pd.DataFrame:
    """evaluate_signals-shaped rows with their reason, as a scan plans them: (org, type, priority)."""
    return pd.DataFrame(
        [
            {
                "org_id": org,
                "type": kind,
                "priority": prio,
                "severity": 0.5,
                "evidence": {"mrr": prio * 10},
                "reason": f"{org} {kind} now",
                "suggested_case": "risk",
            }
            for org, kind, prio in rows
        ],
        columns=[*SIGNAL_COLUMNS, "reason"],
    )


def stored(*rows: tuple[int, str, str, str, dt.datetime | None]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["id", "org_id", "type", "status", "snoozed_until"])
    frame["snoozed_until"] = pd.to_datetime(frame["snoozed_until"], utc=True)
    return frame


def test_new_condition_opens_an_episode() -> None:
    plan = plan_episodes(stored(), current(("acme", REVENUE_AT_RISK, 70.0)), NOW)
    assert plan.to_open[["org_id", "type", "priority"]].values.tolist() == [["acme", REVENUE_AT_RISK, 70.0]]
    assert plan.to_open.loc[0, "evidence"] == {"mrr": 700.0}
    assert list(plan.to_open.columns) == [*SIGNAL_COLUMNS, "reason"]
    assert plan.to_update.empty
    assert plan.to_resolve == []


def test_same_org_other_type_is_a_separate_episode() -> None:
    plan = plan_episodes(
        stored((1, "acme", USAGE_DROP, "active", None)),
        current(("acme", USAGE_DROP, 50.0), ("acme", REVENUE_AT_RISK, 70.0)),
        NOW,
    )
    assert plan.to_open["type"].tolist() == [REVENUE_AT_RISK]
    assert plan.to_update["id"].tolist() == [1]


def test_active_signal_still_true_is_updated_with_fresh_numbers() -> None:
    plan = plan_episodes(stored((7, "acme", USAGE_DROP, "active", None)), current(("acme", USAGE_DROP, 64.5)), NOW)
    assert plan.to_open.empty
    assert plan.to_resolve == []
    upd = plan.to_update.iloc[0]
    assert upd["id"] == 7
    assert upd["previous_status"] == "active"
    assert upd["new_status"] == "active"
    assert upd["priority"] == 64.5
    assert upd["reason"] == f"acme {USAGE_DROP} now"
    assert pd.isna(upd["snoozed_until"])


def test_dismissed_signal_stays_dismissed_while_condition_holds() -> None:
    plan = plan_episodes(stored((3, "acme", REVENUE_AT_RISK, "dismissed", None)),
                         current(("acme", REVENUE_AT_RISK, 80.0)), NOW)
    assert plan.to_open.empty  # no fresh episode, no alert
    assert plan.to_update[["id", "new_status"]].values.tolist() == [[3, "dismissed"]]
    assert plan.to_resolve == []


def test_running_snooze_stays_snoozed_and_keeps_its_date() -> None:
    until = NOW + HOUR
    plan = plan_episodes(stored((4, "acme", INACTIVE_PAYING, "snoozed", until)),
                         current(("acme", INACTIVE_PAYING, 55.0)), NOW)
    upd = plan.to_update.iloc[0]
    assert upd["new_status"] == "snoozed"
    assert upd["snoozed_until"] == pd.Timestamp(until)
    assert plan.to_open.empty


def test_snooze_without_end_date_stays_snoozed() -> None:
    plan = plan_episodes(stored((4, "acme", INACTIVE_PAYING, "snoozed", None)),
                         current(("acme", INACTIVE_PAYING, 55.0)), NOW)
    assert plan.to_update["new_status"].tolist() == ["snoozed"]


@pytest.mark.parametrize("until", [NOW, NOW - HOUR])
def test_expired_snooze_becomes_active_again(until: dt.datetime) -> None:
    plan = plan_episodes(stored((5, "acme", EXPANSION_CANDIDATE, "snoozed", until)),
                         current(("acme", EXPANSION_CANDIDATE, 40.0)), NOW)
    upd = plan.to_update.iloc[0]
    assert upd["id"] == 5
    assert upd["previous_status"] == "snoozed"
    assert upd["new_status"] == "active"
    assert pd.isna(upd["snoozed_until"])
    assert plan.to_open.empty  # the same episode comes back, it does not re-open


@pytest.mark.parametrize("status", ["active", "dismissed", "snoozed"])
def test_condition_cleared_resolves_any_status(status: str) -> None:
    until = NOW + 24 * HOUR if status == "snoozed" else None
    plan = plan_episodes(stored((9, "acme", USAGE_DROP, status, until)), empty_signals(), NOW)
    assert plan.to_resolve == [9]
    assert plan.to_open.empty
    assert plan.to_update.empty


def test_condition_back_after_resolution_opens_fresh_episode() -> None:
    # After resolving, the signal is no longer open: the next scan sees nothing open.
    first = plan_episodes(stored((9, "acme", USAGE_DROP, "dismissed", None)), empty_signals(), NOW)
    assert first.to_resolve == [9]
    again = plan_episodes(stored(), current(("acme", USAGE_DROP, 60.0)), NOW + 6 * HOUR)
    assert again.to_open["org_id"].tolist() == ["acme"]


def test_mixed_scan_plans_everything_at_once_in_current_order() -> None:
    open_signals = stored(
        (1, "a", USAGE_DROP, "active", None),
        (2, "b", REVENUE_AT_RISK, "dismissed", None),
        (3, "c", INACTIVE_PAYING, "snoozed", NOW - HOUR),
        (4, "d", USAGE_DROP, "snoozed", NOW + HOUR),
        (5, "e", REVENUE_AT_RISK, "active", None),
        (6, "f", EXPANSION_CANDIDATE, "snoozed", NOW + HOUR),
    )
    now_true = current(
        ("c", INACTIVE_PAYING, 90.0),
        ("new", REVENUE_AT_RISK, 85.0),
        ("a", USAGE_DROP, 70.0),
        ("b", REVENUE_AT_RISK, 60.0),
        ("d", USAGE_DROP, 50.0),
        ("new2", USAGE_DROP, 10.0),
    )
    plan = plan_episodes(open_signals, now_true, NOW)
    assert plan.to_open["org_id"].tolist() == ["new", "new2"]
    assert plan.to_update[["id", "new_status"]].values.tolist() == [
        [3, "active"],
        [1, "active"],
        [2, "dismissed"],
        [4, "snoozed"],
    ]
    assert plan.to_resolve == [5, 6]


def test_empty_inputs() -> None:
    plan = plan_episodes(pd.DataFrame(), empty_signals(), NOW)
    assert plan.to_open.empty and plan.to_update.empty and plan.to_resolve == []
    assert "new_status" in plan.to_update.columns


def test_naive_now_means_utc() -> None:
    plan = plan_episodes(
        stored((5, "acme", USAGE_DROP, "snoozed", NOW)), current(("acme", USAGE_DROP, 40.0)), NOW.replace(tzinfo=None)
    )
    assert plan.to_update["new_status"].tolist() == ["active"]


def test_two_open_signals_for_one_org_and_type_are_refused() -> None:
    with pytest.raises(ValueError, match="more than one open usage_drop signal for org 'acme'"):
        plan_episodes(
            stored((1, "acme", USAGE_DROP, "active", None), (2, "acme", USAGE_DROP, "dismissed", None)),
            current(("acme", USAGE_DROP, 40.0)),
            NOW,
        )


def test_resolved_rows_are_not_open_signals() -> None:
    with pytest.raises(ValueError, match="status 'resolved'"):
        plan_episodes(stored((1, "acme", USAGE_DROP, "resolved", None)), empty_signals(), NOW)
