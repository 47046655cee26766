"""The Slack side of delivery: ``services.ports.SlackPort`` implemented with slack_sdk.

Posts go through ``bot.client.posting_client`` (rate-limit retries only): a chat.postMessage
that timed out or got a 5xx may have posted, so it is never silently sent again by the SDK;
the use case looks for the message's metadata in the channel history first
(``find_earlier_post``). Every exception a Slack call raises leaves here as a
``DeliveryError`` whose ``SendFailure`` names its category, so the use cases decide on
categories, never on Slack error codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from bot.alert_messages import alert_message, grouped_alert_message
from bot.channels import resolver_for
from bot.chart_upload import upload_png
from bot.client import posting_client
from bot.digest_charts import digest_charts
from bot.digest_messages import digest_message
from bot.slack_errors import classify, error_code
from domain.config import Config
from services.ports import (
    ChannelNotFound,
    ChartImage,
    DeliveryError,
    EarlierPost,
    ErrorCategory,
    Message,
    SendFailure,
)
from services.read_models import Digest, OrgItem

_HISTORY_PAGES = 5
_HISTORY_PAGE_SIZE = 200
# Slack's clock and ours may differ by a little: search history from a bit before the claim.
_HISTORY_SLACK = dt.timedelta(minutes=1)


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


class BlockKitMessages:
    """The use cases' ``MessageBuilder``: this app's Block Kit layouts, limits checked."""

    def alert(self, item: OrgItem, now: dt.datetime, cfg: Config) -> Message:
        return alert_message(item, now, cfg)

    def grouped_alert(self, items: Sequence[OrgItem], now: dt.datetime, cfg: Config) -> Message:
        return grouped_alert_message(list(items), now, cfg)

    def digest(self, digest: Digest, now: dt.datetime, cfg: Config,
               images: Mapping[str, str] | None = None) -> Message:
        return digest_message(digest, now, cfg, images=images)

    def digest_charts(self, digest: Digest, cfg: Config) -> Sequence[ChartImage]:
        return digest_charts(digest, cfg)


class SlackDelivery(BlockKitMessages):
    """One WebClient seen as the use cases' ``SlackPort``."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._poster = posting_client(client)
        self._resolver = resolver_for(client)

    # --- SlackChannels ----------------------------------------------------------------

    def resolve_channel(self, name: str) -> str:
        try:
            return self._resolver.resolve(name)
        except ChannelNotFound:
            raise
        except Exception as exc:  # Slack unreachable or refusing: the caller decides on the category
            raise DeliveryError(describe_failure(exc)) from exc

    def post(self, channel: str, message: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
        kwargs: dict[str, Any] = {"channel": channel, "text": message["text"], "blocks": message["blocks"],
                                  "metadata": dict(metadata)}
        try:
            response = self._poster.chat_postMessage(**kwargs)
        except Exception as exc:
            raise DeliveryError(describe_failure(exc)) from exc
        return str(response["ts"])

    def upload_image(self, png: bytes, filename: str, title: str, alt_text: str | None = None) -> str | None:
        uploaded = upload_png(self.client, png, filename=filename, title=title, alt_text=alt_text)
        return uploaded.file_id if uploaded is not None else None

    def find_earlier_post(self, channel: str, metadata: Mapping[str, Any], since: dt.datetime) -> EarlierPost:
        try:
            ts = find_message_with_metadata(self.client, channel, metadata["event_type"],
                                            metadata["event_payload"], since)
        except Exception as exc:
            return EarlierPost(failure=describe_failure(exc))
        return EarlierPost(ts=ts)
