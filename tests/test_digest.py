"""The weekly digest: its numbers, its Block Kit layout within Slack's limits, and posting it
exactly once per channel and week through the local Slack stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
import urllib.parse
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from freezegun import freeze_time
from sqlalchemy import select

from bot.client import make_web_client
from bot.digest_messages import CELL_LIST, digest_message
from bot.limits import MESSAGE_MAX_BLOCKS, MESSAGE_TEXT_BUDGET, block_text_length, validate_message
from delivery_helpers import SEEN, HistoryStub, seed_orgs
from cli import cli
from cli.delivery import BLOCK_KIT_BUILDER_URL
from domain.config import Config
from services.digest import DIGEST_EVENT_TYPE, build_digest, post_weekly_digest
from services.scanning import run_scan
from storage.db import make_engine, make_session_factory
from storage.models import Application, DigestClaim
from bot.delivery import SlackDelivery

UTC = dt.timezone.utc
LONDON = ZoneInfo("Europe/London")
CFG = Config()
SCAN_AT = SEEN + dt.timedelta(days=14)  # Thu 2026-10-15 12:00 UTC
# Monday 2026-10-19 09:00 in London is 08:00 UTC (British Summer Time until 25 October).
MONDAY_0900 = dt.datetime(2026, 10, 19, 8, 0, tzinfo=UTC)
PERIOD = "2026-W43"


def _quiet_client(stub):
    """A client that never retries by itself: each test call is exactly one HTTP request."""
    return make_web_client(stub.token, stub.base_url, rate_limit_retries=0, server_error_retries=0,
                           connection_retries=0)


def _app_id(factory) -> int:
    with factory() as s:
        return s.scalar(select(Application.id).where(Application.name == CFG.application))


def _claims(factory) -> list[DigestClaim]:
    with factory() as s:
        return list(s.scalars(select(DigestClaim).order_by(DigestClaim.id)))


@pytest.fixture
def scanned(session_factory):
    """Three paying orgs silent for 14 days (each gets Revenue at risk and Inactive paying)
    and one free org; initech's subscription starts inside the digest week."""
    seed_orgs(session_factory, {"acme": 50_000, "globex": 20_000, "initech": 5_000, "free": 0},
              names={"acme": "Acme", "globex": "Globex", "initech": "Initech", "free": "Free Co"},
              starts={"initech": dt.date(2026, 10, 13)})
    run_scan(session_factory, CFG, SCAN_AT)
    return session_factory


@pytest.fixture
def history_stub():
    with HistoryStub() as stub:
        yield stub


# --- what the digest holds -------------------------------------------------------------------


def test_digest_numbers_are_exact(scanned) -> None:
    with scanned() as s:
        d = build_digest(s, _app_id(scanned), MONDAY_0900 + dt.timedelta(minutes=5), CFG)
    assert d.period == PERIOD
    assert d.scheduled_for == dt.datetime(2026, 10, 19, 9, 0, tzinfo=LONDON)
    assert (d.week_start, d.week_end) == (dt.date(2026, 10, 12), dt.date(2026, 10, 18))
    c = d.cards
    assert (c.orgs_with_signals, c.mrr_at_risk, c.opened_this_week, c.resolved_this_week) == (3, 75_000.0, 6, 0)
    assert c.net_new_mrr_this_week == 5_000.0  # initech started paying on 13 October
    assert c.scanned_at == SCAN_AT
    assert (d.total_mrr, d.total_arr) == (75_000.0, 900_000.0)
    assert [i.org_id for i in d.items] == ["acme", "globex", "initech"] and d.total == 3
    # MRR split = median of 50k, 20k, 5k = 20k; every health is far below 60.
    assert [(x.key, x.org_count, x.mrr) for x in d.cells] == [
        ("revenue_at_risk", 2, 70_000.0), ("champions", 0, 0.0), ("watch", 1, 5_000.0), ("expansion", 0, 0.0)]
    assert d.unscored == 0 and not d.all_clear


