"""Builders for the App Home tab and the ephemeral list of one Revenue × Health cell.

Pure functions over read models, validated before they are returned, like bot/messages.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot import payloads as act
from bot.blocks import Block, button, context, divider, escape_mrkdwn, fit_items, header, section
from bot.digest_messages import CELL_LIST, CELL_LIST_LABEL
from bot.limits import VIEW_MAX_BLOCKS, validate_message, validate_view
from bot.messages import Message, band_emoji, signal_item_blocks, summary_cards_block
from domain.config import Config
from domain.formatting import format_money
from services.read_models import CellView, OrgItem, SummaryCards

HOME_ITEMS_TEXT_BUDGET = 24_000
CELL_ROWS_SHOWN = 40


def _orgs(n: int) -> str:
    return f"{n} org" if n == 1 else f"{n} orgs"


def _cell_section(cell: CellView, cfg: Config) -> Block:
    text = f"*{escape_mrkdwn(cell.label)}*\n{_orgs(cell.org_count)} · {format_money(cell.mrr, cfg.currency_symbol)} MRR"
    accessory = button(CELL_LIST_LABEL, action_id=CELL_LIST, value=cell.key) if cell.org_count else None
    return section(text, accessory=accessory)


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


def cell_orgs_message(cell: CellView, rows: Sequence[tuple[str, str, float, float | None, str | None]],
                      cfg: Config) -> Message:
    """The orgs of one cell by MRR, each with an Open button (ephemeral reply to "List orgs")."""
    head = [section(f"*{escape_mrkdwn(cell.label)}*: {_orgs(cell.org_count)}, "
                    f"{format_money(cell.mrr, cfg.currency_symbol)} MRR")]
    groups = []
    for org_id, name, mrr, health, band in list(rows)[:CELL_ROWS_SHOWN]:
        health_text = "no score" if health is None else f"{band_emoji(band)} {health:.0f}"
        text = f"*{escape_mrkdwn(name)}* · {format_money(mrr, cfg.currency_symbol)} · health {health_text}"
        accessory = button("Open", action_id=act.ORG_OPEN, value=org_id) if act.org_id_fits(org_id) else None
        groups.append([section(text, accessory=accessory)])
    hidden = len(rows) - CELL_ROWS_SHOWN
    tail = [context(f"…and {hidden} more: `saas-tracker segments --cell {cell.key}`")] if hidden > 0 else []
    blocks = fit_items(groups, head=head, tail=tail)
    text = f"{cell.label}: {_orgs(cell.org_count)}"
    validate_message(blocks, text)
    return {"text": text, "blocks": blocks, "response_type": "ephemeral", "replace_original": False}
