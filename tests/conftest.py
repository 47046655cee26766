"""Shared fixtures: every storage and scan test runs on SQLite and, when TEST_DATABASE_URL is
set (CI sets it), on PostgreSQL too.

Each pytest process works in its own PostgreSQL schema, so parallel runs against the one
`test` database never see each other's rows.

Markers are given by what a test uses, so nobody has to remember them: a test that asks for
a database fixture is ``db``, one that asks for the Slack stand-in is ``slack``; modules
that build the demo database or start processes say ``slow`` themselves. ``make test-fast``
runs the rest: pure scoring, builders, parsing and configuration.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_session_factory
from storage.models import Base

PG_URL = os.environ.get("TEST_DATABASE_URL", "")

# Property tests judge behaviour, never speed: no wall-clock deadline, so a loaded machine
# (CI running both databases at once) never fails a correct example.
settings.register_profile("saas-tracker", deadline=None)
settings.load_profile("saas-tracker")

_DB_FIXTURES = frozenset({"db_url", "engine", "session_factory", "session", "pg_schema_url"})
_SLACK_FIXTURES = frozenset({"slack_stub", "slack_client"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & _DB_FIXTURES:
            item.add_marker(pytest.mark.db)
        if used & _SLACK_FIXTURES:
            item.add_marker(pytest.mark.slack)
_PG_SCHEMA = f"pytest_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def _pg_url_with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it to the local PostgreSQL)")
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{_PG_SCHEMA}"'))
    try:
        yield _pg_url_with_schema(PG_URL, _PG_SCHEMA)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{_PG_SCHEMA}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database URL with an empty schema; parametrised so each test runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    Base.metadata.drop_all(eng)
    Base.metadata.create_all(eng)
    try:
        yield eng
    finally:
        Base.metadata.drop_all(eng)
        eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


# Slack stand-in fixtures (slack_stub, slack_client, slack_signing_secret).
from conftest_slack import slack_client, slack_signing_secret, slack_stub  # noqa: E402,F401
