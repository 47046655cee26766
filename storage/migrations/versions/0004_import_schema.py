"""import schema: rollup tables without per-row foreign keys; on SQLite clustered rollups and
integer event keys

The events import writes millions of rows into usage_daily, usage_daily_users,
usage_daily_features and event_keys. Their foreign keys to orgs checked every row against
orgs, which the import already does for the whole file before writing anything: they go. On
SQLite the three rollup tables become WITHOUT ROWID (one B-tree, clustered on org and day,
instead of a table and an index) and event_keys' key an INTEGER primary key (the rowid
itself instead of a table and an index). The rows are copied over unchanged.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 15:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# (table, the primary key column after org_id and day, if any)
_ROLLUPS = (
    ("usage_daily", None),
    ("usage_daily_users", "user_id"),
    ("usage_daily_features", "feature"),
)


def _rollup_columns(third: str | None) -> str:
    cols = ["org_id VARCHAR(200) NOT NULL", "day DATE NOT NULL"]
    if third:
        cols.append(f"{third} VARCHAR(200) NOT NULL")
    cols.append("events BIGINT NOT NULL")
    if third is None:
        cols += ["active_users INTEGER NOT NULL", "distinct_features INTEGER NOT NULL",
                 "last_event_at DATETIME"]
    return ", ".join(cols)


def _sqlite_rebuild(table: str, columns: str, tail: str) -> None:
    """Recreate a SQLite table with new DDL, keeping its rows (SQLite can't alter keys)."""
    op.execute(f"CREATE TABLE {table}__new ({columns}) {tail}")
    op.execute(f"INSERT INTO {table}__new SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}__new RENAME TO {table}")


def _pk(third: str | None) -> str:
    return "PRIMARY KEY (org_id, day" + (f", {third}" if third else "") + ")"


def _org_foreign_keys(table: str) -> list[str]:
    inspector = sa.inspect(op.get_bind())
    return [fk["name"] for fk in inspector.get_foreign_keys(table)
            if fk["referred_table"] == "orgs" and fk["name"]]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, third in _ROLLUPS:
            _sqlite_rebuild(table, f"{_rollup_columns(third)}, {_pk(third)}", "WITHOUT ROWID")
        _sqlite_rebuild("event_keys", '"key" INTEGER NOT NULL, PRIMARY KEY ("key")', "")
        return
    for table, _ in _ROLLUPS:
        for name in _org_foreign_keys(table):
            op.drop_constraint(name, table, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, third in _ROLLUPS:
            fk = "FOREIGN KEY(org_id) REFERENCES orgs (org_id)"
            _sqlite_rebuild(table, f"{_rollup_columns(third)}, {_pk(third)}, {fk}", "")
        _sqlite_rebuild("event_keys", '"key" BIGINT NOT NULL, PRIMARY KEY ("key")', "")
        return
    for table, _ in _ROLLUPS:
        op.create_foreign_key(f"{table}_org_id_fkey", table, "orgs", ["org_id"], ["org_id"])
