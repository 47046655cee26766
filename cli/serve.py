"""`saas-tracker serve`: the Slack app (Socket Mode or HTTP) plus the scheduler."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import click

from cli import cli
from cli.common import get_config, get_session_factory
from domain.config import Secrets

log = logging.getLogger(__name__)

LISTENER_THREADS = 8


def _require(value: str | None, name: str, why: str) -> str:
    if not value:
        raise click.ClickException(f"{name} is not set: {why}")
    return value


@cli.command()
@click.option("--http", "http_mode", is_flag=True, help="Serve Slack's HTTP endpoints instead of Socket Mode.")
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP mode: address to listen on.")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535), help="HTTP mode: port.")
@click.option("--no-scheduler", is_flag=True, help="Don't run scans, digest and alerts here (a `worker` does).")
@click.option("--migrate/--no-migrate", default=True, show_default=True, help="Upgrade the schema at start.")
@click.pass_context
def serve(ctx: click.Context, http_mode: bool, host: str, port: int, no_scheduler: bool, migrate: bool) -> None:
    """Run the Slack bot: slash commands, buttons, App Home, and (unless --no-scheduler)
    the scheduled scans, weekly digest and real-time alerts.

    Socket Mode when SLACK_APP_TOKEN is set (no public URL needed), otherwise pass --http
    to serve /slack/events and /healthz behind a load balancer.

    \b
    Examples:
      SLACK_BOT_TOKEN=xoxb-… SLACK_APP_TOKEN=xapp-… saas-tracker serve
      SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… saas-tracker serve --http --port 3000
    """
    from bot.app import create_app
    from bot.client import make_web_client, resolve_api_url
    from bot.metrics import Metrics
    from services.tracker import Tracker
    from storage import migrate as migrations

    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a service logs what it does
    cfg = get_config(ctx)
    secrets = Secrets.from_env()
    token = _require(secrets.slack_bot_token, "SLACK_BOT_TOKEN", "the bot token (xoxb-…) from the Slack app page")
    if not http_mode and not secrets.slack_app_token:
        raise click.ClickException("SLACK_APP_TOKEN is not set: set it for Socket Mode, or run with --http")
    signing_secret = secrets.slack_signing_secret or ""
    if http_mode:
        _require(signing_secret, "SLACK_SIGNING_SECRET", "HTTP mode verifies every request with it")
    if migrate:
        migrations.upgrade(secrets.database_url)
    factory = get_session_factory(ctx)
    client = make_web_client(token, resolve_api_url(cfg))
    # Our own pool for the work after each ack, so a shutdown can let it finish.
    executor = ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="bolt-listener")
    tracker = Tracker(factory, cfg)
    metrics = Metrics()
    app = create_app(tracker, client, signing_secret, listener_executor=executor, metrics=metrics)

    scheduler = None
    if not no_scheduler:
        from services.scheduling import build_scheduler

        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our jobs log what they did
        from bot.delivery import SlackDelivery

        scheduler = build_scheduler(factory, cfg, SlackDelivery(client))
        scheduler.start()
        log.info("scheduler started: scans every %sh, digest %s %s %s",
                 cfg.scan.interval_hours, cfg.slack.digest_day, cfg.slack.digest_time, cfg.slack.timezone)
    try:
        if http_mode:
            from bot.http import make_server

            server = make_server(app, tracker, signing_secret, host=host, port=port, metrics=metrics)
            stop = threading.Event()

            def _stop(*_args: object) -> None:
                stop.set()
                server.close()

            signal.signal(signal.SIGTERM, _stop)
            click.echo(f"serving Slack on http://{host}:{server.effective_port}/slack/events (health: /healthz)")
            try:
                server.run()
            except (OSError, ValueError):
                if not stop.is_set():
                    raise
        else:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            click.echo("connecting to Slack in Socket Mode")
            SocketModeHandler(app, secrets.slack_app_token).start()
    finally:
        executor.shutdown(wait=True)  # answers already acknowledged still go out
        if scheduler is not None:
            scheduler.shutdown(wait=False)
