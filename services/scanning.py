"""A scan: aggregate in the database, score in pandas, persist the results in one transaction.

This is the only place that joins ``storage`` and ``scoring`` for a scan. The whole scan is
one transaction, so a crash half-way leaves the previous snapshots and signals intact; a
failed run is still recorded, in its own transaction, so operators can see it happened.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from domain.collector import collector_paused
from domain.config import Config
from domain.vocabulary import HEALTH_COMPONENTS, STATUS_ACTIVE
from scoring.episodes import plan_episodes
from scoring.frames import ScanContext
from scoring.health import score_health
from scoring.signals import evaluate_signals
from services.config_history import segments_fingerprint, record_config
from services.reasons import with_reasons
from services.segmentation import Segmentation
from storage import queries, scan_results, scan_runs, signal_ranking
from storage.db import find_application, get_or_create_application, in_memory_sqlite
from storage.scan_lock import hold_scan_lock
from storage.side_reads import Submit, done_now, side_reads
from storage.side_thread import alongside
from storage.upkeep import vacuum_after_scan
from storage.models import ScanRun

log = logging.getLogger(__name__)

USAGE_FIELDS = (
    "recent_events", "previous_events", "recent_active_users", "previous_active_users",
    "recent_active_days", "previous_active_days", "recent_features", "recent_key_features",
    "activity_active_days", "open_tickets", "open_tickets_p1", "survey_responses", "nps",
    "champions", "champions_silent",
)
HEALTH_FIELDS = ("usage_change", "active_users_change", "seat_utilization")


@dataclass
class ScanResult:
    run_id: int
    application_id: int
    as_of: dt.datetime
    orgs_scanned: int
    opened_ids: list[int] = field(default_factory=list)
    updated: int = 0
    resolved: int = 0

    @property
    def opened(self) -> int:
        return len(self.opened_ids)


AfterSignals = Callable[[Session, ScanResult, Config], None]


def scan_context(session: Session, application_id: int, as_of: dt.datetime, cfg: Config,
                 submit: Submit | None = None) -> ScanContext:
    """What the scoring needs beside the org frame: the previous scan's components and health
    ("what moved"), each org's health four weeks back (falling health before a renewal), and
    the application-wide denominators (key features, whether tickets exist at all). The
    three larger reads go through ``submit`` when given (``storage.side_reads``)."""
    submit = submit or (lambda fn: done_now(fn, session))
    previous = submit(lambda side: queries.previous_snapshots(side, application_id, as_of.date()))
    key_features = submit(lambda side: queries.key_feature_total(side, application_id, as_of, cfg))
    health_before = submit(lambda side: queries.health_on_or_before(
        side, application_id, as_of.date() - dt.timedelta(days=cfg.signals.renewal_fall_days)))
    tickets_available = queries.tickets_available(session, application_id, as_of)
    prev = previous.result()
    if len(prev):
        comp = prev[list(HEALTH_COMPONENTS)].astype(float)
        prev_health = prev["score"].astype(float)
    else:
        comp = pd.DataFrame()
        prev_health = pd.Series(dtype=float)
    return ScanContext(
        as_of=as_of,
        key_feature_total=key_features.result(),
        tickets_available=tickets_available,
        previous_components=comp,
        previous_health=prev_health,
        health_before=health_before.result(),
    )


def _snapshot_columns(orgs: pd.DataFrame, health: pd.DataFrame, day: dt.date, run_id: int) -> dict[str, Any]:
    """The health_snapshots rows of this scan, column by column, JSON columns as text
    (``storage.scan_results.insert_rows``)."""
    components = {
        c: health[[f"{c}_value", f"{c}_score", f"{c}_weight", f"{c}_contribution"]].set_axis(
            ["value", "score", "weight", "contribution"], axis=1)
        for c in HEALTH_COMPONENTS
    }
    left_out = health[[f"{c}_score" for c in HEALTH_COMPONENTS]].isna().to_numpy()
    n = len(orgs)
    score = health["health"].astype(float)
    return {
        "org_id": orgs.index.tolist(),
        "day": [day] * n,
        "scan_run_id": [run_id] * n,
        "score": [None if v != v else v for v in score.tolist()],
        "band": [None if b is None or b != b else b for b in health["band"].astype(object).tolist()],
        "components": scan_results.nested_json_objects(components),
        "component_scores": scan_results.json_objects(health[[f"{c}_score" for c in HEALTH_COMPONENTS]],
                                                      keys=HEALTH_COMPONENTS),
        "left_out": scan_results.json_lists(
            [[c for c, out in zip(HEALTH_COMPONENTS, flags) if out] for flags in left_out.tolist()]),
        "mrr": [round(v, 2) for v in orgs["mrr"].astype(float).tolist()],
        "last_seen": _utc_instants(orgs["last_seen"]),
        "usage": scan_results.json_objects(orgs[list(USAGE_FIELDS)].join(health[list(HEALTH_FIELDS)])),
    }


def _utc_instants(values: pd.Series) -> np.ndarray:
    """A column of instants as the tables keep them (UTC, without a zone; NaT where missing),
    one array (``storage.staging.bound_values``): 100k orgs' last-seen times were 100k Python
    datetimes made, then each converted back for the database."""
    return pd.to_datetime(values, utc=True).dt.tz_convert(None).to_numpy(dtype="datetime64[us]")


def _rounded(values: pd.Series) -> pd.Series:
    """A float column as a snapshot's JSON keeps it (4 decimals), read back as floats."""
    return pd.Series([v if v != v else round(v, 4) for v in values.astype(float).tolist()],
                     index=values.index, dtype=float)


