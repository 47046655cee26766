"""Real-time alerts: which newly opened signals deserve a message, written to the outbox.

``enqueue_alerts`` is run_scan's ``after_signals`` hook, so the outbox rows commit or roll
back with the scan that opened the signals: a scan that fails alerts nobody, and a scan
that commits cannot lose its alerts (``outbox.deliver_outbox`` sends them later,
retrying across restarts).

Once per episode: only ids the scan has just *opened* qualify. A signal that stays open is
updated, not opened, so it never alerts twice; a dismissed one stays open (dismissed)
while its condition holds, so it cannot alert again until the condition clears and a new
episode (a new signal id) opens.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from domain.clock import utc_now
from domain.config import Config
from services import signal_list
from services.ports import MessageBuilder
from services.read_models import OrgItem
from services.scanning import AfterSignals, ScanResult
from storage import outbox, signals

log = logging.getLogger(__name__)

KIND_ALERT = "alert"  # one org
KIND_ALERT_GROUP = "alert_group"  # many orgs in one message


def alerts_channel(cfg: Config) -> str:
    return cfg.slack.alerts_channel or cfg.slack.digest_channel


def alert_items(session: Session, result: ScanResult, cfg: Config) -> list[OrgItem]:
    """Orgs to alert about, highest priority first, each with only its qualifying new signals."""
    if not result.opened_ids:
        return []
    ids = signals.ids_with_priority_at_least(session, result.opened_ids, cfg.slack.alert_priority_threshold)
    if not ids:
        return []
    items = signal_list.items_for_signals(session, result.application_id, sorted(ids), result.as_of, cfg)
    return [item for item in items if item.mrr >= cfg.slack.alert_mrr_floor]


def alerts_hook(messages: MessageBuilder) -> AfterSignals:
    """run_scan's ``after_signals`` hook that queues this scan's alerts, laid out by ``messages``."""

    def hook(session: Session, result: ScanResult, cfg: Config) -> None:
        enqueue_alerts(session, result, cfg, messages)

    return hook


def enqueue_alerts(session: Session, result: ScanResult, cfg: Config, messages: MessageBuilder) -> list[int]:
    """Write this scan's alerts to the outbox, in the scan's transaction; returns the row ids.

    More than ``slack.alert_group_over`` orgs at once become one grouped message (a scan
    that opens many signals must not flood the channel); otherwise one message per org.
    """
    items = alert_items(session, result, cfg)
    if not items:
        return []
    now = result.as_of
    channel = alerts_channel(cfg)
    if len(items) > cfg.slack.alert_group_over:
        built = [(KIND_ALERT_GROUP, messages.grouped_alert(items, now, cfg))]
    else:
        built = [(KIND_ALERT, messages.alert(item, now, cfg)) for item in items]
    created = utc_now()
    # Due at once: from the scan's as-of time (or now, for a scan dated in the future), so a
    # flush with any clock at or after the scan picks them up.
    due = min(result.as_of, created)
    ids = outbox.add_rows(session, [
        {"application_id": result.application_id, "kind": kind, "channel": channel, "payload": message,
         "status": outbox.PENDING, "attempts": 0, "next_attempt_at": due, "created_at": created}
        for kind, message in built
    ])
    log.info("scan %s: %d orgs with new high-priority signals, %d alert message(s) queued for %s",
             result.run_id, len(items), len(ids), channel)
    return ids