def test_digest_message_layout_buttons_and_footer(scanned) -> None:
    now = MONDAY_0900 + dt.timedelta(minutes=5)
    with scanned() as s:
        message = digest_message(build_digest(s, _app_id(scanned), now, CFG), now, CFG)
    blocks = message["blocks"]
    validate_message(blocks, message["text"])
    assert message["text"] == "Weekly digest 2026-W43: 3 orgs need attention · $75,000 MRR at risk"
    assert blocks[0] == {"type": "header",
                         "text": {"type": "plain_text", "text": "Weekly digest · 2026-W43", "emoji": True}}
    assert blocks[1]["elements"][0]["text"] == "Mon 19 Oct 2026 09:00 BST · this week = 12 Oct – 18 Oct"
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert fields == ["*Orgs with active signals*\n3", "*MRR at risk*\n$75,000", "*New signals this week*\n6",
                      "*Resolved this week*\n0", "*Net new MRR this week*\n$5,000"]
    # The same item layout and buttons as /signals, highest priority first.
    item_ids = [b["block_id"] for b in blocks if b.get("block_id", "").startswith("item|")]
    assert item_ids == ["item|acme", "item|globex", "item|initech"]
    acme_actions = next(b for b in blocks if b.get("block_id") == "item_actions|acme")
    assert [e["action_id"] for e in acme_actions["elements"]] == ["org_open", "case_tag", "signal_dismiss"]
    # Revenue x Health: one section per cell, a list button on the cells that have orgs.
    heading = next(i for i, b in enumerate(blocks)
                   if b.get("text", {}).get("text", "").startswith("*Revenue × Health*"))
    assert blocks[heading]["text"]["text"] == "*Revenue × Health* · MRR $75,000 (ARR $900k)"
    cells = blocks[heading + 1:heading + 5]
    assert [b["text"]["text"] for b in cells] == [
        "*Retention* · 2 orgs · $70,000 MRR", "*Champions* · 0 orgs · $0 MRR",
        "*Watch* · 1 org · $5,000 MRR", "*Expansion* · 0 orgs · $0 MRR"]
    assert [(b.get("accessory") or {}).get("value") for b in cells] == ["revenue_at_risk", None, "watch", None]
    assert {b["accessory"]["action_id"] for b in cells if "accessory" in b} == {CELL_LIST}
    assert blocks[-1] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": "Data scanned Thu 15 Oct 2026 12:00 UTC · SaaS Tracker"}]}
    assert not any("…and" in t["text"] for b in blocks if b["type"] == "context" for t in b["elements"])


def test_orgs_below_the_top_n_are_counted_in_an_and_n_more_line(scanned) -> None:
    cfg = dataclasses.replace(CFG, slack=dataclasses.replace(CFG.slack, digest_top=2))
    with scanned() as s:
        message = digest_message(build_digest(s, _app_id(scanned), MONDAY_0900, cfg), MONDAY_0900, cfg)
    blocks = message["blocks"]
    assert [b["block_id"] for b in blocks if b.get("block_id", "").startswith("item|")] == ["item|acme", "item|globex"]
    more = [i for i, b in enumerate(blocks) if b["type"] == "context" and b["elements"][0]["text"].startswith("…and")]
    assert [blocks[i]["elements"][0]["text"] for i in more] == [
        "…and 1 more — see `/signals top 25` or a filter such as `/signals risk`"]
    assert blocks[more[0] - 1]["block_id"] == "item_actions|globex"  # right after the last item


def test_nothing_active_gives_a_short_all_clear_digest(session_factory) -> None:
    seed_orgs(session_factory, {"free": 0})
    run_scan(session_factory, CFG, SCAN_AT)
    with session_factory() as s:
        d = build_digest(s, _app_id(session_factory), MONDAY_0900, CFG)
    assert d.all_clear and d.items == [] and d.total_mrr is None and d.cards.net_new_mrr_this_week is None
    message = digest_message(d, MONDAY_0900, CFG)
    blocks = message["blocks"]
    assert message["text"] == "Weekly digest 2026-W43: all clear"
    assert [b["text"]["text"] for b in blocks if "All clear" in b.get("text", {}).get("text", "")] == [
        ":white_check_mark: *All clear.* No org has an active signal this week: nothing to work on from SaaS Tracker."]
    assert not any(b.get("block_id", "").startswith("item") for b in blocks)
    assert not any("accessory" in b for b in blocks)  # every cell is empty: nothing to list
    assert len(blocks[2]["fields"]) == 4  # no net new MRR card without subscriptions


