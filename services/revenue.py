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
from sqlalchemy.orm import Session

from domain.config import Config
from domain.vocabulary import SIGNAL_TYPES
from services.read_models import CellView
from scoring import revenue as rev
from scoring.cases import suggest_case
from scoring.health import health_band
from scoring.segments import cell_summary, mrr_split, revenue_health_cells
from scoring.tiers import score_tiers
from storage import revenue_data


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
    app_id = revenue_data.application_id(session, application)
    if app_id is None:
        raise UnknownApplication(f"no application named {application!r}: import its data first")
    return app_id


def load_subscriptions(session: Session, application: str) -> pd.DataFrame:
    """The application's subscriptions in the frame ``scoring.revenue`` reads."""
    return revenue_data.subscriptions(session, _application_id(session, application))


def load_org_names(session: Session, application: str) -> pd.Series:
    return revenue_data.org_names(session, _application_id(session, application))


def load_org_frame(session: Session | None, application: str, as_of: dt.date,
                   subs: pd.DataFrame | None = None, snapshots: pd.DataFrame | None = None,
                   open_signals: pd.DataFrame | None = None,
                   attributes: pd.DataFrame | None = None, mrr: pd.Series | None = None,
                   application_id: int | None = None) -> pd.DataFrame:
    """One row per org of the application (index org_id) with what tiers and cases read.

    Columns: name, owner, source, created_at, renewal_date, icp_fit, strategic, relationship,
    mrr, health, activity_score, usage_change, seat_utilization, last_seen, not_active (scanned,
    never seen in the product, no health score), and one boolean column per signal type (an
    open signal of that type).

    A scan passes what it has just written instead of reading it back: ``snapshots`` (the
    columns ``storage.revenue_data.latest_snapshot_numbers`` reads, as stored) and
    ``open_signals`` (org_id, type), and the org attributes it read (``attributes``: the
    columns of ``storage.revenue_data.org_attributes`` but the owner, which tiers and cases
    do not read) and the MRR on ``as_of`` it aggregated (``mrr``: the same subscriptions
    counted, summed by the database to the cent, so the same floats). With all of them and
    every org scanned, nothing is read: ``session`` may be None (a scan builds its segments
    while its own connection is busy storing its signals).
    """
    def reader() -> tuple[Session, int]:
        if session is None:
            raise ValueError("this org frame needs the database: only a scan's own frames make it without one")
        return session, (application_id if application_id is not None else _application_id(session, application))

    orgs = revenue_data.org_attributes(*reader()) if attributes is None else attributes.copy()

    if mrr is None:
        if subs is None:
            subs = revenue_data.subscriptions(*reader())
        mrr = rev.mrr_by_org(subs, as_of)
    orgs["mrr"] = mrr.reindex(orgs.index, fill_value=0.0)

    snaps = revenue_data.latest_snapshot_numbers(*reader(), as_of) if snapshots is None else snapshots
    orgs = orgs.join(snaps.drop(columns="last_seen"))
    last_seen = snaps["last_seen"].reindex(orgs.index)
    unscanned = orgs.index.difference(snaps.index)
    if len(unscanned):
        last_seen = last_seen.fillna(revenue_data.rollup_last_seen(*reader(), as_of, unscanned)
                                     .reindex(orgs.index))
    orgs["last_seen"] = last_seen
    # Scanned, never seen in the product and so without a health score: not active yet.
    orgs["not_active"] = (orgs.index.isin(snaps.index) & orgs["last_seen"].isna().to_numpy()
                          & orgs["health"].isna().to_numpy())

    if open_signals is None:
        open_signals = revenue_data.open_signal_types(*reader())
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


def segments_report(session: Session | None, application: str, as_of: dt.date, config: Config = Config(),
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


def case_suggestions(session: Session | None, application: str, as_of: dt.date, config: Config = Config(),
                     orgs: pd.DataFrame | None = None, segments: SegmentsReport | None = None) -> pd.DataFrame:
    """Per org (index org_id): case (risk / onboarding / expansion, or None) and why."""
    if orgs is None:
        orgs = load_org_frame(session, application, as_of)
    cells = (segments or segments_report(session, application, as_of, config, orgs)).cells
    frame = orgs.assign(cell=cells["cell"].reindex(orgs.index), band=health_band(orgs["health"], config))
    return suggest_case(frame, config.signals, config.segments.health_split)
