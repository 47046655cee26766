"""`saas-tracker`: one program, one subcommand per job.

Each command group lives in its own module below this package and registers itself on
``cli``; ``COMMAND_MODULES`` lists them so adding one is a one-line change here.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from domain.config import ConfigError

COMMAND_MODULES = (
    "cli.db",
    "cli.importing",
    "cli.demo",
    "cli.scan",
    "cli.serve",
    "cli.config_cmd",
    "cli.delivery",
    "cli.revenue",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="SAAS_TRACKER_CONFIG", type=click.Path(dir_okay=False),
              help="Configuration file (default ./saas-tracker.toml when present).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """SaaS Tracker: which customer orgs to work on this week, and why.

    \b
    Typical first run:
      saas-tracker demo-data --out demo-data
      saas-tracker db upgrade
      saas-tracker import demo-data
      saas-tracker scan
      saas-tracker signals --top 10
    """
    # Commands print their own results; long-running ones (serve, worker) raise this to INFO.
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:  # migration chatter is noise in normal use; -v shows it
        logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


for _name in COMMAND_MODULES:
    importlib.import_module(_name)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
