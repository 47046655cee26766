"""Value × Potential: input scores, weighted arithmetic, re-normalization, quadrants, tiers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pandas as pd
import pytest

from domain.config import TiersConfig
from scoring.tiers import TIER_OUTPUT_COLUMNS, input_scores, score_tiers

AS_OF = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.timezone.utc)
NAN = math.nan


def frame(rows: dict[str, dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("org_id")


def days_ago(n: int) -> pd.Timestamp:
    return pd.Timestamp(AS_OF) - pd.Timedelta(days=n)


def in_days(n: int) -> dt.date:
    return AS_OF.date() + dt.timedelta(days=n)


def test_full_arithmetic_in_each_mode() -> None:
    base = {"created_at": days_ago(365), "activity_score": 80.0, "health": 55.0, "strategic": 60.0,
            "expansion_candidate": True, "icp_fit": 70.0, "relationship": 40.0, "renewal_date": in_days(45)}
    orgs = frame({"a": {**base, "mrr": 100.0}, "b": {**base, "mrr": 200.0}, "c": {**base, "mrr": 300.0},
                  "d": {**base, "mrr": 400.0}})
    d = score_tiers(orgs, AS_OF).loc["d"]
    # revenue 100 (top of 4 payers), tenure 365/730 → 50, engagement = activity 80, strategic 60
    assert (d["revenue_score"], d["tenure_score"], d["engagement_score"], d["strategic_score"]) == (100, 50, 80, 60)
    assert d["value"] == 78.5  # (100·40 + 50·15 + 80·20 + 60·25) / 100
    # expansion 100 (candidate), fit 70, relationship 40, timing 45 of 90 days → 50
    assert (d["expansion_score"], d["fit_score"], d["relationship_score"], d["timing_score"]) == (100, 70, 40, 50)
    assert d["potential"] == 70.5  # (100·35 + 70·25 + 40·20 + 50·20) / 100
    assert d["account_priority"] == 74.5
    assert (d["quadrant"], d["tier"]) == ("Stars", "Tier 2")
    assert d["inputs_left_out"] == []
    assert d["inputs_used"] == ["revenue", "tenure", "engagement", "strategic", "expansion", "fit",
                                "relationship", "timing"]
    assert score_tiers(orgs, AS_OF, mode="retention").loc["d", "account_priority"] == 76.1  # .7·78.5 + .3·70.5
    assert score_tiers(orgs, AS_OF, mode="growth").loc["d", "account_priority"] == 72.9  # .3·78.5 + .7·70.5
    a = score_tiers(orgs, AS_OF).loc["a"]
    assert (a["revenue_score"], a["value"]) == (25, 48.5)  # (25·40 + 750 + 1600 + 1500) / 100
    assert list(score_tiers(orgs, AS_OF).columns) == list(TIER_OUTPUT_COLUMNS)


def test_missing_inputs_pull_toward_the_middle_and_the_counts_say_so() -> None:
    # One org alone: a missing input counts as tiers.missing_input_score (50) at its full
    # weight. Before, the four missing inputs were left out and the weights re-normalized, so
    # revenue and engagement alone made a value of 93.33 and a Tier 1 account of 81.21: four
    # of eight inputs standing for all of them.
    orgs = frame({"x": {"mrr": 500.0, "created_at": pd.NaT, "activity_score": NAN, "health": 80.0,
                        "strategic": NAN, "expansion_candidate": False, "usage_change": 0.1,
                        "seat_utilization": 0.72, "icp_fit": NAN, "relationship": 50.0, "renewal_date": None}})
    x = score_tiers(orgs, AS_OF).loc["x"]
    # Value: revenue 100 (weight 40), engagement = health 80 (20), tenure and strategic 50: 76.
    assert x["value"] == 76.0
    # Expansion: max(0.1/0.2, 0.72/0.9) → 80; relationship 50; fit and timing 50: 60.5.
    assert x["expansion_score"] == 80.0
    assert x["potential"] == 60.5
    assert x["account_priority"] == 68.25
    assert (x["quadrant"], x["tier"]) == ("Stars", "Tier 2")
    assert (x["value_inputs"], x["potential_inputs"]) == (2, 2)
    assert x["inputs_used"] == ["revenue", "engagement", "expansion", "relationship"]
    assert x["inputs_left_out"] == ["tenure", "strategic", "fit", "timing"]


def test_a_missing_input_counts_as_the_typical_account_of_the_base() -> None:
    # strategic is known for a and b (40, 60): c, without it, counts as their median, 50.
    orgs = frame({"a": {"mrr": 100.0, "strategic": 40.0}, "b": {"mrr": 100.0, "strategic": 60.0},
                  "c": {"mrr": 100.0, "strategic": NAN}})
    only_strategic = TiersConfig(value_weights={"revenue": 0.0, "tenure": 0.0, "engagement": 0.0, "strategic": 100.0})
    t = score_tiers(orgs, AS_OF, tiers=only_strategic)
    assert t["value"].to_dict() == {"a": 40.0, "b": 60.0, "c": 50.0}
    assert t["value_inputs"].to_dict() == {"a": 2, "b": 2, "c": 1}  # revenue, and strategic where known


# Only strategic weighs in value and only fit in potential: the tier arithmetic, on two numbers.
TWO = TiersConfig(value_weights={"revenue": 0.0, "tenure": 0.0, "engagement": 0.0, "strategic": 100.0},
                  potential_weights={"expansion": 0.0, "fit": 100.0, "relationship": 0.0, "timing": 0.0})


def two_inputs(pairs: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Orgs whose value is just ``strategic`` and potential just ``icp_fit`` (with ``TWO``)."""
    return frame({k: {"mrr": NAN, "strategic": v, "icp_fit": p} for k, (v, p) in pairs.items()})


