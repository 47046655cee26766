"""Signal conditions at their boundaries, with exact evidence, reasons and order.

Scoring keeps the evidence; the reason line is written from it by ``services.reasons``, so
the helpers below run both, as a scan does."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scoring_helpers import AS_OF, DAY, make_ctx, make_orgs

from domain.config import Config, PriorityConfig, SignalsConfig
from domain.vocabulary import EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK, USAGE_DROP, SIGNAL_TYPES
from scoring.frames import empty_org_frame
from scoring.health import health_band, score_health
from scoring.signals import SIGNAL_COLUMNS, evaluate_signals, org_priority
from services.reasons import with_reasons

# Priority numbers here are pinned on the round-number formula (a fixed revenue reference of
# $2,000 on the plain m / (m + reference) curve, 40/40 points); the shipped defaults, with the
# reference taken from the scan's paying orgs, are pinned in test_priority_properties.py.
# Every $4,200 org here is a key account by that reference: the key-account condition is off
# so each test pins one condition; it has tests of its own in test_ranking_rules.py.
CFG = Config(priority=PriorityConfig(revenue_half_mrr=2000.0, revenue_curve=1.0, severity_points=40.0,
                                     revenue_points=40.0, severity_curve=1.0),
             signals=SignalsConfig(key_account_health_below=0.0))
SECOND = pd.Timedelta(seconds=1)


def hand_health(rows: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The part of score_health's output the signals read, with chosen values."""
    base = {"health": 60.0, "usage_change": 0.0, "active_users_change": 0.0, "seat_utilization": np.nan}
    frame = pd.DataFrame([base | r for r in rows.values()], index=pd.Index(list(rows), name="org_id"))
    frame["band"] = health_band(frame["health"], CFG)
    return frame


def run(orgs: dict[str, dict[str, Any]], health: dict[str, dict[str, Any]] | None = None,
        cfg: Config = CFG) -> pd.DataFrame:
    frame = make_orgs(orgs)
    h = hand_health(health if health is not None else {o: {} for o in orgs})
    return with_reasons(evaluate_signals(frame, h, make_ctx(), cfg), cfg)


def fired(signals: pd.DataFrame, signal_type: str) -> list[str]:
    return sorted(signals.loc[signals["type"] == signal_type, "org_id"].tolist())


def row(signals: pd.DataFrame, org: str, signal_type: str) -> dict[str, Any]:
    match = signals[(signals["org_id"] == org) & (signals["type"] == signal_type)]
    assert len(match) == 1, f"expected one {signal_type} signal for {org}, got {len(match)}"
    return match.iloc[0].to_dict()


# --- Revenue at risk --------------------------------------------------------------------------


def test_revenue_at_risk_fires_below_threshold_only_for_paying_orgs() -> None:
    # Health is judged as shown, in whole points: 39.5 reads "40", which is not below 40.
    s = run(
        {"in": {"mrr": 4200.0}, "reads_40": {"mrr": 4200.0}, "edge": {"mrr": 4200.0}, "free": {"mrr": 0.0}},
        {"in": {"health": 39.4}, "reads_40": {"health": 39.5}, "edge": {"health": 40.0}, "free": {"health": 10.0}},
    )
    assert fired(s, REVENUE_AT_RISK) == ["in"]
    assert row(s, "in", REVENUE_AT_RISK)["evidence"]["health"] == 39.0


def test_revenue_at_risk_evidence_reason_case_and_priority() -> None:
    s = run(
        {"acme": {"mrr": 4200.0, "activity_active_days": 3}},
        {"acme": {"health": 32.0, "usage_change": -0.45}},
    )
    r = row(s, "acme", REVENUE_AT_RISK)
    assert r["evidence"] == {
        "health": 32.0,
        "band": "red",
        "threshold": 40.0,
        "mrr": 4200.0,
        "activity_active_days": 3,
        "usage_change": -0.45,
    }
    # "activity 3/20 days" read as three days out of twenty; it was 3 active days of the last 28.
    assert r["reason"] == ("Health 32 (red) with $4,200 MRR — active on 3 of the last 28 days, "
                           "events −45% vs the previous 14 days")
    assert r["suggested_case"] == "risk"
    assert r["severity"] == pytest.approx(0.2)  # (40 − 32) / 40
    # 1.0 × (20 + 40·0.2 + 40·4200/6200) = 55.0968 → 55.1
    assert r["priority"] == 55.1


