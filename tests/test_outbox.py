"""Delivering the outbox through the local Slack stand-in: sent once, retried with backoff
(surviving restarts, since the state is in the database), or failed with the reason; one bad
row never stops the rest. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
from click.testing import CliRunner
from freezegun import freeze_time

from bot.client import make_web_client, posting_client
from delivery_helpers import HistoryStub, add_outbox, outbox_rows
from cli import cli
from domain.config import Config
from services.outbox import ALERT_EVENT_TYPE, deliver_outbox, sending_lease
from storage.db import make_engine, make_session_factory
from bot.delivery import SlackDelivery

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
CFG = Config()
BASE = CFG.slack.delivery_backoff_seconds  # 30 s


def _quiet_client(stub):
    """No retries inside slack_sdk: every failure reaches the outbox's own retry logic."""
    return make_web_client(stub.token, stub.base_url, rate_limit_retries=0, server_error_retries=0,
                           connection_retries=0)


def _state(factory) -> list[tuple]:
    return [(r.id, r.status, r.attempts, r.next_attempt_at, r.last_error, r.message_ts) for r in outbox_rows(factory)]


def test_sent_rows_record_message_ts_and_are_not_sent_again(session_factory, slack_stub) -> None:
    a = add_outbox(session_factory, "alert A", at=NOW)
    b = add_outbox(session_factory, "alert B", channel="#cs-alerts", at=NOW)
    later = add_outbox(session_factory, "not due yet", at=NOW + dt.timedelta(minutes=5))
    client = _quiet_client(slack_stub)
    report = deliver_outbox(session_factory, SlackDelivery(client), NOW, CFG)
    assert (report.sent, report.retrying, report.failed) == ([a, b], [], [])
    assert [(m["channel"], m["text"]) for m in slack_stub.posted] == [("C0CUSTSUCC", "alert A"),
                                                                      ("C0ALERTS", "alert B")]
    rows = {r.id: r for r in outbox_rows(session_factory)}
    assert (rows[a].status, rows[a].attempts, rows[a].sent_at, rows[a].message_ts) == (
        "sent", 1, NOW, slack_stub.posted[0]["ts"])
    assert rows[later].status == "pending" and rows[later].attempts == 0
    assert deliver_outbox(session_factory, SlackDelivery(client), NOW, CFG).sent == []
    assert len(slack_stub.calls_to("chat.postMessage")) == 2


def test_429_then_success_with_the_apps_client_delivers_once(session_factory, slack_stub, slack_client) -> None:
    """The production client waits out Retry-After itself; the alert is posted exactly once."""
    row = add_outbox(session_factory, "rate limited once", at=NOW)
    slack_stub.fail_next("chat.postMessage", status=429, retry_after=1)
    report = deliver_outbox(session_factory, SlackDelivery(slack_client), NOW, CFG)
    assert report.sent == [row]
    assert [c.status for c in slack_stub.calls_to("chat.postMessage")] == [429, 200]
    assert [m["text"] for m in slack_stub.posted] == ["rate limited once"]
    assert slack_stub.calls_to("conversations.history") == []  # a 429 posted nothing: no need to look
    ((_, status, attempts, _, error, ts),) = _state(session_factory)
    assert (status, attempts, error, ts) == ("sent", 1, None, slack_stub.posted[0]["ts"])


