"""article captures: the raw bytes, SHA-256, headers and fetch time of every fetch of an article (evidence)

``article_captures``: one row per distinct version of an article that a fetch served. Nothing to carry over:
before this revision the raw page was thrown away after extraction, so older articles have no capture.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('article_captures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('fetched_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('headers', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('stored_sha256', sa.String(length=64), nullable=False),
    sa.Column('stored_size', sa.Integer(), nullable=False),
    sa.Column('truncated', sa.Boolean(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'],
                            name=op.f('fk_article_captures_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_captures'))
    )
    op.create_index(op.f('ix_article_captures_article_id'), 'article_captures', ['article_id'], unique=False)
    op.create_index(op.f('ix_article_captures_sha256'), 'article_captures', ['sha256'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_article_captures_sha256'), table_name='article_captures')
    op.drop_index(op.f('ix_article_captures_article_id'), table_name='article_captures')
    op.drop_table('article_captures')
