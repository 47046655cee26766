"""The ranked list of orgs with open signals (`/signals`, the digest, alerts, App Home).

Lists are built from the latest scan's stored results (signals and health snapshots), so
answering `/signals` is a few indexed queries, not a scan. Case suggestions, cells and tiers
come from the application's cached segmentation (``services.segmentation``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.orm import Session

from domain.config import Config
from domain.values import none_if_missing
from domain.vocabulary import (
    CASE_TYPES,
    INACTIVE_PAYING,
    RISK_SIGNAL_TYPES,
    SIGNAL_LABELS,
)
from domain.vocabulary import CELL_KEYS
from domain.vocabulary import TIERS
from services.read_models import OrgItem, SignalView, SummaryCards
from services.segmentation import Segmentation, StoredSegmentation, load_segmentation, stored_segmentation_at
from storage.snapshots import latest_snapshots
from storage import owners, scan_runs, signal_ranking, signal_reads

RISK_TYPES = RISK_SIGNAL_TYPES
CASE_ONBOARDING = CASE_TYPES[1]
WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class SignalFilter:
    """What a person asked for: `/signals top 5 risk mine`, `saas-tracker signals --type drop`.

    ``cell`` is a Revenue × Health cell key (scoring.segments.CELL_KEYS) and ``tier`` a tier
    name ("Tier 2"); anything else is refused here, so a typo never silently lists nothing.
    """

    top: int = 10
    types: frozenset[str] = frozenset()
    case_types: frozenset[str] = frozenset()
    owners: frozenset[str] = frozenset()  # empty = everyone's orgs
    org_ids: frozenset[str] | None = None  # restrict to these orgs
    description: tuple[str, ...] = field(default_factory=tuple)
    cell: str | None = None  # "champions", "revenue_at_risk", "watch", "expansion"
    tier: str | None = None  # "Tier 1" … "Tier 4"

    def __post_init__(self) -> None:
        if self.cell is not None and self.cell not in CELL_KEYS:
            raise ValueError(f"unknown cell {self.cell!r}: use one of {', '.join(CELL_KEYS)}")
        if self.tier is not None and self.tier not in TIERS:
            raise ValueError(f"unknown tier {self.tier!r}: use one of {', '.join(TIERS)}")


@dataclass(frozen=True)
class SignalList:
    cards: SummaryCards
    items: list[OrgItem]
    total: int  # orgs matching the filter before the top-N cut


_NO_SNAPSHOTS = pd.DataFrame({"mrr": pd.Series(dtype=float)}, index=pd.Index([], name="org_id"))

_RANK_COLUMNS = signal_reads.RANK_COLUMNS
visible_signals = signal_reads.visible_signals


def _signal_view(row: dict) -> SignalView:
    return SignalView(
        id=int(row["id"]), type=row["type"], label=SIGNAL_LABELS[row["type"]], priority=float(row["priority"]),
        reason=row["reason"], evidence=dict(row["evidence"] or {}), status=row["status"],
        opened_at=row["opened_at"], suggested_case=row["suggested_case"], snoozed_until=row["snoozed_until"],
    )


def suggested_case_for(signals: tuple[SignalView, ...]) -> str | None:
    """The top signal's suggested case: the fallback when the segmentation suggests nothing."""
    return signals[0].suggested_case if signals else None


def case_suggestion(segmentation: Segmentation | StoredSegmentation, org_id: str,
                    signals: tuple[SignalView, ...] = ()) -> tuple[str | None, str | None]:
    """(case, why) shown until a person tags: the segmentation's suggestion, else the top signal's."""
    case, why = segmentation.suggestion(org_id)
    if case is None and signals and signals[0].suggested_case:
        return signals[0].suggested_case, f"suggested by its top signal, {signals[0].label}"
    return case, why


