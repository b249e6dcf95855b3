"""list indexes: newest-first and riskiest-first article pages without sorting every article

``ix_articles_recency`` is the article's time as every list orders it (``coalesce(published_at, fetched_at)``)
followed by the id, so "newest first" pages of the feed, the 舆情信息 page and ``/api/v1/mentions`` walk an index
and stop after one page (``api.listings.recency``). ``ix_story_risks_story_id_id`` lets "is there a newer risk row
of this story?" (``api.listings.CurrentRisk``) be answered from the index alone, and ``ix_story_risks_score``
lets the risk order start from the riskiest stories and stop after one page (``listings.articles(scored_only)``).
Measured in docs/benchmarks.md (large lists).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 15:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_articles_recency', 'articles', [sa.text('coalesce(published_at, fetched_at)'), 'id'],
                    unique=False)
    op.create_index('ix_story_risks_story_id_id', 'story_risks', ['story_id', 'id'], unique=False)
    op.create_index('ix_story_risks_score', 'story_risks', ['score'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_story_risks_score', table_name='story_risks')
    op.drop_index('ix_story_risks_story_id_id', table_name='story_risks')
    op.drop_index('ix_articles_recency', table_name='articles')
