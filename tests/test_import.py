"""CSV import: exact rollups, idempotency, atomicity and one exact message per kind of bad
row, on SQLite and PostgreSQL (``db_url`` / ``session_factory`` fixtures)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cli import cli
from storage.event_keys import event_keys
from storage.importer import ImportOutOfMemory, ImportRejected, InputError, import_paths
from storage.models import (
    Application,
    EventKeyBlock,
    Org,
    Subscription,
    SupportTicket,
    SurveyResponse,
    UsageDaily,
    UsageDailyFeature,
    UsageDailyUser,
    UsageOrg,
    UsageUser,
)
from usage_rows import daily, per_feature, per_user

UTC = dt.timezone.utc
ALL_MODELS = (Application, Org, Subscription, SupportTicket, SurveyResponse, UsageDaily, UsageDailyUser,
              UsageDailyFeature, EventKeyBlock)

ORGS_CSV = """org_id,name,domain,created_at,source,owner,plan,seats,industry,renewal_date,icp_fit,strategic,relationship
acme,Acme Corp,acme.com,2023-01-05,signup,ana@example.com,enterprise,50,software,2025-06-30,80,90,70
beta,Beta Ltd,beta.io,2024-02-01T10:00:00+02:00,import,,starter,,,,,,
"""
SUBSCRIPTIONS_CSV = """subscription_id,org_id,mrr,started_at,status,ended_at,currency
s1,acme,1200.50,2023-01-05,active,,usd
s2,beta,99,2024-02-01,trialing,2024-03-01,EUR
"""
TICKETS_CSV = """ticket_id,org_id,opened_at,severity,closed_at
t1,acme,2024-05-01T10:00:00Z,P1,
t2,beta,2024-05-02T08:00:00Z,p3,2024-05-02T09:30:00Z
"""
SURVEYS_CSV = """org_id,score,responded_at,user_id
acme,9,2024-05-01,u1
acme,9,2024-05-01,u1
beta,3,2024-05-02T00:00:00+02:00,
"""
# The rollup fixture: every expected number below is worked out by hand in comments.
EVENTS_CSV = """org_id,user_id,event,timestamp,count,event_id
acme,u1,dashboards,2024-05-01T09:00:00Z,,e1
acme,u1,dashboards,2024-05-01T09:00:00Z,,e1
acme,u2,reports,2024-05-01T23:30:00-02:00,3,
acme,u2,reports,2024-05-02T01:30:00Z,3,
acme,u1,exports,2024-05-01T17:45:10.5+02:00,2,
acme,u3,dashboards,2024-05-01,1,e2
acme,u4,exports,2024-05-01T08:00:00Z,1,e6
beta,u9,api,2024-05-01T12:00:00Z,4,e1
"""


def write(directory: Path, **files: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.csv").write_text(text, encoding="utf-8")
    return directory


def full_set(directory: Path) -> Path:
    return write(directory, orgs=ORGS_CSV, subscriptions=SUBSCRIPTIONS_CSV, tickets=TICKETS_CSV,
                 surveys=SURVEYS_CSV, usage_events=EVENTS_CSV)


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """Rows per table; for the event keys, stored in blocks, the keys themselves."""
    with factory() as s:
        rows = {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in ALL_MODELS
                if m is not EventKeyBlock}
        return rows | {"event_keys": len(stored_keys(factory))}


def stored_keys(factory: sessionmaker[Session]) -> list[int]:
    """Every event key stored, in order, unpacked from its block."""
    from storage.event_keys import unpack_keys

    with factory() as s:
        blocks = s.scalars(select(EventKeyBlock.keys)).all()
    return sorted(int(k) for block in blocks for k in unpack_keys(block))


def snapshot(factory: sessionmaker[Session]) -> dict[str, list[tuple]]:
    """Every row of every imported table, in a stable order."""
    out = {}
    with factory() as s:
        for model in ALL_MODELS:
            table = model.__table__
            rows = s.execute(select(table)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


D1, D2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)

# The rollups of EVENTS_CSV, worked out by hand (``daily``, ``per_user``, ``per_feature``).
EVENTS_DAILY = [
    # e1 (1) + exports (count 2) + e2 (1) + e6 (1); users u1 u3 u4; features dashboards, exports
    ("acme", D1, 5, 3, 2, dt.datetime(2024, 5, 1, 15, 45, 10, 500000, tzinfo=UTC)),
    # 23:30 at -02:00 is 01:30 UTC the next day: reports, count 3, once
    ("acme", D2, 3, 1, 1, dt.datetime(2024, 5, 2, 1, 30, tzinfo=UTC)),
    ("beta", D1, 4, 1, 1, dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
]
EVENTS_PER_USER = [
    ("acme", D1, "u1", 3), ("acme", D1, "u3", 1), ("acme", D1, "u4", 1), ("acme", D2, "u2", 3),
    ("beta", D1, "u9", 4),
]
EVENTS_PER_FEATURE = [
    ("acme", D1, "dashboards", 2), ("acme", D1, "exports", 3), ("acme", D2, "reports", 3),
    ("beta", D1, "api", 4),
]


# --- rollups ---------------------------------------------------------------------------------

def test_rollup_numbers_are_exact(session_factory, tmp_path):
    report = import_paths([write(tmp_path, orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)

    # 8 rows: the second e1 repeats the first; the 01:30Z reports row is the 23:30-02:00 row
    # again (no event_id, same normalized content); beta's e1 is another org's event.
    assert (report.events_read, report.events_new, report.events_duplicate) == (8, 6, 2)
    assert report.days_touched == 3
    assert daily(session_factory) == EVENTS_DAILY
    assert per_user(session_factory) == EVENTS_PER_USER
    assert per_feature(session_factory) == EVENTS_PER_FEATURE
    assert counts(session_factory)["event_keys"] == 6


def test_events_spread_over_chunks_roll_up_the_same(session_factory, tmp_path):
    """Duplicates in different chunks and one (org, day) split over chunks: the distinct
    counts are recomputed, not summed."""
    report = import_paths([write(tmp_path, orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory, chunk_rows=2)
    assert (report.events_new, report.events_duplicate, report.days_touched) == (6, 2, 3)
    assert daily(session_factory)[0] == ("acme", D1, 5, 3, 2, dt.datetime(2024, 5, 1, 15, 45, 10, 500000, tzinfo=UTC))


def test_overlapping_second_events_file_adds_only_new_events(session_factory, tmp_path):
    import_paths([write(tmp_path / "a", orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    second = """org_id,user_id,event,timestamp,count,event_id
