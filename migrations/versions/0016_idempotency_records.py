"""idempotency records: the answer given to a create sent with an Idempotency-Key

``idempotency_records``: one row per (caller, key) — the key scoped to its caller — with a fingerprint of the
request and the answer, so a retried 续报, statement draft, regulator report or incident opening gets the first
answer back instead of acting twice (``api.idempotency``). Nothing to carry over: before this revision only the
complaint intake took a key, and it keeps its own column.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 12:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotency_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=True),
    sa.Column('created_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_records')),
    sa.UniqueConstraint('key', name=op.f('uq_idempotency_records_key'))
    )


def downgrade() -> None:
    op.drop_table('idempotency_records')
