"""The weekly digest as a Slack message: a pure builder over the ``Digest`` read model.

Layout, top to bottom: header with the week; when it was due and which days "this week"
covers; the summary cards (shared with /signals); the top orgs by priority with the same
item layout and buttons as /signals; the Revenue x Health cells, each with a button that
lists its orgs, then the Revenue × Health map and the MRR trend as images when they were
uploaded (``images``); the accounts whose review is due; once a month, the orgs that moved
tier; a footer saying when the data was scanned. Each item carries its case playbook's next
step. Nothing active gives a short
"all clear" instead of the list, never silence.

Items are kept whole and cut with "…and N more" (``blocks.fit_items``) so the message fits
Slack's block count and text budget whatever the data; the result is validated before it
is returned.
"""

from __future__ import annotations

import datetime as dt

from collections.abc import Mapping
from typing import Any

from bot.blocks import Block, context, divider, fit_items, header, section
from bot.chart_upload import UploadedFile, image_block
from bot.digest_charts import MRR_TREND, REVENUE_HEALTH_MAP, map_alt_text, map_title, trend_alt_text, trend_title
from bot.messages.common import DETAIL_VALUE_MAX, ITEM_NAME_MAX, Message, date_text, finish, short
from bot.messages.org_detail import fit_rendered
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


WORK_SECTION_MAX = 2500


def chart_blocks(digest: Digest, cfg: Config, images: Mapping[str, str] | None) -> list[Block]:
    """The uploaded charts' image blocks, map first; none for a chart not uploaded."""
    images = images or {}
    blocks = []
    if images.get(REVENUE_HEALTH_MAP) and digest.cells:
        blocks.append(image_block(UploadedFile(images[REVENUE_HEALTH_MAP]), map_alt_text(digest, cfg),
                                  title=map_title(digest)))
    if images.get(MRR_TREND) and digest.mrr_trend:
        blocks.append(image_block(UploadedFile(images[MRR_TREND]), trend_alt_text(digest, cfg),
                                  title=trend_title(digest)))
    return blocks


def work_blocks(digest: Digest, cfg: Config) -> list[Block]:
    """Reviews due, and (in the month's first digest) the tier moves."""
    blocks: list[Block] = []
    if digest.reviews_due_total:
        rows: list[dict[str, Any]] = [{
            "name": short(r.name, ITEM_NAME_MAX), "tier": r.tier, "interval_days": r.interval_days,
            "last": date_text(r.last_review), "overdue": r.overdue_days, "mrr": r.mrr,
            "owner": short(r.owner, DETAIL_VALUE_MAX) if r.owner else None,
        } for r in digest.reviews_due]
        blocks.append(section(fit_rendered("digest_reviews.md.j2", rows, WORK_SECTION_MAX, len(rows),
                                            extra_hidden=digest.reviews_due_total - len(rows),
                                            total=digest.reviews_due_total, currency=cfg.currency_symbol)))
    if digest.tier_moves is not None:
        moves = [{"name": short(t.name, ITEM_NAME_MAX), "before": t.before, "after": t.after,
                  "priority_before": t.priority_before, "priority_after": t.priority_after,
                  "why": [short(w, DETAIL_VALUE_MAX) for w in t.why]} for t in digest.tier_moves]
        blocks.append(section(fit_rendered("digest_tier_moves.md.j2", moves, WORK_SECTION_MAX, len(moves),
                                            extra_hidden=digest.tier_moves_total - len(moves),
                                            total=digest.tier_moves_total, since=date_text(digest.tier_moves_since))))
    return blocks


def digest_message(digest: Digest, now: dt.datetime, cfg: Config,
                   images: Mapping[str, str] | None = None) -> Message:
    """The whole digest ({"text", "blocks"}), checked against Block Kit limits; `images` maps
    a chart's name to its uploaded Slack file id (``bot.digest_charts``)."""
    head: list[Block] = [
        header(render_macro(TEMPLATE, "title", digest.period)),
        context(render_macro(TEMPLATE, "intro", _when(digest.scheduled_for), _day(digest.week_start),
                             _day(digest.week_end))),
        summary_cards_block(digest.cards, cfg),
        divider(),
    ]
    work = work_blocks(digest, cfg)
    tail: list[Block] = [divider(), *cells_blocks(digest, cfg), *chart_blocks(digest, cfg, images),
                         *([divider(), *work] if work else []),
                         context(render_macro(TEMPLATE, "footer", _when(digest.cards.scanned_at)))]
    if digest.all_clear:
        blocks = head + [section(render_macro(TEMPLATE, "all_clear"))] + tail
    else:
        head.append(section(render_macro(TEMPLATE, "top_heading")))
        groups = [signal_item_blocks(item, now, cfg, next_step=True) for item in digest.items]
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