def test_429_is_retried_after_retry_after_and_delivered_once(session_factory, slack_stub) -> None:
    row = add_outbox(session_factory, "rate limited", at=NOW)
    other = add_outbox(session_factory, "same channel, next in line", at=NOW)
    elsewhere = add_outbox(session_factory, "another channel", channel="#cs-alerts", at=NOW)
    client = _quiet_client(slack_stub)
    slack_stub.fail_next("chat.postMessage", status=429, retry_after=120)
    report = deliver_outbox(session_factory, SlackDelivery(client), NOW, CFG)
    # The rate-limited channel is left alone for the rest of the flush; others still go.
    assert (report.sent, report.retrying, report.failed) == ([elsewhere], [row], [])
    state = {r[0]: r for r in _state(session_factory)}
    assert state[row][1:5] == ("pending", 1, NOW + dt.timedelta(seconds=120), "rate_limited: ratelimited (HTTP 429)")
    assert state[other][1:3] == ("pending", 0)
    # Not due before Retry-After has passed; the wait is in the database, so a restarted
    # worker (a fresh engine and client) honours it too.
    assert deliver_outbox(session_factory, SlackDelivery(client), NOW + dt.timedelta(seconds=119), CFG).sent == [other]
    engine = make_engine(str(session_factory.kw["bind"].url.render_as_string(hide_password=False)))
    try:
        report = deliver_outbox(make_session_factory(engine), SlackDelivery(_quiet_client(slack_stub)),
                                NOW + dt.timedelta(seconds=120), CFG)
    finally:
        engine.dispose()
    assert report.sent == [row]
    assert sorted(m["text"] for m in slack_stub.posted) == ["another channel", "rate limited",
                                                            "same channel, next in line"]
    assert _state(session_factory)[0][:3] == (row, "sent", 2)
    assert slack_stub.calls_to("conversations.history") == []


def test_500_then_success_backs_off_exponentially(session_factory, slack_stub) -> None:
    row = add_outbox(session_factory, "server error", at=NOW)
    client = _quiet_client(slack_stub)
    slack_stub.fail_next("chat.postMessage", status=500, times=2)
    assert deliver_outbox(session_factory, SlackDelivery(client), NOW, CFG).retrying == [row]
    assert _state(session_factory)[0][1:5] == ("pending", 1, NOW + dt.timedelta(seconds=BASE),
                                               "retryable: internal_error (HTTP 500)")
    t2 = NOW + dt.timedelta(seconds=BASE)
    assert deliver_outbox(session_factory, SlackDelivery(client), t2, CFG).retrying == [row]
    assert _state(session_factory)[0][1:4] == ("pending", 2, t2 + dt.timedelta(seconds=2 * BASE))
    t3 = t2 + dt.timedelta(seconds=2 * BASE)
    assert deliver_outbox(session_factory, SlackDelivery(client), t3, CFG).sent == [row]
    assert [c.status for c in slack_stub.calls_to("chat.postMessage")] == [500, 500, 200]
    assert [m["text"] for m in slack_stub.posted] == ["server error"]
    assert _state(session_factory)[0][1:3] == ("sent", 3)


def test_network_error_is_retried(session_factory) -> None:
    row = add_outbox(session_factory, "no network", at=NOW)
    # Nothing listens on port 9 of localhost: the connection is refused.
    client = make_web_client("xoxb-x", "http://127.0.0.1:9/api/", connection_retries=0, timeout=2)
    report = deliver_outbox(session_factory, SlackDelivery(client), NOW, CFG)
    assert report.retrying == [row]
    (_, status, attempts, next_at, error, _) = _state(session_factory)[0]
    assert (status, attempts, next_at) == ("pending", 1, NOW + dt.timedelta(seconds=BASE))
    assert error.startswith("retryable: URLError")


def test_permanent_error_is_failed_and_the_next_alert_still_goes(session_factory, slack_stub) -> None:
    bad = add_outbox(session_factory, "channel vanished", at=NOW)
    unknown = add_outbox(session_factory, "no such channel", channel="#nope", at=NOW)
    not_member = add_outbox(session_factory, "bot not invited", channel="#no-bot-here", at=NOW)
    good = add_outbox(session_factory, "still delivered", at=NOW)
    slack_stub.fail_next("chat.postMessage", error="channel_not_found")
    report = deliver_outbox(session_factory, SlackDelivery(_quiet_client(slack_stub)), NOW, CFG)
    assert (report.sent, report.retrying, report.failed) == ([good], [], [bad, unknown, not_member])
    state = {r[0]: r for r in _state(session_factory)}
    assert state[bad][1:3] == ("failed", 1) and state[bad][4] == "permanent_channel: channel_not_found"
    assert state[unknown][4].startswith("permanent_channel: channel '#nope' not found")
    assert state[not_member][4] == "permanent_channel: not_in_channel"
    assert [m["text"] for m in slack_stub.posted] == ["still delivered"]
    # Failed rows are never picked up again by themselves.
    later = NOW + dt.timedelta(days=1)
    assert deliver_outbox(session_factory, SlackDelivery(_quiet_client(slack_stub)), later, CFG).failed == []


