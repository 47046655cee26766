"""Real-time alert messages: pure builders over OrgItems, validated before they are returned
(``bot.messages.common.finish``), from the same item blocks as every list (``bot.messages.items``).

One org gets its own message with the /signals item layout and buttons, so the alert can be
acted on where it lands. Many orgs at once (a scan that opens a burst of signals) get one
grouped message with the same items, cut with "…and N more" to fit Slack's limits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.blocks import Block, context, divider, fit_items, header, one_line, section, truncate
from bot.messages.common import ITEM_NAME_MAX, Message, finish
from bot.messages.items import signal_item_blocks
from bot.templates import render_macro
from domain.config import Config
from services.read_models import OrgItem

TEMPLATE = "alerts.md.j2"


def _when(value: dt.datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} {value.tzname() or ''}".rstrip()


def _footer(now: dt.datetime, cfg: Config) -> Block:
    return context(render_macro(TEMPLATE, "footer", _when(now), cfg.slack.alert_priority_threshold))


def _name(item: OrgItem) -> str:
    return truncate(one_line(item.name), ITEM_NAME_MAX)


def alert_message(item: OrgItem, now: dt.datetime, cfg: Config) -> Message:
    """One org's new high-priority signals, with Open / Tag case / Dismiss."""
    blocks = [
        header(render_macro(TEMPLATE, "title", _name(item))),
        *signal_item_blocks(item, now, cfg, next_step=True),
        _footer(now, cfg),
    ]
    labels = ", ".join(s.label for s in item.signals)
    text = str(render_macro(TEMPLATE, "fallback", _name(item), labels, item.priority, item.mrr, cfg.currency_symbol))
    return finish(text, blocks)


def grouped_alert_message(items: Sequence[OrgItem], now: dt.datetime, cfg: Config) -> Message:
    """Many orgs in one message, highest priority first, cut to fit with "…and N more"."""
    mrr = sum(item.mrr for item in items)
    head: list[Block] = [
        header(render_macro(TEMPLATE, "group_title", len(items))),
        section(render_macro(TEMPLATE, "group_intro", len(items), mrr, cfg.currency_symbol)),
        divider(),
    ]
    groups = [signal_item_blocks(item, now, cfg, next_step=True) for item in items]
    blocks = fit_items(groups, head=head, tail=[_footer(now, cfg)],
                       more=lambda hidden: render_macro(TEMPLATE, "more", hidden))
    text = str(render_macro(TEMPLATE, "group_fallback", len(items), mrr, cfg.currency_symbol))
    return finish(text, blocks)
