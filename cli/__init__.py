"""`saas-tracker`: one program, one subcommand per job.

Each command group lives in its own module below this package and registers itself on
``cli``; ``COMMAND_MODULES`` lists them so adding one is a one-line change here.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from domain.config import ConfigError

COMMAND_MODULES = (
    "cli.db",
    "cli.importing",
    "cli.demo",
    "cli.scan",
    "cli.work",
    "cli.serve",
    "cli.config_cmd",
    "cli.delivery",
    "cli.revenue",
    "cli.evidence",
)


class _Program(click.Group):
    """The root command: a reader that stops reading (``| head``) ends the command quietly,
    exit 0, where click would exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _reader_went_away()
            return None


@click.group(cls=_Program, context_settings={"help_option_names": ["-h", "--help"]})
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
        code = cli.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        from cli.errors import explain

        message = explain(exc)
        if message is None:
            raise
        click.echo(f"error: {message}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _reader_went_away() -> None:
    """`saas-tracker signals | head`: the reader has what it wanted, which is not an error.
    stdout is pointed at devnull so the interpreter's final flush stays quiet too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)
