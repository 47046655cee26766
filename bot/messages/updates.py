"""The clicked message after Tag case or Dismiss/Snooze: its own blocks, edited in place
(the org's case line, or the item struck through), checked against the limits of the
surface they came from."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from bot import limits
from bot import payloads as act
from bot.blocks import Block, mrkdwn
from bot.limits import validate_blocks
from bot.messages.common import date_text
from bot.messages.items import NEXT_STEP_PREFIX
from bot.templates import Mrkdwn, render
from domain.vocabulary import CASE_TYPES


def _find_block(blocks: Sequence[Mapping[str, Any]], block_id: str) -> int:
    for i, block in enumerate(blocks):
        if block.get("block_id") == block_id:
            return i
    raise LookupError(f"no block {block_id!r} in the message")


def _without_item_actions(blocks: list[Block], org_id: str) -> list[Block]:
    return [b for b in blocks if not act.is_item_actions_block(b.get("block_id"), org_id)]


def _with_case_selected(blocks: list[Block], org_id: str, case_type: str) -> list[Block]:
    """The org's Tag case menu showing the tag just set; the other buttons stay usable."""
    for block in blocks:
        if not act.is_item_actions_block(block.get("block_id"), org_id):
            continue
        for el in block.get("elements", []):
            if el.get("action_id") == act.CASE_TAG:
                chosen = next((o for o in el.get("options", [])
                               if o.get("value", "").partition(act.SEP)[0] == case_type), None)
                if chosen is not None:
                    el["initial_option"] = chosen
    return blocks


def _validated_update(blocks: list[Block], original_count: int) -> list[Block]:
    surface_max = limits.MESSAGE_MAX_BLOCKS if original_count <= limits.MESSAGE_MAX_BLOCKS else limits.VIEW_MAX_BLOCKS
    budget = limits.MESSAGE_TEXT_BUDGET if surface_max == limits.MESSAGE_MAX_BLOCKS else None
    validate_blocks(blocks, max_blocks=surface_max, text_budget=budget)
    return blocks


def item_tagged_update(
    original_blocks: Sequence[Mapping[str, Any]], org_id: str, case_type: str, user_id: str,
    next_step: str | None = None,
) -> list[Block]:
    """The clicked message's blocks with the org's case line saying who tagged it and its Tag
    case menu showing the tag; Open, re-tag and Dismiss stay (a tag holds until someone
    changes it). An item that shows its case playbook's next step (digest, alerts) shows
    `next_step`, the new case's. Raises LookupError when the org is not in the message."""
    if case_type not in CASE_TYPES:
        raise ValueError(f"unknown case type {case_type!r}")
    blocks = [copy.deepcopy(dict(b)) for b in original_blocks]
    i = _find_block(blocks, act.item_block_id(org_id))
    lines = blocks[i]["text"]["text"].split("\n")
    lines[-1] = render("case_line.md.j2", case_type=case_type, case_by=user_id, suggested=None)
    if next_step and len(lines) > 1 and lines[-2].startswith(NEXT_STEP_PREFIX):
        lines[-2] = render("next_step.md.j2", next_step=next_step)
    blocks[i]["text"] = mrkdwn("\n".join(lines), limits.SECTION_TEXT_MAX)
    return _validated_update(_with_case_selected(blocks, org_id, case_type), len(original_blocks))


def item_dismissed_update(
    original_blocks: Sequence[Mapping[str, Any]],
    org_id: str,
    action: str,
    until: dt.date | dt.datetime | None,
    user_id: str,
) -> list[Block]:
    """The clicked message's blocks with the org's item replaced by "~Org~ dismissed by @u"
    (or "snoozed until <date>") and its buttons removed. `action` is "dismiss" or "snooze"
    (or a menu verb such as "snooze7"); a snooze needs `until`."""
    snooze = action.startswith(act.SNOOZE)
    if not snooze and action != act.DISMISS:
        raise ValueError(f"unknown dismiss action {action!r}")
    if snooze and until is None:
        raise ValueError("a snooze needs the date it ends")
    blocks = [copy.deepcopy(dict(b)) for b in original_blocks]
    i = _find_block(blocks, act.item_block_id(org_id))
    first_line = blocks[i]["text"]["text"].split("\n", 1)[0]
    name = first_line[1:-1] if len(first_line) >= 2 and first_line[0] == first_line[-1] == "*" else first_line
    text = render("item_dismissed.md.j2", name=Mrkdwn(name), until=date_text(until) if snooze else "", user=user_id)
    blocks[i]["text"] = mrkdwn(text, limits.SECTION_TEXT_MAX)
    return _validated_update(_without_item_actions(blocks, org_id), len(original_blocks))
