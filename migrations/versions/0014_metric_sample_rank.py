"""metric samples: a hot-list entry's rank and heat at each poll (rank over time)

``article_metric_samples.rank`` and ``.heat``: set for articles of channel ``trending`` (one per hot-list entry),
NULL for every other article. Nothing to carry over: no hot list was crawled before this revision.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 12:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('article_metric_samples') as batch:
        batch.add_column(sa.Column('rank', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('heat', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('article_metric_samples') as batch:
        batch.drop_column('heat')
        batch.drop_column('rank')