def test_revenue_at_risk_reason_without_previous_usage() -> None:
    s = run({"a": {"mrr": 500.0, "activity_active_days": 0}}, {"a": {"health": 12.5, "usage_change": np.nan}})
    r = row(s, "a", REVENUE_AT_RISK)
    # Whole points, as the lists show it (halves to even, as Python prints them: 12.5 reads 12).
    assert r["reason"] == ("Health 12 (red) with $500 MRR — active on 0 of the last 28 days, "
                           "no events in the previous 14 days to compare with")
    assert r["evidence"]["usage_change"] is None


def test_revenue_at_risk_threshold_from_config() -> None:
    cfg = Config(signals=SignalsConfig(revenue_at_risk_health_below=50.0))
    s = run({"a": {}}, {"a": {"health": 45.0}}, cfg)
    assert fired(s, REVENUE_AT_RISK) == ["a"]
    assert row(s, "a", REVENUE_AT_RISK)["evidence"]["threshold"] == 50.0


# --- Usage drop -------------------------------------------------------------------------------


def test_usage_drop_boundaries() -> None:
    orgs = {
        "forty": {"recent_events": 12, "previous_events": 20},  # −40 %, 20 previous: fires
        "shallow": {"recent_events": 601, "previous_events": 1000},  # −39.9 %
        "few": {"recent_events": 0, "previous_events": 19},  # −100 % but only 19 previous events
        "none_before": {"recent_events": 0, "previous_events": 0},  # undefined change
    }
    health = {
        "forty": {"usage_change": -0.4},
        "shallow": {"usage_change": -0.399},
        "few": {"usage_change": -1.0},
        "none_before": {"usage_change": np.nan},
    }
    assert fired(run(orgs, health), USAGE_DROP) == ["forty"]


def test_usage_drop_boundary_through_real_health_numbers() -> None:
    orgs = make_orgs(
        {
            "forty": {"recent_events": 12, "previous_events": 20},
            "shallow": {"recent_events": 601, "previous_events": 1000},
            "few": {"recent_events": 11, "previous_events": 19},
        }
    )
    ctx = make_ctx()
    s = evaluate_signals(orgs, score_health(orgs, ctx, CFG), ctx, CFG)
    assert fired(s, USAGE_DROP) == ["forty"]


def test_usage_drop_evidence_reason_and_free_orgs_count() -> None:
    s = run(
        {"paying": {"recent_events": 55, "previous_events": 100, "mrr": 4200.0},
         "free": {"recent_events": 30, "previous_events": 100, "mrr": 0.0}},
        {"paying": {"usage_change": -0.45, "active_users_change": -0.3},
         "free": {"usage_change": -0.7, "active_users_change": np.nan}},
    )
    paying = row(s, "paying", USAGE_DROP)
    assert paying["evidence"] == {
        "usage_change": -0.45,
        "threshold": -0.4,
        "recent_events": 55,
        "previous_events": 100,
        "min_previous_events": 20,
        "active_users_change": -0.3,
        "mrr": 4200.0,
    }
    assert paying["reason"] == "Usage −45% vs the previous 14 days (55 vs 100 events), active users −30%, $4,200 MRR"
    assert paying["suggested_case"] == "risk"
    assert paying["severity"] == pytest.approx(0.05 / 0.6)
    free = row(s, "free", USAGE_DROP)
    assert free["reason"] == "Usage −70% vs the previous 14 days (30 vs 100 events)"
    # severity 0.5, no revenue: 0.9 × (20 + 20) = 36
    assert free["priority"] == 36.0


# --- Inactive paying --------------------------------------------------------------------------


def test_inactive_paying_boundaries_for_seen_orgs() -> None:
    s = run(
        {
            "fourteen": {"last_seen": AS_OF - 14 * DAY},
            "almost": {"last_seen": AS_OF - 14 * DAY + SECOND},
            "thirteen": {"last_seen": AS_OF - 13 * DAY},
            "free": {"last_seen": AS_OF - 60 * DAY, "mrr": 0.0},
        }
    )
    assert fired(s, INACTIVE_PAYING) == ["fourteen"]
    r = row(s, "fourteen", INACTIVE_PAYING)
    assert r["suggested_case"] == "risk"
    assert r["severity"] == 0.0
    assert r["reason"] == "No activity for 14 days, paying $1,000 MRR"
    assert r["evidence"] == {
        "mrr": 1000.0,
        "days_inactive": 14,
        "threshold_days": 14,
        "never_seen": False,
        "last_seen": "2024-04-17T12:00:00Z",
        "created_at": "2023-05-02T12:00:00Z",
    }


