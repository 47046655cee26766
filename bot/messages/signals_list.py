"""The reply to `/signals`: summary cards, then one item per org, cut with "…and N more"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot import limits
from bot.blocks import Block, context, divider, fit_items, header, section
from bot.messages.common import FILTERS_TEXT_MAX, Message, datetime_text, finish, short
from bot.messages.items import more_items_text, signal_item_blocks, summary_cards_block
from bot.templates import render, render_macro
from domain.config import Config
from services.read_models import OrgItem, SummaryCards


def signals_list_message(
    cards: SummaryCards,
    items: Sequence[OrgItem],
    now: dt.datetime,
    cfg: Config,
    title: str = "Top signals",
    filters_text: str = "",
    query: str | None = None,
) -> Message:
    """/signals: summary cards, then one item group per org, cut to fit with "…and N more"."""
    filters = short(filters_text, FILTERS_TEXT_MAX)
    head: list[Block] = [header(title)]
    line = render("list_context.md.j2", filters_text=filters, scanned_at=datetime_text(cards.scanned_at))
    if line:
        head.append(context(line))
    head += [summary_cards_block(cards, cfg), divider()]
    if items:
        groups = [signal_item_blocks(item, now, cfg, query) for item in items]
        blocks = fit_items(groups, head=head, more=more_items_text)
    else:
        blocks = head + [section(render("signals_empty.md.j2", filters_text=filters))]
    text = render_macro(
        "fallbacks.md.j2", "signals_list", short(title, limits.HEADER_TEXT_MAX), len(items), cards.mrr_at_risk,
        cfg.currency_symbol,
    )
    return finish(text, blocks)

