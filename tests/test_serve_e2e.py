"""`saas-tracker serve --http` as a real process against demo data, talking to the local
Slack stand-in: what a CSM would see for `/signals top 10` and `/org acme`."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from services import signal_list
from domain.config import Config
from demo_db import build_demo_db
from slack_stub import SlackStub, signed_request_headers, slash_command_body
from storage.db import make_engine, make_session_factory

pytestmark = pytest.mark.slow  # builds the demo database

SECRET = "e2e-signing-secret"
END = dt.date(2026, 11, 20)
AS_OF = dt.datetime(2026, 11, 20, 23, 59, tzinfo=dt.timezone.utc)
CLI = Path(sys.executable).parent / "saas-tracker"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> str:
    url, engine = build_demo_db(tmp_path_factory.mktemp("e2e"), orgs=80, days=60, end=END, as_of=AS_OF)
    engine.dispose()
    return url


@pytest.fixture
def served(demo_db: str):
    stub = SlackStub().start()
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": demo_db, "SLACK_BOT_TOKEN": stub.token, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": stub.base_url}
    env.pop("SLACK_APP_TOKEN", None)
    proc = subprocess.Popen([str(CLI), "serve", "--http", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                proc.kill()
                stub.stop()
                pytest.fail(f"serve did not come up:\n{out}")
            time.sleep(0.2)
    yield base, stub
    proc.terminate()
    proc.wait(timeout=10)
    stub.stop()


def _command(base: str, stub: SlackStub, command: str, text: str) -> dict:
    url = stub.new_response_url()
    body = slash_command_body(command, text, response_url=url)
    req = urllib.request.Request(base + "/slack/events", data=body.encode(), method="POST",
                                 headers=signed_request_headers(body, SECRET,
                                                                content_type="application/x-www-form-urlencoded"))
    started = time.monotonic()
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    assert time.monotonic() - started < 3.0  # acknowledged within Slack's limit
    deadline = time.monotonic() + 20
    while not stub.response_replies(url):
        assert time.monotonic() < deadline, "no answer on the response_url"
        time.sleep(0.05)
    (reply,) = stub.response_replies(url)
    return reply


def test_serve_http_answers_signals_and_org_from_the_demo_database(served, demo_db: str) -> None:
    base, stub = served
    assert stub.calls_to("auth.test")  # Bolt checked its token against the stand-in at start

    reply = _command(base, stub, "/signals", "top 10")
    assert reply["response_type"] == "ephemeral"
    shown = [b["block_id"].split("|", 1)[1] for b in reply["blocks"] if b.get("block_id", "").startswith("item|")]
    engine = make_engine(demo_db)
    with make_session_factory(engine)() as session:
        expected = signal_list.list_signals(session, 1, dt.datetime.now(dt.timezone.utc),
                                             signal_list.SignalFilter(top=10), Config())
    engine.dispose()
    assert shown == [i.org_id for i in expected.items] and len(shown) == 10
    for story in ("initech", "globex", "hooli"):
        assert story in shown

    org = _command(base, stub, "/org", "acme")
    text = json.dumps(org["blocks"], ensure_ascii=False)
    assert "Acme Corp" in text and "Expansion candidate" in text
    assert "org_open" in text and "case_tag" in text and "signal_dismiss" in text
