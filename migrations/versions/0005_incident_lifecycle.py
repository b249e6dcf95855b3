"""incident lifecycle: statuses, reports, leadership acknowledgements, reviews

Incidents get the lifecycle's timestamps (responding_at, monitoring_at, reviewed_at); the typed records that stop
clocks get their tables. Existing rows are carried over honestly:

* status ``open`` with an acknowledgement becomes ``acknowledged`` (``open`` without one stays ``open``);
  ``closed`` stays ``closed``;
* the checklist step ``leadership_report`` is renamed ``leadership_notice``, the key of the leadership clock;
* task status ``skipped`` becomes ``not_applicable``;
* 初报 / 续报 / 终报 that people recorded as timeline ``report`` events become ``incident_reports`` rows (text =
  the note they typed, or a line saying it was carried over). Leadership "reports" written automatically when a
  message was sent are *not* turned into leader acknowledgements: no leader acknowledged anything.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = {"initial_report": "initial", "update_report": "follow_up", "final_report": "final"}


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('responding_at', yuqing.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('monitoring_at', yuqing.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', yuqing.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table('incident_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=4), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('filed_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_reports_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_reports')),
    sa.UniqueConstraint('incident_id', 'kind', 'version', name=op.f('uq_incident_reports_incident_id_kind_version'))
    )
    op.create_index(op.f('ix_incident_reports_incident_id'), 'incident_reports', ['incident_id'], unique=False)
    op.create_index(op.f('ix_incident_reports_filed_at'), 'incident_reports', ['filed_at'], unique=False)
    op.create_table('leadership_acknowledgements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('leader_id', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=4), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'],
                            name=op.f('fk_leadership_acknowledgements_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leadership_acknowledgements'))
    )
    op.create_index(op.f('ix_leadership_acknowledgements_incident_id'), 'leadership_acknowledgements',
                    ['incident_id'], unique=False)
    op.create_index(op.f('ix_leadership_acknowledgements_at'), 'leadership_acknowledgements', ['at'], unique=False)
    op.create_table('incident_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('filed_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', yuqing.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_post_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('seconds_to_detect', sa.Integer(), nullable=True),
    sa.Column('seconds_to_acknowledge', sa.Integer(), nullable=True),
    sa.Column('seconds_to_leadership', sa.Integer(), nullable=True),
    sa.Column('seconds_to_statement', sa.Integer(), nullable=True),
    sa.Column('seconds_to_close', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('went_well', sa.Text(), nullable=False),
    sa.Column('went_badly', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_reviews_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_reviews'))
    )
    op.create_index(op.f('ix_incident_reviews_incident_id'), 'incident_reviews', ['incident_id'], unique=False)
    op.create_table('review_action_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=False),
    sa.Column('due_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_at', yuqing.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['review_id'], ['incident_reviews.id'],
                            name=op.f('fk_review_action_items_review_id_incident_reviews'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_action_items'))
    )
    op.create_index(op.f('ix_review_action_items_review_id'), 'review_action_items', ['review_id'], unique=False)
    _carry_over()


def _carry_over() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE incidents SET status = 'acknowledged' "
                         "WHERE status = 'open' AND acknowledged_at IS NOT NULL"))
    conn.execute(sa.text("UPDATE tasks SET key = 'leadership_notice' WHERE key = 'leadership_report'"))
    conn.execute(sa.text("UPDATE tasks SET status = 'not_applicable' WHERE status = 'skipped'"))
    events = sa.table('timeline_events', sa.column('incident_id', sa.Integer()), sa.column('at', yuqing.db.UTCDateTime()),
                      sa.column('kind', sa.String()), sa.column('actor', sa.String()), sa.column('data', sa.JSON()))
    incidents = sa.table('incidents', sa.column('id', sa.Integer()), sa.column('level', sa.String()))
    reports = sa.table('incident_reports', sa.column('incident_id', sa.Integer()), sa.column('kind', sa.String()),
                       sa.column('version', sa.Integer()), sa.column('level', sa.String()),
                       sa.column('text', sa.Text()), sa.column('author', sa.String()),
                       sa.column('filed_at', yuqing.db.UTCDateTime()))
    levels = dict(conn.execute(sa.select(incidents.c.id, incidents.c.level)).all())
    versions: dict[tuple[int, str], int] = {}
    rows = conn.execute(sa.select(events.c.incident_id, events.c.at, events.c.actor, events.c.data)
                        .where(events.c.kind == 'report').order_by(events.c.at)).all()
    for incident_id, at, actor, data in rows:
        kind = _KINDS.get(str((data or {}).get('report')))
        if kind is None or (kind == 'initial' and (incident_id, kind) in versions):
            continue
        version = versions.get((incident_id, kind), 0) + 1
        versions[(incident_id, kind)] = version
        note = str((data or {}).get('note') or '').strip()
        conn.execute(reports.insert().values(
            incident_id=incident_id, kind=kind, version=version, level=levels.get(incident_id, 'IV'),
            text=note or '（升级前以处置记录登记的报告，未存正文）', author=actor or 'system', filed_at=at))


def downgrade() -> None:
    op.drop_index(op.f('ix_review_action_items_review_id'), table_name='review_action_items')
    op.drop_table('review_action_items')
    op.drop_index(op.f('ix_incident_reviews_incident_id'), table_name='incident_reviews')
    op.drop_table('incident_reviews')
    op.drop_index(op.f('ix_leadership_acknowledgements_at'), table_name='leadership_acknowledgements')
    op.drop_index(op.f('ix_leadership_acknowledgements_incident_id'), table_name='leadership_acknowledgements')
    op.drop_table('leadership_acknowledgements')
    op.drop_index(op.f('ix_incident_reports_filed_at'), table_name='incident_reports')
    op.drop_index(op.f('ix_incident_reports_incident_id'), table_name='incident_reports')
    op.drop_table('incident_reports')
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE incidents SET status = 'open' WHERE status NOT IN ('closed', 'reviewed')"))
    conn.execute(sa.text("UPDATE incidents SET status = 'closed' WHERE status = 'reviewed'"))
    conn.execute(sa.text("UPDATE tasks SET key = 'leadership_report' WHERE key = 'leadership_notice'"))
    conn.execute(sa.text("UPDATE tasks SET status = 'skipped' WHERE status = 'not_applicable'"))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('monitoring_at')
        batch_op.drop_column('responding_at')
