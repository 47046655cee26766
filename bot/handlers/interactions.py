"""Clicks: Open, Tag case, Dismiss/Snooze, pick an org, list a cell's orgs, Add note (opens
the note modal; ``bot.handlers.submissions`` saves it) and Assign (the owner picker).

A change (tag, dismiss, snooze, assign) is checked against the authorization settings, applied
through the Tracker (idempotent and audited), and what the person clicked on is updated in
place:

* a message with its blocks (digest, alerts): the blocks are edited via the response_url;
* an ephemeral reply to `/signals` or `/org`: Slack sends no blocks back, so the command the
  buttons carry in their block_id is run again and its answer replaces the reply;
* the org modal: the modal is redrawn; the Home tab: it is published again.

An assignment redraws the org page it was made on (the modal, or the `/org` reply run again).

When nothing changed — a double click, a signal that resolved itself or was dismissed by
someone else meanwhile, an org that was deleted — or the person may not make the change,
they get a short explanation only they can see (ephemeral in a message, a small modal on
a view), and what they clicked on is left alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from bot import payloads as act
from bot.authz import may_change
from bot.directory import SlackDirectory
from bot.handlers.commands import ORG_GONE, Commands
from bot.handlers.home import HomeTab
from bot.messages import (
    cell_orgs_message,
    cell_orgs_modal,
    error_message,
    item_dismissed_update,
    item_tagged_update,
    loading_modal,
    note_modal,
    notice_modal,
    org_detail_message,
    org_detail_modal,
    refusal_message,
)
from bot.blocks import Block
from bot.chart_upload import UploadedFile
from bot.org_charts import OrgCharts
from bot.replies import ReplaceOriginal, Respond, respond_with_chart, tell, update_view_with_chart
from bot.requests import ClickRequest, Container
from services.read_models import OrgDetail
from services.tracker import Tracker

Rebuild = Callable[[list[Block]], list[Block]]


class Interactions:
    def __init__(self, tracker: Tracker, directory: SlackDirectory, commands: Commands, home: HomeTab,
                 charts: OrgCharts | None = None) -> None:
        self.tracker = tracker
        self.directory = directory
        self.commands = commands
        self.home = home
        self.charts = charts or commands.charts
        self.table: dict[str, Callable[[ClickRequest, Any, Respond], None]] = {
            act.ORG_OPEN: self.open_org,
            act.ORG_PICK: self.open_org,
            act.CASE_TAG: self.tag_case,
            act.SIGNAL_DISMISS: self.dismiss,
            act.CELL_LIST: self.list_cell,
            act.NOTE_OPEN: self.open_note,
            act.ORG_ASSIGN: self.assign,
        }

    @property
    def action_ids(self) -> tuple[str, ...]:
        return tuple(self.table)

    def run(self, click: ClickRequest, client: Any, respond: Respond) -> None:
        self.table[click.action_id](click, client, respond)

    # --- Open and pick ------------------------------------------------------------------

    def open_org(self, click: ClickRequest, client: Any, respond: Respond) -> None:
        item = click.item
        if click.action_id == act.ORG_PICK and not click.container.is_view:
            detail, now = self._detail(item.org_id)
            if detail is None:
                tell(click, client, respond, error_message(ORG_GONE))
                return
            found = detail

            def replace(chart: UploadedFile | None, again: bool) -> None:
                message = org_detail_message(found, now, self.tracker.cfg, query=f"/org {item.org_id}", chart=chart)
                respond_with_chart(respond, {**message, "replace_original": True})

            self.charts.answer_then_add_chart(client, detail, replace)
            return
        # The trigger_id expires 3 seconds after the click: open (or push) a modal at once,
        # then fill it in, however long the detail takes (and add the chart after, if new).
        opener = client.views_push if click.container is Container.MODAL else client.views_open
        opened = opener(trigger_id=click.trigger_id, view=loading_modal(item.org_id))
        view_id = opened["view"]["id"]
        detail, now = self._detail(item.org_id)
        if detail is None:
            client.views_update(view=notice_modal(ORG_GONE), view_id=view_id)
            return
        shown = detail

        def fill(chart: UploadedFile | None, again: bool) -> None:
            update_view_with_chart(client, org_detail_modal(shown, now, self.tracker.cfg, chart=chart), view_id=view_id)

        self.charts.answer_then_add_chart(client, detail, fill)

    def _detail(self, org_id: str) -> tuple[OrgDetail | None, dt.datetime]:
        now = self.tracker.now()
        return self.tracker.org_detail(org_id, now), now

    def _detail_view(self, detail: OrgDetail | None, now: dt.datetime, client: Any = None) -> dict[str, Any]:
        if detail is None:
            return notice_modal(ORG_GONE)
        return org_detail_modal(detail, now, self.tracker.cfg, chart=self.charts.upload(client, detail))

    # --- Add note -----------------------------------------------------------------------

    def open_note(self, click: ClickRequest, client: Any, respond: Respond) -> None:
        """The note modal, at once (the trigger_id lives 3 seconds): pushed over the org modal,
        or opened over a `/org` reply; saving it is ``bot.handlers.submissions``' work."""
        org_id = click.item.org_id
        if click.container is Container.MODAL:
            metadata = act.note_metadata(org_id, view_id=click.view_id)
            client.views_push(trigger_id=click.trigger_id, view=note_modal(org_id, metadata))
            return
        metadata = act.note_metadata(org_id, response_url=click.response_url)
        client.views_open(trigger_id=click.trigger_id, view=note_modal(org_id, metadata))

    # --- Assign -------------------------------------------------------------------------

    def assign(self, click: ClickRequest, client: Any, respond: Respond) -> None:
        if not may_change(click.user_id, self.tracker.cfg, self.directory):
            tell(click, client, respond, refusal_message("assign owners"))
            return
        item = click.item
        result = self.tracker.assign_owner(item.org_id, item.user_id, click.user_id, self.tracker.now())
        if not result.changed:
            tell(click, client, respond, error_message(result.message))
            return
        self.refresh_org(click, client, respond, item.org_id)

    def _redraw_home_or_modal(self, click: ClickRequest, client: Any, org_id: str) -> bool:
        """The Home tab or the org modal the click came from, redrawn; False for a message."""
        if click.container is Container.HOME:
            self.home.publish(client, click.user_id)
            return True
        if click.container is Container.MODAL:
            detail, now = self._detail(org_id)
            update_view_with_chart(client, self._detail_view(detail, now, client), view_id=click.view_id,
                                   hash=click.view_hash)
            return True
        return False

    def refresh_org(self, click: ClickRequest, client: Any, respond: Respond, org_id: str) -> None:
        """Redraw the org page the click was on: the modal, the Home tab, or the `/org` reply."""
        if self._redraw_home_or_modal(click, client, org_id):
            return
        self.commands.run_line(f"/org {org_id}", click.user_id, ReplaceOriginal(respond), client)

    # --- Tag case -----------------------------------------------------------------------

    def tag_case(self, click: ClickRequest, client: Any, respond: Respond) -> None:
        if not may_change(click.user_id, self.tracker.cfg, self.directory):
            tell(click, client, respond, refusal_message("tag cases"))
            return
        item = click.item
        assert item.case_type is not None
        case_type = item.case_type
        result = self.tracker.tag_case(item.org_id, case_type, click.user_id, self.tracker.now())
        if not result.changed:
            tell(click, client, respond, error_message(result.message))
            return
        book = self.tracker.cfg.playbooks.for_case(case_type)
        step = book.next_step if book is not None else None
        self._update_in_place(click, client, respond, item.org_id,
                              lambda blocks: item_tagged_update(blocks, item.org_id, case_type, click.user_id, step))

    # --- Dismiss / snooze ---------------------------------------------------------------

    def dismiss(self, click: ClickRequest, client: Any, respond: Respond) -> None:
        if not may_change(click.user_id, self.tracker.cfg, self.directory):
            tell(click, client, respond, refusal_message("dismiss or snooze signals"))
            return
        item = click.item
        now = self.tracker.now()
        until = now + dt.timedelta(days=item.snooze_days) if item.snooze_days else None
        # Only the clicked org's own signals: ids in a click can't reach another org's.
        result = self.tracker.dismiss(item.org_id, item.signal_ids, click.user_id, now, snooze_until=until)
        if not result.changed:
            tell(click, client, respond, error_message(result.message))
            return
        verb = act.SNOOZE if until else act.DISMISS
        self._update_in_place(click, client, respond, item.org_id,
                              lambda blocks: item_dismissed_update(blocks, item.org_id, verb, until, click.user_id))

    # --- Cell list ----------------------------------------------------------------------

    def list_cell(self, click: ClickRequest, client: Any, respond: Respond) -> None:
        key = click.value or ""
        try:
            cell, rows = self.tracker.cell_orgs(key, self.tracker.now())
        except ValueError:
            tell(click, client, respond, error_message(f"There is no Revenue × Health cell called {key!r}."))
            return
        if not click.container.is_view:
            respond(**cell_orgs_message(cell, rows, self.tracker.cfg))
            return
        opener = client.views_push if click.container is Container.MODAL else client.views_open
        opener(trigger_id=click.trigger_id, view=cell_orgs_modal(cell, rows, self.tracker.cfg))

    # --- in place -----------------------------------------------------------------------

    def _update_in_place(self, click: ClickRequest, client: Any, respond: Respond, org_id: str,
                         rebuild: Rebuild) -> None:
        if self._redraw_home_or_modal(click, client, org_id):
            return
        if click.message_blocks is not None:
            try:
                new_blocks = rebuild([dict(b) for b in click.message_blocks])
            except LookupError:
                new_blocks = None
            if new_blocks is not None:
                respond(text=click.message_text or "SaaS Tracker", blocks=new_blocks, replace_original=True)
                return
        line = act.query_from_block_id(click.block_id)
        if line:
            self.commands.run_line(line, click.user_id, ReplaceOriginal(respond), client)
        else:
            respond(text="Done.", response_type="ephemeral", replace_original=False)
