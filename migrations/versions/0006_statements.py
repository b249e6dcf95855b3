"""statements (口径): statements, their versions and the review decisions

A statement belongs to an incident; every text is a row of ``statement_versions`` (never updated); each review step
(submitted, legal_approved, approved, changes_requested, approvals_dropped, published) is a ``statement_decisions``
row. No existing data is carried over: before this revision the product held no statement text (the checklist's
statement steps were ticked without one), so nothing can honestly be made into a statement.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('template_key', sa.String(length=64), nullable=True),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('legal_by', sa.String(length=64), nullable=True),
    sa.Column('legal_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('legal_version', sa.Integer(), nullable=True),
    sa.Column('approved_by', sa.String(length=64), nullable=True),
    sa.Column('approved_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_version', sa.Integer(), nullable=True),
    sa.Column('published_by', sa.String(length=64), nullable=True),
    sa.Column('published_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_where', sa.Text(), nullable=True),
    sa.Column('published_url', sa.Text(), nullable=True),
    sa.Column('published_version', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_statements_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statements'))
    )
    op.create_index(op.f('ix_statements_incident_id'), 'statements', ['incident_id'], unique=False)
    op.create_index(op.f('ix_statements_status'), 'statements', ['status'], unique=False)
    op.create_index(op.f('ix_statements_published_at'), 'statements', ['published_at'], unique=False)
    op.create_table('statement_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('created_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'],
                            name=op.f('fk_statement_versions_statement_id_statements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_versions')),
    sa.UniqueConstraint('statement_id', 'number', name=op.f('uq_statement_versions_statement_id_number'))
    )
    op.create_index(op.f('ix_statement_versions_statement_id'), 'statement_versions', ['statement_id'],
                    unique=False)
    op.create_table('statement_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'],
                            name=op.f('fk_statement_decisions_statement_id_statements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_decisions'))
    )
    op.create_index(op.f('ix_statement_decisions_statement_id'), 'statement_decisions', ['statement_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_statement_decisions_statement_id'), table_name='statement_decisions')
    op.drop_table('statement_decisions')
    op.drop_index(op.f('ix_statement_versions_statement_id'), table_name='statement_versions')
    op.drop_table('statement_versions')
    op.drop_index(op.f('ix_statements_published_at'), table_name='statements')
    op.drop_index(op.f('ix_statements_status'), table_name='statements')
    op.drop_index(op.f('ix_statements_incident_id'), table_name='statements')
    op.drop_table('statements')
