"""The database's ranking of `/signals` (``storage.signal_ranking``, used while the scan's stored
segments answer for the read) gives exactly the list the pandas ranking gives: the same orgs
in the same order, the same items, totals and summary cards, for every kind of filter, on the
demo data after a series of scans, with case tags, an assignment and snoozes in place.
On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from domain.config import Config
from domain.vocabulary import (CASE_TYPES, CELL_KEYS, EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK,
                               TIERS, USAGE_DROP)
from scan_golden import READ_AT, generate, scan_series
from services import actions, segmentation, signal_list
from services.tracker import Tracker
from services.signal_list import SignalFilter
from storage import signal_ranking
from storage.db import find_application
from storage.models import CaseTag, Org, OrgOwner, Signal

pytestmark = pytest.mark.slow  # generates the demo data and runs four scans


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ranking")
    generate(root / "data")
    return root / "data"


def _people_tag_and_assign(factory) -> tuple[str, str]:
    """Tag a few listed orgs with another case than their suggestion, assign one to a new CSM;
    returns (an imported owner, the assigned owner)."""
    with factory() as s, s.begin():
        listed = list(s.scalars(select(Signal.org_id).where(Signal.status == "active")
                                .distinct().order_by(Signal.org_id)))
        for i, org_id in enumerate(listed[:12:3]):
            s.add(CaseTag(org_id=org_id, case_type=CASE_TYPES[i % 3], tagged_by="U1", tagged_at=READ_AT))
        s.add(OrgOwner(org_id=listed[1], owner="New.CSM@example.com", assigned_by="U1", assigned_at=READ_AT))
        owner = s.scalar(select(Org.owner).where(Org.org_id == listed[2]))
        # An org at risk that also holds an onboarding signal counts at risk, never onboarding.
        at_risk = s.execute(select(Signal.org_id, Signal.application_id).where(
            Signal.status == "active", Signal.type.in_([USAGE_DROP, REVENUE_AT_RISK]),
            Signal.org_id.not_in(select(Signal.org_id).where(Signal.type == INACTIVE_PAYING)))
            .order_by(Signal.org_id)).first()
        assert at_risk is not None
        s.add(Signal(application_id=at_risk.application_id, org_id=at_risk.org_id, type=INACTIVE_PAYING,
                     status="active", priority=1.0, evidence={}, reason="not active yet",
                     suggested_case=CASE_TYPES[1], opened_at=READ_AT, updated_at=READ_AT))
        s.flush()  # signals change only by a scan or a person, who both store the org's place
        signal_ranking.store_ranks(s, at_risk.application_id, [at_risk.org_id])
    assert owner
    return owner, "New.CSM@example.com"


def _filters(owner: str, assigned: str, some_orgs: frozenset[str]) -> list[SignalFilter]:
    flts = [SignalFilter(top=25), SignalFilter(top=500), SignalFilter(top=3), SignalFilter(top=0),
            SignalFilter(top=500, types=frozenset({USAGE_DROP})),
            SignalFilter(top=500, types=frozenset({EXPANSION_CANDIDATE, REVENUE_AT_RISK})),
            SignalFilter(top=500, types=frozenset({INACTIVE_PAYING})),
            SignalFilter(top=500, owners=frozenset({owner.upper()})),
            SignalFilter(top=500, owners=frozenset({assigned.lower(), "nobody@example.com"})),
            SignalFilter(top=500, org_ids=some_orgs),
            SignalFilter(top=500, org_ids=frozenset()),
            SignalFilter(top=5, types=frozenset({USAGE_DROP, REVENUE_AT_RISK}), case_types=frozenset({"risk"}),
                         cell="revenue_at_risk")]
    flts += [SignalFilter(top=500, case_types=frozenset({c})) for c in CASE_TYPES]
    flts += [SignalFilter(top=500, cell=c) for c in CELL_KEYS]
    flts += [SignalFilter(top=500, tier=t) for t in TIERS]
    return flts


def test_the_database_ranks_exactly_as_pandas_for_every_filter(session_factory, demo_data) -> None:
    cfg = Config()
    scan_series(session_factory, demo_data, cfg)
    owner, assigned = _people_tag_and_assign(session_factory)
    with session_factory() as s:
        app_id = find_application(s, cfg.application).id
        some_orgs = frozenset(s.scalars(select(Signal.org_id).where(Signal.status == "active")
                                        .order_by(Signal.org_id.desc()).limit(9)))
        computed = segmentation.segmentation_for_day(s, app_id, READ_AT.date(), cfg, cached=False)
        non_empty = 0
        for flt in _filters(owner, assigned, some_orgs):
            by_sql = _assert_both_ways_alike(s, app_id, READ_AT, flt, cfg, computed)
            non_empty += bool(by_sql.items)
        # The filters are not vacuous: most of them list orgs, and the cards count something.
        assert non_empty >= 15
        assert by_sql.cards.orgs_with_signals > 30 and by_sql.cards.mrr_at_risk > 0 and by_sql.cards.onboarding_mrr > 0
        # The SQL path is the one taken when the stored segments are valid.
        assert isinstance(segmentation.load_segmentation(s, app_id, READ_AT, cfg), segmentation.StoredSegmentation)


def _assert_both_ways_alike(s, app_id: int, now, flt: SignalFilter, cfg: Config, computed=None):
    """The database's list equals pandas' (on the stored segments, and on ``computed`` ones)."""
    stored = segmentation.stored_segmentation_at(s, app_id, now, cfg)
    assert stored is not None  # the read is on the last scan's day, same configuration
    by_sql = signal_list.list_signals(s, app_id, now, flt, cfg, segmentation=stored)
    stored_frame = segmentation.stored_segmentation_at(s, app_id, now, cfg)
    for seg in (stored_frame, computed) if computed is not None else (stored_frame,):
        by_frame = signal_list._frame_list(s, app_id, now, flt, cfg, seg)
        assert [i.org_id for i in by_sql.items] == [i.org_id for i in by_frame.items], flt
        assert by_sql.items == by_frame.items, flt
        assert by_sql.total == by_frame.total, flt
        got, want = by_sql.cards, by_frame.cards
        assert (got.orgs_with_signals, got.active_signals, got.opened_this_week, got.resolved_this_week,
                got.scanned_at) == (want.orgs_with_signals, want.active_signals, want.opened_this_week,
                                    want.resolved_this_week, want.scanned_at)
        assert got.mrr_at_risk == pytest.approx(want.mrr_at_risk, abs=1e-6)
        assert got.onboarding_mrr == pytest.approx(want.onboarding_mrr, abs=1e-6)
    return by_sql


def test_the_stored_places_follow_every_dismiss_snooze_and_restore(session_factory, demo_data) -> None:
    """Between scans the list reads each org's stored place; a person's dismiss, snooze or
    restore moves it at once, and a snooze running out is seen without a scan."""
    cfg = Config()
    scan_series(session_factory, demo_data, cfg)
    tracker = Tracker(session_factory, cfg, clock=lambda: READ_AT)
    flts = [SignalFilter(top=25), SignalFilter(top=500), SignalFilter(top=500, cell="revenue_at_risk"),
            SignalFilter(top=500, tier=TIERS[0])]

    def listed(now=READ_AT) -> list[str]:
        with session_factory() as s:
            app_id = find_application(s, cfg.application).id
            for flt in flts:
                _assert_both_ways_alike(s, app_id, now, flt, cfg)
            return [i.org_id for i in signal_list.list_signals(s, app_id, now, SignalFilter(top=500), cfg).items]

    before = listed()
    first, second, third = before[:3]
    assert tracker.dismiss_open(first, None, "U1", READ_AT).changed
    assert tracker.dismiss_open(second, None, "U1", READ_AT, snooze_until=READ_AT + dt.timedelta(days=7)).changed
    assert tracker.dismiss_open(third, None, "U1", READ_AT, snooze_until=READ_AT + dt.timedelta(minutes=30)).changed
    after = listed()
    assert after == [o for o in before if o not in (first, second, third)]
    # Half an hour later the third org's snooze has run out: it is back in its place.
    later = READ_AT + dt.timedelta(hours=1)
    assert listed(later) == [o for o in before if o not in (first, second)]
    # Restored, the second org is back too.
    with session_factory() as s, s.begin():
        ids = list(s.scalars(select(Signal.id).where(Signal.org_id == second, Signal.status == "snoozed")))
        assert actions.unsnooze_signals(s, ids, "U1", READ_AT).changed
    assert listed(later) == [o for o in before if o != first]
