"""Revenue × Health cells, tiers and case suggestions of a whole application, read once
and cached between scans.

Segments can't be computed one org at a time: the MRR split is the median over every paying
org and the revenue score is a rank among them. So a request reads the org frame once
(``load_segmentation``) and every list, detail and cell view of that request shares it; the
result is cached per (database, application, latest scan, day, configuration) so the next
request after it is a dictionary lookup.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections import OrderedDict

from typing import Any, cast

import pandas as pd
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from domain.config import Config
from domain.values import as_float, none_if_missing
from scoring.health import health_band
from domain.vocabulary import CELL_KEYS, CELL_LABELS
from services import revenue
from services.config_history import segments_fingerprint
from services.read_models import CellView
from storage import db, org_segments, scan_runs, signals
from storage.models import OrgSegment
from storage.snapshots import latest_snapshots

def _as_of_day(now: dt.datetime) -> dt.date:
    """The UTC day a request is answered for: the day services.revenue computes MRR on."""
    return now.astimezone(dt.timezone.utc).date() if now.tzinfo else now.date()


def application_name(session: Session, application_id: int) -> str:
    app = db.application_by_id(session, application_id)
    if app is None:
        raise revenue.UnknownApplication(f"no application with id {application_id}")
    return app.name


class Segmentation:
    """One application's org frame, cells, case suggestions and (on first use) tiers as of a
    day, and (on first use) every org's latest snapshots.

    Built by ``load_segmentation``; pass it on so one request reads the org frame once. It
    is shared by every request the cache serves (see ``load_segmentation``), so treat its
    frames as read-only.
    """

    def __init__(self, session: Session | None, application: str, as_of: dt.date, cfg: Config, *,
                 snapshots: pd.DataFrame | None = None, open_signals: pd.DataFrame | None = None,
                 attributes: pd.DataFrame | None = None, mrr: pd.Series | None = None,
                 application_id: int | None = None) -> None:
        self.application = application
        self.as_of = as_of
        self.cfg = cfg
        # A scan hands over the attributes and MRR it has just aggregated (see
        # ``revenue.load_org_frame``): then no subscriptions are read, and none are kept. It
        # hands over everything else too, and no session: nothing is read at all.
        if mrr is None:
            if session is None:
                raise ValueError("a segmentation without a session needs the scan's MRR")
            self._subscriptions: pd.DataFrame | None = revenue.load_subscriptions(session, application)
        else:
            self._subscriptions = None
        self.orgs = revenue.load_org_frame(session, application, as_of, subs=self._subscriptions,
                                           snapshots=snapshots, open_signals=open_signals,
                                           attributes=attributes, mrr=mrr, application_id=application_id)
        self.segments = revenue.segments_report(session, application, as_of, cfg, orgs=self.orgs)
        self.suggestions = revenue.case_suggestions(session, application, as_of, cfg, orgs=self.orgs,
                                                    segments=self.segments)
        self._lock = threading.Lock()
        self._tiers: pd.DataFrame | None = None
        self._snapshots: pd.DataFrame | None = None

    @property
    def subscriptions(self) -> pd.DataFrame:
        """The application's subscriptions (``revenue.load_subscriptions``)."""
        if self._subscriptions is None:
            raise ValueError("this segmentation was built from a scan's MRR: it holds no subscriptions")
        return self._subscriptions

    @property
    def tiers(self) -> pd.DataFrame:
        """scoring.tiers columns per org (index org_id), in the configured mode."""
        with self._lock:
            if self._tiers is None:
                self._tiers = revenue.score_org_tiers(self.orgs, self.as_of, self.cfg)
            return self._tiers

    def latest_snapshots(self, session: Session, application_id: int) -> pd.DataFrame:
        """``latest_snapshots`` of every org, read on first use and kept with the rest: only a
        scan writes snapshots, and a new scan replaces this segmentation in the cache."""
        with self._lock:
            if self._snapshots is None:
                self._snapshots = latest_snapshots(session, application_id)
            return self._snapshots

    def signal_snapshots(self, session: Session, application_id: int, now: dt.datetime) -> pd.DataFrame:
        """Latest snapshots (at least an ``mrr`` column, index org_id) of at least every org with
        a visible signal at ``now``: what ranking a list needs."""
        return self.latest_snapshots(session, application_id)

    def snapshots_of(self, session: Session, application_id: int, org_ids: list[str]) -> pd.DataFrame:
        """Latest snapshots (``storage.snapshots.latest_snapshots`` columns) of at least ``org_ids``."""
        return self.latest_snapshots(session, application_id)

    def suggested_cases(self, org_ids: pd.Index) -> pd.Series:
        """The suggested case of each of ``org_ids`` (None/NaN without one)."""
        return self.suggestions["case"].reindex(org_ids)

    def tier_of(self, org_id: str) -> dict[str, Any] | None:
        """The org's tier, quadrant, value, potential and account priority (None: not tiered)."""
        tiers = self.tiers
        if org_id not in tiers.index:
            return None
        row = tiers.loc[org_id]
        return {k: row[k] for k in TIER_FIELDS}

    def cell_summary(self) -> pd.DataFrame:
        """The four cells: key, label, org_count, mrr (``scoring.segments.cell_summary``)."""
        return self.segments.summary

    def cell_members(self, cell: str) -> pd.DataFrame:
        """One cell's orgs: org_id, name, mrr, health."""
        cells = self.segments.cells
        return cells.loc[cells["cell"] == cell, ["name", "mrr", "health"]].rename_axis("org_id").reset_index()

    def cell_of(self, org_id: str) -> str | None:
        cells = self.segments.cells
        return none_if_missing(cells.at[org_id, "cell"]) if org_id in cells.index else None

    def suggestion(self, org_id: str) -> tuple[str | None, str | None]:
        """(case, why) from revenue.case_suggestions; (None, None) without one."""
        if org_id not in self.suggestions.index:
            return None, None
        row = self.suggestions.loc[org_id]
        return none_if_missing(row["case"]), none_if_missing(row["why"])

    def orgs_in_cell(self, cell: str) -> pd.Index:
        cells = self.segments.cells
        return cells.index[cells["cell"] == cell]

    def orgs_in_tier(self, tier: str) -> pd.Index:
        return self.tiers.index[self.tiers["tier"] == tier]