def test_a_row_that_keeps_failing_gives_up_after_max_attempts(session_factory, slack_stub) -> None:
    cfg = dataclasses.replace(CFG, slack=dataclasses.replace(CFG.slack, delivery_max_attempts=3))
    row = add_outbox(session_factory, "always 503", at=NOW)
    slack_stub.fail_next("chat.postMessage", status=503, error="service_unavailable", times=3)
    client = _quiet_client(slack_stub)
    t = NOW
    for expected in ("pending", "pending", "failed"):
        deliver_outbox(session_factory, SlackDelivery(client), t, cfg)
        assert _state(session_factory)[0][1] == expected
        t += dt.timedelta(hours=2)
    assert _state(session_factory)[0][4] == "gave up after 3 attempts; last: retryable: service_unavailable (HTTP 503)"
    assert slack_stub.posted == [] and row == _state(session_factory)[0][0]


def test_a_row_left_sending_by_a_dead_worker_is_sent_after_its_lease(session_factory, slack_stub) -> None:
    stuck = add_outbox(session_factory, "sender died", at=NOW + sending_lease(CFG), status="sending")
    client = _quiet_client(slack_stub)
    assert deliver_outbox(session_factory, SlackDelivery(client), NOW, CFG).sent == []
    assert deliver_outbox(session_factory, SlackDelivery(client), NOW + sending_lease(CFG), CFG).sent == [stuck]
    assert [m["text"] for m in slack_stub.posted] == ["sender died"]


@pytest.fixture
def history_stub():
    with HistoryStub(clock=NOW) as stub:
        yield stub


def _apps_client(stub):
    """The client `serve` builds: its SDK retries 5xx and connection errors (for reads)."""
    return make_web_client(stub.token, stub.base_url, backoff_factor=0.01)


def test_the_posting_client_keeps_only_the_rate_limit_retries(slack_stub) -> None:
    """The app's client retries 5xx and dropped connections (safe for reads); posts go
    through a copy that only waits out 429s, whatever client the services are handed."""
    client = _apps_client(slack_stub)
    poster = posting_client(client)
    assert [type(h).__name__ for h in client.retry_handlers] == [
        "ConnectionErrorRetryHandler", "RateLimitErrorRetryHandler", "ServerErrorRetryHandler"]
    assert [type(h).__name__ for h in poster.retry_handlers] == ["RateLimitErrorRetryHandler"]
    assert (poster.token, poster.base_url, poster.timeout) == (client.token, client.base_url, client.timeout)
    assert posting_client(poster) is poster
    built = make_web_client(slack_stub.token, slack_stub.base_url, posting=True)
    assert [type(h).__name__ for h in built.retry_handlers] == ["RateLimitErrorRetryHandler"]


def test_an_alert_whose_500_had_posted_is_recorded_as_sent_not_sent_again(session_factory, history_stub) -> None:
    row = add_outbox(session_factory, "posted, then 500", at=NOW)
    history_stub.fail_after_posting(status=500)
    client = _apps_client(history_stub)
    assert deliver_outbox(session_factory, SlackDelivery(client), NOW, CFG).retrying == [row]
    # One request: the SDK did not re-send the 500 by itself. The post is tagged with the row.
    (first,) = history_stub.calls_to("chat.postMessage")
    assert first.status == 500
    assert first.args["metadata"] == {"event_type": ALERT_EVENT_TYPE, "event_payload": {"outbox_id": row}}
    assert _state(session_factory)[0][1:5] == ("pending", 1, NOW + dt.timedelta(seconds=BASE),
                                               "retryable: internal_error (HTTP 500)")
    report = deliver_outbox(session_factory, SlackDelivery(client), NOW + dt.timedelta(seconds=BASE), CFG)
    assert (report.sent, report.retrying, report.failed) == ([row], [], [])
    (posted,) = history_stub.posted
    assert posted["text"] == "posted, then 500"
    assert len(history_stub.calls_to("chat.postMessage")) == 1
    (history,) = history_stub.calls_to("conversations.history")
    assert history.args["channel"] == "C0CUSTSUCC"
    ((_, status, attempts, _, _, ts),) = _state(session_factory)
    assert (status, attempts, ts) == ("sent", 1, posted["ts"])
    assert outbox_rows(session_factory)[0].sent_at == NOW + dt.timedelta(seconds=BASE)


