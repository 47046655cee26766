"""slack request keys: signed Slack requests already taken, for replay protection

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 12:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('slack_request_keys',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('sent_at', storage.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('slack_request_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slack_request_keys_sent_at'), ['sent_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('slack_request_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slack_request_keys_sent_at'))

    op.drop_table('slack_request_keys')
