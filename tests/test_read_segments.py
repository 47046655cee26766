"""Case suggestions, Revenue × Health cells and tiers where people see them: /signals lists,
their case / cell / tier filters, the org detail and one cell's org list (SQLite and PostgreSQL).

The dataset, as of 2026-06-30 (subscriptions from Jan 1; snapshot of Jun 29):

| org   | MRR  | health | activity | trend | seats | open signal (priority)                          |
|-------|------|--------|----------|-------|-------|-------------------------------------------------|
| big   | 1000 | 30     | 20       | −0.5  | 0.45  | Revenue at risk (90)                            |
| new   | 200  | 10     | 0        |       |       | Inactive paying (80), stored suggestion "risk"  |
| star  | 800  | 85     | 90       | +0.5  |       | Expansion candidate (70)                        |
| watch | 150  | 40     | 50       | −0.6  |       | Usage drop (60)                                 |
| small | 100  | 80     |          |       |       | Expansion candidate (50)                        |
| free  | 0    | 90     | 90       |       |       | none                                            |

Other inputs:

| org   | other inputs                                                              |
|-------|---------------------------------------------------------------------------|
| big   | created 2024-06-30, strategic 80, fit 40, relationship 30, renewal Aug 14 |
| new   | imported, never seen, strategic 20, fit 50                                |
| star  | created 2025-06-30, strategic 70, fit 80, relationship 90, renewal Jul 9  |
| watch | created 2026-04-18, fit 20, relationship 20                               |

Median MRR of the five paying orgs (100, 150, 200, 800, 1000) is 200, so big and new are
MRR high (new sits on the median), and health splits at 60.
"""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from services import actions
from services import org_details, segmentation, signal_list
from cli import cli
from domain.config import Config, config_from_dict
from domain.vocabulary import EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK, USAGE_DROP
from services.read_models import CellView
from storage.db import get_or_create_application
from storage.models import HealthSnapshot, Org, Signal, Subscription
from usage_rows import add_usage_day

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
SNAP_DAY = dt.date(2026, 6, 29)
D = dt.date

ORGS = {
    # org_id: (name, source, mrr, health, activity, trend, seats, created_at, strategic, fit, relationship, renewal)
    "big": ("BigCo", "signup", 1000, 30.0, 20.0, -0.5, 0.45, dt.datetime(2024, 6, 30, tzinfo=UTC), 80.0, 40.0, 30.0,
            D(2026, 8, 14)),
    "new": ("NewCo", "import", 200, 10.0, 0.0, None, None, None, 20.0, 50.0, None, None),
    "star": ("StarCo", "signup", 800, 85.0, 90.0, 0.5, None, dt.datetime(2025, 6, 30, tzinfo=UTC), 70.0, 80.0, 90.0,
             D(2026, 7, 9)),
    "watch": ("WatchCo", "signup", 150, 40.0, 50.0, -0.6, None, dt.datetime(2026, 4, 18, tzinfo=UTC), None, 20.0,
              20.0, None),
    "small": ("SmallCo", "signup", 100, 80.0, None, None, None, None, None, None, None, None),
    "free": ("FreeCo", "signup", 0, 90.0, 90.0, None, None, None, None, None, None, None),
}
SIGNALS = {  # org_id: (type, priority, suggested case stored on the signal by the scan)
    "big": (REVENUE_AT_RISK, 90.0, "risk"),
    "new": (INACTIVE_PAYING, 80.0, "risk"),
    "star": (EXPANSION_CANDIDATE, 70.0, "expansion"),
    "watch": (USAGE_DROP, 60.0, "risk"),
    "small": (EXPANSION_CANDIDATE, 50.0, "expansion"),
}
RANKED = ["big", "new", "star", "watch", "small"]


def _band(score: float) -> str:
    return "red" if score < 40 else "green" if score >= 70 else "yellow"


