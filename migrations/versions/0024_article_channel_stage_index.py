"""article channel and stage index: the complaint-board job's per-round query reads only the board's posts

``incidents.complaints.links.complaints_from_board_posts`` runs on every pipeline round: it lists the classified
posts of the complaint channel (``channel = 'complaint'``, stage classified or scored, not a duplicate) that have
no complaint yet. Without this index it walked every relevant article (``ix_articles_ingest_order`` by stage) and
read each one's row for its channel, so a round's cost grew with all the relevant articles ever stored; with it,
only the complaint channel's posts (a fifth of the relevant items in the backtest bench's synthetic stream) are
read, off the index, before each is checked against ``complaints.article_id``. ``id`` last: on PostgreSQL the index
then gives the posts in the query's order. Same rows, same order: only the plan changes.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 06:50:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_articles_channel_stage', 'articles', ['channel', 'stage', 'is_duplicate', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_articles_channel_stage', table_name='articles')
