"""`/org` when the text names no single org: the matches to pick from, or the closest names."""

from __future__ import annotations

from collections.abc import Sequence

from bot import limits
from bot import payloads as act
from bot.blocks import Block, button, context, section
from bot.messages.common import (
    CHOICES_SHOWN,
    CLOSEST_SHOWN,
    DETAIL_VALUE_MAX,
    ITEM_NAME_MAX,
    MORE_HINT_QUERY,
    OPEN_LABEL,
    QUERY_MAX,
    Message,
    finish,
    short,
)
from bot.messages.items import more_items_text
from bot.templates import render, render_macro


def org_choices_message(query: str, candidates: Sequence[tuple[str, str, str | None]],
                        total: int | None = None) -> Message:
    """Several orgs match: up to 10, each with an Open button (action_id org_pick, value
    org_id). `total` is how many match in all when `candidates` holds only the first of
    them; the header then says "showing 10 of 312" instead of pretending 10 is all."""
    total = max(total or 0, len(candidates))
    shown = list(candidates)[:CHOICES_SHOWN]
    q = short(query, QUERY_MAX)
    blocks: list[Block] = [section(render("org_choices.md.j2", count=total, shown=len(shown), query=q))]
    for org_id, name, domain in shown:
        pickable = bool(org_id) and len(org_id) <= limits.BUTTON_VALUE_MAX
        blocks.append(
            section(
                render(
                    "org_choice.md.j2",
                    name=short(name, ITEM_NAME_MAX),
                    domain=short(domain, DETAIL_VALUE_MAX),
                    org_id=short(org_id, DETAIL_VALUE_MAX),
                    pickable=pickable,
                ),
                accessory=button(OPEN_LABEL, action_id=act.ORG_PICK, value=org_id) if pickable else None,
            )
        )
    if total > len(shown):
        blocks.append(context(more_items_text(total - len(shown), MORE_HINT_QUERY)))
    return finish(render_macro("fallbacks.md.j2", "org_choices", q, total), blocks)


def org_not_found_message(query: str, closest: Sequence[str]) -> Message:
    q = short(query, QUERY_MAX)
    names = [short(n, ITEM_NAME_MAX) for n in list(closest)[:CLOSEST_SHOWN]]
    blocks = [section(render("org_not_found.md.j2", query=q, closest=names))]
    return finish(render_macro("fallbacks.md.j2", "org_not_found", q), blocks)

