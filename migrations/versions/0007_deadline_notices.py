"""deadline notices: reminders and overdue escalations already sent

``deadline_notices``: one row per (incident, item, deadline, step) that ``incidents.scheduled`` told someone about
— a reminder before a task or reporting clock is due, each overdue escalation step, a reporting-chain group that
missed its acknowledgement deadline — so each goes once, across restarts. Nothing to carry over: before this
revision no such notice existed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('deadline_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=96), nullable=False),
    sa.Column('due_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('people', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_deadline_notices_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_notices')),
    sa.UniqueConstraint('incident_id', 'item', 'due_at', 'step',
                        name=op.f('uq_deadline_notices_incident_id_item_due_at_step'))
    )
    op.create_index(op.f('ix_deadline_notices_incident_id'), 'deadline_notices', ['incident_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_deadline_notices_incident_id'), table_name='deadline_notices')
    op.drop_table('deadline_notices')
