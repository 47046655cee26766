"""Suggested case types: each rule, and which one wins when several hold."""

from __future__ import annotations

import math

import pandas as pd

from domain.config import SignalsConfig
from scoring.cases import suggest_case

SEEN = pd.Timestamp("2026-05-30", tz="UTC")
NEVER = pd.NaT


def org(source: str | None = "signup", last_seen: object = SEEN, cell: str | None = None,
        usage_change: float = math.nan, band: str | None = None, **signals: bool) -> dict[str, object]:
    if band is None:  # the band an org of that cell usually has
        band = {"revenue_at_risk": "red", "watch": "red", "expansion": "green", "champions": "green"}.get(cell or "")
    row: dict[str, object] = {"source": source, "last_seen": last_seen, "cell": cell, "usage_change": usage_change,
                              "band": band,
                              "revenue_at_risk": False, "usage_drop": False, "inactive_paying": False,
                              "expansion_candidate": False}
    row.update(signals)
    return row


def suggest(rows: dict[str, dict[str, object]], **kw: object) -> pd.DataFrame:
    return suggest_case(pd.DataFrame.from_dict(rows, orient="index").rename_axis("org_id"), **kw)  # type: ignore[arg-type]


def test_each_rule_alone() -> None:
    out = suggest(
        {
            "onboard": org(source="import", last_seen=NEVER),
            "urgent": org(cell="revenue_at_risk"),
            "drop": org(cell="watch", usage_drop=True),
            "growth": org(cell="expansion"),
            "strategic": org(cell="champions", usage_change=0.35),
            "candidate": org(cell="watch", expansion_candidate=True),
            "nothing": org(cell="champions", usage_change=0.05),
            "free": org(),
        }
    )
    assert out["case"].to_dict() == {
        "onboard": "onboarding", "urgent": "risk", "drop": "risk", "growth": "expansion",
        "strategic": "expansion", "candidate": "expansion", "nothing": None, "free": None,
    }
    assert out["why"].to_dict() == {
        "onboard": "imported, never used the product: onboarding",
        "urgent": "high MRR, red health: urgent retention",
        "drop": "open Usage drop: retention",
        "growth": "low MRR, green health: growth",
        "strategic": "high MRR, growing usage (+35%): strategic expansion",
        "candidate": "open Expansion candidate: expansion",
        "nothing": None,
        "free": None,
    }


def test_precedence_when_several_rules_hold() -> None:
    out = suggest(
        {
            # Imported and never seen beats high-MRR-low-health and an Inactive paying signal.
            "import_wins": org(source="import", last_seen=NEVER, cell="revenue_at_risk", inactive_paying=True),
            # An imported org that has been seen is judged like any other.
            "import_seen": org(source="import", last_seen=SEEN, cell="revenue_at_risk"),
            # A signed-up org never seen is not active yet either: onboarding, like an import.
            "signup_never": org(source="signup", last_seen=NEVER, inactive_paying=True),
            # The revenue-at-risk cell's why beats the signal list.
            "cell_over_signal": org(cell="revenue_at_risk", usage_drop=True),
            # Risk signals beat the Expansion cell and an Expansion candidate.
            "risk_over_growth": org(cell="expansion", expansion_candidate=True, usage_drop=True, inactive_paying=True),
            # Low MRR + high health beats an Expansion candidate's own wording.
            "cell_over_candidate": org(cell="expansion", expansion_candidate=True),
            # Growing usage beats the candidate wording for a champion.
            "growing_over_candidate": org(cell="champions", usage_change=0.2, expansion_candidate=True),
        }
    )
    assert out.to_dict("index") == {
        "import_wins": {"case": "onboarding", "why": "imported, never used the product: onboarding"},
        "import_seen": {"case": "risk", "why": "high MRR, red health: urgent retention"},
        "signup_never": {"case": "onboarding", "why": "not active yet, never used the product: onboarding"},
        "cell_over_signal": {"case": "risk", "why": "high MRR, red health: urgent retention"},
        "risk_over_growth": {"case": "risk", "why": "open Usage drop, Inactive paying: retention"},
        "cell_over_candidate": {"case": "expansion", "why": "low MRR, green health: growth"},
        "growing_over_candidate": {"case": "expansion", "why": "high MRR, growing usage (+20%): strategic expansion"},
    }


