"""Pure builders for every Slack message and view of the app.

Each builder takes read models (services.read_models) and Config, returns a plain dict
({"text": fallback, "blocks": [...]} or a view) and checks it with validate_message /
validate_view before returning, so nothing over Slack's limits ever leaves this module.
Wording comes from templates/*.md.j2; the Block Kit structure is built here. Click
payload formats (action ids, values, block ids) are defined in bot.payloads.

Digest and alert messages reuse `signal_item_blocks`, `summary_cards_block` and
`blocks.fit_items`.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from domain.config import Config
from domain.vocabulary import (
    CASE_TYPES,
    EXPANSION_CANDIDATE,
    INACTIVE_PAYING,
    REVENUE_AT_RISK,
    SIGNAL_SHORT_NAMES,
    SNOOZE_CHOICES_DAYS,
    STATUS_ACTIVE,
    STATUS_SNOOZED,
    USAGE_DROP,
)
from domain.formatting import format_last_seen, format_money, format_percent
from services.read_models import OrgDetail, OrgItem, SignalView, SubscriptionView, SummaryCards

from bot import payloads as act
from bot import limits
from bot.blocks import (
    Block,
    actions,
    button,
    context,
    divider,
    fit_items,
    header,
    mrkdwn,
    modal_view,
    one_line,
    option,
    section,
    static_select,
    truncate,
    truncate_mrkdwn,
)
from bot.limits import block_text_length, validate_blocks, validate_message, validate_view
from bot.sparkline import sparkline
from bot.templates import Mrkdwn, render, render_macro, render_parts

# --- symbols ------------------------------------------------------------------------------
SIGNAL_SYMBOLS = {
    REVENUE_AT_RISK: ":rotating_light:",
    USAGE_DROP: ":chart_with_downwards_trend:",
    INACTIVE_PAYING: ":zzz:",
    EXPANSION_CANDIDATE: ":rocket:",
}
UNKNOWN_SIGNAL_SYMBOL = ":grey_question:"
BAND_EMOJI = {"red": ":red_circle:", "yellow": ":large_yellow_circle:", "green": ":large_green_circle:"}
NO_BAND_EMOJI = ":white_circle:"
TREND_UP, TREND_DOWN, TREND_FLAT = "↑", "↓", "→"
# A health change smaller than this (points) reads as flat.
HEALTH_FLAT_DELTA = 1.0

# --- labels of controls (structure, not prose) ---------------------------------------------
OPEN_LABEL = "Open"
TAG_CASE_PLACEHOLDER = "Tag case"
DISMISS_PLACEHOLDER = "Dismiss"
DISMISS_LABEL = "Dismiss"
CASE_LABELS = {case: case.capitalize() for case in CASE_TYPES}

# --- filter words shown by /signals help (the command parser is the authority) -------------
HELP_CELL_FILTERS = ("cell:at-risk", "cell:champions", "cell:watch", "cell:expansion")
HELP_TIER_FILTERS = ("tier1", "tier2", "tier3", "tier4")

# --- layout budgets: how much of each piece of data a message shows -----------------------
ITEM_NAME_MAX = 150
ITEM_REASON_MAX = 300
FILTERS_TEXT_MAX = 200
QUERY_MAX = 100
DETAIL_VALUE_MAX = 60
SUBSCRIPTION_LABEL_MAX = 40
SUBSCRIPTIONS_SHOWN = 15
PRODUCTS_SHOWN = 6
MRR_HISTORY_SHOWN = 8
SIGNALS_SHOWN = 10
EVIDENCE_SHOWN = 6
EVIDENCE_VALUE_MAX = 40
CHOICES_SHOWN = 10
CLOSEST_SHOWN = 5
ERROR_TEXT_MAX = 1000
MORE_HINT_FILTER = "filter"
MORE_HINT_QUERY = "query"
# Evidence keys (split on "_") holding ratios are shown as percentages ("usage_change":
# -0.45 -> -45%), those holding money with the currency symbol.
RATIO_KEY_PARTS = ("change", "utilization", "ratio", "growth", "share")
MONEY_KEY_PARTS = ("mrr", "arr", "revenue")

Message = dict[str, Any]


def _message(text: str, blocks: list[Block], **extra: Any) -> Message:
    text = truncate(text, limits.MESSAGE_FALLBACK_TEXT_MAX)
    validate_message(blocks, text)
    return {"text": text, "blocks": blocks, **extra}


def _date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()


def _datetime(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    text = value.strftime("%Y-%m-%d %H:%M")
    return f"{text} {value.tzname()}" if value.tzinfo is not None else text


def _short(text: object, limit: int) -> str:
    return truncate(one_line("" if text is None else text), limit)


def trend_arrow(delta: float | None) -> str:
    if delta is None:
        return ""
    if delta >= HEALTH_FLAT_DELTA:
        return TREND_UP
    if delta <= -HEALTH_FLAT_DELTA:
        return TREND_DOWN
    return TREND_FLAT


def band_emoji(band: str | None) -> str:
    return BAND_EMOJI.get(band or "", NO_BAND_EMOJI)


def signal_symbol(signal_type: str) -> str:
    return SIGNAL_SYMBOLS.get(signal_type, UNKNOWN_SIGNAL_SYMBOL)


# --- list items ---------------------------------------------------------------------------


def signal_item_text(item: OrgItem, now: dt.datetime, cfg: Config) -> Mrkdwn:
    """The mrkdwn of one item: name, signals, MRR, health, last seen, priority, reason, case."""
    return render(
        "signal_item.md.j2",
        name=_short(item.name, ITEM_NAME_MAX),
        signals=[{"symbol": signal_symbol(s.type), "label": s.label} for s in item.signals],
        item=item,
        currency=cfg.currency_symbol,
        band_emoji=band_emoji(item.band),
        arrow=trend_arrow(item.health_delta),
        last_seen=format_last_seen(item.last_seen, now),
        owner=_short(item.owner, DETAIL_VALUE_MAX) if item.owner else None,
        reason=_short(item.reason, ITEM_REASON_MAX),
        case_type=item.case_type,
        case_by=item.case_by,
        suggested=item.case_suggested,
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


def signal_item_blocks(item: OrgItem, now: dt.datetime, cfg: Config, query: str | None = None) -> list[Block]:
    """One org as [section, actions]: the group the list, digest and alerts all repeat.

    An org id too long for a block_id cannot carry clicks; such an item is shown without
    buttons rather than with buttons that would act on the wrong org. `query` is the slash
    command this is a reply to (see bot.payloads.item_actions_block_id).
    """
    text = signal_item_text(item, now, cfg)
    if not act.org_id_fits(item.org_id):
        return [section(text)]
    return [section(text, block_id=act.item_block_id(item.org_id)), item_actions_block(item, query)]


def summary_cards_block(cards: SummaryCards, cfg: Config) -> Block:
    return section(fields=render_parts("summary_cards.md.j2", cards=cards, currency=cfg.currency_symbol))


def more_items_text(hidden: int, hint: str | None = MORE_HINT_FILTER) -> str:
    return render("more_items.md.j2", hidden=hidden, hint=hint)


def signals_list_message(
    cards: SummaryCards,
    items: Sequence[OrgItem],
    now: dt.datetime,
    cfg: Config,
    title: str = "Top signals",
    filters_text: str = "",
    query: str | None = None,
) -> Message:
    """/signals: summary cards, then one item group per org, cut to fit with "…and N more"."""
    filters = _short(filters_text, FILTERS_TEXT_MAX)
    head: list[Block] = [header(title)]
    line = render("list_context.md.j2", filters_text=filters, scanned_at=_datetime(cards.scanned_at))
    if line:
        head.append(context(line))
    head += [summary_cards_block(cards, cfg), divider()]
    if items:
        groups = [signal_item_blocks(item, now, cfg, query) for item in items]
        blocks = fit_items(groups, head=head, more=more_items_text)
    else:
        blocks = head + [section(render("signals_empty.md.j2", filters_text=filters))]
    text = render_macro(
        "fallbacks.md.j2", "signals_list", _short(title, limits.HEADER_TEXT_MAX), len(items), cards.mrr_at_risk, cfg.currency_symbol
    )
    return _message(text, blocks)


# --- org detail ---------------------------------------------------------------------------


def _fit_rendered(template: str, rows: Sequence[Any], max_chars: int, cap: int, **ctx: Any) -> Mrkdwn:
    """Render with as many rows as fit in max_chars (at most `cap`), the rest as "and N more"."""
    text = Mrkdwn("")
    for n in range(min(len(rows), cap), -1, -1):
        text = render(template, shown=list(rows[:n]), hidden=len(rows) - n, **ctx)
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
        return _date(value)
    if value is None:
        return "–"
    return _short(value, EVIDENCE_VALUE_MAX)


def _signal_rows(signals: Sequence[SignalView], cfg: Config) -> list[dict[str, Any]]:
    rows = []
    for s in sorted(signals, key=lambda s: -s.priority):
        status_text = ""
        if s.status == STATUS_SNOOZED and s.snoozed_until is not None:
            status_text = f"snoozed until {_date(s.snoozed_until)}"
        elif s.status != STATUS_ACTIVE:
            status_text = s.status
        evidence = [
            (_short(str(k).replace("_", " "), EVIDENCE_VALUE_MAX), _evidence_value(str(k), v, cfg))
            for k, v in list(s.evidence.items())[:EVIDENCE_SHOWN]
        ]
        rows.append(
            {
                "symbol": signal_symbol(s.type),
                "label": s.label,
                "priority": s.priority,
                "opened": _date(s.opened_at),
                "status_text": status_text,
                "reason": _short(s.reason, ITEM_REASON_MAX),
                "evidence": evidence,
            }
        )
    return rows


def _subscription_rows(subs: Sequence[SubscriptionView]) -> list[dict[str, Any]]:
    ordered = sorted(subs, key=lambda s: (not s.counts_now, -s.started_at.toordinal()))
    return [
        {
            "product": _short(s.product, SUBSCRIPTION_LABEL_MAX) if s.product else "",
            "plan": _short(s.plan, SUBSCRIPTION_LABEL_MAX) if s.plan else "",
            "mrr": s.mrr,
            "status": s.status,
            "started_at": _date(s.started_at),
            "ended_at": _date(s.ended_at),
            "counts_now": s.counts_now,
        }
        for s in ordered
    ]


def _products(subs: Sequence[SubscriptionView]) -> list[str]:
    names: list[str] = []
    for s in subs:
        if s.counts_now and s.product and s.product not in names:
            names.append(s.product)
    shown = [_short(n, SUBSCRIPTION_LABEL_MAX) for n in names[:PRODUCTS_SHOWN]]
    if len(names) > PRODUCTS_SHOWN:
        shown.append(f"+{len(names) - PRODUCTS_SHOWN} more")
    return shown


def org_detail_blocks(
    detail: OrgDetail, now: dt.datetime, cfg: Config, *, text_budget: int = limits.MESSAGE_TEXT_BUDGET,
    query: str | None = None,
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
        domain=_short(detail.domain, DETAIL_VALUE_MAX),
        owner=_short(item.owner, DETAIL_VALUE_MAX) if item.owner else None,
        plan=_short(detail.plan, DETAIL_VALUE_MAX),
        seats=detail.seats,
        created_at=_date(detail.created_at),
        renewal_date=_date(detail.renewal_date),
        cell=_short(detail.cell, DETAIL_VALUE_MAX),
        tier=_short(detail.tier, DETAIL_VALUE_MAX),
        quadrant=_short(detail.quadrant, DETAIL_VALUE_MAX),
    )
    if facts:
        blocks.append(section(fields=facts))
    why_rank = detail.extras.get("why_rank")
    if why_rank:
        blocks.append(context(render("why_rank.md.j2", text=str(why_rank))))
    blocks.append(divider())
    drivers = [
        {
            "label": _short(c.label, DETAIL_VALUE_MAX),
            "value_text": _short(c.value_text, DETAIL_VALUE_MAX),
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
                left_out=[_short(c.label, DETAIL_VALUE_MAX) for c in detail.components if c.left_out],
                moved=[(_short(label, DETAIL_VALUE_MAX), points) for label, points in detail.moved],
            )
        )
    )
    weeks = list(detail.usage_weeks)
    blocks.append(section(render("usage.md.j2", weeks=weeks, spark=sparkline(weeks))))

    tail = item_group[1:]
    remaining = text_budget - block_text_length(blocks + tail)
    signals_text = _fit_rendered(
        "signals_detail.md.j2",
        _signal_rows(item.signals, cfg),
        min(limits.SECTION_TEXT_MAX, remaining // 2),
        SIGNALS_SHOWN,
    )
    remaining -= len(signals_text)
    history = list(detail.mrr_history)
    subs_text = _fit_rendered(
        "subscriptions.md.j2",
        _subscription_rows(detail.subscriptions),
        min(limits.SECTION_TEXT_MAX, remaining),
        SUBSCRIPTIONS_SHOWN,
        mrr=item.mrr,
        currency=cfg.currency_symbol,
        products=_products(detail.subscriptions),
        plan=_short(detail.plan, DETAIL_VALUE_MAX),
        history=[(_date(day), amount) for day, amount in history[-MRR_HISTORY_SHOWN:]],
        history_hidden=len(history) > MRR_HISTORY_SHOWN,
    )
    blocks += [section(subs_text), section(signals_text)]
    return blocks + tail


def _detail_fallback(detail: OrgDetail, cfg: Config) -> str:
    item = detail.item
    return render_macro(
        "fallbacks.md.j2", "org_detail", _short(item.name, ITEM_NAME_MAX), item.health, item.mrr, cfg.currency_symbol
    )


def org_detail_message(detail: OrgDetail, now: dt.datetime, cfg: Config, query: str | None = None) -> Message:
    """/org reply: the whole org on one screen, with the same buttons as a list item."""
    return _message(_detail_fallback(detail, cfg), org_detail_blocks(detail, now, cfg, query=query))


def org_detail_modal(detail: OrgDetail, now: dt.datetime, cfg: Config) -> dict[str, Any]:
    """The view for views.open when Open is clicked; private_metadata holds the org id."""
    org_id = detail.item.org_id
    view = modal_view(
        detail.item.name,
        org_detail_blocks(detail, now, cfg),
        callback_id=act.ORG_DETAIL_CALLBACK_ID,
        private_metadata=org_id if len(org_id) <= limits.PRIVATE_METADATA_MAX else None,
    )
    validate_view(view)
    return view


# --- /org lookups, help, errors -------------------------------------------------------------


def org_choices_message(query: str, candidates: Sequence[tuple[str, str, str | None]]) -> Message:
    """Several orgs match: up to 10, each with an Open button (action_id org_pick, value org_id)."""
    shown = list(candidates)[:CHOICES_SHOWN]
    q = _short(query, QUERY_MAX)
    blocks: list[Block] = [section(render("org_choices.md.j2", count=len(candidates), query=q))]
    for org_id, name, domain in shown:
        pickable = bool(org_id) and len(org_id) <= limits.BUTTON_VALUE_MAX
        blocks.append(
            section(
                render(
                    "org_choice.md.j2",
                    name=_short(name, ITEM_NAME_MAX),
                    domain=_short(domain, DETAIL_VALUE_MAX),
                    org_id=_short(org_id, DETAIL_VALUE_MAX),
                    pickable=pickable,
                ),
                accessory=button(OPEN_LABEL, action_id=act.ORG_PICK, value=org_id) if pickable else None,
            )
        )
    if len(candidates) > len(shown):
        blocks.append(context(more_items_text(len(candidates) - len(shown), MORE_HINT_QUERY)))
    return _message(render_macro("fallbacks.md.j2", "org_choices", q, len(candidates)), blocks)


def org_not_found_message(query: str, closest: Sequence[str]) -> Message:
    q = _short(query, QUERY_MAX)
    names = [_short(n, ITEM_NAME_MAX) for n in list(closest)[:CLOSEST_SHOWN]]
    blocks = [section(render("org_not_found.md.j2", query=q, closest=names))]
    return _message(render_macro("fallbacks.md.j2", "org_not_found", q), blocks)


def help_message(unparsed: str | None = None, *, cfg: Config | None = None) -> Message:
    """Help for /signals and /org, saying first what was not understood (if anything)."""
    cfg = cfg or Config()
    shown = _short(unparsed, QUERY_MAX).replace("`", "'") if unparsed else ""
    text = render(
        "help.md.j2",
        unparsed=shown,
        default_top=cfg.slack.signals_default_top,
        max_top=cfg.slack.signals_max_top,
        signal_filters=list(SIGNAL_SHORT_NAMES),
        case_types=list(CASE_TYPES),
        cells=list(HELP_CELL_FILTERS),
        tiers=list(HELP_TIER_FILTERS),
    )
    return _message(render_macro("fallbacks.md.j2", "help"), [section(text)])


def error_message(text: str) -> Message:
    """An ephemeral error reply that never replaces the message the user clicked on."""
    body = render("error.md.j2", text=truncate(str(text), ERROR_TEXT_MAX))
    return _message(body, [section(body)], response_type="ephemeral", replace_original=False)


def refusal_message(action: str) -> Message:
    """The reply to someone not authorized to tag, dismiss or snooze (see SlackConfig)."""
    body = render("refusal.md.j2", action=_short(action, QUERY_MAX))
    return _message(body, [section(body)], response_type="ephemeral", replace_original=False)


# --- in-place updates after a click ---------------------------------------------------------


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
    original_blocks: Sequence[Mapping[str, Any]], org_id: str, case_type: str, user_id: str
) -> list[Block]:
    """The clicked message's blocks with the org's case line saying who tagged it and its Tag
    case menu showing the tag; Open, re-tag and Dismiss stay (a tag holds until someone
    changes it). Raises LookupError when the org is not in the message."""
    if case_type not in CASE_TYPES:
        raise ValueError(f"unknown case type {case_type!r}")
    blocks = [copy.deepcopy(dict(b)) for b in original_blocks]
    i = _find_block(blocks, act.item_block_id(org_id))
    lines = blocks[i]["text"]["text"].split("\n")
    lines[-1] = render("case_line.md.j2", case_type=case_type, case_by=user_id, suggested=None)
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
    text = render("item_dismissed.md.j2", name=Mrkdwn(name), until=_date(until) if snooze else "", user=user_id)
    blocks[i]["text"] = mrkdwn(text, limits.SECTION_TEXT_MAX)
    return _validated_update(_without_item_actions(blocks, org_id), len(original_blocks))
