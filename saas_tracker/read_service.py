"""Queries behind every list and detail a person sees, returning the read models of views.py.

The terminal and Slack both call these; neither computes anything itself. Lists are built
from the latest scan's stored results (signals and health snapshots), so answering
`/signals` is a few indexed queries, not a scan.

Case suggestions, Revenue × Health cells and tiers come from ``revenue_service`` as of the
request's day. They are read once per call for the whole application (``load_segmentation``:
one ``load_org_frame``), never per org: the MRR split is the median over every paying org and
the revenue score a rank among them, so no org's segment can be computed on its own.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
import threading
import weakref
from collections import OrderedDict

import pandas as pd
from sqlalchemy import Engine, Float, and_, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from saas_tracker import revenue_service
from saas_tracker.config import (
    EXPANSION_CANDIDATE,
    HEALTH_COMPONENTS,
    INACTIVE_PAYING,
    REVENUE_AT_RISK,
    SIGNAL_LABELS,
    STATUS_ACTIVE,
    STATUS_SNOOZED,
    USAGE_DROP,
    Config,
)
from saas_tracker.formatting import format_money
from saas_tracker.views import (
    CellView,
    ComponentView,
    OrgDetail,
    OrgItem,
    SignalView,
    SubscriptionView,
    SummaryCards,
)
from scoring.health import health_band
from scoring.segments import CELL_KEYS, CELL_LABELS
from scoring.tiers import TIERS
from scoring.priority import priority_breakdown
from storage import queries
from storage.models import Application, CaseTag, HealthSnapshot, Org, ScanRun, Signal, Subscription

RISK_TYPES = (REVENUE_AT_RISK, USAGE_DROP, INACTIVE_PAYING)
COMPONENT_LABELS = {
    "activity": "Activity",
    "breadth": "Breadth",
    "seat_utilization": "Seat utilization",
    "trend": "Trend",
    "support": "Support",
    "sentiment": "Sentiment",
}
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


# --- segments, tiers and case suggestions, once per call --------------------------------

def _as_of_day(now: dt.datetime) -> dt.date:
    """The UTC day a request is answered for: the day revenue_service computes MRR on."""
    return now.astimezone(dt.timezone.utc).date() if now.tzinfo else now.date()


def application_name(session: Session, application_id: int) -> str:
    name = session.scalar(select(Application.name).where(Application.id == application_id))
    if name is None:
        raise revenue_service.UnknownApplication(f"no application with id {application_id}")
    return name


class Segmentation:
    """One application's org frame, cells, case suggestions and (on first use) tiers as of a
    day, and (on first use) every org's latest snapshots.

    Built by ``load_segmentation``; pass it on so one request reads the org frame once. It
    is shared by every request the cache serves (see ``load_segmentation``), so treat its
    frames as read-only.
    """

    def __init__(self, session: Session, application: str, as_of: dt.date, cfg: Config) -> None:
        self.application = application
        self.as_of = as_of
        self.cfg = cfg
        self.subscriptions = revenue_service.load_subscriptions(session, application)
        self.orgs = revenue_service.load_org_frame(session, application, as_of, subs=self.subscriptions)
        self.segments = revenue_service.segments_report(session, application, as_of, cfg, orgs=self.orgs)
        self.suggestions = revenue_service.case_suggestions(session, application, as_of, cfg, orgs=self.orgs)
        self._lock = threading.Lock()
        self._tiers: pd.DataFrame | None = None
        self._snapshots: pd.DataFrame | None = None

    @property
    def tiers(self) -> pd.DataFrame:
        """scoring.tiers columns per org (index org_id), in the configured mode."""
        with self._lock:
            if self._tiers is None:
                self._tiers = revenue_service.score_org_tiers(self.orgs, self.as_of, self.cfg)
            return self._tiers

    def latest_snapshots(self, session: Session, application_id: int) -> pd.DataFrame:
        """``latest_snapshots`` of every org, read on first use and kept with the rest: only a
        scan writes snapshots, and a new scan replaces this segmentation in the cache."""
        with self._lock:
            if self._snapshots is None:
                self._snapshots = latest_snapshots(session, application_id)
            return self._snapshots

    def cell_of(self, org_id: str) -> str | None:
        cells = self.segments.cells
        return _none_if_nan(cells.at[org_id, "cell"]) if org_id in cells.index else None

    def suggestion(self, org_id: str) -> tuple[str | None, str | None]:
        """(case, why) from revenue_service.case_suggestions; (None, None) without one."""
        if org_id not in self.suggestions.index:
            return None, None
        row = self.suggestions.loc[org_id]
        return _none_if_nan(row["case"]), _none_if_nan(row["why"])

    def orgs_in_cell(self, cell: str) -> pd.Index:
        cells = self.segments.cells
        return cells.index[cells["cell"] == cell]

    def orgs_in_tier(self, tier: str) -> pd.Index:
        return self.tiers.index[self.tiers["tier"] == tier]


# Segmentations kept per engine (so two databases in one process never share one), keyed by
# (application, latest successful scan run id, as-of day, configuration), at most
# _CACHE_SIZE per engine, least recently used dropped first.
_CACHE_SIZE = 4
_cache: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple, Segmentation]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def clear_segmentation_cache() -> None:
    """Forget every cached segmentation (tests and benchmarks; a new scan does it by itself)."""
    with _cache_lock:
        _cache.clear()


def _latest_scan_id(session: Session, application: str) -> int | None:
    return session.scalar(
        select(func.max(ScanRun.id)).join(Application, Application.id == ScanRun.application_id)
        .where(Application.name == application, ScanRun.status == "ok")
    )


def segmentation_for_day(session: Session, application: int | str, day: dt.date,
                         cfg: Config | None = None, *, cached: bool = True) -> Segmentation:
    """Cells, tiers and case suggestions of the application as of ``day``.

    Cached in-process between scans: the key is (database, application, id of the latest
    successful scan, ``day``, configuration), so the first read after a new scan, on a new
    day or with another configuration builds it afresh and the reads after it reuse it.
    Staleness rule: what a scan writes (health snapshots, signals) is in the next read at
    once; subscriptions and org attributes imported since the latest scan show up after the
    next scan (the lists' MRR, health and last seen are that scan's too). Before the first
    successful scan nothing is cached; ``cached=False`` builds afresh (a scan's own alerts
    read inside the scan's uncommitted transaction).
    """
    name = application if isinstance(application, str) else application_name(session, application)
    cfg = cfg or Config()
    scan_id = _latest_scan_id(session, name) if cached else None
    if scan_id is None:
        return Segmentation(session, name, day, cfg)
    engine = session.get_bind()
    key = (name, scan_id, day, repr(cfg))
    with _cache_lock:
        entries = _cache.setdefault(engine, OrderedDict())
        hit = entries.get(key)
        if hit is not None:
            entries.move_to_end(key)
            return hit
    seg = Segmentation(session, name, day, cfg)  # outside the lock: concurrent misses may both build
    with _cache_lock:
        entries = _cache.setdefault(engine, OrderedDict())
        entries[key] = seg
        entries.move_to_end(key)
        while len(entries) > _CACHE_SIZE:
            entries.popitem(last=False)
    return seg


def load_segmentation(session: Session, application: int | str, now: dt.datetime,
                      cfg: Config | None = None, *, cached: bool = True) -> Segmentation:
    """Cells, tiers and case suggestions of the application as of ``now``'s UTC day (cached:
    see ``segmentation_for_day``)."""
    return segmentation_for_day(session, application, _as_of_day(now), cfg, cached=cached)


# --- lists ------------------------------------------------------------------------------

def visible_condition(now: dt.datetime):
    """Signals on the active lists: active ones, and snoozed ones whose snooze has run out."""
    return or_(
        Signal.status == STATUS_ACTIVE,
        and_(Signal.status == STATUS_SNOOZED, Signal.snoozed_until <= now),
    )


def latest_snapshots(session: Session, application_id: int, org_ids: list[str] | None = None) -> pd.DataFrame:
    """Latest and previous health snapshot per org (all orgs, or ``org_ids``): health, band,
    MRR, last seen, day and the change of health since the previous snapshot.

    Both are found through the (org_id, day) index from the orgs (``queries.latest_snapshot_days``),
    so the cost does not grow with the snapshot history.
    """
    h = HealthSnapshot
    p = aliased(HealthSnapshot)
    latest = queries.latest_snapshot_days(application_id, org_ids=org_ids)
    prev_score = (
        select(p.score).where(p.org_id == latest.c.org_id, p.day < latest.c.day).order_by(p.day.desc()).limit(1)
        .scalar_subquery()
    )
    stmt = select(latest.c.org_id, h.score, h.band, cast(h.mrr, Float), h.last_seen, h.day, prev_score).join(
        h, and_(h.org_id == latest.c.org_id, h.day == latest.c.day)
    )
    columns = ["org_id", "score", "band", "mrr", "last_seen", "day", "prev_score"]
    latest = queries.rows_frame(session.execute(stmt).all(), columns).set_index("org_id")
    latest = latest.assign(
        score=pd.to_numeric(latest["score"]).astype(float),
        mrr=pd.to_numeric(latest["mrr"]).astype(float),
        prev_score=pd.to_numeric(latest["prev_score"]).astype(float),
    )
    latest["health_delta"] = latest["score"] - latest["prev_score"]
    return latest


_NO_SNAPSHOTS = pd.DataFrame({"mrr": pd.Series(dtype=float)}, index=pd.Index([], name="org_id"))

_SIGNAL_COLUMNS = (Signal.id, Signal.org_id, Signal.type, Signal.priority, Signal.reason, Signal.evidence,
                   Signal.status, Signal.opened_at, Signal.suggested_case, Signal.snoozed_until)
# What ranking and filtering need: no reason or evidence JSON to decode for every open signal.
_RANK_COLUMNS = (Signal.org_id, Signal.type, Signal.priority, Signal.suggested_case)


def _visible_signals(session: Session, application_id: int, now: dt.datetime,
                     org_ids: list[str] | None = None, columns: tuple = _SIGNAL_COLUMNS) -> pd.DataFrame:
    stmt = select(*columns).where(Signal.application_id == application_id, visible_condition(now))
    if org_ids is not None:
        stmt = stmt.where(Signal.org_id.in_(org_ids))
    return queries.rows_frame(session.execute(stmt).all(), [c.key for c in columns])


def _signal_view(row: dict) -> SignalView:
    return SignalView(
        id=int(row["id"]), type=row["type"], label=SIGNAL_LABELS[row["type"]], priority=float(row["priority"]),
        reason=row["reason"], evidence=dict(row["evidence"] or {}), status=row["status"],
        opened_at=row["opened_at"], suggested_case=row["suggested_case"], snoozed_until=row["snoozed_until"],
    )


def _none_if_nan(value):
    return None if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT else value


def _number(value) -> float | None:
    value = _none_if_nan(value)
    return None if value is None else float(value)


def suggested_case_for(signals: tuple[SignalView, ...]) -> str | None:
    """The top signal's suggested case: the fallback when revenue_service suggests nothing."""
    return signals[0].suggested_case if signals else None


