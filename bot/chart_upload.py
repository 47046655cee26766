"""Put a chart PNG into Slack and reference it from Block Kit.

A chart is an extra on top of a message that already says everything in text, so a failed
upload must never stop the message: `upload_png` logs one warning line and returns None,
and the caller sends the message without the image block.

How a caller shows a chart inside its own message:

    uploaded = upload_png(client, org_trend_png(...), filename="acme-trend.png", title="Acme: 12 weeks")
    blocks = [...text blocks...]
    if uploaded:
        blocks.append(image_block(uploaded, "Acme health and weekly usage, last 12 weeks"))
    client.chat_postMessage(channel=..., text=..., blocks=blocks)

Upload without `channel_id` for that: the file then stays private to the bot until the
message shows it. With `channel_id`, Slack itself posts the file in the channel (a
separate file_share message), which is the other way to show a chart.

Two things about real Slack the local stand-in does not model: a file can take a moment
to finish processing after the upload, and until then a message referencing it may be
refused with invalid_blocks ("invalid slack file"); and who may see a file that was never
shared in a channel is Slack's decision. A sender should therefore treat invalid_blocks on
a message with an image block as "send it again without the image".
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError

from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.slack_errors import classify, error_code

log = logging.getLogger(__name__)

__all__ = ["MAX_IMAGE_TEXT", "ChartUploads", "UploadedFile", "image_block", "upload_png", "without_images"]

# Slack's limit for an image block's alt_text and title.
MAX_IMAGE_TEXT = 2000


@dataclass(frozen=True)
class UploadedFile:
    """What a message needs to show an uploaded file: its id (for slack_file) and its
    permalink (for a link, or slack_file by url)."""

    file_id: str
    permalink: str | None = None
    title: str | None = None


def upload_png(
    client: Any,
    png: bytes,
    *,
    filename: str,
    title: str,
    channel_id: str | None = None,
    alt_text: str | None = None,
) -> UploadedFile | None:
    """Upload `png` with `client.files_upload_v2`; None (and one warning) when it fails.

    `client` is a slack_sdk WebClient (the app's own, with its retry handlers). Slack API
    errors, a refused upload URL and network errors are all caught: the chart is optional.
    `filename` gets a ".png" suffix when it lacks one, because Slack decides from the name
    whether to render the file as an image. `alt_text` describes the image in Slack's file
    viewer; the image block carries its own.
    """
    if not png:
        log.warning("chart upload %s skipped: empty image", filename)
        return None
    name = filename if filename.lower().endswith(".png") else f"{filename}.png"
    try:
        response = client.files_upload_v2(file=png, filename=name, title=title, channel=channel_id, alt_txt=alt_text)
    except (SlackApiError, SlackRequestError, OSError, HTTPException) as error:
        # OSError covers urllib's URLError / HTTPError (the upload URL is POSTed outside the
        # SDK's retry handlers) and timeouts; HTTPException a dropped connection.
        log.warning("chart upload %s failed: %s (%s)", name, _describe(error), classify(error).value)
        return None
    file = response.get("file") or {}
    if not file.get("id"):
        log.warning("chart upload %s failed: no_file_id (Slack answered ok without a file)", name)
        return None
    return UploadedFile(file_id=str(file["id"]), permalink=file.get("permalink"), title=file.get("title") or title)


def _describe(error: BaseException) -> str:
    """The Slack error code when there is one (missing_scope), else something as short."""
    code = error_code(error)
    if code:
        return code
    if isinstance(error, HTTPError):
        return f"http_{error.code}"
    return type(error).__name__


def image_block(
    uploaded: UploadedFile,
    alt_text: str,
    *,
    title: str | None = None,
    block_id: str | None = None,
) -> dict[str, Any]:
    """A Block Kit image block showing an uploaded file:
    {"type": "image", "slack_file": {"id": ...}, "alt_text": ...}.

    Referencing the file by id (not by URL) keeps the block valid whatever host Slack
    serves files from. Texts longer than Slack's 2,000 characters are cut with an ellipsis
    rather than get the whole message refused; an empty alt_text is a caller bug (Slack
    requires one, and screen readers need it).
    """
    if not alt_text or not alt_text.strip():
        raise ValueError("an image block needs alt_text")
    block: dict[str, Any] = {
        "type": "image",
        "slack_file": {"id": uploaded.file_id},
        "alt_text": _cut(alt_text.strip(), MAX_IMAGE_TEXT),
    }
    if title:
        block["title"] = {"type": "plain_text", "text": _cut(title, MAX_IMAGE_TEXT)}
    if block_id:
        block["block_id"] = block_id
    return block


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ChartUploads:
    """Uploads that remember what they uploaded: the same PNG (charts are byte-for-byte
    repeatable) is uploaded once per process and its file id reused, so `/org acme` asked
    again, or redrawn after a click, shows the file already in Slack.

    Only successful uploads are remembered: after a failure the next message tries again.
    Thread-safe; the oldest entries go past `size`.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._files: OrderedDict[str, UploadedFile] = OrderedDict()
        self._lock = threading.Lock()

    def upload(self, client: Any, png: bytes, *, filename: str, title: str,
               alt_text: str | None = None) -> UploadedFile | None:
        key = hashlib.sha256(png).hexdigest()
        with self._lock:
            known = self._files.get(key)
            if known is not None:
                self._files.move_to_end(key)
                return known
        uploaded = upload_png(client, png, filename=filename, title=title, alt_text=alt_text)
        if uploaded is not None:
            with self._lock:
                self._files[key] = uploaded
                while len(self._files) > self._size:
                    self._files.popitem(last=False)
        return uploaded


def without_images(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The blocks minus image blocks: what is sent again when Slack refuses a message for its
    image (a file still processing, or not visible to the reader)."""
    return [b for b in blocks if b.get("type") != "image"]
