"""regulator reports and the playbooks applied to an incident

``regulator_reports``: a report to an authority outside the bank (监管部门 / 人民银行) as recorded by the person who
made it — whom (config key and the name as told), how, the reference number, the text, the level, who and when. It
replaces ticking the ``regulator_report`` task: a task ticked before this revision carries no recipient, method or
text, so none is made into a report (its clock, stopped by that tick, runs again until a report is recorded or the
case closes — the honest reading of what the product knows).

``incident_playbooks``: every playbook applied to an incident (several may apply at once), when, at which level and
why. Each existing incident gets the one it was opened with (``incidents.playbook``), applied at its opening.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('regulator_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('recipient_key', sa.String(length=64), nullable=True),
    sa.Column('recipient_name', sa.Text(), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('level', sa.String(length=4), nullable=False),
    sa.Column('reported_by', sa.String(length=64), nullable=False),
    sa.Column('reported_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_regulator_reports_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulator_reports'))
    )
    op.create_index(op.f('ix_regulator_reports_incident_id'), 'regulator_reports', ['incident_id'], unique=False)
    op.create_index(op.f('ix_regulator_reports_reported_at'), 'regulator_reports', ['reported_at'], unique=False)
    op.create_table('incident_playbooks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('playbook_id', sa.String(length=64), nullable=False),
    sa.Column('applied_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('level', sa.String(length=4), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'],
                            name=op.f('fk_incident_playbooks_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_playbooks')),
    sa.UniqueConstraint('incident_id', 'playbook_id', name=op.f('uq_incident_playbooks_incident_id_playbook_id'))
    )
    op.create_index(op.f('ix_incident_playbooks_incident_id'), 'incident_playbooks', ['incident_id'], unique=False)
    op.execute("INSERT INTO incident_playbooks (incident_id, playbook_id, applied_at, level, reason) "
               "SELECT id, playbook, opened_at, level, '立案时适用' FROM incidents")


def downgrade() -> None:
    op.drop_index(op.f('ix_incident_playbooks_incident_id'), table_name='incident_playbooks')
    op.drop_table('incident_playbooks')
    op.drop_index(op.f('ix_regulator_reports_reported_at'), table_name='regulator_reports')
    op.drop_index(op.f('ix_regulator_reports_incident_id'), table_name='regulator_reports')
    op.drop_table('regulator_reports')