def test_inactive_paying_never_seen_orgs_by_age() -> None:
    s = run(
        {
            "old": {"last_seen": pd.NaT, "created_at": AS_OF - 15 * DAY, "mrr": 900.0},
            "exactly": {"last_seen": pd.NaT, "created_at": AS_OF - 14 * DAY},
            "young": {"last_seen": pd.NaT, "created_at": AS_OF - 13 * DAY},
            "unknown": {"last_seen": pd.NaT, "created_at": pd.NaT, "mrr": 250.0},
        }
    )
    assert fired(s, INACTIVE_PAYING) == ["exactly", "old", "unknown"]
    old = row(s, "old", INACTIVE_PAYING)
    assert old["suggested_case"] == "onboarding"
    assert old["reason"] == "Not active yet: nobody has used the product since it was created 15 days ago, $900 MRR"
    assert old["evidence"]["never_seen"] is True
    assert old["evidence"]["last_seen"] is None
    assert old["evidence"]["days_inactive"] == 15
    assert old["severity"] == pytest.approx(1 / 15)  # 1 day past 14, half at 14 more
    unknown = row(s, "unknown", INACTIVE_PAYING)
    assert unknown["suggested_case"] == "onboarding"
    assert unknown["reason"] == "Not active yet: nobody has used the product, $250 MRR"
    assert unknown["evidence"]["days_inactive"] is None
    assert unknown["evidence"]["created_at"] is None
    assert unknown["severity"] == 0.0


def test_inactive_days_from_config() -> None:
    cfg = Config(signals=SignalsConfig(inactive_days=7))
    s = run({"a": {"last_seen": AS_OF - 7 * DAY}, "b": {"last_seen": AS_OF - 6 * DAY}}, cfg=cfg)
    assert fired(s, INACTIVE_PAYING) == ["a"]


# --- Expansion candidate ----------------------------------------------------------------------


def test_expansion_boundaries() -> None:
    health = {
        "growth": {"health": 70.0, "usage_change": 0.2},
        "seats": {"health": 70.0, "usage_change": 0.0, "seat_utilization": 0.9},
        "unhealthy": {"health": 69.4, "usage_change": 0.5, "seat_utilization": 1.0},
        "reads_70": {"health": 69.5, "usage_change": 0.2},  # shown as 70, green: a candidate
        "slow": {"health": 70.0, "usage_change": 0.199},
        "roomy": {"health": 70.0, "usage_change": 0.0, "seat_utilization": 0.899},
        "unknown": {"health": 95.0, "usage_change": np.nan, "seat_utilization": np.nan},
    }
    s = run({o: {} for o in health}, health)
    assert fired(s, EXPANSION_CANDIDATE) == ["growth", "reads_70", "seats"]


def test_expansion_through_real_health_numbers() -> None:
    full = {"activity_active_days": 20, "recent_key_features": 4, "previous_events": 100}
    orgs = make_orgs(
        {
            "growth": full | {"recent_events": 120},
            "slow": full | {"recent_events": 119},
            "seats": full | {"seats": 20.0, "recent_active_users": 18},
            "roomy": full | {"seats": 1000.0, "recent_active_users": 899},
        }
    )
    ctx = make_ctx()
    health = score_health(orgs, ctx, CFG)
    assert (health["health"] >= 70).all()
    s = evaluate_signals(orgs, health, ctx, CFG)
    assert fired(s, EXPANSION_CANDIDATE) == ["growth", "seats"]


def test_expansion_evidence_and_reason() -> None:
    s = run(
        {"grow": {"mrr": 1200.0, "seats": 20.0, "recent_active_users": 19, "recent_events": 145}},
        {"grow": {"health": 85.0, "usage_change": 0.45, "seat_utilization": 0.95}},
    )
    r = row(s, "grow", EXPANSION_CANDIDATE)
    # The reason says what the growth is measured on (events, against the previous window).
    assert r["reason"] == ("Health 85 (green), events +45% vs the previous 14 days (145 vs 100), "
                           "19 of 20 seats in use (95%), $1,200 MRR")
    assert r["evidence"] == {
        "health": 85.0,
        "health_threshold": 70.0,
        "usage_change": 0.45,
        "growth_threshold": 0.2,
        "recent_events": 145,
        "previous_events": 100,
        "min_previous_events": 30,
        "seat_utilization": 0.95,
        "seat_utilization_threshold": 0.9,
        "recent_active_users": 19,
        "min_active_users": 3,
        "seats": 20,
        "mrr": 1200.0,
    }
    assert r["suggested_case"] == "expansion"
    # growth 0.5, utilization 0.05/0.15 = 1/3, health 0.5 → (0.5 + 1/3 + 0.5) / 3 = 4/9
    assert r["severity"] == pytest.approx(4 / 9)


def test_expansion_without_seats_says_nothing_about_seats() -> None:
    s = run({"a": {"mrr": 0.0, "recent_events": 130}}, {"a": {"health": 75.0, "usage_change": 0.3}})
    assert row(s, "a", EXPANSION_CANDIDATE)["reason"] == (
        "Health 75 (green), events +30% vs the previous 14 days (130 vs 100)")


