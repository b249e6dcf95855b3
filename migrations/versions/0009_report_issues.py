"""report issues: the 舆情日报 / 舆情周报 delivered to leadership, and who opened or acknowledged each

``report_issues``: one row per (kind, period) issued by ``incidents.briefings.delivery`` with the incidents it told
leadership about; ``report_receipts``: one row per (issue, person) with when they opened and acknowledged it.
Nothing to carry over: before this revision no report was issued.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('report_issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('period_start', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('issued_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.String(length=400), nullable=False),
    sa.Column('incident_ids', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.Column('recipients', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_issues')),
    sa.UniqueConstraint('kind', 'period_start', name=op.f('uq_report_issues_kind_period_start'))
    )
    op.create_index(op.f('ix_report_issues_period_start'), 'report_issues', ['period_start'], unique=False)
    op.create_table('report_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('opened_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['issue_id'], ['report_issues.id'], name=op.f('fk_report_receipts_issue_id_report_issues'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_receipts')),
    sa.UniqueConstraint('issue_id', 'person_id', name=op.f('uq_report_receipts_issue_id_person_id'))
    )
    op.create_index(op.f('ix_report_receipts_issue_id'), 'report_receipts', ['issue_id'], unique=False)
    op.create_index(op.f('ix_report_receipts_person_id'), 'report_receipts', ['person_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_report_receipts_person_id'), table_name='report_receipts')
    op.drop_index(op.f('ix_report_receipts_issue_id'), table_name='report_receipts')
    op.drop_table('report_receipts')
    op.drop_index(op.f('ix_report_issues_period_start'), table_name='report_issues')
    op.drop_table('report_issues')
