"""notes, assigned owners, the configuration each scan ran with, charts on digest claims

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 09:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('config_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('recorded_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('fingerprint')
    )
    op.create_table('notes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('org_id', sa.String(length=200), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('via', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.org_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.create_index('ix_notes_org_created', ['org_id', 'created_at'], unique=False)

    op.create_table('org_owners',
    sa.Column('org_id', sa.String(length=200), nullable=False),
    sa.Column('owner', sa.String(length=320), nullable=False),
    sa.Column('assigned_by', sa.String(length=200), nullable=False),
    sa.Column('assigned_at', storage.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.org_id'], ),
    sa.PrimaryKeyConstraint('org_id')
    )
    with op.batch_alter_table('scan_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('config_version_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_scan_runs_config_version_id', 'config_versions', ['config_version_id'], ['id'])

    with op.batch_alter_table('digest_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('charts', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('digest_claims', schema=None) as batch_op:
        batch_op.drop_column('charts')

    with op.batch_alter_table('scan_runs', schema=None) as batch_op:
        batch_op.drop_constraint('fk_scan_runs_config_version_id', type_='foreignkey')
        batch_op.drop_column('config_version_id')

    op.drop_table('org_owners')
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_index('ix_notes_org_created')

    op.drop_table('notes')
    op.drop_table('config_versions')
