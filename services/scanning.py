"""A scan: aggregate in the database, score in pandas, persist the results in one transaction.

This is the only place that joins ``storage`` and ``scoring`` for a scan. The whole scan is
one transaction, so a crash half-way leaves the previous snapshots and signals intact; a
failed run is still recorded, in its own transaction, so operators can see it happened.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from domain.config import Config
from domain.vocabulary import HEALTH_COMPONENTS, STATUS_ACTIVE, STATUS_RESOLVED
from scoring.episodes import plan_episodes
from scoring.frames import ScanContext
from scoring.health import score_health
from scoring.signals import evaluate_signals
from services.config_history import record_config
from services.reasons import with_reasons
from storage import queries, scan_runs, staging
from storage.db import find_application, get_or_create_application
from storage.scan_lock import hold_scan_lock
from storage.models import HealthSnapshot, Org, ScanRun, Signal

log = logging.getLogger(__name__)

# A snapshot per org goes through the import's bulk path (executemany of plain tuples on
# SQLite, COPY on PostgreSQL); new signals, whose ids the alerts need, through a Core INSERT …
# RETURNING sent in pages. The ORM's bulk insert left out each row's None values and began a
# new statement whenever the set of keys changed: with optional numbers, every few rows.
SNAPSHOTS: Table = HealthSnapshot.__table__  # type: ignore[assignment]
SIGNALS: Table = Signal.__table__  # type: ignore[assignment]

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


def scan_context(session: Session, application_id: int, as_of: dt.datetime, cfg: Config) -> ScanContext:
    """What the scoring needs beside the org frame: the previous scan's components and health
    ("what moved"), each org's health four weeks back (falling health before a renewal), and
    the application-wide denominators (key features, whether tickets exist at all)."""
    prev = queries.previous_snapshots(session, application_id, as_of.date())
    if len(prev):
        comp = prev[list(HEALTH_COMPONENTS)].astype(float)
        prev_health = prev["score"].astype(float)
    else:
        comp = pd.DataFrame()
        prev_health = pd.Series(dtype=float)
    return ScanContext(
        as_of=as_of,
        key_feature_total=queries.key_feature_total(session, application_id, as_of, cfg),
        tickets_available=queries.tickets_available(session, application_id, as_of),
        previous_components=comp,
        previous_health=prev_health,
        health_before=queries.health_on_or_before(
            session, application_id, as_of.date() - dt.timedelta(days=cfg.signals.renewal_fall_days)),
    )


def _plain(value: Any) -> Any:
    """JSON-safe Python scalars: NaN/NaT become None, numpy numbers become Python numbers."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else round(float(value), 4)
    if isinstance(value, (np.integer,)):
        return int(value)
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _plain_column(column: pd.Series) -> list[Any]:
    """``_plain`` of every value of one column, done for the whole column where its dtype allows."""
    if pd.api.types.is_float_dtype(column.dtype):
        return [None if v != v else round(v, 4) for v in column.to_numpy(dtype=float).tolist()]
    if pd.api.types.is_integer_dtype(column.dtype) and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column.to_numpy().tolist()
    return [_plain(v) for v in column.tolist()]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    keys = list(frame.columns)
    columns = [_plain_column(frame[k]) for k in keys]
    return [dict(zip(keys, values)) for values in zip(*columns)]


def _snapshot_columns(orgs: pd.DataFrame, health: pd.DataFrame, day: dt.date, run_id: int) -> dict[str, list[Any]]:
    """The health_snapshots rows of this scan, column by column (``storage.staging.insert_rows``)."""
    comp_records = [
        _records(health[[f"{c}_value", f"{c}_score", f"{c}_weight", f"{c}_contribution"]].set_axis(
            ["value", "score", "weight", "contribution"], axis=1))
        for c in HEALTH_COMPONENTS
    ]
    left_out = health[[f"{c}_score" for c in HEALTH_COMPONENTS]].isna().to_numpy()
    n = len(orgs)
    return {
        "org_id": orgs.index.tolist(),
        "day": [day] * n,
        "scan_run_id": [run_id] * n,
        "score": [None if v != v else v for v in health["health"].astype(float).tolist()],
        "band": health["band"].tolist(),
        "components": [dict(zip(HEALTH_COMPONENTS, parts)) for parts in zip(*comp_records)],
        "left_out": [[c for c, out in zip(HEALTH_COMPONENTS, flags) if out] for flags in left_out.tolist()],
        "mrr": [round(v, 2) for v in orgs["mrr"].astype(float).tolist()],
        "last_seen": [None if pd.isna(x) else x.to_pydatetime() for x in orgs["last_seen"]],
        "usage": _records(orgs[list(USAGE_FIELDS)].join(health[list(HEALTH_FIELDS)])),
    }


