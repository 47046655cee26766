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

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from domain.config import Config
from domain.values import as_float, none_if_missing
from scoring.health import health_band
from domain.vocabulary import CELL_KEYS
from services import revenue
from services.read_models import CellView
from storage import db, scan_runs
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

    def __init__(self, session: Session, application: str, as_of: dt.date, cfg: Config, *,
                 snapshots: pd.DataFrame | None = None, open_signals: pd.DataFrame | None = None) -> None:
        self.application = application
        self.as_of = as_of
        self.cfg = cfg
        self.subscriptions = revenue.load_subscriptions(session, application)
        self.orgs = revenue.load_org_frame(session, application, as_of, subs=self.subscriptions,
                                           snapshots=snapshots, open_signals=open_signals)
        self.segments = revenue.segments_report(session, application, as_of, cfg, orgs=self.orgs)
        self.suggestions = revenue.case_suggestions(session, application, as_of, cfg, orgs=self.orgs)
        self._lock = threading.Lock()
        self._tiers: pd.DataFrame | None = None
        self._snapshots: pd.DataFrame | None = None

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
                      cfg: Config | None = None, *, cached: bool = True) -> Segmentation:
    """Cells, tiers and case suggestions of the application as of ``now``'s UTC day (cached:
    see ``segmentation_for_day``)."""
    return segmentation_for_day(session, application, _as_of_day(now), cfg, cached=cached)


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
    (view,) = [v for v in revenue.cell_views(seg.segments.summary) if v.key == cell_key]
    rows = [
        (str(org_id), str(name), float(mrr), as_float(health), none_if_missing(band))
        for org_id, name, mrr, health, band in zip(
            members["org_id"], members["name"], members["mrr"], members["health"], bands)
    ]
    return view, rows