def case_suggestion(segmentation: Segmentation, org_id: str,
                    signals: tuple[SignalView, ...] = ()) -> tuple[str | None, str | None]:
    """(case, why) shown until a person tags: revenue_service's suggestion, else the top signal's."""
    case, why = segmentation.suggestion(org_id)
    if case is None and signals and signals[0].suggested_case:
        return signals[0].suggested_case, f"suggested by its top signal, {signals[0].label}"
    return case, why


def build_items(session: Session, application_id: int, signals: pd.DataFrame, org_ids: list[str],
                now: dt.datetime | None = None, cfg: Config | None = None, *,
                segmentation: Segmentation | None = None, snapshots: pd.DataFrame | None = None) -> list[OrgItem]:
    """OrgItems for the given orgs (in that order) from their visible signals.

    The case suggestion is as of ``now`` (default: the current time); pass ``segmentation``
    and ``snapshots`` when the caller has already read them.
    """
    if not org_ids:
        return []
    if segmentation is None:
        segmentation = load_segmentation(session, application_id, now or dt.datetime.now(dt.timezone.utc), cfg)
    snaps = snapshots if snapshots is not None else latest_snapshots(session, application_id, org_ids)
    orgs = {o.org_id: o for o in session.scalars(select(Org).where(Org.org_id.in_(org_ids)))}
    tags = {t.org_id: t for t in session.scalars(select(CaseTag).where(CaseTag.org_id.in_(org_ids)))}
    wanted = signals[signals["org_id"].isin(org_ids)] if not signals.empty else signals
    ordered = wanted.sort_values(["priority", "type"], ascending=[False, True]) if not wanted.empty else wanted
    by_org = {org_id: group for org_id, group in ordered.groupby("org_id", sort=False)} if not ordered.empty else {}
    items = []
    for org_id in org_ids:  # the few orgs on one page, not the application
        sig = by_org.get(org_id)
        views = tuple(_signal_view(r) for r in sig.to_dict("records")) if sig is not None else ()
        snap = snaps.loc[org_id] if org_id in snaps.index else None
        org = orgs.get(org_id)
        if org is None:  # deleted since the signals were read
            continue
        tag = tags.get(org_id)
        top = views[0] if views else None
        items.append(
            OrgItem(
                org_id=org_id,
                name=org.name,
                owner=org.owner,
                mrr=float(snap["mrr"]) if snap is not None else 0.0,
                health=_none_if_nan(float(snap["score"])) if snap is not None else None,
                band=snap["band"] if snap is not None else None,
                health_delta=_none_if_nan(float(snap["health_delta"])) if snap is not None else None,
                last_seen=_none_if_nan(snap["last_seen"]) if snap is not None else None,
                priority=top.priority if top else 0.0,
                signals=views,
                reason=top.reason if top else "",
                case_type=tag.case_type if tag else None,
                case_by=tag.tagged_by if tag else None,
                case_at=tag.tagged_at if tag else None,
                case_suggested=case_suggestion(segmentation, org_id, views)[0],
            )
        )
    return items


