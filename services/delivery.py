"""Sending one message to Slack and deciding what a failure means for the next attempt.

Both delivery paths (the weekly digest and the alert outbox) go through here, so they agree
on which failures are worth retrying and how long to wait: a rate limit waits at least
Slack's Retry-After, a server or network error backs off exponentially, and a channel, auth
or request error is final until a person fixes its cause.

A post that failed *ambiguously* (a 5xx, a timeout, a dropped connection: Slack may have
posted it before the failure) is never simply sent again. Every post carries message
metadata naming what it is, and before trying again the sender looks for that metadata in
the channel's recent history (``look_for_earlier_post``); a rate limit or an API error says
nothing was posted, so those are retried straight away.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.channels import ChannelNotFound
from bot.slack_errors import ErrorCategory, classify, error_code, is_retryable

_HISTORY_PAGES = 5
_HISTORY_PAGE_SIZE = 200
# Slack's clock and ours may differ by a little: search history from a bit before the claim.
_HISTORY_SLACK = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class SendFailure:
    category: ErrorCategory
    error: str  # Slack's error code, or the exception, as recorded for people
    retry_after: float | None = None  # seconds, from Slack's Retry-After header

    @property
    def retryable(self) -> bool:
        return is_retryable(self.category)

    @property
    def may_have_posted(self) -> bool:
        """A 5xx, timeout or dropped connection leaves open whether Slack posted; a rate
        limit or an API error (an answer from Slack) says it did not."""
        return self.category == ErrorCategory.RETRYABLE


@dataclass(frozen=True)
class EarlierPost:
    """What the channel history says about an earlier attempt at the same message."""

    ts: str | None = None  # the message, when it is there
    failure: SendFailure | None = None  # the history could not be read

    @property
    def unknown(self) -> bool:
        """History unreadable for a passing reason (rate limit, 5xx): ask again later
        rather than risk a second copy. A lasting reason (no history scope, the bot not
        in the channel) is not worth waiting for: the caller posts, a duplicate being
        better than a message never sent."""
        return self.failure is not None and self.failure.retryable


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    for key, value in dict(headers).items():
        if str(key).lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except (TypeError, ValueError):
                return None
    return None


def describe_failure(exc: BaseException) -> SendFailure:
    """Name what went wrong (category and error code) for an exception raised by a send."""
    if isinstance(exc, ChannelNotFound):
        return SendFailure(ErrorCategory.PERMANENT_CHANNEL, str(exc))
    category = classify(exc)
    code = error_code(exc)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if code or status:
        error = code or "error"
        if status and status != 200:
            error += f" (HTTP {status})"
    else:
        error = f"{type(exc).__name__}: {exc}"
    retry_after = _retry_after(exc) if category == ErrorCategory.RATE_LIMITED else None
    return SendFailure(category, error.splitlines()[0][:500], retry_after)


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    base × 2^(attempt − 1), capped at `cap`; Slack's Retry-After always wins when longer,
    because retrying earlier only earns another 429.
    """
    delay = min(cap, base * (2 ** max(attempt - 1, 0)))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def post_message(client: Any, channel: str, message: Mapping[str, Any],
                 metadata: Mapping[str, Any] | None = None) -> str:
    """chat.postMessage a built message ({"text", "blocks"}); returns the message ts."""
    kwargs: dict[str, Any] = {"channel": channel, "text": message["text"], "blocks": message["blocks"]}
    if metadata is not None:
        kwargs["metadata"] = dict(metadata)
    response = client.chat_postMessage(**kwargs)
    return str(response["ts"])


def find_message_with_metadata(client: Any, channel: str, event_type: str, payload: Mapping[str, Any],
                               since: dt.datetime) -> str | None:
    """The ts of a message in `channel` since `since` whose metadata matches, or None."""
    oldest = f"{(since - _HISTORY_SLACK).timestamp():.6f}"
    cursor: str | None = None
    for _ in range(_HISTORY_PAGES):
        response = client.conversations_history(channel=channel, oldest=oldest, include_all_metadata=True,
                                                limit=_HISTORY_PAGE_SIZE, cursor=cursor)
        for msg in response.get("messages") or []:
            meta = msg.get("metadata") or {}
            if meta.get("event_type") != event_type:
                continue
            found = meta.get("event_payload") or {}
            if all(found.get(k) == v for k, v in payload.items()):
                return str(msg.get("ts"))
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return None
    return None


def look_for_earlier_post(client: Any, channel: str, metadata: Mapping[str, Any], since: dt.datetime) -> EarlierPost:
    """Is the message tagged with `metadata` ({"event_type", "event_payload"}) already in
    `channel`, posted since `since`? Never raises: a history failure is part of the answer."""
    try:
        ts = find_message_with_metadata(client, channel, metadata["event_type"], metadata["event_payload"], since)
    except Exception as exc:
        return EarlierPost(failure=describe_failure(exc))
    return EarlierPost(ts=ts)
