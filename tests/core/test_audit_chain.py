"""The audit log is append-only and hash-chained, on SQLite and PostgreSQL: every writer is chained in id order,
concurrent appends never fork, the migration chains old rows, and ``yuqing audit verify`` names the first row that
was changed, removed or inserted with raw SQL."""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from typer.testing import CliRunner

from api import audit
from runner.cli import app
from yuqing import audit_chain
from yuqing.audit_chain import GENESIS, AppendOnlyError, compute_hash, verify
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.migrate import alembic_config, current_revision, upgrade
from yuqing.models import AuditEntry

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
runner = CliRunner()


def write(factory, n: int, *, start: int = 0, actor: str = "wangmin") -> None:
    """``n`` entries, one transaction each, through the application's writer."""
    for i in range(start, start + n):
        with factory() as s:
            audit_chain.append(s, at=T0 + timedelta(minutes=i), actor=actor, action="alert.acknowledge",
                               object_type="alert", object_id=i, detail=f"确认预警 {i}", data={"n": i, "备注": "值"})
            s.commit()


def rows(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(AuditEntry.__table__).order_by(AuditEntry.id)).all()


def check(engine: Engine, **kw) -> audit_chain.ChainReport:
    with engine.connect() as conn:
        return verify(conn, **kw)


def tamper(engine: Engine, *statements: str, params: dict | None = None) -> None:
    """Raw SQL as someone with direct database access would run it (on PostgreSQL, the table owner switches the
    append-only trigger off first — exactly what a superuser can do)."""
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if pg:
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        for statement in statements:
            conn.execute(text(statement), params or {})
        if pg:
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")


# --- writing ---------------------------------------------------------------------------------------------------
def test_every_writer_is_chained_in_id_order(session_factory, db_engine):
    clock = FrozenClock(T0)
    with session_factory() as s:
        audit.record(s, clock=clock, actor="liuqiang", action="incident.open", object_type="incident", object_id=7,
                     detail="YQ-20261123-001", data={"level": "III"})
        # added directly (as older code and tests do), in the same flush: chained too, in the order added
        s.add(AuditEntry(at=datetime(2026, 11, 23, 9, 30, tzinfo=timezone(timedelta(hours=8))), actor="system",
                         action="alert.create", object_type="alert", object_id="3", data={"k": ("元组", 1), 2: None}))
        s.flush()
        audit_chain.append(s, at=T0, actor="a" * 80, action="x", object_type="t" * 40, object_id=12345, detail="")
        s.commit()
    write(session_factory, 3)
    stored = rows(db_engine)
    assert [r.id for r in stored] == [1, 2, 3, 4, 5, 6]
    assert stored[0].prev_hash == GENESIS
    for before, row in itertools.pairwise(stored):
        assert row.prev_hash == before.row_hash
    for row in stored:
        assert row.row_hash == audit_chain.hash_of_row(row), "the hash is of what was stored"
    assert stored[1].at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert stored[1].data == {"k": ["元组", 1], "2": None}, "hashed as the JSON column gives it back"
    assert (stored[2].actor, stored[2].object_type, stored[2].object_id) == ("a" * 64, "t" * 32, "12345")
    report = check(db_engine)
    assert report.ok and report.rows == 6 and (report.last_id, report.last_hash) == (6, stored[-1].row_hash)


def test_the_hash_is_sha256_of_the_canonical_serialisation(session_factory, db_engine):
    with session_factory() as s:
        audit_chain.append(s, at=datetime(2026, 11, 23, 17, 5, 1, 250, tzinfo=timezone(timedelta(hours=8))),
                           actor="王敏", action="alert.dismiss", object_type="alert", object_id=9,
                           detail="误报 <b>", data={"z": 1, "a": {"y": "值", "b": [1.5, True, None]}})
        s.commit()
    row = rows(db_engine)[0]
    canonical = ('{"action":"alert.dismiss","actor":"王敏","at":"2026-11-23T09:05:01.000250+00:00",'
                 '"data":{"a":{"b":[1.5,true,null],"y":"值"},"z":1},"detail":"误报 <b>","object_id":"9",'
                 '"object_type":"alert","prev_hash":"' + GENESIS + '"}')
    assert row.row_hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_the_orm_refuses_to_change_or_delete_an_entry(session_factory, db_engine):
    write(session_factory, 2)
    with session_factory() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.id == 1)).one()
        entry.detail = "改过"
        with pytest.raises(AppendOnlyError, match="append-only"):
            s.flush()
        s.rollback()
        s.delete(s.get(AuditEntry, 2))
        with pytest.raises(AppendOnlyError, match="append-only"):
            s.flush()
        s.rollback()
        with pytest.raises(AppendOnlyError, match="numbered by the chain"):
            s.add(AuditEntry(id=99, at=T0, actor="a", action="b", object_type="c", object_id="d"))
            s.flush()
    assert check(db_engine).rows == 2


