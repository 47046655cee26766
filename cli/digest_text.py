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
    return "\n".join(out)
