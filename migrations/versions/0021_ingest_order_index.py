"""ingest order index: the waiting articles in the order ingest clusters them, read off an index

``ix_articles_ingest_order`` is ``(stage, coalesce(published_at, fetched_at), fetched_at, id)``: the stage, then
``crawlers.stories.ingest_order``. ``check_turn`` asks, twice per relevant article, for the first article still
``fetched`` before it in that order, and each ingest batch lists the waiting articles in it. Without the index
PostgreSQL walked ``ix_articles_recency`` through every article, clustered or not, filtering on the stage: 95–185 ms
a question over 110,000 articles with 10,000 waiting. With it, and the question written as one row comparison that
the index answers as a range, it reads a page or two: 0.1 ms of server time (``EXPLAIN ANALYZE``), 1.4–3 ms a call
from Python on a loaded machine. Measured by ``python -m bench.ingest_order`` (bench/results/ingest_order.md).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 00:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_articles_ingest_order', 'articles',
                    ['stage', sa.text('coalesce(published_at, fetched_at)'), 'fetched_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_articles_ingest_order', table_name='articles')