def test_extreme_digest_fits_block_kit_limits_and_slack_accepts_it(session_factory, slack_stub) -> None:
    """300 orgs with active signals and 500-character names full of mrkdwn specials."""
    mrr = {f"org{i:03d}": 1_000.0 + 37 * i for i in range(300)}
    names = {o: (f"<!channel> & *{o}* " + "Ω" * 500)[:500] for o in mrr}
    seed_orgs(session_factory, mrr, names=names)
    run_scan(session_factory, CFG, SCAN_AT)
    cfg = dataclasses.replace(CFG, slack=dataclasses.replace(CFG.slack, digest_top=25))
    with session_factory() as s:
        d = build_digest(s, _app_id(session_factory), MONDAY_0900, cfg)
    assert d.total == 300 and len(d.items) == 25
    message = digest_message(d, MONDAY_0900, cfg)
    blocks = message["blocks"]
    validate_message(blocks, message["text"])
    assert len(blocks) <= MESSAGE_MAX_BLOCKS and block_text_length(blocks) <= MESSAGE_TEXT_BUDGET
    shown = [b for b in blocks if b.get("block_id", "").startswith("item|")]
    more = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"] if e["text"].startswith("…and")]
    assert more == [f"…and {300 - len(shown)} more — see `/signals top 25` or a filter such as `/signals risk`"]
    assert 0 < len(shown) <= 25
    texts = json.dumps(blocks)
    assert "<!channel>" not in texts and "&lt;!channel&gt;" in texts
    outcome = post_weekly_digest(session_factory, SlackDelivery(_quiet_client(slack_stub)), cfg, MONDAY_0900, "t")
    assert outcome.status == "posted"
    (call,) = slack_stub.calls_to("chat.postMessage")
    (claim,) = _claims(session_factory)  # the charts were uploaded first, and shown in the post
    assert set(claim.charts) == {"revenue_health_map", "mrr_trend"}
    assert call.ok and call.args["blocks"] == digest_message(d, MONDAY_0900, cfg, images=claim.charts)["blocks"]


# --- exactly once ------------------------------------------------------------------------------


def test_restart_within_grace_posts_once(scanned, slack_stub) -> None:
    client = _quiet_client(slack_stub)
    first = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(hours=3), "worker-1")
    again = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(hours=3, minutes=30),
                               "worker-2")
    assert (first.status, first.period, first.channel) == ("posted", PERIOD, "C0CUSTSUCC")
    assert again.status == "skipped" and again.reason.startswith(f"already posted (ts {first.message_ts}) by worker-1")
    assert len(slack_stub.calls_to("chat.postMessage")) == 1
    assert len(slack_stub.calls_to("conversations.list")) == 1  # the channel id is looked up once
    (claim,) = _claims(scanned)
    assert (claim.period, claim.channel, claim.status, claim.message_ts, claim.claimed_by) == (
        PERIOD, "C0CUSTSUCC", "posted", first.message_ts, "worker-1")
    posted = slack_stub.posted[0]
    assert posted["channel"] == "C0CUSTSUCC" and posted["text"].startswith("Weekly digest 2026-W43")


def test_missed_run_is_posted_up_to_the_grace_and_skipped_after(scanned, slack_stub, caplog) -> None:
    client = _quiet_client(slack_stub)
    grace = dt.timedelta(hours=CFG.slack.digest_grace_hours)
    late = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + grace + dt.timedelta(seconds=1), "w")
    assert late.status == "skipped" and late.period == PERIOD
    assert late.reason == ("scheduled for 2026-10-19 09:00 BST, 12.0 h ago, beyond the grace of 12 h: "
                           "skipping this week's digest")
    assert "beyond the grace" in caplog.text
    assert slack_stub.calls_to("chat.postMessage") == [] and _claims(scanned) == []
    just_in_time = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + grace, "w")
    assert just_in_time.status == "posted" and len(slack_stub.calls_to("chat.postMessage")) == 1


