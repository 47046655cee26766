"""health_snapshots without its index on org_id alone: the unique (org_id, day) index starts
with org_id and serves every lookup by org, so the second index was only an entry more to
write per snapshot (100,000 per scan at 100k orgs) and pages more to keep

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:10:00
"""
from __future__ import annotations

from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_health_snapshots_org_id', table_name='health_snapshots')


def downgrade() -> None:
    op.create_index('ix_health_snapshots_org_id', 'health_snapshots', ['org_id'], unique=False)
