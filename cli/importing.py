"""`saas-tracker import`: load orgs, subscriptions, tickets, surveys and usage (raw events or
daily rollups), from CSV or Parquet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli import cli
from cli.common import get_config, get_session_factory

if TYPE_CHECKING:  # the import machinery loads only when the command runs
    from storage.importer import ImportReport
    from storage.upsert import TableCounts


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--application", default=None,
              help="Application for orgs whose row has no application value "
                   "(default: the configured application).")
@click.option("--dry-run", is_flag=True, help="Validate and count, write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--scan", "scan_after", is_flag=True,
              help="Scan right after a successful import, as `saas-tracker scan` does: signals the new "
                   "data opens are queued as alerts at once.")
@click.option("--deliver", is_flag=True,
              help="With --scan: then send the queued alerts now (needs SLACK_BOT_TOKEN), instead of "
                   "at the next outbox flush of serve or the worker.")
@click.pass_context
def import_command(ctx: click.Context, paths: tuple[Path, ...], application: str | None,
                   dry_run: bool, quiet: bool, scan_after: bool, deliver: bool) -> None:
    """Import CSV or Parquet exports; atomic (a bad row rejects everything) and safe to repeat.

    PATHS are directories holding any of orgs.csv, subscriptions.csv, usage_events.csv
    (or events.csv), support_tickets.csv (or tickets.csv), survey_responses.csv (or
    surveys.csv), or such files themselves; each may be .parquet instead of .csv. Usage
    may come as daily rollups instead of events: usage_daily.csv, usage_daily_users.csv
    and usage_daily_features.csv together, each replacing the org-days it names.

    \b
    Example:
      saas-tracker import demo-data
      saas-tracker import exports/orgs.csv exports/usage_events.csv --dry-run
      saas-tracker import exports/usage_events.parquet --scan --deliver   # new events to alerts
    """
    from storage.importer import ImportOutOfMemory, ImportRejected, InputError, import_paths

    if deliver and not scan_after:
        raise click.BadParameter("--deliver sends the alerts of the scan: give --scan too", param_hint="--deliver")
    if scan_after and dry_run:
        raise click.BadParameter("a dry run writes nothing to scan", param_hint="--scan")
    cfg = get_config(ctx)
    factory = get_session_factory(ctx)
    try:
        report = import_paths(
            list(paths),
            factory,
            application=application or cfg.application,
            dry_run=dry_run,
            progress=not quiet and sys.stderr.isatty(),
        )
    except (InputError, ImportOutOfMemory) as exc:
        click.echo(f"import: {exc}", err=True)
        ctx.exit(1)
    except ImportRejected as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        hidden = exc.total - len(exc.errors)
        if hidden > 0:
            click.echo(f"... and {hidden} more", err=True)
        noun = "error" if exc.total == 1 else "errors"
        click.echo(f"import rejected: {exc.total} {noun}; nothing was written.", err=True)
        ctx.exit(1)
    click.echo(format_report(report))
    if scan_after:
        _scan_and_alert(ctx, deliver)


def _scan_and_alert(ctx: click.Context, deliver: bool) -> None:
    """The scan `saas-tracker scan` runs, as of now, with its alerts queued in its
    transaction; then, with ``deliver``, the outbox flush serve would run."""
    from bot.delivery import BlockKitMessages
    from cli.delivery import slack_port
    from domain.clock import utc_now
    from services.alerts import alerts_hook
    from services.outbox import deliver_outbox
    from services.scanning import ScanOrderError, run_scan

    cfg = get_config(ctx)
    factory = get_session_factory(ctx)
    slack = slack_port(cfg) if deliver else None  # a missing token fails before the scan
    try:
        result = run_scan(factory, cfg, utc_now(), after_signals=alerts_hook(BlockKitMessages()))
    except ScanOrderError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"scanned {result.orgs_scanned} orgs as of {result.as_of:%Y-%m-%d %H:%M} UTC: "
               f"{result.opened} signals opened, {result.updated} updated, {result.resolved} resolved")
    if slack is not None:
        click.echo(f"outbox: {deliver_outbox(factory, slack, utc_now(), cfg)}")


def _table_line(label: str, counts: TableCounts) -> str:
    return (f"{label:<17}{counts.rows:>12,} rows: {counts.inserted:,} inserted, "
            f"{counts.updated:,} updated, {counts.unchanged:,} unchanged")


def format_report(report: ImportReport) -> str:
    """The import summary a person reads in the terminal."""
    lines = []
    for label, key in (("orgs", "orgs"), ("subscriptions", "subscriptions"),
                       ("support tickets", "tickets"), ("survey responses", "surveys")):
        if key in report.tables:
            lines.append(_table_line(label, getattr(report, key)))
    if "events" in report.tables:
        lines.append(
            f"{'usage events':<17}{report.events_read:>12,} rows: {report.events_new:,} new, "
            f"{report.events_duplicate:,} already imported; {report.days_touched:,} org-days updated"
        )
    if "usage_daily" in report.tables:
        lines.append(
            f"{'daily usage':<17}{report.daily_rows:>12,} org-days ({report.daily_user_rows:,} user rows, "
            f"{report.daily_feature_rows:,} feature rows): {report.days_new:,} new, {report.days_replaced:,} replaced"
        )
    if report.applications:
        lines.append(f"application{'s' if len(report.applications) > 1 else ''}: {', '.join(report.applications)}")
    verdict = "dry run, nothing written" if report.dry_run else "imported"
    lines.append(f"{verdict} in {report.seconds:.1f} s")
    return "\n".join(lines)