def test_two_processes_post_one_digest(scanned, db_url, slack_stub) -> None:
    """Two 'processes' (own engine, own Slack client) race for the same week."""
    engines = [make_engine(db_url) for _ in range(2)]
    factories = [make_session_factory(e) for e in engines]
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def run(i: int) -> None:
        client = _quiet_client(slack_stub)
        barrier.wait()
        outcomes[i] = post_weekly_digest(factories[i], SlackDelivery(client), CFG,
                                         MONDAY_0900 + dt.timedelta(seconds=i), f"p{i}")

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        for e in engines:
            e.dispose()
    assert sorted(o.status for o in outcomes) == ["posted", "skipped"]
    assert len(slack_stub.calls_to("chat.postMessage")) == 1
    (claim,) = _claims(scanned)
    assert claim.status == "posted"


def test_digest_now_for_an_already_posted_week_does_not_post_again(scanned, db_url, slack_stub) -> None:
    env = {"DATABASE_URL": db_url, "SLACK_BOT_TOKEN": slack_stub.token, "SLACK_API_URL": slack_stub.base_url,
           "SAAS_TRACKER_CONFIG": None}
    runner = CliRunner()
    with freeze_time(MONDAY_0900 + dt.timedelta(hours=30)):  # Tuesday: past the grace, --now still posts
        first = runner.invoke(cli, ["digest", "--now"], env=env)
        second = runner.invoke(cli, ["digest", "--now"], env=env)
    assert first.exit_code == 0, first.output
    ts = slack_stub.posted[0]["ts"]
    assert first.output.strip().endswith(f"digest 2026-W43 posted to #customer-success (ts {ts})")
    assert second.exit_code == 0, second.output
    assert f"digest 2026-W43 not posted again: already posted (ts {ts})" in second.output
    assert len(slack_stub.calls_to("chat.postMessage")) == 1


def test_permanent_failure_is_recorded_and_only_a_forced_run_retries(scanned, slack_stub) -> None:
    client = _quiet_client(slack_stub)
    slack_stub.fail_next("chat.postMessage", error="not_in_channel")
    failed = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900, "w")
    assert (failed.status, failed.reason) == ("failed", "permanent_channel: not_in_channel")
    (claim,) = _claims(scanned)
    assert (claim.status, claim.error, claim.message_ts) == ("failed", "permanent_channel: not_in_channel", None)
    # The next scheduled check leaves it alone (it would fail the same way)…
    skipped = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(minutes=2), "w")
    assert skipped.status == "skipped" and skipped.reason == "failed earlier: permanent_channel: not_in_channel"
    assert len(slack_stub.calls_to("chat.postMessage")) == 1
    # …`digest --now` (a forced period) retries once the bot was invited.
    forced = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(minutes=5), "cli",
                                force_period=PERIOD)
    assert forced.status == "posted"
    (claim,) = _claims(scanned)
    assert (claim.status, claim.claimed_by, claim.error) == ("posted", "cli", None)


def test_retryable_failures_back_off_in_process_then_the_next_run_posts(scanned, slack_stub) -> None:
    client = _quiet_client(slack_stub)
    sleeps: list[float] = []
    slack_stub.fail_next("chat.postMessage", status=500, times=3)
    out = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900, "w1", sleep=sleeps.append)
    assert (out.status, out.reason) == ("failed", "retryable: internal_error (HTTP 500)")
    assert sleeps == [5.0, 10.0]  # digest_retry_seconds × 2^(attempt − 1), between 3 attempts
    (claim,) = _claims(scanned)
    assert (claim.status, claim.error) == ("retry", "retryable: internal_error (HTTP 500)")
    # The periodic check (another process) takes the claim over and posts.
    again = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(minutes=2), "w2",
                               sleep=sleeps.append)
    assert again.status == "posted"
    assert [c.status for c in slack_stub.calls_to("chat.postMessage")] == [500, 500, 500, 200]
    (claim,) = _claims(scanned)
    assert (claim.status, claim.claimed_by) == ("posted", "w2")