def _stored_view(orgs: pd.DataFrame, health: pd.DataFrame) -> pd.DataFrame:
    """This scan's snapshots as the segments read them back (``services.revenue``): health,
    activity score, usage change, seat utilization (rounded as stored) and last seen."""
    return pd.DataFrame({
        "health": health["health"].astype(float),
        "activity_score": _rounded(health["activity_score"]),
        "usage_change": _rounded(health["trend_value"]),
        "seat_utilization": _rounded(health["seat_utilization_value"]),
        "last_seen": pd.to_datetime(orgs["last_seen"], utc=True),
    }, index=orgs.index)


def _segment_attributes(orgs: pd.DataFrame) -> pd.DataFrame:
    """The org attributes the segments read (``services.revenue.load_org_frame``), from the
    scan's own org frame instead of read again: renewal dates as that reader has them (days,
    without a time zone); no owner (tiers and cases do not read it)."""
    return pd.DataFrame({
        "name": orgs["name"], "source": orgs["source"], "created_at": orgs["created_at"],
        "renewal_date": orgs["renewal_date"].dt.tz_convert(None),
        "icp_fit": orgs["icp_fit"], "strategic": orgs["strategic"], "relationship": orgs["relationship"],
    }, index=orgs.index)


def _signal_columns(rows: pd.DataFrame) -> dict[str, list[Any]]:
    """The stored values of the signals in ``rows``, a column each (one list per column, not a
    dict per row: 30,000 signals at 100k orgs). The evidence keeps the severity (and the revenue
    reference the priority used) so "why this rank" can be shown later from the stored signal
    alone."""
    plain = scan_results.plain
    severity = [plain(v) for v in rows["severity"].astype(float).tolist()]
    extra: dict[str, list[Any]] = {"severity": severity}
    if "revenue_reference" in rows:
        extra["revenue_reference"] = [plain(v) for v in rows["revenue_reference"].astype(float).tolist()]
    names = list(extra)
    evidence = []
    for facts, *added in zip(rows["evidence"].tolist(), *extra.values()):
        stored = {k: plain(v) for k, v in dict(facts).items()}
        stored.update(zip(names, added))
        evidence.append(json.dumps(stored))
    n = len(rows)
    return {
        "priority": rows["priority"].astype(float).tolist(),
        "evidence": evidence,
        "reason": [str(r) for r in rows["reason"].tolist()],
        "suggested_case": rows["suggested_case"].tolist() if "suggested_case" in rows else [None] * n,
    }


