"""The background schedule: scans, the weekly digest, alert delivery and retries.

``build_scheduler`` returns an APScheduler 3 ``BackgroundScheduler`` (not started) so both
``saas-tracker worker`` and ``saas-tracker serve`` run the same jobs:

* ``startup`` (once, at start): a scan, then the outbox flush, then the digest check, in
  that order, so a digest caught up after downtime reports fresh data.
* ``scan`` every ``scan.interval_hours``: run_scan with ``enqueue_alerts`` as its hook, so
  the alerts commit with the scan, then an immediate outbox flush (real-time alerts).
* ``digest``: the weekly cron (``slack.digest_day`` at ``slack.digest_time`` in
  ``slack.timezone``), posting through the exactly-once claim.
* ``outbox`` every ``slack.outbox_flush_minutes``: retries that came due.
* ``digest_check`` on the same interval: takes over a digest left ``retry`` or stale by a
  crash, or posts one whose scheduled time was missed, within ``slack.digest_grace_hours``.

The scheduler's in-memory job store is not the source of truth; the database is (claims,
outbox rows), so any number of schedulers against one database behave as one.

A job that raises is logged with its traceback (``_logged``) and re-raised so APScheduler's
EVENT_JOB_ERROR listener counts it in ``JobHealth``; the trigger is untouched, so the next
run happens as scheduled.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from domain.config import Config
from services.digest_schedule import digest_trigger
from services.ports import SlackPort

log = logging.getLogger(__name__)

JOB_STARTUP = "startup"
JOB_SCAN = "scan"
JOB_DIGEST = "digest"
JOB_OUTBOX = "outbox"
JOB_DIGEST_CHECK = "digest_check"


def default_instance_id() -> str:
    """Who holds a digest claim: host and process, so an operator can find it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class JobHealth:
    """Per job: runs, failures and the last error, for logs and a health endpoint."""

    runs: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    last_error: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def listener(self, event: JobExecutionEvent) -> None:
        with self._lock:
            self.runs[event.job_id] = self.runs.get(event.job_id, 0) + 1
            if event.code == EVENT_JOB_ERROR:
                self.failures[event.job_id] = self.failures.get(event.job_id, 0) + 1
                self.last_error[event.job_id] = f"{type(event.exception).__name__}: {event.exception}"
        if event.code == EVENT_JOB_ERROR:
            log.error("job %s failed (%s); it stays scheduled", event.job_id, self.last_error[event.job_id])
        elif event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run at %s (process busy or down)", event.job_id,
                        event.scheduled_run_time)


def _logged(job_id: str, fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return fn()
        except Exception:
            log.exception("job %s raised; the next run is still scheduled", job_id)
            raise

    run.__name__ = f"job_{job_id}"
    return run


def add_logged_job(scheduler: BackgroundScheduler, job_id: str, fn: Callable[[], Any], trigger: Any,
                   **kwargs: Any) -> None:
    """Add a job whose exceptions are logged with a traceback and never unschedule it."""
    kwargs.setdefault("coalesce", True)
    kwargs.setdefault("max_instances", 1)
    scheduler.add_job(_logged(job_id, fn), trigger, id=job_id, name=job_id, replace_existing=True, **kwargs)


@dataclass
class Jobs:
    """The jobs' bodies, bound to one database, configuration and Slack."""

    factory: sessionmaker[Session]
    cfg: Config
    slack: SlackPort
    instance_id: str
    clock: Callable[[], dt.datetime] = utcnow

    def scan(self) -> None:
        from services.alerts import alerts_hook
        from services.scanning import ScanOrderError, run_scan

        try:
            run_scan(self.factory, self.cfg, self.clock(), after_signals=alerts_hook(self.slack))
        except ScanOrderError as exc:
            # This worker scans "now": a later scan can only be another replica's, a moment
            # ahead (or its clock a little ahead). Its results stand; nothing failed.
            log.info("scan skipped: %s", exc)
        self.outbox()

    def outbox(self) -> None:
        from services.outbox import deliver_outbox

        report = deliver_outbox(self.factory, self.slack, self.clock(), self.cfg)
        if report.sent or report.retrying or report.failed:
            log.info("outbox flush: %s", report)

    def digest(self) -> None:
        from services.digest import post_weekly_digest

        post_weekly_digest(self.factory, self.slack, self.cfg, self.clock(), self.instance_id)

    def digest_check(self) -> None:
        from services.digest import post_weekly_digest

        post_weekly_digest(self.factory, self.slack, self.cfg, self.clock(), self.instance_id, quiet=True)

    def startup(self) -> None:
        """Scan, flush, then catch up a missed digest (saying why when it is too late); each
        step runs even if the one before failed."""
        errors: list[BaseException] = []
        for step in (self.scan, self.digest):
            try:
                step()
            except Exception as exc:  # logged here; the next step must still run
                log.exception("startup step %s failed", step.__name__)
                errors.append(exc)
        if errors:
            raise errors[0]


def build_scheduler(factory: sessionmaker[Session], cfg: Config, slack: SlackPort, *,
                    instance_id: str | None = None, health: JobHealth | None = None,
                    clock: Callable[[], dt.datetime] = utcnow, run_startup: bool = True) -> BackgroundScheduler:
    """A configured, not yet started BackgroundScheduler; call ``.start()`` and, on exit,
    ``.shutdown()``. ``health`` (optional) receives every job's outcome."""
    jobs = Jobs(factory, cfg, slack, instance_id or default_instance_id(), clock)
    health = health or JobHealth()
    scheduler = BackgroundScheduler(timezone=dt.timezone.utc)
    scheduler.add_listener(health.listener, EVENT_JOB_ERROR | EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    start = clock()
    flush_every = IntervalTrigger(minutes=cfg.slack.outbox_flush_minutes, timezone=dt.timezone.utc)
    if run_startup:
        add_logged_job(scheduler, JOB_STARTUP, jobs.startup, DateTrigger(run_date=start, timezone=dt.timezone.utc),
                       misfire_grace_time=None)
    add_logged_job(scheduler, JOB_SCAN, jobs.scan,
                   IntervalTrigger(hours=cfg.scan.interval_hours, timezone=dt.timezone.utc))
    # A cron fire that comes late (process busy or asleep) still runs within the grace; the
    # claim decides whether it posts, so coalesced or doubled fires can't post twice.
    add_logged_job(scheduler, JOB_DIGEST, jobs.digest, digest_trigger(cfg),
                   misfire_grace_time=max(1, int(cfg.slack.digest_grace_hours * 3600)))
    add_logged_job(scheduler, JOB_OUTBOX, jobs.outbox, flush_every)
    add_logged_job(scheduler, JOB_DIGEST_CHECK, jobs.digest_check, flush_every)
    return scheduler