def build_items(session: Session, application_id: int, signals: pd.DataFrame, org_ids: list[str],
                now: dt.datetime | None = None, cfg: Config | None = None, *,
                segmentation: Segmentation | StoredSegmentation | None = None,
                snapshots: pd.DataFrame | None = None) -> list[OrgItem]:
    """OrgItems for the given orgs (in that order) from their visible signals.

    The case suggestion is as of ``now`` (default: the current time); pass ``segmentation``
    and ``snapshots`` when the caller has already read them.
    """
    if not org_ids:
        return []
    if segmentation is None:
        segmentation = load_segmentation(session, application_id, now or dt.datetime.now(dt.timezone.utc), cfg)
    snaps = snapshots if snapshots is not None else latest_snapshots(session, application_id, org_ids)
    orgs = signal_reads.orgs_by_id(session, org_ids)
    owner_of = owners.effective_owners(session, application_id, org_ids)  # an assignment wins over the import
    tags = signal_reads.case_tags_of(session, org_ids)
    wanted = signals[signals["org_id"].isin(org_ids)] if not signals.empty else signals
    ordered = wanted.sort_values(["priority", "type"], ascending=[False, True]) if not wanted.empty else wanted
    # Plain rows, converted once: indexing a frame per org cost more than the rest of a page.
    by_org: dict[str, list[SignalView]] = {}
    for row in (ordered.to_dict("records") if not ordered.empty else []):
        by_org.setdefault(row["org_id"], []).append(_signal_view(row))
    snap_of = snaps[snaps.index.isin(org_ids)].to_dict("index")  # one row per org
    items = []
    for org_id in org_ids:  # the few orgs on one page, not the application
        views = tuple(by_org.get(org_id, ()))
        snap = snap_of.get(org_id)
        org = orgs.get(org_id)
        if org is None:  # deleted since the signals were read
            continue
        tag = tags.get(org_id)
        top = views[0] if views else None
        items.append(
            OrgItem(
                org_id=org_id,
                name=org.name,
                owner=owner_of.get(org_id, org.owner),
                mrr=float(snap["mrr"]) if snap is not None else 0.0,
                health=none_if_missing(float(snap["score"])) if snap is not None else None,
                band=snap["band"] if snap is not None else None,
                health_delta=none_if_missing(float(snap["health_delta"])) if snap is not None else None,
                last_seen=none_if_missing(snap["last_seen"]) if snap is not None else None,
                priority=top.priority if top else 0.0,
                signals=views,
                reason=top.reason if top else "",
                case_type=tag.case_type if tag else None,
                case_by=tag.tagged_by if tag else None,
                case_at=tag.tagged_at if tag else None,
                case_suggested=case_suggestion(segmentation, org_id, views)[0],
                not_active=bool(snap is not None and pd.isna(snap["score"]) and pd.isna(snap["last_seen"])),
            )
        )
    return items


def at_risk_orgs(signals: pd.DataFrame) -> tuple[pd.Index, pd.Index]:
    """(orgs at risk, orgs in onboarding) among visible signals (columns org_id, type,
    suggested_case). *At risk* means one thing everywhere: an active risk signal — Revenue at
    risk, Usage drop, or Inactive paying on an org that was active before. Inactive paying on
    an org not active yet is onboarding (its suggested case), never risk."""
    if signals.empty:
        return pd.Index([]), pd.Index([])
    onboarding = (signals["type"] == INACTIVE_PAYING) & (signals["suggested_case"] == CASE_ONBOARDING)
    risky = signals["type"].isin(RISK_TYPES) & ~onboarding
    risk_orgs = pd.Index(signals.loc[risky, "org_id"].unique())
    onboarding_orgs = pd.Index(signals.loc[onboarding, "org_id"].unique()).difference(risk_orgs)
    return risk_orgs, onboarding_orgs


def summary_cards(session: Session, application_id: int, now: dt.datetime,
                  signals: pd.DataFrame | None = None, snapshots: pd.DataFrame | None = None) -> SummaryCards:
    if signals is None:
        signals = visible_signals(session, application_id, now, columns=_RANK_COLUMNS)
    snaps = snapshots if snapshots is not None else latest_snapshots(session, application_id)
    risk_orgs, onboarding_orgs = at_risk_orgs(signals)
    mrr_at_risk = float(snaps["mrr"].reindex(risk_orgs).fillna(0).sum()) if len(risk_orgs) else 0.0
    onboarding_mrr = float(snaps["mrr"].reindex(onboarding_orgs).fillna(0).sum()) if len(onboarding_orgs) else 0.0
    week_ago = now - WEEK
    opened, resolved = signal_reads.opened_and_resolved_between(session, application_id, week_ago, now)
    scanned_at = scan_runs.latest_ok_scan_time(session, application_id)
    return SummaryCards(
        orgs_with_signals=int(signals["org_id"].nunique()),
        mrr_at_risk=mrr_at_risk,
        opened_this_week=int(opened or 0),
        resolved_this_week=int(resolved or 0),
        scanned_at=scanned_at,
        active_signals=int(len(signals)),
        onboarding_mrr=onboarding_mrr,
    )


def list_signals(session: Session, application_id: int, now: dt.datetime, flt: SignalFilter,
                 cfg: Config | None = None, *, segmentation: Segmentation | StoredSegmentation | None = None,
                 ) -> SignalList:
    """The ranked list: orgs ordered by their highest visible signal priority, then MRR.

    Case filters use the effective case: a person's tag, else the suggestion. Cell and tier
    filters use the segments as of ``now`` (``cfg`` gives the splits and tier mode).
    """
    seg = segmentation if segmentation is not None else stored_segmentation_at(session, application_id, now, cfg)
    if isinstance(seg, StoredSegmentation):
        return _stored_list(session, application_id, now, flt, cfg, seg)
    return _frame_list(session, application_id, now, flt, cfg, seg)


