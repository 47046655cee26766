"""The App Home tab: published fresh each time a person opens it."""

from __future__ import annotations

from typing import Any

from bot.directory import SlackDirectory
from bot.home_messages import home_no_data_view, home_view
from bot.replies import Respond
from bot.requests import EventRequest
from services.tracker import NoData, Tracker

HOME_ITEMS = 15


class HomeTab:
    def __init__(self, tracker: Tracker, directory: SlackDirectory) -> None:
        self.tracker = tracker
        self.directory = directory

    def opened(self, event: EventRequest, client: Any, respond: Respond | None) -> None:
        if (event.tab or "home") != "home" or not event.user_id:
            return
        self.publish(client, event.user_id)

    def publish(self, client: Any, user_id: str) -> None:
        now = self.tracker.now()
        try:
            # The owners, then Slack (who is this person), then the listing: no session is
            # held while Slack answers.
            mine = self.directory.owners_of(user_id, self.tracker.owners())
            listing, cells = self.tracker.home(mine, HOME_ITEMS, now)
        except NoData:
            client.views_publish(user_id=user_id, view=home_no_data_view())
            return
        view = home_view(listing.cards, cells, listing.items, len(mine), now, self.tracker.cfg)
        client.views_publish(user_id=user_id, view=view)
