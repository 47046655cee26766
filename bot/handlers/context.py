"""What every listener needs, wired once by the app factory."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.payloads import ActionValueError
from bot.directory import SlackDirectory
from bot.messages import error_message
from bot.slack_errors import classify, user_message
from domain.config import Config
from storage.db import find_application

log = logging.getLogger("bot")

SOMETHING_WENT_WRONG = "Something went wrong on our side; it has been logged. Please try again in a minute."


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class NoData(Exception):
    """The application has nothing imported yet."""


@dataclass
class BotContext:
    cfg: Config
    factory: sessionmaker[Session]
    directory: SlackDirectory
    now: Callable[[], dt.datetime] = field(default=utc_now)

    @contextmanager
    def read(self) -> Iterator[tuple[Session, int]]:
        """A read-only session and the application id."""
        with self.factory() as session:
            app = find_application(session, self.cfg.application)
            if app is None:
                raise NoData()
            yield session, app.id

    @contextmanager
    def write(self) -> Iterator[tuple[Session, int]]:
        """One transaction for a change a person makes."""
        with self.factory() as session, session.begin():
            app = find_application(session, self.cfg.application)
            if app is None:
                raise NoData()
            yield session, app.id


def explain_failure(exc: BaseException, what: str) -> str:
    """Log a failed command or click and return the sentence the person should see."""
    if isinstance(exc, NoData):
        return "No customer data yet: import it with `saas-tracker import`, then run `saas-tracker scan`."
    if isinstance(exc, ActionValueError):
        log.warning("%s with a payload this app did not build: %s", what, exc)
        return "That button can't be used any more; run the command again."
    if isinstance(exc, SlackApiError):
        category = classify(exc)
        log.error("%s: Slack API error %s (%s)", what, exc.response.get("error"), category.value)
        return user_message(category)
    log.exception("%s failed", what)
    return SOMETHING_WENT_WRONG


def reply_error(respond: Callable[..., Any], exc: BaseException, what: str) -> None:
    """Log the failure and tell the person, ephemerally, without touching their message."""
    text = explain_failure(exc, what)
    try:
        respond(**error_message(text))
    except Exception:  # the response_url itself may be what failed; the log above has it
        log.exception("%s: could not send the error reply", what)
