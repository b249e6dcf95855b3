"""complaint notices: reminders, overdue escalations and leadership messages already sent about complaints

``complaint_notices``: one row per (complaint, item, deadline, step) that ``incidents.complaints.scheduled`` told
someone about, so each goes once across restarts. Nothing to carry over: before this revision no complaint
reminder existed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 09:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('complaint_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=96), nullable=False),
    sa.Column('due_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('people', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'],
                            name=op.f('fk_complaint_notices_complaint_id_complaints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_notices')),
    sa.UniqueConstraint('complaint_id', 'item', 'due_at', 'step',
                        name=op.f('uq_complaint_notices_complaint_id_item_due_at_step'))
    )
    op.create_index(op.f('ix_complaint_notices_complaint_id'), 'complaint_notices', ['complaint_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_complaint_notices_complaint_id'), table_name='complaint_notices')
    op.drop_table('complaint_notices')