def summary_cards(session: Session, application_id: int, now: dt.datetime,
                  signals: pd.DataFrame | None = None, snapshots: pd.DataFrame | None = None) -> SummaryCards:
    if signals is None:
        signals = _visible_signals(session, application_id, now, columns=_RANK_COLUMNS)
    snaps = snapshots if snapshots is not None else latest_snapshots(session, application_id)
    risk_orgs = signals.loc[signals["type"].isin(RISK_TYPES), "org_id"].unique()
    mrr_at_risk = float(snaps["mrr"].reindex(risk_orgs).fillna(0).sum()) if len(risk_orgs) else 0.0
    week_ago = now - WEEK
    opened = session.scalar(select(func.count()).select_from(Signal).where(
        Signal.application_id == application_id, Signal.opened_at > week_ago, Signal.opened_at <= now))
    resolved = session.scalar(select(func.count()).select_from(Signal).where(
        Signal.application_id == application_id, Signal.resolved_at > week_ago, Signal.resolved_at <= now))
    scanned_at = session.scalar(select(func.max(ScanRun.as_of)).where(
        ScanRun.application_id == application_id, ScanRun.status == "ok"))
    return SummaryCards(
        orgs_with_signals=int(signals["org_id"].nunique()),
        mrr_at_risk=mrr_at_risk,
        opened_this_week=int(opened or 0),
        resolved_this_week=int(resolved or 0),
        scanned_at=scanned_at,
        active_signals=int(len(signals)),
    )


