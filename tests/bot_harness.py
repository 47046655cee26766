"""A running Slack app for tests: the real Bolt app behind the real HTTP server (waitress),
its WebClient pointed at the local Slack stand-in, and signed requests like Slack's."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bot.app import create_app
from bot.client import make_web_client
from bot.http import make_server
from bot.metrics import Metrics
from bot.payloads import is_item_actions_block
from domain.config import Config
from domain.vocabulary import EXPANSION_CANDIDATE, REVENUE_AT_RISK, USAGE_DROP
from slack_stub import (
    SlackStub,
    block_actions_payload,
    interaction_body,
    signed_request_headers,
    slash_command_body,
    view_submission_payload,
)
from services.tracker import Tracker
from storage.db import get_or_create_application
from storage.models import HealthSnapshot, Org, Signal, Subscription

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET = "test-signing-secret"


def seed_orgs(factory) -> dict[str, list[int]]:
    """Three orgs with signals, one without, two Acmes for ambiguity. Returns signal ids by org."""
    with factory() as s, s.begin():
        app = get_or_create_application(s)
        s.add_all([
            Org(org_id="acme", application_id=app.id, name="Acme Corp", domain="acme.com", owner="ana@example.com",
                plan="Enterprise", seats=50, created_at=NOW - dt.timedelta(days=400)),
            Org(org_id="acme-eu", application_id=app.id, name="Acme Europe", domain="acme.eu"),
            Org(org_id="globex", application_id=app.id, name="Globex <Intl> & Co", domain="globex.com", owner="U0BEN"),
            Org(org_id="initech", application_id=app.id, name="Initech", owner="ben@example.com"),
        ])
        s.flush()
        for org_id, mrr in (("acme", 5000), ("globex", 9000), ("initech", 4000)):
            s.add(Subscription(subscription_id=f"sub-{org_id}", org_id=org_id, mrr=mrr,
                               started_at=dt.date(2026, 1, 1), product="Core", plan="Pro"))
        sigs = {
            "acme": [Signal(application_id=app.id, org_id="acme", type=EXPANSION_CANDIDATE, status="active",
                            priority=60.0, evidence={"health": 82.0, "usage_change": 0.35},
                            reason="Health 82 with usage +35%", suggested_case="expansion",
                            opened_at=NOW - dt.timedelta(days=1), updated_at=NOW)],
            "globex": [Signal(application_id=app.id, org_id="globex", type=REVENUE_AT_RISK, status="active",
                              priority=90.0, evidence={"health": 30.0, "mrr": 9000.0},
                              reason="Health 30 (red) with $9,000 MRR", suggested_case="risk",
                              opened_at=NOW - dt.timedelta(days=2), updated_at=NOW),
                       Signal(application_id=app.id, org_id="globex", type=USAGE_DROP, status="active",
                              priority=75.5, evidence={"usage_change": -0.6}, reason="Events −60%",
                              suggested_case="risk", opened_at=NOW - dt.timedelta(days=2), updated_at=NOW)],
            "initech": [Signal(application_id=app.id, org_id="initech", type=REVENUE_AT_RISK, status="active",
                               priority=85.0, evidence={"health": 20.0}, reason="Health 20 (red) with $4,000 MRR",
                               suggested_case="risk", opened_at=NOW - dt.timedelta(days=3), updated_at=NOW)],
        }
        for group in sigs.values():
            s.add_all(group)
        for org_id, score, band, mrr in (("acme", 82.0, "green", 5000), ("globex", 30.0, "red", 9000),
                                         ("initech", 20.0, "red", 4000), ("acme-eu", 65.0, "yellow", 0)):
            s.add(HealthSnapshot(org_id=org_id, day=NOW.date(), score=score, band=band, mrr=mrr,
                                 components={"activity": {"value": 10, "score": 50.0, "weight": 30.0,
                                                          "contribution": 15.0}},
                                 left_out=[], last_seen=NOW - dt.timedelta(days=1), usage={}))
        s.flush()
        return {org: [x.id for x in group] for org, group in sigs.items()}


class TrackedExecutor(ThreadPoolExecutor):
    """The listener executor, counting the work not finished yet: a test can wait until every
    request's work is done (Bolt submits it before the HTTP answer goes back)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = 0
        self._count_lock = threading.Lock()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        with self._count_lock:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Any) -> None:
        with self._count_lock:
            self._pending -= 1

    def idle(self) -> bool:
        with self._count_lock:
            return self._pending == 0


