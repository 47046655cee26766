"""Revenue analytics, Revenue × Health cells, tiers and case suggestions from the database.

The database hands over one row per subscription and one row per org (SQL joins and
aggregates, no per-row Python); ``scoring.revenue`` / ``segments`` / ``tiers`` / ``cases``
do the arithmetic. What is read:

* subscriptions of the application's orgs (for MRR on any day: ``scoring.revenue``);
* per org, the latest health snapshot on or before ``as_of`` (score, and from its
  ``components`` JSON, extracted by the database: the activity score, ``trend.value`` as
  usage change and ``seat_utilization.value`` as seat utilization);
* last seen: the one that snapshot recorded (the latest event time at that scan, what the
  lists show beside the health), so it is read with the snapshot instead of a GROUP BY over
  every usage rollup; only an org no scan has looked at yet falls back to the rollups (latest
  event time on or before ``as_of``, or that day when no time was recorded);
* open signals (active, dismissed or snoozed: their condition still holds) as one boolean
  column per signal type.

MRR here is always computed from subscriptions on ``as_of`` (the same number the
``revenue`` command shows), not copied from the snapshot, so a plan change since the last
scan is already in the cells.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from domain.config import Config
from domain.vocabulary import OPEN_STATUSES, SIGNAL_TYPES
from services.read_models import CellView
from scoring import revenue as rev
from scoring.cases import suggest_case
from scoring.health import health_band
from scoring.segments import cell_summary, mrr_split, revenue_health_cells
from scoring.tiers import score_tiers
from storage import owners, queries
from storage.models import Application, HealthSnapshot, Org, Signal, Subscription, UsageDaily

# Up to this many unscanned orgs, their last seen is read for them alone (an IN list).
_FEW_ORGS = 500


class UnknownApplication(LookupError):
    """The named application has no row: nothing has been imported for it yet."""


@dataclass(frozen=True)
class RevenueReport:
    as_of: dt.date
    mrr: float
    arr: float
    retention: rev.Retention
    movements: pd.DataFrame  # scoring.revenue.MOVEMENT_COLUMNS
    top: pd.DataFrame  # rank, org_id, name, mrr, arr, share


@dataclass(frozen=True)
class SegmentsReport:
    as_of: dt.date
    mrr_split: float
    split_is_median: bool
    health_split: float
    cells: pd.DataFrame  # per paying org: name, mrr, health, mrr_high, health_high, cell, cell_label
    summary: pd.DataFrame  # key, label, org_count, mrr; all four cells
    unscored: int  # paying orgs with no health snapshot yet, in no cell
    not_active: int = 0  # paying orgs scanned but never seen in the product: onboarding, in no cell
    not_active_mrr: float = 0.0


def _application_id(session: Session, application: str) -> int:
    app_id = session.scalar(select(Application.id).where(Application.name == application))
    if app_id is None:
        raise UnknownApplication(f"no application named {application!r}: import its data first")
    return app_id


def _frame(session: Session, stmt: Select) -> pd.DataFrame:
    result = session.execute(stmt)
    return queries.rows_frame(result.all(), list(result.keys()))


def load_subscriptions(session: Session, application: str) -> pd.DataFrame:
    """The application's subscriptions in the frame ``scoring.revenue`` reads."""
    app_id = _application_id(session, application)
    stmt = (
        select(Subscription.subscription_id, Subscription.org_id, Subscription.mrr, Subscription.started_at,
               Subscription.ended_at, Subscription.status)
        .join(Org, Org.org_id == Subscription.org_id)
        .where(Org.application_id == app_id)
    )
    subs = _frame(session, stmt)
    subs["mrr"] = subs["mrr"].astype(float)
    return subs


def load_org_names(session: Session, application: str) -> pd.Series:
    app_id = _application_id(session, application)
    names = _frame(session, select(Org.org_id, Org.name).where(Org.application_id == app_id))
    return names.set_index("org_id")["name"]