def test_rate_limit_waits_retry_after_then_posts(scanned, slack_stub) -> None:
    sleeps: list[float] = []
    slack_stub.fail_next("chat.postMessage", status=429, retry_after=7)
    out = post_weekly_digest(scanned, SlackDelivery(_quiet_client(slack_stub)), CFG, MONDAY_0900, "w",
                             sleep=sleeps.append)
    assert out.status == "posted" and sleeps == [7.0]
    assert [c.status for c in slack_stub.calls_to("chat.postMessage")] == [429, 200]


def _claim_by_dead_process(factory, at: dt.datetime) -> None:
    with factory() as s, s.begin():
        s.add(DigestClaim(application_id=_app_id(factory), channel="C0CUSTSUCC", period=PERIOD, claimed_at=at,
                          claimed_by="dead-host:123", status="claimed"))


def test_a_claim_left_by_a_crashed_poster_is_taken_over_after_the_stale_window(scanned, history_stub) -> None:
    client = _quiet_client(history_stub)
    _claim_by_dead_process(scanned, MONDAY_0900)
    fresh = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(minutes=14), "w")
    assert fresh.status == "skipped" and fresh.reason == "being posted by dead-host:123 since 2026-10-19 08:00:00 UTC"
    assert history_stub.calls_to("chat.postMessage") == []
    stale = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(minutes=16), "w")
    assert stale.status == "posted"
    # It looked for the dead process's post first (none), then posted with recognisable metadata.
    (history,) = history_stub.calls_to("conversations.history")
    assert history.args["channel"] == "C0CUSTSUCC"
    (post,) = history_stub.calls_to("chat.postMessage")
    assert post.args["metadata"] == {"event_type": DIGEST_EVENT_TYPE,
                                     "event_payload": {"application": "default", "period": PERIOD}}
    (claim,) = _claims(scanned)
    assert (claim.status, claim.claimed_by) == ("posted", "w")


def test_a_takeover_finds_the_digest_a_crashed_poster_already_posted(scanned, history_stub) -> None:
    client = _quiet_client(history_stub)
    _claim_by_dead_process(scanned, MONDAY_0900)
    ts = f"{(MONDAY_0900 + dt.timedelta(seconds=3)).timestamp():.6f}"
    history_stub.seed_message("C0CUSTSUCC", ts, "Weekly digest 2026-W43", {
        "event_type": DIGEST_EVENT_TYPE, "event_payload": {"application": "default", "period": PERIOD}})
    out = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(minutes=20), "w")
    assert out.status == "skipped" and out.message_ts == ts
    assert out.reason == f"found in the channel already (ts {ts}): recorded, not posted again"
    assert history_stub.calls_to("chat.postMessage") == []
    (claim,) = _claims(scanned)
    assert (claim.status, claim.message_ts) == ("posted", ts)


def _apps_client(stub):
    """The client `serve` and the CLI build: its SDK retries 5xx and connection errors (for
    reads); the digest must post through it without those silent re-sends."""
    return make_web_client(stub.token, stub.base_url, backoff_factor=0.01)


def test_a_500_after_the_digest_was_posted_records_it_and_does_not_post_again(scanned, history_stub) -> None:
    history_stub.clock = MONDAY_0900
    history_stub.fail_after_posting(status=500)
    sleeps: list[float] = []
    out = post_weekly_digest(scanned, SlackDelivery(_apps_client(history_stub)), CFG, MONDAY_0900, "w",
                             sleep=sleeps.append)
    (posted,) = history_stub.posted  # the message is in the channel once
    ts = posted["ts"]
    # One chat.postMessage (no silent SDK re-send of the 500), then the history check.
    assert [c.status for c in history_stub.calls_to("chat.postMessage")] == [500]
    (history,) = history_stub.calls_to("conversations.history")
    assert history.args["channel"] == "C0CUSTSUCC"
    assert sleeps == [5.0]
    assert (out.status, out.message_ts) == ("posted", ts)
    assert out.reason == (f"posted (ts {ts}): the attempt that failed with internal_error (HTTP 500) "
                          "had gone through; not posted again")
    (claim,) = _claims(scanned)
    assert (claim.status, claim.message_ts, claim.error) == ("posted", ts, None)
    # The next periodic check leaves the week alone.
    again = post_weekly_digest(scanned, SlackDelivery(_apps_client(history_stub)), CFG,
                               MONDAY_0900 + dt.timedelta(minutes=5), "w2")
    assert again.status == "skipped" and len(history_stub.calls_to("chat.postMessage")) == 1


