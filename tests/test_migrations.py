"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storage import migrate
from storage.db import make_engine
from storage.models import EXPRESSION_INDEXES, Base


def _index_names(engine, table: str) -> set[str]:
    """Every index of the table, expression indexes included (SQLite's inspector leaves them out)."""
    from sqlalchemy import text

    query = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
             if engine.dialect.name == "sqlite" else "SELECT indexname FROM pg_indexes WHERE tablename = :t")
    with engine.connect() as conn:
        return set(conn.execute(text(query), {"t": table}).scalars())


def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        expression_indexes = frozenset().union(*EXPRESSION_INDEXES.values())

        def compared(obj, name, type_, reflected, compare_to) -> bool:
            return not (type_ == "index" and name in expression_indexes)

        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": compared})
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
        for table, names in EXPRESSION_INDEXES.items():
            assert names <= _index_names(engine, table)
        assert migrate.current_revision(db_url) is not None
        assert {"orgs", "signals", "usage_daily", "outbox", "digest_claims"} <= set(inspect(engine).get_table_names())
        migrate.downgrade(db_url, "base")
        assert "orgs" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_import_schema_keeps_the_rows_and_drops_the_per_row_org_checks(db_url: str) -> None:
    """0004: the rollup tables lose their foreign key to orgs (the import checks orgs itself),
    SQLite's become WITHOUT ROWID and its event keys the rowid; rows survive both ways."""
    from sqlalchemy import text

    migrate.upgrade(db_url, "0003")
    engine = make_engine(db_url)
    rollups = ("usage_daily", "usage_daily_users", "usage_daily_features")
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO applications (name) VALUES ('default')"))
            conn.execute(text("INSERT INTO orgs (org_id, application_id, name) "
                              "SELECT 'acme', id, 'Acme' FROM applications"))
            conn.execute(text("INSERT INTO usage_daily VALUES ('acme', '2024-05-01', 3, 1, 1, NULL)"))
            conn.execute(text("INSERT INTO usage_daily_users VALUES ('acme', '2024-05-01', 'u1', 3)"))
            conn.execute(text("INSERT INTO usage_daily_features VALUES ('acme', '2024-05-01', 'reports', 3)"))
            conn.execute(text("INSERT INTO event_keys VALUES (9223372036854775807)"))

        def state() -> tuple:
            with engine.connect() as conn:
                rows = tuple(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in rollups)
                key = conn.execute(text("SELECT key FROM event_keys")).scalar()
            fks = tuple(len(inspect(engine).get_foreign_keys(t)) for t in rollups)
            return rows, key, fks

        assert state() == ((1, 1, 1), 9223372036854775807, (1, 1, 1))
        migrate.upgrade(db_url, "0009")
        assert state() == ((1, 1, 1), 9223372036854775807, (0, 0, 0))
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                ddl = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
            assert all(ddl[t].rstrip().endswith("WITHOUT ROWID") for t in rollups)
            assert '"key" INTEGER NOT NULL' in ddl["event_keys"]
        migrate.downgrade(db_url, "0003")
        assert state() == ((1, 1, 1), 9223372036854775807, (1, 1, 1))
        migrate.downgrade(db_url, "base")
    finally:
        engine.dispose()


def test_event_keys_move_into_blocks_and_back_unchanged(db_url: str) -> None:
    """0010: one row per event key becomes blocks of up to 65,536 keys, sorted, 8 bytes
    each big-endian; every key survives both ways, the extremes included."""
    import numpy as np
    from sqlalchemy import text

    from storage.event_keys import unpack_keys

    keys = np.unique(np.concatenate([
        np.random.default_rng(5).integers(0, 2**63 - 1, 70_000, dtype=np.int64),
        np.array([0, 1, 2**63 - 1], dtype=np.int64)]))
    migrate.upgrade(db_url, "0009")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO event_keys VALUES (:k)"), [{"k": int(k)} for k in keys])
        migrate.upgrade(db_url)
        assert "event_keys" not in inspect(engine).get_table_names()
        with engine.connect() as conn:
            blocks = conn.execute(text("SELECT key_count, keys FROM event_key_blocks ORDER BY block_id")).all()
        assert [count for count, _ in blocks] == [65_536, len(keys) - 65_536]
        assert [len(packed) for _, packed in blocks] == [8 * 65_536, 8 * (len(keys) - 65_536)]
        assert np.concatenate([unpack_keys(packed) for _, packed in blocks]).tolist() == keys.tolist()
        migrate.downgrade(db_url, "0009")
        with engine.connect() as conn:
            back = [row[0] for row in conn.execute(text('SELECT "key" FROM event_keys ORDER BY "key"'))]
        assert back == keys.tolist()
        assert "event_key_blocks" not in inspect(engine).get_table_names()
        migrate.downgrade(db_url, "base")
    finally:
        engine.dispose()