TIER_FIELDS = ("tier", "quadrant", "value", "potential", "account_priority")


class StoredSegmentation:
    """The segments the latest scan stored (``storage.org_segments``): the same answers as a
    ``Segmentation`` of the scan's day and configuration, read per org or per cell from the
    database instead of computed for the whole application. Rows read are kept for the rest
    of the request."""

    def __init__(self, application_id: int, as_of: dt.date, cfg: Config) -> None:
        self.application_id = application_id
        self.as_of = as_of
        self.cfg = cfg
        self._session: Session | None = None
        self._rows: dict[str, dict[str, Any] | None] = {}
        self._cases: dict[str, str | None] = {}

    def _remember(self, frame: pd.DataFrame) -> None:
        for org_id, row in zip(frame.index, frame.to_dict("records")):
            self._rows[org_id] = cast(dict[str, Any], row)

    def _row(self, org_id: str) -> dict[str, Any] | None:
        if org_id not in self._rows:
            assert self._session is not None
            found = org_segments.rows(self._session, self.application_id, OrgSegment.org_id == org_id)
            self._rows[org_id] = None
            self._remember(found)
        return self._rows[org_id]

    def signal_snapshots(self, session: Session, application_id: int, now: dt.datetime) -> pd.DataFrame:
        frame = org_segments.rank_rows(session, application_id, OrgSegment.org_id.in_(
            signals.visible_org_ids(application_id, now)))
        self._cases.update(zip(frame.index, frame["suggested_case"].tolist()))
        return frame

    def snapshots_of(self, session: Session, application_id: int, org_ids: list[str]) -> pd.DataFrame:
        frame = org_segments.rows(session, application_id, OrgSegment.org_id.in_(list(org_ids)))
        self._remember(frame)
        return _snapshot_frame(frame)

    def latest_snapshots(self, session: Session, application_id: int) -> pd.DataFrame:
        frame = org_segments.rows(session, application_id)
        self._remember(frame)
        return _snapshot_frame(frame)

    def suggested_cases(self, org_ids: pd.Index) -> pd.Series:
        return pd.Series([self._cases[o] if o in self._cases else (self._row(o) or {}).get("suggested_case")
                          for o in org_ids], index=org_ids, dtype=object)

    def suggestion(self, org_id: str) -> tuple[str | None, str | None]:
        row = self._row(org_id)
        if row is None:
            return None, None
        return none_if_missing(row["suggested_case"]), none_if_missing(row["case_why"])

    def tier_of(self, org_id: str) -> dict[str, Any] | None:
        row = self._row(org_id)
        return {k: row[k] for k in TIER_FIELDS} if row is not None else None

    def cell_of(self, org_id: str) -> str | None:
        row = self._row(org_id)
        return none_if_missing(row["cell"]) if row is not None else None

    def orgs_in_cell(self, cell: str) -> pd.Index:
        assert self._session is not None
        return org_segments.org_ids(self._session, self.application_id, OrgSegment.cell == cell)

    def orgs_in_tier(self, tier: str) -> pd.Index:
        assert self._session is not None
        return org_segments.org_ids(self._session, self.application_id, OrgSegment.tier == tier)

    def cell_summary(self) -> pd.DataFrame:
        assert self._session is not None
        totals = org_segments.cell_totals(self._session, self.application_id)
        return pd.DataFrame({
            "key": list(CELL_KEYS),
            "label": [CELL_LABELS[k] for k in CELL_KEYS],
            "org_count": [totals.get(k, (0, []))[0] for k in CELL_KEYS],
            "mrr": [round(float(pd.Series(totals.get(k, (0, []))[1], dtype=float).sum()), 2) for k in CELL_KEYS],
        })

    def cell_members(self, cell: str) -> pd.DataFrame:
        assert self._session is not None
        return org_segments.cell_members(self._session, self.application_id, cell)


