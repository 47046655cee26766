"""`/signals` and `/org`: a dispatch table of commands, each acknowledged at once.

Slack allows 3 seconds for the acknowledgement; the answer itself goes to the command's
response_url afterwards (Bolt runs the rest of the listener after `ack()` returns), so even a
slow database never makes Slack show "dispatch_failed". Every answer is ephemeral.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bot.command_parsing import parse_signals_args
from bot.handlers.context import BotContext, reply_error
from bot.messages import (
    help_message,
    org_choices_message,
    org_detail_message,
    org_not_found_message,
    signals_list_message,
)
from services import org_details, org_lookup, signal_list
from storage.models import Org

Respond = Callable[..., Any]


def _ephemeral(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "response_type": "ephemeral"}


def signals_command(ctx: BotContext, text: str, user_id: str, respond: Respond) -> None:
    query = parse_signals_args(text, ctx.cfg)
    if not query.ok:
        unparsed = ", ".join(query.not_understood) if query.not_understood else None
        respond(**_ephemeral(help_message(unparsed, cfg=ctx.cfg)))
        return
    now = ctx.now()
    with ctx.read() as (session, app_id):
        owners: frozenset[str] = frozenset()
        if query.mine:
            all_owners = session.scalars(
                select(Org.owner).where(Org.application_id == app_id, Org.owner.is_not(None)).distinct()
            ).all()
            # Nobody owns anything as "<nobody>": an empty match must filter everything out.
            owners = ctx.directory.owners_of(user_id, all_owners) or frozenset({"<nobody>"})
        flt = signal_list.SignalFilter(
            top=query.top,
            types=query.types,
            case_types=query.case_types,
            owners=owners,
            cell=query.cell,
            tier=query.tier,
        )
        result = signal_list.list_signals(session, app_id, now, flt, ctx.cfg)
    title = "My orgs' signals" if query.mine else "Top signals"
    message = signals_list_message(result.cards, result.items, now, ctx.cfg, title=title,
                                   filters_text=_filters_text(query.describe(), result.total, len(result.items)),
                                   query=f"/signals {text}".strip())
    respond(**_ephemeral(message))


def _filters_text(described: str, total: int, shown: int) -> str:
    if total > shown:
        return f"{described} · showing {shown} of {total} orgs"
    return described


def org_command(ctx: BotContext, text: str, respond: Respond) -> None:
    query = text.strip()
    if not query or query.lower() == "help":
        respond(**_ephemeral(help_message(None if not query else None, cfg=ctx.cfg)))
        return
    now = ctx.now()
    with ctx.read() as (session, app_id):
        found = org_lookup.find_orgs(session, app_id, query)
        if not found.matches:
            respond(**_ephemeral(org_not_found_message(query, found.closest)))
            return
        if len(found.matches) > 1:
            candidates = [(m.org_id, m.name, m.domain) for m in found.matches]
            respond(**_ephemeral(org_choices_message(query, candidates)))
            return
        detail = org_details.org_detail(session, app_id, found.matches[0].org_id, now, ctx.cfg)
    respond(**_ephemeral(org_detail_message(detail, now, ctx.cfg, query=f"/org {query}")))


COMMANDS: dict[str, Callable[[BotContext, dict[str, Any], Respond], None]] = {
    "/signals": lambda ctx, cmd, respond: signals_command(ctx, cmd.get("text", ""), cmd["user_id"], respond),
    "/org": lambda ctx, cmd, respond: org_command(ctx, cmd.get("text", ""), respond),
}


def run_command_text(ctx: BotContext, text: str, user_id: str, respond: Respond) -> None:
    """Run "/signals top 5 risk" or "/org acme" as if typed (a click rebuilding its reply)."""
    name, _, args = text.strip().partition(" ")
    run = COMMANDS.get(name)
    if run is None:
        respond(**_ephemeral(help_message(name, cfg=ctx.cfg)))
        return
    run(ctx, {"text": args, "user_id": user_id}, respond)


def register(app: Any, ctx: BotContext) -> None:
    """One listener per command of the dispatch table; unknown text gets help, never silence."""
    for name, run in COMMANDS.items():
        app.command(name)(_listener(ctx, name, run))


def _listener(ctx: BotContext, name: str, run: Callable[..., None]) -> Callable[..., None]:
    # Bolt passes listener arguments by parameter name, so the bound values live in a closure.
    def listener(ack: Callable[..., Any], command: dict[str, Any], respond: Respond) -> None:
        ack()
        try:
            run(ctx, command, respond)
        except Exception as exc:  # every failure becomes a logged, ephemeral explanation
            reply_error(respond, exc, f"{name} {command.get('text', '')!r}")

    return listener
