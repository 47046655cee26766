"""One org as a list item — the group of blocks /signals, /org, the digest, alerts and the
Home tab all repeat — plus the summary cards, the "…and N more" line and the Revenue ×
Health cell button. Blocks only; the message builders validate what they compose."""

from __future__ import annotations

import datetime as dt

from bot import payloads as act
from bot.blocks import Block, actions, button, option, section, static_select
from bot.messages.common import (
    DETAIL_VALUE_MAX,
    ITEM_NAME_MAX,
    ITEM_REASON_MAX,
    MORE_HINT_FILTER,
    OPEN_LABEL,
    band_emoji,
    short,
    signal_symbol,
    trend_arrow,
)
from bot.templates import Mrkdwn, render, render_parts
from domain.config import Config
from domain.formatting import format_last_seen
from domain.vocabulary import CASE_TYPES, SNOOZE_CHOICES_DAYS
from services import playbooks
from services.read_models import CellView, OrgItem, SummaryCards

TAG_CASE_PLACEHOLDER = "Tag case"
DISMISS_PLACEHOLDER = "Dismiss"
DISMISS_LABEL = "Dismiss"
CASE_LABELS = {case: case.capitalize() for case in CASE_TYPES}
CELL_LIST_LABEL = "List orgs"
NEXT_STEP_MAX = 200
NEXT_STEP_PREFIX = ":compass: Next:"


def signal_item_text(item: OrgItem, now: dt.datetime, cfg: Config, *, next_step: bool = False) -> Mrkdwn:
    """The mrkdwn of one item: name, signals, MRR, health, last seen, priority, reason, case;
    with `next_step`, the case playbook's first step above the case line (digest, alerts)."""
    return render(
        "signal_item.md.j2",
        name=short(item.name, ITEM_NAME_MAX),
        signals=[{"symbol": signal_symbol(s.type), "label": s.label} for s in item.signals],
        item=item,
        currency=cfg.currency_symbol,
        band_emoji=band_emoji(item.band),
        arrow=trend_arrow(item.health_delta),
        last_seen=format_last_seen(item.last_seen, now),
        owner=short(item.owner, DETAIL_VALUE_MAX) if item.owner else None,
        reason=short(item.reason, ITEM_REASON_MAX),
        case_type=item.case_type,
        case_by=item.case_by,
        suggested=item.case_suggested,
        next_step=short(playbooks.next_step(item, cfg), NEXT_STEP_MAX) if next_step else None,
    )


def _snooze_label(days: int) -> str:
    if days % 7 == 0:
        weeks = days // 7
        return f"Snooze {weeks} week{'s' if weeks != 1 else ''}"
    return f"Snooze {days} days"


def dismiss_choices() -> list[tuple[str, str]]:
    """(verb, label) for the Dismiss menu: dismiss, then one snooze per configured length."""
    return [(act.DISMISS, DISMISS_LABEL)] + [(f"{act.SNOOZE}{d}", _snooze_label(d)) for d in SNOOZE_CHOICES_DAYS]


def item_actions_block(item: OrgItem, query: str | None = None) -> Block:
    """Open, Tag case and Dismiss for one org; ids travel in values and the block_id."""
    org_id = item.org_id
    case_options = [option(CASE_LABELS[c], act.case_value(c, org_id)) for c in CASE_TYPES]
    initial = next((o for c, o in zip(CASE_TYPES, case_options) if c == item.case_type), None)
    elements = [
        button(OPEN_LABEL, action_id=act.ORG_OPEN, value=org_id, style="primary"),
        static_select(TAG_CASE_PLACEHOLDER, action_id=act.CASE_TAG, options=case_options, initial_option=initial),
    ]
    signal_ids = [s.id for s in item.signals]
    if signal_ids:
        dismiss_options = [option(label, act.dismiss_value(verb, signal_ids)) for verb, label in dismiss_choices()]
        elements.append(static_select(DISMISS_PLACEHOLDER, action_id=act.SIGNAL_DISMISS, options=dismiss_options))
    return actions(elements, block_id=act.item_actions_block_id(org_id, query))


def signal_item_blocks(item: OrgItem, now: dt.datetime, cfg: Config, query: str | None = None, *,
                       next_step: bool = False) -> list[Block]:
    """One org as [section, actions]: the group the list, digest and alerts all repeat.

    An org id too long for a block_id cannot carry clicks; such an item is shown without
    buttons rather than with buttons that would act on the wrong org. `query` is the slash
    command this is a reply to (see bot.payloads.item_actions_block_id).
    """
    text = signal_item_text(item, now, cfg, next_step=next_step)
    if not act.org_id_fits(item.org_id):
        return [section(text)]
    return [section(text, block_id=act.item_block_id(item.org_id)), item_actions_block(item, query)]


def summary_cards_block(cards: SummaryCards, cfg: Config) -> Block:
    return section(fields=render_parts("summary_cards.md.j2", cards=cards, currency=cfg.currency_symbol))


def more_items_text(hidden: int, hint: str | None = MORE_HINT_FILTER) -> str:
    return render("more_items.md.j2", hidden=hidden, hint=hint)



def cell_list_button(cell: CellView) -> Block | None:
    """"List orgs" for a Revenue × Health cell (its key as the value); none for an empty
    cell. The digest and the Home tab show the same button."""
    if not cell.org_count:
        return None
    return button(CELL_LIST_LABEL, action_id=act.CELL_LIST, value=cell.key)
