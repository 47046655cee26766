"""Every `saas-tracker` subcommand explains itself with an example (`--help`)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


ALL = _commands(cli)


def test_the_expected_commands_exist() -> None:
    top = {path[0] for path in ALL}
    assert {"db", "demo-data", "import", "scan", "signals", "org", "dismiss", "snooze", "unsnooze", "tag", "audit",
            "serve", "worker", "digest", "outbox", "revenue", "segments", "tiers", "config"} <= top


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p))
def test_help_says_what_it_does_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output, f"saas-tracker {' '.join(path)} --help has no example"
