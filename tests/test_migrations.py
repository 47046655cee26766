"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storage import migrate
from storage.db import make_engine
from storage.models import Base


def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert migrate.current_revision(db_url) is not None
        assert {"orgs", "signals", "usage_daily", "outbox", "digest_claims"} <= set(inspect(engine).get_table_names())
        migrate.downgrade(db_url, "base")
        assert "orgs" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
