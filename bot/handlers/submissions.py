"""Modal forms sent (view_submission): the note modal's Save.

The acknowledgement answers Slack's HTTP request and must come first and fast, so it only
reads the form: an empty note is refused there, inline under the field
(``response_action: errors``); otherwise the modal turns into "Saving the note…"
(``response_action: update``). The work that follows (``bot.listeners``) checks who may
write notes (the same people who may tag), stores the note, shows the org's latest notes in
the modal, and redraws the page the note was added from: the org modal underneath, or the
`/org` reply through its response_url.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack
from slack_sdk.webhook import WebhookClient

from bot import payloads as act
from bot.authz import may_change
from bot.directory import SlackDirectory
from bot.handlers.commands import ORG_GONE, Commands
from bot.messages import note_saved_modal, note_saving_modal, notice_modal, org_detail_modal
from bot.org_charts import OrgCharts
from bot.replies import Respond, ReplaceOriginal, update_view_with_chart
from bot.requests import SubmissionRequest
from bot.templates import render
from services.tracker import Tracker

log = logging.getLogger(__name__)

EMPTY_NOTE = "Write the note first."


def note_text(submission: SubmissionRequest) -> str:
    return (submission.value(act.NOTE_BLOCK_ID, act.NOTE_INPUT_ACTION) or "").strip()


class Submissions:
    def __init__(self, tracker: Tracker, directory: SlackDirectory, commands: Commands,
                 charts: OrgCharts | None = None) -> None:
        self.tracker = tracker
        self.directory = directory
        self.commands = commands
        self.charts = charts or commands.charts
        self.table = {act.NOTE_CALLBACK_ID: self.add_note}

    @property
    def callback_ids(self) -> tuple[str, ...]:
        return tuple(self.table)

    def acknowledge(self, ack: Ack, submission: SubmissionRequest | None) -> None:
        """The answer to the submission itself: inline errors, or the "Saving…" modal."""
        if submission is None:
            ack()
            return
        if not note_text(submission):
            ack(response_action="errors", errors={act.NOTE_BLOCK_ID: EMPTY_NOTE})
            return
        ack(response_action="update", view=note_saving_modal())

    def run(self, submission: SubmissionRequest, client: Any, respond: Respond | None) -> None:
        self.table[submission.callback_id](submission, client)

    def add_note(self, submission: SubmissionRequest, client: Any) -> None:
        text = note_text(submission)
        if not text:  # refused in the acknowledgement already
            return
        target = act.parse_note_metadata(submission.private_metadata)
        if not may_change(submission.user_id, self.tracker.cfg, self.directory):
            client.views_update(view_id=submission.view_id, view=notice_modal(render("refusal.md.j2",
                                                                                    action="add notes")))
            return
        now = self.tracker.now()
        result = self.tracker.add_note(target.org_id, text, submission.user_id, now, via="slack")
        if not result.changed:
            client.views_update(view_id=submission.view_id, view=notice_modal(result.message))
            return
        detail = self.tracker.org_detail(target.org_id, now)
        if detail is None:
            client.views_update(view_id=submission.view_id, view=notice_modal(ORG_GONE))
            return
        saved = note_saved_modal(detail.item.org_id, detail.item.name, detail.notes, detail.notes_total)
        client.views_update(view_id=submission.view_id, view=saved)
        if target.view_id:  # the org modal underneath shows the note when the person goes back
            view = org_detail_modal(detail, now, self.tracker.cfg, chart=self.charts.upload(client, detail))
            update_view_with_chart(client, view, view_id=target.view_id)
        elif target.response_url:
            webhook = WebhookClient(target.response_url)
            self.commands.run_line(f"/org {target.org_id}", submission.user_id,
                                   ReplaceOriginal(_webhook_respond(webhook)), client)


def _webhook_respond(webhook: WebhookClient) -> Respond:
    """A respond() for a response_url kept in the modal, outside the click that gave it."""

    def respond(**message: Any) -> Any:
        return webhook.send_dict(message)

    return respond
