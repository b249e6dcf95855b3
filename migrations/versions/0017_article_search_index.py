"""article search index: CJK-bigram full text of every matched article, built for the rows already stored

``article_search`` records which article was indexed from which ``content_hash``; on PostgreSQL its ``document``
column holds the bigram ``tsvector`` under a GIN index, on SQLite the tokens go to the FTS5 table ``article_fts``
(``crawlers.search_index``). The upgrade indexes every matched article already stored, so search works at once;
later articles are indexed by the pipeline round.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 13:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import yuqing.db

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from sqlalchemy.orm import Session

    from crawlers import search_index
    from yuqing.clock import SystemClock

    op.create_table('article_search',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('indexed_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('document', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_search_article_id_articles'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', name=op.f('pk_article_search'))
    )
    op.create_index('ix_article_search_document', 'article_search', ['document'], unique=False,
                    postgresql_using='gin')
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute(search_index.FTS_CREATE)
    session = Session(bind=bind)
    clock = SystemClock()
    while ids := search_index.pending_ids(session):
        search_index.index_articles(session, ids, now=clock.now())
    session.flush()


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TABLE IF EXISTS article_fts')
    op.drop_index('ix_article_search_document', table_name='article_search', postgresql_using='gin')
    op.drop_table('article_search')
