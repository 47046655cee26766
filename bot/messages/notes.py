"""The note modal (Add note), what it shows while the note is saved, and after."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import limits
from bot import payloads as act
from bot.blocks import context, escape_mrkdwn, input_block, modal_view, plain_text_input, section
from bot.limits import validate_view
from bot.messages.common import DETAIL_VALUE_MAX, ITEM_NAME_MAX, date_text, short
from bot.templates import render
from services.actions import NOTE_MAX
from services.read_models import NoteView

NOTE_TITLE = "Add note"
SAVE_LABEL = "Save"
NOTE_LABEL = "Note"
NOTE_PLACEHOLDER = "What was done or agreed, and the next step"
NOTE_HINT = "Everyone who opens this org sees it, with your name and the time; it counts as a review."
NOTES_SHOWN_AFTER_SAVE = 3
NOTE_TEXT_SHOWN = 300


def note_modal(org_id: str, metadata: str | None) -> dict[str, Any]:
    """The form: one multi-line field. Saving sends a view_submission (callback_id note_add)."""
    view = modal_view(
        NOTE_TITLE,
        [
            section(f"A note on `{escape_mrkdwn(short(org_id, DETAIL_VALUE_MAX))}`."),
            input_block(NOTE_LABEL, plain_text_input(action_id=act.NOTE_INPUT_ACTION, multiline=True,
                                                     max_length=NOTE_MAX, placeholder=NOTE_PLACEHOLDER),
                        block_id=act.NOTE_BLOCK_ID, hint=NOTE_HINT),
        ],
        submit=SAVE_LABEL,
        callback_id=act.NOTE_CALLBACK_ID,
        private_metadata=metadata,
    )
    validate_view(view)
    return view


def note_saving_modal() -> dict[str, Any]:
    """What the modal shows from the moment Save is clicked until the note is stored."""
    view = modal_view(NOTE_TITLE, [section("Saving the note…")])
    validate_view(view)
    return view


def note_saved_modal(org_id: str, org_name: str, notes: Sequence[NoteView], total: int) -> dict[str, Any]:
    """The note is stored: the org's latest notes, newest first."""
    shown = [{"when": date_text(n.created_at), "author": short(n.author, DETAIL_VALUE_MAX),
              "text": short(n.text, NOTE_TEXT_SHOWN)} for n in list(notes)[:NOTES_SHOWN_AFTER_SAVE]]
    text = render("notes.md.j2", shown=shown, hidden=max(total - len(shown), 0), total=total,
                  org_id=short(org_id, DETAIL_VALUE_MAX))
    blocks = [section(f":white_check_mark: Note saved on *{escape_mrkdwn(short(org_name, ITEM_NAME_MAX))}*."),
              section(text[: limits.SECTION_TEXT_MAX]),
              context("Close this to go back.")]
    view = modal_view(NOTE_TITLE, blocks)
    validate_view(view)
    return view