@pytest.mark.postgres
def test_postgres_refuses_update_delete_and_truncate(postgres_engine):
    write(make_sessionmaker(postgres_engine), 2)
    for statement in ("UPDATE audit_log SET detail = 'x' WHERE id = 1", "DELETE FROM audit_log WHERE id = 2",
                      "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), postgres_engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert check(postgres_engine).rows == 2


@pytest.mark.postgres
def test_tables_made_by_create_all_get_the_same_postgres_guard(postgres_url):
    from runner.schema import all_metadata
    from tests.helpers import scratch_schema

    with scratch_schema(postgres_url) as engine:
        all_metadata().create_all(engine)
        write(make_sessionmaker(engine), 1)
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_log")


@pytest.mark.postgres
def test_a_role_with_only_select_and_insert_can_append_and_verify_but_not_lift_the_guard(postgres_engine):
    """What docs/security.md recommends: the service's role holds SELECT and INSERT on audit_log, nothing more."""
    import uuid

    role = f"yq_app_{uuid.uuid4().hex[:8]}"
    with postgres_engine.begin() as conn:
        schema = conn.execute(text("select current_schema()")).scalar_one()
        conn.exec_driver_sql(f'CREATE ROLE "{role}" NOLOGIN')
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        conn.exec_driver_sql(f'GRANT SELECT, INSERT ON audit_log TO "{role}"')
        conn.exec_driver_sql(f'GRANT SELECT ON deployment_facts TO "{role}"')
    try:
        with make_sessionmaker(postgres_engine)() as s:
            s.execute(text(f'SET LOCAL ROLE "{role}"'))
            audit_chain.append(s, at=T0, actor="wangmin", action="login", object_type="user", object_id=1)
            s.flush()
            audit_chain.append(s, at=T0, actor="wangmin", action="logout", object_type="user", object_id=1)
            s.commit()
        with postgres_engine.connect() as conn:
            conn.exec_driver_sql(f'SET ROLE "{role}"')
            assert verify(conn).rows == 2
            for statement in ("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
                              "DELETE FROM audit_log"):
                with pytest.raises(DBAPIError, match=r"owner|permission denied"):
                    conn.exec_driver_sql(statement)
                conn.rollback()
                conn.exec_driver_sql(f'SET ROLE "{role}"')
    finally:
        with postgres_engine.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')


def test_a_second_writer_waits_for_the_first_and_chains_after_it(session_factory, db_engine):
    """Deterministic: B appends while A's transaction holds the chain; B waits, then links to A's rows."""
    write(session_factory, 1)
    a_flushed, a_committed_at, b_flushed_at = threading.Event(), [], []

    def writer_a():
        with session_factory() as s:
            audit_chain.append(s, at=T0, actor="A", action="x", object_type="t", object_id=1)
            s.flush()
            a_flushed.set()
            time.sleep(0.5)
            audit_chain.append(s, at=T0, actor="A", action="y", object_type="t", object_id=2)
            # taken just before the commit: once it commits, B may run before this thread reads the clock again
            a_committed_at.append(time.monotonic())
            s.commit()

    def writer_b():
        a_flushed.wait(5)
        with session_factory() as s:
            audit_chain.append(s, at=T0, actor="B", action="x", object_type="t", object_id=3)
            s.flush()
            b_flushed_at.append(time.monotonic())
            s.commit()

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert b_flushed_at and a_committed_at and b_flushed_at[0] >= a_committed_at[0], "B did not wait for A's commit"
    assert [(r.id, r.actor) for r in rows(db_engine)] == [(1, "wangmin"), (2, "A"), (3, "A"), (4, "B")]
    assert check(db_engine).ok


@pytest.mark.postgres
def test_concurrent_appends_from_two_threads_on_postgres_keep_one_chain(postgres_engine):
    factory = make_sessionmaker(postgres_engine)
    start, errors = threading.Barrier(2), []

    def writer(actor: str):
        try:
            start.wait(5)
            for i in range(25):
                with factory() as s:
                    for j in range(1 + i % 3):  # one to three entries per transaction, flushed apart
                        audit_chain.append(s, at=T0, actor=actor, action="x", object_type="t", object_id=f"{i}.{j}")
                        s.flush()
                    s.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    stored = rows(postgres_engine)
    assert len(stored) == 2 * sum(1 + i % 3 for i in range(25))
    assert [r.id for r in stored] == list(range(1, len(stored) + 1))
    actors = "".join(r.actor for r in stored)
    assert "AB" in actors and "BA" in actors, "the two writers really ran at the same time"
    report = check(postgres_engine)
    assert report.ok and report.rows == len(stored)


# --- verify: what raw SQL does to the chain --------------------------------------------------------------------
@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET detail = '确认预警（改）' WHERE id = 3",
    "UPDATE audit_log SET actor = 'someone' WHERE id = 3",
    "UPDATE audit_log SET object_id = '99' WHERE id = 3",
    "UPDATE audit_log SET data = '{\"n\": 99}' WHERE id = 3",
    f"UPDATE audit_log SET prev_hash = '{'f' * 64}' WHERE id = 3",
    "UPDATE audit_log SET row_hash = prev_hash WHERE id = 3",
])
def test_verify_names_a_row_whose_content_changed(session_factory, db_engine, statement):
    write(session_factory, 5)
    tamper(db_engine, statement)
    problem = check(db_engine).problem
    assert problem is not None and problem.id == 3 and problem.kind == "changed", problem


