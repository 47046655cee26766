"""The weekly digest as a Slack message: a pure builder over the ``Digest`` read model.

Layout, top to bottom: header with the week; when it was due and which days "this week"
covers; the summary cards (shared with /signals); the top orgs by priority with the same
item layout and buttons as /signals; the Revenue x Health cells, each with a button that
lists its orgs; a footer saying when the data was scanned. Nothing active gives a short
"all clear" instead of the list, never silence.

Items are kept whole and cut with "…and N more" (``blocks.fit_items``) so the message fits
Slack's block count and text budget whatever the data; the result is validated before it
is returned.
"""

from __future__ import annotations

import datetime as dt

from bot.blocks import Block, context, divider, fit_items, header, section
from bot.messages.common import Message, finish
from bot.messages.items import CELL_LIST_LABEL, cell_list_button, signal_item_blocks, summary_cards_block
from bot.payloads import CELL_LIST
from bot.templates import render_macro
from domain.config import Config
from services.read_models import CellView, Digest

TEMPLATE = "digest.md.j2"
__all__ = ["CELL_LIST", "CELL_LIST_LABEL", "cells_blocks", "digest_message"]


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return f"{value:%a %d %b %Y %H:%M} {value.tzname() or ''}".rstrip()


def _day(value: dt.date) -> str:
    return f"{value:%d %b}"


def _cell_block(cell: CellView, cfg: Config) -> Block:
    text = render_macro(TEMPLATE, "cell", cell.label, cell.org_count, cell.mrr, cfg.currency_symbol)
    return section(text, accessory=cell_list_button(cell))


def cells_blocks(digest: Digest, cfg: Config) -> list[Block]:
    """Heading with the revenue snapshot, one section per cell (button when it has orgs)."""
    blocks = [section(render_macro(TEMPLATE, "cells_heading", digest.total_mrr, digest.total_arr,
                                   cfg.currency_symbol))]
    blocks += [_cell_block(cell, cfg) for cell in digest.cells]
    if digest.unscored:
        blocks.append(context(render_macro(TEMPLATE, "unscored", digest.unscored)))
    return blocks


def digest_message(digest: Digest, now: dt.datetime, cfg: Config) -> Message:
    """The whole digest ({"text", "blocks"}), checked against Block Kit limits."""
    head: list[Block] = [
        header(render_macro(TEMPLATE, "title", digest.period)),
        context(render_macro(TEMPLATE, "intro", _when(digest.scheduled_for), _day(digest.week_start),
                             _day(digest.week_end))),
        summary_cards_block(digest.cards, cfg),
        divider(),
    ]
    tail: list[Block] = [divider(), *cells_blocks(digest, cfg),
                         context(render_macro(TEMPLATE, "footer", _when(digest.cards.scanned_at)))]
    if digest.all_clear:
        blocks = head + [section(render_macro(TEMPLATE, "all_clear"))] + tail
    else:
        head.append(section(render_macro(TEMPLATE, "top_heading")))
        groups = [signal_item_blocks(item, now, cfg) for item in digest.items]
        beyond_top = digest.total - len(digest.items)  # orgs with signals below the top N

        def more(hidden: int) -> str:
            return render_macro(TEMPLATE, "more", hidden + beyond_top)

        # The "…and N more" line is reserved in the tail for the orgs below the top N; when
        # items are cut too, fit_items writes one line counting both and the reserved one goes.
        reserved = [context(more(0))] if beyond_top else []
        blocks = fit_items(groups, head=head, tail=reserved + tail, more=more)
        full = len(head) + sum(len(g) for g in groups) + len(reserved) + len(tail)
        if reserved and len(blocks) != full:
            del blocks[len(blocks) - len(tail) - 1]
    text = render_macro(TEMPLATE, "fallback", digest.period, digest.total, digest.cards.mrr_at_risk,
                        cfg.currency_symbol)
    return finish(str(text), blocks)
