"""complaints: the complaint record, its timeline and its attachments

``complaints``: one row per customer complaint from any channel, with the times of each handling step (the clocks
count from ``received_at``); ``complaint_events``: its timeline; ``complaint_attachments``: files with SHA-256.
Nothing to carry over: before this revision no complaint was recorded.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 09:04:35.728687
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('received_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('entered_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('entered_by', sa.String(length=64), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('customer_name', sa.Text(), nullable=False),
    sa.Column('customer_phone', sa.String(length=64), nullable=False),
    sa.Column('customer_key', sa.String(length=64), nullable=True),
    sa.Column('account_or_product', sa.Text(), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.Column('handling_unit_id', sa.String(length=64), nullable=False),
    sa.Column('lead_department', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('first_contact_owner_id', sa.String(length=64), nullable=False),
    sa.Column('assignee_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('acknowledged_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('contacted_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('assigned_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('preliminary_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('proposed_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('solution', sa.Text(), nullable=False),
    sa.Column('customer_accepted', sa.Boolean(), nullable=True),
    sa.Column('mediation', sa.Text(), nullable=False),
    sa.Column('resolved_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=64), nullable=True),
    sa.Column('return_visit_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('satisfaction', sa.String(length=32), nullable=True),
    sa.Column('reopened_count', sa.Integer(), nullable=False),
    sa.Column('reply_base_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reply_limit_days', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('article_id', sa.Integer(), nullable=True),
    sa.Column('created_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_complaints_article_id_articles')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_complaints_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    sa.UniqueConstraint('article_id', name=op.f('uq_complaints_article_id')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_complaints_idempotency_key')),
    sa.UniqueConstraint('number', name=op.f('uq_complaints_number'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_customer_key'), ['customer_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_first_contact_owner_id'), ['first_contact_owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_handling_unit_id'), ['handling_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_severity'), ['severity'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_unit_id'), ['unit_id'], unique=False)

    op.create_table('complaint_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.Text(), nullable=False),
    sa.Column('content_type', sa.String(length=128), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('added_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_attachments_complaint_id_complaints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_attachments'))
    )
    with op.batch_alter_table('complaint_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_attachments_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_attachments_sha256'), ['sha256'], unique=False)

    op.create_table('complaint_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_events_complaint_id_complaints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_events'))
    )
    with op.batch_alter_table('complaint_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_events_complaint_id'), ['complaint_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('complaint_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_events_complaint_id'))

    op.drop_table('complaint_events')
    with op.batch_alter_table('complaint_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_attachments_sha256'))
        batch_op.drop_index(batch_op.f('ix_complaint_attachments_complaint_id'))

    op.drop_table('complaint_attachments')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_unit_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_status'))
        batch_op.drop_index(batch_op.f('ix_complaints_severity'))
        batch_op.drop_index(batch_op.f('ix_complaints_received_at'))
        batch_op.drop_index(batch_op.f('ix_complaints_incident_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_handling_unit_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_first_contact_owner_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_customer_key'))
        batch_op.drop_index(batch_op.f('ix_complaints_channel'))
        batch_op.drop_index(batch_op.f('ix_complaints_category'))
        batch_op.drop_index(batch_op.f('ix_complaints_assignee_id'))

    op.drop_table('complaints')
