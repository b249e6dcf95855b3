"""Database plumbing on both SQLite and PostgreSQL: migrations, UTC timestamps, the audit table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from crawlers.search_index import is_fts_table
from incidents.models import ALERT_QUEUE_INDEX
from runner.schema import all_metadata
from yuqing.db import make_engine, session_scope
from yuqing.migrate import current_revision, upgrade
from yuqing.models import AuditEntry


def test_migrations_reach_head_and_match_the_models(db_engine):
    assert current_revision(db_engine) is not None
    with db_engine.connect() as conn:
        # SQLite's FTS5 search table and its shadow tables are not models (crawlers.search_index); the alert queue's
        # expression index is in both, but alembic cannot match its CASE with the text PostgreSQL prints back
        context = MigrationContext.configure(conn, opts={
            "include_name": lambda name, kind, _parent: not (
                (kind == "table" and is_fts_table(name)) or (kind == "index" and name == ALERT_QUEUE_INDEX)),
            "include_object": lambda _obj, name, kind, _reflected, _other: not (
                kind == "index" and name == ALERT_QUEUE_INDEX)})
        diff = compare_metadata(context, all_metadata())
    assert diff == [], f"models and migrations differ; run alembic revision --autogenerate: {diff}"


def test_upgrade_twice_is_harmless(db_engine):
    before = current_revision(db_engine)
    upgrade(db_engine)
    assert current_revision(db_engine) == before


def test_timestamps_come_back_as_the_same_utc_instant(session_factory):
    shanghai = timezone(timedelta(hours=8))
    written = datetime(2026, 11, 23, 17, 5, tzinfo=shanghai)
    with session_scope(session_factory) as s:
        s.add(AuditEntry(at=written, actor="system", action="test", object_type="x", object_id="1", data={"k": "值"}))
    with session_factory() as s:
        row = s.scalars(select(AuditEntry)).one()
    assert row.at == written
    assert row.at.tzinfo is not None and row.at.utcoffset() == timedelta(0)
    assert row.data == {"k": "值"}


def test_naive_datetimes_are_refused(session_factory):
    with pytest.raises(Exception, match="naive datetime"), session_scope(session_factory) as s:
        s.add(AuditEntry(at=datetime(2026, 1, 1), actor="a", action="b", object_type="c", object_id="d"))
        s.flush()


def test_sqlite_uses_wal(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
    assert (tmp_path / "sub" / "x.db").exists()


def test_session_scope_rolls_back_on_error(session_factory):
    with pytest.raises(RuntimeError), session_scope(session_factory) as s:
        s.add(AuditEntry(at=datetime.now(UTC), actor="a", action="b", object_type="c", object_id="d"))
        s.flush()
        raise RuntimeError("boom")
    with session_factory() as s:
        assert s.scalars(select(AuditEntry)).all() == []
