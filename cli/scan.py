"""`saas-tracker scan`, `signals`, `org`, `dismiss`, `snooze`, `unsnooze`, `tag`, `audit`
(`note`, `notes` and `assign` are in cli/work.py)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import click

from cli import cli
from cli.common import get_config, get_session_factory
from cli.output import CSV, JSON, echo_csv, echo_json, format_option
from domain.clock import utc_now
from domain.vocabulary import CASE_TYPES, CELL_KEYS, SIGNAL_SHORT_NAMES, SIGNAL_TYPES, TIERS

if TYPE_CHECKING:  # the use cases load pandas and SQLAlchemy: only when a command runs
    from services.tracker import Tracker

BARE_DATE_MEANING = ("A bare date (YYYY-MM-DD) means the end of that day, UTC (23:59:59): the whole "
                     "day's data counts; a time (2026-11-02T09:00Z) is taken as it is, UTC when it has "
                     "no offset.")


def parse_as_of(value: str | None) -> dt.datetime | None:
    """A date means the end of that UTC day (the whole day's rollup counts); a time is taken as is."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.timezone.utc)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or ISO time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _now(as_of: str | None = None) -> dt.datetime:
    return parse_as_of(as_of) or utc_now()


def _tracker(ctx: click.Context) -> Tracker:
    from services.tracker import Tracker

    return Tracker(get_session_factory(ctx), get_config(ctx))


def _no_data(ctx: click.Context) -> click.ClickException:
    return click.ClickException(
        f"application {get_config(ctx).application!r} has no data yet: run `saas-tracker import` first")


def _type_option(value: str | None) -> str | None:
    if value is None:
        return None
    if value in SIGNAL_SHORT_NAMES:
        return SIGNAL_SHORT_NAMES[value]
    if value in SIGNAL_TYPES:
        return value
    raise click.BadParameter(f"{value!r}: use one of {', '.join(SIGNAL_SHORT_NAMES)}")


@cli.command()
@click.option("--as-of", help="Scan as of this date or time (default now); only data up to then is read. "
              + BARE_DATE_MEANING)
@click.pass_context
def scan(ctx: click.Context, as_of: str | None) -> None:
    """Score every org and open, update or resolve signals (one transaction).

    \b
    Example:
      saas-tracker scan
      saas-tracker scan --as-of 2026-11-02   # replay history, day by day, in a fresh database

    Scans move forward in time: an --as-of before the latest scan is refused, and so is one
    in the future (it would refuse every real scan until that day).
    """
    from bot.delivery import BlockKitMessages  # alert layout, queued with the scan
    from services.alerts import alerts_hook
    from services.scanning import ScanOrderError, ScanSuperseded, run_scan

    cfg = get_config(ctx)
    when = parse_as_of(as_of)
    if when is not None and when > utc_now():
        raise click.BadParameter(f"{when:%Y-%m-%d %H:%M:%S} UTC is in the future: a scan reads what has "
                                 "happened, and a future scan would refuse every real one until then",
                                 param_hint="--as-of")
    # New high-priority signals are queued as alerts in the scan's transaction; the worker,
    # serve or `saas-tracker outbox --deliver` sends them.
    try:
        result = run_scan(get_session_factory(ctx), cfg, when, after_signals=alerts_hook(BlockKitMessages()))
    except ScanSuperseded as exc:  # not a failure: the other scan's results are the newer ones
        click.echo(f"nothing to scan: {exc}")
        return
    except ScanOrderError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"scanned {result.orgs_scanned} orgs as of {result.as_of:%Y-%m-%d %H:%M} UTC: "
        f"{result.opened} signals opened, {result.updated} updated, {result.resolved} resolved"
    )


SIGNAL_CSV_COLUMNS = ("rank", "org_id", "name", "priority", "signals", "mrr", "health", "band", "health_delta",
                      "last_seen", "owner", "case", "case_suggested", "reason")


@cli.command()
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 500), help="How many orgs to list.")
@click.option("--type", "type_", help="Only this signal type: risk, drop, inactive or expansion.")
@click.option("--case", "case_type", type=click.Choice(CASE_TYPES),
              help="Only orgs with this case (tag or suggestion).")