acme,u1,dashboards,2024-05-01T09:00:00Z,,e1
acme,u2,reports,2024-05-02T01:30:00Z,3,
acme,u5,alerts,2024-05-01T08:00:00Z,5,e3
acme,u1,exports,2024-05-01T20:00:00Z,1,e4
"""
    report = import_paths([write(tmp_path / "b", usage_events=second)], session_factory)

    assert (report.events_read, report.events_new, report.events_duplicate) == (4, 2, 2)
    assert report.days_touched == 1
    assert daily(session_factory) == [
        # +5 (alerts, u5) +1 (exports, u1): 11 events, users u1 u3 u4 u5, features dashboards
        # exports alerts, latest now 20:00
        ("acme", D1, 11, 4, 3, dt.datetime(2024, 5, 1, 20, 0, tzinfo=UTC)),
        ("acme", D2, 3, 1, 1, dt.datetime(2024, 5, 2, 1, 30, tzinfo=UTC)),
        ("beta", D1, 4, 1, 1, dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
    ]
    assert ("acme", D1, "u1", 4) in per_user(session_factory)
    assert counts(session_factory)["event_keys"] == 8


def test_two_imports_of_the_same_events_at_once_count_them_once(session_factory, tmp_path, monkeypatch):
    """Both imports reach their key lookup together; the stored keys are locked until the
    first commits, so the second finds every event imported and adds nothing."""
    import threading

    import storage.event_keys

    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], session_factory)
    single = tmp_path / "single"
    import_paths([write(single, orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    expected = (daily(session_factory), per_user(session_factory), per_feature(session_factory))
    with session_factory.begin() as s:  # the same orgs, no usage yet
        for model in (UsageDaily, UsageDailyUser, UsageDailyFeature, EventKeyBlock):
            s.execute(delete(model))

    both_there = threading.Barrier(2, timeout=60)
    first_look = storage.event_keys.KeyStore.holds_any

    met: list[bool] = []

    def holds_any_together(self):
        both_there.wait()
        met.append(True)
        return first_look(self)

    monkeypatch.setattr(storage.event_keys.KeyStore, "holds_any", holds_any_together)
    events = write(tmp_path / "events", usage_events=EVENTS_CSV)
    reports, failures = [], []

    def run() -> None:
        try:
            reports.append(import_paths([events], session_factory))
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures and met == [True, True]  # both imports met at the first look at the keys
    assert sorted((r.events_new, r.events_duplicate) for r in reports) == [(0, 8), (6, 2)]
    assert (daily(session_factory), per_user(session_factory), per_feature(session_factory)) == expected
    assert counts(session_factory)["event_keys"] == 6


@pytest.fixture
def pg_factory(pg_schema_url):
    """Sessions on PostgreSQL alone, its schema empty: for what only PostgreSQL's import does."""
    from storage.db import make_engine, make_session_factory
    from storage.models import Base

    engine = make_engine(pg_schema_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    try:
        yield make_session_factory(engine)
    finally:
        Base.metadata.drop_all(engine)
        engine.dispose()


def test_postgresql_writes_each_rollup_table_as_soon_as_it_is_made(pg_factory, tmp_path, monkeypatch):
    """With none of its org-days stored yet, a PostgreSQL import writes the per-user rows,
    then the per-feature rows, then the daily rows, each on the side thread while DuckDB
    makes the next, and the event keys last; what is stored is what the
    one-after-the-other way stores."""
    import threading

    import storage.event_import
    import storage.event_keys
    import storage.rollup

    factory = pg_factory
    written: list[tuple[str, bool]] = []
    staged_copy = storage.event_import.staged_rollup_copy
    store_keys = storage.event_keys.KeyStore.store
    dropped_key = storage.rollup.key_dropped_while_empty

    def observed_store(self, query, reader=None):
        written.append(("event_key_blocks", threading.current_thread() is threading.main_thread()))
        return store_keys(self, query, reader)

    def observed_key(conn, table):
        add_back = dropped_key(conn, table)

        def observed_add_back() -> None:
            written.append((f"{table.name} primary key", threading.current_thread() is threading.main_thread()))
            add_back()

        return observed_add_back

    def observed(conn, work, table, prefix, **options):
        copy = staged_copy(conn, work, table, prefix, **options)

        def observed_copy() -> None:
            written.append((table.name, threading.current_thread() is threading.main_thread()))
            copy()

        return observed_copy

    monkeypatch.setattr(storage.event_import, "staged_rollup_copy", observed)
    monkeypatch.setattr(storage.event_keys.KeyStore, "store", observed_store)
    monkeypatch.setattr(storage.rollup, "key_dropped_while_empty", observed_key)
    import_paths([write(tmp_path / "a", orgs=ORGS_CSV, usage_events=EVENTS_CSV)], factory)
    # The primary keys are built after the three COPYs, in the same order.
    assert written == [("usage_daily_users", False), ("usage_daily_features", False), ("usage_daily", False),
                       ("usage_daily_users primary key", False), ("usage_daily_features primary key", False),
                       ("usage_daily primary key", False), ("event_key_blocks", False)]
    assert counts(factory)["event_keys"] == 6
    assert daily(factory)[0] == ("acme", D1, 5, 3, 2, dt.datetime(2024, 5, 1, 15, 45, 10, 500000, tzinfo=UTC))
    assert per_user(factory)[0] == ("acme", D1, "u1", 3)
    assert per_feature(factory)[-1] == ("beta", D1, "api", 4)
    # An overlapping file touches stored org-days: the other way, which adds to them.
    written.clear()
    import_paths([write(tmp_path / "b", usage_events=EVENTS_CSV + "acme,u5,alerts,2024-05-01T08:00:00Z,5,e3\n")],
                 factory)
    assert written == [("event_key_blocks", False)]
    assert daily(factory)[0] == ("acme", D1, 10, 4, 3, dt.datetime(2024, 5, 1, 15, 45, 10, 500000, tzinfo=UTC))


def test_postgresql_stores_a_first_files_keys_while_making_them(pg_factory, tmp_path, monkeypatch):
    """With no key stored yet, every key is stored as it is made, on a side thread, before
    any rollup row is written, and not again after them. A file whose keys repeat stores
    its unique keys instead; a store failing midway leaves nothing written."""
    import threading

    import storage.event_import
    import storage.event_keys

    factory = pg_factory
    monkeypatch.setattr(storage.event_keys, "KEY_BLOCK", 4)
    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], factory)
    before = snapshot(factory)
    written: list[tuple[str, bool]] = []
    store_arrays, store, staged_copy = (storage.event_keys.KeyStore.store_arrays, storage.event_keys.KeyStore.store,
                                        storage.event_import.staged_rollup_copy)

    def observed_arrays(self, arrays):
        written.append(("store_arrays", threading.current_thread() is threading.main_thread()))
        return store_arrays(self, arrays)

    def observed_store(self, query, reader=None):
        written.append(("store", threading.current_thread() is threading.main_thread()))
        return store(self, query, reader)

    def observed_copy(conn, work, table, prefix, **options):
        written.append((table.name, False))
        return staged_copy(conn, work, table, prefix, **options)

    monkeypatch.setattr(storage.event_keys.KeyStore, "store_arrays", observed_arrays)
    monkeypatch.setattr(storage.event_keys.KeyStore, "store", observed_store)
    monkeypatch.setattr(storage.event_import, "staged_rollup_copy", observed_copy)
    # EVENTS_CSV without its two repeats (an event id twice; a time given in two zones)
    no_repeats = EVENTS_CSV.replace("acme,u1,dashboards,2024-05-01T09:00:00Z,,e1\n", "", 1).replace(
        "acme,u2,reports,2024-05-02T01:30:00Z,3,\n", "")
    report = import_paths([write(tmp_path / "a", usage_events=no_repeats)], factory, chunk_rows=2)
    assert (report.events_read, report.events_new) == (6, 6)
    assert written == [("store_arrays", False), ("usage_daily_users", False), ("usage_daily_features", False),
                       ("usage_daily", False)]
    assert counts(factory)["event_keys"] == 6 and len(set(stored_keys(factory))) == 6
    again = import_paths([write(tmp_path / "b", usage_events=no_repeats)], factory)
    assert (again.events_new, again.events_duplicate) == (0, 6) and counts(factory)["event_keys"] == 6

    with factory.begin() as s:  # the same orgs, no usage yet
        for model in (UsageDaily, UsageDailyUser, UsageDailyFeature, EventKeyBlock):
            s.execute(delete(model))
    written.clear()
    report = import_paths([write(tmp_path / "c", usage_events=EVENTS_CSV)], factory, chunk_rows=2)
    assert (report.events_new, report.events_duplicate) == (6, 2)
    # ``store`` hands its keys to ``store_arrays``
    assert written[0] == ("store_arrays", False) and written[-2:] == [("store", False), ("store_arrays", False)]
    assert counts(factory)["event_keys"] == 6 and len(set(stored_keys(factory))) == 6

    with factory.begin() as s:
        for model in (UsageDaily, UsageDailyUser, UsageDailyFeature, EventKeyBlock):
            s.execute(delete(model))

    def failing_arrays(self, arrays):
        next(iter(arrays))
        raise RuntimeError("the keys could not be stored")

    monkeypatch.setattr(storage.event_keys.KeyStore, "store_arrays", failing_arrays)
    with pytest.raises(RuntimeError, match="the keys could not be stored"):
        import_paths([write(tmp_path / "d", usage_events=no_repeats)], factory, chunk_rows=2)
    assert snapshot(factory) == before


def test_keys_failing_to_be_made_while_stored_stop_the_import_and_leave_nothing(pg_factory, tmp_path, monkeypatch):
    """Making the keys raises partway, their store running beside: the import ends with that
    error (it does not wait forever for the store), nothing is written, and the next import
    stores every key."""
    import threading

    import storage.event_import
    import storage.event_keys

    factory = pg_factory
    monkeypatch.setattr(storage.event_keys, "KEY_BLOCK", 4)
    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], factory)
    before = snapshot(factory)
    insert_keys = storage.event_import.EventImport._insert_keys
    calls: list[int] = []

    def failing_third(self, batch, has_event_id):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("a chunk could not be keyed")
        return insert_keys(self, batch, has_event_id)

    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            import_paths([write(tmp_path / "a", usage_events=EVENTS_CSV)], factory, chunk_rows=2)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            outcome.append(exc)

    with monkeypatch.context() as patch:
        patch.setattr(storage.event_import.EventImport, "_insert_keys", failing_third)
        importing = threading.Thread(target=run, daemon=True)
        importing.start()
        importing.join(120)
    assert not importing.is_alive(), "the import waits forever for its key store"
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError)
    assert "could not be keyed" in str(outcome[0]) and len(calls) == 3
    assert snapshot(factory) == before
    report = import_paths([write(tmp_path / "b", usage_events=EVENTS_CSV)], factory, chunk_rows=2)
    assert report.events_new == 6 and counts(factory)["event_keys"] == 6


def _primary_keys(factory: sessionmaker[Session]) -> dict[str, list[str]]:
    from sqlalchemy import inspect

    with factory() as s:
        found = inspect(s.connection())
        return {t: found.get_pk_constraint(t)["constrained_columns"]
                for t in ("usage_daily", "usage_daily_users", "usage_daily_features")}


def test_a_rollup_table_failing_to_be_written_leaves_nothing_written(pg_factory, tmp_path, monkeypatch):
    """The tables are written on a side thread, in the import's one transaction: the second
    one failing stops the third and rolls the first back; the last step, storing the event
    keys, failing rolls back all three tables. Either way every primary key dropped for the
    loading is there again."""
    import storage.event_import
    import storage.event_keys

    factory = pg_factory
    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], factory)
    before, keys_before = snapshot(factory), _primary_keys(factory)
    assert keys_before["usage_daily_users"] == ["org_key", "day", "user_key"]
    written: list[str] = []
    staged_copy = storage.event_import.staged_rollup_copy

    def failing(conn, work, table, prefix, **options):
        copy = staged_copy(conn, work, table, prefix, **options)

        def failing_copy() -> None:
            written.append(table.name)
            if table.name == "usage_daily_features":
                raise RuntimeError("the server went away")
            copy()

        return failing_copy

    with monkeypatch.context() as patch:
        patch.setattr(storage.event_import, "staged_rollup_copy", failing)
        with pytest.raises(RuntimeError, match="the server went away"):
            import_paths([write(tmp_path / "events", usage_events=EVENTS_CSV)], factory)
    assert written == ["usage_daily_users", "usage_daily_features"]
    assert snapshot(factory) == before and _primary_keys(factory) == keys_before

    def failing_store(self, query, reader=None):
        raise RuntimeError("the keys could not be stored")

    monkeypatch.setattr(storage.event_keys.KeyStore, "store", failing_store)
    with pytest.raises(RuntimeError, match="the keys could not be stored"):
        import_paths([write(tmp_path / "events", usage_events=EVENTS_CSV)], factory)
    assert snapshot(factory) == before and _primary_keys(factory) == keys_before