def test_a_500_that_did_not_post_is_checked_then_posted_once(scanned, history_stub) -> None:
    history_stub.clock = MONDAY_0900
    history_stub.fail_next("chat.postMessage", status=500)
    sleeps: list[float] = []
    out = post_weekly_digest(scanned, SlackDelivery(_apps_client(history_stub)), CFG, MONDAY_0900, "w",
                             sleep=sleeps.append)
    assert [c.status for c in history_stub.calls_to("chat.postMessage")] == [500, 200]
    assert len(history_stub.calls_to("conversations.history")) == 1  # looked (nothing), then posted
    (posted,) = history_stub.posted
    assert (out.status, out.reason, out.message_ts) == ("posted", "posted", posted["ts"])
    assert sleeps == [5.0]
    (claim,) = _claims(scanned)
    assert (claim.status, claim.message_ts) == ("posted", posted["ts"])


def test_a_429_is_retried_without_a_history_check_and_posted_once(scanned, history_stub) -> None:
    """A 429 is Slack saying nothing was posted: the app's client waits Retry-After itself."""
    history_stub.clock = MONDAY_0900
    history_stub.fail_next("chat.postMessage", status=429, retry_after=1)
    out = post_weekly_digest(scanned, SlackDelivery(_apps_client(history_stub)), CFG, MONDAY_0900, "w", sleep=[].append)
    assert [c.status for c in history_stub.calls_to("chat.postMessage")] == [429, 200]
    assert history_stub.calls_to("conversations.history") == []
    (posted,) = history_stub.posted
    assert (out.status, out.message_ts) == ("posted", posted["ts"])


def test_history_unreadable_after_an_ambiguous_failure_posts_nothing_until_it_can_tell(scanned, history_stub) -> None:
    """A 500 that posted, then history itself answering 500 twice: no second copy; the claim
    waits for the next run, which finds the message."""
    history_stub.clock = MONDAY_0900
    history_stub.fail_after_posting(status=500)
    history_stub.fail_next("conversations.history", status=500, times=2)
    out = post_weekly_digest(scanned, SlackDelivery(_quiet_client(history_stub)), CFG, MONDAY_0900, "w",
                             sleep=[].append)
    assert (out.status, out.reason) == ("failed", "retryable: internal_error (HTTP 500) reading the channel history")
    assert len(history_stub.calls_to("chat.postMessage")) == 1 and len(history_stub.posted) == 1
    (claim,) = _claims(scanned)
    assert claim.status == "retry"
    later = post_weekly_digest(scanned, SlackDelivery(_quiet_client(history_stub)), CFG,
                               MONDAY_0900 + dt.timedelta(minutes=2), "w2")
    ts = history_stub.posted[0]["ts"]
    assert (later.status, later.message_ts) == ("skipped", ts)
    assert len(history_stub.calls_to("chat.postMessage")) == 1
    (claim,) = _claims(scanned)
    assert (claim.status, claim.message_ts) == ("posted", ts)


def test_unknown_channel_fails_clearly_without_a_claim(scanned, slack_stub) -> None:
    cfg = dataclasses.replace(CFG, slack=dataclasses.replace(CFG.slack, digest_channel="#nowhere"))
    out = post_weekly_digest(scanned, SlackDelivery(_quiet_client(slack_stub)), cfg, MONDAY_0900, "w")
    assert out.status == "failed" and out.reason.startswith("channel '#nowhere' not found")
    assert _claims(scanned) == [] and slack_stub.calls_to("chat.postMessage") == []


# --- the command -------------------------------------------------------------------------------