def list_signals(session: Session, application_id: int, now: dt.datetime, flt: SignalFilter,
                 cfg: Config | None = None, *, segmentation: Segmentation | None = None) -> SignalList:
    """The ranked list: orgs ordered by their highest visible signal priority, then MRR.

    Case filters use the effective case: a person's tag, else the suggestion. Cell and tier
    filters use the segments as of ``now`` (``cfg`` gives the splits and tier mode).
    """
    ranks = _visible_signals(session, application_id, now, columns=_RANK_COLUMNS)
    if ranks.empty:  # no MRR at risk to add up: no snapshots needed
        return SignalList(cards=summary_cards(session, application_id, now, ranks, _NO_SNAPSHOTS), items=[], total=0)
    seg = segmentation or load_segmentation(session, application_id, now, cfg)
    snaps = seg.latest_snapshots(session, application_id)
    cards = summary_cards(session, application_id, now, ranks, snaps)

    # With a type filter, an org ranks by its signals of those types: the priority shown.
    rank_source = ranks[ranks["type"].isin(flt.types)] if flt.types else ranks
    top = rank_source.sort_values(["priority", "type"], ascending=[False, True]).drop_duplicates("org_id")
    frame = top.set_index("org_id")[["priority", "suggested_case"]].copy()
    suggested = seg.suggestions["case"].reindex(frame.index)
    frame["suggested"] = suggested.where(suggested.notna(), frame["suggested_case"])
    tags = dict(session.execute(
        select(CaseTag.org_id, CaseTag.case_type).join(Org, Org.org_id == CaseTag.org_id)
        .where(Org.application_id == application_id)
    ).all())
    tagged = pd.Series(tags, dtype=object).reindex(frame.index)
    frame["case"] = tagged.where(tagged.notna(), frame["suggested"])
    frame["owner"] = seg.orgs["owner"].reindex(frame.index)
    frame["mrr"] = snaps["mrr"].reindex(frame.index).fillna(0.0)
    if flt.types:
        frame = frame[frame.index.isin(ranks.loc[ranks["type"].isin(flt.types), "org_id"])]
    if flt.case_types:
        frame = frame[frame["case"].isin(flt.case_types)]
    if flt.owners:
        wanted = {o.lower() for o in flt.owners}
        frame = frame[frame["owner"].fillna("").str.lower().isin(wanted)]
    if flt.org_ids is not None:
        frame = frame[frame.index.isin(flt.org_ids)]
    if flt.cell is not None:
        frame = frame[frame.index.isin(seg.orgs_in_cell(flt.cell))]
    if flt.tier is not None:
        frame = frame[frame.index.isin(seg.orgs_in_tier(flt.tier))]
    frame = frame.rename_axis("org_id").reset_index().sort_values(
        ["priority", "mrr", "org_id"], ascending=[False, False, True])
    chosen = frame["org_id"].head(flt.top).tolist()
    signals = _visible_signals(session, application_id, now, org_ids=chosen) if chosen else ranks.iloc[0:0]
    if flt.types:
        signals = signals[signals["type"].isin(flt.types)]
    items = build_items(session, application_id, signals, chosen, now, cfg, segmentation=seg, snapshots=snaps)
    return SignalList(cards=cards, items=items, total=len(frame))