@click.option("--owner", help="Only orgs owned by this CSM (e-mail or Slack id).")
@click.option("--cell", type=click.Choice(CELL_KEYS), help="Only orgs in this Revenue × Health cell.")
@click.option("--tier", type=click.IntRange(1, len(TIERS)), metavar="N", help="Only orgs in Tier N (1-4).")
@click.option("--as-of", help="Show signals visible at this time (default now).")
@format_option(JSON, CSV)
@click.pass_context
def signals(ctx: click.Context, top: int, type_: str | None, case_type: str | None, owner: str | None,
            cell: str | None, tier: int | None, as_of: str | None, fmt: str) -> None:
    """Summary cards and the ranked list of orgs with active signals, with the reason for each.

    \b
    Example:
      saas-tracker signals --top 10 --type drop
      saas-tracker signals --cell revenue_at_risk --tier 1
      saas-tracker signals --top 100 --format csv > this-week.csv
    """
    from cli.terminal import render_cards, render_items
    from services.signal_list import SignalFilter
    from services.tracker import NoData

    cfg = get_config(ctx)
    kind = _type_option(type_)
    flt = SignalFilter(
        top=top,
        types=frozenset([kind]) if kind else frozenset(),
        case_types=frozenset([case_type]) if case_type else frozenset(),
        owners=frozenset([owner]) if owner else frozenset(),
        cell=cell,
        tier=TIERS[tier - 1] if tier else None,
    )
    now = _now(as_of)
    try:
        result = _tracker(ctx).signals(flt, now)
    except NoData:
        raise _no_data(ctx) from None
    if fmt == JSON:
        echo_json({"as_of": now, "cards": result.cards, "total": result.total,
                   "items": [_item_row(rank, item) for rank, item in enumerate(result.items, 1)]})
    elif fmt == CSV:
        echo_csv([_item_row(rank, item) for rank, item in enumerate(result.items, 1)], SIGNAL_CSV_COLUMNS)
    else:
        click.echo(render_cards(result.cards, cfg.currency_symbol))
        click.echo()
        click.echo(render_items(result.items, result.total, now, cfg.currency_symbol))


def _item_row(rank: int, item: Any) -> dict[str, Any]:
    return {
        "rank": rank, "org_id": item.org_id, "name": item.name, "priority": item.priority,
        "signals": [s.type for s in item.signals], "mrr": item.mrr, "health": item.health, "band": item.band,
        "health_delta": item.health_delta, "last_seen": item.last_seen, "owner": item.owner,
        "case": item.case_type, "case_suggested": item.case_suggested, "reason": item.reason,
        "signal_details": [{"id": s.id, "type": s.type, "priority": s.priority, "reason": s.reason,
                            "opened_at": s.opened_at, "evidence": s.evidence} for s in item.signals],
    }


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--chart", "chart_dir", type=click.Path(file_okay=False),
              help="Also write the org's 12-week health and usage chart (PNG) to this directory.")
@format_option(JSON)
@click.pass_context
def org(ctx: click.Context, query: tuple[str, ...], chart_dir: str | None, fmt: str) -> None:
    """One org: health and its drivers, what moved it, weekly usage and health, subscriptions
    and MRR history, open signals, its playbooks, notes, owner and review cadence.

    \b
    Example:
      saas-tracker org acme          # id, domain or name, case-insensitive
      saas-tracker org acme --chart charts/
      saas-tracker org acme --format json
    """
    from cli.terminal import render_detail
    from services.tracker import NoData

    cfg = get_config(ctx)
    now = _now()
    text = " ".join(query)
    tracker = _tracker(ctx)
    try:
        found = tracker.find_orgs(text)
        if not found.matches:
            hint = f" Closest: {', '.join(found.closest)}." if found.closest else ""
            raise click.ClickException(f"no org matches {text!r}.{hint}")
        if len(found.matches) > 1:
            if fmt == JSON:
                echo_json({"query": text, "matches": found.matches})
                return
            click.echo(f"{len(found.matches)} orgs match {text!r}; name one by id:")
            for m in found.matches:
                click.echo(f"  {m.org_id:<20} {m.name}  {m.domain or ''}")
            return
        detail = tracker.org_detail(found.matches[0].org_id, now)
    except NoData:
        raise _no_data(ctx) from None
    if detail is None:
        raise click.ClickException(f"{found.matches[0].org_id} was deleted while being read; try again")
    if chart_dir is not None:
        from bot.org_charts import filename, org_chart_png
        from cli.output import write_charts

        png = org_chart_png(detail)
        write_charts(chart_dir, [(filename(detail), png)] if png else [], err=fmt == JSON)
    if fmt == JSON:
        echo_json(detail)
    else:
        click.echo(render_detail(detail, now, cfg.currency_symbol))


def _resolve_org(ctx: click.Context, tracker: Tracker, text: str) -> str:
    from services.tracker import NoData

    try:
        found = tracker.find_orgs(text)
    except NoData:
        raise _no_data(ctx) from None
    if len(found.matches) != 1:
        if not found.matches:
            hint = f" Closest: {', '.join(found.closest)}." if found.closest else ""
            raise click.ClickException(f"no org matches {text!r}.{hint}")
        raise click.ClickException(f"{text!r} matches {len(found.matches)} orgs: "
                                   + ", ".join(m.org_id for m in found.matches))
    return found.matches[0].org_id


