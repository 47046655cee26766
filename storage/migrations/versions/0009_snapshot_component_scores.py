"""health_snapshots.component_scores: each component's score again, in a small JSON object,
so that the next scan reads the previous scan's scores without parsing every snapshot's
whole ``components`` object (on PostgreSQL 2.4-3.2 s of a 100k-org next-day scan)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 19:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('health_snapshots', sa.Column('component_scores', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('health_snapshots', 'component_scores')