def test_verify_names_a_row_whose_time_changed(session_factory, db_engine):
    write(session_factory, 5)
    with db_engine.connect() as conn:
        at = conn.execute(select(AuditEntry.__table__.c.at).where(AuditEntry.id == 2)).scalar_one()
    tamper(db_engine, "UPDATE audit_log SET at = :at WHERE id = 2",
           params={"at": (at + timedelta(seconds=1)).replace(tzinfo=None) if db_engine.dialect.name == "sqlite"
                   else at + timedelta(seconds=1)})
    report = check(db_engine)
    assert (report.problem.id, report.problem.kind, report.rows) == (2, "changed", 1)


def test_verify_names_removed_rows(session_factory, db_engine):
    write(session_factory, 6)
    tamper(db_engine, "DELETE FROM audit_log WHERE id IN (3, 4)")
    problem = check(db_engine).problem
    assert (problem.id, problem.kind) == (5, "removed") and "3..4 removed" in problem.message


def test_verify_names_a_removal_hidden_by_renumbering(session_factory, db_engine):
    write(session_factory, 5)
    tamper(db_engine, "DELETE FROM audit_log WHERE id = 3", "UPDATE audit_log SET id = id + 100 WHERE id > 3",
           "UPDATE audit_log SET id = id - 101 WHERE id > 100")
    problem = check(db_engine).problem
    assert (problem.id, problem.kind) == (3, "removed") and "prev_hash mismatch" in problem.message


def test_verify_names_removed_first_rows(session_factory, db_engine):
    write(session_factory, 3)
    tamper(db_engine, "DELETE FROM audit_log WHERE id = 1")
    problem = check(db_engine).problem
    assert (problem.id, problem.kind) == (2, "removed")


