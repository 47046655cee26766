"""`saas-tracker scan`, `signals`, `org`, `dismiss`, `snooze`, `unsnooze`, `tag`, `audit`."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select

from services import actions
from services import org_details, org_lookup, signal_list
from cli import cli
from cli.common import get_config, get_session_factory
from domain.vocabulary import CASE_TYPES, SIGNAL_SHORT_NAMES, SIGNAL_TYPES
from cli.terminal import render_cards, render_detail, render_items
from scoring.segments import CELL_KEYS
from scoring.tiers import TIERS
from storage.db import find_application
from storage.models import AuditLog


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
    return parse_as_of(as_of) or dt.datetime.now(dt.timezone.utc)


def _app_id(ctx: click.Context, session) -> int:
    cfg = get_config(ctx)
    app = find_application(session, cfg.application)
    if app is None:
        raise click.ClickException(f"application {cfg.application!r} has no data yet: run `saas-tracker import` first")
    return app.id


def _type_option(value: str | None) -> str | None:
    if value is None:
        return None
    if value in SIGNAL_SHORT_NAMES:
        return SIGNAL_SHORT_NAMES[value]
    if value in SIGNAL_TYPES:
        return value
    raise click.BadParameter(f"{value!r}: use one of {', '.join(SIGNAL_SHORT_NAMES)}")


@cli.command()
@click.option("--as-of", help="Scan as of this date or time (default now); only data up to then is read.")
@click.pass_context
def scan(ctx: click.Context, as_of: str | None) -> None:
    """Score every org and open, update or resolve signals (one transaction).

    \b
    Example:
      saas-tracker scan
      saas-tracker scan --as-of 2026-11-02   # replay history, day by day, in a fresh database

    Scans move forward in time: an --as-of before the latest scan is refused.
    """
    from bot.delivery import BlockKitMessages  # alert layout, queued with the scan
    from services.alerts import alerts_hook
    from services.scanning import ScanOrderError, run_scan  # late: pulls in pandas and scoring

    cfg = get_config(ctx)
    # New high-priority signals are queued as alerts in the scan's transaction; the worker,
    # serve or `saas-tracker outbox --deliver` sends them.
    try:
        result = run_scan(get_session_factory(ctx), cfg, parse_as_of(as_of), after_signals=alerts_hook(BlockKitMessages()))
    except ScanOrderError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"scanned {result.orgs_scanned} orgs as of {result.as_of:%Y-%m-%d %H:%M} UTC: "
        f"{result.opened} signals opened, {result.updated} updated, {result.resolved} resolved"
    )


@cli.command()
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 500), help="How many orgs to list.")
@click.option("--type", "type_", help="Only this signal type: risk, drop, inactive or expansion.")
@click.option("--case", "case_type", type=click.Choice(CASE_TYPES), help="Only orgs with this case (tag or suggestion).")
@click.option("--owner", help="Only orgs owned by this CSM (e-mail or Slack id).")
@click.option("--cell", type=click.Choice(CELL_KEYS), help="Only orgs in this Revenue × Health cell.")
@click.option("--tier", type=click.IntRange(1, len(TIERS)), metavar="N", help="Only orgs in Tier N (1-4).")
@click.option("--as-of", help="Show signals visible at this time (default now).")
@click.pass_context
def signals(ctx: click.Context, top: int, type_: str | None, case_type: str | None, owner: str | None,
            cell: str | None, tier: int | None, as_of: str | None) -> None:
    """Summary cards and the ranked list of orgs with active signals, with the reason for each.

    \b
    Example:
      saas-tracker signals --top 10 --type drop
      saas-tracker signals --cell revenue_at_risk --tier 1
    """
    cfg = get_config(ctx)
    kind = _type_option(type_)
    flt = signal_list.SignalFilter(
        top=top,
        types=frozenset([kind]) if kind else frozenset(),
        case_types=frozenset([case_type]) if case_type else frozenset(),
        owners=frozenset([owner]) if owner else frozenset(),
        cell=cell,
        tier=TIERS[tier - 1] if tier else None,
    )
    now = _now(as_of)
    with get_session_factory(ctx)() as session:
        result = signal_list.list_signals(session, _app_id(ctx, session), now, flt, cfg)
    click.echo(render_cards(result.cards, cfg.currency_symbol))
    click.echo()
    click.echo(render_items(result.items, result.total, now, cfg.currency_symbol))


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.pass_context
def org(ctx: click.Context, query: tuple[str, ...]) -> None:
    """One org: health and its drivers, subscriptions and MRR history, weekly usage, open signals.

    \b
    Example:
      saas-tracker org acme          # id, domain or name, case-insensitive
    """
    cfg = get_config(ctx)
    now = _now()
    text = " ".join(query)
    with get_session_factory(ctx)() as session:
        app_id = _app_id(ctx, session)
        found = org_lookup.find_orgs(session, app_id, text)
        if not found.matches:
            hint = f" Closest: {', '.join(found.closest)}." if found.closest else ""
            raise click.ClickException(f"no org matches {text!r}.{hint}")
        if len(found.matches) > 1:
            click.echo(f"{len(found.matches)} orgs match {text!r}; name one by id:")
            for m in found.matches:
                click.echo(f"  {m.org_id:<20} {m.name}  {m.domain or ''}")
            return
        detail = org_details.org_detail(session, app_id, found.matches[0].org_id, now, cfg)
    click.echo(render_detail(detail, now, cfg.currency_symbol))


def _resolve_org(session, app_id: int, text: str) -> str:
    found = org_lookup.find_orgs(session, app_id, text)
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
    with get_session_factory(ctx)() as session, session.begin():
        app_id = _app_id(ctx, session)
        org_id = _resolve_org(session, app_id, org_text)
        ids = actions.open_signal_ids(session, org_id, [kind] if kind else None)
        if not ids:
            raise click.ClickException(f"{org_id} has no open signal{' of that type' if kind else ''}")
        result = actions.dismiss_signals(session, ids, _actor(actor), now, snooze_until=until, via="cli")
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
@click.argument("case_type", type=click.Choice(CASE_TYPES))
@click.option("--actor", help="Who is tagging, recorded in the audit log.")
@click.pass_context
def tag(ctx: click.Context, org_name: str, case_type: str, actor: str | None) -> None:
    """Tag an org's case type; a person's tag wins over the suggestion.

    \b
    Example:
      saas-tracker tag hooli onboarding --actor ana@example.com
    """
    now = _now()
    with get_session_factory(ctx)() as session, session.begin():
        org_id = _resolve_org(session, _app_id(ctx, session), org_name)
        result = actions.tag_case(session, org_id, case_type, _actor(actor), now, via="cli")
    click.echo(f"{org_id}: {result.message}")


@cli.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.pass_context
def audit(ctx: click.Context, limit: int) -> None:
    """Every tag, dismissal and snooze: who, when and what it changed (newest first).

    \b
    Example:
      saas-tracker audit --limit 50
    """
    with get_session_factory(ctx)() as session:
        rows = session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)).all()
        for r in rows:
            click.echo(f"{r.at:%Y-%m-%d %H:%M} {r.actor:<24} {r.action:<8} {r.org_id or '':<16} "
                       f"signal={r.signal_id or '-'} {r.before} -> {r.after} via {r.via}")
