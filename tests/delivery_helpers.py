"""Shared by the digest, alert, outbox and scheduler tests: hand-made orgs the real scan
turns into signals, and a Slack stand-in that also keeps message metadata, answers
conversations.history (what a digest takeover or a retry reads to avoid posting twice) and
can fail a chat.postMessage *after* posting it (a 5xx or timeout Slack had already acted on)."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from slack_stub import Failure, SlackStub
from storage.db import get_or_create_application
from storage.models import Org, Outbox, Subscription
from usage_rows import add_event

UTC = dt.timezone.utc
# Orgs are created long before and last seen on SEEN: the real scan opens "Revenue at risk"
# (health far below 40) for every paying org 13 days later, and "Inactive paying" after 14.
SEEN = dt.datetime(2026, 10, 1, 12, tzinfo=UTC)


def seed_orgs(factory: sessionmaker[Session], mrr: dict[str, float], *, names: dict[str, str] | None = None,
              seen: dt.datetime = SEEN, starts: dict[str, dt.date] | None = None) -> None:
    """One org per key, paying `mrr[org]` from `starts[org]` (default 2026-01-01), with one
    event on `seen`; an MRR of 0 means no subscription (a free org)."""
    names = names or {}
    starts = starts or {}
    with factory() as s, s.begin():
        app = get_or_create_application(s)
        for org_id in mrr:
            s.add(Org(org_id=org_id, application_id=app.id, name=names.get(org_id, org_id.title() + " Co"),
                      seats=5, created_at=seen - dt.timedelta(days=200)))
        s.flush()
        for org_id, amount in mrr.items():
            if amount:
                s.add(Subscription(subscription_id=f"sub-{org_id}", org_id=org_id, mrr=amount,
                                   started_at=starts.get(org_id, dt.date(2026, 1, 1))))
            add_event(s, org_id, seen)


def outbox_rows(factory: sessionmaker[Session]) -> list[Outbox]:
    with factory() as s:
        return list(s.scalars(select(Outbox).order_by(Outbox.id)).all())


def add_outbox(factory: sessionmaker[Session], text: str, *, channel: str = "#customer-success",
               at: dt.datetime, status: str = "pending", attempts: int = 0) -> int:
    """A queued message like enqueue_alerts writes (a section with the text)."""
    with factory() as s, s.begin():
        app = get_or_create_application(s)
        row = Outbox(application_id=app.id, kind="alert", channel=channel, status=status, attempts=attempts,
                     payload={"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]},
                     next_attempt_at=at, created_at=at)
        s.add(row)
        s.flush()
        return row.id


@dataclass
class _PostedAnyway(Failure):
    """A scripted failure whose request still took effect."""


class HistoryStub(SlackStub):
    """The stand-in plus message metadata and conversations.history, as Slack has them.

    `clock` (settable) is the Slack server's time: messages get a ts from it, as Slack's
    do, so a history search "since" a test's logical time finds them. None keeps the base
    stand-in's ts counter (from 2023)."""

    def __init__(self, *args: Any, clock: dt.datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock
        self._taken = threading.local()  # the failure scripted for the request this thread serves

    def fail_after_posting(self, *, status: int = 500, error: str | None = None, times: int = 1) -> None:
        """The next `times` chat.postMessage calls post the message, then answer with an error
        anyway (HTTP `status`, error defaults to internal_error): what makes a blind retry
        post twice."""
        failure = _PostedAnyway(error=error or "internal_error", status=status, retry_after=None, body=None, delay=0.0)
        with self._lock:
            for _ in range(times):
                self._failures["chat.postMessage"].append(failure)

    def _take_failure(self, method: str) -> Failure | None:
        failure = super()._take_failure(method)
        self._taken.failure = failure
        return failure

    def _record(self, call: Any) -> None:
        failure, self._taken.failure = getattr(self._taken, "failure", None), None
        if isinstance(failure, _PostedAnyway):  # recorded before the error is answered
            self.handle_api(call.method, dict(call.args), call.token)
        super()._record(call)

    def _next_ts(self) -> str:
        if self.clock is None:
            return super()._next_ts()
        return f"{int(self.clock.timestamp())}.{next(self._ts):06d}"

    def _api_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        result = super()._api_chat_postMessage(args)
        if result.get("ok") and args.get("metadata"):
            with self._lock:
                self.messages[(result["channel"], result["ts"])]["metadata"] = args["metadata"]
        return result

    def _api_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel"))
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(args.get("oldest") or 0)
        with self._lock:
            found = [dict(m) for (ch, ts), m in self.messages.items() if ch == channel and float(ts) >= oldest]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        if str(args.get("include_all_metadata", "")).lower() not in ("true", "1"):
            for m in found:
                m.pop("metadata", None)
        return {"ok": True, "messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def seed_message(self, channel: str, ts: str, text: str, metadata: dict[str, Any] | None = None) -> None:
        """A message already in the channel (e.g. posted by a process that then crashed)."""
        with self._lock:
            self.messages[(channel, ts)] = {"type": "message", "channel": channel, "ts": ts, "text": text,
                                            "blocks": [], "bot_id": "B0BOT", "metadata": metadata}
