"""evidence: full-page screenshots of incident articles, the deletion watch's state and every check it made

``article_screenshots``: one row per screenshot (PNG, SHA-256, time, URL, live page or stored capture).
``article_watch``: per incident-linked article, its deletion (``deleted_at``, ``deletion_evidence``), the next
check and failed screenshot attempts. ``article_deletion_checks``: every re-fetch and what it showed. Nothing to
carry over: no screenshot was taken and no article re-checked before this revision.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 12:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('article_screenshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('taken_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('render_source', sa.String(length=16), nullable=False),
    sa.Column('capture_id', sa.Integer(), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('page_sha256', sa.String(length=64), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('page_height', sa.Integer(), nullable=False),
    sa.Column('clipped', sa.Boolean(), nullable=False),
    sa.Column('blocked', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('png', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'],
                            name=op.f('fk_article_screenshots_article_id_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['capture_id'], ['article_captures.id'],
                            name=op.f('fk_article_screenshots_capture_id_article_captures'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_screenshots'))
    )
    op.create_index(op.f('ix_article_screenshots_article_id'), 'article_screenshots', ['article_id'], unique=False)
    op.create_index(op.f('ix_article_screenshots_sha256'), 'article_screenshots', ['sha256'], unique=False)
    op.create_table('article_watch',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('deleted_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deletion_evidence', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=True),
    sa.Column('last_checked_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_check_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('check_failures', sa.Integer(), nullable=False),
    sa.Column('shot_attempts', sa.Integer(), nullable=False),
    sa.Column('shot_next_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('shot_last_error', sa.Text(), nullable=True),
    sa.Column('shot_failed_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'],
                            name=op.f('fk_article_watch_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', name=op.f('pk_article_watch'))
    )
    op.create_index(op.f('ix_article_watch_next_check_at'), 'article_watch', ['next_check_at'], unique=False)
    op.create_table('article_deletion_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('checked_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'],
                            name=op.f('fk_article_deletion_checks_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_deletion_checks'))
    )
    op.create_index(op.f('ix_article_deletion_checks_article_id'), 'article_deletion_checks', ['article_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_article_deletion_checks_article_id'), table_name='article_deletion_checks')
    op.drop_table('article_deletion_checks')
    op.drop_index(op.f('ix_article_watch_next_check_at'), table_name='article_watch')
    op.drop_table('article_watch')
    op.drop_index(op.f('ix_article_screenshots_sha256'), table_name='article_screenshots')
    op.drop_index(op.f('ix_article_screenshots_article_id'), table_name='article_screenshots')
    op.drop_table('article_screenshots')
