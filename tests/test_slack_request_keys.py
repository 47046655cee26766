"""Request keys for replay protection: claimed once across threads and processes, in
batches, and forgotten once no request could carry them past the timestamp check."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from domain.config import Config
from services.tracker import RequestKeyClaims, Tracker
from storage import slack_request_keys
from storage.models import SlackRequestKey

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)


def _keys(session_factory) -> set[str]:
    with session_factory() as s:
        return set(s.scalars(select(SlackRequestKey.key)))


def test_a_key_is_first_seen_once(session_factory) -> None:
    tracker = Tracker(session_factory, Config())
    assert tracker.first_request_seen("a" * 64, T0) is True
    assert tracker.first_request_seen("a" * 64, T0) is False
    assert Tracker(session_factory, Config()).first_request_seen("a" * 64, T0) is False  # another replica
    assert tracker.first_request_seen("b" * 64, T0) is True


def test_many_threads_at_once_each_key_wins_exactly_once(session_factory) -> None:
    claims = RequestKeyClaims(session_factory)
    start = threading.Barrier(40)

    def claim(i: int) -> tuple[str, bool]:
        start.wait()
        key = f"key-{i % 20}"
        return key, claims.claim(key, T0)

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(claim, range(40)))
    winners = sorted(key for key, first in results if first)
    assert winners == sorted(f"key-{n}" for n in range(20))
    assert _keys(session_factory) == set(winners)


def test_claim_many_records_each_key_once(session) -> None:
    recorded = slack_request_keys.claim_many(session, [("k1", T0), ("k2", T0), ("k1", T0)])
    assert recorded == {"k1", "k2"}
    assert slack_request_keys.claim_many(session, [("k2", T0), ("k3", T0)]) == {"k3"}
    assert slack_request_keys.claim_many(session, []) == set()
    assert session.scalar(select(func.count()).select_from(SlackRequestKey)) == 3


def test_keys_older_than_the_window_are_pruned(session_factory) -> None:
    claims = RequestKeyClaims(session_factory, prune_every=0.0)  # prune on every write
    assert claims.claim("old", T0)
    assert claims.claim("recent", T0 + dt.timedelta(minutes=6))
    assert _keys(session_factory) == {"old", "recent"}  # 6 minutes: still within twice the window
    assert claims.claim("now", T0 + dt.timedelta(minutes=11))
    assert _keys(session_factory) == {"recent", "now"}
    assert claims.claim("old", T0 + dt.timedelta(minutes=11))  # forgotten: it could not pass the check


def test_a_failed_write_fails_every_claim_of_its_batch(session_factory, engine) -> None:
    SlackRequestKey.__table__.drop(engine)
    claims = RequestKeyClaims(session_factory)
    try:
        claims.claim("k", T0)
    except Exception as exc:  # the table is gone: the claim must not pass as "first seen"
        assert "slack_request_keys" in str(exc)
    else:
        raise AssertionError("a claim that could not be written passed")
    SlackRequestKey.__table__.create(engine)
    assert claims.claim("k", T0) is True
