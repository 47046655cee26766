"""Clicks: Open, Tag case, Dismiss/Snooze, pick an org, list a cell's orgs.

Every click is acknowledged first. A change (tag, dismiss, snooze) is checked against the
authorization settings, applied through saas_tracker.actions (idempotent and audited), and
the clicked message is updated in place. When nothing changed — a double click, a signal
that resolved itself or was dismissed by someone else meanwhile, an org that was deleted —
the person gets a short ephemeral explanation and the message is left alone.

Ephemeral messages (the `/signals` and `/org` replies) don't come back with their blocks in
the click payload, so for those the list is rebuilt from the query the person last ran in
that channel (remembered in memory) and replaces the original.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from typing import Any

from bot import actions as act
from bot.authz import may_change
from bot.digest_messages import CELL_LIST
from bot.handlers.commands import org_command, signals_command
from bot.handlers.context import BotContext, log, reply_error
from bot.home_messages import cell_orgs_message
from bot.messages import (
    error_message,
    item_dismissed_update,
    item_tagged_update,
    org_detail_message,
    org_detail_modal,
    refusal_message,
)
from saas_tracker import actions, read_service

Respond = Callable[..., Any]


class LastQueries:
    """The last slash command each person ran in each channel, to rebuild ephemeral replies."""

    def __init__(self, size: int = 2000) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._queries: dict[tuple[str, str], tuple[str, str]] = {}

    def remember(self, user_id: str, channel_id: str, command: str, text: str) -> None:
        with self._lock:
            if len(self._queries) >= self._size:
                self._queries.pop(next(iter(self._queries)))
            self._queries[(user_id, channel_id)] = (command, text)

    def get(self, user_id: str, channel_id: str) -> tuple[str, str] | None:
        with self._lock:
            return self._queries.get((user_id, channel_id))


def _user(body: Mapping[str, Any]) -> str:
    return body["user"]["id"]


def _original_blocks(body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    message = body.get("message")
    if message and message.get("blocks"):
        return list(message["blocks"])
    return None


def _in_view(body: Mapping[str, Any]) -> bool:
    return (body.get("container") or {}).get("type") == "view"


class Interactions:
    def __init__(self, ctx: BotContext, last_queries: LastQueries) -> None:
        self.ctx = ctx
        self.last = last_queries

    # --- Open and pick ------------------------------------------------------------------

    def open_org(self, body: Mapping[str, Any], action: Mapping[str, Any], client: Any, respond: Respond) -> None:
        item = act.parse_action(action)
        now = self.ctx.now()
        with self.ctx.read() as (session, app_id):
            detail = read_service.org_detail(session, app_id, item.org_id, now, self.ctx.cfg)
        if detail is None:
            respond(**error_message("That org no longer exists."))
            return
        if action.get("action_id") == act.ORG_PICK and not _in_view(body):
            respond(**{**org_detail_message(detail, now, self.ctx.cfg), "replace_original": True})
            return
        view = org_detail_modal(detail, now, self.ctx.cfg)
        if _in_view(body):
            client.views_push(trigger_id=body["trigger_id"], view=view)
        else:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    # --- Tag case -----------------------------------------------------------------------

    def tag_case(self, body: Mapping[str, Any], action: Mapping[str, Any], client: Any, respond: Respond) -> None:
        user = _user(body)
        if not may_change(user, self.ctx.cfg, self.ctx.directory):
            respond(**refusal_message("tag cases"))
            return
        item = act.parse_action(action)
        now = self.ctx.now()
        with self.ctx.write() as (session, _app_id):
            result = actions.tag_case(session, item.org_id, item.case_type, user, now, via="slack")
        if not result.changed:
            respond(**error_message(result.message))
            return
        self._update_in_place(body, client, respond, item.org_id,
                              lambda blocks: item_tagged_update(blocks, item.org_id, item.case_type, user))

    # --- Dismiss / snooze ---------------------------------------------------------------

    def dismiss(self, body: Mapping[str, Any], action: Mapping[str, Any], client: Any, respond: Respond) -> None:
        user = _user(body)
        if not may_change(user, self.ctx.cfg, self.ctx.directory):
            respond(**refusal_message("dismiss or snooze signals"))
            return
        item = act.parse_action(action)
        now = self.ctx.now()
        until = now + dt.timedelta(days=item.snooze_days) if item.snooze_days else None
        with self.ctx.write() as (session, _app_id):
            # Only the clicked org's own signals: ids in a click can't reach another org's.
            ids = actions.signal_ids_of_org(session, item.org_id, item.signal_ids)
            result = actions.dismiss_signals(session, ids, user, now, snooze_until=until, via="slack")
        if not result.changed:
            respond(**error_message(result.message))
            return
        verb = act.SNOOZE if until else act.DISMISS
        self._update_in_place(body, client, respond, item.org_id,
                              lambda blocks: item_dismissed_update(blocks, item.org_id, verb, until, user))

    # --- Cell list ----------------------------------------------------------------------

    def list_cell(self, body: Mapping[str, Any], action: Mapping[str, Any], client: Any, respond: Respond) -> None:
        key = action.get("value") or ""
        with self.ctx.read() as (session, app_id):
            cell, rows = read_service.cell_orgs(session, app_id, key, self.ctx.now(), self.ctx.cfg)
        respond(**cell_orgs_message(cell, rows, self.ctx.cfg))

    # --- in place -----------------------------------------------------------------------

    def _update_in_place(self, body: Mapping[str, Any], client: Any, respond: Respond, org_id: str,
                         rebuild: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        if _in_view(body):
            now = self.ctx.now()
            with self.ctx.read() as (session, app_id):
                detail = read_service.org_detail(session, app_id, org_id, now, self.ctx.cfg)
            view = body["view"]
            client.views_update(view_id=view["id"], hash=view.get("hash"),
                                view=org_detail_modal(detail, now, self.ctx.cfg))
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
        self._rerun_last_query(body, respond)

    def _rerun_last_query(self, body: Mapping[str, Any], respond: Respond) -> None:
        """Ephemeral originals: run the person's last query again and replace the reply."""
        channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id", "")
        last = self.last.get(_user(body), channel)
        replacing = _ReplaceOriginal(respond)
        if last is None:
            respond(text="Done.", response_type="ephemeral", replace_original=False)
        elif last[0] == "/signals":
            signals_command(self.ctx, last[1], _user(body), replacing)
        else:
            org_command(self.ctx, last[1], replacing)