def items_for_signals(session: Session, application_id: int, signal_ids: list[int], now: dt.datetime,
                      cfg: Config | None = None) -> list[OrgItem]:
    """Items for specific signals (alerts), ordered by priority."""
    rows = session.execute(select(*_SIGNAL_COLUMNS).where(Signal.id.in_(signal_ids))).all()
    signals = pd.DataFrame.from_records(rows, columns=[c.key for c in _SIGNAL_COLUMNS])
    if signals.empty:
        return []
    order = signals.groupby("org_id")["priority"].max().sort_values(ascending=False).index.tolist()
    # Alerts are read inside the scan's own transaction, before it commits: never from the cache.
    seg = load_segmentation(session, application_id, now, cfg, cached=False)
    return build_items(session, application_id, signals, order, now, cfg, segmentation=seg)


def cell_orgs(session: Session, application: int | str, cell_key: str, now: dt.datetime,
              cfg: Config | None = None, *, segmentation: Segmentation | None = None,
              ) -> tuple[CellView, list[tuple[str, str, float, float | None, str | None]]]:
    """One Revenue × Health cell and its orgs, highest MRR first: (org_id, name, mrr, health, band).

    MRR is the subscriptions' MRR on ``now``'s day (what placed the org in the cell); the band
    is the health band of that health score.
    """
    if cell_key not in CELL_KEYS:
        raise ValueError(f"unknown cell {cell_key!r}: use one of {', '.join(CELL_KEYS)}")
    seg = segmentation or load_segmentation(session, application, now, cfg)
    cells = seg.segments.cells
    members = cells[cells["cell"] == cell_key].rename_axis("org_id").reset_index()
    members = members.sort_values(["mrr", "name", "org_id"], ascending=[False, True, True])
    bands = health_band(members["health"], seg.cfg).tolist()
    (view,) = [v for v in revenue_service.cell_views(seg.segments.summary) if v.key == cell_key]
    rows = [
        (str(org_id), str(name), float(mrr), _number(health), _none_if_nan(band))
        for org_id, name, mrr, health, band in zip(
            members["org_id"], members["name"], members["mrr"], members["health"], bands)
    ]
    return view, rows


