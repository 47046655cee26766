"""The reply to "List orgs" on a Revenue × Health cell: its orgs by MRR, each with Open."""

from __future__ import annotations

from collections.abc import Sequence

from bot import payloads as act
from bot.blocks import button, context, escape_mrkdwn, fit_items, modal_view, section
from bot.limits import validate_view
from bot.messages.common import OPEN_LABEL, Message, band_emoji, finish
from domain.config import Config
from domain.formatting import format_money
from services.read_models import CellView

CELL_ROWS_SHOWN = 40

CellRow = tuple[str, str, float, float | None, str | None]  # org_id, name, mrr, health, band


def orgs_text(n: int) -> str:
    return f"{n} org" if n == 1 else f"{n} orgs"


def cell_orgs_message(cell: CellView, rows: Sequence[CellRow], cfg: Config) -> Message:
    """The orgs of one cell by MRR, each with an Open button (ephemeral reply to "List orgs")."""
    head = [section(f"*{escape_mrkdwn(cell.label)}*: {orgs_text(cell.org_count)}, "
                    f"{format_money(cell.mrr, cfg.currency_symbol)} MRR")]
    groups = []
    for org_id, name, mrr, health, band in list(rows)[:CELL_ROWS_SHOWN]:
        health_text = "no score" if health is None else f"{band_emoji(band)} {health:.0f}"
        text = f"*{escape_mrkdwn(name)}* · {format_money(mrr, cfg.currency_symbol)} · health {health_text}"
        accessory = button(OPEN_LABEL, action_id=act.ORG_OPEN, value=org_id) if act.org_id_fits(org_id) else None
        groups.append([section(text, accessory=accessory)])
    hidden = len(rows) - CELL_ROWS_SHOWN
    tail = [context(f"…and {hidden} more: `saas-tracker segments --cell {cell.key}`")] if hidden > 0 else []
    blocks = fit_items(groups, head=head, tail=tail)
    return finish(f"{cell.label}: {orgs_text(cell.org_count)}", blocks,
                  response_type="ephemeral", replace_original=False)


def cell_orgs_modal(cell: CellView, rows: Sequence[CellRow], cfg: Config) -> dict:
    """The same list as a modal, for "List orgs" clicked on the Home tab or in a modal."""
    view = modal_view(cell.label, cell_orgs_message(cell, rows, cfg)["blocks"])
    validate_view(view)
    return view
