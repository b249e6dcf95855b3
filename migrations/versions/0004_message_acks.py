"""message acknowledgements

``message_acks``: a person acknowledged one notification, by its signed one-click link or the inbox button
(``incidents.acks``). Unique per notification, so a link works once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('message_acks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'],
                            name=op.f('fk_message_acks_notification_id_notifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_acks')),
    sa.UniqueConstraint('notification_id', name=op.f('uq_message_acks_notification_id'))
    )
    with op.batch_alter_table('message_acks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_acks_person_id'), ['person_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('message_acks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_acks_person_id'))
    op.drop_table('message_acks')