def _latest_snapshots(session: Session, app_id: int, as_of: dt.date) -> pd.DataFrame:
    """Per org, its latest snapshot on or before ``as_of``: health, the three component numbers
    tiers and cases read (extracted from the JSON by the database) and last seen."""
    h = HealthSnapshot
    latest = queries.latest_snapshot_days(app_id, on_or_before=as_of)
    stmt = select(
        latest.c.org_id,
        h.score.label("health"),
        queries.component_field("activity", "score").label("activity_score"),
        queries.component_field("trend", "value").label("usage_change"),
        queries.component_field("seat_utilization", "value").label("seat_utilization"),
        h.last_seen,
    ).join(h, and_(h.org_id == latest.c.org_id, h.day == latest.c.day))
    snaps = _frame(session, stmt).set_index("org_id")
    out = snaps.drop(columns="last_seen").apply(pd.to_numeric, errors="coerce").astype(float)
    out["last_seen"] = pd.to_datetime(snaps["last_seen"], utc=True)
    return out


def _rollup_last_seen(session: Session, app_id: int, as_of: dt.date, org_ids: pd.Index) -> pd.Series:
    """Last seen from the daily usage rollups, for orgs no scan has looked at yet."""
    stmt = (
        select(UsageDaily.org_id, func.max(UsageDaily.last_event_at).label("last_event_at"),
               func.max(UsageDaily.day).label("last_day"))
        .join(Org, Org.org_id == UsageDaily.org_id)
        .where(Org.application_id == app_id, UsageDaily.day <= as_of, UsageDaily.events > 0)
        .group_by(UsageDaily.org_id)
    )
    if len(org_ids) <= _FEW_ORGS:
        stmt = stmt.where(UsageDaily.org_id.in_(org_ids.tolist()))
    seen = _frame(session, stmt).set_index("org_id")
    # A day with events but no recorded time still means "seen": fall back to that day.
    last_seen = pd.to_datetime(seen["last_event_at"], utc=True).fillna(pd.to_datetime(seen["last_day"], utc=True))
    return last_seen.reindex(org_ids)


