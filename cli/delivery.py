"""`saas-tracker worker`, `digest` and `outbox`: the schedule and what it delivers to Slack."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import re
import signal
import socket
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import click

from cli import cli
from cli.common import get_config, get_session_factory
from domain.config import Config, Secrets

BLOCK_KIT_BUILDER_URL = "https://app.slack.com/block-kit-builder/#"
_PERIOD = re.compile(r"^(\d{4})-W(\d{2})$")


def block_kit_builder_link(blocks: list[dict[str, Any]]) -> str:
    """A link that opens the blocks in Slack's Block Kit Builder, for previewing a message."""
    payload = json.dumps({"blocks": blocks}, separators=(",", ":"), ensure_ascii=False)
    return BLOCK_KIT_BUILDER_URL + urllib.parse.quote(payload, safe="")


def slack_port(cfg: Config) -> Any:
    """Slack for the delivery use cases: the app's WebClient from SLACK_BOT_TOKEN and the API
    URL (SLACK_API_URL, else slack.api_url), behind ``bot.delivery.SlackDelivery``."""
    secrets = Secrets.from_env()
    if not secrets.slack_bot_token:
        raise click.ClickException("SLACK_BOT_TOKEN is not set: it is needed to post to Slack "
                                   "(use --dry-run to preview without Slack)")
    from bot.client import make_web_client, resolve_api_url
    from bot.delivery import SlackDelivery

    return SlackDelivery(make_web_client(secrets.slack_bot_token, resolve_api_url(cfg)))


def _parse_time(value: str | None) -> dt.datetime:
    from cli.scan import parse_as_of

    return parse_as_of(value) or dt.datetime.now(dt.timezone.utc)


def _check_period(value: str | None) -> str | None:
    if value is None:
        return None
    match = _PERIOD.match(value)
    if match:
        try:
            dt.date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
            return value
        except ValueError:
            pass
    raise click.BadParameter(f"{value!r} is not an ISO week such as 2026-W48", param_hint="--period")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the digest (Block Kit JSON and a preview link); post nothing.")
@click.option("--text", "as_text", is_flag=True, help="With --dry-run: print it as readable text instead of JSON.")
@click.option("--now", "post_now", is_flag=True, help="Post this week's digest now, unless it was already posted.")
@click.option("--period", help="With --now: the ISO week to post for (default: the current digest week).")
@click.option("--as-of", help="With --dry-run: build the digest as of this date or time (default now).")
@click.option("--chart", "chart_dir", type=click.Path(file_okay=False, path_type=Path),
              help="With --dry-run: also write the digest's charts (PNG) to this directory.")
@click.pass_context
def digest(ctx: click.Context, dry_run: bool, as_text: bool, post_now: bool, period: str | None,
           as_of: str | None, chart_dir: Path | None) -> None:
    """The weekly digest: preview it, or post it now (exactly once per channel and week).

    \b
    Example:
      saas-tracker digest --dry-run            # Block Kit JSON + Block Kit Builder link
      saas-tracker digest --dry-run --text     # readable text
      saas-tracker digest --dry-run --text --chart charts/   # and the two charts as PNG files
      saas-tracker digest --now                # post, unless this week's is already posted
    """
    if as_text:
        dry_run = True
    if dry_run == post_now:
        raise click.UsageError("choose one of --dry-run (preview) or --now (post)")
    if period is not None and not post_now:
        raise click.UsageError("--period goes with --now")
    if as_of is not None and post_now:
        raise click.UsageError("--as-of goes with --dry-run: a posted digest is always as of now")
    if chart_dir is not None and post_now:
        raise click.UsageError("--chart goes with --dry-run: a posted digest uploads its charts to Slack")
    force_period = _check_period(period)
    cfg = get_config(ctx)
    factory = get_session_factory(ctx)
    if dry_run:
        _dry_run(cfg, factory, _parse_time(as_of), as_text, chart_dir)
        return

    from services.digest_schedule import current_period
    from services.digest import FAILED, POSTED, post_weekly_digest

    now = dt.datetime.now(dt.timezone.utc)
    slack = slack_port(cfg)
    who = f"cli:{getpass.getuser()}@{socket.gethostname()}"
    outcome = post_weekly_digest(factory, slack, cfg, now, who,
                                 force_period=force_period or current_period(cfg, now)[0])
    if outcome.status == POSTED:
        click.echo(f"digest {outcome.period} posted to {cfg.slack.digest_channel} (ts {outcome.message_ts})")
    elif outcome.status == FAILED:
        raise click.ClickException(f"digest {outcome.period} not posted: {outcome.reason}")
    else:
        click.echo(f"digest {outcome.period} not posted again: {outcome.reason}")


