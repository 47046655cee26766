"""org_segments: each org's cell, tier, quadrant and case suggestion, stored by the scan

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:10:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('org_segments',
    sa.Column('org_id', sa.String(length=200), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('scan_run_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('config_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('band', sa.String(length=10), nullable=True),
    sa.Column('snapshot_mrr', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('last_seen', storage.models.UTCDateTime(), nullable=True),
    sa.Column('prev_score', sa.Float(), nullable=True),
    sa.Column('mrr', sa.Float(), nullable=False),
    sa.Column('cell', sa.String(length=20), nullable=True),
    sa.Column('tier', sa.String(length=10), nullable=True),
    sa.Column('quadrant', sa.String(length=40), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('potential', sa.Float(), nullable=True),
    sa.Column('account_priority', sa.Float(), nullable=True),
    sa.Column('suggested_case', sa.String(length=20), nullable=True),
    sa.Column('case_why', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.org_id'], ),
    sa.PrimaryKeyConstraint('org_id')
    )
    with op.batch_alter_table('org_segments', schema=None) as batch_op:
        batch_op.create_index('ix_org_segments_app_cell', ['application_id', 'cell'], unique=False)
        batch_op.create_index('ix_org_segments_app_tier', ['application_id', 'tier'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('org_segments', schema=None) as batch_op:
        batch_op.drop_index('ix_org_segments_app_tier')
        batch_op.drop_index('ix_org_segments_app_cell')

    op.drop_table('org_segments')