def test_verify_names_a_row_inserted_with_a_valid_hash(session_factory, db_engine):
    """Someone who knows the algorithm makes room (renumbering) and slips in a row linked to the one before. The
    unique prev_hash refuses it; the owner of the database can lift that too — and verify still finds the row."""
    write(session_factory, 4)
    before = rows(db_engine)[1]
    forged = {"at": T0 + timedelta(minutes=1, seconds=30), "actor": "chenjing", "action": "incident.close",
              "object_type": "incident", "object_id": "1", "detail": "已处置", "data": {}}
    forged_hash = compute_hash(**forged, prev_hash=before.row_hash)
    at = forged["at"].replace(tzinfo=None) if db_engine.dialect.name == "sqlite" else forged["at"]
    make_room = ("UPDATE audit_log SET id = id + 100 WHERE id > 2", "UPDATE audit_log SET id = id - 99 WHERE id > 100")
    insert = ("INSERT INTO audit_log (id, at, actor, action, object_type, object_id, detail, data, prev_hash, "
              "row_hash) VALUES (3, :at, 'chenjing', 'incident.close', 'incident', '1', '已处置', '{}', :prev, :row)")
    params = {"at": at, "prev": before.row_hash, "row": forged_hash}
    with pytest.raises(IntegrityError):
        tamper(db_engine, *make_room, insert, params=params)
    assert check(db_engine).ok, "refused and rolled back"
    drop_prev_hash_uniqueness(db_engine)
    tamper(db_engine, *make_room, insert, params=params)
    problem = check(db_engine).problem
    assert (problem.id, problem.kind) == (3, "inserted"), problem


