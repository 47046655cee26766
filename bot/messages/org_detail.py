"""The reply to `/org` and the Open modal: one org on one screen — facts, health and its
drivers, why it moved, usage and health by week (and their chart), subscriptions, open
signals, the playbooks, notes, owner and review cadence — with the same buttons as a list
item, and a second row to add a note or assign the owner."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from bot import limits
from bot import payloads as act
from bot.blocks import Block, actions, button, context, divider, modal_view, section, truncate_mrkdwn, users_select
from bot.chart_upload import UploadedFile, image_block
from bot.org_charts import alt_text, chart_title
from bot.limits import block_text_length, validate_view
from bot.messages.common import (
    DETAIL_VALUE_MAX,
    EVIDENCE_SHOWN,
    EVIDENCE_VALUE_MAX,
    ITEM_NAME_MAX,
    ITEM_REASON_MAX,
    MONEY_KEY_PARTS,
    MRR_HISTORY_SHOWN,
    PRODUCTS_SHOWN,
    RATIO_KEY_PARTS,
    SIGNALS_SHOWN,
    SUBSCRIPTION_LABEL_MAX,
    SUBSCRIPTIONS_SHOWN,
    Message,
    band_emoji,
    date_text,
    finish,
    short,
    signal_symbol,
    trend_arrow,
)
from bot.messages.items import signal_item_blocks
from bot.sparkline import sparkline
from bot.templates import Mrkdwn, render, render_macro, render_parts
from domain.config import Config
from domain.formatting import format_money, format_percent
from domain.vocabulary import STATUS_ACTIVE, STATUS_SNOOZED
from services.read_models import OrgDetail, SignalView, SubscriptionView

LOADING_TITLE = "Loading…"


def fit_rendered(template: str, rows: Sequence[Any], max_chars: int, cap: int, *, extra_hidden: int = 0,
                  **ctx: Any) -> Mrkdwn:
    """Render with as many rows as fit in max_chars (at most `cap`), the rest as "and N more"
    (plus `extra_hidden` rows the caller never had)."""
    text = Mrkdwn("")
    for n in range(min(len(rows), cap), -1, -1):
        text = render(template, shown=list(rows[:n]), hidden=len(rows) - n + extra_hidden, **ctx)
        if len(text) <= max_chars:
            return text
    return Mrkdwn(truncate_mrkdwn(text, max_chars))


def _evidence_value(key: str, value: object, cfg: Config) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    words = set(key.lower().split("_"))
    if isinstance(value, (int, float)) and words & set(MONEY_KEY_PARTS):
        return format_money(float(value), cfg.currency_symbol)
    if isinstance(value, (int, float)) and words & set(RATIO_KEY_PARTS):
        return format_percent(float(value), signed=bool(words & {"change", "growth"}))
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, (dt.date, dt.datetime)):
        return date_text(value)
    if value is None:
        return "–"
    return short(value, EVIDENCE_VALUE_MAX)


def _signal_rows(signals: Sequence[SignalView], cfg: Config) -> list[dict[str, Any]]:
    rows = []
    for s in sorted(signals, key=lambda s: -s.priority):
        status_text = ""
        if s.status == STATUS_SNOOZED and s.snoozed_until is not None:
            status_text = f"snoozed until {date_text(s.snoozed_until)}"
        elif s.status != STATUS_ACTIVE:
            status_text = s.status
        evidence = [
            (short(str(k).replace("_", " "), EVIDENCE_VALUE_MAX), _evidence_value(str(k), v, cfg))
            for k, v in list(s.evidence.items())[:EVIDENCE_SHOWN]
        ]
        rows.append(
            {
                "symbol": signal_symbol(s.type),
                "label": s.label,
                "priority": s.priority,
                "opened": date_text(s.opened_at),
                "status_text": status_text,
                "reason": short(s.reason, ITEM_REASON_MAX),
                "evidence": evidence,
            }
        )
    return rows


def _subscription_rows(subs: Sequence[SubscriptionView]) -> list[dict[str, Any]]:
    ordered = sorted(subs, key=lambda s: (not s.counts_now, -s.started_at.toordinal()))
    return [
        {
            "product": short(s.product, SUBSCRIPTION_LABEL_MAX) if s.product else "",
            "plan": short(s.plan, SUBSCRIPTION_LABEL_MAX) if s.plan else "",
            "mrr": s.mrr,
            "status": s.status,
            "started_at": date_text(s.started_at),
            "ended_at": date_text(s.ended_at),
            "counts_now": s.counts_now,
        }
        for s in ordered
    ]


def _products(subs: Sequence[SubscriptionView]) -> list[str]:
    names: list[str] = []
    for s in subs:
        if s.counts_now and s.product and s.product not in names:
            names.append(s.product)
    shown = [short(n, SUBSCRIPTION_LABEL_MAX) for n in names[:PRODUCTS_SHOWN]]
    if len(names) > PRODUCTS_SHOWN:
        shown.append(f"+{len(names) - PRODUCTS_SHOWN} more")
    return shown


def org_detail_blocks(
    detail: OrgDetail, now: dt.datetime, cfg: Config, *, text_budget: int = limits.MESSAGE_TEXT_BUDGET,
    query: str | None = None, chart: UploadedFile | None = None,
) -> list[Block]:
    """Item summary, facts, health and drivers, usage, subscriptions, open signals, buttons.

    Subscriptions and signals share what is left of the text budget, so an org with
    hundreds of subscriptions is cut with "and N more" instead of being rejected.
    """
    item = detail.item
    item_group = signal_item_blocks(item, now, cfg, query)
    blocks: list[Block] = [item_group[0]]
    facts = render_parts(
        "org_header.md.j2",
        domain=short(detail.domain, DETAIL_VALUE_MAX),
        owner=short(item.owner, DETAIL_VALUE_MAX) if item.owner else None,
        plan=short(detail.plan, DETAIL_VALUE_MAX),
        seats=detail.seats,
        created_at=date_text(detail.created_at),
        renewal_date=date_text(detail.renewal_date),
        cell=short(detail.cell, DETAIL_VALUE_MAX),
        tier=short(detail.tier, DETAIL_VALUE_MAX),
        quadrant=short(detail.quadrant, DETAIL_VALUE_MAX),
    )
    if facts:
        blocks.append(section(fields=facts))
    why_rank = detail.extras.get("why_rank")
    if why_rank:
        blocks.append(context(render("why_rank.md.j2", text=str(why_rank))))
    blocks.append(divider())
    drivers = [
        {
            "label": short(c.label, DETAIL_VALUE_MAX),
            "value_text": short(c.value_text, DETAIL_VALUE_MAX),
            "score": c.score,
            "weight": c.weight,
            "contribution": c.contribution,
        }
        for c in detail.components
        if not c.left_out
    ]
    blocks.append(
        section(
            render(
                "health.md.j2",
                health=item.health,
                band=item.band or "",
                band_emoji=band_emoji(item.band),
                delta=item.health_delta,
                arrow=trend_arrow(item.health_delta),
                drivers=drivers,
                left_out=[short(c.label, DETAIL_VALUE_MAX) for c in detail.components if c.left_out],
                moved=[(short(label, DETAIL_VALUE_MAX), points) for label, points in detail.moved],
                moved_by=_moved_by(detail),
            )
        )
    )
    weeks = list(detail.usage_weeks)
    health_weeks = list(detail.health_weeks) if any(h is not None for h in detail.health_weeks) else []
    blocks.append(section(render("usage.md.j2", weeks=weeks, spark=sparkline(weeks), health_weeks=health_weeks)))
    if chart is not None:
        blocks.append(image_block(chart, alt_text(detail), title=chart_title(detail)))

    tail = item_group[1:] + org_tools_blocks(detail)
    work = _work_blocks(detail, cfg)
    remaining = text_budget - block_text_length(blocks + work + tail)
    signals_text = fit_rendered(
        "signals_detail.md.j2",
        _signal_rows(item.signals, cfg),
        min(limits.SECTION_TEXT_MAX, remaining // 2),
        SIGNALS_SHOWN,
    )
    remaining -= len(signals_text)
    history = list(detail.mrr_history)
    subs_text = fit_rendered(
        "subscriptions.md.j2",
        _subscription_rows(detail.subscriptions),
        min(limits.SECTION_TEXT_MAX, remaining),
        SUBSCRIPTIONS_SHOWN,
        mrr=item.mrr,
        currency=cfg.currency_symbol,
        products=_products(detail.subscriptions),
        plan=short(detail.plan, DETAIL_VALUE_MAX),
        history=[(date_text(day), amount) for day, amount in history[-MRR_HISTORY_SHOWN:]],
        history_hidden=len(history) > MRR_HISTORY_SHOWN,
    )
    blocks += [section(subs_text), section(signals_text)]
    return blocks + work + tail


ADD_NOTE_LABEL = "Add note"
ASSIGN_PLACEHOLDER = "Assign owner"
NOTE_TEXT_SHOWN = 300
NOTES_TEXT_MAX = 2000
PLAYBOOKS_TEXT_MAX = 2000


def org_tools_blocks(detail: OrgDetail) -> list[Block]:
    """Add note and Assign for the org (none when its id can't travel in a block id)."""
    org_id = detail.item.org_id
    if not act.org_id_fits(org_id) or len(org_id) > limits.BUTTON_VALUE_MAX:
        return []
    owner = detail.owner.owner if detail.owner is not None else detail.item.owner
    return [actions([
        button(ADD_NOTE_LABEL, action_id=act.NOTE_OPEN, value=org_id),
        users_select(ASSIGN_PLACEHOLDER, action_id=act.ORG_ASSIGN, initial_user=owner),
    ], block_id=act.org_tools_block_id(org_id))]


def _moved_by(detail: OrgDetail) -> Mrkdwn | None:
    move = detail.health_move
    if move is None:
        return None
    return render_macro("org_work.md.j2", "moved_by", {
        "cause": move.cause, "changes": [short(c, DETAIL_VALUE_MAX * 2) for c in move.changes],
        "changed_by": short(move.changed_by, DETAIL_VALUE_MAX) if move.changed_by else None,
        "changed_at": date_text(move.changed_at), "config_points": move.config_points,
    })


def _work_blocks(detail: OrgDetail, cfg: Config) -> list[Block]:
    """Playbooks, notes, and the owner and review line."""
    blocks: list[Block] = []
    if detail.playbooks:
        books = [{"kind": b.kind, "key": b.key, "title": b.title, "read": b.read, "steps": list(b.steps),
                  "symbol": signal_symbol(b.key)} for b in detail.playbooks]
        blocks.append(section(truncate_mrkdwn(render("playbooks.md.j2", books=books), PLAYBOOKS_TEXT_MAX)))
    notes = [{"when": date_text(n.created_at), "author": short(n.author, DETAIL_VALUE_MAX),
              "text": short(n.text, NOTE_TEXT_SHOWN)} for n in detail.notes]
    blocks.append(section(fit_rendered("notes.md.j2", notes, NOTES_TEXT_MAX, len(notes),
                                        total=detail.notes_total, org_id=short(detail.item.org_id, DETAIL_VALUE_MAX),
                                        extra_hidden=detail.notes_total - len(notes))))
    lines = []
    if detail.owner is not None:
        o = detail.owner
        lines.append(render_macro("org_work.md.j2", "owner_line", {
            "source": o.source, "owner": short(o.owner, DETAIL_VALUE_MAX) if o.owner else None,
            "assigned_by": short(o.assigned_by, DETAIL_VALUE_MAX) if o.assigned_by else None,
            "assigned_at": date_text(o.assigned_at),
            "imported": short(o.imported, DETAIL_VALUE_MAX) if o.imported else None,
        }))
    if detail.review is not None:
        r = detail.review
        lines.append(render_macro("org_work.md.j2", "review_line", {
            "tier": short(r.tier, DETAIL_VALUE_MAX), "interval_days": r.interval_days,
            "last": date_text(r.last_review), "due": r.due, "due_on": date_text(r.due_on),
        }))
    if lines:
        blocks.append(context(*lines))
    return blocks


def _detail_fallback(detail: OrgDetail, cfg: Config) -> str:
    item = detail.item
    return render_macro(
        "fallbacks.md.j2", "org_detail", short(item.name, ITEM_NAME_MAX), item.health, item.mrr, cfg.currency_symbol
    )


def org_detail_message(detail: OrgDetail, now: dt.datetime, cfg: Config, query: str | None = None,
                       chart: UploadedFile | None = None) -> Message:
    """/org reply: the whole org on one screen, with the same buttons as a list item; `chart`
    (the org's uploaded 12-week chart) is shown under the usage when given."""
    return finish(_detail_fallback(detail, cfg), org_detail_blocks(detail, now, cfg, query=query, chart=chart))


def org_detail_modal(detail: OrgDetail, now: dt.datetime, cfg: Config,
                     chart: UploadedFile | None = None) -> dict[str, Any]:
    """The view for views.open when Open is clicked; private_metadata holds the org id."""
    org_id = detail.item.org_id
    view = modal_view(
        detail.item.name,
        org_detail_blocks(detail, now, cfg, chart=chart),
        callback_id=act.ORG_DETAIL_CALLBACK_ID,
        private_metadata=org_id if len(org_id) <= limits.PRIVATE_METADATA_MAX else None,
    )
    validate_view(view)
    return view



def loading_modal(org_id: str) -> dict[str, Any]:
    """Opened at once when Open is clicked (a trigger_id lives 3 seconds), then replaced by
    `org_detail_modal` however long the detail takes."""
    view = modal_view(LOADING_TITLE, [section(f"Loading `{short(org_id, DETAIL_VALUE_MAX)}`…")])
    validate_view(view)
    return view
