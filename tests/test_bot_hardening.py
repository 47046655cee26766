"""Slack under load and hostile requests, through the real HTTP server (waitress) and the
real Bolt app: replayed requests, malformed ones, acknowledgement before work, bursts, and
the per-endpoint metrics."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from bot_harness import SECRET, seed_orgs, start_bot
from slack_stub import (
    app_home_opened_body,
    block_actions_payload,
    interaction_body,
    signed_request_headers,
    slash_command_body,
)
from storage.db import get_or_create_application
from storage.models import AuditLog, CaseTag, Org, SlackRequestKey

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def bot(session_factory, slack_stub):
    ids = seed_orgs(session_factory)
    running = start_bot(session_factory, slack_stub)
    running.ids = ids
    yield running
    running.stop()


def _signed_command(bot, text: str = "top 10", user_id: str = "U0ANA", timestamp: int | None = None):
    url = bot.stub.new_response_url()
    body = slash_command_body("/signals", text, user_id=user_id, response_url=url)
    return url, body, signed_request_headers(body, SECRET, timestamp=timestamp, content_type=FORM)


def _signed_tag_click(bot, blocks, org_id: str, case_type: str, user_id: str):
    url = bot.stub.new_response_url()
    row = next(b["block_id"] for b in blocks if b.get("type") == "actions" and b["block_id"].endswith(f"|{org_id}"))
    payload = block_actions_payload(blocks, "case_tag", user_id=user_id, response_url=url, block_id=row,
                                    option_value=f"{case_type}|{org_id}", channel_id="C0CUSTSUCC",
                                    message_ts="1700000001.000100", ephemeral=True)
    body = interaction_body(payload)
    return url, body, signed_request_headers(body, SECRET, content_type=FORM)


def _metrics(bot) -> dict:
    with urllib.request.urlopen(bot.url + "/metrics", timeout=5) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


# --- replays ------------------------------------------------------------------------------


def test_the_same_signed_command_twice_is_refused_the_second_time(bot, session_factory) -> None:
    url, body, headers = _signed_command(bot)
    assert bot.post(body, headers)[0] == 200
    status, answer = bot.post(body, headers)
    assert status == 401 and "already received" in answer
    bot.replies(url)
    time.sleep(0.3)  # a second answer would have arrived by now
    assert len(bot.stub.response_replies(url)) == 1
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SlackRequestKey)) == 1
    assert _metrics(bot)["refused"] == {"replayed": 1}


def test_a_replayed_tag_click_does_not_undo_a_colleagues_tag(bot, session_factory) -> None:
    (listing,) = bot.replies(bot.command("/signals", ""))
    ana_url, ana_body, ana_headers = _signed_tag_click(bot, listing["blocks"], "initech", "onboarding", "U0ANA")
    assert bot.post(ana_body, ana_headers)[0] == 200
    bot.replies(ana_url)
    ben_url, ben_body, ben_headers = _signed_tag_click(bot, listing["blocks"], "initech", "risk", "U0BEN")
    assert bot.post(ben_body, ben_headers)[0] == 200
    bot.replies(ben_url)

    assert bot.post(ana_body, ana_headers)[0] == 401  # captured and sent again within 5 minutes
    time.sleep(0.3)
    assert len(bot.stub.response_replies(ana_url)) == 1
    with session_factory() as s:
        tag = s.get(CaseTag, "initech")
        assert (tag.case_type, tag.tagged_by) == ("risk", "U0BEN")
        assert [(a.actor, a.after["case_type"]) for a in s.scalars(select(AuditLog).order_by(AuditLog.id))] == [
            ("U0ANA", "onboarding"), ("U0BEN", "risk")]


def test_a_replay_is_refused_by_another_replica_sharing_the_database(bot, session_factory, slack_stub) -> None:
    other = start_bot(session_factory, slack_stub)
    try:
        url, body, headers = _signed_command(bot)
        assert bot.post(body, headers)[0] == 200
        assert other.post(body, headers)[0] == 401
        bot.replies(url)
        time.sleep(0.3)
        assert len(bot.stub.response_replies(url)) == 1
    finally:
        other.stop()


def test_a_stale_timestamp_is_refused_and_never_stored(bot, session_factory) -> None:
    url, body, headers = _signed_command(bot, timestamp=int(time.time()) - 6 * 60)
    assert bot.post(body, headers)[0] == 401
    time.sleep(0.3)
    assert bot.stub.response_replies(url) == []
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SlackRequestKey)) == 0


def test_a_replayed_event_is_acknowledged_without_running_again(bot) -> None:
    body = app_home_opened_body("U0ANA", event_id="EvReplay")
    headers = signed_request_headers(body, SECRET, content_type="application/json")
    assert bot.post(body, headers)[0] == 200
    bot.stub.wait_for("views.publish")
    assert bot.post(body, headers)[0] == 200  # 200, or Slack would keep sending it
    time.sleep(0.3)
    assert len(bot.stub.calls_to("views.publish")) == 1


# --- malformed requests: 400 / 401, never 500 ----------------------------------------------


def test_missing_signature_headers_get_401(bot) -> None:
    _url, body, headers = _signed_command(bot)
    for missing in ("X-Slack-Signature", "X-Slack-Request-Timestamp"):
        partial = {k: v for k, v in headers.items() if k != missing}
        assert bot.post(body, partial)[0] == 401
    assert bot.post(body, {"Content-Type": FORM})[0] == 401


def test_a_timestamp_that_is_not_a_number_gets_400(bot) -> None:
    _url, body, headers = _signed_command(bot)
    for bad in ("soon", "1.5e9", "-1", "0x1f", "17 18"):
        status, _ = bot.post(body, {**headers, "X-Slack-Request-Timestamp": bad})
        assert status == 400, bad


def test_a_signed_payload_that_is_not_json_gets_400_and_an_unsigned_one_401(bot) -> None:
    for body in ("payload=%7Bnot+json", "payload=%5B1%2C2%5D", "{not json"):
        assert bot.post(body, signed_request_headers(body, SECRET, content_type=FORM))[0] == 400, body
        assert bot.post(body, signed_request_headers(body, "wrong-secret", content_type=FORM))[0] == 401, body


def test_a_signed_click_without_a_user_gets_400_and_changes_nothing(bot, session_factory) -> None:
    payload = {"type": "block_actions", "actions": [{"action_id": "case_tag", "block_id": "item_actions|acme",
                                                     "selected_option": {"value": "risk|acme"}}],
               "response_url": bot.stub.new_response_url(), "trigger_id": "t"}
    body = interaction_body(payload)
    assert bot.post(body, signed_request_headers(body, SECRET, content_type=FORM))[0] == 400
    with session_factory() as s:
        assert s.get(CaseTag, "acme") is None
    assert _metrics(bot)["refused"] == {"malformed": 1}


def test_bolt_internal_headers_from_a_caller_are_ignored(bot) -> None:
    url, body, headers = _signed_command(bot)
    headers |= {"X-Slack-Bolt-Lazy-Only": "1", "X-Slack-Bolt-Lazy-Function-Name": "work"}
    assert bot.post(body, headers)[0] == 200
    (reply,) = bot.replies(url)
    assert reply["response_type"] == "ephemeral"


# --- acknowledgement first, bursts, metrics ------------------------------------------------


def test_commands_are_acknowledged_before_any_work_runs(bot) -> None:
    """With every listener thread busy, a command still gets its 200; the answer follows
    once a thread is free."""
    gate = threading.Event()
    busy = [bot.executor.submit(gate.wait) for _ in range(4)]  # the harness pool has 4 threads
    try:
        url, body, headers = _signed_command(bot)
        assert bot.post(body, headers)[0] == 200
        time.sleep(0.3)
        assert bot.stub.response_replies(url) == []  # acknowledged, nothing done yet
    finally:
        gate.set()
    for f in busy:
        f.result(timeout=5)
    (reply,) = bot.replies(url)
    assert reply["response_type"] == "ephemeral"


def test_twenty_simultaneous_commands_are_all_acknowledged_and_answered(bot) -> None:
    requests = [_signed_command(bot, text=f"top {n % 5 + 1}") for n in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda r: bot.post(r[1], r[2])[0], requests))
    assert statuses == [200] * 20
    for n, (url, _body, _headers) in enumerate(requests):
        (reply,) = bot.replies(url, timeout=20)
        shown = [b for b in reply["blocks"] if b.get("block_id", "").startswith("item|")]
        assert len(shown) == min(n % 5 + 1, 3)  # three orgs have signals
    stats = _metrics(bot)["endpoints"]["/signals"]
    assert stats["count"] == 20 and stats["errors"] == 0
    ack = stats["ack_ms"]
    assert ack["p50"] is not None and ack["p50"] <= ack["p99"] <= ack["max"]
    assert stats["work_ms"]["p99"] is not None


def test_metrics_count_requests_and_failures_per_endpoint(bot) -> None:
    bot.replies(bot.command("/org", "acme"))
    (listing,) = bot.replies(bot.command("/signals", ""))
    bot.stub.fail_next("views.open", error="expired_trigger_id")
    bot.replies(bot.click(listing["blocks"], "org_open", block_id="item_actions|globex"))
    bot.click(listing["blocks"], "org_open", block_id="item_actions|acme")
    bot.stub.wait_for("views.update")
    deadline = time.monotonic() + 5
    while (snapshot := _metrics(bot)["endpoints"])["action org_open"]["in_flight"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert {k: (v["count"], v["in_flight"], v["errors"]) for k, v in snapshot.items()} == {
        "/org": (1, 0, 0), "/signals": (1, 0, 0), "action org_open": (2, 0, 1)}


# --- /org lookups ----------------------------------------------------------------------------


def test_org_wildcards_list_nothing_and_many_matches_say_how_many(bot, session_factory) -> None:
    with session_factory() as s, s.begin():
        app = get_or_create_application(s)
        s.add_all([Org(org_id=f"w{n}", application_id=app.id, name=f"Widget {n:02d}") for n in range(25)])
    for text in ("%", "_", "%%"):
        reply = bot.reply(bot.command("/org", text))
        assert not any(b.get("accessory", {}).get("action_id") == "org_pick" for b in reply["blocks"]), text
        assert "No org matches" in json.dumps(reply["blocks"], ensure_ascii=False)
    reply = bot.reply(bot.command("/org", "widget"))
    picks = [b["accessory"]["value"] for b in reply["blocks"] if b.get("accessory", {}).get("action_id") == "org_pick"]
    assert picks == [f"w{n}" for n in range(10)]
    assert reply["blocks"][0]["text"]["text"] == "*25 orgs match “widget”* (showing 10 of 25) — pick one:"
