"""The App Home tab: a pure builder over read models, validated before it is returned, like
every builder in ``bot.messages``. (The ephemeral list of one Revenue × Health cell is
``bot.messages.cells``.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.blocks import Block, context, divider, escape_mrkdwn, fit_items, header, section
from bot.limits import VIEW_MAX_BLOCKS, validate_view
from bot.messages.cells import orgs_text
from bot.messages.items import cell_list_button, signal_item_blocks, summary_cards_block
from domain.config import Config
from domain.formatting import format_money
from services.read_models import CellView, OrgItem, SummaryCards

HOME_ITEMS_TEXT_BUDGET = 24_000
NO_DATA_TEXT = "No customer data yet: run `saas-tracker import`."


def _cell_section(cell: CellView, cfg: Config) -> Block:
    text = (f"*{escape_mrkdwn(cell.label)}*\n"
            f"{orgs_text(cell.org_count)} · {format_money(cell.mrr, cfg.currency_symbol)} MRR")
    return section(text, accessory=cell_list_button(cell))


def home_view(cards: SummaryCards, cells: Sequence[CellView], items: Sequence[OrgItem], owned: int,
              now: dt.datetime, cfg: Config) -> dict:
    """The Home tab: the team's cards and cells, then the open signals of the viewer's orgs."""
    head: list[Block] = [header("SaaS Tracker"), summary_cards_block(cards, cfg), divider(),
                         section("*Revenue × Health*")]
    head += [_cell_section(c, cfg) for c in cells]
    head += [divider(), header("Your orgs with open signals")]
    scanned = cards.scanned_at.strftime("%Y-%m-%d %H:%M UTC") if cards.scanned_at else "never"
    tail = [context(f"Data scanned {scanned}")]
    if not items:
        note = ("You own no orgs with open signals right now." if owned else
                "No orgs list you as owner (by Slack id or e-mail). `/signals` shows everyone's.")
        blocks = head + [section(note)] + tail
    else:
        groups = [signal_item_blocks(i, now, cfg) for i in items]
        blocks = fit_items(groups, head=head, tail=tail, max_blocks=VIEW_MAX_BLOCKS,
                           text_budget=HOME_ITEMS_TEXT_BUDGET)
    view = {"type": "home", "blocks": blocks}
    validate_view(view)
    return view


def home_no_data_view() -> dict:
    """The Home tab before anything was imported."""
    view = {"type": "home", "blocks": [section(NO_DATA_TEXT)]}
    validate_view(view)
    return view