def _stored_list(session: Session, application_id: int, now: dt.datetime, flt: SignalFilter,
                 cfg: Config | None, seg: StoredSegmentation) -> SignalList:
    """The list ranked, filtered and cut by the database from the scan's stored segments."""
    # While no snooze has run out, each org's place as stored answers: the first rows of an
    # index are read instead of every org with a signal being ranked.
    ran_out = signal_ranking.snooze_ran_out(session, application_id, now)
    counts = (signal_ranking.rank_counts(session, application_id, now) if ran_out
              else signal_ranking.stored_rank_counts(session, application_id))
    if not ran_out and not (flt.types or flt.case_types or flt.owners or flt.org_ids is not None):
        chosen, total = signal_ranking.stored_ranked_orgs(session, application_id, flt.top, flt.cell, flt.tier)
    else:
        rank_filter = signal_ranking.RankFilter(types=flt.types, case_types=flt.case_types, owners=flt.owners,
                                                org_ids=flt.org_ids, cell=flt.cell, tier=flt.tier)
        chosen, total = signal_ranking.ranked_orgs(session, application_id, now, rank_filter, flt.top)
    opened, resolved = signal_reads.opened_and_resolved_between(session, application_id, now - WEEK, now)
    cards = SummaryCards(
        orgs_with_signals=counts.orgs_with_signals, mrr_at_risk=counts.mrr_at_risk,
        opened_this_week=opened, resolved_this_week=resolved,
        scanned_at=scan_runs.latest_ok_scan_time(session, application_id),
        active_signals=counts.active_signals, onboarding_mrr=counts.onboarding_mrr,
    )
    if not chosen:
        return SignalList(cards=cards, items=[], total=total)
    signals = visible_signals(session, application_id, now, org_ids=chosen)
    if flt.types:
        signals = signals[signals["type"].isin(flt.types)]
    items = build_items(session, application_id, signals, chosen, now, cfg, segmentation=seg,
                        snapshots=seg.snapshots_of(session, application_id, chosen))
    return SignalList(cards=cards, items=items, total=total)


def _frame_list(session: Session, application_id: int, now: dt.datetime, flt: SignalFilter,
                cfg: Config | None, segmentation: Segmentation | StoredSegmentation | None) -> SignalList:
    """The list ranked in pandas from every visible signal (the segments are computed, not stored)."""
    ranks = visible_signals(session, application_id, now, columns=_RANK_COLUMNS)
    if ranks.empty:  # no MRR at risk to add up: no snapshots needed
        return SignalList(cards=summary_cards(session, application_id, now, ranks, _NO_SNAPSHOTS), items=[], total=0)
    seg = segmentation or load_segmentation(session, application_id, now, cfg)
    snaps = seg.signal_snapshots(session, application_id, now)
    cards = summary_cards(session, application_id, now, ranks, snaps)

    # With a type filter, an org ranks by its signals of those types: the priority shown.
    rank_source = ranks[ranks["type"].isin(flt.types)] if flt.types else ranks
    top = rank_source.sort_values(["priority", "type"], ascending=[False, True]).drop_duplicates("org_id")
    frame = top.set_index("org_id")[["priority", "suggested_case"]].copy()
    suggested = seg.suggested_cases(frame.index)
    frame["suggested"] = suggested.where(suggested.notna(), frame["suggested_case"])
    tags = signal_reads.case_types(session, application_id)
    tagged = pd.Series(tags, dtype=object).reindex(frame.index)
    frame["case"] = tagged.where(tagged.notna(), frame["suggested"])
    frame["mrr"] = snaps["mrr"].reindex(frame.index).fillna(0.0)
    if flt.types:
        frame = frame[frame.index.isin(ranks.loc[ranks["type"].isin(flt.types), "org_id"])]
    if flt.case_types:
        frame = frame[frame["case"].isin(flt.case_types)]
    if flt.owners:
        # Owners are read now, not from the cached segmentation: an Assign made since the
        # last scan counts at once.
        wanted = {o.lower() for o in flt.owners}
        owner_of = owners.effective_owners(session, application_id)
        frame = frame[[(owner_of.get(org_id) or "").lower() in wanted for org_id in frame.index]]
    if flt.org_ids is not None:
        frame = frame[frame.index.isin(flt.org_ids)]
    if flt.cell is not None:
        frame = frame[frame.index.isin(seg.orgs_in_cell(flt.cell))]
    if flt.tier is not None:
        frame = frame[frame.index.isin(seg.orgs_in_tier(flt.tier))]
    frame = frame.rename_axis("org_id").reset_index().sort_values(
        ["priority", "mrr", "org_id"], ascending=[False, False, True])
    chosen = frame["org_id"].head(flt.top).tolist()
    signals = visible_signals(session, application_id, now, org_ids=chosen) if chosen else ranks.iloc[0:0]
    if flt.types:
        signals = signals[signals["type"].isin(flt.types)]
    items = build_items(session, application_id, signals, chosen, now, cfg, segmentation=seg,
                        snapshots=seg.snapshots_of(session, application_id, chosen))
    return SignalList(cards=cards, items=items, total=len(frame))


def items_for_signals(session: Session, application_id: int, signal_ids: list[int], now: dt.datetime,
                      cfg: Config | None = None) -> list[OrgItem]:
    """Items for specific signals (alerts), ordered by priority."""
    signals = signal_reads.signals_by_id(session, signal_ids)
    if signals.empty:
        return []
    order = signals.groupby("org_id")["priority"].max().sort_values(ascending=False).index.tolist()
    # Alerts are read inside the scan's own transaction, before it commits: never from the cache.
    seg = load_segmentation(session, application_id, now, cfg, cached=False)
    return build_items(session, application_id, signals, order, now, cfg, segmentation=seg)