def test_tier_boundaries() -> None:
    t = score_tiers(two_inputs({"t1": (80, 80), "t2hi": (79.99, 79.99), "t2": (60, 60), "t3hi": (59.99, 59.99),
                                "t3": (40, 40), "t4": (39.99, 39.99), "zero": (0, 0)}), AS_OF, tiers=TWO)
    assert t["account_priority"].to_dict() == {"t1": 80.0, "t2hi": 79.99, "t2": 60.0, "t3hi": 59.99, "t3": 40.0,
                                               "t4": 39.99, "zero": 0.0}
    assert t["tier"].to_dict() == {"t1": "Tier 1", "t2hi": "Tier 2", "t2": "Tier 2", "t3hi": "Tier 3",
                                   "t3": "Tier 3", "t4": "Tier 4", "zero": "Tier 4"}
    assert t.loc["t1", "inputs_used"] == ["strategic", "fit"]


def test_quadrant_boundaries_fifty_counts_as_high() -> None:
    q = score_tiers(two_inputs({"s": (50, 50), "g": (49.99, 50), "c": (50, 49.99), "m": (49.99, 49.99)}), AS_OF,
                    tiers=TWO)
    assert q["quadrant"].to_dict() == {"s": "Stars", "g": "Growth bets", "c": "Cash cows", "m": "Maintenance"}


def test_mode_weight_moves_priority_and_tier() -> None:
    orgs = two_inputs({"o": (100, 0)})
    tier = lambda mode: score_tiers(orgs, AS_OF, mode=mode, tiers=TWO).loc["o", ["account_priority", "tier"]].tolist()  # noqa: E731
    assert tier("balanced") == [50.0, "Tier 3"]
    assert tier("retention") == [70.0, "Tier 2"]
    assert tier("growth") == [30.0, "Tier 4"]
    custom = dataclasses.replace(TWO, mode="growth", mode_weight={"balanced": 0.5, "retention": 0.7, "growth": 0.1})
    assert score_tiers(orgs, AS_OF, tiers=custom).loc["o", "account_priority"] == 10.0
    with pytest.raises(ValueError, match="mode must be one of"):
        score_tiers(orgs, AS_OF, mode="aggressive")


def test_a_side_with_no_known_input_is_missing_and_counts_as_neutral() -> None:
    # One known input of eight: value (64·25 + 50·75) / 100 = 53.5; potential unknown, shown
    # missing (no quadrant), and counted at 50 in the account priority: 51.75, Tier 3. It was
    # 64, Tier 2: the strategic score alone standing for the whole account.
    orgs = frame({"v": {"mrr": NAN, "strategic": 64.0, "icp_fit": NAN}})
    v = score_tiers(orgs, AS_OF).loc["v"]
    assert (v["value"], v["account_priority"], v["tier"]) == (53.5, 51.75, "Tier 3")
    assert math.isnan(v["potential"]) and v["quadrant"] is None
    assert (v["value_inputs"], v["potential_inputs"]) == (1, 0)


