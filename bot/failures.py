"""One place that turns a failure into a log line and a sentence for the person.

Registered as Bolt's global error handler (``@app.error``, see ``bot.listeners``): Bolt
calls it for a failure in a middleware or an acknowledgement, and the listeners hand it the
failures of the work that follows an acknowledgement (which Bolt itself would only log).
Slack API errors are sorted into named categories by ``bot.slack_errors`` and each category
has one sentence a person can act on.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.messages import error_message
from bot.payloads import ActionValueError
from bot.replies import Respond, tell
from bot.requests import SlackRequest
from bot.slack_errors import classify, error_code, user_message
from services.tracker import NoData

log = logging.getLogger("bot")

SOMETHING_WENT_WRONG = "Something went wrong on our side; it has been logged. Please try again in a minute."
NO_DATA = "No customer data yet: import it with `saas-tracker import`, then run `saas-tracker scan`."
STALE_BUTTON = "That button can't be used any more; run the command again."


def explain_failure(exc: BaseException, what: str) -> str:
    """Log a failed command, click or event and return the sentence the person should see."""
    if isinstance(exc, NoData):
        return NO_DATA
    if isinstance(exc, ActionValueError):
        log.warning("%s with a payload this app did not build: %s", what, exc)
        return STALE_BUTTON
    if isinstance(exc, SlackApiError):
        category = classify(exc)
        log.error("%s: Slack API error %s (%s)", what, error_code(exc), category.value)
        return user_message(category)
    log.error("%s failed", what, exc_info=exc)
    return SOMETHING_WENT_WRONG


def describe(request: SlackRequest | None) -> str:
    """"/signals 'top 5'", "click case_tag", "event app_home_opened" for the log."""
    if request is None:
        return "request"
    text = getattr(request, "text", None)
    return f"{request.endpoint} {text!r}" if text is not None else request.endpoint


def report_failure(exc: BaseException, request: SlackRequest | None, client: Any, respond: Respond | None) -> None:
    """Log the failure and tell the person, without touching what they clicked on."""
    text = explain_failure(exc, describe(request))
    try:
        tell(request, client, respond, error_message(text))
    except Exception:  # the reply channel itself may be what failed; the log above has it
        log.exception("%s: could not tell the user", describe(request))