@dataclass
class SignalWrites:
    """What a scan writes to the signals table, planned before anything is written: the
    columns of the signals it opens and of those it updates (with which of them lose their
    snooze end), the ids it resolves, and the (org_id, type) of every signal open after."""

    opened: dict[str, list[Any]]
    updated: dict[str, list[Any]]
    clear_snooze: list[bool]
    resolved: list[int]
    still_open: pd.DataFrame


def plan_signal_writes(before: pd.DataFrame, current: pd.DataFrame, application_id: int, run_id: int,
                       as_of: dt.datetime) -> SignalWrites:
    """Turn this scan's conditions and the signals open ``before`` it into the opened,
    updated and resolved signals (scoring.episodes), without the database."""
    plan = plan_episodes(before, current, as_of)
    opened: dict[str, list[Any]] = {}
    if n := len(plan.to_open):
        opened = {
            "application_id": [application_id] * n,
            "org_id": plan.to_open["org_id"].tolist(),
            "type": plan.to_open["type"].tolist(),
            "status": [STATUS_ACTIVE] * n,
            "opened_at": [as_of] * n,
            "updated_at": [as_of] * n,
            "opened_scan_id": [run_id] * n,
            **_signal_columns(plan.to_open),
        }
    updated: dict[str, list[Any]] = {}
    status: list[str] = []
    if n := len(plan.to_update):
        status = plan.to_update["new_status"].tolist()
        updated = {
            "id": plan.to_update["id"].astype("int64").tolist(),
            "updated_at": [as_of] * n,
            "status": status,
            **_signal_columns(plan.to_update),
        }
    resolved = [int(i) for i in plan.to_resolve]
    still = before.loc[~before["id"].isin(resolved), ["org_id", "type"]]
    return SignalWrites(opened=opened, updated=updated, clear_snooze=[st == STATUS_ACTIVE for st in status],
                        resolved=resolved,
                        still_open=pd.concat([still, plan.to_open[["org_id", "type"]]], ignore_index=True))


def write_signals(session: Session, writes: SignalWrites, as_of: dt.datetime, result: ScanResult) -> None:
    """Store what ``plan_signal_writes`` planned, counting it in ``result``."""
    if writes.opened:
        ids = scan_results.insert_signals(session, writes.opened)
        result.opened_ids = sorted(int(i) for i in ids)
    if writes.updated:
        scan_results.update_signals(session, writes.updated, writes.clear_snooze)
        result.updated = len(writes.updated["id"])
    scan_results.resolve_signals(session, writes.resolved, as_of)
    result.resolved = len(writes.resolved)


def _segment_columns(seg: Segmentation, orgs: pd.DataFrame, health: pd.DataFrame, ctx: ScanContext,
                     snapshots: dict[str, Any], application_id: int, day: dt.date, run_id: int,
                     fingerprint: str) -> dict[str, Any]:
    """The org_segments rows of this scan: each org's snapshot numbers the lists show and its
    cell, tier, quadrant and case suggestion as of the scan's day."""
    index = orgs.index
    n = len(index)
    cells = seg.segments.cells["cell"].reindex(index)
    tiers = seg.tiers.reindex(index)
    cases = seg.suggestions.reindex(index)
    prev = ctx.previous_health.reindex(index) if len(ctx.previous_health) else pd.Series(float("nan"), index=index)

    def objects(values: pd.Series) -> list[Any]:
        return [None if v is None or v != v else v for v in values.astype(object).tolist()]

    return {
        "org_id": index.tolist(),
        "application_id": [application_id] * n,
        "scan_run_id": [run_id] * n,
        "day": [day] * n,
        "config_fingerprint": [fingerprint] * n,
        "score": snapshots["score"],
        "band": snapshots["band"],
        "snapshot_mrr": snapshots["mrr"],
        "last_seen": snapshots["last_seen"],
        "prev_score": objects(pd.to_numeric(prev, errors="coerce").astype(float)),
        "mrr": seg.orgs["mrr"].reindex(index).astype(float).tolist(),
        "cell": objects(cells),
        "tier": objects(tiers["tier"]),
        "quadrant": objects(tiers["quadrant"]),
        "value": objects(tiers["value"].astype(float)),
        "potential": objects(tiers["potential"].astype(float)),
        "account_priority": objects(tiers["account_priority"].astype(float)),
        "suggested_case": objects(cases["case"]),
        "case_why": objects(cases["why"]),
    }


