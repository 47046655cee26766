"""event keys packed in blocks: event_keys (one row per key) becomes event_key_blocks

The import only ever reads the event keys all together, to join a file's keys against
them, so a B-tree over millions of random numbers was pure cost: on PostgreSQL writing
10.7M keys and building their primary key took about a third of a 100k-org import. The
keys are now stored up to 65,536 to a row, 8 bytes each, big-endian, in ascending order.
The keys are copied over unchanged, in blocks, both ways.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 02:10:00
"""
from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# The format is fixed here, not imported: a migration must keep meaning what it did.
_BLOCK = 65_536
_PACKED = np.dtype(">i8")


def upgrade() -> None:
    blocks = op.create_table(
        'event_key_blocks',
        sa.Column('block_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('key_count', sa.Integer(), nullable=False),
        sa.Column('keys', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('block_id'),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute('ALTER TABLE event_key_blocks ALTER COLUMN "keys" SET STORAGE EXTERNAL')
    rows = bind.execute(sa.text('SELECT "key" FROM event_keys ORDER BY "key"').execution_options(
        stream_results=True, yield_per=_BLOCK))
    for part in rows.partitions(_BLOCK):
        keys = np.array([r[0] for r in part], dtype=np.int64)
        bind.execute(sa.insert(blocks), [{"key_count": len(keys), "keys": keys.astype(_PACKED).tobytes()}])
    op.drop_table('event_keys')


def downgrade() -> None:
    key_type = sa.Integer() if op.get_bind().dialect.name == "sqlite" else sa.BigInteger()
    keys_table = op.create_table(
        'event_keys',
        sa.Column('key', key_type, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    bind = op.get_bind()
    for (packed,) in bind.execute(sa.text('SELECT "keys" FROM event_key_blocks ORDER BY block_id')):
        keys = np.frombuffer(packed, dtype=_PACKED).astype(np.int64)
        bind.execute(sa.insert(keys_table), [{"key": int(k)} for k in keys])
    op.drop_table('event_key_blocks')
