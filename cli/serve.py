"""`saas-tracker serve`: the Slack app (Socket Mode or HTTP) plus the scheduler."""

from __future__ import annotations

import json
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import click

from cli import cli
from cli.common import LazySessionFactory, get_config
from domain.config import Secrets

log = logging.getLogger(__name__)

# The work after each acknowledgement (database reads, answers to Slack) runs on this pool;
# the acknowledgements themselves run on the HTTP server's threads (bot.http.HTTP_THREADS).
# The work is mostly computation under Python's interpreter lock: more threads would not
# answer sooner, they would only take the lock from the threads acknowledging a burst
# (bench/slack_load.py: 16 threads doubled the slowest acknowledgement).
LISTENER_THREADS = 4


def _require(value: str | None, name: str, why: str) -> str:
    if not value:
        raise click.ClickException(f"{name} is not set: {why}")
    return value


@contextmanager
def _quiet_slack_libraries():
    """While serve connects, slack_sdk logs each failed attempt and Bolt warns about its
    token argument; the one line serve prints when connecting fails says it all."""
    names = {"slack_sdk", "slack_bolt", "slack_bolt.App"} | {
        name for name in logging.root.manager.loggerDict if name.startswith(("slack_sdk", "slack_bolt"))}
    loggers = [logging.getLogger(name) for name in sorted(names)]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _failure(exc: BaseException) -> str:
    """One line for why talking to Slack failed at start: Slack's answer, or why it could not
    be reached (the deepest cause), never a traceback."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, SlackApiError):
        return f"Slack refused: {exc.response.get('error') or exc.response.status_code}"
    if isinstance(exc, BoltError):  # Bolt's wrapping of a refused auth.test
        return f"Slack refused the bot token: {' '.join(str(exc).split())}"[:300]
    cause = getattr(exc, "reason", None) or exc.__cause__ or exc
    return f"could not reach Slack: {' '.join(str(cause).split()) or type(cause).__name__}"[:300]


@cli.command()
@click.option("--http", "http_mode", is_flag=True, help="Serve Slack's HTTP endpoints instead of Socket Mode.")
@click.option("--host", default=None,
              help="HTTP mode: address to listen on. Default: slack.http_host from the configuration, "
                   "itself 0.0.0.0 — every network interface, so the port is reachable from other "
                   "machines; pass 127.0.0.1 to listen on this machine only (e.g. behind a local proxy).")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535), help="HTTP mode: port.")
@click.option("--no-scheduler", is_flag=True, help="Don't run scans, digest and alerts here (a `worker` does).")
@click.option("--migrate/--no-migrate", default=True, show_default=True, help="Upgrade the schema at start.")
@click.pass_context
def serve(ctx: click.Context, http_mode: bool, host: str | None, port: int, no_scheduler: bool,
          migrate: bool) -> None:
    """Run the Slack bot: slash commands, buttons, App Home, and (unless --no-scheduler)
    the scheduled scans, weekly digest and real-time alerts.

    Socket Mode when SLACK_APP_TOKEN is set (no public URL needed), otherwise pass --http
    to serve /slack/events, /healthz and /metrics. HTTP mode listens on 0.0.0.0 (every
    interface) unless --host or slack.http_host says otherwise. When Slack can't be
    reached at start, serve exits with one line saying why.

    \b
    Examples:
      SLACK_BOT_TOKEN=xoxb-… SLACK_APP_TOKEN=xapp-… saas-tracker serve
      SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… saas-tracker serve --http --port 3000
      SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… saas-tracker serve --http --host 127.0.0.1
    """
    from bot.app import create_app
    from bot.client import make_web_client, resolve_api_url
    from bot.metrics import Metrics
    from services.tracker import Tracker
    from storage import migrate as migrations

    cfg = get_config(ctx)
    secrets = Secrets.from_env()
    token = _require(secrets.slack_bot_token, "SLACK_BOT_TOKEN", "the bot token (xoxb-…) from the Slack app page")
    if not http_mode and not secrets.slack_app_token:
        raise click.ClickException("SLACK_APP_TOKEN is not set: set it for Socket Mode, or run with --http")
    signing_secret = secrets.slack_signing_secret or ""
    if http_mode:
        _require(signing_secret, "SLACK_SIGNING_SECRET", "HTTP mode verifies every request with it")
    host = host or cfg.slack.http_host
    api_url = resolve_api_url(cfg)
    client = make_web_client(token, api_url)
    tracker = Tracker(LazySessionFactory(ctx), cfg)  # type: ignore[arg-type]  # opened after the migration
    metrics = Metrics()
    # Our own pool for the work after each ack, so a shutdown can let it finish.
    executor = ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="bolt-listener")
    try:
        # Bolt checks the token with auth.test here: Slack unreachable or the token refused
        # ends the program with one line, before anything else starts.
        with _quiet_slack_libraries():
            app = create_app(tracker, client, signing_secret, listener_executor=executor, metrics=metrics)
    except Exception as exc:
        executor.shutdown(wait=False)
        raise click.ClickException(f"cannot start with Slack at {api_url}: {_failure(exc)}") from exc

    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a service logs what it does
    if migrate:
        migrations.upgrade(secrets.database_url)
    stop = threading.Event()
    scheduler = None
    started = False
    try:
        if http_mode:
            from bot.http import make_server

            server = make_server(app, tracker, signing_secret, host=host, port=port, metrics=metrics)

            def _stop_http(*_args: object) -> None:
                stop.set()
                server.close()

            signal.signal(signal.SIGTERM, _stop_http)
            scheduler = _start_scheduler(no_scheduler, tracker, client)
            started = True
            click.echo(f"serving Slack on http://{host}:{server.effective_port}/slack/events "
                       "(health: /healthz, metrics: /metrics)")
            try:
                server.run()
            except (OSError, ValueError):
                if not stop.is_set():
                    raise
        else:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(app, secrets.slack_app_token)
            try:
                with _quiet_slack_libraries():
                    handler.connect()
            except Exception as exc:
                raise click.ClickException(f"cannot open Socket Mode with Slack at {api_url}: {_failure(exc)}") from exc
            signal.signal(signal.SIGTERM, lambda *_args: stop.set())
            scheduler = _start_scheduler(no_scheduler, tracker, client)
            started = True
            click.echo("connected to Slack in Socket Mode")
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
            handler.close()
    finally:
        executor.shutdown(wait=True)  # answers already acknowledged still go out
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if started:
            log.info("requests served: %s", json.dumps(metrics.snapshot()))


def _start_scheduler(no_scheduler: bool, tracker, client):
    if no_scheduler:
        return None
    from bot.delivery import SlackDelivery
    from services.scheduling import build_scheduler

    cfg = tracker.cfg
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our jobs log what they did
    scheduler = build_scheduler(tracker.factory, cfg, SlackDelivery(client))
    scheduler.start()
    log.info("scheduler started: scans every %sh, digest %s %s %s",
             cfg.scan.interval_hours, cfg.slack.digest_day, cfg.slack.digest_time, cfg.slack.timezone)
    return scheduler
