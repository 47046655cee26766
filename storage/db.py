"""Engines and sessions: one place that knows how to talk to SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from domain.config import Secrets
from domain.vocabulary import DEFAULT_APPLICATION
from storage.models import Application


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys and a busy timeout so it behaves like a server."""
    url = url or Secrets.from_env().database_url
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        file_backed = ":memory:" not in url and url not in ("sqlite://", "sqlite:///")
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if file_backed:
                # Readers never wait for a writer (a scan, an import) and vice versa: /signals
                # answers while a scan runs.
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed as a whole or not at all."""
    with factory() as session:
        with session.begin():
            yield session


def get_or_create_application(session: Session, name: str = DEFAULT_APPLICATION) -> Application:
    app = session.scalar(select(Application).where(Application.name == name))
    if app is None:
        app = Application(name=name)
        session.add(app)
        session.flush()
    return app


def application_by_id(session: Session, application_id: int) -> Application | None:
    return session.get(Application, application_id)


def find_application(session: Session, name: str = DEFAULT_APPLICATION) -> Application | None:
    return session.scalar(select(Application).where(Application.name == name))


def database_reachable(factory: sessionmaker[Session]) -> bool:
    """One round trip (SELECT 1): what a load balancer's health check asks."""
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
    except Exception:  # any driver or network error means "not reachable" to the caller
        return False
    return True


class DatabaseUnusable(RuntimeError):
    """The database can't be used as it is; the message says what to do, in one line."""


def in_memory_sqlite(conn: Connection) -> bool:
    """Whether ``conn``'s database is SQLite in memory: one connection's own, which no other
    connection sees and whose driver connection no other thread may use (SQLAlchemy lets
    only a file database's connections move between threads)."""
    if conn.dialect.name != "sqlite":
        return False
    url = conn.engine.url
    return (url.database or "") in ("", ":memory:") or "mode=memory" in str(url)


def sqlite_path(url: str) -> Path | None:
    """The file of a file-backed SQLite URL (None for other databases and in-memory ones)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def open_database(url: str) -> sessionmaker[Session]:
    """A session factory for an existing database with the schema, or DatabaseUnusable.

    Never creates anything: SQLite would create an empty file on connect (and a relative path
    means "in the current directory", a classic way to end up reading an empty database), so a
    missing file is refused before connecting; a database without the schema is refused with
    the command that creates it.
    """
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise DatabaseUnusable(f"no database at {path.resolve()}: run `saas-tracker db upgrade` to create it, "
                               "or point DATABASE_URL at the one you use")
    engine = make_engine(url)
    if not inspect(engine).has_table(Application.__tablename__):
        engine.dispose()
        where = path.resolve() if path is not None else make_url(url).render_as_string(hide_password=True)
        raise DatabaseUnusable(f"the database at {where} has no SaaS Tracker schema: run `saas-tracker db upgrade`")
    return make_session_factory(engine)


@contextmanager
def read_only_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session the database itself refuses to write through (PostgreSQL: a READ ONLY
    transaction; SQLite: ``query_only``), so a report can run against the production database
    while the bot serves and provably changes nothing.

    On SQLite ``query_only`` belongs to the connection, not the transaction: the session is
    bound to one connection, which is switched back before it returns to the pool (a session
    on the pool could end on another connection and leave this one refusing every write)."""
    engine = factory.kw["bind"]
    if engine.dialect.name == "postgresql":
        with factory() as session:
            session.connection().exec_driver_sql("SET TRANSACTION READ ONLY")
            yield session
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA query_only = ON")
        try:
            with factory(bind=connection) as session:
                yield session
        finally:
            if connection.in_transaction():
                connection.rollback()
            connection.exec_driver_sql("PRAGMA query_only = OFF")