def load_org_frame(session: Session, application: str, as_of: dt.date,
                   subs: pd.DataFrame | None = None, snapshots: pd.DataFrame | None = None,
                   open_signals: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per org of the application (index org_id) with what tiers and cases read.

    Columns: name, owner, source, created_at, renewal_date, icp_fit, strategic, relationship,
    mrr, health, activity_score, usage_change, seat_utilization, last_seen, not_active (scanned,
    never seen in the product, no health score), and one boolean column per signal type (an
    open signal of that type).

    A scan passes what it has just written instead of reading it back: ``snapshots`` (the
    columns ``_latest_snapshots`` reads, as stored) and ``open_signals`` (org_id, type).
    """
    app_id = _application_id(session, application)
    orgs = _frame(
        session,
        owners.with_owner(
            select(Org.org_id, Org.name, owners.effective_owner().label("owner"), Org.source, Org.created_at,
                   Org.renewal_date, Org.icp_fit, Org.strategic, Org.relationship_score.label("relationship")))
        .where(Org.application_id == app_id),
    ).set_index("org_id")
    for col in ("icp_fit", "strategic", "relationship"):
        orgs[col] = pd.to_numeric(orgs[col], errors="coerce").astype(float)
    orgs["created_at"] = pd.to_datetime(orgs["created_at"], utc=True)
    orgs["renewal_date"] = pd.to_datetime(orgs["renewal_date"])

    if subs is None:
        subs = load_subscriptions(session, application)
    orgs["mrr"] = rev.mrr_by_org(subs, as_of).reindex(orgs.index, fill_value=0.0)

    snaps = _latest_snapshots(session, app_id, as_of) if snapshots is None else snapshots
    orgs = orgs.join(snaps.drop(columns="last_seen"))
    last_seen = snaps["last_seen"].reindex(orgs.index)
    unscanned = orgs.index.difference(snaps.index)
    if len(unscanned):
        last_seen = last_seen.fillna(_rollup_last_seen(session, app_id, as_of, unscanned).reindex(orgs.index))
    orgs["last_seen"] = last_seen
    # Scanned, never seen in the product and so without a health score: not active yet.
    orgs["not_active"] = (orgs.index.isin(snaps.index) & orgs["last_seen"].isna().to_numpy()
                          & orgs["health"].isna().to_numpy())

    if open_signals is None:
        open_signals = _frame(
            session,
            select(Signal.org_id, Signal.type)
            .where(Signal.application_id == app_id, Signal.status.in_(OPEN_STATUSES))
            .distinct(),
        )
    for type_ in SIGNAL_TYPES:  # four columns, each an isin over the orgs
        orgs[type_] = orgs.index.isin(open_signals.loc[open_signals["type"] == type_, "org_id"])
    return orgs


def _flag(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[name].astype("boolean").fillna(False).astype(bool)


def revenue_report(session: Session, application: str, as_of: dt.date, by: rev.Period = "month",
                   periods: int = 6, top: int = 10, retention_months: int = 12) -> RevenueReport:
    subs = load_subscriptions(session, application)
    start, end = rev.periods_ending(as_of, by, periods)
    mrr = rev.total_mrr(subs, as_of)
    return RevenueReport(
        as_of=as_of,
        mrr=mrr,
        arr=float(rev.arr(mrr)),
        retention=rev.nrr_grr(subs, as_of, retention_months),
        movements=rev.mrr_movements(subs, start, end, by),
        top=rev.top_revenue_orgs(subs, load_org_names(session, application), as_of, top),
    )


def segments_report(session: Session, application: str, as_of: dt.date, config: Config = Config(),
                    orgs: pd.DataFrame | None = None) -> SegmentsReport:
    if orgs is None:
        orgs = load_org_frame(session, application, as_of)
    seg = config.segments
    cells = revenue_health_cells(orgs[["mrr", "health"]], seg.mrr_split_amount, seg.health_split)
    cells.insert(0, "name", orgs["name"].reindex(cells.index))
    not_active = cells["cell"].isna() & _flag(orgs, "not_active").reindex(cells.index, fill_value=False)
    return SegmentsReport(
        as_of=as_of,
        mrr_split=mrr_split(orgs["mrr"], seg.mrr_split_amount),
        split_is_median=seg.mrr_split_amount <= 0,
        health_split=seg.health_split,
        cells=cells,
        summary=cell_summary(cells),
        unscored=int((cells["cell"].isna() & ~not_active).sum()),
        not_active=int(not_active.sum()),
        not_active_mrr=round(float(cells.loc[not_active, "mrr"].sum()), 2),
    )


def cell_views(summary: pd.DataFrame) -> list[CellView]:
    """The four cells as read models for Slack and the CLI, in grid order."""
    return [CellView(key=str(key), label=str(label), org_count=int(count), mrr=float(mrr))
            for key, label, count, mrr in zip(summary["key"], summary["label"], summary["org_count"],
                                              summary["mrr"])]


def tiers_report(session: Session, application: str, as_of: dt.date, config: Config = Config(),
                 mode: str | None = None, orgs: pd.DataFrame | None = None) -> pd.DataFrame:
    """scoring.tiers output plus name and mrr, sorted by account priority (highest first)."""
    if orgs is None:
        orgs = load_org_frame(session, application, as_of)
    return score_org_tiers(orgs, as_of, config, mode)


def score_org_tiers(orgs: pd.DataFrame, as_of: dt.date, config: Config = Config(),
                    mode: str | None = None) -> pd.DataFrame:
    """``tiers_report`` on an org frame already read (``load_org_frame``)."""
    tiers = score_tiers(orgs, as_of, mode=mode, tiers=config.tiers, signals=config.signals)
    tiers.insert(0, "mrr", orgs["mrr"])
    tiers.insert(0, "name", orgs["name"])
    return tiers.sort_values(["account_priority", "name"], ascending=[False, True], na_position="last")


def case_suggestions(session: Session, application: str, as_of: dt.date, config: Config = Config(),
                     orgs: pd.DataFrame | None = None, segments: SegmentsReport | None = None) -> pd.DataFrame:
    """Per org (index org_id): case (risk / onboarding / expansion, or None) and why."""
    if orgs is None:
        orgs = load_org_frame(session, application, as_of)
    cells = (segments or segments_report(session, application, as_of, config, orgs)).cells
    frame = orgs.assign(cell=cells["cell"].reindex(orgs.index), band=health_band(orgs["health"], config))
    return suggest_case(frame, config.signals, config.segments.health_split)
