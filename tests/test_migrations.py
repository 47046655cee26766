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


def test_usage_rollups_move_to_numbers_and_back_unchanged(db_url: str) -> None:
    """0011: the rollups are keyed by numbers from three dictionaries, 1..n in name order; a
    user is an (org, user id) pair, so "u1" of org a and of org b get two numbers. Every row
    reads back the same through the dictionaries, and the downgrade gives back the rows."""
    import datetime as dt

    from sqlalchemy import BigInteger, Date, DateTime, Integer, String, text

    day1, day2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
    seen1, seen2 = dt.datetime(2024, 5, 1, 17, 30), dt.datetime(2024, 5, 2, 8, 15, 0, 250_000)
    big = 9_000_000_000  # past 32 bits: the counts stay BIGINT
    # Org c only has features and org d only users: every org found anywhere gets a number.
    daily = [("a", day1, 5, 2, 2, seen1), ("a", day2, 2, 1, 1, seen2), ("b", day1, big, 1, 1, None)]
    users = [("a", day1, "u1", 3), ("a", day1, "u2", 2), ("a", day2, "u1", 2), ("b", day1, "u1", big),
             ("d", day1, "u9", 1)]
    features = [("a", day1, "export", 1), ("a", day1, "reports", 4), ("a", day2, "reports", 2),
                ("b", day1, "reports", big), ("c", day1, "alerts", 7)]
    rollups = ("usage_daily", "usage_daily_users", "usage_daily_features")
    dictionaries = ("usage_orgs", "usage_users", "usage_features")
    types = {"org_id": String, "user_id": String, "feature": String, "day": Date, "events": BigInteger,
             "active_users": Integer, "distinct_features": Integer, "last_event_at": DateTime,
             "org_key": Integer, "user_key": Integer, "feature_key": Integer}

    migrate.upgrade(db_url, "0010")
    engine = make_engine(db_url)

    def rows(query: str) -> list[tuple]:
        """The query's rows, its columns read as the models' types (SQLite hands back text)."""
        typed = text(query).columns(**types)
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(typed)]

    def named() -> tuple[list[tuple], ...]:
        return (rows("SELECT org_id, day, events, active_users, distinct_features, last_event_at "
                     "FROM usage_daily ORDER BY org_id, day"),
                rows("SELECT org_id, day, user_id, events FROM usage_daily_users ORDER BY org_id, day, user_id"),
                rows("SELECT org_id, day, feature, events FROM usage_daily_features ORDER BY org_id, day, feature"))

    def state() -> tuple:
        """What sets the two revisions apart: which tables there are, whether SQLite's rollups
        are WITHOUT ROWID, and PostgreSQL's primary key names."""
        tables = set(inspect(engine).get_table_names())
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                ddl = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
            clustered = [ddl[t].rstrip().endswith("WITHOUT ROWID") for t in rollups]
            return set(dictionaries) <= tables, clustered
        return set(dictionaries) <= tables, [inspect(engine).get_pk_constraint(t)["name"] for t in rollups]

    expected_shape = {
        "sqlite": [True, True, True],
        "postgresql": ["usage_daily_pkey", "usage_daily_users_pkey", "usage_daily_features_pkey"],
    }[engine.dialect.name]
    try:
        with engine.begin() as conn:
            # The orgs too: the downgrade below 0004 gives the rollups their foreign keys back.
            conn.execute(text("INSERT INTO applications (name) VALUES ('default')"))
            conn.execute(text("INSERT INTO orgs (org_id, application_id, name) "
                              "SELECT o, id, upper(o) FROM applications, "
                              "(SELECT 'a' AS o UNION SELECT 'b' UNION SELECT 'c' UNION SELECT 'd') AS names"))
            conn.execute(text("INSERT INTO usage_daily (org_id, day, events, active_users, distinct_features, "
                              "last_event_at) VALUES "
                              "('a', '2024-05-01', 5, 2, 2, '2024-05-01 17:30:00'), "
                              "('a', '2024-05-02', 2, 1, 1, '2024-05-02 08:15:00.250000'), "
                              "('b', '2024-05-01', 9000000000, 1, 1, NULL)"))
            conn.execute(text("INSERT INTO usage_daily_users (org_id, day, user_id, events) VALUES "
                              "('a', '2024-05-01', 'u1', 3), ('a', '2024-05-01', 'u2', 2), "
                              "('a', '2024-05-02', 'u1', 2), ('b', '2024-05-01', 'u1', 9000000000), "
                              "('d', '2024-05-01', 'u9', 1)"))
            conn.execute(text("INSERT INTO usage_daily_features (org_id, day, feature, events) VALUES "
                              "('a', '2024-05-01', 'export', 1), ('a', '2024-05-01', 'reports', 4), "
                              "('a', '2024-05-02', 'reports', 2), ('b', '2024-05-01', 'reports', 9000000000), "
                              "('c', '2024-05-01', 'alerts', 7)"))
        assert named() == (daily, users, features)
        assert state() == (False, expected_shape)

        migrate.upgrade(db_url, "0011")
        assert state() == (True, expected_shape)
        assert rows("SELECT org_key, org_id FROM usage_orgs ORDER BY org_key") == [
            (1, "a"), (2, "b"), (3, "c"), (4, "d")]
        assert rows("SELECT user_key, org_key, user_id FROM usage_users ORDER BY user_key") == [
            (1, 1, "u1"), (2, 1, "u2"), (3, 2, "u1"), (4, 4, "u9")]
        assert rows("SELECT feature_key, feature FROM usage_features ORDER BY feature_key") == [
            (1, "alerts"), (2, "export"), (3, "reports")]
        assert rows("SELECT org_key, day, events, active_users, distinct_features, last_event_at "
                    "FROM usage_daily ORDER BY org_key, day") == [
            (1, day1, 5, 2, 2, seen1), (1, day2, 2, 1, 1, seen2), (2, day1, big, 1, 1, None)]
        assert rows("SELECT org_key, day, user_key, events FROM usage_daily_users ORDER BY org_key, day, user_key") == [
            (1, day1, 1, 3), (1, day1, 2, 2), (1, day2, 1, 2), (2, day1, 3, big), (4, day1, 4, 1)]
        assert rows("SELECT org_key, day, feature_key, events FROM usage_daily_features "
                    "ORDER BY org_key, day, feature_key") == [
            (1, day1, 2, 1), (1, day1, 3, 4), (1, day2, 3, 2), (2, day1, 3, big), (3, day1, 1, 7)]
        # Read back through the dictionaries, the numbered rows are the named ones.
        assert rows("SELECT o.org_id, d.day, d.events, d.active_users, d.distinct_features, d.last_event_at "
                    "FROM usage_daily AS d JOIN usage_orgs AS o ON o.org_key = d.org_key "
                    "ORDER BY o.org_id, d.day") == daily
        assert rows("SELECT o.org_id, d.day, u.user_id, d.events FROM usage_daily_users AS d "
                    "JOIN usage_orgs AS o ON o.org_key = d.org_key JOIN usage_users AS u ON u.user_key = d.user_key "
                    "WHERE u.org_key = d.org_key ORDER BY o.org_id, d.day, u.user_id") == users
        assert rows("SELECT o.org_id, d.day, f.feature, d.events FROM usage_daily_features AS d "
                    "JOIN usage_orgs AS o ON o.org_key = d.org_key "
                    "JOIN usage_features AS f ON f.feature_key = d.feature_key "
                    "ORDER BY o.org_id, d.day, f.feature") == features

        migrate.downgrade(db_url, "0010")
        assert state() == (False, expected_shape)
        assert named() == (daily, users, features)
        migrate.downgrade(db_url, "base")
    finally:
        engine.dispose()