def test_input_score_mappings() -> None:
    orgs = frame(
        {
            "top": {"mrr": 400.0, "created_at": days_ago(730), "renewal_date": in_days(0), "usage_change": 0.3},
            "tie1": {"mrr": 200.0, "created_at": days_ago(1000), "renewal_date": in_days(90), "usage_change": -0.2},
            "tie2": {"mrr": 200.0, "created_at": days_ago(73), "renewal_date": in_days(91), "seat_utilization": 0.45},
            "low": {"mrr": 100.0, "created_at": days_ago(0), "renewal_date": in_days(-1), "expansion_candidate": True},
            "free": {"mrr": 0.0, "created_at": pd.NaT, "renewal_date": in_days(60)},
            "unknown": {"mrr": NAN, "created_at": pd.NaT, "renewal_date": None},
        }
    )
    s = input_scores(orgs, AS_OF)
    # Percentile rank among 4 payers, ties share the higher rank; no MRR → 0; unknown → left out.
    assert s["revenue"].drop("unknown").to_dict() == {"top": 100.0, "tie1": 75.0, "tie2": 75.0, "low": 25.0,
                                                     "free": 0.0}
    assert math.isnan(s.loc["unknown", "revenue"])
    assert s["tenure"].drop(["free", "unknown"]).to_dict() == {"top": 100.0, "tie1": 100.0, "tie2": 10.0, "low": 0.0}
    assert s["tenure"][["free", "unknown"]].isna().all()
    # Timing: 100 on the renewal day, 0 at the 90-day horizon and beyond, past date left out.
    assert s.loc["top", "timing"] == 100.0
    assert s.loc["tie1", "timing"] == 0.0
    assert s.loc["tie2", "timing"] == 0.0
    assert math.isnan(s.loc["low", "timing"])
    assert s.loc["free", "timing"] == pytest.approx(100 / 3, abs=1e-12)
    assert math.isnan(s.loc["unknown", "timing"])
    # Expansion: growth over the +20 % threshold caps at 100, decline is 0, seats 45/90 → 50,
    # a candidate is 100, nothing known → left out.
    assert s.loc["top", "expansion"] == 100.0
    assert s.loc["tie1", "expansion"] == 0.0
    assert s.loc["tie2", "expansion"] == 50.0
    assert s.loc["low", "expansion"] == 100.0
    assert s[["expansion"]].loc[["free", "unknown"]].isna().all().all()


# --- service and CLI, on SQLite and PostgreSQL -------------------------------------------

from click.testing import CliRunner  # noqa: E402

from revenue_helpers import AS_OF as DB_AS_OF  # noqa: E402
from revenue_helpers import seed  # noqa: E402
from cli import cli  # noqa: E402
from domain.config import Config  # noqa: E402
from services.revenue import tiers_report  # noqa: E402


def test_tiers_report_from_the_database(session_factory) -> None:
    with session_factory() as session:
        seed(session)
        t = tiers_report(session, "default", DB_AS_OF, Config())
    assert t.index.tolist() == ["B", "C", "D", "E", "F", "A"]  # by account priority, then name
    b = t.loc["B"]
    # revenue 100 (top of 5 payers), tenure 730 days → 100, activity 70, strategic 80: 89.
    # expansion: usage +30 % ≥ +20 % → 100; fit 90; relationship 60; renewal in 45 days → 50: 79.5.
    assert b[["name", "mrr", "value", "potential", "account_priority", "quadrant", "tier"]].tolist() == [
        "Beta", 200.0, 89.0, 79.5, 84.25, "Stars", "Tier 1"]
    assert (b["value_inputs"], b["potential_inputs"]) == (4, 4)
    c = t.loc["C"]
    # revenue 2 of 5 → 40, activity 64, tenure and strategic unknown → 50 each (fewer than ten
    # orgs know them): (40·40 + 50·15 + 64·20 + 50·25) / 100 = 48.8. The dismissed (still open)
    # Expansion candidate makes expansion 100, the only potential input known; fit,
    # relationship and timing count 50: (100·35 + 50·65) / 100 = 67.5. It was 48 / 100 / 74
    # and Tier 2, its one known potential input standing for the whole potential.
    assert c[["value", "potential", "account_priority", "quadrant", "tier"]].tolist() == [
        48.8, 67.5, 58.15, "Growth bets", "Tier 3"]
    assert (c["value_inputs"], c["potential_inputs"]) == (2, 1)
    assert c["inputs_left_out"] == ["tenure", "strategic", "fit", "relationship", "timing"]
    a = t.loc["A"]
    # revenue 4 of 5 → 80, tenure 365 days → 50, activity 20, strategic 40: 53.5; usage −50 % →
    # expansion 0, fit, relationship and timing unknown → 50: 32.5.
    assert a[["value", "potential", "account_priority", "quadrant", "tier"]].tolist() == [
        53.5, 32.5, 43.0, "Cash cows", "Tier 3"]


def test_tiers_command(session_factory) -> None:
    with session_factory() as session:
        seed(session)
    obj = {"session_factory": session_factory, "config": Config()}
    result = CliRunner().invoke(cli, ["tiers", "--as-of", "2026-03-31", "--mode", "retention", "--top", "2"], obj=obj)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Value × Potential as of 2026-03-31, retention mode (w = 0.7)"
    assert lines[1].split() == ["org", "id", "MRR", "value", "potential", "priority", "quadrant", "tier", "inputs",
                                "left", "out"]
    # Retention: B .7·89 + .3·79.5 = 86.15; C .7·48.8 + .3·67.5 = 54.41, on 3 of 8 inputs.
    assert lines[2].split() == ["Beta", "B", "$200", "89.00", "79.50", "86.15", "Stars", "Tier", "1", "8/8", "–"]
    assert lines[3].split()[:11] == ["Cyan", "C", "$50", "48.80", "67.50", "54.41", "Growth", "bets", "Tier", "3",
                                     "3/8"]
    assert len(lines) == 4