class _ReplaceOriginal:
    """A respond() that replaces the original ephemeral message instead of adding one."""

    def __init__(self, respond: Respond) -> None:
        self._respond = respond

    def __call__(self, **message: Any) -> Any:
        return self._respond(**{**message, "replace_original": True})


def register(app: Any, ctx: BotContext, last_queries: LastQueries) -> None:
    handlers = Interactions(ctx, last_queries)
    routes: dict[str, Callable[..., None]] = {
        act.ORG_OPEN: handlers.open_org,
        act.ORG_PICK: handlers.open_org,
        act.CASE_TAG: handlers.tag_case,
        act.SIGNAL_DISMISS: handlers.dismiss,
        CELL_LIST: handlers.list_cell,
    }
    for action_id, run in routes.items():
        app.action(action_id)(_listener(action_id, run))


def _listener(action_id: str, run: Callable[..., None]) -> Callable[..., None]:
    # Bolt passes listener arguments by parameter name, so the bound values live in a closure.
    def listener(ack: Callable[..., Any], body: dict[str, Any], action: dict[str, Any], client: Any,
                 respond: Respond) -> None:
        ack()
        try:
            run(body, action, client, respond)
        except act.ActionValueError as exc:
            log.warning("click %s with a payload this app did not build: %s", action_id, exc)
            respond(**error_message("That button can't be used any more; run the command again."))
        except Exception as exc:
            reply_error(respond, exc, f"click {action_id}")

    return listener
