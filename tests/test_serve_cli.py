"""`saas-tracker serve` at start: Slack unreachable or refusing the token ends it with one
line; the HTTP address comes from --host, else slack.http_host (0.0.0.0 by default)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from domain.config import Config, ConfigError, config_from_dict
from slack_stub import SlackStub

pytestmark = pytest.mark.slow  # each test starts `saas-tracker serve` in a process of its own

CLI = Path(sys.executable).parent / "saas-tracker"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: nothing listens there


def _env(tmp_path: Path, api_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SAAS_TRACKER_CONFIG"}
    return {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_APP_TOKEN": "xapp-test", "SLACK_API_URL": api_url, **extra}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_socket_mode_with_slack_unreachable_exits_with_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/"
    result = _run(["serve", "--no-scheduler"], _env(tmp_path, url))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert url in output and "Connection refused" in output
    assert not (tmp_path / "serve.db").exists()  # stopped before touching the database


def test_a_token_slack_refuses_exits_with_one_line(tmp_path: Path) -> None:
    with SlackStub() as stub:  # accepts only its own token; ours is xoxb-test
        result = _run(["serve", "--no-scheduler"], _env(tmp_path, stub.base_url))
        assert [c.error for c in stub.calls_to("auth.test")] == ["invalid_auth"]
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0 and "Traceback" not in output
    assert len(output.splitlines()) == 1 and "invalid_auth" in output, output


def test_socket_mode_refused_by_slack_exits_with_one_line(tmp_path: Path) -> None:
    """The bot token is good, but Slack won't open a Socket Mode connection for the app token."""
    with SlackStub() as stub:
        url = stub.base_url
        result = _run(["serve", "--no-scheduler"], _env(tmp_path, url, SLACK_BOT_TOKEN=stub.token))
        assert [c.ok for c in stub.calls_to("auth.test")] == [True]
        assert [c.error for c in stub.calls_to("apps.connections.open")] == ["invalid_auth"]
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0 and "Traceback" not in output
    assert output.splitlines() == [f"Error: cannot open Socket Mode with Slack at {url}: "
                                   "Slack refused: invalid_auth"]


def test_http_mode_listens_where_the_configuration_says(tmp_path: Path) -> None:
    config = tmp_path / "saas-tracker.toml"
    config.write_text('[slack]\nhttp_host = "127.0.0.1"\n')
    with SlackStub() as stub:
        env = _env(tmp_path, stub.base_url, SLACK_BOT_TOKEN=stub.token, SLACK_SIGNING_SECRET="s",
                   SAAS_TRACKER_CONFIG=str(config))
        proc = subprocess.Popen([str(CLI), "serve", "--http", "--port", "0", "--no-scheduler"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            line = ""
            while "serving Slack" not in line:
                assert time.monotonic() < deadline and proc.poll() is None, line
                line = proc.stdout.readline() if proc.stdout else ""
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert line.startswith("serving Slack on http://127.0.0.1:")


def test_help_says_http_mode_listens_on_every_interface_by_default() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "slack.http_host" in text and "0.0.0.0" in text and "every network interface" in text


def test_http_host_setting() -> None:
    assert Config().slack.http_host == "0.0.0.0"
    for good in ("127.0.0.1", "::", "localhost", "bot.internal"):
        assert config_from_dict({"slack": {"http_host": good}}).slack.http_host == good
    for bad in ("0.0.0.0:3000", "", "two words", "-bad-.example"):
        with pytest.raises(ConfigError, match="slack.http_host: .* is not an IP address or host name"):
            config_from_dict({"slack": {"http_host": bad}})
