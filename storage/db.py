"""Engines and sessions: one place that knows how to talk to SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text
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
