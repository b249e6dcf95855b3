"""queue indexes: the alert queue's order and the incident list's order, walked instead of sorted

``ix_alerts_queue`` holds exactly the expressions the alert queue sorts by (``api.listings.alert_queue_order``:
open first, then the acknowledgement deadline, else the creation time, newest first, id), so the alert page and
``/api/v1/alerts`` read a page off the index instead of sorting every alert of the caller's units (about 30,000
for a branch-wide user of the million-article benchmark); PostgreSQL only. ``ix_incidents_queue`` does the same for the incident
list's order (level, newest first, id). Measured in docs/benchmarks.md (large lists).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 18:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite (embedded, a few thousand alerts) sorts them itself
        op.create_index('ix_alerts_queue', 'alerts', [sa.text("(CASE WHEN status = 'open' THEN 1 ELSE 0 END) DESC"),
                                                      sa.text('coalesce(ack_due_at, created_at)'),
                                                      sa.text('created_at DESC'), sa.text('id DESC')], unique=False)
    op.create_index('ix_incidents_queue', 'incidents', [sa.text('level'), sa.text('opened_at DESC'),
                                                        sa.text('id DESC')], unique=False)


def downgrade() -> None:
    op.drop_index('ix_incidents_queue', table_name='incidents')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index('ix_alerts_queue', table_name='alerts')