def drop_prev_hash_uniqueness(engine: Engine) -> None:
    """What the owner of the database can do: PostgreSQL drops the constraint, SQLite rebuilds the table."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log DROP CONSTRAINT uq_audit_log_prev_hash")
            return
        ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'audit_log'").scalar_one()
        loose = re.sub(r",\s*CONSTRAINT uq_audit_log_prev_hash UNIQUE \(prev_hash\)", "", ddl)
        assert loose != ddl
        conn.exec_driver_sql(loose.replace("audit_log", "audit_log_loose", 1))
        conn.exec_driver_sql("INSERT INTO audit_log_loose SELECT * FROM audit_log")
        conn.exec_driver_sql("DROP TABLE audit_log")
        conn.exec_driver_sql("ALTER TABLE audit_log_loose RENAME TO audit_log")


def test_verify_names_a_row_inserted_without_the_chain(session_factory, db_engine):
    write(session_factory, 3)
    at = T0.replace(tzinfo=None) if db_engine.dialect.name == "sqlite" else T0
    tamper(db_engine, "INSERT INTO audit_log (id, at, actor, action, object_type, object_id, detail, data, "
                      "prev_hash, row_hash) VALUES (4, :at, 'x', 'login', 'user', '1', '', '{}', :p, :r)",
           params={"at": at, "p": "a" * 64, "r": "b" * 64})
    report = check(db_engine)
    assert (report.problem.id, report.rows) == (4, 3) and "inserted outside the application" in report.problem.message


def test_an_anchor_catches_a_consistent_rewrite_and_removed_newest_rows(session_factory, db_engine):
    """Recomputing every hash after an edit passes the internal check — the documented limit — but not an anchor
    recorded earlier; removing the newest rows is caught the same way."""
    write(session_factory, 5)
    anchor = (5, rows(db_engine)[-1].row_hash)
    assert check(db_engine, anchor=anchor).ok
    stored = rows(db_engine)
    statements, prev = [], stored[1].row_hash
    for row in stored[2:]:
        detail = "改写" if row.id == 3 else row.detail
        new_hash = compute_hash(at=row.at, actor=row.actor, action=row.action, object_type=row.object_type,
                                object_id=row.object_id, detail=detail, data=row.data, prev_hash=prev)
        statements.append(f"UPDATE audit_log SET detail = '{detail}', prev_hash = '{prev}', row_hash = '{new_hash}' "
                          f"WHERE id = {row.id}")
        prev = new_hash
    # prev_hash is unique: move the rewritten rows' hashes out of the way first
    tamper(db_engine, "UPDATE audit_log SET prev_hash = 'old' || id WHERE id > 2", *statements)
    assert check(db_engine).ok, "a consistent rewrite passes the internal check"
    problem = check(db_engine, anchor=anchor).problem
    assert (problem.id, problem.kind) == (5, "anchor")

    write(session_factory, 2, start=10)
    tamper(db_engine, "DELETE FROM audit_log WHERE id > 5")
    assert check(db_engine, anchor=(7, "c" * 64)).problem.kind == "anchor"


def test_archiving_old_rows_as_documented_keeps_the_chain_verifiable(session_factory, db_engine):
    """The procedure of docs/security.md: delete the old rows (owner, trigger off) and record the last one."""
    write(session_factory, 5)
    archived_hash = rows(db_engine)[1].row_hash
    pg = db_engine.dialect.name == "postgresql"
    with db_engine.begin() as conn:
        if pg:
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        conn.execute(text("DELETE FROM audit_log WHERE id <= 2"))
        if pg:
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        conn.execute(text("INSERT INTO deployment_facts (key, value, set_at) "
                          "VALUES ('audit_log.archived_through', :v, CURRENT_TIMESTAMP)"), {"v": f"2:{archived_hash}"})
    report = check(db_engine)
    assert report.ok and (report.rows, report.archived_through) == (3, 2)
    assert check(db_engine, start_hash=GENESIS).problem.kind == "removed", "without the record: rows removed"
    write(session_factory, 1, start=5)
    assert [r.id for r in rows(db_engine)] == [3, 4, 5, 6]
    assert check(db_engine).ok
    tamper(db_engine, "DELETE FROM audit_log WHERE id = 3")
    assert (check(db_engine).problem.id, check(db_engine).problem.kind) == (4, "removed")
    tamper(db_engine, "UPDATE deployment_facts SET value = 'garbage' WHERE key = 'audit_log.archived_through'")
    assert check(db_engine).problem.kind == "anchor"


# --- the migration ---------------------------------------------------------------------------------------------
def test_the_migration_chains_rows_written_before_it(db_engine):
    cfg = alembic_config(db_engine.url.render_as_string(hide_password=False))
    with db_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    assert current_revision(db_engine) == "0002"
    legacy = AuditEntry.__table__
    old = [dict(id=1, at=T0, actor="wangmin", action="login", object_type="user", object_id="3", detail="",
                data={}),
           dict(id=2, at=T0 + timedelta(microseconds=7), actor="system", action="alert.create", object_type="alert",
                object_id="1", detail="Ⅲ级 示例银行", data={"level": "III", "列表": [1, 2.5, None]}),
           dict(id=5, at=datetime(2026, 11, 24, 8, tzinfo=timezone(timedelta(hours=8))), actor="liuqiang",
                action="incident.open", object_type="incident", object_id="1", detail="YQ-20261124-001",
                data={"note": "<script>"})]  # ids 3 and 4 rolled back long ago: a gap is not a removal
    with db_engine.begin() as conn:
        conn.execute(legacy.insert().values([{k: v for k, v in r.items()} for r in old]))
    upgrade(db_engine)
    report = check(db_engine)
    assert report.ok and report.rows == 3 and report.last_id == 5
    write(make_sessionmaker(db_engine), 1)
    stored = rows(db_engine)
    assert (stored[-1].id, stored[-1].prev_hash) == (6, report.last_hash)
    assert check(db_engine).rows == 4
    if db_engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), db_engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_log WHERE id = 1")


# --- the command line ------------------------------------------------------------------------------------------
def _url(engine: Engine) -> str:
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(text("select current_schema()")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def test_yuqing_audit_verify(session_factory, db_engine, monkeypatch, tmp_path):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("YUQING_DATABASE_URL", _url(db_engine))
    empty = runner.invoke(app, ["audit", "verify"])
    assert empty.exit_code == 0 and "0 rows checked" in empty.output
    write(session_factory, 4)
    ok = runner.invoke(app, ["audit", "verify"])
    last = rows(db_engine)[-1]
    assert ok.exit_code == 0, ok.output
    assert f"ok: 4 rows checked; newest row 4 hash {last.row_hash}" in ok.output
    assert runner.invoke(app, ["audit", "verify", "--anchor", f"4:{last.row_hash}"]).exit_code == 0
    bad_anchor = runner.invoke(app, ["audit", "verify", "--anchor", "4:nothex"])
    assert bad_anchor.exit_code == 2 and "64 hex digits" in bad_anchor.output

    tamper(db_engine, "UPDATE audit_log SET detail = 'x' WHERE id = 2")
    changed = runner.invoke(app, ["audit", "verify"])
    assert changed.exit_code == 1 and "row 2: content changed" in changed.output, changed.output
    tamper(db_engine, "DELETE FROM audit_log WHERE id = 2")
    removed = runner.invoke(app, ["audit", "verify"])
    assert removed.exit_code == 1 and "row 3: row(s) 2 removed" in removed.output, removed.output
