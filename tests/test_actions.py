"""Dismiss, snooze, tag and org lookup: what a person changes, audited, idempotent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from services import actions
from services import org_details, org_lookup, signal_list
from domain.config import Config
from domain.vocabulary import EXPANSION_CANDIDATE, REVENUE_AT_RISK, USAGE_DROP
from storage.db import get_or_create_application
from storage.models import AuditLog, CaseTag, HealthSnapshot, Org, Signal

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _signal(app_id: int, org_id: str, type_: str, priority: float, status: str = "active", **kw) -> Signal:
    return Signal(application_id=app_id, org_id=org_id, type=type_, status=status, priority=priority,
                  evidence={"x": 1}, reason=f"{type_} reason", suggested_case=kw.pop("case", "risk"),
                  opened_at=NOW - dt.timedelta(days=2), updated_at=NOW, **kw)


def _seed(session) -> int:
    app = get_or_create_application(session)
    session.add_all([
        Org(org_id="acme", application_id=app.id, name="Acme Corp", domain="acme.com", owner="ana@example.com"),
        Org(org_id="acme-eu", application_id=app.id, name="Acme Europe", domain="acme.eu"),
        Org(org_id="globex", application_id=app.id, name="Globex", domain="globex.com", owner="U123"),
        Org(org_id="initech", application_id=app.id, name="Initech"),
    ])
    session.flush()
    session.add_all([
        _signal(app.id, "acme", EXPANSION_CANDIDATE, 60.0, case="expansion"),
        _signal(app.id, "globex", USAGE_DROP, 75.5),
        _signal(app.id, "globex", REVENUE_AT_RISK, 90.0),
        _signal(app.id, "initech", REVENUE_AT_RISK, 85.0, status="snoozed",
                snoozed_until=NOW + dt.timedelta(days=3), dismissed_by="ana"),
    ])
    for org_id, score, mrr, prev in (("acme", 80.0, 500, 70.0), ("globex", 30.0, 9000, 45.0),
                                     ("initech", 20.0, 4000, None)):
        session.add(HealthSnapshot(org_id=org_id, day=NOW.date(), score=score, band="red" if score < 40 else "green",
                                   components={}, left_out=[], mrr=mrr, last_seen=None, usage={}))
        if prev is not None:
            session.add(HealthSnapshot(org_id=org_id, day=NOW.date() - dt.timedelta(days=1), score=prev, band="yellow",
                                       components={}, left_out=[], mrr=mrr, last_seen=None, usage={}))
    session.commit()
    return app.id


def test_list_ranks_orgs_by_highest_signal_and_hides_running_snoozes(session) -> None:
    app_id = _seed(session)
    result = signal_list.list_signals(session, app_id, NOW, signal_list.SignalFilter(top=10))
    assert [i.org_id for i in result.items] == ["globex", "acme"]
    globex = result.items[0]
    assert globex.priority == 90.0
    assert [s.type for s in globex.signals] == [REVENUE_AT_RISK, USAGE_DROP]
    assert globex.health == 30.0 and globex.health_delta == -15.0 and globex.mrr == 9000.0
    assert result.cards.orgs_with_signals == 2
    assert result.cards.mrr_at_risk == 9000.0  # acme's expansion is not risk; initech is snoozed
    assert result.cards.active_signals == 3
    # Once the snooze runs out, initech is back on the list without any scan.
    later = signal_list.list_signals(session, app_id, NOW + dt.timedelta(days=4), signal_list.SignalFilter())
    assert [i.org_id for i in later.items] == ["globex", "initech", "acme"]


def test_filters_combine_type_case_and_owner(session) -> None:
    app_id = _seed(session)
    flt = signal_list.SignalFilter(types=frozenset([USAGE_DROP]))
    items = signal_list.list_signals(session, app_id, NOW, flt).items
    assert [i.org_id for i in items] == ["globex"] and [s.type for s in items[0].signals] == [USAGE_DROP]
    assert [i.org_id for i in signal_list.list_signals(
        session, app_id, NOW, signal_list.SignalFilter(case_types=frozenset(["expansion"]))).items] == ["acme"]
    assert [i.org_id for i in signal_list.list_signals(
        session, app_id, NOW, signal_list.SignalFilter(owners=frozenset(["ANA@example.com"]))).items] == ["acme"]
    top1 = signal_list.list_signals(session, app_id, NOW, signal_list.SignalFilter(top=1))
    assert len(top1.items) == 1 and top1.total == 2


def test_dismiss_hides_from_lists_is_audited_and_a_second_click_changes_nothing(session) -> None:
    app_id = _seed(session)
    ids = actions.open_signal_ids(session, "globex")
    first = actions.dismiss_signals(session, ids, "U999", NOW, via="slack")
    session.commit()
    assert first.changed and first.signal_ids == sorted(ids)
    second = actions.dismiss_signals(session, ids, "U999", NOW, via="slack")
    session.commit()
    assert not second.changed and "already dismissed by U999" in second.message
    listed = signal_list.list_signals(session, app_id, NOW, signal_list.SignalFilter())
    assert [i.org_id for i in listed.items] == ["acme"]
    audit = session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(a.actor, a.action, a.via, a.before["status"], a.after["status"]) for a in audit] == [
        ("U999", "dismiss", "slack", "active", "dismissed")] * 2


def test_snooze_records_until_and_resolved_signal_is_explained(session) -> None:
    _seed(session)
    sig = session.scalar(select(Signal).where(Signal.org_id == "acme"))
    until = NOW + dt.timedelta(days=7)
    result = actions.dismiss_signals(session, [sig.id], "ana", NOW, snooze_until=until)
    assert result.changed and "snoozed until 2026-11-30" in result.message
    assert sig.status == "snoozed" and sig.snoozed_until == until
    sig.status = "resolved"
    again = actions.dismiss_signals(session, [sig.id], "ana", NOW)
    assert not again.changed and "already resolved itself" in again.message
    missing = actions.dismiss_signals(session, [99999], "ana", NOW)
    assert not missing.changed and "no longer exists" in missing.message


def test_tag_wins_over_suggestion_and_same_tag_twice_is_one_change(session) -> None:
    app_id = _seed(session)
    assert actions.tag_case(session, "globex", "expansion", "U1", NOW).changed
    assert not actions.tag_case(session, "globex", "expansion", "U2", NOW).changed
    assert actions.tag_case(session, "globex", "risk", "U2", NOW).changed
    assert not actions.tag_case(session, "globex", "bogus", "U2", NOW).changed
    assert not actions.tag_case(session, "nope", "risk", "U2", NOW).changed
    session.commit()
    tag = session.get(CaseTag, "globex")
    assert (tag.case_type, tag.tagged_by) == ("risk", "U2")
    assert session.scalar(select(func.count()).select_from(AuditLog)) == 2
    item = signal_list.list_signals(session, app_id, NOW, signal_list.SignalFilter()).items[0]
    assert (item.case_type, item.case_by, item.case_suggested) == ("risk", "U2", "risk")


def test_find_orgs_by_id_domain_name_substring_and_closest(session) -> None:
    app_id = _seed(session)
    assert [m.org_id for m in org_lookup.find_orgs(session, app_id, "acme").matches] == ["acme"]
    assert [m.org_id for m in org_lookup.find_orgs(session, app_id, "GLOBEX.com").matches] == ["globex"]
    assert [m.org_id for m in org_lookup.find_orgs(session, app_id, "acme corp").matches] == ["acme"]
    assert [m.org_id for m in org_lookup.find_orgs(session, app_id, "acm").matches] == ["acme", "acme-eu"]
    none = org_lookup.find_orgs(session, app_id, "initek")
    assert none.matches == [] and none.closest == ["Initech"]


def test_a_type_filter_ranks_orgs_by_their_signals_of_that_type(session) -> None:
    app_id = _seed(session)
    session.add(_signal(app_id, "initech", USAGE_DROP, 80.0))
    session.commit()
    flt = signal_list.SignalFilter(types=frozenset([USAGE_DROP]))
    items = signal_list.list_signals(session, app_id, NOW, flt).items
    # Unfiltered, globex (90, revenue at risk) leads; on usage drops initech's 80 beats 75.5.
    assert [(i.org_id, i.priority) for i in items] == [("initech", 80.0), ("globex", 75.5)]


def test_org_detail_explains_the_rank_with_the_formula(session) -> None:
    app_id = _seed(session)
    sig = session.scalar(select(Signal).where(Signal.org_id == "globex", Signal.type == REVENUE_AT_RISK))
    sig.evidence = {"health": 30.0, "mrr": 9000.0, "severity": 0.25, "revenue_reference": 5000.0}
    session.commit()
    detail = org_details.org_detail(session, app_id, "globex", NOW, Config())
    # 1.0 × (20 + 35 × √0.25 + 45 × 9000 / (9000 + 5000)) = 20 + 17.5 + 28.93 = 66.4, with the
    # revenue reference the scan stored (its paying orgs' 90th percentile).
    assert detail.extras["why_rank"] == ("Priority 66.4 = 1.00 (Revenue at risk) × (20 base + 17.5 for severity 0.25 "
                                         "+ 28.9 for $9,000 MRR against $5,000, the 90th percentile of paying "
                                         "orgs' MRR)")