def _seed(session: Session) -> int:
    app = get_or_create_application(session)
    for org_id, (name, source, _mrr, _health, _activity, _trend, _seats, created, strategic, fit, rel, renewal) \
            in ORGS.items():
        session.add(Org(org_id=org_id, application_id=app.id, name=name, source=source, created_at=created,
                        strategic=strategic, icp_fit=fit, relationship_score=rel, renewal_date=renewal,
                        owner="ana@example.com" if org_id in ("big", "star") else None))
    session.flush()
    for org_id, (_name, _source, mrr, health, activity, trend, seats, *_rest) in ORGS.items():
        if mrr:
            session.add(Subscription(subscription_id=f"{org_id}-1", org_id=org_id, mrr=mrr,
                                     started_at=D(2026, 1, 1)))
        components = {
            "activity": {"value": None, "score": activity, "weight": 30.0, "contribution": None},
            "trend": {"value": trend, "score": None, "weight": 15.0, "contribution": None},
            "seat_utilization": {"value": seats, "score": None, "weight": 20.0, "contribution": None},
        }
        # The scan recorded when each org was last seen; new was imported and never used the product.
        seen = None if org_id == "new" else dt.datetime(2026, 6, 28, 10, 0, tzinfo=UTC)
        session.add(HealthSnapshot(org_id=org_id, day=SNAP_DAY, score=health, band=_band(health),
                                   components=components, left_out=[], mrr=mrr, last_seen=seen, usage={}))
        if org_id != "new":  # new was imported and never used the product
            add_usage_day(session, org_id, D(2026, 6, 28), events=4, active_users=1, distinct_features=1,
                          last_event_at=dt.datetime(2026, 6, 28, 10, 0, tzinfo=UTC))
    at = NOW - dt.timedelta(days=1)
    for org_id, (type_, priority, case) in SIGNALS.items():
        session.add(Signal(application_id=app.id, org_id=org_id, type=type_, status="active", priority=priority,
                           evidence={}, reason=f"{type_} reason", suggested_case=case, opened_at=at,
                           updated_at=at))
    session.commit()
    return app.id


def _ids(session: Session, app_id: int, **flt) -> list[str]:
    result = signal_list.list_signals(session, app_id, NOW, signal_list.SignalFilter(top=25, **flt), Config())
    return [i.org_id for i in result.items]


def test_untagged_orgs_get_the_suggestion_with_its_why(session: Session) -> None:
    app_id = _seed(session)
    result = signal_list.list_signals(session, app_id, NOW, signal_list.SignalFilter(top=25), Config())
    assert [i.org_id for i in result.items] == RANKED and result.total == 5
    assert {i.org_id: (i.case_type, i.case_suggested) for i in result.items} == {
        "big": (None, "risk"),  # Revenue at risk cell
        "new": (None, "onboarding"),  # imported, never seen: beats the signal's stored "risk"
        "star": (None, "expansion"),  # high MRR, usage +50 %
        "watch": (None, "risk"),  # open Usage drop
        "small": (None, "expansion"),  # Expansion cell
    }
    whys = {org_id: org_details.org_detail(session, app_id, org_id, NOW, Config()).extras["case_why"]
            for org_id in ORGS}
    assert whys == {
        "big": "high MRR, red health: urgent retention",
        "new": "imported, never used the product: onboarding",
        "star": "high MRR, growing usage (+50%): strategic expansion",
        "watch": "open Usage drop: retention",
        "small": "low MRR, green health: growth",
        "free": None,
    }
    assert org_details.org_detail(session, app_id, "free", NOW, Config()).item.case_suggested is None


