"""The weekly digest as terminal text (`saas-tracker digest --dry-run --text`, `make demo`).

Rendered from the same ``Digest`` the Slack message is built from, so what the demo shows
is what the channel would get: cards, the ranked orgs, the Revenue x Health cells.
"""

from __future__ import annotations

import datetime as dt

from services.read_models import Digest
from domain.formatting import format_money
from cli.terminal import render_cards, render_items


def week_label(digest: Digest) -> str:
    return f"{digest.period} ({digest.week_start:%d %b} – {digest.week_end:%d %b %Y})"


def render_digest_text(digest: Digest, now: dt.datetime, symbol: str) -> str:
    out = [f"Weekly digest {week_label(digest)}", ""]
    out.append(render_cards(digest.cards, symbol))
    revenue = []
    if digest.total_mrr is not None:
        revenue.append(f"MRR: {format_money(digest.total_mrr, symbol)}")
    if digest.cards.net_new_mrr_this_week is not None:
        revenue.append(f"Net new MRR this week: {format_money(digest.cards.net_new_mrr_this_week, symbol)}")
    if revenue:
        out.append("   ".join(revenue))
    out.append("")
    if digest.all_clear:
        out.append("All clear: no org has an active signal this week.")
    else:
        out.append(f"Top {len(digest.items)} of {digest.total} orgs with active signals")
        out.append(render_items(digest.items, digest.total, now, symbol))
    out.append("")
    out.append("Revenue x Health")
    for cell in digest.cells:
        orgs = "org" if cell.org_count == 1 else "orgs"
        out.append(f"  {cell.label:<16} {cell.org_count:>5} {orgs:<4}  {format_money(cell.mrr, symbol):>9} MRR")
    if digest.unscored:
        out.append(f"  ({digest.unscored} paying orgs not scanned yet, in no cell)")
    if digest.mrr_trend:
        out.append("")
        out.append("MRR by month: " + "  ".join(f"{month:%b %y} {format_money(amount, symbol)}"
                                                for month, amount in digest.mrr_trend))
    if digest.reviews_due_total:
        total = digest.reviews_due_total
        out.append("")
        out.append(f"Reviews due ({total} account{'s' if total != 1 else ''} with no note or case tag "
                   "within their tier's interval)")
        for r in digest.reviews_due:
            when = (f"last {r.last_review:%Y-%m-%d}, {r.overdue_days} days overdue" if r.last_review
                    else "never reviewed")
            owner = f"  {r.owner}" if r.owner else ""
            out.append(f"  {r.name[:30]:<30} {r.tier}, every {r.interval_days:>2} days  {when:<32} "
                       f"{format_money(r.mrr, symbol):>9}{owner}")
        if total > len(digest.reviews_due):
            out.append(f"  …and {total - len(digest.reviews_due)} more")
    if digest.tier_moves is not None:
        out.append("")
        out.append(f"Tier moves since {digest.tier_moves_since}: {digest.tier_moves_total} "
                   f"org{'s' if digest.tier_moves_total != 1 else ''}")
        for t in digest.tier_moves:
            why = f": {', '.join(t.why)}" if t.why else ""
            out.append(f"  {t.name[:30]:<30} {t.before or 'no tier'} → {t.after}{why}")
        if digest.tier_moves_total > len(digest.tier_moves):
            out.append(f"  …and {digest.tier_moves_total - len(digest.tier_moves)} more")
    return "\n".join(out)
