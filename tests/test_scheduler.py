"""The schedule: exact cron instants across daylight-saving changes, the period a fire
belongs to, failing jobs that keep their schedule, and the real BackgroundScheduler running
scan → alerts → digest against the Slack stand-in."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.client import make_web_client
from delivery_helpers import SEEN, outbox_rows, seed_orgs
from domain.config import Config, PriorityConfig
from services.digest_schedule import current_period, latest_fire_time, next_fire_times, period_of
from services.digest import post_weekly_digest
from services.scanning import run_scan
from services.scheduling import (
    JOB_DIGEST,
    JOB_DIGEST_CHECK,
    JOB_OUTBOX,
    JOB_SCAN,
    JOB_STARTUP,
    JobHealth,
    add_logged_job,
    build_scheduler,
)
from storage.models import DigestClaim, ScanRun
from bot.delivery import SlackDelivery

UTC = dt.timezone.utc
# A fixed revenue reference: two big orgs alone would each be small against their own 90th
# percentile; these tests are about the schedule, not the scale.
CFG = Config(priority=PriorityConfig(revenue_half_mrr=5000.0))


def _cfg(**slack) -> Config:
    return dataclasses.replace(CFG, slack=dataclasses.replace(CFG.slack, **slack))


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- the cron, across daylight-saving changes ----------------------------------------------------


def test_monday_0900_london_across_the_october_change() -> None:
    # British Summer Time ends on Sunday 25 October 2026: 09:00 is 08:00 UTC before, 09:00 after.
    fires = next_fire_times(CFG, utc(2026, 10, 12, 9, 0), 4)
    assert [f.astimezone(UTC) for f in fires] == [
        utc(2026, 10, 19, 8, 0), utc(2026, 10, 26, 9, 0), utc(2026, 11, 2, 9, 0), utc(2026, 11, 9, 9, 0)]
    assert [f.strftime("%a %H:%M %Z") for f in fires] == ["Mon 09:00 BST", "Mon 09:00 GMT", "Mon 09:00 GMT",
                                                           "Mon 09:00 GMT"]


def test_monday_0900_london_across_the_march_change() -> None:
    # British Summer Time starts on Sunday 29 March 2026.
    fires = next_fire_times(CFG, utc(2026, 3, 16, 12, 0), 3)
    assert [f.astimezone(UTC) for f in fires] == [utc(2026, 3, 23, 9, 0), utc(2026, 3, 30, 8, 0), utc(2026, 4, 6, 8, 0)]


def test_another_zone_and_day_changes_on_its_own_dates() -> None:
    # New York leaves daylight time on 1 November 2026, a week after London.
    cfg = _cfg(timezone="America/New_York", digest_day="fri", digest_time="16:30")
    fires = next_fire_times(cfg, utc(2026, 10, 24, 0, 0), 3)
    assert [f.astimezone(UTC) for f in fires] == [utc(2026, 10, 30, 20, 30), utc(2026, 11, 6, 21, 30),
                                                  utc(2026, 11, 13, 21, 30)]


def test_latest_fire_time_and_period() -> None:
    # Monday 26 October 09:00 GMT is 09:00 UTC: a second before it, the due digest is last week's.
    assert latest_fire_time(CFG, utc(2026, 10, 26, 8, 59, 59)) == utc(2026, 10, 19, 8, 0)
    assert latest_fire_time(CFG, utc(2026, 10, 26, 9, 0)) == utc(2026, 10, 26, 9, 0)
    assert current_period(CFG, utc(2026, 10, 26, 9, 0))[0] == "2026-W44"
    assert current_period(CFG, utc(2026, 10, 26, 8, 59))[0] == "2026-W43"
    # The ISO week of the *local* time: Sunday 23:30 in Auckland is already Monday's week.
    nz = _cfg(timezone="Pacific/Auckland", digest_day="mon", digest_time="00:30")
    (fire,) = next_fire_times(nz, utc(2026, 12, 27, 0, 0), 1)
    assert fire.astimezone(UTC) == utc(2026, 12, 27, 11, 30) and period_of(fire, nz) == "2026-W53"


def test_an_hour_repeated_at_the_autumn_change_posts_one_digest(session_factory, slack_stub) -> None:
    """APScheduler fires a 01:30 Sunday cron twice on 25 October (01:30 BST and 01:30 GMT);
    both fires belong to the same period, so the claim lets one of them post."""
    cfg = _cfg(digest_day="sun", digest_time="01:30")
    fires = next_fire_times(cfg, utc(2026, 10, 24, 0, 0), 3)
    assert [f.astimezone(UTC) for f in fires] == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30),
                                                  utc(2026, 11, 1, 1, 30)]
    assert period_of(fires[0], cfg) == period_of(fires[1], cfg) == "2026-W43"
    seed_orgs(session_factory, {"acme": 50_000})
    run_scan(session_factory, cfg, SEEN + dt.timedelta(days=13))
    client = make_web_client(slack_stub.token, slack_stub.base_url)
    outcomes = [post_weekly_digest(session_factory, SlackDelivery(client), cfg, f, "w").status for f in fires[:2]]
    assert outcomes == ["posted", "skipped"]
    assert len(slack_stub.calls_to("chat.postMessage")) == 1


# --- failing jobs ---------------------------------------------------------------------------------


def test_a_job_that_raises_is_logged_and_runs_again(caplog) -> None:
    caplog.set_level(logging.ERROR)
    calls: list[int] = []
    second = threading.Event()

    def flaky() -> None:
        calls.append(len(calls) + 1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        second.set()

    health = JobHealth()
    scheduler = BackgroundScheduler(timezone=UTC)
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

    scheduler.add_listener(health.listener, EVENT_JOB_ERROR | EVENT_JOB_EXECUTED)
    add_logged_job(scheduler, "flaky", flaky, IntervalTrigger(seconds=0.2, timezone=UTC))
    scheduler.start()
    try:
        assert second.wait(10), "the job did not run again after failing"
    finally:
        scheduler.shutdown(wait=True)
    assert calls[:2] == [1, 2]
    ours = [r for r in caplog.records if r.name == "services.scheduling" and r.exc_info]
    assert ours[0].getMessage() == "job flaky raised; the next run is still scheduled"
    assert ours[0].exc_info[0] is RuntimeError and "database went away" in caplog.text
    assert health.failures == {"flaky": 1}
    assert health.last_error == {"flaky": "RuntimeError: database went away"}
    assert health.runs["flaky"] >= 2


# --- the whole schedule ------------------------------------------------------------------------------


def test_build_scheduler_registers_every_job() -> None:
    scheduler = build_scheduler(None, CFG, None, instance_id="test")  # not started: nothing runs
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {JOB_STARTUP, JOB_SCAN, JOB_DIGEST, JOB_OUTBOX, JOB_DIGEST_CHECK}
    assert jobs[JOB_SCAN].trigger.interval == dt.timedelta(hours=CFG.scan.interval_hours)
    assert jobs[JOB_OUTBOX].trigger.interval == dt.timedelta(minutes=CFG.slack.outbox_flush_minutes)
    assert jobs[JOB_DIGEST_CHECK].trigger.interval == dt.timedelta(minutes=CFG.slack.outbox_flush_minutes)
    digest = jobs[JOB_DIGEST]
    assert digest.misfire_grace_time == 12 * 3600 and digest.coalesce is True
    assert digest.trigger.get_next_fire_time(None, utc(2026, 10, 20, 0, 0)).astimezone(UTC) == utc(2026, 10, 26, 9, 0)


def _wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_a_restarted_worker_scans_alerts_and_catches_up_the_digest_once(session_factory, slack_stub) -> None:
    """Start at Monday 11:00 London (two hours after the digest was due, process was down):
    the start-up job scans, delivers the alerts it queued, then posts the missed digest.
    A second start ("restart") posts nothing again."""
    seed_orgs(session_factory, {"acme": 50_000, "globex": 20_000}, names={"acme": "Acme", "globex": "Globex"})
    now = utc(2026, 10, 19, 10, 0)  # Monday 11:00 BST; scan sees 18 days of silence
    client = make_web_client(slack_stub.token, slack_stub.base_url)
    for instance in ("worker-a", "worker-b"):
        health = JobHealth()
        scheduler = build_scheduler(session_factory, CFG, SlackDelivery(client), instance_id=instance, health=health,
                                    clock=lambda: now)
        scheduler.start()
        try:
            _wait(lambda h=health: h.runs.get(JOB_STARTUP, 0) == 1)
        finally:
            scheduler.shutdown(wait=True)
        assert health.failures == {}
    texts = [m["text"] for m in slack_stub.posted]
    assert [t.split(" (priority")[0] for t in texts[:2]] == ["New high-priority signal: Acme — Revenue at risk",
                                                            "New high-priority signal: Globex — Revenue at risk"]
    assert texts[2:] == ["Weekly digest 2026-W43: 2 orgs need attention · $70,000 MRR at risk"]
    assert {r.status for r in outbox_rows(session_factory)} == {"sent"} and len(outbox_rows(session_factory)) == 2
    with session_factory() as s:
        (claim,) = s.query(DigestClaim).all()
    assert (claim.period, claim.status, claim.claimed_by) == ("2026-W43", "posted", "worker-a")


def _run_startup_job(session_factory, slack_stub, cfg: Config, now: dt.datetime) -> JobHealth:
    """One worker ("w") started at ``now``: its start-up job run once, then shut down."""
    health = JobHealth()
    delivery = SlackDelivery(make_web_client(slack_stub.token, slack_stub.base_url))
    scheduler = build_scheduler(session_factory, cfg, delivery, instance_id="w", health=health, clock=lambda: now)
    scheduler.start()
    try:
        _wait(lambda: health.runs.get(JOB_STARTUP, 0) == 1)
    finally:
        scheduler.shutdown(wait=True)
    return health


def test_a_failing_scan_at_start_up_still_lets_the_digest_go(session_factory, slack_stub, caplog) -> None:
    """The start-up scan raises (a priority configuration missing a signal type); the
    job is logged as failed, and the digest step after it still posts from the last scan."""
    seed_orgs(session_factory, {"acme": 50_000})
    run_scan(session_factory, CFG, SEEN + dt.timedelta(days=13))
    broken = dataclasses.replace(CFG, priority=dataclasses.replace(CFG.priority, type_weight={}))
    now = utc(2026, 10, 19, 8, 30)
    health = _run_startup_job(session_factory, slack_stub, broken, now)
    assert health.failures == {JOB_STARTUP: 1}
    assert any(r.getMessage() == "startup step scan failed" and r.exc_info for r in caplog.records)
    assert [m["text"] for m in slack_stub.posted] == [
        "Weekly digest 2026-W43: 1 org needs attention · $50,000 MRR at risk"]


def test_worker_refuses_to_start_without_a_token(tmp_path) -> None:
    from click.testing import CliRunner

    from cli import cli

    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "SAAS_TRACKER_CONFIG": None, "SLACK_BOT_TOKEN": None}
    result = CliRunner().invoke(cli, ["worker"], env=env)
    assert result.exit_code == 1 and "SLACK_BOT_TOKEN is not set" in result.output


def test_a_replica_a_moment_behind_another_skips_its_scan_in_one_line(session_factory, slack_stub, caplog) -> None:
    """Two workers on one schedule: the other replica's scan, a minute later by its clock,
    is already in. This one's start-up scan is skipped with one info line, not counted as a
    failure, and the rest of the job (alerts, digest) still runs."""
    caplog.set_level(logging.INFO, logger="services.scheduling")
    seed_orgs(session_factory, {"acme": 50_000})
    now = utc(2026, 10, 19, 8, 30)
    run_scan(session_factory, CFG, now + dt.timedelta(minutes=1))
    health = _run_startup_job(session_factory, slack_stub, CFG, now)
    assert health.failures == {}
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("scan skipped: ")]
    assert len(skipped) == 1 and "before the latest scan" in skipped[0]
    with session_factory() as s:
        assert s.query(ScanRun).count() == 1
    assert [m["text"] for m in slack_stub.posted] == [
        "Weekly digest 2026-W43: 1 org needs attention · $50,000 MRR at risk"]
