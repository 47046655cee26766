"""The App Home tab: published fresh each time a person opens it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.handlers.context import BotContext, NoData, log
from bot.home_messages import home_view
from services import revenue
from services import signal_list
from storage.models import Org

HOME_ITEMS = 15


def publish_home(ctx: BotContext, client: Any, user_id: str) -> None:
    now = ctx.now()
    try:
        with ctx.read() as (session, app_id):
            owners = session.scalars(
                select(Org.owner).where(Org.application_id == app_id, Org.owner.is_not(None)).distinct()
            ).all()
            mine = ctx.directory.owners_of(user_id, owners)
            flt = signal_list.SignalFilter(top=HOME_ITEMS, owners=mine or frozenset({"<nobody>"}))
            result = signal_list.list_signals(session, app_id, now, flt, ctx.cfg)
            report = revenue.segments_report(session, ctx.cfg.application, now.date(), ctx.cfg)
            cells = revenue.cell_views(report.summary)
    except NoData:
        client.views_publish(user_id=user_id, view={"type": "home", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "No customer data yet: run `saas-tracker import`."}}]})
        return
    view = home_view(result.cards, cells, result.items, len(mine), now, ctx.cfg)
    client.views_publish(user_id=user_id, view=view)


def register(app: Any, ctx: BotContext) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], client: Any) -> None:
        if event.get("tab", "home") != "home":
            return
        try:
            publish_home(ctx, client, event["user"])
        except Exception:  # logged with traceback; the next open tries again
            log.exception("could not publish the Home tab for %s", event.get("user"))