def _snapshot_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Stored rows in the columns of ``storage.snapshots.latest_snapshots``."""
    frame = pd.DataFrame({"score": rows["score"], "band": rows["band"], "mrr": rows["snapshot_mrr"],
                          "last_seen": rows["last_seen"], "prev_score": rows["prev_score"]}, index=rows.index)
    frame["health_delta"] = frame["score"] - frame["prev_score"]
    return frame


def stored_segmentation(session: Session, application_id: int, day: dt.date, cfg: Config) -> StoredSegmentation | None:
    """The latest scan's stored segments when they answer for ``day`` and ``cfg`` (the scan ran
    that UTC day with that configuration), else None."""
    found = org_segments.stored_for(session, application_id)
    if found is None:
        return None
    _run, stored_day, fingerprint = found
    if stored_day != day or fingerprint != segments_fingerprint(cfg):
        return None
    seg = StoredSegmentation(application_id, day, cfg)
    seg._session = session
    return seg


def stored_segmentation_at(session: Session, application_id: int, now: dt.datetime,
                           cfg: Config | None = None) -> StoredSegmentation | None:
    """``stored_segmentation`` for ``now``'s UTC day (what ``load_segmentation`` returns when valid)."""
    return stored_segmentation(session, application_id, _as_of_day(now), cfg or Config())


# Segmentations kept per engine (so two databases in one process never share one), keyed by
# (application, latest successful scan run id, as-of day, configuration), at most
# _CACHE_SIZE per engine, least recently used dropped first.
_CACHE_SIZE = 4
_cache: weakref.WeakKeyDictionary[Engine | Connection, OrderedDict[tuple, Segmentation]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def clear_segmentation_cache() -> None:
    """Forget every cached segmentation (tests and benchmarks; a new scan does it by itself)."""
    with _cache_lock:
        _cache.clear()


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
    scan_id = None
    if cached:
        app = db.find_application(session, name)
        scan_id = scan_runs.latest_ok_scan_id(session, app.id) if app is not None else None
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
                      cfg: Config | None = None, *, cached: bool = True) -> Segmentation | StoredSegmentation:
    """Cells, tiers and case suggestions of the application as of ``now``'s UTC day: what the
    latest scan stored when it ran that day with this configuration (the usual case: one row
    per org read when needed), else built (cached: see ``segmentation_for_day``)."""
    cfg = cfg or Config()
    day = _as_of_day(now)
    if cached:
        app_id = application if isinstance(application, int) else _application_id(session, application)
        if app_id is not None:
            stored = stored_segmentation(session, app_id, day, cfg)
            if stored is not None:
                return stored
    return segmentation_for_day(session, application, day, cfg, cached=cached)


def _application_id(session: Session, name: str) -> int | None:
    app = db.find_application(session, name)
    return app.id if app is not None else None


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
    members = seg.cell_members(cell_key)
    members = members.sort_values(["mrr", "name", "org_id"], ascending=[False, True, True])
    bands = health_band(members["health"], seg.cfg).tolist()
    (view,) = [v for v in revenue.cell_views(seg.cell_summary()) if v.key == cell_key]
    rows = [
        (str(org_id), str(name), float(mrr), as_float(health), none_if_missing(band))
        for org_id, name, mrr, health, band in zip(
            members["org_id"], members["name"], members["mrr"], members["health"], bands)
    ]
    return view, rows
