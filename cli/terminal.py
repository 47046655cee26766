"""Plain-text rendering of the read models for the terminal (`signals`, `org`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from domain.formatting import format_last_seen, format_money

from services.read_models import AuditEntry, HealthMove, NoteView, OrgDetail, OrgItem, ReviewStatus, SummaryCards

if TYPE_CHECKING:  # the history module reads the database: only its type is needed here
    from services.config_history import ConfigHistoryEntry

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int] | tuple[int, ...]) -> str:
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1) + 0.5))] for v in values)


def trend_arrow(delta: float | None) -> str:
    if delta is None:
        return " "
    if delta >= 1:
        return "↑"
    if delta <= -1:
        return "↓"
    return "→"


def render_cards(cards: SummaryCards, symbol: str) -> str:
    scanned = cards.scanned_at.strftime("%Y-%m-%d %H:%M UTC") if cards.scanned_at else "never"
    onboarding = f"Onboarding MRR: {format_money(cards.onboarding_mrr, symbol)}   " if cards.onboarding_mrr else ""
    return (
        f"Orgs with active signals: {cards.orgs_with_signals}   "
        f"MRR at risk: {format_money(cards.mrr_at_risk, symbol)}   {onboarding}"
        f"New this week: {cards.opened_this_week}   Resolved this week: {cards.resolved_this_week}   "
        f"(scanned {scanned})"
    )


def _health_text(item: OrgItem) -> str:
    if item.not_active:
        return "not active"
    if item.health is None:
        return "–"
    return f"{item.health:.0f} {item.band or ''}{trend_arrow(item.health_delta)}"


def render_items(items: list[OrgItem], total: int, now: dt.datetime, symbol: str) -> str:
    if not items:
        return "Nothing needs attention: no active signals match."
    header = f"{'#':>3}  {'prio':>5}  {'org':<30} {'MRR':>8}  {'health':<11} {'last seen':<13} case"
    lines = [header, "-" * max(len(header), 90)]
    for rank, item in enumerate(items, 1):
        case = f"{item.case_type} (by {item.case_by})" if item.case_type else (
            f"{item.case_suggested}?" if item.case_suggested else "")
        lines.append(
            f"{rank:>3}  {item.priority:>5.1f}  {item.name[:30]:<30} "
            f"{format_money(item.mrr, symbol):>8}  {_health_text(item):<11} "
            f"{format_last_seen(item.last_seen, now):<13} {case}"
        )
        lines.append(f"{'':>12}{' · '.join(s.label for s in item.signals)}")
        lines.append(f"{'':>12}why: {item.reason}")
    if total > len(items):
        lines.append(f"…and {total - len(items)} more")
    return "\n".join(lines)


def render_detail(detail: OrgDetail, now: dt.datetime, symbol: str) -> str:
    item = detail.item
    out = [f"{item.name} ({item.org_id}{', ' + detail.domain if detail.domain else ''})"]
    out.append(
        f"  MRR {format_money(item.mrr, symbol)}   plan {detail.plan or '–'}   seats {detail.seats or '–'}   "
        f"owner {item.owner or '–'}{_owner_source(detail)}   last seen {format_last_seen(item.last_seen, now)}"
    )
    if detail.cell or detail.tier:
        out.append(f"  segment {detail.cell or '–'}   {detail.tier or ''} {detail.quadrant or ''}".rstrip())
    delta = "" if item.health_delta is None else f" ({item.health_delta:+.0f} since previous scan)"
    health = "no scan yet" if item.health is None else f"{item.health:.0f} ({item.band}){delta}"
    if item.not_active:
        health = "not active yet: nobody has used the product, so there is nothing to score"
    out.append(f"\nHealth {health}")
    for c in detail.components:
        if c.left_out:
            out.append(f"  {c.label:<17} left out (no data)")
        else:
            out.append(f"  {c.label:<17} score {c.score:5.1f}  weight {c.weight:5.1f}%  "
                       f"= {c.contribution:5.1f} pts   {c.value_text}")
    if detail.moved:
        out.append("  moved: " + ", ".join(f"{name} {pts:+.0f}".replace("-", "−") for name, pts in detail.moved))
    if detail.health_move is not None:
        out.append("  " + move_text(detail.health_move))
    out.append(f"\nUsage, events per week (12 weeks): {sparkline(detail.usage_weeks)}  "
               f"{' '.join(str(v) for v in detail.usage_weeks)}")
    if any(h is not None for h in detail.health_weeks):
        out.append("Health, end of each week (12 weeks):  "
                   + " ".join("–" if h is None else f"{h:.0f}" for h in detail.health_weeks))
    out.append("\nSubscriptions")
    for s in detail.subscriptions:
        period = f"{s.started_at} → {s.ended_at or 'open'}"
        out.append(f"  {'*' if s.counts_now else ' '} {s.subscription_id:<14} {s.product or '–':<14} "
                   f"{s.plan or '–':<12} {format_money(s.mrr, symbol):>8}  {s.status:<9} {period}")
    if detail.mrr_history:
        out.append("  MRR history: " + ", ".join(f"{d}: {format_money(m, symbol)}" for d, m in detail.mrr_history))
    if detail.extras.get("why_rank"):
        out.append(f"\nWhy this rank: {detail.extras['why_rank']}")
    out.append("\nOpen signals")
    if not item.signals:
        out.append("  none")
    for sig in item.signals:
        out.append(f"  [{sig.id}] {sig.label} (priority {sig.priority:.1f}, since {sig.opened_at:%Y-%m-%d}): "
                   f"{sig.reason}")
        out.append("      evidence: " + ", ".join(f"{k}={v}" for k, v in sig.evidence.items()))
    if item.case_type:
        out.append(f"\nCase: {item.case_type}, tagged by {item.case_by}")
    elif item.case_suggested:
        why = detail.extras.get("case_why")
        out.append(f"\nCase: suggested {item.case_suggested}" + (f" ({why})" if why else ""))
    out += render_playbooks(detail)
    if detail.review is not None:
        out.append("\n" + review_text(detail.review))
    out.append(f"\nNotes ({detail.notes_total})" if detail.notes_total else "\nNotes: none yet")
    if detail.notes:
        out.append(render_notes(list(detail.notes), detail.notes_total, indent="  "))
    return "\n".join(out)


def _owner_source(detail: OrgDetail) -> str:
    owner = detail.owner
    if owner is None or owner.source != "assigned":
        return ""
    when = f" on {owner.assigned_at:%Y-%m-%d}" if owner.assigned_at else ""
    return f" (assigned by {owner.assigned_by}{when}; imported: {owner.imported or '–'})"


def move_text(move: HealthMove) -> str:
    """Why health moved, in one line."""
    if move.cause == "data":
        return "moved by: the data (same configuration as the previous scan)"
    changed = "; ".join(move.changes)
    who = (f", first used in a scan by {move.changed_by} on {move.changed_at:%Y-%m-%d %H:%M} UTC"
           if move.changed_at else "")
    points = f" ({move.config_points:+.1f} points of it)".replace("-", "−") if move.config_points is not None else ""
    return f"moved by: {move.cause}{points} — configuration changed: {changed}{who}"


def render_playbooks(detail: OrgDetail) -> list[str]:
    lines: list[str] = []
    for book in detail.playbooks:
        head = f"Playbook — {book.title}" if book.kind == "case" else f"How to read: {book.title}"
        lines.append(f"\n{head}")
        lines.append(f"  {book.read}")
        lines += [f"  {i}. {step}" for i, step in enumerate(book.steps, 1)]
    return lines


def review_text(review: ReviewStatus) -> str:
    every = f"{review.tier}: reviewed every {review.interval_days} days"
    if review.last_review is None:
        return f"Review: {every}; never reviewed — due now (a note or a case tag counts)"
    state = "due now" if review.due else f"next due {review.due_on:%Y-%m-%d}"
    return f"Review: {every}; last {review.last_review:%Y-%m-%d}, {state}"


def render_notes(notes: list[NoteView], total: int, indent: str = "") -> str:
    lines = []
    for n in notes:
        lines.append(f"{indent}{n.created_at:%Y-%m-%d %H:%M} UTC  {n.author}  (via {n.via})")
        lines += [f"{indent}  {line}" for line in n.text.splitlines() or [""]]
    if total > len(notes):
        lines.append(f"{indent}…and {total - len(notes)} older: saas-tracker notes <org>")
    return "\n".join(lines)


def render_config_history(entries: list[ConfigHistoryEntry]) -> str:
    if not entries:
        return "No scan has recorded its configuration yet: the next `saas-tracker scan` does."
    lines = []
    for e in entries:
        span = f"{e.first_scan:%Y-%m-%d %H:%M}" + (f" – {e.last_scan:%Y-%m-%d %H:%M}" if e.scans > 1 else "")
        scans = f"{e.scans} scan{'s' if e.scans != 1 else ''}"
        lines.append(f"{span} UTC  {scans}, first by {e.recorded_by} (stored {e.recorded_at:%Y-%m-%d %H:%M} UTC)")
        if e.first:
            lines.append("  the first configuration recorded")
        elif not e.changes:
            lines.append("  back to an earlier configuration with no difference")
        lines += [f"  {c.text}" for c in e.changes]
    return "\n".join(lines)


def describe_change(entry: AuditEntry) -> str:
    """One audit row as a sentence: "tagged acme risk (was expansion, by ben@example.com)"."""
    before, after = entry.before or {}, entry.after or {}
    org = entry.org_id or "?"
    if entry.action == "tag":
        was = before.get("case_type")
        if was:
            return f"tagged {org} {after.get('case_type')} (was {was}, by {before.get('tagged_by') or 'someone'})"
        return f"tagged {org} {after.get('case_type')}"
    signal = f"signal {entry.signal_id} of {org}"
    was_status = f" (was {before['status']})" if before.get("status") else ""
    if entry.action == "dismiss":
        return f"dismissed {signal}{was_status}"
    if entry.action == "snooze":
        until = str(after.get("snoozed_until") or "")[:10]
        return f"snoozed {signal} until {until}{was_status}" if until else f"snoozed {signal}{was_status}"
    if entry.action == "restore":
        return f"made {signal} active again{was_status}"
    if entry.action == "note":
        return f"noted on {org}: {after.get('text') or ''}"
    if entry.action == "assign":
        now_owner = after.get("owner") or "nobody"
        if after.get("source") == "import":
            return f"gave {org} back to its imported owner {now_owner} (was {before.get('owner') or 'nobody'})"
        was = f"{before.get('owner') or 'nobody'}, {before.get('source') or 'none'}"
        return f"assigned {org} to {now_owner} (was {was})"
    return f"{entry.action} {signal}"


def render_audit(entries: list[AuditEntry]) -> str:
    if not entries:
        return ("No changes recorded yet: tags, dismissals, snoozes, notes and assignments appear here "
                "with who made them.")
    width = max(len(e.actor) for e in entries)
    return "\n".join(f"{e.at:%Y-%m-%d %H:%M} UTC  {e.actor:<{width}}  {describe_change(e)}  (via {e.via})"
                     for e in entries)