def _open_signals(session: Session, application_id: int) -> pd.DataFrame:
    rows = session.execute(
        select(Signal.id, Signal.org_id, Signal.type, Signal.status, Signal.snoozed_until).where(
            Signal.application_id == application_id, Signal.status != STATUS_RESOLVED
        ).with_for_update()  # a dismissal racing this scan waits, and is never overwritten
    ).all()
    frame = queries.rows_frame(rows, ["id", "org_id", "type", "status", "snoozed_until"])
    frame["snoozed_until"] = pd.to_datetime(frame["snoozed_until"], utc=True)
    frame["id"] = frame["id"].astype("int64")
    return frame


def _signal_values(row: dict[Hashable, Any]) -> dict[str, Any]:
    evidence = {k: _plain(v) for k, v in dict(row["evidence"]).items()}
    # Kept so "why this rank" can be shown later from the stored signal alone.
    evidence["severity"] = _plain(float(row["severity"]))
    if "revenue_reference" in row:
        evidence["revenue_reference"] = _plain(float(row["revenue_reference"]))
    return {
        "priority": float(row["priority"]),
        "evidence": evidence,
        "reason": str(row["reason"]),
        "suggested_case": row.get("suggested_case"),
    }


def apply_signals(session: Session, application_id: int, run_id: int, current: pd.DataFrame,
                  as_of: dt.datetime, result: ScanResult) -> None:
    """Turn this scan's conditions into opened, updated and resolved signals (scoring.episodes)."""
    plan = plan_episodes(_open_signals(session, application_id), current, as_of)
    if len(plan.to_open):
        values = [
            {
                "application_id": application_id,
                "org_id": row["org_id"],
                "type": row["type"],
                "status": STATUS_ACTIVE,
                "opened_at": as_of,
                "updated_at": as_of,
                "opened_scan_id": run_id,
                **_signal_values(row),
            }
            for row in plan.to_open.to_dict("records")
        ]
        ids = session.scalars(insert(SIGNALS).returning(SIGNALS.c.id), values).all()
        result.opened_ids = sorted(int(i) for i in ids)
    if len(plan.to_update):
        updates = []
        for row in plan.to_update.to_dict("records"):
            change = {"id": int(row["id"]), "updated_at": as_of, "status": row["new_status"], **_signal_values(row)}
            if row["new_status"] == STATUS_ACTIVE:
                change["snoozed_until"] = None
            updates.append(change)
        session.execute(update(Signal), updates)
        result.updated = len(updates)
    resolve_ids = [int(i) for i in plan.to_resolve]
    if resolve_ids:
        session.execute(
            update(Signal).where(Signal.id.in_(resolve_ids)).values(status=STATUS_RESOLVED, resolved_at=as_of)
        )
        result.resolved = len(resolve_ids)


def run_scan(factory: sessionmaker[Session], cfg: Config, as_of: dt.datetime | None = None,
             application: str | None = None, after_signals: AfterSignals | None = None) -> ScanResult:
    """Scan every org of one application as of `as_of` (default now) and persist the results."""
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
            orgs = queries.org_frame(session, app.id, as_of, cfg)
            ctx = scan_context(session, app.id, as_of, cfg)
            health = score_health(orgs, ctx, cfg)
            current = with_reasons(evaluate_signals(orgs, health, ctx, cfg), cfg)
            run = ScanRun(application_id=app.id, as_of=as_of, started_at=started, status="running",
                          config_version_id=record_config(session, cfg, started))
            session.add(run)
            session.flush()
            result = ScanResult(run_id=run.id, application_id=app.id, as_of=as_of, orgs_scanned=len(orgs))

            day = as_of.date()
            session.execute(
                delete(HealthSnapshot).where(
                    HealthSnapshot.day == day,
                    HealthSnapshot.org_id.in_(select(Org.org_id).where(Org.application_id == app.id)),
                )
            )
            # SQLite takes its one write lock at the first write, just above, not at the
            # advisory lock: only now is a concurrent scan's commit sure to be seen.
            _raise_if_superseded(scan_runs.latest_ok_scan_time(session, app.id), as_of)
            snapshots = _snapshot_columns(orgs, health, day, run.id)
            staging.insert_rows(session.connection(), SNAPSHOTS, list(snapshots), list(snapshots.values()))
            apply_signals(session, app.id, run.id, current, as_of, result)
            if after_signals is not None:
                after_signals(session, result, cfg)

            run.orgs_scanned = result.orgs_scanned
            run.signals_opened = result.opened
            run.signals_updated = result.updated
            run.signals_resolved = result.resolved
            run.finished_at = dt.datetime.now(dt.timezone.utc)
            run.status = "ok"
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
