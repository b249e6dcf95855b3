"""concurrency: named counters (incident numbers, the clustering lock), the clustering log, leased work claims

``sequence_counters``: named counters bumped with UPDATE … RETURNING. The incident counter of each local day that
already has incidents starts at the highest number taken that day, so numbering carries on without a clash.
``story_assignments``: one row per article clustered, in the order it happened (``seq``). ``work_claims``: a lease
on one work item of one stage.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 12:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counters = op.create_table('sequence_counters',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_sequence_counters'))
    )
    op.create_table('story_assignments',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_story_assignments'))
    )
    op.create_index(op.f('ix_story_assignments_article_id'), 'story_assignments', ['article_id'], unique=False)
    op.create_table('work_claims',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=False),
    sa.Column('claimed_until', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'item_id', name=op.f('pk_work_claims'))
    )
    op.create_index(op.f('ix_work_claims_claimed_until'), 'work_claims', ['claimed_until'], unique=False)
    # Carry on each day's incident numbering (YQ-YYYYMMDD-NNN) from the highest number already taken.
    rows = op.get_bind().execute(sa.text("SELECT number FROM incidents")).scalars().all()
    highest: dict[str, int] = {}
    for number in rows:
        parts = str(number).split("-")
        if len(parts) == 3 and parts[0] == "YQ" and parts[1].isdigit() and parts[2].isdigit():
            highest[parts[1]] = max(highest.get(parts[1], 0), int(parts[2]))
    if highest:
        op.bulk_insert(counters, [{"name": f"incident:{day}", "value": n} for day, n in sorted(highest.items())])


def downgrade() -> None:
    op.drop_index(op.f('ix_work_claims_claimed_until'), table_name='work_claims')
    op.drop_table('work_claims')
    op.drop_index(op.f('ix_story_assignments_article_id'), table_name='story_assignments')
    op.drop_table('story_assignments')
    op.drop_table('sequence_counters')
