"""Bolt middleware (``app.use``) that every request passes after Bolt's own checks (TLS
probe, signature and timestamp, token), before any listener runs:

1. ``take_request`` — stamps when the request was taken (for ``bot.metrics``) and parses
   it once into the typed request of ``bot.requests``, put into Bolt's context as
   ``slack_request``; a signed payload that can't be read is refused with 400.
2. ``refuse_replays`` — a signed request is good for five minutes, so a captured one could
   be sent again inside that window and, say, put back a case tag a colleague has changed
   since. The first time a request is seen, the hash of what its signature signs is stored
   in the database (shared by every replica); the second time it is refused with 401.
   (An Events API callback is answered 200 instead, so Slack does not send it yet again.)
3. ``skip_event_retries`` — Slack retries an event it thinks we missed; its event id is
   remembered the same way and a retry is acknowledged without running anything again.

These are the only database calls before the acknowledgement: each one decides what the
answer is. Everything else waits for the lazy listener (``bot.listeners``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse

from bot.metrics import Metrics
from bot.requests import EventRequest, MalformedRequest, parse_request
from services.tracker import Tracker

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "x-slack-request-timestamp"
REPLAYED = "replayed"
MALFORMED = "malformed"


def request_key(timestamp: str, raw_body: str) -> str:
    """The hex SHA-256 of "v0:{timestamp}:{body}": what Slack's signature signs, so two
    requests share a key exactly when they carry the same valid signature."""
    return hashlib.sha256(f"v0:{timestamp}:".encode() + raw_body.encode("utf-8")).hexdigest()


class RequestGate:
    def __init__(self, tracker: Tracker, metrics: Metrics) -> None:
        self.tracker = tracker
        self.metrics = metrics

    def register(self, app: Any) -> None:
        app.use(self.take_request)
        app.use(self.refuse_replays)
        app.use(self.skip_event_retries)

    def take_request(self, body: dict[str, Any], context: BoltContext, next_: Callable[[], Any]) -> Any:
        context["received_at"] = time.perf_counter()
        try:
            parsed = parse_request(body)
        except MalformedRequest as exc:
            self.metrics.refused(MALFORMED)
            log.warning("malformed Slack request refused: %s", exc)
            return BoltResponse(status=400, body={"error": f"malformed request: {exc}"})
        if parsed is not None:
            context["slack_request"] = parsed
        return next_()

    def refuse_replays(self, req: BoltRequest, context: BoltContext, next_: Callable[[], Any]) -> Any:
        if req.mode != "http":  # Socket Mode: Slack's own authenticated connection, no signature
            return next_()
        timestamp = req.headers.get(TIMESTAMP_HEADER, [""])[0]
        # Bolt's signature check has passed, so the timestamp is a number within 5 minutes.
        sent_at = dt.datetime.fromtimestamp(int(timestamp), dt.timezone.utc)
        if self.tracker.first_request_seen(request_key(timestamp, req.raw_body), sent_at):
            return next_()
        self.metrics.refused(REPLAYED)
        taken = context.get("slack_request")
        log.warning("replayed Slack request refused (%s, sent %s)",
                    taken.endpoint if taken is not None else "unknown", sent_at.isoformat())
        if isinstance(taken, EventRequest):
            return BoltResponse(status=200, body="")
        return BoltResponse(status=401, body={"error": "request already received"})

    def skip_event_retries(self, context: BoltContext, next_: Callable[[], Any]) -> Any:
        event = context.get("slack_request")
        if isinstance(event, EventRequest) and event.event_id:
            if not self.tracker.first_time_seen(event.event_id, self.tracker.now()):
                log.info("event %s already handled; Slack retry acknowledged and skipped", event.event_id)
                return BoltResponse(status=200, body="")
        return next_()
