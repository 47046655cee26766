"""The ranked list of orgs with visible signals and its summary counts, computed by the database
from the segments the latest scan stored (``org_segments``): one query ranks, filters and cuts
the list, one adds up the cards. Only valid while those rows answer for the read (the caller
checks: same scan day and configuration); ``services.signal_list`` ranks in pandas otherwise.

The order is the lists' everywhere: orgs by their highest visible signal priority (among the
filtered types when types are given), then the MRR of their latest snapshot, highest first,
then org id; text compares byte by byte, as Python does, whatever the database's collation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Float, and_, case, cast, func, literal, or_, select, update
from sqlalchemy.orm import Session

from domain.vocabulary import CASE_TYPES, INACTIVE_PAYING, RISK_SIGNAL_TYPES, STATUS_ACTIVE, STATUS_SNOOZED
from storage import owners as owner_reads
from storage.models import CaseTag, Org, OrgOwner, OrgSegment, Signal
from storage.signals import visible_condition

CASE_ONBOARDING = CASE_TYPES[1]


@dataclass(frozen=True)
class RankFilter:
    """The filters of a list, as stored values: empty sets mean no filter on that field,
    ``org_ids`` None means every org."""

    types: frozenset[str] = frozenset()
    case_types: frozenset[str] = frozenset()
    owners: frozenset[str] = frozenset()  # compared lower-cased
    org_ids: frozenset[str] | None = None
    cell: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class RankCounts:
    """The summary cards' numbers over every visible signal (not only the filtered ones)."""

    orgs_with_signals: int
    active_signals: int
    mrr_at_risk: float
    onboarding_mrr: float


def _bytewise(session: Session, column):
    """``column`` for ORDER BY in code-point order (PostgreSQL's collation may differ)."""
    return column.collate("C") if session.get_bind().dialect.name == "postgresql" else column


def ranked_orgs(session: Session, application_id: int, now: dt.datetime, flt: RankFilter,
                limit: int) -> tuple[list[str], int]:
    """(the first ``limit`` org ids of the ranked list, how many orgs match the filter)."""
    visible = [Signal.application_id == application_id, visible_condition(now)]
    if flt.types:
        visible.append(Signal.type.in_(sorted(flt.types)))
    if flt.org_ids is not None:
        visible.append(Signal.org_id.in_(sorted(flt.org_ids)))
    # Each org's top signal (priority, then type): its priority ranks the org, and its
    # suggested case stands in when the scan suggested none.
    position = func.row_number().over(
        partition_by=Signal.org_id,
        order_by=(Signal.priority.desc(), _bytewise(session, Signal.type).asc()))
    tops = select(Signal.org_id, Signal.priority, Signal.suggested_case, position.label("position")).where(
        *visible).subquery("tops")
    mrr = func.coalesce(cast(OrgSegment.snapshot_mrr, Float), 0.0)
    stmt = (
        select(tops.c.org_id, func.count().over().label("total"))
        .select_from(tops)
        .outerjoin(OrgSegment, and_(OrgSegment.org_id == tops.c.org_id, OrgSegment.application_id == application_id))
        .where(tops.c.position == 1)
    )
    if flt.case_types:
        suggested = func.coalesce(OrgSegment.suggested_case, tops.c.suggested_case)
        stmt = stmt.outerjoin(CaseTag, CaseTag.org_id == tops.c.org_id).where(
            func.coalesce(CaseTag.case_type, suggested).in_(sorted(flt.case_types)))
    if flt.owners:
        # Owners are read now: an Assign made since the scan counts at once.
        owner = func.lower(func.coalesce(owner_reads.effective_owner(), literal("")))
        stmt = (stmt.outerjoin(Org, Org.org_id == tops.c.org_id)
                .outerjoin(OrgOwner, OrgOwner.org_id == tops.c.org_id)
                .where(owner.in_(sorted({o.lower() for o in flt.owners}))))
    if flt.cell is not None:
        stmt = stmt.where(OrgSegment.cell == flt.cell)
    if flt.tier is not None:
        stmt = stmt.where(OrgSegment.tier == flt.tier)
    stmt = stmt.order_by(tops.c.priority.desc(), mrr.desc(), _bytewise(session, tops.c.org_id).asc())
    if limit <= 0:
        total = session.scalar(select(func.count()).select_from(stmt.subquery()))
        return [], int(total or 0)
    found = session.execute(stmt.limit(limit)).all()
    return [row.org_id for row in found], int(found[0].total) if found else 0


