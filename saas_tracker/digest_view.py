"""The weekly digest's read model: computed by digest_service, formatted by the Slack
builder (bot.digest_messages) and the terminal view (digest_text), which compute nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from saas_tracker.views import CellView, OrgItem, SummaryCards


@dataclass(frozen=True)
class Digest:
    application: str
    period: str  # ISO week of the scheduled local time: "2026-W48"
    scheduled_for: dt.datetime  # that scheduled time, in the digest's time zone
    now: dt.datetime
    week_start: dt.date  # the seven local days the "this week" revenue numbers cover
    week_end: dt.date
    cards: SummaryCards
    total_mrr: float | None  # None when no subscriptions are imported
    total_arr: float | None
    items: list[OrgItem]  # the top orgs by priority (slack.digest_top)
    total: int  # orgs with active signals, before the top-N cut
    cells: list[CellView]  # Revenue x Health, grid order
    unscored: int  # paying orgs in no cell yet (no health snapshot)

    @property
    def all_clear(self) -> bool:
        return self.total == 0
