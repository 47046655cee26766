"""Answering the person who typed or clicked, wherever they did it.

A command and a click on a message are answered through the response_url (``respond``),
always ephemerally; a click inside a view (the org modal, the Home tab) has no
response_url, so an explanation opens as a small modal on top of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.messages import notice_modal
from bot.requests import ClickRequest, Container, SlackRequest

Respond = Callable[..., Any]


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