@dataclass
class RunningBot:
    url: str
    stub: SlackStub
    server: Any
    thread: threading.Thread
    executor: TrackedExecutor
    metrics: Metrics
    tracker: Tracker

    def stop(self) -> None:
        """Stop taking requests, then wait for work still running after its ack."""
        self.server.close()
        self.executor.shutdown(wait=True)

    def post(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        req = urllib.request.Request(self.url + "/slack/events", data=body.encode(), method="POST",
                                     headers={**headers})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def command(self, command: str, text: str, user_id: str = "U0ANA", channel_id: str = "C0CUSTSUCC") -> str:
        """Run a slash command; returns its response_url (replies land there)."""
        url = self.stub.new_response_url()
        body = slash_command_body(command, text, user_id=user_id, channel_id=channel_id, response_url=url)
        status, _ = self.post(body,
                              signed_request_headers(body, SECRET, content_type="application/x-www-form-urlencoded"))
        assert status == 200
        return url

    def click(self, blocks: list[dict[str, Any]], action_id: str, *, user_id: str = "U0ANA", channel: str | None = None,
              ts: str | None = None, **kw: Any) -> str:
        """Click an element of `blocks` (a message in `channel`/`ts` when given); returns the response_url."""
        url = self.stub.new_response_url(channel, ts)
        block_id = kw.pop("block_id", None)
        if block_id and block_id.startswith("item_actions|"):
            # "item_actions|<org>" names the org's button row, whatever form its id takes.
            org_id = block_id.split("|", 1)[1]
            block_id = next(b["block_id"] for b in blocks if is_item_actions_block(b.get("block_id"), org_id))
        kw["block_id"] = block_id
        payload = block_actions_payload(blocks, action_id, user_id=user_id, response_url=url,
                                        channel_id=channel or "C0CUSTSUCC", message_ts=ts or "1700000001.000100", **kw)
        body = interaction_body(payload)
        status, _ = self.post(body,
                              signed_request_headers(body, SECRET, content_type="application/x-www-form-urlencoded"))
        assert status == 200
        return url

    def submit(self, view: dict[str, Any], values: dict[str, dict[str, str]], *,
               user_id: str = "U0ANA") -> tuple[int, dict[str, Any]]:
        """Submit a modal (as the stand-in holds it) with `values`; returns the HTTP status and
        the acknowledgement's JSON body (empty when the ack said nothing)."""
        body = interaction_body(view_submission_payload(view, values, user_id=user_id))
        status, text = self.post(body, signed_request_headers(body, SECRET,
                                                              content_type="application/x-www-form-urlencoded"))
        return status, (json.loads(text) if text.strip() else {})

    def event(self, body: str, retry_num: int | None = None) -> int:
        headers = signed_request_headers(body, SECRET, content_type="application/json")
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        status, _ = self.post(body, headers)
        return status

    def replies(self, url: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every reply at the response_url once the work of every request sent so far is done
        (a reply can be followed by another: `/org` adds its chart after the text)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.stub.response_replies(url)
            if (len(got) >= count and self.executor.idle()) or time.monotonic() > deadline:
                assert len(got) >= count, f"expected {count} replies at the response_url, got {len(got)}"
                return self.stub.response_replies(url)
            time.sleep(0.02)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the work of every request sent so far is done."""
        deadline = time.monotonic() + timeout
        while not self.executor.idle():
            assert time.monotonic() < deadline, "the app's work did not finish in time"
            time.sleep(0.02)

    def opened_org_modal(self) -> dict[str, Any]:
        """The org modal as Slack holds it once opened and filled in (chart included)."""
        self.settle()
        return self.stub.views[self.stub.calls_to("views.update")[-1].response["view"]["id"]]

    def reply(self, url: str, timeout: float = 10.0) -> dict[str, Any]:
        """The answer as the person sees it in the end: the last reply at the response_url."""
        return self.replies(url, timeout=timeout)[-1]


def start_bot(factory, stub: SlackStub, cfg: Config | None = None, now: dt.datetime = NOW) -> RunningBot:
    cfg = cfg or Config()
    client = make_web_client(stub.token, stub.base_url, backoff_factor=0.01)
    executor = TrackedExecutor(max_workers=4, thread_name_prefix="bolt-listener")
    tracker = Tracker(factory, cfg, clock=lambda: now)
    metrics = Metrics()
    app = create_app(tracker, client, SECRET, listener_executor=executor, metrics=metrics)
    server = make_server(app, tracker, SECRET, host="127.0.0.1", port=0, threads=4, metrics=metrics)

    def serve() -> None:
        try:
            server.run()
        except (OSError, ValueError):  # waitress's loop ends this way when close() is called
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return RunningBot(url=f"http://127.0.0.1:{server.effective_port}", stub=stub, server=server, thread=thread,
                      executor=executor, metrics=metrics, tracker=tracker)


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)
