"""Reads beside the scan's own connection: the same answers, another connection, and on
PostgreSQL the snapshot of the transaction that started them."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from domain.config import Config
from services import scanning
from storage import queries
from storage.db import make_engine, make_session_factory
from storage.models import Base, Org
from storage.side_reads import side_reads
from test_queries import AS_OF, _seed


def _connection_id(session) -> object:
    """Which database connection the session reads on: the server process on PostgreSQL, the
    driver's connection object on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(text("SELECT pg_backend_pid()"))
    return id(session.connection().connection.driver_connection)


def test_a_side_read_runs_on_another_connection_in_another_thread(session_factory) -> None:
    with session_factory() as session, session.begin():
        own = _connection_id(session)
        with side_reads(session) as submit:
            seen = submit(lambda side: (_connection_id(side), threading.current_thread().name)).result()
    assert seen[0] != own
    assert seen[1].startswith("side-read")


def test_the_scan_reads_the_same_frames_side_by_side_as_in_order(session_factory) -> None:
    cfg = Config()
    with session_factory() as session, session.begin():
        app_id = _seed(session)
    with session_factory() as session, session.begin():
        in_order = queries.org_frame(session, app_id, AS_OF, cfg)
        ctx_in_order = scanning.scan_context(session, app_id, AS_OF, cfg)
        with side_reads(session) as submit:
            beside = queries.org_frame(session, app_id, AS_OF, cfg, submit=submit)
            ctx_beside = scanning.scan_context(session, app_id, AS_OF, cfg, submit=submit)
    assert len(in_order) == 2 and in_order["recent_events"].sum() > 0
    assert in_order.equals(beside)
    assert ctx_beside.key_feature_total == ctx_in_order.key_feature_total > 0
    assert ctx_beside.tickets_available == ctx_in_order.tickets_available


def test_an_error_in_a_side_read_reaches_the_caller(session_factory) -> None:
    def broken(side) -> None:
        side.execute(text("SELECT * FROM no_such_table"))

    with session_factory() as session, session.begin():
        with pytest.raises(Exception, match="no_such_table"):
            with side_reads(session) as submit:
                submit(broken).result()


def test_postgresql_side_reads_see_the_snapshot_they_began_in(session_factory) -> None:
    """A row committed after the side reads began is not seen by them (they import the scan
    transaction's snapshot); on SQLite every read sees what is committed when it runs, on the
    scan's connection as beside it."""
    with session_factory() as session, session.begin():
        app_id = _seed(session)
    with session_factory() as session, session.begin():
        before = session.scalar(text("SELECT COUNT(*) FROM orgs"))
        with side_reads(session) as submit:
            with session_factory() as other, other.begin():
                other.add(Org(org_id="late", application_id=app_id, name="Late Ltd"))
            seen = submit(lambda side: side.scalar(text("SELECT COUNT(*) FROM orgs"))).result()
        postgresql = session.get_bind().dialect.name == "postgresql"
    assert seen == (before if postgresql else before + 1)


def test_a_database_in_memory_reads_on_the_session_itself() -> None:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    try:
        with make_session_factory(engine)() as session, session.begin():
            own = _connection_id(session)
            with side_reads(session) as submit:
                seen = submit(lambda side: (side is session, _connection_id(side),
                                            threading.current_thread().name)).result()
        assert seen == (True, own, threading.current_thread().name)
    finally:
        engine.dispose()