# --- org lookup -------------------------------------------------------------------------

@dataclass(frozen=True)
class OrgMatch:
    org_id: str
    name: str
    domain: str | None


@dataclass(frozen=True)
class LookupResult:
    matches: list[OrgMatch]  # one = found; several = ask which
    closest: list[str]  # names to suggest when nothing matched


def find_orgs(session: Session, application_id: int, query: str, limit: int = 10) -> LookupResult:
    """Id, domain or case-insensitive name; then substring; then the closest names."""
    q = query.strip()
    if not q:
        return LookupResult([], [])
    ql = q.lower()
    base = select(Org.org_id, Org.name, Org.domain).where(Org.application_id == application_id)
    exact = session.execute(
        base.where(or_(Org.org_id == q, func.lower(Org.domain) == ql, func.lower(Org.name) == ql)).order_by(Org.name)
    ).all()
    if exact:
        by_id = [r for r in exact if r.org_id == q]
        chosen = by_id or exact
        return LookupResult([OrgMatch(*r) for r in chosen[:limit]], [])
    like = f"%{ql.replace('%', '').replace('_', '')}%"
    partial = session.execute(
        base.where(or_(func.lower(Org.name).like(like), func.lower(Org.domain).like(like))).order_by(Org.name).limit(limit)
    ).all()
    if partial:
        return LookupResult([OrgMatch(*r) for r in partial], [])
    names = session.scalars(select(Org.name).where(Org.application_id == application_id)).all()
    lowered = {n.lower(): n for n in names}
    closest = difflib.get_close_matches(ql, list(lowered), n=5, cutoff=0.5)
    return LookupResult([], [lowered[c] for c in closest])


# --- org detail -------------------------------------------------------------------------

def _component_text(name: str, comp: dict, usage: dict, cfg: Config) -> str:
    value = comp.get("value")
    if value is None:
        return "no data"
    if name == "activity":
        return (f"{value:.0f} active days in the last {cfg.scan.activity_window_days} "
                f"({cfg.scan.activity_full_days} = full score)")
    if name == "breadth":
        kind = "key features" if cfg.health.key_features else "features"
        return f"{usage.get('recent_key_features', value):.0f} {kind} used in the last {cfg.scan.recent_window_days} days"
    if name == "seat_utilization":
        return f"{usage.get('recent_active_users', 0)} active users ({value:.0%} of seats)"
    if name == "trend":
        return f"events {value * 100:+.0f}% vs previous {cfg.scan.recent_window_days} days"
    if name == "support":
        return f"{usage.get('open_tickets', 0)} open tickets"
    if name == "sentiment":
        return f"NPS {value:+.0f} ({usage.get('survey_responses', 0)} responses)"
    return f"{value}"


def why_this_rank(item: OrgItem, cfg: Config) -> str | None:
    """The priority formula with the org's own numbers, for its top signal (SPEC §4)."""
    if not item.signals:
        return None
    top = item.signals[0]
    severity = top.evidence.get("severity")
    if severity is None:
        return None
    mrr = float(top.evidence.get("mrr") or item.mrr or 0.0)
    b = priority_breakdown(top.type, float(severity), mrr, cfg).iloc[0]
    return (f"Priority {b['priority']:.1f} = {b['type_weight']:.2f} ({top.label}) × "
            f"({b['base_points']:.0f} base + {b['severity_points']:.1f} for severity {b['severity']:.2f} "
            f"+ {b['revenue_points']:.1f} for {format_money(mrr, cfg.currency_symbol)} MRR)")


