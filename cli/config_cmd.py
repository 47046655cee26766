"""`saas-tracker config`: see and check the configuration in force."""

from __future__ import annotations

import click

from cli import cli
from cli.common import get_config
from domain.config import config_to_toml


@cli.group("config")
def config_group() -> None:
    """The configuration file: every threshold, weight, window and Slack setting.

    \b
    Example:
      saas-tracker --config saas-tracker.toml config check
    """


@config_group.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the configuration in force (file values over defaults) as TOML.

    \b
    Example:
      saas-tracker --config saas-tracker.toml config show
    """
    click.echo(config_to_toml(get_config(ctx)), nl=False)


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Load the configuration and report the first problem, naming the key.

    \b
    Example:
      saas-tracker --config saas-tracker.toml config check
    """
    get_config(ctx)
    click.echo("configuration OK")
