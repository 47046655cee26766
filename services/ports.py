"""What the use cases need from Slack, in their own terms.

The digest, the alert outbox and the scheduler post messages and must decide, for every
failure, whether to wait and retry, look in the channel before trying again, or give up and
record why. They state those needs here; the Slack app (``bot.delivery``) implements them
with slack_sdk. So this layer never imports the Slack SDK or a Block Kit builder, and a test
can stand a fake in for Slack without patching anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from domain.config import Config
from services.read_models import Digest, OrgItem

Message = dict[str, Any]  # {"text": ..., "blocks": [...]}, checked against Block Kit limits


class ErrorCategory(str, Enum):
    """One decision per failure, not one per Slack error code (the adapter maps codes here)."""

    RATE_LIMITED = "rate_limited"  # wait Retry-After, then retry
    RETRYABLE = "retryable"  # Slack or the network hiccuped: retry with backoff
    PERMANENT_CHANNEL = "permanent_channel"  # the channel is wrong or closed to the bot
    PERMANENT_AUTH = "permanent_auth"  # token or scopes: an admin must act
    BAD_REQUEST = "bad_request"  # our payload is wrong: a bug, never retry
    EXPIRED = "expired"  # trigger_id / response_url no longer usable
    NOT_FOUND = "not_found"  # the user, message or group asked for does not exist
    UNKNOWN = "unknown"


RETRY_CATEGORIES = frozenset({ErrorCategory.RATE_LIMITED, ErrorCategory.RETRYABLE})


def is_retryable(category: ErrorCategory) -> bool:
    return category in RETRY_CATEGORIES


class ChannelNotFound(LookupError):
    """No channel of that name is visible to the bot (wrong name, or a private channel it
    was not invited to)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"channel {name!r} not found: check the name, and invite the bot to a private channel")


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


class DeliveryError(Exception):
    """A Slack call failed; ``failure`` says what that means for the next attempt."""

    def __init__(self, failure: SendFailure) -> None:
        super().__init__(failure.error)
        self.failure = failure


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


@dataclass(frozen=True)
class ChartImage:
    """A chart drawn for a message: PNG bytes and how Slack should name and describe it."""

    name: str  # which chart of the message: "revenue_health_map", "mrr_trend"
    png: bytes
    filename: str
    title: str
    alt_text: str


class SlackChannels(Protocol):
    """Posting, and finding what was posted, without ever posting blindly twice."""

    def upload_image(self, png: bytes, filename: str, title: str, alt_text: str | None = None) -> str | None:
        """Upload a PNG privately (shown only where a message references it); its file id, or
        None when the upload failed (no files:write scope, Slack down) — logged, never raised:
        the message then goes out without the image."""

    def resolve_channel(self, name: str) -> str:
        """The channel id for a name people use ("#customer-success"); raises
        ChannelNotFound, or DeliveryError when Slack can't be asked."""

    def post(self, channel: str, message: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
        """Post once (no retry that could post twice); returns the message ts; raises
        DeliveryError."""

    def find_earlier_post(self, channel: str, metadata: Mapping[str, Any], since: dt.datetime) -> EarlierPost:
        """Is the message tagged with ``metadata`` already in the channel, posted since
        ``since``? Never raises: a history failure is part of the answer."""


class MessageBuilder(Protocol):
    """Message layout, owned by the Slack app; checked against Block Kit limits when built."""

    def alert(self, item: OrgItem, now: dt.datetime, cfg: Config) -> Message: ...

    def grouped_alert(self, items: Sequence[OrgItem], now: dt.datetime, cfg: Config) -> Message: ...

    def digest(self, digest: Digest, now: dt.datetime, cfg: Config,
               images: Mapping[str, str] | None = None) -> Message:
        """The digest; `images` maps a chart's name (``ChartImage.name``) to the Slack file id
        it was uploaded as, shown in the message where that chart belongs."""

    def digest_charts(self, digest: Digest, cfg: Config) -> Sequence[ChartImage]:
        """The digest's charts (the Revenue × Health map, the MRR trend), drawn from its read model."""


class SlackPort(SlackChannels, MessageBuilder, Protocol):
    """Everything the delivery use cases need from Slack, implemented by ``bot.delivery``."""
