"""audit hash chain

Every audit_log row gets ``prev_hash`` and ``row_hash`` (see ``yuqing.audit_chain``). Rows written before this
revision are hashed here, in id order, so ``yuqing audit verify`` passes on an upgraded database. On PostgreSQL a
trigger then refuses UPDATE, DELETE and TRUNCATE of the table (docs/security.md says how an admin archives rows).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 03:44:45.824157
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db
from yuqing.audit_chain import GENESIS, compute_hash

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
# The table as this revision knows it (not the live model, which later revisions may change).
audit_log = sa.table(
    'audit_log',
    sa.column('id', sa.Integer()), sa.column('at', yuqing.db.UTCDateTime()), sa.column('actor', sa.String()),
    sa.column('action', sa.String()), sa.column('object_type', sa.String()), sa.column('object_id', sa.String()),
    sa.column('detail', sa.Text()), sa.column('data', sa.JSON()), sa.column('prev_hash', sa.String()),
    sa.column('row_hash', sa.String()),
)
PG_GUARD = (
    """CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$""",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()",
)
PG_GUARD_DROP = (
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_refuse_change()",
)


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))

    _hash_existing_rows(op.get_bind())

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('row_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_prev_hash'), ['prev_hash'])

    if op.get_bind().dialect.name == 'postgresql':
        for statement in PG_GUARD:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for statement in PG_GUARD_DROP:
            op.execute(statement)
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_log_prev_hash'), type_='unique')
        batch_op.drop_column('row_hash')
        batch_op.drop_column('prev_hash')


def _hash_existing_rows(conn: sa.Connection) -> None:
    """Chain the rows written before the chain existed, in id order, exactly as verify will recompute them."""
    last_hash = GENESIS
    after = 0
    while True:
        rows = conn.execute(sa.select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id)
                            .limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            row_hash = compute_hash(at=row.at, actor=row.actor, action=row.action, object_type=row.object_type,
                                    object_id=row.object_id, detail=row.detail, data=row.data, prev_hash=last_hash)
            conn.execute(audit_log.update().where(audit_log.c.id == row.id)
                         .values(prev_hash=last_hash, row_hash=row_hash))
            last_hash, after = row_hash, row.id
