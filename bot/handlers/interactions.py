"""Clicks: Open, Tag case, Dismiss/Snooze, pick an org, list a cell's orgs.

Every click is acknowledged first. A change (tag, dismiss, snooze) is checked against the
authorization settings, applied through services.actions (idempotent and audited), and
what the person clicked on is updated in place:

* a message with its blocks (digest, alerts): the blocks are edited via the response_url;
* an ephemeral reply to `/signals` or `/org`: Slack sends no blocks back, so the command the
  buttons carry in their block_id is run again and its answer replaces the reply;
* the org modal: the modal is redrawn; the Home tab: it is published again.

When nothing changed — a double click, a signal that resolved itself or was dismissed by
someone else meanwhile, an org that was deleted — or the person may not make the change,
they get a short explanation only they can see (ephemeral in a message, a small modal on
a view), and what they clicked on is left alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from bot import payloads as act
from bot.authz import may_change
from bot.blocks import modal_view, section
from bot.digest_messages import CELL_LIST
from bot.handlers.commands import run_command_text
from bot.handlers.context import BotContext, explain_failure, log
from bot.handlers.home import publish_home
from bot.home_messages import cell_orgs_message
from bot.messages import (
    error_message,
    item_dismissed_update,
    item_tagged_update,
    org_detail_message,
    org_detail_modal,
    refusal_message,
)
from services import actions
from services import org_details, segmentation

Respond = Callable[..., Any]

LOADING_TITLE = "Loading…"
NOTICE_TITLE = "SaaS Tracker"


def _user(body: Mapping[str, Any]) -> str:
    return body["user"]["id"]


def _view_type(body: Mapping[str, Any]) -> str | None:
    """"modal" or "home" when the click came from a view, None for a message."""
    if (body.get("container") or {}).get("type") != "view":
        return None
    return (body.get("view") or {}).get("type", "modal")


def _original_blocks(body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    message = body.get("message")
    if message and message.get("blocks"):
        return list(message["blocks"])
    return None


class Interactions:
    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    # --- telling the person -------------------------------------------------------------

    def notify(self, body: Mapping[str, Any], client: Any, respond: Respond, message: dict[str, Any]) -> None:
        """An explanation only the clicker sees, without touching what they clicked on."""
        kind = _view_type(body)
        if kind is None:
            respond(**message)
            return
        view = modal_view(NOTICE_TITLE, [section(message.get("text") or "Done.")])
        if kind == "modal":
            client.views_push(trigger_id=body["trigger_id"], view=view)
        else:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    def fail(self, body: Mapping[str, Any], client: Any, respond: Respond, exc: BaseException, what: str) -> None:
        text = explain_failure(exc, what)
        try:
            self.notify(body, client, respond, error_message(text))
        except Exception:  # the reply channel itself may be what failed; the log has it
            log.exception("%s: could not tell the user", what)

    # --- Open and pick ------------------------------------------------------------------

    def open_org(self, body: Mapping[str, Any], action: Mapping[str, Any], client: Any, respond: Respond) -> None:
        item = act.parse_action(action)
        kind = _view_type(body)
        if action.get("action_id") == act.ORG_PICK and kind is None:
            detail, now = self._detail(item.org_id)
            if detail is None:
                self.notify(body, client, respond, error_message("That org no longer exists."))
                return
            message = org_detail_message(detail, now, self.ctx.cfg, query=f"/org {item.org_id}")
            respond(**{**message, "replace_original": True})
            return
        # The trigger_id expires 3 seconds after the click: open (or push) a modal at once,
        # then fill it in, however long the detail takes.
        loading = modal_view(LOADING_TITLE, [section(f"Loading `{item.org_id}`…")])
        opened = (client.views_push if kind == "modal" else client.views_open)(trigger_id=body["trigger_id"], view=loading)
        view_id = opened["view"]["id"]
        detail, now = self._detail(item.org_id)
        if detail is None:
            view = modal_view(NOTICE_TITLE, [section("That org no longer exists.")])
        else:
            view = org_detail_modal(detail, now, self.ctx.cfg)
        client.views_update(view_id=view_id, view=view)

    def _detail(self, org_id: str) -> tuple[Any, dt.datetime]:
        now = self.ctx.now()
        with self.ctx.read() as (session, app_id):
            return org_details.org_detail(session, app_id, org_id, now, self.ctx.cfg), now

    # --- Tag case -----------------------------------------------------------------------

    def tag_case(self, body: Mapping[str, Any], action: Mapping[str, Any], client: Any, respond: Respond) -> None:
        user = _user(body)
        if not may_change(user, self.ctx.cfg, self.ctx.directory):
            self.notify(body, client, respond, refusal_message("tag cases"))
            return
        item = act.parse_action(action)
        now = self.ctx.now()
        with self.ctx.write() as (session, _app_id):
            result = actions.tag_case(session, item.org_id, item.case_type, user, now, via="slack")
        if not result.changed:
            self.notify(body, client, respond, error_message(result.message))
            return
        self._update_in_place(body, action, client, respond, item.org_id,
                              lambda blocks: item_tagged_update(blocks, item.org_id, item.case_type, user))

    # --- Dismiss / snooze ---------------------------------------------------------------

    def dismiss(self, body: Mapping[str, Any], action: Mapping[str, Any], client: Any, respond: Respond) -> None:
        user = _user(body)
        if not may_change(user, self.ctx.cfg, self.ctx.directory):
            self.notify(body, client, respond, refusal_message("dismiss or snooze signals"))
            return
        item = act.parse_action(action)
        now = self.ctx.now()
        until = now + dt.timedelta(days=item.snooze_days) if item.snooze_days else None
        with self.ctx.write() as (session, _app_id):
            # Only the clicked org's own signals: ids in a click can't reach another org's.
            ids = actions.signal_ids_of_org(session, item.org_id, item.signal_ids)
            result = actions.dismiss_signals(session, ids, user, now, snooze_until=until, via="slack")
        if not result.changed:
            self.notify(body, client, respond, error_message(result.message))
            return
        verb = act.SNOOZE if until else act.DISMISS
        self._update_in_place(body, action, client, respond, item.org_id,
                              lambda blocks: item_dismissed_update(blocks, item.org_id, verb, until, user))

    # --- Cell list ----------------------------------------------------------------------

    def list_cell(self, body: Mapping[str, Any], action: Mapping[str, Any], client: Any, respond: Respond) -> None:
        key = action.get("value") or ""
        try:
            with self.ctx.read() as (session, app_id):
                cell, rows = segmentation.cell_orgs(session, app_id, key, self.ctx.now(), self.ctx.cfg)
        except ValueError:
            self.notify(body, client, respond, error_message(f"There is no Revenue × Health cell called {key!r}."))
            return
        message = cell_orgs_message(cell, rows, self.ctx.cfg)
        kind = _view_type(body)
        if kind is None:
            respond(**message)
            return
        view = modal_view(cell.label, message["blocks"])
        (client.views_push if kind == "modal" else client.views_open)(trigger_id=body["trigger_id"], view=view)

    # --- in place -----------------------------------------------------------------------

    def _update_in_place(self, body: Mapping[str, Any], action: Mapping[str, Any], client: Any, respond: Respond,
                         org_id: str, rebuild: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        kind = _view_type(body)
        if kind == "home":
            publish_home(self.ctx, client, _user(body))
            return
        if kind == "modal":
            detail, now = self._detail(org_id)
            view = body["view"]
            new_view = (org_detail_modal(detail, now, self.ctx.cfg) if detail is not None
                        else modal_view(NOTICE_TITLE, [section("That org no longer exists.")]))
            client.views_update(view_id=view["id"], hash=view.get("hash"), view=new_view)
            return
        blocks = _original_blocks(body)
        if blocks is not None:
            try:
                new_blocks = rebuild(blocks)
            except LookupError:
                new_blocks = None
            if new_blocks is not None:
                text = (body.get("message") or {}).get("text") or "SaaS Tracker"
                respond(text=text, blocks=new_blocks, replace_original=True)
                return
        query = act.query_from_block_id(action.get("block_id"))
        if query:
            run_command_text(self.ctx, query, _user(body), _ReplaceOriginal(respond))
        else:
            respond(text="Done.", response_type="ephemeral", replace_original=False)


class _ReplaceOriginal:
    """A respond() that replaces the original ephemeral message instead of adding one."""

    def __init__(self, respond: Respond) -> None:
        self._respond = respond

    def __call__(self, **message: Any) -> Any:
        return self._respond(**{**message, "replace_original": True})


def register(app: Any, ctx: BotContext) -> None:
    handlers = Interactions(ctx)
    routes: dict[str, Callable[..., None]] = {
        act.ORG_OPEN: handlers.open_org,
        act.ORG_PICK: handlers.open_org,
        act.CASE_TAG: handlers.tag_case,
        act.SIGNAL_DISMISS: handlers.dismiss,
        CELL_LIST: handlers.list_cell,
    }
    for action_id, run in routes.items():
        app.action(action_id)(_listener(handlers, action_id, run))


def _listener(handlers: Interactions, action_id: str, run: Callable[..., None]) -> Callable[..., None]:
    # Bolt passes listener arguments by parameter name, so the bound values live in a closure.
    def listener(ack: Callable[..., Any], body: dict[str, Any], action: dict[str, Any], client: Any,
                 respond: Respond) -> None:
        ack()
        try:
            run(body, action, client, respond)
        except Exception as exc:  # every failure becomes a logged explanation for the clicker
            handlers.fail(body, client, respond, exc, f"click {action_id}")

    return listener
