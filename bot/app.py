"""The Slack app factory: the one place that wires Bolt to settings, database and client.

Tests and production build the app the same way, `create_app(cfg, factory, client,
signing_secret)`, with a WebClient pointed at Slack or at a local stand-in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import Executor

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.directory import SlackDirectory
from bot.event_dedupe import dedupe_middleware
from bot.handlers import commands, home, interactions
from bot.handlers.context import BotContext, utc_now
from domain.config import Config


def create_app(cfg: Config, factory: sessionmaker[Session], client: WebClient, signing_secret: str, *,
               now: Callable[[], dt.datetime] = utc_now, token_verification: bool = True,
               listener_executor: Executor | None = None) -> App:
    """A Bolt app with every command, click and event listener registered.

    `token_verification` makes Bolt call auth.test at start (Slack or the stand-in must
    answer); turn it off only where no Web API is reachable at all. `listener_executor` runs
    the work that follows each ack (Bolt's default pool when None); passing one lets a caller
    wait for in-flight work on shutdown.
    """
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=token_verification,
              ignoring_self_events_enabled=True, listener_executor=listener_executor)
    ctx = BotContext(cfg=cfg, factory=factory, directory=SlackDirectory(client), now=now)
    app.use(dedupe_middleware(factory, now))
    commands.register(app, ctx)
    interactions.register(app, ctx)
    home.register(app, ctx)
    return app