def test_an_alert_whose_500_had_not_posted_is_checked_then_sent_once(session_factory, history_stub) -> None:
    row = add_outbox(session_factory, "500, nothing posted", at=NOW)
    history_stub.fail_next("chat.postMessage", status=500)
    client = _apps_client(history_stub)
    assert deliver_outbox(session_factory, SlackDelivery(client), NOW, CFG).retrying == [row]
    assert deliver_outbox(session_factory, SlackDelivery(client), NOW + dt.timedelta(seconds=BASE), CFG).sent == [row]
    assert [c.status for c in history_stub.calls_to("chat.postMessage")] == [500, 200]
    assert len(history_stub.calls_to("conversations.history")) == 1
    (posted,) = history_stub.posted
    ((_, status, attempts, _, _, ts),) = _state(session_factory)
    assert (status, attempts, ts) == ("sent", 2, posted["ts"])


def test_a_429_alert_is_retried_and_sent_once_without_a_history_check(session_factory, history_stub) -> None:
    row = add_outbox(session_factory, "rate limited", at=NOW)
    history_stub.fail_next("chat.postMessage", status=429, retry_after=30)
    client = _quiet_client(history_stub)
    assert deliver_outbox(session_factory, SlackDelivery(client), NOW, CFG).retrying == [row]
    assert deliver_outbox(session_factory, SlackDelivery(client), NOW + dt.timedelta(seconds=30), CFG).sent == [row]
    assert [c.status for c in history_stub.calls_to("chat.postMessage")] == [429, 200]
    assert history_stub.calls_to("conversations.history") == []
    assert [m["text"] for m in history_stub.posted] == ["rate limited"]


def test_unreadable_history_after_an_ambiguous_failure_waits_instead_of_posting(session_factory, history_stub) -> None:
    row = add_outbox(session_factory, "posted, then 500", at=NOW)
    history_stub.fail_after_posting(status=500)
    client = _quiet_client(history_stub)
    deliver_outbox(session_factory, SlackDelivery(client), NOW, CFG)
    history_stub.fail_next("conversations.history", status=503, error="service_unavailable")
    t2 = NOW + dt.timedelta(seconds=BASE)
    assert deliver_outbox(session_factory, SlackDelivery(client), t2, CFG).retrying == [row]
    assert len(history_stub.calls_to("chat.postMessage")) == 1  # not re-sent blind
    assert _state(session_factory)[0][1:5] == (
        "pending", 2, t2 + dt.timedelta(seconds=2 * BASE),
        "retryable: service_unavailable (HTTP 503) reading the channel history (an earlier send may have posted)")
    # Still unsure, so the next attempt looks again, and finds it.
    t3 = t2 + dt.timedelta(seconds=2 * BASE)
    assert deliver_outbox(session_factory, SlackDelivery(client), t3, CFG).sent == [row]
    assert len(history_stub.calls_to("chat.postMessage")) == 1 and len(history_stub.posted) == 1
    assert _state(session_factory)[0][5] == history_stub.posted[0]["ts"]


def test_a_row_whose_dead_sender_had_posted_is_not_sent_again(session_factory, history_stub) -> None:
    stuck = add_outbox(session_factory, "sender died after posting", at=NOW, status="sending")
    ts = f"{(NOW + dt.timedelta(seconds=2)).timestamp():.6f}"
    history_stub.seed_message("C0CUSTSUCC", ts, "sender died after posting",
                              {"event_type": ALERT_EVENT_TYPE, "event_payload": {"outbox_id": stuck}})
    assert deliver_outbox(session_factory, SlackDelivery(_quiet_client(history_stub)), NOW, CFG).sent == [stuck]
    assert history_stub.calls_to("chat.postMessage") == []
    ((_, status, attempts, _, _, message_ts),) = _state(session_factory)
    assert (status, attempts, message_ts) == ("sent", 0, ts)