def _dry_run(cfg: Config, factory, now: dt.datetime, as_text: bool, chart_dir: Path | None = None) -> None:
    from bot.digest_messages import digest_message
    from services.digest import build_digest
    from cli.digest_text import render_digest_text

    from storage.db import find_application

    with factory() as session:
        app = find_application(session, cfg.application)
        if app is None:
            raise click.ClickException(
                f"application {cfg.application!r} has no data yet: run `saas-tracker import` first")
        data = build_digest(session, app.id, now, cfg)
    if chart_dir is not None:
        from bot.digest_charts import digest_charts
        from cli.output import write_charts

        write_charts(chart_dir, [(c.filename, c.png) for c in digest_charts(data, cfg)], err=not as_text)
    if as_text:
        click.echo(render_digest_text(data, now, cfg.currency_symbol))
        return
    message = digest_message(data, now, cfg)
    click.echo(json.dumps(message, indent=2, ensure_ascii=False))
    click.echo()
    click.echo("Preview in Block Kit Builder:")
    click.echo(block_kit_builder_link(message["blocks"]))


@cli.command()
@click.option("--status", type=click.Choice(("pending", "sending", "sent", "failed")), help="Only rows in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--retry", "retry_id", type=int, help="Re-queue this failed row for the next delivery.")
@click.option("--deliver", is_flag=True, help="Send every row that is due now (needs SLACK_BOT_TOKEN).")
@click.pass_context
def outbox(ctx: click.Context, status: str | None, limit: int, retry_id: int | None, deliver: bool) -> None:
    """Queued Slack alerts: what was sent, what waits for a retry, what failed and why.

    \b
    Example:
      saas-tracker outbox --status failed
      saas-tracker outbox --retry 42         # after inviting the bot to the channel
      saas-tracker outbox --deliver
    """
    from services import outbox

    cfg = get_config(ctx)
    factory = get_session_factory(ctx)
    now = dt.datetime.now(dt.timezone.utc)
    if retry_id is not None:
        with factory() as session, session.begin():
            try:
                row = outbox.retry_outbox(session, retry_id, now)
            except outbox.OutboxRetryError as exc:
                raise click.ClickException(str(exc)) from exc
        click.echo(f"outbox row {row.id} re-queued; it is sent by the next delivery (worker, serve or --deliver)")
        return
    if deliver:
        report = outbox.deliver_outbox(factory, slack_port(cfg), now, cfg)
        click.echo(f"outbox: {report}")
        return
    with factory() as session:
        rows = outbox.list_outbox(session, status, limit)
        counts = outbox.outbox_counts(session)
    click.echo("  ".join(f"{k}: {v}" for k, v in counts.items()))
    if not rows:
        click.echo("no outbox rows" + (f" with status {status}" if status else ""))
        return
    for row in rows:
        click.echo(_outbox_line(row))


def _outbox_line(row) -> str:
    text = " ".join(str((row.payload or {}).get("text", "")).split())
    when = {
        "sent": f"sent {row.sent_at:%Y-%m-%d %H:%M}" if row.sent_at else "sent",
        "pending": f"next try {row.next_attempt_at:%Y-%m-%d %H:%M}",
        "sending": "sending now",
        "failed": "failed",
    }.get(row.status, row.status)
    line = (f"{row.id:>5}  {row.created_at:%Y-%m-%d %H:%M}  {row.kind:<11} {row.channel:<20} {row.status:<8} "
            f"attempts {row.attempts}  {when}  {text[:60]}")
    if row.last_error:
        line += f"\n       reason: {row.last_error}"
    return line


@cli.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run the schedule alone, in the foreground: scans, weekly digest, alerts and retries.

    \b
    Needs SLACK_BOT_TOKEN. Stop with Ctrl-C (or SIGTERM); running jobs finish first.
    Example:
      saas-tracker worker
    """
    from services.digest_schedule import next_fire_times
    from services.scheduling import build_scheduler, default_instance_id

    cfg = get_config(ctx)
    slack = slack_port(cfg)  # a missing token is the first thing to say
    factory = get_session_factory(ctx)
    instance = default_instance_id()
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a service logs what it does
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # APScheduler logs every run at INFO (two jobs every few minutes); our jobs log what
        # they did, and job failures still come through at ERROR.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = build_scheduler(factory, cfg, slack, instance_id=instance)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler.start()
    (next_digest,) = next_fire_times(cfg, dt.datetime.now(dt.timezone.utc), 1)
    click.echo(f"worker {instance}: scan every {cfg.scan.interval_hours:g} h, next digest "
               f"{next_digest:%a %Y-%m-%d %H:%M %Z} to {cfg.slack.digest_channel}, "
               f"alerts to {cfg.slack.alerts_channel or cfg.slack.digest_channel}; Ctrl-C stops")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping: waiting for running jobs")
        scheduler.shutdown(wait=True)
