"""What a person sees when something failed or was refused: an ephemeral reply that never
replaces what they clicked on, or a small modal when the click came from a view."""

from __future__ import annotations

from typing import Any

from bot.blocks import modal_view, section, truncate
from bot.limits import validate_view
from bot.messages.common import QUERY_MAX, Message, finish, short
from bot.templates import render

ERROR_TEXT_MAX = 1000
NOTICE_TITLE = "SaaS Tracker"


def error_message(text: str) -> Message:
    """An ephemeral error reply that never replaces the message the user clicked on."""
    body = render("error.md.j2", text=truncate(str(text), ERROR_TEXT_MAX))
    return finish(body, [section(body)], response_type="ephemeral", replace_original=False)


def refusal_message(action: str) -> Message:
    """The reply to someone not authorized to tag, dismiss or snooze (see SlackConfig)."""
    body = render("refusal.md.j2", action=short(action, QUERY_MAX))
    return finish(body, [section(body)], response_type="ephemeral", replace_original=False)



def notice_modal(text: str, title: str = NOTICE_TITLE) -> dict[str, Any]:
    """A small modal with one explanation: how a view (the org modal, the Home tab), which
    has no response_url, tells the clicker what happened."""
    view = modal_view(title, [section(text or "Done.")])
    validate_view(view)
    return view