def run_scan(factory: sessionmaker[Session], cfg: Config, as_of: dt.datetime | None = None,
             application: str | None = None, after_signals: AfterSignals | None = None) -> ScanResult:
    """Scan every org of one application as of `as_of` (default now) and persist the results."""
    # Millions of short-lived objects, none in cycles: see domain.collector.
    with collector_paused():
        return _scan(factory, cfg, as_of, application, after_signals)


def _scan(factory: sessionmaker[Session], cfg: Config, as_of: dt.datetime | None,
          application: str | None, after_signals: AfterSignals | None) -> ScanResult:
    as_of = (as_of or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    app_name = application or cfg.application
    _check_moves_forward(factory, app_name, as_of)
    started = dt.datetime.now(dt.timezone.utc)
    try:
        with factory() as session, session.begin():
            hold_scan_lock(session, app_name, on_wait=lambda: log.info(
                "another scan of %s is running; this one waits for it, then scans on its results", app_name))
            app = get_or_create_application(session, app_name)
            # Another scan may have committed while this one waited for the lock.
            _raise_if_superseded(scan_runs.latest_ok_scan_time(session, app.id), as_of)
            # Read and score first, write after: on SQLite the write lock is then held only
            # for the writing, not for the whole scan.
            # The aggregates run side by side where the database can share their snapshot.
            with side_reads(session) as submit:
                orgs = queries.org_frame(session, app.id, as_of, cfg, submit=submit)
                ctx = scan_context(session, app.id, as_of, cfg, submit=submit)
            health = score_health(orgs, ctx, cfg)
            run = ScanRun(application_id=app.id, as_of=as_of, started_at=started, status="running",
                          config_version_id=record_config(session, cfg, started))
            session.add(run)
            session.flush()
            result = ScanResult(run_id=run.id, application_id=app.id, as_of=as_of, orgs_scanned=len(orgs))

            day = as_of.date()
            snapshots = _snapshot_columns(orgs, health, day, run.id)
            # The database stores the snapshots (100k orgs: 120 MB of rows, its own core busy
            # for seconds) while this thread evaluates the signals, which need no database.
            with alongside(lambda: scan_results.replace_snapshots(session, app.id, day, snapshots),
                           inline=in_memory_sqlite(session.connection())):
                current = with_reasons(evaluate_signals(orgs, health, ctx, cfg), cfg)
            # SQLite takes its one write lock at the first write, just above, not at the
            # advisory lock: only now is a concurrent scan's commit sure to be seen.
            _raise_if_superseded(scan_runs.latest_ok_scan_time(session, app.id), as_of)
            writes = plan_signal_writes(scan_results.open_signals(session, app.id), current, app.id, run.id, as_of)
            # The database stores the signals while this thread builds the segments: what the
            # lists, /org and the cells show, as of the scan's day, from what this scan has in
            # hand (its snapshots, the signals left open), so without the database.
            with alongside(lambda: write_signals(session, writes, as_of, result),
                           inline=in_memory_sqlite(session.connection())):
                seg = Segmentation(None, app_name, day, cfg, snapshots=_stored_view(orgs, health),
                                   open_signals=writes.still_open, attributes=_segment_attributes(orgs),
                                   mrr=orgs["mrr"], application_id=app.id)
                segments = _segment_columns(seg, orgs, health, ctx, snapshots, app.id, day, run.id,
                                            segments_fingerprint(cfg))
            # Each org's place in the lists, from the signals this scan leaves active.
            segments.update(signal_ranking.rank_columns(session, app.id, segments["org_id"]))
            scan_results.replace_segments(session, app.id, segments)
            if after_signals is not None:
                after_signals(session, result, cfg)

            run.orgs_scanned = result.orgs_scanned
            run.signals_opened = result.opened
            run.signals_updated = result.updated
            run.signals_resolved = result.resolved
            run.finished_at = dt.datetime.now(dt.timezone.utc)
            run.status = "ok"
        # The first Slack answers after a scan read what it just replaced.
        vacuum_after_scan(factory)
        log.info("scan %s as of %s: %d orgs, %d opened, %d updated, %d resolved", app_name,
                 as_of.isoformat(), result.orgs_scanned, result.opened, result.updated, result.resolved)
        return result
    except ScanOrderError:
        raise  # nothing was written: the scan order is the caller's to report
    except Exception as exc:
        _record_failed_run(factory, app_name, as_of, started, exc)
        raise


class ScanOrderError(ValueError):
    """A scan as of a time before the latest scan: it would reopen and re-resolve live episodes."""


class ScanSuperseded(ScanOrderError):
    """Another scan, as of a later instant, committed while this one was starting or waiting
    for it (two replicas on the same schedule, two people at the terminal): its results stand
    and this scan has nothing to add. Not a failure: report it in one line and carry on."""


def _check_moves_forward(factory: sessionmaker[Session], app_name: str, as_of: dt.datetime) -> None:
    """Scans move forward in time. Replaying history belongs in a fresh database: a scan dated
    before the latest one would resolve today's signals and reopen them at the next scan,
    losing dismissals and alerting again."""
    with factory() as session:
        app = find_application(session, app_name)
        if app is None:
            return
        latest = scan_runs.latest_ok_scan_time(session, app.id)
    _raise_unless_forward(latest, as_of)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment


def _raise_unless_forward(latest: dt.datetime | None, as_of: dt.datetime) -> None:
    latest = _utc(latest)
    if latest is not None and as_of < latest:
        raise ScanOrderError(
            f"as-of {as_of:%Y-%m-%d %H:%M:%S} UTC is before the latest scan ({latest:%Y-%m-%d %H:%M:%S} UTC); "
            "scans move forward in time — replay history into a fresh database instead")


def _raise_if_superseded(latest: dt.datetime | None, as_of: dt.datetime) -> None:
    """After the order was checked at the start: a later scan found now committed meanwhile."""
    latest = _utc(latest)
    if latest is not None and as_of < latest:
        raise ScanSuperseded(
            f"another scan, as of {latest:%Y-%m-%d %H:%M:%S} UTC, finished while this one (as of "
            f"{as_of:%Y-%m-%d %H:%M:%S} UTC) was waiting for it; its results stand")


def _record_failed_run(factory: sessionmaker[Session], app_name: str, as_of: dt.datetime,
                       started: dt.datetime, exc: Exception) -> None:
    log.exception("scan of %s as of %s failed; previous results kept", app_name, as_of.isoformat())
    try:
        with factory() as session, session.begin():
            app = get_or_create_application(session, app_name)
            session.add(ScanRun(application_id=app.id, as_of=as_of, started_at=started,
                                finished_at=dt.datetime.now(dt.timezone.utc),
                                status=f"failed: {type(exc).__name__}"[:20]))
    except Exception:  # the database itself may be what failed; the original error is re-raised
        log.exception("could not record the failed scan run")
