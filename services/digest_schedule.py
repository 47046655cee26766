"""When the weekly digest is due, and which week ("period") a post belongs to.

One cron trigger is the single definition of the schedule: the scheduler fires it, and
the missed-run check asks the same trigger for the latest fire time before now, so the
two can never disagree about daylight-saving time. The period of a digest is the ISO week
of its scheduled *local* time ("2026-W48"); it is the key of the exactly-once claim.

APScheduler's cron trigger fires twice for a local time that occurs twice (autumn
fall-back at 01:30 in London): both fires fall on the same local day, so they share a
period and the claim lets only one of them post.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from domain.config import Config

_LOOKBACK = dt.timedelta(days=8)  # more than a week: one fire time is always inside


def digest_timezone(cfg: Config) -> ZoneInfo:
    return ZoneInfo(cfg.slack.timezone)


def digest_trigger(cfg: Config) -> CronTrigger:
    """The weekly cron: cfg.slack.digest_day at digest_time in cfg.slack.timezone."""
    hour, _, minute = cfg.slack.digest_time.partition(":")
    return CronTrigger(day_of_week=cfg.slack.digest_day, hour=int(hour), minute=int(minute),
                       timezone=digest_timezone(cfg))


def next_fire_times(cfg: Config, after: dt.datetime, count: int) -> list[dt.datetime]:
    """The next `count` scheduled digest times at or after `after` (aware, local zone)."""
    trigger = digest_trigger(cfg)
    out: list[dt.datetime] = []
    previous: dt.datetime | None = None
    now = after
    while len(out) < count:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:  # a weekly cron always has a next time; guard against a bad trigger
            break
        out.append(fire)
        previous = now = fire
    return out


def latest_fire_time(cfg: Config, now: dt.datetime) -> dt.datetime:
    """The latest scheduled digest time at or before `now`."""
    latest: dt.datetime | None = None
    for fire in next_fire_times(cfg, now - _LOOKBACK, 4):
        if fire > now:
            break
        latest = fire
    assert latest is not None, "a weekly trigger fires within any 8 days"
    return latest


def period_of(fire_time: dt.datetime, cfg: Config) -> str:
    """ISO week of the scheduled local time: "2026-W48"."""
    iso = fire_time.astimezone(digest_timezone(cfg)).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def current_period(cfg: Config, now: dt.datetime) -> tuple[str, dt.datetime]:
    """The period due at `now` (that of the latest scheduled time) and that time."""
    fire = latest_fire_time(cfg, now)
    return period_of(fire, cfg), fire
