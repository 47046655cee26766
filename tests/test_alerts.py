"""Real-time alerts: the real scan opens signals, enqueue_alerts writes the outbox in the
scan's transaction, and delivery posts them to the Slack stand-in. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from freezegun import freeze_time

from bot.client import make_web_client
from bot.limits import MESSAGE_MAX_BLOCKS, validate_message
from delivery_helpers import SEEN, outbox_rows, seed_orgs
from usage_rows import add_event
from services import actions
from services.alerts import alerts_hook, enqueue_alerts
from domain.config import Config, PriorityConfig
from services.outbox import deliver_outbox
from services.scanning import run_scan
from storage.models import Signal
from bot.delivery import BlockKitMessages, SlackDelivery

UTC = dt.timezone.utc
# A fixed revenue reference ($5,000): these tests are about who gets alerted and how, on a few
# orgs that are all big; measured against their own 90th percentile most would not be.
CFG = Config(priority=PriorityConfig(revenue_half_mrr=5000.0))
WALL = dt.datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # when the scans run (freezegun)


def at(days: int) -> dt.datetime:
    return SEEN + dt.timedelta(days=days)


def _cfg(**slack) -> Config:
    return dataclasses.replace(CFG, slack=dataclasses.replace(CFG.slack, **slack))


def _client(stub):
    return make_web_client(stub.token, stub.base_url, rate_limit_retries=0, server_error_retries=0)


def _scan(factory, cfg: Config, when: dt.datetime):
    with freeze_time(WALL):
        return run_scan(factory, cfg, when, after_signals=alerts_hook(BlockKitMessages()))


def test_a_scan_opening_twelve_high_priority_signals_posts_one_grouped_message(session_factory, slack_stub) -> None:
    mrr = {f"org{i:02d}": 20_000.0 * (i + 1) for i in range(12)}
    seed_orgs(session_factory, mrr)
    # Day 13 of silence: every org opens "Revenue at risk" (priority ≥ 80 from $20k MRR up), nothing else.
    result = _scan(session_factory, CFG, at(13))
    assert result.opened == 12
    (row,) = outbox_rows(session_factory)
    assert (row.kind, row.channel, row.status) == ("alert_group", "#customer-success", "pending")
    assert (row.created_at, row.next_attempt_at) == (WALL, at(13))  # due from the scan's time
    assert row.payload["text"] == "12 orgs with new high-priority signals ($1.6M MRR)"
    report = deliver_outbox(session_factory, SlackDelivery(_client(slack_stub)), WALL, CFG)
    assert report.sent == [row.id]
    (posted,) = slack_stub.posted
    blocks = posted["blocks"]
    assert posted["channel"] == "C0CUSTSUCC"
    assert blocks[0]["text"]["text"] == "12 orgs with new high-priority signals"
    items = [b["block_id"] for b in blocks if b.get("block_id", "").startswith("item|")]
    # Highest priority (most MRR) first, cut with "…and N more" to fit the message.
    assert items == [f"item|org{i:02d}" for i in range(11, 11 - len(items), -1)]
    more = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"] if e["text"].startswith("…and")]
    assert more == ([f"…and {12 - len(items)} more — see `/signals` for the full list"] if len(items) < 12 else [])
    validate_message(blocks, posted["text"])
    assert len(blocks) <= MESSAGE_MAX_BLOCKS


def test_few_alerts_are_one_message_per_org_to_the_alerts_channel(session_factory, slack_stub) -> None:
    seed_orgs(session_factory, {"acme": 50_000, "globex": 20_000, "tiny": 300, "free": 0},
              names={"acme": "Acme", "globex": "Globex", "tiny": "Tiny", "free": "Free"})
    cfg = _cfg(alerts_channel="#cs-alerts", alert_mrr_floor=1_000)
    result = _scan(session_factory, cfg, at(13))
    with session_factory() as s:
        prio = {sig.org_id: sig.priority for sig in s.query(Signal).filter(Signal.id.in_(result.opened_ids))}
    assert set(prio) == {"acme", "globex", "tiny"} and min(prio["acme"], prio["globex"]) >= 80
    rows = outbox_rows(session_factory)
    # Tiny is below the MRR floor; the free org has no revenue signal at all.
    assert [(r.kind, r.channel) for r in rows] == [("alert", "#cs-alerts")] * 2
    assert [r.payload["text"] for r in rows] == [
        f"New high-priority signal: Acme — Revenue at risk (priority {prio['acme']:.0f}), MRR $50,000",
        f"New high-priority signal: Globex — Revenue at risk (priority {prio['globex']:.0f}), MRR $20,000"]
    deliver_outbox(session_factory, SlackDelivery(_client(slack_stub)), WALL, cfg)
    assert [(m["channel"], m["blocks"][0]["text"]["text"]) for m in slack_stub.posted] == [
        ("C0ALERTS", "New high-priority signal: Acme"), ("C0ALERTS", "New high-priority signal: Globex")]
    acme = slack_stub.posted[0]["blocks"]
    assert [b.get("block_id") for b in acme[1:3]] == ["item|acme", "item_actions|acme"]
    assert acme[-1]["elements"][0]["text"] == (
        "Opened by the scan of 2026-10-14 12:00 UTC · alerts at priority 80 and above, once per episode")


def test_below_threshold_nothing_is_queued(session_factory) -> None:
    seed_orgs(session_factory, {"acme": 50_000})
    result = _scan(session_factory, _cfg(alert_priority_threshold=99.5), at(13))
    assert result.opened == 1 and outbox_rows(session_factory) == []


def test_exactly_alert_group_over_orgs_are_still_separate_messages(session_factory) -> None:
    seed_orgs(session_factory, {f"o{i}": 40_000.0 for i in range(5)})
    _scan(session_factory, CFG, at(13))  # alert_group_over = 5: grouped only when more than 5
    assert [r.kind for r in outbox_rows(session_factory)] == ["alert"] * 5


def test_a_dismissed_signal_never_alerts_again_in_its_episode(session_factory) -> None:
    """Threshold 50 so that "Inactive paying" (priority ~55) alerts too."""
    cfg = _cfg(alert_priority_threshold=50)
    seed_orgs(session_factory, {"big": 50_000}, names={"big": "Big"})

    def texts() -> list[str]:
        return [r.payload["text"].split(" (priority")[0] for r in outbox_rows(session_factory)]

    _scan(session_factory, cfg, at(13))  # health collapses: Revenue at risk opens
    assert texts() == ["New high-priority signal: Big — Revenue at risk"]
    _scan(session_factory, cfg, at(14))  # 14 days silent: Inactive paying opens
    assert texts()[1:] == ["New high-priority signal: Big — Inactive paying"]
    with session_factory() as s, s.begin():
        actions.dismiss_signals(s, actions.open_signal_ids(s, "big", None), "U0ANA", at(14))
    for day in (15, 16):  # both conditions still hold: the dismissed episodes stay quiet
        result = _scan(session_factory, cfg, at(day))
        assert result.opened_ids == []
    assert len(texts()) == 2
    with session_factory() as s, s.begin():
        add_event(s, "big", at(17))  # seen again: Inactive paying resolves
    _scan(session_factory, cfg, at(17))
    _scan(session_factory, cfg, at(24))
    assert len(texts()) == 2
    result = _scan(session_factory, cfg, at(31))  # silent 14 days again: a new episode
    assert len(result.opened_ids) == 1
    assert texts() == ["New high-priority signal: Big — Revenue at risk",
                       "New high-priority signal: Big — Inactive paying",
                       "New high-priority signal: Big — Inactive paying"]
    with session_factory() as s:
        statuses = sorted((sig.type, sig.status) for sig in s.query(Signal))
    # Revenue at risk never cleared: still its first, dismissed episode, never alerted again.
    assert statuses == [("inactive_paying", "active"), ("inactive_paying", "resolved"),
                        ("revenue_at_risk", "dismissed")]


def test_alerts_are_written_in_the_scans_transaction(session_factory) -> None:
    seed_orgs(session_factory, {"acme": 50_000})

    def enqueue_then_fail(session, result, cfg):
        assert enqueue_alerts(session, result, cfg, BlockKitMessages()) != []
        raise RuntimeError("the scan fails after queueing alerts")

    with freeze_time(WALL), pytest.raises(RuntimeError):
        run_scan(session_factory, CFG, at(13), after_signals=enqueue_then_fail)
    assert outbox_rows(session_factory) == []
    with session_factory() as s:
        assert s.query(Signal).count() == 0