def _env(db_url: str) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "SAAS_TRACKER_CONFIG": None, "SLACK_BOT_TOKEN": None, "SLACK_API_URL": None}


def test_dry_run_prints_block_kit_json_and_a_builder_link(scanned, db_url) -> None:
    result = CliRunner().invoke(cli, ["digest", "--dry-run", "--as-of", "2026-10-19T08:05:00Z"], env=_env(db_url))
    assert result.exit_code == 0, result.output
    body, _, rest = result.output.partition("\nPreview in Block Kit Builder:\n")
    message = json.loads(body)
    link = rest.strip()
    assert message["blocks"][0]["text"]["text"] == "Weekly digest · 2026-W43"
    assert link.startswith(BLOCK_KIT_BUILDER_URL)
    assert json.loads(urllib.parse.unquote(link[len(BLOCK_KIT_BUILDER_URL):])) == {"blocks": message["blocks"]}


def test_dry_run_text_renders_cards_items_and_cells(scanned, db_url) -> None:
    result = CliRunner().invoke(cli, ["digest", "--dry-run", "--text", "--as-of", "2026-10-19T08:05:00Z"],
                                env=_env(db_url))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Weekly digest 2026-W43 (12 Oct – 18 Oct 2026)"
    assert lines[2].startswith("Orgs with active signals: 3   MRR at risk: $75,000   New this week: 6")
    assert lines[3] == "MRR: $75,000   Net new MRR this week: $5,000"
    assert lines[5] == "Top 3 of 3 orgs with active signals"
    assert [line.split()[2] for line in lines if line[:3].strip() in ("1", "2", "3") and "why" not in line] == [
        "Acme", "Globex", "Initech"]
    cells = lines.index("Revenue x Health")
    assert lines[cells:cells + 5] == ["Revenue x Health", "  Retention            2 orgs    $70,000 MRR",
                                      "  Champions            0 orgs         $0 MRR",
                                      "  Watch                1 org      $5,000 MRR",
                                      "  Expansion            0 orgs         $0 MRR"]
    # Then the MRR by month and the accounts whose review is due (none was ever reviewed).
    assert lines[cells + 6].startswith("MRR by month: Nov 25 $0  Dec 25 $0  Jan 26 $70,000")
    assert lines[cells + 6].endswith("Oct 26 $75,000")
    assert lines[cells + 8] == "Reviews due (3 accounts with no note or case tag within their tier's interval)"


def test_digest_command_refuses_bad_input_and_changes_nothing(session_factory, db_url) -> None:
    runner = CliRunner()
    neither = runner.invoke(cli, ["digest"], env=_env(db_url))
    assert neither.exit_code == 2 and "choose one of --dry-run (preview) or --now (post)" in neither.output
    bad_period = runner.invoke(cli, ["digest", "--now", "--period", "2026-W60"], env=_env(db_url))
    assert bad_period.exit_code == 2 and "'2026-W60' is not an ISO week such as 2026-W48" in bad_period.output
    no_token = runner.invoke(cli, ["digest", "--now"], env=_env(db_url))
    assert no_token.exit_code == 1 and "SLACK_BOT_TOKEN is not set" in no_token.output
    no_data = runner.invoke(cli, ["digest", "--dry-run"], env=_env(db_url))
    assert no_data.exit_code == 1 and "application 'default' has no data yet" in no_data.output
    assert _claims(session_factory) == []


def test_the_periodic_check_skips_a_late_week_quietly(scanned, slack_stub, caplog) -> None:
    client = _quiet_client(slack_stub)
    caplog.set_level(logging.DEBUG, logger="services.digest")
    for minutes in (0, 2, 4):
        post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(hours=13, minutes=minutes),
                           "w", quiet=True)
    late = [r for r in caplog.records if "beyond the grace" in r.getMessage()]
    assert [r.levelno for r in late] == [logging.DEBUG] * 3
    post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(hours=13, minutes=6), "w")
    late = [r for r in caplog.records if "beyond the grace" in r.getMessage()]
    assert [r.levelno for r in late] == [logging.DEBUG] * 3 + [logging.WARNING]
    assert slack_stub.calls_to("chat.postMessage") == []