def _per_org(*conditions: Any):
    """Per org of the signals matching ``conditions``: top priority, how many, and whether one
    puts it at risk or onboarding (1/0). At risk: a Revenue at risk, Usage drop or Inactive
    paying signal, except an Inactive paying one suggesting onboarding (an org not active yet);
    onboarding: such a signal."""
    onboarding = and_(Signal.type == INACTIVE_PAYING, Signal.suggested_case == CASE_ONBOARDING)
    risky = and_(Signal.type.in_(list(RISK_SIGNAL_TYPES)), or_(
        Signal.type != INACTIVE_PAYING, Signal.suggested_case.is_(None),
        Signal.suggested_case != CASE_ONBOARDING))
    return (
        select(Signal.org_id,
               func.max(Signal.priority).label("top_priority"),
               func.count().label("signals"),
               func.max(case((risky, 1), else_=0)).label("risk"),
               func.max(case((onboarding, 1), else_=0)).label("onboarding"))
        .where(*conditions)
        .group_by(Signal.org_id)
        .subquery("per_org")
    )


def rank_counts(session: Session, application_id: int, now: dt.datetime) -> RankCounts:
    """Orgs with a visible signal, visible signals, and the MRR (latest snapshot's) of orgs at
    risk and of orgs only onboarding (an onboarding signal on an org not at risk)."""
    per_org = _per_org(Signal.application_id == application_id, visible_condition(now))
    mrr = func.coalesce(cast(OrgSegment.snapshot_mrr, Float), 0.0)
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(per_org.c.signals), 0),
               func.coalesce(func.sum(case((per_org.c.risk == 1, mrr), else_=0.0)), 0.0),
               func.coalesce(func.sum(case((and_(per_org.c.risk == 0, per_org.c.onboarding == 1), mrr),
                                           else_=0.0)), 0.0))
        .select_from(per_org)
        .outerjoin(OrgSegment, and_(OrgSegment.org_id == per_org.c.org_id,
                                    OrgSegment.application_id == application_id))
    ).one()
    return RankCounts(orgs_with_signals=int(row[0]), active_signals=int(row[1]),
                      mrr_at_risk=float(row[2]), onboarding_mrr=float(row[3]))


# --- Each org's place in the lists, kept in its org_segments row -------------------------------
#
# Between two scans the visible signals change only by a person's dismiss, snooze or restore
# (each followed by ``store_ranks`` for that org) and by a snooze running out. While no snooze
# has run out, the unfiltered list (or one cell's or tier's) is the stored rows in index order:
# the first 25 orgs are read, not every org with a signal ranked.


def store_ranks(session: Session, application_id: int, org_ids: list[str] | None = None) -> None:
    """Write the orgs' top priority, active signals and risk/onboarding flags (all orgs of the
    application when ``org_ids`` is None) from their active signals, in the same transaction as
    the change that moved them."""
    seg = OrgSegment
    if org_ids is None:
        mine = [seg.application_id == application_id]
        active = [Signal.application_id == application_id, Signal.status == STATUS_ACTIVE]
    else:  # a few orgs by id: through the org_id indexes (``+ 0``, ``|| ''`` keep SQLite off the others)
        ids = sorted(set(org_ids))
        mine = [(seg.application_id + 0) == application_id, seg.org_id.in_(ids)]
        active = [(Signal.application_id + 0) == application_id, (Signal.status + "") == STATUS_ACTIVE,
                  Signal.org_id.in_(ids)]
    session.execute(update(seg).where(*mine).values(top_priority=None, active_signals=0, at_risk=False,
                                                       onboarding=False)
                    .execution_options(synchronize_session=False))
    per_org = _per_org(*active)
    session.execute(
        update(seg).where(*mine, seg.org_id == per_org.c.org_id)
        .values(top_priority=per_org.c.top_priority, active_signals=per_org.c.signals,
                at_risk=per_org.c.risk == 1, onboarding=per_org.c.onboarding == 1)
        .execution_options(synchronize_session=False))


