"""The ranking rules a CS lead checks first, each on hand-made orgs whose right answer can be
worked out from the numbers: who comes first, and why (see docs/ranking.md)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scoring_helpers import AS_OF, DAY, make_ctx, make_orgs, weeks

from domain.config import Config, PriorityConfig
from domain.vocabulary import (
    EXPANSION_CANDIDATE,
    INACTIVE_PAYING,
    REVENUE_AT_RISK,
    SIGNAL_LABELS,
    USAGE_DROP,
)
from scoring.health import health_band, score_health
from scoring.signals import evaluate_signals
from services.org_details import why_this_rank
from services.read_models import OrgItem, SignalView
from services.reasons import champion_text, with_reasons

CFG = Config()

# A customer base like the demo's: the median paying org pays $100, the 90th percentile
# about $1,000, a few pay $5k-$40k. Healthy, steady orgs: they raise nothing themselves.
BASE_MRR = [40.0] * 20 + [100.0] * 25 + [300.0] * 15 + [1000.0] * 6 + [5000.0, 12000.0, 40000.0]


def base() -> dict[str, dict[str, Any]]:
    return {f"base{i:02d}": {"mrr": m} for i, m in enumerate(BASE_MRR)}


def scan(orgs: dict[str, dict[str, Any]], health: dict[str, dict[str, Any]] | None = None,
         cfg: Config = CFG, ctx_kw: dict[str, Any] | None = None) -> pd.DataFrame:
    """Score the orgs as a scan does; ``health`` overrides chosen health numbers of some orgs."""
    frame = make_orgs(orgs)
    ctx = make_ctx(**(ctx_kw or {}))
    h = score_health(frame, ctx, cfg)
    for org, values in (health or {}).items():
        for column, value in values.items():
            h.loc[org, column] = value
    h["band"] = health_band(h["health"], cfg)
    return with_reasons(evaluate_signals(frame, h, ctx, cfg), cfg)


def priorities(signals: pd.DataFrame) -> pd.Series:
    return signals.groupby("org_id")["priority"].max()


def types_of(signals: pd.DataFrame, org: str) -> set[str]:
    return set(signals.loc[signals["org_id"] == org, "type"])


def row(signals: pd.DataFrame, org: str, signal_type: str) -> dict[str, Any]:
    match = signals[(signals["org_id"] == org) & (signals["type"] == signal_type)]
    assert len(match) == 1, f"expected one {signal_type} signal for {org}, got {len(match)}"
    return match.iloc[0].to_dict()


# --- 1. Revenue on the customer base's own scale -----------------------------------------


def test_revenue_is_weighed_on_the_customer_base_own_scale() -> None:
    # The objection, as seen on real output: a $36 org silent for 60 days ranked above a $791
    # org at health 24 and a $1,787 expansion candidate, because half the revenue points sat
    # at $5,000 while the median paying org pays $100.
    orgs = base() | {
        "tiny_silent": {"mrr": 36.0, "last_seen": AS_OF - 60 * DAY, "recent_events": 0, "previous_events": 0,
                        "activity_active_days": 0},
        "mid_unhealthy": {"mrr": 791.0},
        "grower": {"mrr": 1787.0, "seats": 20.0, "recent_active_users": 19, "recent_events": 145,
                   "previous_events": 100},
    }
    s = scan(orgs, {"mid_unhealthy": {"health": 24.0}, "grower": {"health": 85.0}})
    assert types_of(s, "tiny_silent") >= {INACTIVE_PAYING}
    assert types_of(s, "mid_unhealthy") == {REVENUE_AT_RISK}
    assert types_of(s, "grower") == {EXPANSION_CANDIDATE}
    p = priorities(s)
    assert p["mid_unhealthy"] > p["tiny_silent"]
    assert p["grower"] > p["tiny_silent"]
    # The reference is the base's own 90th percentile of paying MRR, the same for every row.
    paying = np.array(BASE_MRR + [36.0, 791.0, 1787.0])
    assert s["revenue_reference"].unique().tolist() == [pytest.approx(np.percentile(paying, 90))]


def test_a_configured_amount_overrides_the_percentile() -> None:
    cfg = Config(priority=PriorityConfig(revenue_half_mrr=5000.0))
    s = scan(base() | {"a": {"mrr": 791.0}}, {"a": {"health": 24.0}}, cfg)
    assert s["revenue_reference"].unique().tolist() == [5000.0]


def test_why_this_rank_shows_the_reference_it_was_ranked_with() -> None:
    view = SignalView(id=1, type=REVENUE_AT_RISK, label=SIGNAL_LABELS[REVENUE_AT_RISK], priority=87.8,
                      reason="", evidence={"severity": 0.5, "mrr": 24000.0, "revenue_reference": 1072.0},
                      status="active", opened_at=AS_OF)
    item = OrgItem(org_id="initech", name="Initech", owner=None, mrr=24000.0, health=20.0, band="red",
                   health_delta=None, last_seen=None, priority=87.8, signals=(view,), reason="")
    assert why_this_rank(item, CFG) == (
        "Priority 87.8 = 1.00 (Revenue at risk) × (20 base + 24.7 for severity 0.50 + 43.1 for $24,000 MRR "
        "against $1,072, the 90th percentile of paying orgs' MRR)")
    fixed = Config(priority=PriorityConfig(revenue_half_mrr=5000.0))
    assert why_this_rank(item, fixed).endswith("against $1,072, the configured revenue reference)")


# --- 3. Onboarding is not risk --------------------------------------------------------------

NEVER = {"last_seen": pd.NaT, "recent_events": 0, "previous_events": 0, "recent_active_users": 0,
         "previous_active_users": 0, "recent_active_days": 0, "previous_active_days": 0, "recent_features": 0,
         "previous_features": 0, "recent_key_features": 0, "activity_active_days": 0}


def test_a_never_activated_org_is_onboarding_not_a_health_failure() -> None:
    # Imported from billing 45 days ago, paying $3,000, nobody ever logged in.
    orgs = base() | {"hooli": NEVER | {"mrr": 3000.0, "source": "import", "created_at": AS_OF - 45 * DAY}}
    frame = make_orgs(orgs)
    health = score_health(frame, make_ctx(), CFG)
    # No score made of the lone support component (it was 12.5): not active yet.
    assert pd.isna(health.loc["hooli", "health"]) and pd.isna(health.loc["hooli", "band"])
    assert health.loc["hooli", [f"{c}_score" for c in ("activity", "support", "breadth")]].isna().all()
    s = scan(orgs)
    assert types_of(s, "hooli") == {INACTIVE_PAYING}  # and no Revenue at risk
    r = row(s, "hooli", INACTIVE_PAYING)
    assert r["suggested_case"] == "onboarding"
    assert r["reason"] == "Not active yet: nobody has used the product since it was created 45 days ago, $3,000 MRR"


def test_not_active_yet_is_reported_as_onboarding_mrr_everywhere(session_factory) -> None:
    from services import revenue, signal_list
    from services.scanning import run_scan
    from storage.db import get_or_create_application
    from storage.models import Org, Subscription
    from usage_rows import add_usage_day

    seen = AS_OF - 20 * DAY
    with session_factory() as s, s.begin():
        app = get_or_create_application(s)
        for org_id, source in (("hooli", "import"), ("umbrella", "signup")):
            s.add(Org(org_id=org_id, application_id=app.id, name=org_id.title(), source=source,
                      created_at=AS_OF - 45 * DAY))
        s.flush()
        s.add(Subscription(subscription_id="h1", org_id="hooli", mrr=3000, started_at=(AS_OF - 45 * DAY).date()))
        s.add(Subscription(subscription_id="u1", org_id="umbrella", mrr=6000, started_at=(AS_OF - 45 * DAY).date()))
        add_usage_day(s, "umbrella", seen.date(), events=30, active_users=3, distinct_features=2, last_event_at=seen)
    run_scan(session_factory, CFG, AS_OF)
    with session_factory() as s:
        listing = signal_list.list_signals(s, app.id, AS_OF, signal_list.SignalFilter(top=10), CFG)
        report = revenue.segments_report(s, "default", AS_OF.date(), CFG)
    # At risk means an active risk signal; umbrella went quiet after being used. Hooli is onboarding.
    assert listing.cards.mrr_at_risk == 6000.0
    assert listing.cards.onboarding_mrr == 3000.0
    items = {i.org_id: i for i in listing.items}
    assert items["hooli"].not_active and items["hooli"].health is None
    assert [sig.type for sig in items["hooli"].signals] == [INACTIVE_PAYING]
    assert items["hooli"].case_suggested == "onboarding"
    assert not items["umbrella"].not_active
    # In no Revenue × Health cell (no health to place it by), and counted as not active, not "unscanned".
    assert (report.not_active, report.not_active_mrr, report.unscored) == (1, 3000.0, 0)
    assert report.cells.loc["hooli", "cell"] is None


# --- 4. No contradictions --------------------------------------------------------------------


def test_risk_and_expansion_are_never_open_on_one_org_risk_wins() -> None:
    # Healthy, growing, seats full — and usage fell 45 % in the last fortnight by another
    # measure: both conditions hold; the risk is worked first.
    orgs = base() | {"both": {"mrr": 4000.0, "seats": 10.0, "recent_active_users": 10, "recent_events": 55},
                     "grower": {"mrr": 4000.0, "seats": 10.0, "recent_active_users": 10}}
    s = scan(orgs, {"both": {"health": 85.0, "usage_change": -0.45, "seat_utilization": 0.5},
                    "grower": {"health": 85.0, "seat_utilization": 1.0}})
    s2 = scan(orgs, {"both": {"health": 85.0, "usage_change": -0.45, "seat_utilization": 1.0},
                     "grower": {"health": 85.0, "seat_utilization": 1.0}})
    assert types_of(s, "grower") == types_of(s2, "grower") == {EXPANSION_CANDIDATE}
    assert types_of(s2, "both") == {USAGE_DROP}
    assert row(s2, "both", USAGE_DROP)["evidence"]["expansion_held_back"] is True
    assert "expansion_held_back" not in row(s, "both", USAGE_DROP)["evidence"]  # nothing was held back


def test_the_org_detail_says_expansion_was_held_back_and_why() -> None:
    from types import SimpleNamespace

    from services.org_details import expansion_held_back

    drop = SignalView(id=1, type=USAGE_DROP, label=SIGNAL_LABELS[USAGE_DROP], priority=70.0, reason="",
                      evidence={"expansion_held_back": True}, status="active", opened_at=AS_OF)
    item = OrgItem(org_id="both", name="Both", owner=None, mrr=4000.0, health=85.0, band="green",
                   health_delta=None, last_seen=AS_OF, priority=70.0, signals=(drop,), reason="")
    latest = SimpleNamespace(usage={"usage_change": -0.45, "seat_utilization": 1.0})
    assert expansion_held_back(item, latest, CFG) == (
        "Expansion candidate held back: the org meets its condition (health 85 (green), 100% of seats in use), "
        "but its open Usage drop comes first — risk before growth.")
    plain = OrgItem(**{**item.__dict__, "signals": (SignalView(**{**drop.__dict__, "evidence": {}}),)})
    assert expansion_held_back(plain, latest, CFG) is None


# --- 5. Minimum evidence for growth ----------------------------------------------------------


def test_growth_needs_a_minimum_volume_of_events_and_users() -> None:
    # One user going from 20 to 24 events is +20 %: noise, not a team outgrowing its plan.
    one_user = {"mrr": 500.0, "recent_events": 24, "previous_events": 20, "recent_active_users": 1,
                "previous_active_users": 1}
    few_events = {"mrr": 500.0, "recent_events": 35, "previous_events": 29, "recent_active_users": 4}
    enough = {"mrr": 500.0, "recent_events": 36, "previous_events": 30, "recent_active_users": 3}
    tiny_full = {"mrr": 500.0, "seats": 2.0, "recent_active_users": 2}  # "seats full" with two people
    s = scan(base() | {"one_user": one_user, "few_events": few_events, "enough": enough, "tiny_full": tiny_full},
             {o: {"health": 90.0} for o in ("one_user", "few_events", "enough", "tiny_full")})
    assert types_of(s, "one_user") == set()
    assert types_of(s, "few_events") == set()
    assert types_of(s, "tiny_full") == set()
    r = row(s, "enough", EXPANSION_CANDIDATE)
    assert (r["evidence"]["min_previous_events"], r["evidence"]["min_active_users"]) == (30, 3)
    assert r["reason"] == "Health 90 (green), events +20% vs the previous 14 days (36 vs 30), $500 MRR"


# --- 2. Sustained decline --------------------------------------------------------------------


def test_a_steady_fall_over_a_quarter_is_a_usage_drop_the_fortnights_miss() -> None:
    # $9,000 account, weekly events 100 → 40 in a straight line over 12 weeks: the last two
    # fortnights (45 + 40 vs 56 + 51 a week) differ by 20 %, far from the −40 % of a drop.
    falling = [round(100 - 60 * k / 11) for k in range(12)]  # 100, 95, 89, … 45, 40
    assert falling[0] == 100 and falling[-1] == 40
    steady = [50] * 12
    orgs = base() | {
        "falling": {"mrr": 9000.0, **weeks(*falling), "recent_events": falling[-1] + falling[-2],
                    "previous_events": falling[-3] + falling[-4]},
        "steady": {"mrr": 9000.0, **weeks(*steady)},
        "tiny": {"mrr": 9000.0, **weeks(*[10 - k * 6 // 11 for k in range(12)])},  # 10 → 4 a week: too few
        "spike": {"mrr": 9000.0, **weeks(900, *[50] * 11)},  # one batch import in week 1: no decline
        "churned": {"mrr": 0.0, **weeks(*falling), "recent_events": 85, "previous_events": 107},  # not paying
    }
    s = scan(orgs)
    assert types_of(s, "falling") == {USAGE_DROP}
    assert types_of(s, "steady") == types_of(s, "tiny") == types_of(s, "spike") == types_of(s, "churned") == set()
    r = row(s, "falling", USAGE_DROP)
    ev = r["evidence"]
    # Typical (median) week of the first 4 weeks (100, 95, 89, 84 → 92) against the last 4
    # (56, 51, 45, 40 → 48): −48 %; the weeks compared are named.
    assert (ev["decline_weeks"], ev["decline_first_weekly"], ev["decline_last_weekly"]) == (12, 92.0, 48.0)
    assert ev["decline_change"] == pytest.approx(-0.4783, abs=1e-4)
    assert (ev["decline_first_from"], ev["decline_first_to"]) == ("2024-02-08", "2024-03-06")
    assert (ev["decline_last_from"], ev["decline_last_to"]) == ("2024-04-04", "2024-05-01")
    assert r["reason"] == ("Usage down 48% over 12 weeks (typical week: 92 events in Feb 8 – Mar 6, "
                           "48 in Apr 4 – May 1), $9,000 MRR")
    # Severity as for a drop, on the change over the weeks: (−0.4 + 0.4783) / 0.6.
    assert r["severity"] == pytest.approx((0.4783 - 0.4) / 0.6, abs=1e-3)


def test_a_fortnight_drop_keeps_its_own_reason_and_takes_the_stronger_severity() -> None:
    # Hundreds a week, then a cliff in the last fortnight: both conditions hold.
    cliff = [300] * 10 + [20, 16]
    orgs = base() | {"cliff": {"mrr": 4500.0, **weeks(*cliff), "recent_events": 36, "previous_events": 600}}
    s = scan(orgs)
    r = row(s, "cliff", USAGE_DROP)
    assert r["reason"].startswith("Usage −94% vs the previous 14 days (36 vs 600 events)")
    assert r["evidence"]["decline_change"] == pytest.approx(-(300 - 160) / 300, abs=1e-4)
    assert r["severity"] == pytest.approx((0.94 - 0.4) / 0.6, abs=1e-3)


# --- 6. Renewal and payment ------------------------------------------------------------------


def test_low_or_falling_health_before_a_renewal_is_revenue_at_risk() -> None:
    renews = lambda days: {"renewal_date": AS_OF + days * DAY}  # noqa: E731
    orgs = base() | {
        "soon_yellow": {"mrr": 5000.0, **renews(30)},  # health 55: yellow, below 60, 30 days out
        "far_yellow": {"mrr": 5000.0, **renews(120)},  # same health, renewal beyond 90 days
        "soon_green": {"mrr": 5000.0, **renews(30)},  # health 75: nothing to worry about
        "soon_falling": {"mrr": 5000.0, **renews(60)},  # health 66, was 80 four weeks ago
        "soon_red": {"mrr": 5000.0, **renews(30)},  # already red: renewal strengthens it
        "red_far": {"mrr": 5000.0, **renews(300)},
    }
    health = {"soon_yellow": {"health": 55.0}, "far_yellow": {"health": 55.0}, "soon_green": {"health": 75.0},
              "soon_falling": {"health": 66.0}, "soon_red": {"health": 30.0}, "red_far": {"health": 30.0}}
    before = pd.Series({"soon_falling": 80.0, "soon_green": 78.0})
    s = scan(orgs, health, ctx_kw={"health_before": before})
    assert types_of(s, "soon_yellow") == types_of(s, "soon_falling") == {REVENUE_AT_RISK}
    assert types_of(s, "far_yellow") == types_of(s, "soon_green") == set()
    yellow = row(s, "soon_yellow", REVENUE_AT_RISK)
    assert yellow["evidence"] == {
        "health": 55.0, "band": "yellow", "threshold": 40.0, "mrr": 5000.0, "activity_active_days": 20,
        "usage_change": 0.0, "renewal_date": "2024-05-31", "days_to_renewal": 30, "renewal_window_days": 90,
        "renewal_health_below": 60.0}
    assert yellow["reason"] == "Renews in 30 days (May 31) with health 55 (yellow), below 60 — $5,000 MRR"
    # Severity: (closeness 1 − 30/90 + weakness (60 − 55)/60) / 2.
    assert yellow["severity"] == pytest.approx((2 / 3 + 5 / 60) / 2)
    falling = row(s, "soon_falling", REVENUE_AT_RISK)
    assert (falling["evidence"]["health_before"], falling["evidence"]["health_fall"]) == (80.0, 14.0)
    assert falling["reason"] == ("Renews in 60 days (Jun 30) with health 66 (yellow), down 14 points in 28 days "
                                 "— $5,000 MRR")
    # Already red: the renewal adds to the low-health severity, never takes away.
    red, red_far = row(s, "soon_red", REVENUE_AT_RISK), row(s, "red_far", REVENUE_AT_RISK)
    assert red["severity"] > red_far["severity"] == pytest.approx(0.25)
    assert red["priority"] > red_far["priority"]
    assert red["reason"].endswith("; renews in 30 days (May 31)")


def test_a_past_due_subscription_is_revenue_at_risk() -> None:
    orgs = base() | {
        "all_due": {"mrr": 2000.0, "past_due_mrr": 2000.0},
        "part_due": {"mrr": 4000.0, "past_due_mrr": 1000.0},
        "paid": {"mrr": 2000.0},
        "never_used": NEVER | {"mrr": 2000.0, "past_due_mrr": 2000.0, "created_at": AS_OF - 5 * DAY},
    }
    s = scan(orgs, {"all_due": {"health": 76.0}, "part_due": {"health": 76.0}, "paid": {"health": 76.0}})
    assert types_of(s, "all_due") == types_of(s, "part_due") == {REVENUE_AT_RISK}
    assert types_of(s, "paid") == set()
    assert types_of(s, "never_used") == set()  # not active yet (and too new for Inactive paying)
    all_due, part_due = row(s, "all_due", REVENUE_AT_RISK), row(s, "part_due", REVENUE_AT_RISK)
    assert all_due["evidence"]["past_due_mrr"] == 2000.0
    assert all_due["reason"] == "Payment past due on $2,000 MRR, health 76 (green)"
    assert part_due["reason"] == "Payment past due on $1,000 of $4,000 MRR, health 76 (green)"
    # Severity priority.past_due_severity (0.5) × the share past due.
    assert (all_due["severity"], part_due["severity"]) == (pytest.approx(0.5), pytest.approx(0.125))


def test_a_key_account_in_lower_yellow_is_revenue_at_risk_a_small_one_is_not() -> None:
    # The same lower-yellow health (43): a call is worth it when a top-decile account's money
    # rides on it, not yet for a $100 account. Health 46 is above the key-account line.
    orgs = base() | {"big_slipping": {"mrr": 8000.0}, "small_slipping": {"mrr": 100.0},
                     "big_fine": {"mrr": 8000.0}}
    health = {"big_slipping": {"health": 43.0}, "small_slipping": {"health": 43.0}, "big_fine": {"health": 46.0}}
    s = scan(orgs, health)
    assert types_of(s, "big_slipping") == {REVENUE_AT_RISK}
    assert types_of(s, "small_slipping") == types_of(s, "big_fine") == set()
    big = row(s, "big_slipping", REVENUE_AT_RISK)
    reference = float(np.percentile([m for m in BASE_MRR + [8000.0, 100.0, 8000.0]], 90))
    assert big["revenue_reference"] == pytest.approx(reference)
    assert big["evidence"]["key_account_mrr_from"] == pytest.approx(round(reference, 2))
    assert big["evidence"]["key_account_health_below"] == 45.0
    assert big["reason"] == (f"Key account (MRR ≥ ${reference:,.0f}) with health 43 (yellow), below 45 "
                             "— $8,000 MRR")
    # Severity (45 − 43) / 45: small, the revenue term carries such an org.
    assert big["severity"] == pytest.approx(2 / 45)
    # Already red: low health leads and the key-account condition adds nothing twice.
    red = scan(base() | {"big_red": {"mrr": 8000.0}}, {"big_red": {"health": 30.0}})
    assert "key_account_mrr_from" not in row(red, "big_red", REVENUE_AT_RISK)["evidence"]
    # 0 turns the condition off.
    off = Config(signals=replace(CFG.signals, key_account_health_below=0.0))
    assert types_of(scan(orgs, health, cfg=off), "big_slipping") == set()
    # With a renewal it follows the renewal, and still says which line the health is under.
    renewing = scan(base() | {"big": {"mrr": 8000.0, "renewal_date": AS_OF + 30 * DAY}}, {"big": {"health": 43.0}})
    assert row(renewing, "big", REVENUE_AT_RISK)["reason"] == (
        "Renews in 30 days (May 31) with health 43 (yellow), below 60; key account (MRR ≥ "
        f"${row(renewing, 'big', REVENUE_AT_RISK)['revenue_reference']:,.0f}), health below 45 — $8,000 MRR")


# --- 7. Champion gone quiet ------------------------------------------------------------------


def test_a_champion_gone_quiet_is_in_every_signal_of_the_org() -> None:
    # Two of its three most active users of the previous fortnight have no event since; the
    # rest of the team carries on, at half the volume: a Usage drop, and why.
    orgs = base() | {
        "quiet": {"mrr": 3000.0, "recent_events": 50, "previous_events": 100, "champions": 3, "champions_silent": 2,
                  "champions_silent_previous_events": 60},
        "all_there": {"mrr": 3000.0, "recent_events": 50, "previous_events": 100, "champions": 3},
        "holiday": {"mrr": 3000.0, "champions": 2, "champions_silent": 1, "champions_silent_previous_events": 30},
    }
    s = scan(orgs)
    r = row(s, "quiet", USAGE_DROP)
    assert (r["evidence"]["champions"], r["evidence"]["champions_silent"],
            r["evidence"]["champions_silent_previous_events"]) == (3, 2, 60)
    assert r["reason"].endswith("; 2 of its 3 most active users have gone quiet")
    assert "champions_silent" not in row(s, "all_there", USAGE_DROP)["evidence"]
    # Alone, with usage steady, a quiet champion raises nothing (a holiday is not a churn risk).
    assert types_of(s, "holiday") == set()


def test_the_champion_words_never_say_one_of_one() -> None:
    silent = pd.Series([1.0, 2.0, 2.0, 1.0, 0.0])
    champions = pd.Series([1.0, 2.0, 3.0, 3.0, 3.0])
    assert champion_text(silent, champions).tolist()[:4] == [
        "its most active user has gone quiet",
        "its 2 most active users have gone quiet",
        "2 of its 3 most active users have gone quiet",
        "1 of its 3 most active users has gone quiet",
    ]
    assert pd.isna(champion_text(silent, champions).iloc[4])


def test_the_drivers_name_the_champions_who_went_quiet(session_factory) -> None:
    from services import org_details
    from services.scanning import run_scan
    from storage.db import get_or_create_application
    from storage.models import Org, Subscription
    from usage_rows import add_usage_day

    with session_factory() as s, s.begin():
        app = get_or_create_application(s)
        s.add(Org(org_id="acme", application_id=app.id, name="Acme", created_at=AS_OF - 400 * DAY))
        s.flush()
        s.add(Subscription(subscription_id="a1", org_id="acme", mrr=3000, started_at=(AS_OF - 400 * DAY).date()))
        # Previous fortnight: ana 40 events, ben 30, cy 5; recent fortnight: cy 20 only.
        for days_back, users in ((20, {"ana": 40, "ben": 30, "cy": 5}), (3, {"cy": 20})):
            day = (AS_OF - days_back * DAY).date()
            add_usage_day(s, "acme", day, users=users, distinct_features=1, last_event_at=AS_OF - days_back * DAY)
    run_scan(session_factory, CFG, AS_OF)
    with session_factory() as s:
        detail = org_details.org_detail(s, app.id, "acme", AS_OF, CFG)
    quiet = "the 2 most active users of the previous 14 days (ana, ben) have been silent since, while others carry on"
    assert detail.extras["champion_quiet"] == quiet
    (activity,) = [c for c in detail.components if c.name == "activity"]
    assert activity.value_text.endswith("; " + quiet)
    (drop,) = [sig for sig in detail.item.signals if sig.type == USAGE_DROP]
    assert drop.evidence["champions_silent"] == 2


# --- 10. Tiers with missing inputs -----------------------------------------------------------


def test_one_known_input_cannot_make_a_tier_1_account() -> None:
    from scoring.tiers import score_tiers

    # Twelve ordinary accounts known on every input, and the top payer known only by its MRR.
    full = {f"o{i:02d}": {"mrr": 100.0 + 10 * i, "created_at": pd.Timestamp(AS_OF) - pd.Timedelta(days=400),
                          "activity_score": 60.0, "strategic": 50.0, "icp_fit": 50.0, "relationship": 50.0,
                          "renewal_date": (AS_OF + 200 * DAY).date(), "usage_change": 0.0, "seat_utilization": 0.5}
            for i in range(12)}
    frame = pd.DataFrame.from_dict(full | {"lonely": {"mrr": 50_000.0}}, orient="index").rename_axis("org_id")
    t = score_tiers(frame, AS_OF)
    lonely = t.loc["lonely"]
    # Before: revenue 100 alone made value 100, potential unknown, account priority 100, Tier 1.
    assert lonely["revenue_score"] == 100.0
    assert (lonely["value_inputs"], lonely["potential_inputs"]) == (1, 0)
    # Tenure, engagement and strategic count as the typical account's (the median of the twelve).
    typical = t.loc["o00"]
    assert lonely["value"] == pytest.approx((100 * 40 + typical["tenure_score"] * 15 + 60 * 20 + 50 * 25) / 100,
                                            abs=0.01)
    assert lonely["tier"] != "Tier 1" and lonely["account_priority"] < 80
    assert np.isnan(lonely["potential"]) and lonely["quadrant"] is None


# --- 8. One vocabulary for "at risk" ---------------------------------------------------------


def test_at_risk_means_an_org_holding_a_risk_signal() -> None:
    from scoring.segments import CELL_LABELS, CELL_REVENUE_AT_RISK
    from services.signal_list import at_risk_orgs

    signals = pd.DataFrame(
        [
            ("low", REVENUE_AT_RISK, "risk"),
            ("low", USAGE_DROP, "risk"),  # one org, counted once
            ("falling", USAGE_DROP, "risk"),
            ("quiet", INACTIVE_PAYING, "risk"),
            ("new", INACTIVE_PAYING, "onboarding"),  # not active yet: onboarding, not at risk
            ("grower", EXPANSION_CANDIDATE, "expansion"),
        ],
        columns=["org_id", "type", "suggested_case"],
    )
    risk, onboarding = at_risk_orgs(signals)
    assert sorted(risk) == ["falling", "low", "quiet"]
    assert list(onboarding) == ["new"]
    # Every Revenue at risk org is part of the at-risk figure...
    assert set(signals.loc[signals["type"] == REVENUE_AT_RISK, "org_id"]) <= set(risk)
    # ...and the high-MRR, low-health cell, a segment and not a risk count, says so by its name.
    assert "risk" not in CELL_LABELS[CELL_REVENUE_AT_RISK].lower()
