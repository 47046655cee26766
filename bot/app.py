"""The Slack app factory: the one place that wires Bolt to the use cases and to Slack.

Tests and production build the app the same way, ``create_app(tracker, client,
signing_secret)``, with a ``services.tracker.Tracker`` over the database and a WebClient
pointed at Slack or at a local stand-in.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from slack_bolt import App
from slack_sdk import WebClient

from bot.directory import SlackDirectory
from bot.listeners import SlackListeners
from bot.metrics import Metrics
from bot.middleware import RequestGate
from services.tracker import Tracker


class _TokenFromClient(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN, which it reads from the environment by itself, goes
    unused when a client is passed: this app always passes the client (which has the token),
    so the warning says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_BOLT_APP_LOG = logging.getLogger("slack_bolt.App")
if not any(isinstance(f, _TokenFromClient) for f in _BOLT_APP_LOG.filters):
    _BOLT_APP_LOG.addFilter(_TokenFromClient())


def create_app(tracker: Tracker, client: WebClient, signing_secret: str, *, token_verification: bool = True,
               listener_executor: Executor | None = None, metrics: Metrics | None = None) -> App:
    """A Bolt app with every command, click and event listener registered.

    `token_verification` makes Bolt call auth.test at start (Slack or the stand-in must
    answer); turn it off only where no Web API is reachable at all. `listener_executor`
    runs the work that follows each acknowledgement (Bolt's default pool when None);
    passing one lets a caller size it and wait for in-flight work on shutdown. `metrics`
    collects per-endpoint counts and timings (``bot.metrics``).
    """
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=token_verification,
              ignoring_self_events_enabled=True, listener_executor=listener_executor,
              process_before_response=True)
    metrics = metrics if metrics is not None else Metrics()
    RequestGate(tracker, metrics).register(app)
    SlackListeners(tracker, SlackDirectory(client), metrics).register(app)
    return app