def test_keys_staged_and_found_in_small_batches_give_the_same_result(session_factory, tmp_path, monkeypatch):
    """Keys move between the databases in batches (KEY_BATCH), are stored in blocks
    (KEY_BLOCK) and read back a few blocks at a time (BLOCKS_PER_READ); the edges of
    batches and blocks change nothing."""
    import storage.event_keys

    monkeypatch.setattr(storage.event_keys, "KEY_BATCH", 2)
    monkeypatch.setattr(storage.event_keys, "KEY_BLOCK", 4)
    monkeypatch.setattr(storage.event_keys, "BLOCKS_PER_READ", 1)
    import_paths([write(tmp_path / "a", orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    second = EVENTS_CSV + "acme,u5,alerts,2024-05-01T08:00:00Z,5,e3\n"
    report = import_paths([write(tmp_path / "b", usage_events=second)], session_factory)
    assert (report.events_read, report.events_new, report.events_duplicate) == (9, 1, 8)
    assert daily(session_factory)[0] == ("acme", D1, 10, 4, 3, dt.datetime(2024, 5, 1, 15, 45, 10, 500000, tzinfo=UTC))
    with session_factory() as s:
        assert s.scalars(select(EventKeyBlock.key_count).order_by(EventKeyBlock.block_id)).all() == [4, 2, 1]
    # Exactly the keys of the distinct events, by their documented definition.
    events = pd.read_csv(io.StringIO(second), dtype=str, keep_default_na=False)
    ts = pd.to_datetime(events["timestamp"], utc=True, format="ISO8601").dt.as_unit("us").astype("int64").to_numpy()
    count = pd.to_numeric(events["count"].replace("", "1")).to_numpy(dtype=np.int64)
    expected = event_keys(events["org_id"], events["user_id"], events["event"], ts, count, events["event_id"])
    assert stored_keys(session_factory) == sorted(set(expected.tolist()))
    assert len(stored_keys(session_factory)) == 7


def test_an_earlier_event_does_not_move_last_event_at_back(session_factory, tmp_path):
    import_paths([write(tmp_path / "a", orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    earlier = "org_id,user_id,event,timestamp\nacme,u1,dashboards,2024-05-01T06:00:00Z\n"
    import_paths([write(tmp_path / "b", usage_events=earlier)], session_factory)
    assert daily(session_factory)[0] == ("acme", D1, 6, 3, 2, dt.datetime(2024, 5, 1, 15, 45, 10, 500000, tzinfo=UTC))


# --- idempotency and upserts ----------------------------------------------------------------

def test_importing_the_same_files_twice_changes_nothing(session_factory, tmp_path):
    directory = full_set(tmp_path)
    first = import_paths([directory], session_factory)
    before = snapshot(session_factory)
    second = import_paths([directory], session_factory)

    assert snapshot(session_factory) == before
    assert (first.orgs.inserted, first.subscriptions.inserted, first.tickets.inserted) == (2, 2, 2)
    assert (first.surveys.rows, first.surveys.inserted) == (3, 2)  # the repeated survey row once
    for counted in (second.orgs, second.subscriptions, second.tickets, second.surveys):
        assert (counted.inserted, counted.updated, counted.unchanged) == (0, 0, counted.rows)
    assert (second.events_new, second.events_duplicate, second.days_touched) == (0, 8, 0)
    assert counts(session_factory) == {
        "applications": 1, "orgs": 2, "subscriptions": 2, "support_tickets": 2, "survey_responses": 2,
        "usage_daily": 3, "usage_daily_users": 5, "usage_daily_features": 4, "event_keys": 6,
    }


def _many_events(n: int) -> pd.DataFrame:
    """``n`` events of acme and beta over three days. Every 7th row repeats the id of a row
    three earlier (same org) with another user and count; every 11th has no id, so its
    whole row is its key."""
    days = ["2024-05-01", "2024-05-02", "2024-05-03"]
    rows = []
    for i in range(n):
        org = "beta" if i % 3 == 0 else "acme"
        event_id = "" if i % 11 == 0 else f"e{i - 3}" if i % 7 == 0 and i >= 3 else f"e{i}"
        rows.append((org, f"u{i % 97}", ("api", "reports", "alerts")[i % 3 // 2 + i % 2],
                     f"{days[i % 3]}T{i % 24:02d}:{i % 60:02d}:00Z", str(1 + i % 4), event_id))
    return pd.DataFrame(rows, columns=["org_id", "user_id", "event", "timestamp", "count", "event_id"])


def test_each_event_keeps_its_own_key_across_many_chunks_and_row_groups(session_factory, tmp_path):
    """Over several of DuckDB's row groups (122,880 rows) and many chunks, the event kept
    of each repeated one, and so every per-user number, is the file's first: the record
    numbers follow the file, and the keys, made chunk by chunk in Python, are set back
    beside their own rows."""
    n = 300_000
    events = _many_events(n)
    import_paths([write(tmp_path / "a", orgs=ORGS_CSV, usage_events=events.to_csv(index=False))], session_factory,
                 chunk_rows=7_000)

    key = events["org_id"] + "|" + events["event_id"].where(
        events["event_id"] != "", events[["user_id", "event", "timestamp", "count"]].agg("|".join, axis=1))
    kept = events[~key.duplicated()]
    expected = (kept.assign(day=pd.to_datetime(kept["timestamp"]).dt.date, n=kept["count"].astype(int))
                .groupby(["org_id", "day", "user_id"])["n"].sum())
    assert len(kept) < n - 30_000  # the repeats are many, spread over the whole file
    stored = per_user(session_factory)
    assert len(stored) == len(expected)
    assert stored == [(org, day, user, int(total)) for (org, day, user), total in sorted(expected.items())]


def test_a_bad_row_deep_in_a_large_file_is_named_by_its_line(session_factory, tmp_path):
    """Record numbers are the file's order however DuckDB splits the reading: the one bad
    row of 300,000 is named at its own line (a whitespace-trimming join once handed the
    rows back second half first, and the line named was off by 155,649)."""
    events = _many_events(300_000)
    events.loc[250_000, "timestamp"] = "yesterday"
    events.loc[250_001, "user_id"] = " padded\t"  # trimmed: valid
    with pytest.raises(ImportRejected) as err:
        import_paths([write(tmp_path / "a", orgs=ORGS_CSV, usage_events=events.to_csv(index=False))], session_factory)
    assert [(e.line, e.column) for e in err.value.errors] == [(250_002, "timestamp")]


def test_a_first_import_leaves_every_primary_key_in_place(session_factory, tmp_path):
    """On PostgreSQL a load into an empty table drops its primary key and builds it again
    afterwards (``storage.staging.loading_into``): it must be back, and enforced."""
    from sqlalchemy import inspect

    tables = ("usage_daily", "usage_daily_users", "usage_daily_features")
    with session_factory() as s:
        before = {t: inspect(s.connection()).get_pk_constraint(t) for t in tables}
    import_paths([write(tmp_path, orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    with session_factory() as s:
        after = {t: inspect(s.connection()).get_pk_constraint(t) for t in tables}
    assert after == before
    assert all(pk["constrained_columns"] for pk in after.values())
    with session_factory() as s:  # acme's u1, who has a row on D1, by their numbers
        acme = s.scalar(select(UsageOrg.org_key).where(UsageOrg.org_id == "acme"))
        u1 = s.scalar(select(UsageUser.user_key).where(UsageUser.org_key == acme, UsageUser.user_id == "u1"))
    assert acme is not None and u1 is not None
    with pytest.raises(IntegrityError), session_factory() as s, s.begin():
        s.add(UsageDailyUser(org_key=acme, day=D1, user_key=u1, events=1))


def test_names_roll_up_by_code_whatever_their_bytes(session_factory, tmp_path):
    """Rollups group and sort org, user and feature names by integer codes and write them
    back by code: non-ASCII names, names that are prefixes of others and case stay apart."""
    events = """org_id,user_id,event,timestamp,count
acme,Zoë,réports,2024-05-01T09:00:00Z,1
acme,zoe,reports,2024-05-01T10:00:00Z,2
acme,Zo,réports,2024-05-01T11:00:00Z,3
acme,Zoë,Reports,2024-05-02T09:00:00Z,4
beta,Zoë,réports,2024-05-01T09:00:00Z,5
"""
    import_paths([write(tmp_path, orgs=ORGS_CSV, usage_events=events)], session_factory)
    assert sorted(per_user(session_factory)) == sorted([
        ("acme", D1, "Zo", 3), ("acme", D1, "Zoë", 1), ("acme", D1, "zoe", 2), ("acme", D2, "Zoë", 4),
        ("beta", D1, "Zoë", 5)])
    assert sorted(per_feature(session_factory)) == sorted([
        ("acme", D1, "reports", 2), ("acme", D1, "réports", 4), ("acme", D2, "Reports", 4),
        ("beta", D1, "réports", 5)])
    assert [row[:4] for row in daily(session_factory)] == [("acme", D1, 6, 3), ("acme", D2, 4, 1),
                                                           ("beta", D1, 5, 1)]


def test_values_are_parsed_and_stored_in_utc(session_factory, tmp_path):
    import_paths([full_set(tmp_path)], session_factory)
    with session_factory() as s:
        beta = s.get(Org, "beta")
        acme = s.get(Org, "acme")
        s1, s2 = s.get(Subscription, "s1"), s.get(Subscription, "s2")
        t1 = s.get(SupportTicket, "t1")
        beta_survey = s.scalars(select(SurveyResponse).where(SurveyResponse.org_id == "beta")).one()
    assert beta.created_at == dt.datetime(2024, 2, 1, 8, 0, tzinfo=UTC)
    assert (beta.source, beta.owner, beta.seats, beta.icp_fit, beta.renewal_date) == ("import", None, None, None, None)
    assert (acme.seats, acme.icp_fit, acme.relationship_score, acme.renewal_date) == (50, 80.0, 70.0,
                                                                                      dt.date(2025, 6, 30))
    assert (s1.mrr, s1.currency, s1.status, s1.ended_at) == (Decimal("1200.50"), "USD", "active", None)
    assert (s2.status, s2.ended_at) == ("trialing", dt.date(2024, 3, 1))
    assert (t1.severity, t1.closed_at) == ("p1", None)
    assert (beta_survey.responded_at, beta_survey.user_id) == (dt.datetime(2024, 5, 1, 22, 0, tzinfo=UTC), "")


def test_changed_rows_are_updated_and_absent_columns_left_alone(session_factory, tmp_path):
    import_paths([full_set(tmp_path / "a")], session_factory)
    # No owner/seats columns now: acme keeps its owner and seats; beta's name changes.
    orgs = "org_id,name,plan\nacme,Acme Corp,enterprise\nbeta,Beta Limited,starter\n"
    report = import_paths([write(tmp_path / "b", orgs=orgs)], session_factory)

    assert (report.orgs.inserted, report.orgs.updated, report.orgs.unchanged) == (0, 1, 1)
    with session_factory() as s:
        acme, beta = s.get(Org, "acme"), s.get(Org, "beta")
    assert (acme.owner, acme.seats, beta.name) == ("ana@example.com", 50, "Beta Limited")


def test_application_column_overrides_the_option(session_factory, tmp_path):
    orgs = "org_id,name,application\nacme,Acme Corp,mobile\nbeta,Beta Ltd,\n"
    report = import_paths([write(tmp_path, orgs=orgs)], session_factory, application="web")
    assert report.applications == ["mobile", "web"]
    with session_factory() as s:
        apps = dict(s.execute(select(Org.org_id, Application.name).join(Application)).all())
    assert apps == {"acme": "mobile", "beta": "web"}


# --- atomicity ------------------------------------------------------------------------------

def test_one_bad_row_rejects_the_whole_import_and_writes_nothing(session_factory, tmp_path):
    import_paths([full_set(tmp_path / "first")], session_factory)
    before = snapshot(session_factory)
    # A new org, a changed org and new events in good files; line 3 of subscriptions is bad.
    second = write(
        tmp_path / "second",
        orgs=ORGS_CSV.replace("Beta Ltd", "Beta Renamed") + "gamma,Gamma Inc,,,,,,,,,,,\n",
        subscriptions="subscription_id,org_id,mrr,started_at\ns3,gamma,10,2024-01-01\ns4,gamma,ten,2024-01-01\n",
        usage_events="org_id,user_id,event,timestamp\ngamma,u1,api,2024-05-03T10:00:00Z\n",
    )
    with pytest.raises(ImportRejected) as err:
        import_paths([second], session_factory)

    assert [str(e) for e in err.value.errors] == [f"{second / 'subscriptions.csv'}:3: mrr: not a number: 'ten'"]
    assert err.value.total == 1
    assert snapshot(session_factory) == before


def test_a_bad_event_after_chunks_were_rolled_up_leaves_no_trace(session_factory, tmp_path):
    events = EVENTS_CSV + "acme,u1,api,not-a-time,1,e9\n"
    directory = write(tmp_path, orgs=ORGS_CSV, usage_events=events)
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory, chunk_rows=2)  # five chunks; the bad row is in the last
    assert [str(e) for e in err.value.errors] == [
        f"{directory / 'usage_events.csv'}:10: timestamp: not an ISO date or timestamp: 'not-a-time'"
    ]
    assert set(counts(session_factory).values()) == {0}
    # The connection is still usable and a corrected file imports cleanly afterwards.
    report = import_paths([write(tmp_path / "fixed", orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    assert report.events_new == 6


def test_dry_run_reports_counts_and_writes_nothing(session_factory, tmp_path):
    report = import_paths([full_set(tmp_path)], session_factory, dry_run=True)
    assert report.dry_run
    assert (report.orgs.inserted, report.events_new, report.days_touched) == (2, 6, 3)
    assert set(counts(session_factory).values()) == {0}


def test_errors_are_counted_beyond_the_ones_shown(session_factory, tmp_path):
    rows = "".join(f"acme,u1,api,bad{i},1,\n" for i in range(30))
    directory = write(tmp_path, orgs=ORGS_CSV, usage_events="org_id,user_id,event,timestamp,count,event_id\n" + rows)
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory, chunk_rows=7)
    assert err.value.total == 30
    assert len(err.value.errors) == 20
    assert [e.line for e in err.value.errors] == list(range(2, 22))


# --- one exact message per kind of bad row --------------------------------------------------

ORGS_COLUMNS = ("org_id, name, application, domain, created_at, source, owner, plan, seats, industry, "
                "renewal_date, icp_fit, strategic, relationship")
BAD_ROWS = [
    ("missing required column", {"orgs": "org_id,domain\nacme,acme.com\n"},
     "orgs.csv:1: name: missing required column"),
    ("unknown extra column", {"orgs": "org_id,name,colour\nacme,Acme,red\n"},
     f"orgs.csv:1: colour: unknown column (the orgs columns are {ORGS_COLUMNS})"),
    ("duplicate column", {"orgs": "org_id,name,name\nacme,Acme,Acme\n"},
     "orgs.csv:1: name: duplicate column"),
    ("empty required value", {"orgs": "org_id,name\nacme,Acme\nbeta,  \n"},
     "orgs.csv:3: name: empty required value"),
    ("bad date", {"subscriptions": "subscription_id,org_id,mrr,started_at\ns1,acme,10,2024-02-30\n"},
     "subscriptions.csv:2: started_at: not an ISO date: '2024-02-30'"),
    ("bad timestamp", {"usage_events": "org_id,user_id,event,timestamp\nacme,u1,api,05/01/2024 10:00\n"},
     "usage_events.csv:2: timestamp: not an ISO date or timestamp: '05/01/2024 10:00'"),
    ("year alone is not a date", {"orgs": "org_id,name,created_at\nacme,Acme,2024\n"},
     "orgs.csv:2: created_at: not an ISO date or timestamp: '2024'"),
    ("non-numeric MRR", {"subscriptions": "subscription_id,org_id,mrr,started_at\ns1,acme,$10,2024-01-01\n"},
     "subscriptions.csv:2: mrr: not a number: '$10'"),
    ("negative MRR", {"subscriptions": "subscription_id,org_id,mrr,started_at\ns1,acme,-10.5,2024-01-01\n"},
     "subscriptions.csv:2: mrr: must not be negative: '-10.5'"),
    ("negative seats", {"orgs": "org_id,name,seats\nacme,Acme,-3\n"},
     "orgs.csv:2: seats: must not be negative: '-3'"),
    ("fractional seats", {"orgs": "org_id,name,seats\nacme,Acme,2.5\n"},
     "orgs.csv:2: seats: not a whole number: '2.5'"),
    ("negative count", {"usage_events": "org_id,user_id,event,timestamp,count\nacme,u1,api,2024-05-01,-1\n"},
     "usage_events.csv:2: count: must not be negative: '-1'"),
    ("NPS out of range", {"surveys": "org_id,score,responded_at\nacme,11,2024-05-01\n"},
     "surveys.csv:2: score: out of range 0-10: '11'"),
    ("icp_fit out of range", {"orgs": "org_id,name,icp_fit\nacme,Acme,101\n"},
     "orgs.csv:2: icp_fit: out of range 0-100: '101'"),
    ("strategic out of range", {"orgs": "org_id,name,strategic\nacme,Acme,-1\n"},
     "orgs.csv:2: strategic: out of range 0-100: '-1'"),
    ("relationship out of range", {"orgs": "org_id,name,relationship\nacme,Acme,100.5\n"},
     "orgs.csv:2: relationship: out of range 0-100: '100.5'"),
    ("unknown org id", {"tickets": "ticket_id,org_id,opened_at,severity\nt1,zzz,2024-05-01,p2\n"},
     'tickets.csv:2: org_id: unknown org "zzz" in application "default"'),
    ("unknown org id with an orgs file",
     {"orgs": "org_id,name\nbeta,Beta\n",
      "surveys": "org_id,score,responded_at\nbeta,7,2024-05-01\nzzz,7,2024-05-01\n"},
     'surveys.csv:3: org_id: unknown org "zzz" in application "default"'),
    ("unknown severity", {"tickets": "ticket_id,org_id,opened_at,severity\nt1,acme,2024-05-01,p5\n"},
     "tickets.csv:2: severity: unknown value 'p5' (expected p1, p2, p3, p4)"),
    ("unknown status", {"subscriptions": "subscription_id,org_id,mrr,started_at,status\ns1,acme,1,2024-01-01,paused\n"},
     "subscriptions.csv:2: status: unknown value 'paused' (expected active, trialing, past_due, canceled)"),
    ("unknown source", {"orgs": "org_id,name,source\nacme,Acme,crm\n"},
     "orgs.csv:2: source: unknown value 'crm' (expected signup, import)"),
    ("ended before started",
     {"subscriptions": "subscription_id,org_id,mrr,started_at,ended_at\ns1,acme,1,2024-02-01,2024-01-31\n"},
     "subscriptions.csv:2: ended_at: before started_at (2024-01-31 < 2024-02-01)"),
    ("ticket closed before opened",
     {"tickets": "ticket_id,org_id,opened_at,severity,closed_at\nt1,acme,2024-05-02,p1,2024-05-01T23:00:00Z\n"},
     "tickets.csv:2: closed_at: before opened_at (2024-05-01T23:00:00Z < 2024-05-02)"),
    ("duplicate id", {"orgs": "org_id,name\nacme,Acme\nbeta,Beta\nacme,Acme again\n"},
     "orgs.csv:4: org_id: duplicate id 'acme' (first on line 2)"),
    ("row wider than the header", {"orgs": "org_id,name\nacme,Acme,extra\n"},
     "orgs.csv:2: row has 3 fields, the header has 2"),
    ("id longer than the column", {"orgs": f"org_id,name\n{'x' * 201},Long\n"},
     "orgs.csv:2: org_id: longer than 200 characters"),
    # Values one database would store and the other refuse, or that no real export holds.
    ("row narrower than the header", {"orgs": "org_id,name,domain\nacme,Acme,acme.com\nbeta,Beta\n"},
     "orgs.csv:3: domain: missing cell (row has 2 fields, the header has 3)"),
    ("event row narrower than the header",
     {"usage_events": "org_id,user_id,event,timestamp,count\nacme,u1,api,2024-05-01,1\nacme,u1,api\n"},
     "usage_events.csv:3: timestamp: missing cell (row has 3 fields, the header has 5)"),
    ("event row wider than the header",
     {"usage_events": "org_id,user_id,event,timestamp\nacme,u1,api,2024-05-01,1\n"},
     "usage_events.csv:2: row has 5 fields, the header has 4"),
    ("three letters that are no currency",
     {"subscriptions": "subscription_id,org_id,mrr,started_at,currency\ns1,acme,10,2024-01-01,XYZ\n"},
     "subscriptions.csv:2: currency: not an ISO 4217 currency code: 'XYZ'"),
    ("a date far in the future", {"subscriptions": "subscription_id,org_id,mrr,started_at\ns1,acme,10,9999-12-31\n"},
     "subscriptions.csv:2: started_at: outside the years 1970-2100: '9999-12-31'"),
    ("a date far in the past", {"orgs": "org_id,name,created_at\nacme,Acme,0001-01-01\n"},
     "orgs.csv:2: created_at: outside the years 1970-2100: '0001-01-01'"),
    ("an event in 2101", {"usage_events": "org_id,user_id,event,timestamp\nacme,u1,api,2101-01-01T00:00:00Z\n"},
     "usage_events.csv:2: timestamp: outside the years 1970-2100: '2101-01-01T00:00:00Z'"),
    ("NUL in a name", {"orgs": "org_id,name\nacme,Ac\x00me\n"},
     "orgs.csv:2: name: contains a NUL character"),
    ("NUL in an event's user", {"usage_events": "org_id,user_id,event,timestamp\nacme,u\x001,api,2024-05-01\n"},
     "usage_events.csv:2: user_id: contains a NUL character"),
    ("MRR that rounds to 10^12",
     {"subscriptions": "subscription_id,org_id,mrr,started_at\ns1,acme,999999999999.995,2024-01-01\n"},
     "subscriptions.csv:2: mrr: too large: '999999999999.995'"),
    ("unterminated quote", {"orgs": 'org_id,name\nacme,Acme\nbeta,"Beta\ngamma,Gamma\n'},
     "orgs.csv:3: unterminated quoted value (its closing quote is missing)"),
    ("unterminated quote in events",
     {"usage_events": 'org_id,user_id,event,timestamp\nacme,u1,"api\nacme,u1,api,2024-05-01\n'},
     "usage_events.csv:2: unterminated quoted value (its closing quote is missing)"),
    ("text after a closing quote", {"orgs": 'org_id,name\nacme,"Ac"me\n'},
     "orgs.csv:2: text after a closing quote (a quoted value must end at a comma or the end of the line)"),
]


@pytest.mark.parametrize("files,expected", [pytest.param(f, e, id=i) for i, f, e in BAD_ROWS])
def test_each_kind_of_bad_row_gets_an_exact_message(session_factory, tmp_path, files, expected):
    # An existing org for the files that refer to one.
    import_paths([write(tmp_path / "base", orgs="org_id,name\nacme,Acme\n")], session_factory)
    before = snapshot(session_factory)
    directory = write(tmp_path / "bad", **files)
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory)
    assert [str(e) for e in err.value.errors] == [f"{directory}/{expected}"]
    assert snapshot(session_factory) == before


def test_line_numbers_are_physical_lines(session_factory, tmp_path):
    """A quoted value spanning two lines and a blank line push the bad row down to line 6."""
    orgs = 'org_id,name\nacme,"Acme\nCorp"\n\nbeta,Beta\ngamma,Gamma,x\n'
    bad = write(tmp_path / "a", orgs=orgs)
    with pytest.raises(ImportRejected) as err:
        import_paths([bad], session_factory)
    assert [str(e) for e in err.value.errors] == [f"{bad}/orgs.csv:6: row has 3 fields, the header has 2"]

    orgs = 'org_id,name\nacme,"Acme\nCorp"\n\nbeta,\n'
    bad = write(tmp_path / "b", orgs=orgs)
    with pytest.raises(ImportRejected) as err:
        import_paths([bad], session_factory)
    assert [str(e) for e in err.value.errors] == [f"{bad}/orgs.csv:5: name: empty required value"]


def test_the_largest_amount_that_rounds_below_the_limit_is_stored(session_factory, tmp_path):
    """The MRR limit is about the stored value: 999,999,999,999.994 rounds down and fits."""
    import_paths([write(tmp_path / "a", orgs="org_id,name\nacme,Acme\n")], session_factory)
    subs = "subscription_id,org_id,mrr,started_at,currency\ns1,acme,999999999999.994,1970-01-01,xts\n"
    import_paths([write(tmp_path / "b", subscriptions=subs)], session_factory)
    with session_factory() as s:
        sub = s.get(Subscription, "s1")
    assert (sub.mrr, sub.started_at, sub.currency) == (Decimal("999999999999.99"), dt.date(1970, 1, 1), "XTS")


def test_an_encoding_error_names_its_physical_line(session_factory, tmp_path):
    """The bad byte is on line 4 (a quoted value spans lines 2-3), in orgs and in events."""
    import_paths([write(tmp_path / "base", orgs="org_id,name\nacme,Acme\n")], session_factory)
    before = snapshot(session_factory)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "orgs.csv").write_bytes(b'org_id,name\nacme,"Acme\nCorp"\nbeta,B\xffeta\n')
    (bad / "usage_events.csv").write_bytes(b"org_id,user_id,event,timestamp\nacme,u1,api,2024-05-01\n"
                                           b"acme,u1,api,2024-05-02\nacme,\xc3(,api,2024-05-03\n")
    with pytest.raises(ImportRejected) as err:
        import_paths([bad], session_factory)
    assert [str(e) for e in err.value.errors] == [
        f"{bad}/orgs.csv:4: not UTF-8 text (byte 0xff at position 7 of the line)",
        f"{bad}/usage_events.csv:4: not UTF-8 text (byte 0xc3 at position 6 of the line)",
    ]
    assert snapshot(session_factory) == before


def test_every_ragged_row_is_reported_with_its_line(session_factory, tmp_path):
    events = ("org_id,user_id,event,timestamp\n" + "acme,u1,api,2024-05-01\n" * 3
              + "acme,u1\n" + 'acme,u1,"api\nx",2024-05-01\n' + "acme,u1,api,2024-05-01,1,2\n")
    directory = write(tmp_path, orgs="org_id,name\nacme,Acme\n", usage_events=events)
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory)
    assert [str(e) for e in err.value.errors] == [
        f"{directory}/usage_events.csv:5: event: missing cell (row has 2 fields, the header has 4)",
        f"{directory}/usage_events.csv:8: row has 6 fields, the header has 4",
    ]
    assert set(counts(session_factory).values()) == {0}


def test_unusable_paths_are_refused_before_touching_the_database(session_factory, tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="notes.csv: unknown file name"):
        import_paths([tmp_path / "notes.csv"], session_factory)
    with pytest.raises(InputError, match="no such file or directory"):
        import_paths([tmp_path / "missing"], session_factory)
    write(tmp_path / "x", events="org_id,user_id,event,timestamp\n", usage_events="org_id,user_id,event,timestamp\n")
    with pytest.raises(InputError, match="two usage events files given"):
        import_paths([tmp_path / "x"], session_factory)


def test_groupings_that_do_not_fit_in_memory_are_sorted_first_with_the_same_result(session_factory, tmp_path,
                                                                                   monkeypatch):
    """The import's groupings (keys, per-user and per-feature rows) are hash aggregates when
    their groups fit in DuckDB's memory, else the same grouping over rows sorted first. Each
    hash aggregate is made to run out of memory here: the sorted way must give every row the
    hash way gives."""
    import duckdb

    import storage.reader

    hashed = write(tmp_path / "a", orgs=ORGS_CSV, usage_events=EVENTS_CSV)
    import_paths([hashed], session_factory)
    expected = snapshot(session_factory)
    with session_factory.begin() as s:
        for model in (UsageDaily, UsageDailyUser, UsageDailyFeature, EventKeyBlock):
            s.execute(delete(model))

    refused: list[str] = []

    class HashRefusing:
        """The work database's connection, refusing the three groupings unless over sorted rows."""

        def __init__(self, con) -> None:
            self._con = con

        def __getattr__(self, name):
            return getattr(self._con, name)

        def execute(self, query, *args):
            table = query.split(" AS ")[0].split()[-1] if query.startswith("CREATE OR REPLACE TABLE") else None
            if table in ("uniq", "nc_users", "nc_features") and "ORDER BY" not in query:
                refused.append(table)
                raise duckdb.OutOfMemoryException("out of memory (refused by the test)")
            return self._con.execute(query, *args)

    real_init = storage.reader.WorkDB.__init__

    def init(self, *args, **kwargs) -> None:
        real_init(self, *args, **kwargs)
        self.con = HashRefusing(self.con)

    monkeypatch.setattr(storage.reader.WorkDB, "__init__", init)
    report = import_paths([write(tmp_path / "b", usage_events=EVENTS_CSV)], session_factory)
    assert sorted(refused) == ["nc_features", "nc_users", "uniq"]
    assert (report.events_new, report.events_duplicate) == (6, 2)
    got = snapshot(session_factory)
    # A block's id is the database's next number, which PostgreSQL's sequence does not reuse.
    for rows in (got, expected):
        rows["event_key_blocks"] = [block[1:] for block in rows["event_key_blocks"]]
    assert got == expected


def test_an_import_beyond_its_memory_limit_says_so_and_writes_nothing(db_url, session_factory, tmp_path,
                                                                      monkeypatch):
    """DuckDB running out of the import's memory is neither a malformed file nor a traceback:
    one line naming the limit and how to raise it, and the database as it was."""
    import_paths([full_set(tmp_path / "first")], session_factory)
    before = snapshot(session_factory)
    second = write(tmp_path / "second", orgs=ORGS_CSV.replace("Beta Ltd", "Beta Renamed"),
                   usage_events=EVENTS_CSV.replace("2024-05-01", "2024-05-03"))
    monkeypatch.setenv("SAAS_TRACKER_IMPORT_MEMORY", "1MB")
    with pytest.raises(ImportOutOfMemory) as err:
        import_paths([second], session_factory)
    assert err.value.limit == "1MB"
    assert snapshot(session_factory) == before

    result = CliRunner().invoke(cli, ["--config", str(write_config(tmp_path)), "import", "--quiet", str(second)],
                                env={"DATABASE_URL": db_url, "SAAS_TRACKER_IMPORT_MEMORY": "1MB"})
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "import: the files need more working memory than the import's 1MB (SAAS_TRACKER_IMPORT_MEMORY); "
        "nothing was written. Give it more (for example SAAS_TRACKER_IMPORT_MEMORY=4GB), or import daily "
        "rollups (usage_daily*.csv) instead of raw events"
    ]
    assert snapshot(session_factory) == before

    monkeypatch.setenv("SAAS_TRACKER_IMPORT_MEMORY", "64MB")  # read at each import: enough now
    report = import_paths([second], session_factory)
    assert (report.orgs.updated, report.events_new) == (1, 2)  # two events without an id moved day


def test_the_default_import_memory_is_an_eighth_of_the_machine_within_bounds(tmp_path, monkeypatch):
    """A small container gets the 192 MB that suffices, a large machine at most 2 GB, and a
    container's cgroup limit counts over the machine's physical memory; the variable wins."""
    from storage import reader

    gib = 2**30
    assert reader.default_work_memory(None) == "192MB"
    assert reader.default_work_memory(1 * gib) == "192MB"
    assert reader.default_work_memory(4 * gib) == "512MB"
    assert reader.default_work_memory(8 * gib) == "1024MB"
    assert reader.default_work_memory(64 * gib) == "2048MB"
    limit = tmp_path / "memory.max"
    monkeypatch.setattr(reader, "_CGROUP_MEMORY_LIMIT", limit)
    physical = reader.machine_memory()
    assert physical is not None and physical > 0
    limit.write_text("max\n")  # a cgroup without a limit: the machine's memory
    assert reader.machine_memory() == physical
    limit.write_text(f"{2 * gib}\n")
    assert reader.machine_memory() == min(2 * gib, physical)
    monkeypatch.delenv("SAAS_TRACKER_IMPORT_MEMORY", raising=False)
    assert reader.work_memory() == reader.default_work_memory(min(2 * gib, physical))
    monkeypatch.setenv("SAAS_TRACKER_IMPORT_MEMORY", "300MB")
    assert reader.work_memory() == "300MB"


# --- event keys -----------------------------------------------------------------------------

def _reference_key(fields: list[str | int], tag: int) -> int:
    """The documented key definition, one value at a time, in plain Python."""
    mask = (1 << 64) - 1

    def fmix(h: int) -> int:
        h ^= h >> 33
        h = (h * 0xFF51AFD7ED558CCD) & mask
        h ^= h >> 33
        h = (h * 0xC4CEB9FE1A85EC53) & mask
        return h ^ (h >> 33)

    h = tag
    for f in fields:
        if isinstance(f, str):
            v = 0xCBF29CE484222325
            for ch in f:
                v = ((v ^ ord(ch)) * 0x100000001B3) & mask
            v = fmix(v)
        else:
            v = f & mask
        h = fmix(((h * 0x9E3779B97F4A7C15) & mask) ^ v)
    return h & ((1 << 63) - 1)


def test_event_keys_follow_their_documented_definition():
    org = pd.Series(["acme", "acme", "zürich-gmbh", "acme"], dtype=object)
    user = pd.Series(["u1", "u1", "ü", "u1"], dtype=object)
    event = pd.Series(["api", "api", "reports", "api"], dtype=object)
    ts = np.array([1714554000000000, 1714554000000000, 0, 1714554000000001], dtype=np.int64)
    count = np.array([1, 1, 3, 1], dtype=np.int64)
    event_id = pd.Series(["e1", "", "", ""], dtype=object)
    keys = event_keys(org, user, event, ts, count, event_id)

    assert keys.tolist() == [
        _reference_key(["acme", "e1"], 1),
        _reference_key(["acme", "u1", "api", 1714554000000000, 1], 2),
        _reference_key(["zürich-gmbh", "ü", "reports", 0, 3], 2),
        _reference_key(["acme", "u1", "api", 1714554000000001, 1], 2),
    ]
    assert len(set(keys.tolist())) == 4 and all(0 <= k < 2**63 for k in keys.tolist())
    # Ids on every row, or on none, take a shorter way to the same keys.
    assert event_keys(org[:1], user[:1], event[:1], ts[:1], count[:1], event_id[:1]).tolist() == keys[:1].tolist()
    assert event_keys(org[1:], user[1:], event[1:], ts[1:], count[1:], event_id[1:]).tolist() == keys[1:].tolist()
    # Pinned: a change of definition would make every previously imported event look new.
    assert keys[0] == _reference_key(["acme", "e1"], 1) == 6298155214074293388
    # Hashing without looking for repeats (event ids) gives the same hashes.
    from storage.event_keys import text_hash

    names = np.array(["acme", "acme", "zürich-gmbh", "", "e1"], dtype=object)
    assert text_hash(names, repeated=False).tolist() == text_hash(names).tolist()



def _reference_text_hash(text: str) -> int:
    """FNV-1a over the code points, then MurmurHash3's finalizer: one field of the key."""
    mask = (1 << 64) - 1
    v = 0xCBF29CE484222325
    for ch in text:
        v = ((v ^ ord(ch)) * 0x100000001B3) & mask
    v ^= v >> 33
    v = (v * 0xFF51AFD7ED558CCD) & mask
    v ^= v >> 33
    v = (v * 0xC4CEB9FE1A85EC53) & mask
    return v ^ (v >> 33)


# Without NUL (the import refuses a cell holding one before anything is hashed) and without
# surrogates (no UTF-8 file holds one).
_ASCII_IDS = st.text(alphabet=st.characters(max_codepoint=127, exclude_characters="\x00"), max_size=24)
_ANY_IDS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(_ASCII_IDS, _ANY_IDS), max_size=30), st.integers(0, 3))
def test_event_ids_hashed_from_arrow_buffers_hash_as_each_value_alone(ids, skip):
    """The import hashes event ids straight from Arrow's UTF-8 buffer (bytes, for ASCII),
    falling back to Python strings otherwise; either way each id hashes as the definition
    says, whatever the lengths, and from a slice of a larger array too."""
    import pyarrow as pa

    from storage.event_keys import utf8_text_hash

    arr = pa.array(["padding"] * skip + ids, type=pa.string()).slice(skip)
    assert utf8_text_hash(arr).tolist() == [_reference_text_hash(t) for t in ids]
    assert utf8_text_hash(pa.chunked_array([arr], type=pa.string())).tolist() == [_reference_text_hash(t) for t in ids]
    assert utf8_text_hash(arr.cast(pa.large_string())).tolist() == [_reference_text_hash(t) for t in ids]

_ONE_LENGTH_IDS = st.integers(0, 16).flatmap(lambda width: st.lists(
    st.text(alphabet=st.characters(max_codepoint=127, exclude_characters="\x00"), min_size=width, max_size=width),
    min_size=1, max_size=30))


@settings(max_examples=60, deadline=None)
@given(_ONE_LENGTH_IDS, st.integers(0, 3))
def test_event_ids_of_one_length_hash_as_each_value_alone(ids, skip):
    """Ids all of one length (exported ids often are) are hashed as a matrix of bytes: the
    same keys as the definition gives, from a slice of a larger array too."""
    import pyarrow as pa

    from storage.event_keys import utf8_text_hash

    arr = pa.array(["padding-of-another-length"] * skip + ids, type=pa.string()).slice(skip)
    expected = [_reference_text_hash(t) for t in ids]
    assert utf8_text_hash(arr).tolist() == expected
    assert utf8_text_hash(pa.chunked_array([arr], type=pa.string())).tolist() == expected
    assert utf8_text_hash(arr.cast(pa.large_string())).tolist() == expected


FAST_LANE_SAMPLES = [
    # (timestamp, count, org_id, whether the fast lane must vouch for the row)
    ("2024-05-01T09:00:00Z", "", "acme", True),
    ("2024-05-01T09:00:00.5Z", "3", "acme", True),
    ("2024-05-01T23:30:00-02:00", "1", "acme", True),
    ("2024-05-01T17:45:10.123456+02:00", "2147483647", "acme", True),
    ("2024-05-01", "7", "acme", True),
    ("2024-05-01 09:00:00", "1", "acme", True),
    ("1970-01-01T00:00:00Z", "1", "acme", True),
    ("2100-12-31T23:59:59.999999Z", "1", "acme", True),
    ("1969-12-31T23:59:59Z", "1", "acme", False),
    ("2101-01-01T00:00:00Z", "1", "acme", False),
    ("2024-02-30T09:00:00Z", "1", "acme", False),
    ("2024-05-01T24:00:00Z", "1", "acme", False),
    ("2024-05-01T09:00:00.1234567Z", "1", "acme", False),
    ("2024-05", "1", "acme", False),
    ("2024-05-01T09:00Z", "1", "acme", False),
    ("20240501T090000Z", "1", "acme", False),
    ("2024-05-01T09:00:00Z", "0", "acme", False),
    ("2024-05-01T09:00:00Z", "2147483648", "acme", False),
    ("2024-05-01T09:00:00Z", "1.0", "acme", False),
    ("2024-05-01T09:00:00Z", "-1", "acme", False),
    ("2024-05-01T09:00:00Z", "007", "acme", True),
    ("2024-05-01T09:00:00Z", "1", "nobody", False),
    ("2024-05-01T09:00:00Z", "1", "", False),
    # Whitespace around a time or a count fails the patterns: the events import trims such
    # cells and passes their rows through the fast lane again (``EventImport._lane``).
    (" 2024-05-01T09:00:00Z", "1", "acme", False),
    ("2024-05-01T09:00:00Z\u00a0", "1", "acme", False),
    ("2024-05-01T09:00:00Z", "1 ", "acme", False),
    ("2024-05-01T09:00:00Z", "\t", "acme", False),
]


def _validator_calls(monkeypatch) -> list[int]:
    """The sizes of the chunks handed to the full validator (``check_frame``) by the
    events import's slow lane, recorded from here on."""
    import storage.event_import

    calls: list[int] = []
    check = storage.event_import.check_frame

    def recorded(frame, *args, **kwargs):
        calls.append(len(frame))
        return check(frame, *args, **kwargs)

    monkeypatch.setattr(storage.event_import, "check_frame", recorded)
    return calls


def test_cells_are_trimmed_of_any_ascii_whitespace(session_factory, tmp_path, monkeypatch):
    """Tabs, vertical tabs and form feeds around a cell go, like spaces,
    whether they lead or trail (an exporter's padding), in any mix, and the row then passes
    the fast lane (its second pass, for a padded time or count): no row goes through the
    validator."""
    padded = ("org_id,user_id,event,timestamp,count\n"
              "\tacme ,u1\x0b,dashboards\f,2024-05-01T09:00:00Z\f, 2\t\n"
              "beta,\x0c u9,api \t, \t2024-05-01T12:00:00Z,4\n")
    validated = _validator_calls(monkeypatch)
    report = import_paths([write(tmp_path, orgs=ORGS_CSV, usage_events=padded)], session_factory)
    assert validated == []
    assert (report.events_read, report.events_new) == (2, 2)
    assert per_user(session_factory) == [("acme", D1, "u1", 2), ("beta", D1, "u9", 4)]
    assert per_feature(session_factory) == [("acme", D1, "dashboards", 2), ("beta", D1, "api", 4)]


_PADS = ("", " ", "\t", "\u00a0", "", "\u3000 ", "\u2007\t")


def _padded(csv_text: str) -> str:
    """``csv_text`` with whitespace around its data cells, in a mix that pads the same name
    differently in different rows."""
    header, *rows = csv_text.strip("\n").split("\n")
    cells = [row.split(",") for row in rows]
    out = [[_PADS[(3 * r + c) % len(_PADS)] + cell + _PADS[(r + 2 * c) % len(_PADS)] for c, cell in enumerate(row)]
           for r, row in enumerate(cells)]
    return "\n".join([header, *(",".join(row) for row in out)]) + "\n"


def test_whitespace_around_any_cell_changes_no_event_and_no_rollup(session_factory, tmp_path, monkeypatch):
    """The events file is loaded untrimmed and each distinct name trimmed once: " u1\t" and
    "\u2007\tu1\u2007\t" are user u1 of the rollups and of the event keys, as "u1" is.
    The padded fixture gives exactly the hand-worked numbers of the bare one, and the bare
    file imported after it is every event again."""
    padded = _padded(EVENTS_CSV)
    validated = _validator_calls(monkeypatch)
    spellings = {line.split(",")[1] for line in padded.splitlines()[1:] if line.split(",")[1].strip() == "u1"}
    assert len(spellings) == 3  # the case this test is for: one name, spelled three ways in one file

    report = import_paths([write(tmp_path / "padded", orgs=ORGS_CSV, usage_events=padded)], session_factory)
    assert (report.events_read, report.events_new, report.events_duplicate) == (8, 6, 2)
    assert validated == []  # every row vouched for by the fast lane, padded times and counts too
    assert (daily(session_factory), per_user(session_factory), per_feature(session_factory)) == (
        EVENTS_DAILY, EVENTS_PER_USER, EVENTS_PER_FEATURE)
    keys = stored_keys(session_factory)
    assert len(keys) == 6
    again = import_paths([write(tmp_path / "bare", usage_events=EVENTS_CSV)], session_factory)
    assert (again.events_new, again.events_duplicate) == (0, 8)
    assert stored_keys(session_factory) == keys


def test_a_name_of_only_whitespace_is_the_empty_name_the_validator_names(session_factory, tmp_path):
    """A user id of spaces is an empty user id: the row is refused with its line and
    column, as an empty cell is, and nothing is written."""
    events = ("org_id,user_id,event,timestamp,count\n"
              "acme,u1,dashboards,2024-05-01T09:00:00Z,1\n"
              "acme, \u00a0\t,dashboards,2024-05-01T10:00:00Z,1\n")
    with pytest.raises(ImportRejected) as err:
        import_paths([write(tmp_path, orgs=ORGS_CSV, usage_events=events)], session_factory)
    assert [(e.line, e.column, e.reason) for e in err.value.errors] == [(3, "user_id", "empty required value")]
    assert per_user(session_factory) == [] and stored_keys(session_factory) == []


def test_the_trim_test_skips_no_whitespace_character():
    """The reader only trims a cell whose first or last character is outside 33..159 (one
    range, so DuckDB plans no join); every character it trims must be outside it."""
    from storage.reader import _FIRST_OTHER_SPACE, _LAST_ASCII_SPACE, _WHITESPACE_CODES

    assert all(c <= _LAST_ASCII_SPACE or c >= _FIRST_OTHER_SPACE for c in _WHITESPACE_CODES)
    assert {9, 32, 160, 12288} <= set(_WHITESPACE_CODES)


@given(st.lists(st.tuples(st.text(" \t\r\n\f\vaé\u00a0\u3000\u2028", max_size=6), st.text(" \t\x0bx", max_size=4)),
                min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_the_reader_trims_the_whitespace_around_each_cell_and_nothing_inside(cells):
    """What DuckDB loads is each cell stripped of the ASCII whitespace and Unicode space
    separators around it, in any mix (space then tab, tab then no-break space), inner ones
    kept."""
    import csv
    import io
    import tempfile
    import unicodedata

    from storage.csv_contract import EVENTS
    from storage.csv_files import InputFile, read_header
    from storage.reader import WorkDB, load_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "usage_events.csv"
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(["org_id", "user_id"])
        writer.writerows(cells)
        path.write_text(text.getvalue(), encoding="utf-8")
        with WorkDB() as work:
            load_file(work, InputFile(EVENTS, path), read_header(path), "loaded")
            rows = work.con.execute("SELECT org_id, user_id FROM loaded ORDER BY rowid").fetchall()
    stripped = " \t\r\n\f\v" + "".join(chr(c) for c in range(0x3001) if unicodedata.category(chr(c)) == "Zs")
    assert rows == [tuple(c.strip(stripped) for c in row) for row in cells]


def test_rows_the_fast_lane_vouches_for_are_valid_with_the_same_values():
    """The DuckDB fast lane (``storage.validation.fast_lane``) may only skip the validator
    for rows the validator accepts, and must give them the validator's time and count."""
    from storage.csv_contract import EVENTS
    from storage.reader import WorkDB
    from storage.validation import check_frame, fast_lane

    frame = pd.DataFrame({"org_id": [s[2] for s in FAST_LANE_SAMPLES], "user_id": "u1", "event": "api",
                          "timestamp": [s[0] for s in FAST_LANE_SAMPLES], "count": [s[1] for s in FAST_LANE_SAMPLES],
                          "event_id": ""}, dtype=object)
    with WorkDB() as work:
        work.con.register("sample", frame)
        work.con.execute("CREATE TABLE raw AS SELECT * FROM sample")
        work.con.execute("CREATE TABLE known AS SELECT 'acme' AS org_id")
        lane = work.con.execute(fast_lane(EVENTS, set(frame.columns), "(SELECT rowid AS rec, * FROM raw)",
                                          "known")).df().sort_values("rec", ignore_index=True)
    assert lane["rec"].tolist() == list(range(len(frame)))
    assert lane["ok"].tolist() == [s[3] for s in FAST_LANE_SAMPLES]
    parsed, issues = check_frame(frame, EVENTS, {n: i for i, n in enumerate(frame.columns)})
    bad = np.zeros(len(frame), dtype=bool)
    for issue in issues:
        bad |= issue.mask
    ok = lane["ok"].to_numpy(dtype=bool)
    assert not (ok & bad).any()
    ts_us = parsed["timestamp"].dt.as_unit("us").astype("int64").to_numpy()
    counts = parsed["count"].fillna(1).to_numpy()
    assert lane["ts_us"][ok].astype("int64").tolist() == ts_us[ok].tolist()
    assert lane["n"][ok].astype("int64").tolist() == counts[ok].astype("int64").tolist()


# --- CLI ------------------------------------------------------------------------------------

def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "saas-tracker.toml"
    config.write_text("")
    return config


def _invoke(db_url: str, tmp_path: Path, *args: str):
    config = write_config(tmp_path)
    return CliRunner().invoke(cli, ["--config", str(config), "import", "--quiet", *args],
                              env={"DATABASE_URL": db_url})


def test_cli_imports_and_prints_the_summary(db_url, session_factory, tmp_path):
    result = _invoke(db_url, tmp_path, str(full_set(tmp_path / "data")))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "orgs                        2 rows: 2 inserted, 0 updated, 0 unchanged"
    assert lines[4] == "usage events                8 rows: 6 new, 2 already imported; 3 org-days updated"
    assert lines[5] == "application: default"
    assert lines[6].startswith("imported in ")
    assert counts(session_factory)["orgs"] == 2


def test_cli_rejects_bad_input_with_exit_code_1(db_url, session_factory, tmp_path):
    directory = write(tmp_path / "data", orgs="org_id,name,seats\nacme,Acme,-2\nbeta,,1\n")
    result = _invoke(db_url, tmp_path, str(directory))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{directory}/orgs.csv:2: seats: must not be negative: '-2'",
        f"{directory}/orgs.csv:3: name: empty required value",
        "import rejected: 2 errors; nothing was written.",
    ]
    assert result.stdout == ""
    assert set(counts(session_factory).values()) == {0}


def test_cli_dry_run_and_unknown_path(db_url, session_factory, tmp_path):
    result = _invoke(db_url, tmp_path, "--dry-run", str(full_set(tmp_path / "data")))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "orgs                        2 rows: 2 inserted, 0 updated, 0 unchanged"
    assert result.stdout.splitlines()[-1].startswith("dry run, nothing written in ")
    assert set(counts(session_factory).values()) == {0}

    result = _invoke(db_url, tmp_path, str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert result.stderr == f"import: {tmp_path / 'nowhere'}: no such file or directory\n"


# --- applications: an org belongs to one application ------------------------------------------

def _org_apps(factory: sessionmaker[Session]) -> dict[str, str]:
    with factory() as s:
        return dict(s.execute(select(Org.org_id, Application.name).join(Application)).all())


def test_import_with_scan_alerts_an_org_its_new_events_make_qualify(db_url, session_factory, tmp_path, slack_stub):
    """``import --scan``: the scan runs right after the import and queues the alert the new
    events cause (a paying org never seen before turns out to be at risk); ``--deliver``
    posts it at once. A plain import queues nothing."""
    from freezegun import freeze_time

    from storage.models import Outbox

    config = tmp_path / "saas-tracker.toml"
    config.write_text("[slack]\nalert_priority_threshold = 50\n")
    env = {"DATABASE_URL": db_url, "SLACK_BOT_TOKEN": slack_stub.token, "SLACK_API_URL": slack_stub.base_url}

    def run(*args: str):
        result = CliRunner().invoke(cli, ["--config", str(config), *args], env=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    def alerts() -> list[tuple[str, str]]:
        with session_factory() as s:
            return [(o.kind, o.payload["text"]) for o in s.scalars(select(Outbox).order_by(Outbox.id))]

    orgs = write(tmp_path / "orgs",
                 orgs="org_id,name,created_at,seats\nacme,Acme,2026-01-05,5\nbeta,Beta,2026-01-05,5\n",
                 subscriptions="subscription_id,org_id,mrr,started_at\ns1,acme,50000,2026-01-05\n"
                               "s2,beta,300,2026-01-05\n")
    run("import", "--quiet", str(orgs))
    with freeze_time("2026-10-01T10:00:00Z"):
        run("scan")  # neither org seen yet: both "Inactive paying"
    before = alerts()
    assert before == [
        ("alert", "New high-priority signal: Acme — Inactive paying (priority 74), MRR $50,000"),
        ("alert", "New high-priority signal: Beta — Inactive paying (priority 52), MRR $300"),
    ]
    events = write(tmp_path / "events", usage_events="org_id,user_id,event,timestamp\n"
                                                     "acme,u1,reports,2026-10-02T09:00:00Z\n")
    with freeze_time("2026-10-03T10:00:00Z"):
        run("import", "--quiet", "--dry-run", str(events))
        assert alerts() == before
        out = run("import", "--quiet", "--scan", "--deliver", str(events))
    assert "usage events                1 rows: 1 new" in out
    # Acme is seen now: its "Inactive paying" resolves and "Revenue at risk" opens (health low).
    assert "scanned 2 orgs as of 2026-10-03 10:00 UTC: 1 signals opened, 1 updated, 1 resolved" in out
    assert alerts()[len(before):] == [
        ("alert", "New high-priority signal: Acme — Revenue at risk (priority 55), MRR $50,000")]
    # The flush sends every due row: the two earlier alerts were still waiting for one.
    assert [(p["channel"], p["text"]) for p in slack_stub.posted] == [("C0CUSTSUCC", text) for _, text in alerts()]
    with session_factory() as s:
        assert [o.status for o in s.scalars(select(Outbox).order_by(Outbox.id))] == ["sent", "sent", "sent"]


def test_deliver_needs_scan_and_scan_needs_a_real_import(db_url, tmp_path):
    result = _invoke(db_url, tmp_path, "--deliver", str(full_set(tmp_path / "data")))
    assert result.exit_code == 2 and "--deliver sends the alerts of the scan: give --scan too" in result.output
    result = _invoke(db_url, tmp_path, "--scan", "--dry-run", str(tmp_path / "data"))
    assert result.exit_code == 2 and "a dry run writes nothing to scan" in result.output


def test_an_org_id_of_another_application_is_rejected_not_moved(session_factory, tmp_path):
    import_paths([write(tmp_path / "a", orgs="org_id,name\nacme,Acme\n")], session_factory, application="A")
    before = snapshot(session_factory)
    # Application B's export reuses "acme": by the option, and by the column.
    by_option = write(tmp_path / "b", orgs="org_id,name\nbeta,Beta\nacme,Acme of B\n",
                      subscriptions="subscription_id,org_id,mrr,started_at\ns1,beta,10,2024-01-01\n")
    with pytest.raises(ImportRejected) as err:
        import_paths([by_option], session_factory, application="B")
    assert [str(e) for e in err.value.errors] == [
        f'{by_option}/orgs.csv:3: org_id: "acme" already belongs to application "A"'
    ]
    by_column = write(tmp_path / "c", orgs="org_id,name,application\nacme,Acme,B\nbeta,Beta,A\n")
    with pytest.raises(ImportRejected) as err:
        import_paths([by_column], session_factory, application="A")
    assert [str(e) for e in err.value.errors] == [
        f'{by_column}/orgs.csv:2: org_id: "acme" already belongs to application "A"'
    ]
    assert snapshot(session_factory) == before
    assert _org_apps(session_factory) == {"acme": "A"}


def test_references_must_name_orgs_of_the_application_being_imported(session_factory, tmp_path):
    import_paths([write(tmp_path / "a", orgs="org_id,name\nacme,Acme\n")], session_factory, application="A")
    before = snapshot(session_factory)
    files = {
        "orgs": "org_id,name\nbeta,Beta\n",
        "subscriptions": "subscription_id,org_id,mrr,started_at\ns1,beta,10,2024-01-01\ns2,acme,10,2024-01-01\n",
        "tickets": "ticket_id,org_id,opened_at,severity\nt1,acme,2024-05-01,p2\n",
        "surveys": "org_id,score,responded_at\nacme,7,2024-05-01\nbeta,7,2024-05-01\n",
        "usage_events": "org_id,user_id,event,timestamp\nbeta,u1,api,2024-05-01\nacme,u1,api,2024-05-01\n",
    }
    directory = write(tmp_path / "b", **files)
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory, application="B")
    assert [str(e) for e in err.value.errors] == [
        f'{directory}/subscriptions.csv:3: org_id: unknown org "acme" in application "B"',
        f'{directory}/tickets.csv:2: org_id: unknown org "acme" in application "B"',
        f'{directory}/surveys.csv:2: org_id: unknown org "acme" in application "B"',
        f'{directory}/usage_events.csv:3: org_id: unknown org "acme" in application "B"',
    ]
    # Without an orgs file the option names the application; with one, its rows do.
    events_only = write(tmp_path / "c", usage_events="org_id,user_id,event,timestamp\nacme,u1,api,2024-05-01\n")
    with pytest.raises(ImportRejected) as err:
        import_paths([events_only], session_factory, application="B")
    assert [str(e) for e in err.value.errors] == [
        f'{events_only}/usage_events.csv:2: org_id: unknown org "acme" in application "B"'
    ]
    by_column = write(tmp_path / "d", orgs="org_id,name,application\nbeta,Beta,B\ngamma,Gamma,C\n",
                      tickets="ticket_id,org_id,opened_at,severity\nt1,gamma,2024-05-01,p2\nt2,acme,2024-05-01,p2\n")
    with pytest.raises(ImportRejected) as err:
        import_paths([by_column], session_factory, application="A")
    assert [str(e) for e in err.value.errors] == [
        f'{by_column}/tickets.csv:3: org_id: unknown org "acme" in applications "B", "C"'
    ]
    assert snapshot(session_factory) == before


def test_reimporting_an_application_with_its_stored_orgs_still_works(session_factory, tmp_path):
    import_paths([write(tmp_path / "a", orgs="org_id,name\nacme,Acme\n")], session_factory, application="A")
    b = write(tmp_path / "b", orgs="org_id,name\nbeta,Beta\n",
              subscriptions="subscription_id,org_id,mrr,started_at\ns1,beta,10,2024-01-01\n",
              usage_events="org_id,user_id,event,timestamp\nbeta,u1,api,2024-05-01\n")
    first = import_paths([b], session_factory, application="B")
    before = snapshot(session_factory)
    again = import_paths([b], session_factory, application="B")
    assert (first.orgs.inserted, again.orgs.unchanged, again.orgs.updated) == (1, 1, 0)
    assert (again.subscriptions.unchanged, again.events_new, again.events_duplicate) == (1, 0, 1)
    assert snapshot(session_factory) == before
    # A's own files, and B's events alone (they refer to B's stored org), import too.
    renamed = import_paths([write(tmp_path / "a2", orgs="org_id,name,application\nacme,Acme Corp,A\n")],
                           session_factory, application="B")
    assert (renamed.orgs.updated, renamed.applications) == (1, ["A"])
    more = import_paths([write(tmp_path / "b2",
                               usage_events="org_id,user_id,event,timestamp\nbeta,u2,api,2024-05-02\n")],
                        session_factory, application="B")
    assert more.events_new == 1
    assert _org_apps(session_factory) == {"acme": "A", "beta": "B"}


def test_an_event_with_count_zero_is_a_bad_value(session_factory, tmp_path):
    """One rule for count 0: rejected, like a negative count. (Before, such a row moved last
    seen and active users but not active days: a user "active" with zero events.)"""
    import_paths([write(tmp_path / "a", orgs=ORGS_CSV)], session_factory)
    before = snapshot(session_factory)
    directory = write(tmp_path / "b", usage_events="org_id,user_id,event,timestamp,count\n"
                                                   "acme,u1,api,2024-05-01,1\nacme,u2,api,2024-05-02T10:00:00Z,0\n")
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory)
    assert [str(e) for e in err.value.errors] == [f"{directory}/usage_events.csv:3: count: must be at least 1: '0'"]
    assert snapshot(session_factory) == before
    # An empty count is still 1; seats (also a count) may be 0.
    ok = write(tmp_path / "c", orgs="org_id,name,seats\nacme,Acme,0\n",
               usage_events="org_id,user_id,event,timestamp,count\nacme,u1,api,2024-05-01,\n")
    import_paths([ok], session_factory)
    assert daily(session_factory) == [("acme", D1, 1, 1, 1, dt.datetime(2024, 5, 1, tzinfo=UTC))]


# --- Parquet: the same contract, rows instead of lines ------------------------------------------

def to_parquet(directory: Path, name: str, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as ``<name>.parquet`` with the column types pandas gives it."""
    import duckdb

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.parquet"
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(f"COPY (SELECT * FROM frame) TO '{path}' (FORMAT parquet)")
    return path


def text_frame(csv_text: str) -> pd.DataFrame:
    import io

    return pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)


def typed_events(csv_text: str) -> pd.DataFrame:
    """The events with a real timestamp (UTC) column, an integer count and null event ids."""
    frame = text_frame(csv_text)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    frame["count"] = pd.to_numeric(frame["count"].replace("", None)).astype("Int64")
    frame["event_id"] = frame["event_id"].replace("", None)
    return frame


def test_parquet_files_import_like_their_csv(session_factory, tmp_path):
    directory = tmp_path / "pq"
    to_parquet(directory, "orgs", text_frame(ORGS_CSV))
    to_parquet(directory, "usage_events", typed_events(EVENTS_CSV))
    report = import_paths([directory], session_factory)

    assert (report.orgs.inserted, report.events_read, report.events_new, report.events_duplicate) == (2, 8, 6, 2)
    csv_factory_rows = (daily(session_factory), per_user(session_factory), per_feature(session_factory))
    assert csv_factory_rows[0] == [
        ("acme", D1, 5, 3, 2, dt.datetime(2024, 5, 1, 15, 45, 10, 500000, tzinfo=UTC)),
        ("acme", D2, 3, 1, 1, dt.datetime(2024, 5, 2, 1, 30, tzinfo=UTC)),
        ("beta", D1, 4, 1, 1, dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
    ]
    with session_factory() as s:
        beta = s.get(Org, "beta")
    assert beta.created_at == dt.datetime(2024, 2, 1, 8, 0, tzinfo=UTC)
    # The CSV files of the same rows add nothing: the same events, the same orgs.
    again = import_paths([write(tmp_path / "csv", orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    assert (again.orgs.unchanged, again.events_new) == (2, 0)
    assert (daily(session_factory), per_user(session_factory), per_feature(session_factory)) == csv_factory_rows


def test_bad_parquet_values_are_reported_by_row(session_factory, tmp_path):
    import_paths([write(tmp_path / "base", orgs="org_id,name\nacme,Acme\n")], session_factory)
    before = snapshot(session_factory)
    directory = tmp_path / "pq"
    to_parquet(directory, "orgs", text_frame("org_id,name\nacme,Acme\nbeta,Beta\nacme,Again\n"))
    to_parquet(directory, "usage_events", typed_events(
        "org_id,user_id,event,timestamp,count,event_id\nacme,u1,api,2024-05-01T10:00:00Z,1,\n"
        "acme,u1,api,2024-05-01T11:00:00Z,-1,\n"))
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory)
    assert [str(e) for e in err.value.errors] == [
        f"{directory}/orgs.parquet:row 3: org_id: duplicate id 'acme' (first on row 1)",
        f"{directory}/usage_events.parquet:row 2: count: must not be negative: '-1'",
    ]
    assert snapshot(session_factory) == before

    to_parquet(directory, "orgs", text_frame("org_id,name,colour\nacme,Acme,red\n"))
    (directory / "usage_events.parquet").unlink()
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory)
    assert [str(e) for e in err.value.errors] == [
        f"{directory}/orgs.parquet: colour: unknown column (the orgs columns are {ORGS_COLUMNS})"
    ]
    (directory / "orgs.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory)
    assert [str(e) for e in err.value.errors] == [f"{directory}/orgs.parquet: not a readable Parquet file"]
    assert snapshot(session_factory) == before


def test_an_in_memory_sqlite_database_imports_the_same_rows_as_a_file(tmp_path):
    """An in-memory database is one connection's own, which must not move to the import's
    side thread (``storage.side_thread``): its keys are stored in line, with the same result."""
    from storage.db import make_engine, make_session_factory
    from storage.models import Base

    rows = []
    for url in (f"sqlite:///{tmp_path / 'file.db'}", "sqlite://"):
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        factory = make_session_factory(engine)
        report = import_paths([full_set(tmp_path / "data")], factory)
        assert (report.events_read, report.events_new) == (8, 6)
        rows.append(snapshot(factory))
        engine.dispose()
    assert rows[0]["event_key_blocks"] and rows[0]["usage_daily_users"]
    assert rows[1] == rows[0]