def test_concurrent_flushes_send_every_row_exactly_once(session_factory, db_url, slack_stub) -> None:
    ids = [add_outbox(session_factory, f"alert {i}", channel=("#customer-success", "#cs-alerts")[i % 2], at=NOW)
           for i in range(24)]
    engines = [make_engine(db_url) for _ in range(3)]
    barrier = threading.Barrier(3)
    reports: list = [None] * 3

    def run(i: int) -> None:
        factory = make_session_factory(engines[i])
        client = _quiet_client(slack_stub)
        barrier.wait()
        reports[i] = deliver_outbox(factory, SlackDelivery(client), NOW, CFG)

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        for e in engines:
            e.dispose()
    sent = sorted(i for r in reports for i in r.sent)
    assert sent == ids
    assert sorted(m["text"] for m in slack_stub.posted) == sorted(f"alert {i}" for i in range(24))
    assert len(slack_stub.calls_to("chat.postMessage")) == 24
    assert {r[1] for r in _state(session_factory)} == {"sent"}


# --- the command ------------------------------------------------------------------------------


def _env(db_url: str, stub=None) -> dict[str, str | None]:
    return {"DATABASE_URL": db_url, "SAAS_TRACKER_CONFIG": None,
            "SLACK_BOT_TOKEN": stub.token if stub else None, "SLACK_API_URL": stub.base_url if stub else None}


def test_outbox_command_lists_reasons_retries_and_delivers(session_factory, db_url, slack_stub) -> None:
    failed = add_outbox(session_factory, "to a closed channel", channel="#old-cs", at=NOW)
    sent = add_outbox(session_factory, "fine", at=NOW)
    deliver_outbox(session_factory, SlackDelivery(_quiet_client(slack_stub)), NOW, CFG)
    runner = CliRunner()

    listing = runner.invoke(cli, ["outbox", "--status", "failed"], env=_env(db_url))
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[0] == "pending: 0  sending: 0  sent: 1  failed: 1"
    assert lines[1].startswith(f"{failed:>5}  2026-11-02 10:00  alert       #old-cs              failed   attempts 1")
    assert lines[2] == "       reason: permanent_channel: channel '#old-cs' not found: check the name, " \
                       "and invite the bot to a private channel"
    assert len(lines) == 3

    not_failed = runner.invoke(cli, ["outbox", "--retry", str(sent)], env=_env(db_url))
    assert not_failed.exit_code == 1
    assert f"outbox row {sent} is sent, not failed: only failed rows are re-queued" in not_failed.output
    missing = runner.invoke(cli, ["outbox", "--retry", "999"], env=_env(db_url))
    assert missing.exit_code == 1 and "no outbox row 999" in missing.output

    slack_stub.add_channel("C0OLD", "old-cs")  # someone un-archived the channel
    with freeze_time(NOW + dt.timedelta(minutes=1)):
        retry = runner.invoke(cli, ["outbox", "--retry", str(failed)], env=_env(db_url))
        assert retry.exit_code == 0, retry.output
        state = {r[0]: r for r in _state(session_factory)}
        assert state[failed][1:4] == ("pending", 0, NOW + dt.timedelta(minutes=1))
        assert state[sent][1] == "sent"  # nothing else changed
        deliver = runner.invoke(cli, ["outbox", "--deliver"], env=_env(db_url, slack_stub))
    assert deliver.exit_code == 0, deliver.output
    assert deliver.output.strip() == "outbox: 1 sent, 0 to retry, 0 failed"
    assert [m["text"] for m in slack_stub.posted] == ["fine", "to a closed channel"]


@pytest.mark.parametrize("args", [["--status", "lost"], ["--retry", "x"]])
def test_outbox_command_rejects_bad_options(session_factory, db_url, args) -> None:
    result = CliRunner().invoke(cli, ["outbox", *args], env=_env(db_url))
    assert result.exit_code == 2 and "Invalid value" in result.output