def test_a_tag_overrides_the_suggestion_and_the_case_filter_follows_it(session: Session) -> None:
    app_id = _seed(session)
    assert _ids(session, app_id, case_types=frozenset(["onboarding"])) == ["new"]
    assert _ids(session, app_id, case_types=frozenset(["risk"])) == ["big", "watch"]
    assert _ids(session, app_id, case_types=frozenset(["expansion"])) == ["star", "small"]

    assert actions.tag_case(session, "new", "risk", "U1", NOW).changed
    assert actions.tag_case(session, "star", "onboarding", "U2", NOW).changed
    session.commit()
    assert _ids(session, app_id, case_types=frozenset(["onboarding"])) == ["star"]
    assert _ids(session, app_id, case_types=frozenset(["risk"])) == ["big", "new", "watch"]
    assert _ids(session, app_id, case_types=frozenset(["expansion"])) == ["small"]
    new = org_details.org_detail(session, app_id, "new", NOW, Config())
    # The tag is what counts; the suggestion and its why stay visible beside it.
    assert (new.item.case_type, new.item.case_by, new.item.case_suggested) == ("risk", "U1", "onboarding")
    assert new.extras["case_why"] == "imported, never used the product: onboarding"


def test_cell_and_tier_filters_restrict_the_list_exactly(session: Session) -> None:
    app_id = _seed(session)
    assert _ids(session, app_id, cell="revenue_at_risk") == ["big", "new"]
    assert _ids(session, app_id, cell="champions") == ["star"]
    assert _ids(session, app_id, cell="watch") == ["watch"]
    assert _ids(session, app_id, cell="expansion") == ["small"]
    assert _ids(session, app_id, tier="Tier 1") == ["star"]
    assert _ids(session, app_id, tier="Tier 2") == ["big"]
    assert _ids(session, app_id, tier="Tier 3") == ["new", "small"]
    assert _ids(session, app_id, tier="Tier 4") == ["watch"]
    assert _ids(session, app_id, cell="revenue_at_risk", tier="Tier 2") == ["big"]
    assert _ids(session, app_id, cell="champions", tier="Tier 2") == []
    assert _ids(session, app_id, tier="Tier 3", case_types=frozenset(["expansion"])) == ["small"]
    assert _ids(session, app_id, cell="revenue_at_risk", owners=frozenset(["ana@example.com"])) == ["big"]
    one = signal_list.list_signals(session, app_id, NOW,
                                    signal_list.SignalFilter(top=1, cell="revenue_at_risk"), Config())
    assert [i.org_id for i in one.items] == ["big"] and one.total == 2
    # The cards describe the whole application, whatever the filter.
    assert one.cards.orgs_with_signals == 5 and one.cards.active_signals == 5


def test_unknown_cell_or_tier_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown cell 'stars': use one of revenue_at_risk, champions, watch"):
        signal_list.SignalFilter(cell="stars")
    with pytest.raises(ValueError, match="unknown tier 'tier2': use one of Tier 1, Tier 2"):
        signal_list.SignalFilter(tier="tier2")


def test_org_detail_carries_cell_tier_quadrant_and_the_numbers_behind_them(session: Session) -> None:
    app_id = _seed(session)
    got = {}
    for org_id in ORGS:
        d = org_details.org_detail(session, app_id, org_id, NOW, Config())
        got[org_id] = (d.cell, d.tier, d.quadrant, d.extras["value"], d.extras["potential"],
                       d.extras["account_priority"], d.extras["cell_key"])
    # Revenue score = percentile of MRR among the 5 payers: 100→20, 150→40, 200→60, 800→80, 1000→100.
    assert got == {
        # value 0.40×100 + 0.15×100 (730 days) + 0.20×20 + 0.25×80 = 79;
        # potential 0.35×50 (seats 0.45/0.90) + 0.25×40 + 0.20×30 + 0.20×50 (45 days to renewal) = 43.5
        "big": ("Retention", "Tier 2", "Cash cows", 79.0, 43.5, 61.25, "revenue_at_risk"),
        # An input with no data counts 50 (fewer than ten orgs know any input to take a median).
        # value 0.40×60 + 0.15×50 (no tenure) + 0.20×0 + 0.25×20 = 36.5;
        # potential: fit 50, and 50 for expansion, relationship and renewal = 50; (36.5 + 50) / 2
        "new": ("Retention", "Tier 3", "Growth bets", 36.5, 50.0, 43.25, "revenue_at_risk"),
        # value 0.40×80 + 0.15×50 (365 days) + 0.20×90 + 0.25×70 = 75;
        # potential 0.35×100 (open candidate) + 0.25×80 + 0.20×90 + 0.20×90 (9 days) = 91
        "star": ("Champions", "Tier 1", "Stars", 75.0, 91.0, 83.0, "champions"),
        # value 0.40×40 + 0.15×10 (73 days) + 0.20×50 + 0.25×50 (no strategic) = 40;
        # potential 0.35×0 (usage −60 %) + 0.25×20 + 0.20×20 + 0.20×50 (no renewal) = 19; 20 + 9.5
        "watch": ("Watch", "Tier 4", "Maintenance", 40.0, 19.0, 29.5, "watch"),
        # value 0.40×20 + 0.15×50 + 0.20×80 (health, no activity) + 0.25×50 = 44; potential
        # 0.35×100 (open candidate) + 0.65×50 = 67.5. It was 40 / 100 / Tier 2 when the open
        # candidate alone stood for the whole potential.
        "small": ("Expansion", "Tier 3", "Growth bets", 44.0, 67.5, 55.75, "expansion"),
        # not paying: no cell; value 0.15×50 + 0.20×90 + 0.25×50 = 38; no potential input known:
        # shown missing, counted 50 in the priority (38 + 50) / 2 = 44
        "free": (None, "Tier 3", None, 38.0, None, 44.0, None),
    }