def _actor(actor: str | None) -> str:
    import getpass

    return actor or f"cli:{getpass.getuser()}"


def _change_signals(ctx: click.Context, org_text: str, type_: str | None, actor: str | None,
                    snooze_days: int | None) -> None:
    now = _now()
    kind = _type_option(type_)
    until = now + dt.timedelta(days=snooze_days) if snooze_days else None
    tracker = _tracker(ctx)
    org_id = _resolve_org(ctx, tracker, org_text)
    result = tracker.dismiss_open(org_id, [kind] if kind else None, _actor(actor), now, snooze_until=until, via="cli")
    if not result.changed and not result.signal_ids and "no open signal" in result.message:
        raise click.ClickException(result.message.rstrip("."))
    click.echo(result.message)


@cli.command()
@click.argument("org_name")
@click.option("--type", "type_", help="Only this signal type (risk, drop, inactive, expansion); default all open.")
@click.option("--actor", help="Who is dismissing (default cli:<login>), recorded in the audit log.")
@click.pass_context
def dismiss(ctx: click.Context, org_name: str, type_: str | None, actor: str | None) -> None:
    """Dismiss an org's open signals: hidden until the condition clears and holds again.

    \b
    Example:
      saas-tracker dismiss globex --type drop --actor ana@example.com
    """
    _change_signals(ctx, org_name, type_, actor, None)


@cli.command()
@click.argument("org_name")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 365), help="Snooze length.")
@click.option("--type", "type_", help="Only this signal type; default all open.")
@click.option("--actor", help="Who is snoozing, recorded in the audit log.")
@click.pass_context
def snooze(ctx: click.Context, org_name: str, days: int, type_: str | None, actor: str | None) -> None:
    """Hide an org's open signals until a date; they return then if still true.

    \b
    Example:
      saas-tracker snooze umbrella --days 28
    """
    _change_signals(ctx, org_name, type_, actor, days)


@cli.command()
@click.argument("org_name")
@click.option("--type", "type_", help="Only this signal type; default all open.")
@click.option("--actor", help="Who is restoring, recorded in the audit log.")
@click.pass_context
def unsnooze(ctx: click.Context, org_name: str, type_: str | None, actor: str | None) -> None:
    """Put an org's dismissed or snoozed signals back on the lists (the undo of dismiss and
    snooze); signals the scan has resolved since stay resolved.

    \b
    Example:
      saas-tracker unsnooze umbrella --actor ana@example.com
    """
    kind = _type_option(type_)
    tracker = _tracker(ctx)
    org_id = _resolve_org(ctx, tracker, org_name)
    result = tracker.restore_open(org_id, [kind] if kind else None, _actor(actor), _now(), via="cli")
    if not result.changed and "no open signal" in result.message:
        raise click.ClickException(result.message.rstrip("."))
    click.echo(result.message)


@cli.command()
@click.argument("org_name")
@click.argument("case_type", type=click.Choice(CASE_TYPES))
@click.option("--actor", help="Who is tagging, recorded in the audit log.")
@click.pass_context
def tag(ctx: click.Context, org_name: str, case_type: str, actor: str | None) -> None:
    """Tag an org's case type; a person's tag wins over the suggestion.

    \b
    Example:
      saas-tracker tag hooli onboarding --actor ana@example.com
    """
    tracker = _tracker(ctx)
    org_id = _resolve_org(ctx, tracker, org_name)
    result = tracker.tag_case(org_id, case_type, _actor(actor), _now(), via="cli")
    click.echo(f"{org_id}: {result.message}")


AUDIT_CSV_COLUMNS = ("at", "actor", "action", "org_id", "signal_id", "before", "after", "via")


@cli.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@format_option(JSON, CSV)
@click.pass_context
def audit(ctx: click.Context, limit: int, fmt: str) -> None:
    """Every tag, dismissal, snooze, note and owner assignment: who, when and what it changed
    (newest first).

    \b
    Example:
      saas-tracker audit --limit 50
      saas-tracker audit --format csv > audit.csv
    """
    from cli.terminal import render_audit

    entries = _tracker(ctx).audit(limit)
    if fmt == JSON:
        echo_json(entries)
    elif fmt == CSV:
        echo_csv([e.__dict__ for e in entries], AUDIT_CSV_COLUMNS)
    else:
        click.echo(render_audit(entries))
