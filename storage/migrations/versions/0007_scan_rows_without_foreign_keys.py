"""health_snapshots and org_segments without foreign keys: only the scan writes them, for the
orgs it read in the same transaction, and checking the keys cost a 100k-org scan seconds on
PostgreSQL (a trigger call per row of the COPY)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 00:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# What was a foreign key, per table: (column, referred table, referred column).
KEYS = {
    'health_snapshots': [('org_id', 'orgs', 'org_id'), ('scan_run_id', 'scan_runs', 'id')],
    'org_segments': [('org_id', 'orgs', 'org_id')],
}
# SQLite's keys have no name: batch mode names the reflected ones by this convention so that
# they can be dropped (and the downgrade creates them under these names on both databases).
CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
# Reflect only the table being rebuilt, not the tables its keys refer to: reflecting `orgs`
# would warn, on every upgrade, that SQLite cannot reflect its expression-based indexes.
NO_REFERRED_TABLES = {"resolve_fks": False}


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def upgrade() -> None:
    bind = op.get_bind()
    for table, keys in KEYS.items():
        columns = {column for column, _, _ in keys}
        if bind.dialect.name == 'sqlite':
            with op.batch_alter_table(table, naming_convention=CONVENTION, recreate='always',
                                    reflect_kwargs=NO_REFERRED_TABLES) as batch_op:
                for column, referred, _ in keys:
                    batch_op.drop_constraint(_name(table, column, referred), type_='foreignkey')
            continue
        for fk in sa.inspect(bind).get_foreign_keys(table):
            name = fk.get('name')
            if name and set(fk['constrained_columns']) <= columns:
                op.drop_constraint(name, table, type_='foreignkey')


def downgrade() -> None:
    for table, keys in KEYS.items():
        with op.batch_alter_table(table, reflect_kwargs=NO_REFERRED_TABLES) as batch_op:
            for column, referred, referred_column in keys:
                batch_op.create_foreign_key(_name(table, column, referred), referred, [column], [referred_column])