def rank_columns(session: Session, application_id: int, org_ids: list[str]) -> dict[str, list[Any]]:
    """The place columns of ``org_ids``' org_segments rows, from their active signals: what a
    scan writes with the rows it inserts (one read, no UPDATE of every row)."""
    per_org = _per_org(Signal.application_id == application_id, Signal.status == STATUS_ACTIVE)
    found = session.execute(select(per_org.c.org_id, per_org.c.top_priority, per_org.c.signals, per_org.c.risk,
                                   per_org.c.onboarding)).all()
    frame = pd.DataFrame(found, columns=["org_id", "top_priority", "signals", "risk", "onboarding"])
    frame = frame.set_index("org_id").reindex(pd.Index(org_ids))
    top = frame["top_priority"].astype(float)
    return {
        "top_priority": [None if v != v else v for v in top.tolist()],
        "active_signals": frame["signals"].fillna(0).astype(int).tolist(),
        "at_risk": (frame["risk"].fillna(0).astype(int) == 1).tolist(),
        "onboarding": (frame["onboarding"].fillna(0).astype(int) == 1).tolist(),
    }


def snooze_ran_out(session: Session, application_id: int, now: dt.datetime) -> bool:
    """Whether a snoozed signal is visible again (its snooze over, no scan since to see it)."""
    # Through the status index (few snoozed signals), not every signal of the application
    # (``+ 0`` keeps SQLite from choosing the application_id index).
    return session.scalar(select(literal(True)).where(
        (Signal.application_id + 0) == application_id, Signal.status == STATUS_SNOOZED,
        Signal.snoozed_until <= now).limit(1)) is not None


def _stored_conditions(application_id: int, cell: str | None, tier: str | None) -> list[Any]:
    conditions = [OrgSegment.application_id == application_id, OrgSegment.top_priority.is_not(None)]
    if cell is not None:
        conditions.append(OrgSegment.cell == cell)
    if tier is not None:
        conditions.append(OrgSegment.tier == tier)
    return conditions


def stored_ranked_orgs(session: Session, application_id: int, limit: int, cell: str | None = None,
                       tier: str | None = None) -> tuple[list[str], int]:
    """``ranked_orgs`` from the stored places (no type, case or owner filter; no snooze run out)."""
    conditions = _stored_conditions(application_id, cell, tier)
    total = int(session.scalar(select(func.count()).select_from(OrgSegment).where(*conditions)) or 0)
    if limit <= 0 or total == 0:
        return [], total
    found = session.scalars(
        select(OrgSegment.org_id).where(*conditions)
        .order_by(OrgSegment.top_priority.desc(), OrgSegment.snapshot_mrr.desc(),
                  _bytewise(session, OrgSegment.org_id).asc())
        .limit(limit)).all()
    return list(found), total


def stored_rank_counts(session: Session, application_id: int) -> RankCounts:
    """``rank_counts`` from the stored places (no snooze run out)."""
    seg = OrgSegment
    mrr = cast(seg.snapshot_mrr, Float)
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(seg.active_signals), 0),
               func.coalesce(func.sum(case((seg.at_risk, mrr), else_=0.0)), 0.0),
               func.coalesce(func.sum(case((and_(~seg.at_risk, seg.onboarding), mrr), else_=0.0)), 0.0))
        .where(*_stored_conditions(application_id, None, None))
    ).one()
    return RankCounts(orgs_with_signals=int(row[0]), active_signals=int(row[1]),
                      mrr_at_risk=float(row[2]), onboarding_mrr=float(row[3]))
