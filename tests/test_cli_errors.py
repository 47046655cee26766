"""The command line explains itself: one line and a non-zero exit for the database mistakes
people make, nothing created on the way, a quiet exit when the reader of its output goes
away, and `--help` without loading the heavy libraries."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test runs the command line in a process of its own

SAAS_TRACKER = [sys.executable, "-c", "import sys, cli; sys.argv[0] = 'saas-tracker'; cli.main()"]
HEAVY = ("pandas", "numpy", "sqlalchemy", "alembic", "slack_bolt", "slack_sdk", "jinja2", "matplotlib",
         "apscheduler", "tqdm")


def run(args: list[str], *, cwd: Path, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run([*SAAS_TRACKER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_a_missing_sqlite_file_is_refused_and_not_created(tmp_path: Path) -> None:
    line = one_line_error(run(["signals"], cwd=tmp_path, database_url="sqlite:///nothere.db"))
    assert f"no database at {tmp_path / 'nothere.db'}" in line and "saas-tracker db upgrade" in line
    assert not (tmp_path / "nothere.db").exists()


def test_the_default_database_is_used_when_database_url_is_unset(tmp_path: Path) -> None:
    line = one_line_error(run(["signals"], cwd=tmp_path))
    assert f"no database at {tmp_path / 'saas-tracker.db'}" in line
    assert list(tmp_path.iterdir()) == []


def test_a_database_without_the_schema_names_the_command_that_creates_it(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    line = one_line_error(run(["org", "acme"], cwd=tmp_path, database_url="sqlite:///empty.db"))
    assert "has no SaaS Tracker schema: run `saas-tracker db upgrade`" in line


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = one_line_error(run(["signals"], cwd=tmp_path, database_url=f"postgresql+psycopg://u@127.0.0.1:{port}/x"))
    assert line.startswith("error: cannot reach the database:") and str(port) in line


@pytest.mark.parametrize("url,expected", [
    ("mysqlx://u@h/db", "unknown database driver (mysqlx)"),
    ("not a url at all", "DATABASE_URL is not a database URL"),
])
def test_a_bad_url_is_one_line(tmp_path: Path, url: str, expected: str) -> None:
    assert expected in one_line_error(run(["signals"], cwd=tmp_path, database_url=url))
    assert list(tmp_path.iterdir()) == []


def test_scan_refuses_an_as_of_in_the_future(tmp_path: Path) -> None:
    tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).date().isoformat()
    done = run(["scan", "--as-of", tomorrow], cwd=tmp_path, database_url="sqlite:///x.db")
    assert done.returncode == 2 and "is in the future" in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_reader_that_goes_away_is_not_an_error(tmp_path: Path) -> None:
    proc = subprocess.Popen([*SAAS_TRACKER, "config", "show"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` that has read enough: every write now fails with EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def _loaded_after(code: str, tmp_path: Path) -> list[str]:
    probe = (f"import sys, cli\nfrom click.testing import CliRunner\n{code}\n"
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    return [m for m in last.split(",") if m]


def test_help_loads_no_heavy_library(tmp_path: Path) -> None:
    code = ("import click\n"
            "paths = [[]]\n"
            "for name, cmd in cli.cli.commands.items():\n"
            "    paths.append([name])\n"
            "    if isinstance(cmd, click.Group):\n"
            "        paths += [[name, sub] for sub in cmd.commands]\n"
            "for p in paths:\n"
            "    r = CliRunner().invoke(cli.cli, [*p, '--help'])\n"
            "    assert r.exit_code == 0, (p, r.output)\n")
    assert _loaded_after(code, tmp_path) == []
