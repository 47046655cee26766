"""`saas-tracker demo-data`: write a reproducible demo customer base as CSV files."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from cli import cli
from demo.defaults import DEFAULT_DAYS, DEFAULT_ORGS, DEFAULT_OUT, DEFAULT_SEED


@cli.command("demo-data")
@click.option("--orgs", "n_orgs", type=click.IntRange(min=1), default=DEFAULT_ORGS,
              show_default=True, help="Number of orgs, story orgs included (at least as many as there are).")
@click.option("--days", type=click.IntRange(min=30), default=DEFAULT_DAYS, show_default=True,
              help="Days of usage history before the end date.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Random seed.")
@click.option("--end-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day of the data; scan on this date to see the stories (default: today, UTC).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT,
              show_default=True, help="Directory to write the CSV files to.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def demo_data_command(n_orgs: int, days: int, seed: int, end_date: dt.datetime | None,
                      out_dir: Path, quiet: bool) -> None:
    """Generate demo orgs, subscriptions, tickets, surveys and usage events.

    The same options always produce byte-identical files.

    \b
    Example:
      saas-tracker demo-data --orgs 300 --days 240 --end-date 2025-06-02 --out demo-data
    """
    from tqdm import tqdm

    from demo.generator import STORY_ORGS, generate_demo_data

    if n_orgs < len(STORY_ORGS):
        raise click.BadParameter(f"must be at least {len(STORY_ORGS)} (the story orgs)", param_hint="--orgs")
    bar = tqdm(total=n_orgs, unit=" orgs", desc="usage events", file=sys.stderr,
               disable=quiet or not sys.stderr.isatty())
    try:
        summary = generate_demo_data(out_dir, orgs=n_orgs, days=days, seed=seed,
                                     end_date=end_date.date() if end_date else None, on_batch=bar.update)
    finally:
        bar.close()
    click.echo(
        f"wrote {summary.orgs:,} orgs, {summary.subscriptions:,} subscriptions, {summary.tickets:,} tickets, "
        f"{summary.surveys:,} survey responses and {summary.events:,} usage events to {summary.out_dir}/ "
        f"(ending {summary.end_date.isoformat()})"
    )
    click.echo("story orgs: " + ", ".join(s.org_id for s in STORY_ORGS))
