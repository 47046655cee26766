"""Answering the person who typed or clicked, wherever they did it.

A command and a click on a message are answered through the response_url (``respond``),
always ephemerally; a click inside a view (the org modal, the Home tab) has no
response_url, so an explanation opens as a small modal on top of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.chart_upload import without_images
from bot.messages import notice_modal
from bot.requests import ClickRequest, Container, SlackRequest

Respond = Callable[..., Any]

log = logging.getLogger(__name__)


def _has_image(blocks: Any) -> bool:
    return isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "image" for b in blocks)


def respond_with_chart(respond: Respond, message: dict[str, Any]) -> Any:
    """Send a reply that may carry a chart; when Slack refuses it (a file still processing, or
    one the reader may not see, answer invalid_blocks), send it again without the image:
    the text says everything the chart shows."""
    response = respond(**message)
    status = getattr(response, "status_code", 200)
    if status == 200 or not _has_image(message.get("blocks")):
        return response
    log.warning("a reply with a chart was refused (HTTP %s: %s); sent again without the chart",
                status, getattr(response, "body", ""))
    return respond(**{**message, "blocks": without_images(message["blocks"])})


def update_view_with_chart(client: Any, view: dict[str, Any], **kwargs: Any) -> Any:
    """views.update that falls back to the view without its chart when Slack refuses the image."""
    try:
        return client.views_update(view=view, **kwargs)
    except SlackApiError as exc:
        refused_image = exc.response.get("error") in ("invalid_arguments", "invalid_blocks")
        if not _has_image(view.get("blocks")) or not refused_image:
            raise
        log.warning("a view with a chart was refused (%s); updated again without the chart", exc.response.get("error"))
        return client.views_update(view={**view, "blocks": without_images(view["blocks"])}, **kwargs)


def ephemeral(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "response_type": "ephemeral"}


def tell(request: SlackRequest | None, client: Any, respond: Respond | None, message: dict[str, Any]) -> None:
    """An explanation only this person sees, leaving what they clicked on as it was. An
    event (the Home tab opening) has nobody to answer: nothing is sent."""
    if isinstance(request, ClickRequest) and request.container.is_view:
        view = notice_modal(message.get("text") or "Done.")
        opener = client.views_push if request.container is Container.MODAL else client.views_open
        opener(trigger_id=request.trigger_id, view=view)
        return
    if respond is not None and getattr(respond, "response_url", True):
        respond(**message)


class ReplaceOriginal:
    """A respond() that replaces the original ephemeral message instead of adding one."""

    def __init__(self, respond: Respond) -> None:
        self._respond = respond

    def __call__(self, **message: Any) -> Any:
        return self._respond(**{**message, "replace_original": True})
