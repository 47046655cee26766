"""`saas-tracker config`: see and check the configuration in force."""

from __future__ import annotations

import click

from cli import cli
from cli.common import get_config
from cli.output import JSON, echo_json, format_option, jsonable
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


@config_group.command("history")
@format_option(JSON)
@click.pass_context
def config_history_cmd(ctx: click.Context, fmt: str) -> None:
    """The configurations the scans ran with: each change, which keys, first used when and by whom.

    Every scan records the configuration it ran with, so a move of a health score can be
    told apart from a change of settings (`saas-tracker org` says which it was).

    \b
    Example:
      saas-tracker config history
    """
    from cli.common import get_session_factory
    from cli.terminal import render_config_history
    from services.tracker import NoData, Tracker

    try:
        entries = Tracker(get_session_factory(ctx), get_config(ctx)).config_history()
    except NoData:
        raise click.ClickException(f"application {get_config(ctx).application!r} has no data yet: "
                                   "run `saas-tracker import` and `saas-tracker scan` first") from None
    if fmt == JSON:
        echo_json([{**jsonable(e), "changes": [c.text for c in e.changes]} for e in entries])
    else:
        click.echo(render_config_history(entries))
