"""org_segments: each org's place in the lists (top priority, active signals, at risk,
onboarding), kept by the scan and by every dismiss, snooze or restore; signals indexed by
when they opened and resolved (the summary cards' week); orgs by lower-cased name and domain

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The stored rows were written without these numbers: drop them, the reads work the
    # segments out in memory until the next scan stores them again, numbers included.
    op.execute("DELETE FROM org_segments")
    with op.batch_alter_table('org_segments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('top_priority', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('active_signals', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('at_risk', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('onboarding', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_org_segments_rank', ['application_id', 'top_priority', 'snapshot_mrr', 'org_id',
                                                       'active_signals', 'at_risk', 'onboarding'], unique=False)
    op.create_index('ix_orgs_lower_name', 'orgs', [sa.text('lower(name)')], unique=False)
    op.create_index('ix_orgs_lower_domain', 'orgs', [sa.text('lower(domain)')], unique=False)
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.create_index('ix_signals_app_opened', ['application_id', 'opened_at'], unique=False)
        batch_op.create_index('ix_signals_app_resolved', ['application_id', 'resolved_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_orgs_lower_domain', table_name='orgs')
    op.drop_index('ix_orgs_lower_name', table_name='orgs')
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index('ix_signals_app_resolved')
        batch_op.drop_index('ix_signals_app_opened')
    with op.batch_alter_table('org_segments', schema=None) as batch_op:
        batch_op.drop_index('ix_org_segments_rank')
        batch_op.drop_column('onboarding')
        batch_op.drop_column('at_risk')
        batch_op.drop_column('active_signals')
        batch_op.drop_column('top_priority')