# --- the frame as a whole ---------------------------------------------------------------------


def test_one_org_can_hold_several_signals() -> None:
    s = run(
        {"acme": {"mrr": 3000.0, "recent_events": 0, "previous_events": 80, "last_seen": AS_OF - 20 * DAY}},
        {"acme": {"health": 20.0, "usage_change": -1.0}},
    )
    assert sorted(s["type"]) == sorted([REVENUE_AT_RISK, USAGE_DROP, INACTIVE_PAYING])


def test_columns_order_and_ranking() -> None:
    s = run(
        {
            "b_low": {"mrr": 100.0},
            "a_high": {"mrr": 50_000.0},
            "c_tie": {"mrr": 100.0},
            "ok": {"mrr": 100.0},
        },
        {"b_low": {"health": 30.0}, "a_high": {"health": 30.0}, "c_tie": {"health": 30.0}, "ok": {"health": 50.0}},
    )
    assert list(s.columns) == [*SIGNAL_COLUMNS, "reason"]
    assert s["org_id"].tolist() == ["a_high", "b_low", "c_tie"]
    assert s["priority"].is_monotonic_decreasing
    assert list(s.index) == [0, 1, 2]


def test_ties_on_one_org_follow_signal_type_order() -> None:
    # No severity points and equal type weights: every signal of an org has the same priority.
    cfg = Config(priority=PriorityConfig(type_weight=dict.fromkeys(SIGNAL_TYPES, 1.0), severity_points=0.0,
                                         revenue_half_mrr=2000.0, revenue_points=40.0, severity_curve=1.0))
    s = run(
        {"b": {"mrr": 2000.0, "recent_events": 0, "previous_events": 100, "last_seen": AS_OF - 30 * DAY}},
        {"b": {"health": 20.0, "usage_change": -1.0}},
        cfg,
    )
    assert s["priority"].tolist() == [40.0, 40.0, 40.0]
    assert s["type"].tolist() == [REVENUE_AT_RISK, USAGE_DROP, INACTIVE_PAYING]


def test_evidence_is_plain_json() -> None:
    s = run(
        {
            "a": {"mrr": 4200.0, "recent_events": 0, "previous_events": 80, "last_seen": pd.NaT, "created_at": pd.NaT},
            "b": {"mrr": 10.0, "seats": 5.0, "recent_active_users": 5},
        },
        {"a": {"health": 12.0, "usage_change": -1.0, "active_users_change": np.nan},
         "b": {"health": 90.0, "seat_utilization": 1.0}},
    )
    # "a" was never seen: not active yet, so no Revenue at risk whatever health it is handed.
    assert sorted(zip(s["org_id"], s["type"])) == [
        ("a", INACTIVE_PAYING),
        ("a", USAGE_DROP),
        ("b", EXPANSION_CANDIDATE),
    ]
    for evidence in s["evidence"]:
        json.dumps(evidence, allow_nan=False)
        for value in evidence.values():
            assert type(value) in (float, int, str, bool, type(None)), (value, type(value))


def test_no_orgs_no_signals() -> None:
    s = evaluate_signals(empty_org_frame(), score_health(empty_org_frame(), make_ctx(), CFG), make_ctx(), CFG)
    assert s.empty
    assert list(s.columns) == SIGNAL_COLUMNS
    assert list(with_reasons(s, CFG).columns) == [*SIGNAL_COLUMNS, "reason"]


def test_healthy_orgs_raise_nothing() -> None:
    assert run({"a": {}, "b": {}}).empty


# --- org priority -----------------------------------------------------------------------------


def test_org_priority_is_the_highest_signal() -> None:
    signals = pd.DataFrame(
        {"org_id": ["a", "a", "b", "c"], "type": ["x", "y", "x", "x"], "priority": [40.0, 72.5, 60.0, 10.0]}
    )
    got = org_priority(signals)
    assert got.to_dict() == {"a": 72.5, "b": 60.0, "c": 10.0}
    assert got.index.tolist() == ["a", "b", "c"]


def test_org_priority_counts_only_active_stored_signals() -> None:
    signals = pd.DataFrame(
        {
            "org_id": ["a", "a", "b"],
            "priority": [90.0, 50.0, 70.0],
            "status": ["dismissed", "active", "snoozed"],
        }
    )
    assert org_priority(signals).to_dict() == {"a": 50.0}
    assert org_priority(signals, statuses=("active", "snoozed")).to_dict() == {"b": 70.0, "a": 50.0}
    assert org_priority(signals.iloc[0:0]).empty