def test_cell_reasons_name_the_band_shown_beside_them() -> None:
    # A yellow org below the split is not "low health, urgent": the why says what the list shows.
    out = suggest(
        {
            "red": org(cell="revenue_at_risk", band="red"),
            "yellow_low": org(cell="revenue_at_risk", band="yellow"),
            "yellow_high": org(cell="expansion", band="yellow"),
            "green": org(cell="expansion", band="green"),
            "no_band": org(cell="revenue_at_risk", band=""),
        },
        health_split=60.0,
    )
    assert out["why"].to_dict() == {
        "red": "high MRR, red health: urgent retention",
        "yellow_low": "high MRR, yellow health (below 60): retention",
        "yellow_high": "low MRR, yellow health (60 or more): growth",
        "green": "low MRR, green health: growth",
        "no_band": "high MRR, health below 60: retention",
    }


def test_growing_uses_the_configured_threshold() -> None:
    rows = {"c": org(cell="champions", usage_change=0.15)}
    assert suggest(rows)["case"].tolist() == [None]
    assert suggest(rows, signals=SignalsConfig(expansion_growth_from=0.15))["case"].tolist() == ["expansion"]


def test_missing_columns_mean_no_data() -> None:
    frame = pd.DataFrame({"cell": ["expansion", None]}, index=pd.Index(["a", "b"], name="org_id"))
    assert suggest_case(frame)["case"].tolist() == ["expansion", None]


# --- service, on SQLite and PostgreSQL ----------------------------------------------------

from revenue_helpers import AS_OF, seed  # noqa: E402
from domain.config import Config  # noqa: E402
from services.revenue import case_suggestions, load_org_frame  # noqa: E402


def test_org_frame_reads_snapshots_usage_and_open_signals(session_factory) -> None:
    with session_factory() as session:
        seed(session)
        orgs = load_org_frame(session, "default", AS_OF)
    assert sorted(orgs.index) == ["A", "B", "C", "D", "E", "F"]
    assert orgs["mrr"].to_dict() == {"A": 150.0, "B": 200.0, "C": 50.0, "D": 80.0, "E": 40.0, "F": 0.0}
    assert orgs.loc["A", ["health", "activity_score", "usage_change"]].tolist() == [30.0, 20.0, -0.5]
    assert math.isnan(orgs.loc["E", "health"])
    # Last seen is what the latest snapshot on or before as_of recorded (A's of 2026-03-30,
    # not the later one); D's scan saw nothing (its only usage is after as_of) and F never
    # used the product.
    assert orgs.loc["A", "last_seen"] == pd.Timestamp("2026-03-29 17:05", tz="UTC")
    assert orgs.loc["B", "last_seen"] == pd.Timestamp("2026-03-31 08:00", tz="UTC")
    assert pd.isna(orgs.loc["D", "last_seen"]) and pd.isna(orgs.loc["F", "last_seen"])
    # E was never scanned: the usage rollups say, and a day without a recorded time counts.
    assert orgs.loc["E", "last_seen"] == pd.Timestamp("2026-03-30", tz="UTC")
    # Resolved signals don't count; dismissed ones are still open.
    assert orgs["revenue_at_risk"].sum() == 0
    assert orgs["expansion_candidate"].to_dict() == {"A": False, "B": False, "C": True, "D": False, "E": False,
                                                     "F": False}
    assert orgs.index[orgs["inactive_paying"]].tolist() == ["D"]


def test_case_suggestions_from_the_database(session_factory) -> None:
    with session_factory() as session:
        seed(session)
        cases = case_suggestions(session, "default", AS_OF, Config())
    assert cases.to_dict("index") == {
        "A": {"case": "risk", "why": "high MRR, red health: urgent retention"},
        "B": {"case": "expansion", "why": "high MRR, growing usage (+30%): strategic expansion"},
        # C's health is 64, yellow: "high health" would contradict the band shown beside it.
        "C": {"case": "expansion", "why": "low MRR, yellow health (60 or more): growth"},
        "D": {"case": "onboarding", "why": "imported, never used the product: onboarding"},
        "E": {"case": None, "why": None},
        "F": {"case": None, "why": None},
    }