def org_detail(session: Session, application_id: int, org_id: str, now: dt.datetime, cfg: Config, *,
               segmentation: Segmentation | None = None) -> OrgDetail | None:
    """Everything `/org` shows, with the org's cell, tier, quadrant and case suggestion as of ``now``.

    ``extras`` carries numbers a renderer may show: ``case_why`` (the suggestion's reason),
    ``cell_key``, ``value``, ``potential`` and ``account_priority`` (0-100, None when no
    input was available) and ``tier_mode``.
    """
    org = session.get(Org, org_id)
    if org is None or org.application_id != application_id:
        return None
    seg = segmentation or load_segmentation(session, application_id, now, cfg)
    signals = _visible_signals(session, application_id, now, org_ids=[org_id])
    (item,) = build_items(session, application_id, signals, [org_id], now, cfg, segmentation=seg)

    snaps = session.scalars(
        select(HealthSnapshot).where(HealthSnapshot.org_id == org_id).order_by(HealthSnapshot.day.desc()).limit(2)
    ).all()
    latest = snaps[0] if snaps else None
    previous = snaps[1] if len(snaps) > 1 else None
    components: list[ComponentView] = []
    moved: list[tuple[str, float]] = []
    if latest is not None:
        usage = latest.usage or {}
        for name in HEALTH_COMPONENTS:
            comp = (latest.components or {}).get(name) or {}
            left_out = name in (latest.left_out or [])
            components.append(ComponentView(
                name=name, label=COMPONENT_LABELS[name], value=comp.get("value"),
                value_text=_component_text(name, comp, usage, cfg), score=comp.get("score"),
                weight=comp.get("weight"), contribution=comp.get("contribution"), left_out=left_out,
            ))
            if previous is not None:
                before = ((previous.components or {}).get(name) or {}).get("score")
                now_score = comp.get("score")
                if before is not None and now_score is not None and abs(now_score - before) >= 1:
                    moved.append((COMPONENT_LABELS[name].lower(), round(now_score - before, 1)))
        moved.sort(key=lambda m: -abs(m[1]))

    subs = session.scalars(
        select(Subscription).where(Subscription.org_id == org_id).order_by(Subscription.started_at.desc())
    ).all()
    today = now.date()
    sub_views = tuple(
        SubscriptionView(
            subscription_id=s.subscription_id, product=s.product, plan=s.plan, mrr=float(s.mrr), status=s.status,
            started_at=s.started_at, ended_at=s.ended_at,
            counts_now=(s.started_at <= today and (s.ended_at is None or s.ended_at > today)
                        and s.status != "trialing" and not (s.status == "canceled" and s.ended_at is None)),
        )
        for s in subs
    )
    end_day = latest.day if latest is not None else today
    cell_key = seg.cell_of(org_id)
    tiers = seg.tiers.loc[org_id] if org_id in seg.tiers.index else None
    extras: dict[str, object] = {
        "case_why": case_suggestion(seg, org_id, item.signals)[1],
        "cell_key": cell_key,
        "value": _number(tiers["value"]) if tiers is not None else None,
        "potential": _number(tiers["potential"]) if tiers is not None else None,
        "account_priority": _number(tiers["account_priority"]) if tiers is not None else None,
        "tier_mode": seg.cfg.tiers.mode,
        "why_rank": why_this_rank(item, seg.cfg),
    }
    return OrgDetail(
        item=item,
        domain=org.domain,
        plan=org.plan,
        seats=org.seats,
        created_at=org.created_at,
        components=tuple(components),
        moved=tuple(moved),
        usage_weeks=tuple(queries.weekly_usage(session, org_id, end_day)),
        subscriptions=sub_views,
        mrr_history=tuple(mrr_history(sub_views)),
        renewal_date=org.renewal_date,
        cell=CELL_LABELS[cell_key] if cell_key else None,
        tier=_none_if_nan(tiers["tier"]) if tiers is not None else None,
        quadrant=_none_if_nan(tiers["quadrant"]) if tiers is not None else None,
        extras=extras,
    )


def mrr_history(subs: tuple[SubscriptionView, ...]) -> list[tuple[dt.date, float]]:
    """The org's MRR after every date on which a subscription started or ended."""
    counted = [s for s in subs if s.status != "trialing" and not (s.status == "canceled" and s.ended_at is None)]
    dates = sorted({s.started_at for s in counted} | {s.ended_at for s in counted if s.ended_at})
    history: list[tuple[dt.date, float]] = []
    for day in dates:  # one row per change date of one org
        mrr = sum(s.mrr for s in counted if s.started_at <= day and (s.ended_at is None or s.ended_at > day))
        if not history or history[-1][1] != mrr:
            history.append((day, round(mrr, 2)))
    return history