def test_cell_orgs_lists_one_cell_by_mrr(session: Session) -> None:
    app_id = _seed(session)
    view, rows = segmentation.cell_orgs(session, app_id, "revenue_at_risk", NOW, Config())
    assert view == CellView("revenue_at_risk", "Retention", 2, 1200.0)
    assert rows == [("big", "BigCo", 1000.0, 30.0, "red"), ("new", "NewCo", 200.0, 10.0, "red")]
    view, rows = segmentation.cell_orgs(session, "default", "watch", NOW, Config())  # by application name
    assert view == CellView("watch", "Watch", 1, 150.0) and rows == [("watch", "WatchCo", 150.0, 40.0, "yellow")]
    # A configured split moves orgs between cells: 150 is high at a 150 split.
    cfg = config_from_dict({"segments": {"mrr_split_amount": 150}})
    view, rows = segmentation.cell_orgs(session, app_id, "revenue_at_risk", NOW, cfg)
    assert [r[0] for r in rows] == ["big", "new", "watch"] and view.mrr == 1350.0
    with pytest.raises(ValueError, match="unknown cell 'stars'"):
        segmentation.cell_orgs(session, app_id, "stars", NOW, Config())


def test_signals_command_filters_by_cell_and_tier(session_factory) -> None:
    with session_factory() as session:
        _seed(session)
    obj = {"session_factory": session_factory, "config": Config()}

    def org_lines(*args: str) -> list[str]:
        out = CliRunner().invoke(cli, ["signals", "--as-of", "2026-06-30", *args], obj=obj)
        assert out.exit_code == 0, out.output
        return [line.split()[2] for line in out.output.splitlines() if line[:3].strip().isdigit()]

    assert org_lines() == ["BigCo", "NewCo", "StarCo", "WatchCo", "SmallCo"]
    assert org_lines("--cell", "revenue_at_risk") == ["BigCo", "NewCo"]
    assert org_lines("--tier", "2") == ["BigCo"]
    assert org_lines("--tier", "3") == ["NewCo", "SmallCo"]
    assert org_lines("--cell", "revenue_at_risk", "--tier", "3") == ["NewCo"]
    assert org_lines("--case", "onboarding") == ["NewCo"]
    bad = CliRunner().invoke(cli, ["signals", "--tier", "5"], obj=obj)
    assert bad.exit_code == 2 and "5 is not in the range 1<=x<=4" in bad.output
    bad = CliRunner().invoke(cli, ["signals", "--cell", "stars"], obj=obj)
    assert bad.exit_code == 2 and "stars" in bad.output
