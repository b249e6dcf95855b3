"""article stage and hash index: the search index's pending query read off an index, not the table

``crawlers.search_index.pending_ids`` runs on every pipeline round: it lists the matched articles (stages matched,
classified, scored) whose ``article_search`` row is missing or was made from another ``content_hash``. Without this
index it read every relevant article's table row for its ``content_hash`` (``ix_articles_stage`` and
``ix_articles_ingest_order`` give only the ids), so a round's cost grew with the relevant articles ever stored. With
it the articles side is a scan of this index alone: ``SEARCH articles USING COVERING INDEX ix_articles_stage_hash``
on SQLite, ``Index Only Scan using ix_articles_stage_hash`` (``Heap Fetches: 0``) on PostgreSQL. ``id`` is the third
column so PostgreSQL can answer from the index; on SQLite it is the rowid every index entry holds anyway.
Measured on 110,000 articles with 10,000 relevant, 10 of them pending (load ~7): SQLite 18-73 ms -> 3.2-3.5 ms a query;
PostgreSQL (EXPLAIN ANALYZE, after VACUUM ANALYZE) the articles scan 9,349 -> 174 buffers, 7.9 -> 1.4 ms.
On SQLite without ``ANALYZE`` statistics (yuqing never runs it, so every SQLite database is so) the planner takes
the index; with statistics that see three of four stages as ``IN`` it may scan the table in id order either way.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 06:40:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_articles_stage_hash', 'articles', ['stage', 'content_hash', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_articles_stage_hash', table_name='articles')
