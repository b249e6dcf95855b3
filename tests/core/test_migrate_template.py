"""The migrated-SQLite template (yuqing.migrate): a database copied from it must be the database the migrations
build, its key must follow the migration files, and only a new SQLite database going to head may take it."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from yuqing import migrate
from yuqing.db import make_engine


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("YUQING_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / migrate.TEMPLATE_SUBDIR


def _schema(path: Path) -> tuple[list[tuple], list[tuple], dict[str, int]]:
    conn = sqlite3.connect(path)
    try:
        master = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        pragmas = {p: conn.execute(f"PRAGMA {p}").fetchone()[0]
                   for p in ("journal_mode", "user_version", "page_size", "auto_vacuum", "application_id")}
        rows = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                for _type, name, _t, sql in master if _type == "table" and "VIRTUAL" not in (sql or "")}
    finally:
        conn.close()
    return master, version, {**pragmas, **{f"rows:{k}": v for k, v in rows.items()}}


def _migrated_plainly(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path}")
    migrate._migrate(engine, "head")
    engine.dispose()


def _upgraded(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()


def test_template_made_database_matches_a_migrated_one(tmp_path, cache):
    _migrated_plainly(tmp_path / "plain.db")
    _upgraded(tmp_path / "first.db")  # a miss: migrates and saves the template
    templates = list(cache.glob("*.db"))
    assert [t.name for t in templates] == [f"{migrate.template_key()}.db"]
    assert not list(cache.glob("*-wal")) and not list(cache.glob(".tmp-*"))
    with sqlite3.connect(templates[0]) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    _upgraded(tmp_path / "copied.db")  # a hit
    plain = _schema(tmp_path / "plain.db")
    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert plain[0] and plain[1] == [(head,)]
    assert _schema(tmp_path / "first.db") == plain
    copied = _schema(tmp_path / "copied.db")
    assert copied == plain
    assert copied[2]["journal_mode"] == "wal"

    engine = make_engine(f"sqlite:///{tmp_path / 'copied.db'}")
    with engine.begin() as conn:  # the copy is a working database: foreign keys on, writes land
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
        conn.execute(text("INSERT INTO scratch (x) VALUES (1)"))
    migrate.upgrade(engine)  # not new any more: the plain path, a no-op at head
    assert migrate.current_revision(engine) is not None
    engine.dispose()
    check = sqlite3.connect(tmp_path / "copied.db")
    assert check.execute("SELECT count(*) FROM scratch").fetchone()[0] == 1
    check.close()
    assert not (tmp_path / "copied.db-wal").exists()  # the last close checkpointed it: nothing stale beside the file


def test_in_memory_database_gets_the_template(cache):
    _upgraded(cache.parent.parent / "seed.db")
    engine = make_engine("sqlite:///:memory:")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"articles", "alembic_version"} <= tables
    assert migrate.current_revision(engine) == migrate.current_revision(
        make_engine(f"sqlite:///{cache.parent.parent / 'seed.db'}"))
    engine.dispose()


def test_changed_migration_file_changes_the_key(tmp_path):
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert migrate.template_key(copy) == migrate.template_key()
    victim = sorted((copy / "versions").glob("*.py"))[-1]
    data = bytearray(victim.read_bytes())
    data[-2] = ord("#") if data[-2] != ord("#") else ord(" ")
    victim.write_bytes(bytes(data))
    assert migrate.template_key(copy) != migrate.template_key()
    (copy / "versions" / "__pycache__").mkdir()
    (copy / "versions" / "__pycache__" / "x.pyc").write_bytes(b"whatever")  # byte code is not the source
    changed = migrate.template_key(copy)
    assert migrate.template_key(copy) == changed


def test_changed_imported_module_or_ini_changes_the_key(tmp_path, monkeypatch):
    before = migrate.template_key()
    ini = tmp_path / "alembic.ini"
    ini.write_text(migrate.ALEMBIC_INI.read_text(encoding="utf-8").replace("level = INFO", "level = DEBUG"),
                   encoding="utf-8")
    assert migrate.template_key(ini_file=ini) == before  # logging does not build the database
    ini.write_text(migrate.ALEMBIC_INI.read_text(encoding="utf-8") + "\n[alembic]\nextra = 1\n", encoding="utf-8")
    assert migrate.template_key(ini_file=ini) != before
    root = tmp_path / "root"
    shutil.copytree(migrate.PROJECT_ROOT / "yuqing", root / "yuqing", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(migrate.PROJECT_ROOT / "crawlers", root / "crawlers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(migrate.PROJECT_ROOT / "runner", root / "runner", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "PROJECT_ROOT", root)
    assert migrate.template_key() == before
    search_index = root / "crawlers" / "search_index.py"  # holds the FTS table's DDL
    search_index.write_text(search_index.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert migrate.template_key() != before


def test_other_cases_take_the_plain_path(tmp_path, cache, monkeypatch):
    calls: list[str] = []
    real = migrate._migrate
    monkeypatch.setattr(migrate, "_migrate", lambda engine, revision: (calls.append(revision), real(engine, revision)))
    _upgraded(tmp_path / "seed.db")
    assert calls == ["head"] and list(cache.glob("*.db"))

    engine = make_engine(f"sqlite:///{tmp_path / 'partial.db'}")
    migrate.upgrade(engine, "0010")  # another revision: migrated, not copied
    assert calls == ["head", "0010"] and migrate.current_revision(engine) == "0010"
    migrate.upgrade(engine)  # a database with tables: migrated from where it is
    assert calls == ["head", "0010", "head"]
    assert _schema(tmp_path / "partial.db")[:2] == _schema(tmp_path / "seed.db")[:2]
    engine.dispose()

    engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE mine (x INTEGER)")
    migrate.upgrade(engine)  # a foreign table: not new, so the migrations run on top of it, as before
    assert calls[-1] == "head"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM mine").scalar() == 0
    engine.dispose()


def test_unwritable_cache_migrates(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("YUQING_CACHE_DIR", str(blocker))
    assert migrate.template_dir() is None
    _upgraded(tmp_path / "db.sqlite")
    assert migrate.current_revision(make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")) is not None
