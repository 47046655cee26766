"""Revenue analytics: MRR on a day, movements per period, NRR/GRR, on hand-made histories."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.revenue import (
    MOVEMENT_COLUMNS,
    arr,
    mrr_by_org,
    mrr_movements,
    nrr_grr,
    periods_ending,
    top_revenue_orgs,
    total_mrr,
)

D = dt.date


def subs_frame(rows: list[tuple]) -> pd.DataFrame:
    """(subscription_id, org_id, mrr, started_at, ended_at, status) tuples → frame."""
    return pd.DataFrame(rows, columns=["subscription_id", "org_id", "mrr", "started_at", "ended_at", "status"])


# Seven orgs, one movement type each in March 2026 (all but F and G start paying on Jan 1):
HISTORY = subs_frame(
    [
        # A upgrades on Mar 15: 100 → 150 (expansion 50).
        ("a1", "A", 100.0, D(2026, 1, 1), D(2026, 3, 15), "canceled"),
        ("a2", "A", 150.0, D(2026, 3, 15), None, "active"),
        # B downgrades on Mar 10: 300 → 200 (contraction 100).
        ("b1", "B", 300.0, D(2026, 1, 1), D(2026, 3, 10), "canceled"),
        ("b2", "B", 200.0, D(2026, 3, 10), None, "active"),
        # C cancels one of two subscriptions on Mar 20 (contraction 50, not churn).
        ("c1", "C", 100.0, D(2026, 1, 1), None, "active"),
        ("c2", "C", 50.0, D(2026, 1, 1), D(2026, 3, 20), "canceled"),
        # D churns fully on Mar 5 (churned 80).
        ("d1", "D", 80.0, D(2026, 1, 1), D(2026, 3, 5), "canceled"),
        # E churns on Feb 1 (last paid Jan 31: churn in February), comes back on Mar 3 at 70.
        ("e1", "E", 60.0, D(2026, 1, 1), D(2026, 2, 1), "canceled"),
        ("e2", "E", 70.0, D(2026, 3, 3), None, "past_due"),
        # F trials from Feb 20 and converts on Mar 8 (new 40 in March, nothing in February).
        ("f1", "F", 40.0, D(2026, 2, 20), D(2026, 3, 8), "trialing"),
        ("f2", "F", 40.0, D(2026, 3, 8), None, "active"),
        # G starts mid-month, Mar 17, at 24.99 (new).
        ("g1", "G", 24.99, D(2026, 3, 17), None, "active"),
    ]
)


def test_mrr_on_days_before_on_and_after_changes() -> None:
    m = lambda day: mrr_by_org(HISTORY, day).to_dict()  # noqa: E731
    assert m(D(2025, 12, 31)) == {o: 0.0 for o in "ABCDEFG"}
    # Upgrade: the old subscription's ended_at day already belongs to the new one.
    assert m(D(2026, 3, 14))["A"] == 100.0
    assert m(D(2026, 3, 15))["A"] == 150.0
    # Churn: the ended_at day itself is excluded.
    assert m(D(2026, 3, 4))["D"] == 80.0
    assert m(D(2026, 3, 5))["D"] == 0.0
    # Mid-month start counts from its first day.
    assert m(D(2026, 3, 16))["G"] == 0.0
    assert m(D(2026, 3, 17))["G"] == 24.99
    # Trialing never counts; past_due does.
    assert m(D(2026, 3, 1))["F"] == 0.0
    assert m(D(2026, 3, 8))["F"] == 40.0
    assert m(D(2026, 3, 3))["E"] == 70.0
    # Two subscriptions add up; one ending leaves the other.
    assert m(D(2026, 3, 19))["C"] == 150.0
    assert m(D(2026, 3, 20))["C"] == 100.0


def test_total_mrr_and_arr() -> None:
    assert total_mrr(HISTORY, D(2026, 1, 31)) == 690.0
    assert total_mrr(HISTORY, D(2026, 2, 28)) == 630.0
    assert total_mrr(HISTORY, D(2026, 3, 31)) == 584.99
    assert arr(total_mrr(HISTORY, D(2026, 2, 28))) == 7560.0
    assert arr(total_mrr(HISTORY, D(2026, 3, 31))) == pytest.approx(7019.88, abs=1e-9)


def test_status_rules_trialing_and_canceled() -> None:
    subs = subs_frame(
        [
            ("t", "T", 500.0, D(2026, 1, 1), None, "trialing"),
            ("x", "X", 300.0, D(2026, 1, 1), None, "canceled"),  # no end: never counts
            ("y", "Y", 200.0, D(2026, 1, 1), D(2026, 2, 1), "canceled"),  # paid until its end
            ("z", "Z", 100.0, D(2026, 1, 1), None, None),  # no status: active
        ]
    )
    assert mrr_by_org(subs, D(2026, 1, 15)).to_dict() == {"T": 0.0, "X": 0.0, "Y": 200.0, "Z": 100.0}
    assert mrr_by_org(subs, D(2026, 2, 1)).to_dict() == {"T": 0.0, "X": 0.0, "Y": 0.0, "Z": 100.0}


def test_monthly_movements_pin_every_type() -> None:
    m = mrr_movements(HISTORY, D(2026, 1, 1), D(2026, 3, 31), "month")
    assert list(m.columns) == list(MOVEMENT_COLUMNS)
    assert m["period"].tolist() == ["2026-01", "2026-02", "2026-03"]
    assert m["start"].tolist() == [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)]
    assert m["end"].tolist() == [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31)]
    jan, feb, mar = (m.iloc[i].to_dict() for i in range(3))
    assert {k: jan[k] for k in MOVEMENT_COLUMNS[3:]} == {
        "starting_mrr": 0.0, "new": 690.0, "expansion": 0.0, "contraction": 0.0, "churned": 0.0,
        "reactivated": 0.0, "net_new": 690.0, "ending_mrr": 690.0,
    }
    # E's subscription ended on Feb 1: it churned in February; F's trial adds nothing.
    assert {k: feb[k] for k in MOVEMENT_COLUMNS[3:]} == {
        "starting_mrr": 690.0, "new": 0.0, "expansion": 0.0, "contraction": 0.0, "churned": 60.0,
        "reactivated": 0.0, "net_new": -60.0, "ending_mrr": 630.0,
    }
    assert mar["starting_mrr"] == 630.0
    assert mar["new"] == 64.99  # F converted (40) + G mid-month (24.99)
    assert mar["expansion"] == 50.0  # A upgrade
    assert mar["contraction"] == 150.0  # B downgrade 100 + C one of two cancelled 50
    assert mar["churned"] == 80.0  # D
    assert mar["reactivated"] == 70.0  # E back after churning
    assert mar["net_new"] == -45.01
    assert mar["ending_mrr"] == 584.99
    for row in (jan, feb, mar):
        assert row["starting_mrr"] + row["net_new"] == row["ending_mrr"]


def test_weekly_movements_start_on_monday_and_cut_to_the_range() -> None:
    # 2026-03-02 is a Monday. Range Wed Mar 4 .. Wed Mar 18.
    m = mrr_movements(HISTORY, D(2026, 3, 4), D(2026, 3, 18), "week")
    assert m["period"].tolist() == ["2026-W10", "2026-W11", "2026-W12"]
    assert m["start"].tolist() == [D(2026, 3, 4), D(2026, 3, 9), D(2026, 3, 16)]
    assert m["end"].tolist() == [D(2026, 3, 8), D(2026, 3, 15), D(2026, 3, 18)]
    w10, w11, w12 = (m.iloc[i] for i in range(3))
    # Week 10 (from Mar 4): D churns Mar 5 (80), F converts Mar 8 (40). E came back on Mar 3,
    # before the cut start, so it is already in the starting MRR.
    assert (w10["starting_mrr"], w10["new"], w10["churned"], w10["net_new"], w10["ending_mrr"]) == (
        700.0, 40.0, 80.0, -40.0, 660.0)
    # Week 11: B downgrades Mar 10 (−100), A upgrades Mar 15 (+50).
    assert (w11["contraction"], w11["expansion"], w11["ending_mrr"]) == (100.0, 50.0, 610.0)
    # Week 12 to Mar 18: G starts Mar 17 (new 24.99); C's cancellation on Mar 20 is not yet in.
    assert (w12["new"], w12["contraction"], w12["ending_mrr"]) == (24.99, 0.0, 634.99)


def test_reactivation_needs_an_earlier_churn_and_new_needs_none() -> None:
    subs = subs_frame(
        [
            ("p1", "P", 10.0, D(2025, 6, 1), D(2025, 7, 1), "canceled"),
            ("p2", "P", 30.0, D(2026, 4, 10), None, "active"),
            ("q1", "Q", 20.0, D(2026, 4, 10), None, "active"),
        ]
    )
    april = mrr_movements(subs, D(2026, 4, 1), D(2026, 4, 30)).iloc[0]
    assert (april["new"], april["reactivated"], april["net_new"]) == (20.0, 30.0, 50.0)


def test_periods_ending_counts_back_whole_periods() -> None:
    assert periods_ending(D(2026, 3, 18), "month", 3) == (D(2026, 1, 1), D(2026, 3, 18))
    assert periods_ending(D(2026, 3, 18), "week", 2) == (D(2026, 3, 9), D(2026, 3, 18))
    with pytest.raises(ValueError, match="at least 1"):
        periods_ending(D(2026, 3, 18), "month", 0)


def test_nrr_grr_exact() -> None:
    # Cohort paying on Feb 28: A 100, B 300, C 150, D 80 = 630 (E had churned; F, G are new
    # later and are not in the cohort). On Mar 31: A 150, B 200, C 100, D 0 = 450.
    r = nrr_grr(HISTORY, D(2026, 3, 31), months=1)
    assert r.start == D(2026, 2, 28)
    assert (r.starting_mrr, r.expansion, r.contraction, r.churned, r.ending_mrr) == (630.0, 50.0, 150.0, 80.0, 450.0)
    assert r.nrr == 450 / 630
    assert r.grr == 400 / 630


def test_grr_is_capped_and_nrr_can_pass_100() -> None:
    subs = subs_frame([("a", "A", 100.0, D(2025, 1, 1), D(2025, 6, 1), "canceled"),
                       ("b", "A", 150.0, D(2025, 6, 1), None, "active")])
    r = nrr_grr(subs, D(2026, 1, 1), months=12)
    assert (r.nrr, r.grr) == (1.5, 1.0)


def test_nrr_is_none_without_a_paying_cohort() -> None:
    subs = subs_frame([("a", "A", 100.0, D(2026, 1, 1), None, "active")])
    r = nrr_grr(subs, D(2026, 3, 1), months=12)
    assert (r.nrr, r.grr, r.starting_mrr) == (None, None, 0.0)


def test_top_revenue_orgs_order_ties_and_share() -> None:
    subs = subs_frame(
        [
            ("1", "o1", 100.0, D(2026, 1, 1), None, "active"),
            ("2", "o2", 300.0, D(2026, 1, 1), None, "active"),
            ("3", "o3", 100.0, D(2026, 1, 1), None, "active"),
            ("4", "o4", 0.0, D(2026, 1, 1), None, "active"),
        ]
    )
    names = pd.Series({"o1": "Zeta", "o2": "Acme", "o3": "Beta", "o4": "Free"})
    top = top_revenue_orgs(subs, names, D(2026, 2, 1), n=2)
    assert top[["rank", "org_id", "name", "mrr", "arr"]].values.tolist() == [
        [1, "o2", "Acme", 300.0, 3600.0],
        [2, "o3", "Beta", 100.0, 1200.0],  # tie with Zeta broken by name
    ]
    assert top["share"].tolist() == [0.6, 0.2]
    assert len(top_revenue_orgs(subs, names, D(2026, 2, 1), n=10)) == 3  # the free org is not listed


def test_bad_rows_are_rejected_with_the_subscription_id() -> None:
    subs = subs_frame([("bad-1", "A", -5.0, D(2026, 1, 1), None, "active")])
    with pytest.raises(ValueError, match="bad-1"):
        total_mrr(subs, D(2026, 1, 2))
    with pytest.raises(ValueError, match="month"):
        mrr_movements(HISTORY, D(2026, 1, 1), D(2026, 2, 1), "quarter")  # type: ignore[arg-type]


@st.composite
def histories(draw: st.DrawFn) -> pd.DataFrame:
    rows = []
    for i in range(draw(st.integers(0, 12))):
        start = D(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 150)))
        length = draw(st.one_of(st.none(), st.integers(0, 120)))
        end = None if length is None else start + dt.timedelta(days=length)
        rows.append((f"s{i}", f"o{draw(st.integers(0, 4))}", draw(st.integers(0, 50_000)) / 100,
                     start, end, draw(st.sampled_from(["active", "trialing", "past_due", "canceled"]))))
    return subs_frame(rows)


@settings(max_examples=80, deadline=None)
@given(histories(), st.sampled_from(["month", "week"]))
def test_movements_add_up_and_chain(subs: pd.DataFrame, by: str) -> None:
    start, end = D(2026, 1, 10), D(2026, 6, 20)
    m = mrr_movements(subs, start, end, by)  # type: ignore[arg-type]
    cents = (m[list(MOVEMENT_COLUMNS[3:])] * 100).round().astype(int)
    net = cents["new"] + cents["expansion"] + cents["reactivated"] - cents["contraction"] - cents["churned"]
    assert (net == cents["net_new"]).all()
    assert (cents["starting_mrr"] + cents["net_new"] == cents["ending_mrr"]).all()
    assert (cents["starting_mrr"].iloc[1:].to_numpy() == cents["ending_mrr"].iloc[:-1].to_numpy()).all()
    assert m["ending_mrr"].iloc[-1] == total_mrr(subs, end)
    assert m["starting_mrr"].iloc[0] == total_mrr(subs, start - dt.timedelta(days=1))


# --- service and CLI, on SQLite and PostgreSQL -------------------------------------------

from click.testing import CliRunner  # noqa: E402

from revenue_helpers import AS_OF, seed  # noqa: E402
from cli import cli  # noqa: E402
from domain.config import Config  # noqa: E402
from services.revenue import UnknownApplication, load_subscriptions, revenue_report  # noqa: E402


def test_revenue_report_from_the_database(session_factory) -> None:
    with session_factory() as session:
        seed(session)
        subs = load_subscriptions(session, "default")
        assert sorted(subs["subscription_id"]) == ["a1", "a2", "b1", "b2", "c1", "d1", "e1", "f1"]
        report = revenue_report(session, "default", AS_OF, by="month", periods=3, top=2, retention_months=1)
    assert (report.mrr, report.arr) == (520.0, 6240.0)
    m = report.movements.set_index("period")
    assert m.index.tolist() == ["2026-01", "2026-02", "2026-03"]
    assert m.loc["2026-01", ["new", "ending_mrr"]].tolist() == [450.0, 450.0]
    assert m.loc["2026-02", ["new", "ending_mrr"]].tolist() == [80.0, 530.0]
    assert m.loc["2026-03", ["new", "expansion", "contraction", "churned", "net_new", "ending_mrr"]].tolist() == [
        40.0, 50.0, 100.0, 0.0, -10.0, 520.0]
    assert report.top[["name", "mrr"]].values.tolist() == [["Beta", 200.0], ["Acme", 150.0]]
    r = report.retention
    assert (r.start, r.starting_mrr, r.ending_mrr) == (dt.date(2026, 2, 28), 530.0, 480.0)
    assert (r.nrr, r.grr) == (480 / 530, 430 / 530)


def test_revenue_report_unknown_application(session_factory) -> None:
    with session_factory() as session:
        with pytest.raises(UnknownApplication, match="'nope'"):
            revenue_report(session, "nope", AS_OF)


def test_revenue_command(session_factory) -> None:
    with session_factory() as session:
        seed(session)
    obj = {"session_factory": session_factory, "config": Config()}
    result = CliRunner().invoke(cli, ["revenue", "--as-of", "2026-03-31", "--periods", "2", "--top", "2"], obj=obj)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Revenue as of 2026-03-31"
    assert lines[1] == "MRR $520   ARR $6,240"
    assert lines[2] == "NRR / GRR: n/a (nobody was paying on 2025-03-31)"
    assert lines[5].split() == ["period", "starting", "new", "expansion", "contraction", "churned", "reactivated",
                                "net", "new", "ending"]
    assert lines[6].split() == ["2026-02", "$450", "$80", "$0", "$0", "$0", "$0", "+$80", "$530"]
    assert lines[7].split() == ["2026-03", "$530", "$40", "$50", "-$100", "$0", "$0", "-$10", "$520"]
    assert lines[-2].split() == ["1.", "Beta", "B", "$200", "$2,400", "38%"]
    assert lines[-1].split() == ["2.", "Acme", "A", "$150", "$1,800", "29%"]


def test_revenue_command_bad_input_is_a_clear_error(session_factory) -> None:
    obj = {"session_factory": session_factory, "config": Config()}
    bad_date = CliRunner().invoke(cli, ["revenue", "--as-of", "31/03/2026"], obj=obj)
    assert bad_date.exit_code == 2 and "31/03/2026" in bad_date.output
    no_app = CliRunner().invoke(cli, ["revenue", "--application", "nope"], obj=obj)
    assert no_app.exit_code == 1 and "no application named 'nope'" in no_app.output
