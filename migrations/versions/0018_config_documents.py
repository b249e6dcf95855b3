"""configuration documents kept in the database (the admin console): config_documents and config_revisions

``config_documents`` holds the effective database copy of a configuration file (it wins over the file of the same
name), ``config_revisions`` every saved version (``yuqing.config_store``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 15:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('config_documents',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_config_documents'))
    )
    op.create_table('config_revisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('saved_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('saved_by', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_config_revisions'))
    )
    op.create_index(op.f('ix_config_revisions_name'), 'config_revisions', ['name'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_config_revisions_name'), table_name='config_revisions')
    op.drop_table('config_revisions')
    op.drop_table('config_documents')
