"""article plan hits: which topic keyword plans (监测方案) each relevant article hit, as rows

``article_plan_hits`` (article, plan name) lets the 舆情信息 page filter by 监测方案 through an index instead of
reading every article's ``meta`` JSON. Ingest writes the rows from now on (``crawlers.ingest``); this migration
fills them from what ingest already kept in ``meta['match']['plan_hits']`` of the articles matched so far.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 01:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = {
    # the rows whose plan_hits is an object first (json_object_keys fails on anything else), then one row per key
    "postgresql": """
        INSERT INTO article_plan_hits (article_id, plan)
        SELECT a.id, k.plan FROM (
            SELECT id, meta -> 'match' -> 'plan_hits' AS hits FROM articles
            WHERE stage <> 'irrelevant' AND json_typeof(meta -> 'match' -> 'plan_hits') = 'object') AS a
        CROSS JOIN LATERAL json_object_keys(a.hits) AS k(plan)
        WHERE length(k.plan) <= 64
        ON CONFLICT DO NOTHING""",
    "sqlite": """
        INSERT OR IGNORE INTO article_plan_hits (article_id, plan)
        SELECT a.id, j.key FROM articles AS a, json_each(a.meta, '$.match.plan_hits') AS j
        WHERE a.stage <> 'irrelevant' AND json_type(a.meta, '$.match.plan_hits') = 'object'
          AND length(j.key) <= 64""",
}


def upgrade() -> None:
    op.create_table(
        'article_plan_hits',
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('plan', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_plan_hits_article_id_articles'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('article_id', 'plan', name=op.f('pk_article_plan_hits')),
    )
    op.create_index('ix_article_plan_hits_plan', 'article_plan_hits', ['plan', 'article_id'], unique=False)
    backfill = BACKFILL.get(op.get_bind().dialect.name)
    if backfill:
        op.execute(sa.text(backfill))


def downgrade() -> None:
    op.drop_index('ix_article_plan_hits_plan', table_name='article_plan_hits')
    op.drop_table('article_plan_hits')
