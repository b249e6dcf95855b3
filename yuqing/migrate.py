"""Run Alembic migrations programmatically (``yuqing migrate``, the demo and the test fixtures all use this).

A NEW SQLite database migrated to ``head`` is not migrated revision by revision every time: the first one is, and a
copy of it is kept as a template under ``$YUQING_CACHE_DIR/sqlite-migrated/`` (default ``var/cache/``); later new
databases get the template's pages through SQLite's backup API. Running the 24 revisions costs 0.44 s of CPU for
the first new database in a process and 0.10 s for each later one (a copy: 0.03 / 0.005 s), which every backtest
replay and sweep setting, the demo and many tests paid for one empty schema. The template's name is a hash of
everything that could change what the migrations build (see ``template_key``), so an edited migration never
reuses an old template; anything else (PostgreSQL, a database with any table, another revision, no writable
cache) migrates as before.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import functools
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import alembic
import sqlalchemy
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from yuqing.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
TEMPLATE_SUBDIR = "sqlite-migrated"


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (idempotent); a new SQLite database going to head is
    copied from the cached template when there is one (module docstring)."""
    if revision == "head" and engine.dialect.name == "sqlite" and engine.dialect.driver == "pysqlite":
        cache = template_dir()
        if cache is not None and _upgrade_from_template(engine, cache):
            return
    _migrate(engine, revision)


def _migrate(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # a migration may take longer than the runtime's statement limit
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def template_dir() -> Path | None:
    """Where templates live: ``$YUQING_CACHE_DIR`` (the setting ``cache_dir``, as the ONNX exports and the public
    split use it) or ``var/cache/``; ``None`` when it cannot be created or written, so the caller just migrates."""
    root = Path(os.environ.get("YUQING_CACHE_DIR") or PROJECT_ROOT / "var" / "cache")
    path = root / TEMPLATE_SUBDIR
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK | os.X_OK) else None


def template_key(migrations_dir: Path = MIGRATIONS_DIR, ini_file: Path = ALEMBIC_INI) -> str:
    """A hash of what decides the database the migrations build: every file under ``migrations/`` (not
    ``__pycache__``), the project modules those files import (``yuqing.db``'s column types, the FTS table's DDL in
    ``crawlers.search_index``, ...), alembic.ini's ``[alembic]`` section, and the SQLAlchemy, alembic and SQLite
    library versions (each can render or store the same migration differently)."""
    digest = hashlib.sha256()
    digest.update(f"sqlalchemy={sqlalchemy.__version__}|alembic={alembic.__version__}|"
                  f"sqlite={sqlite3.sqlite_version}\n".encode())
    imported: set[str] = set()
    for path in sorted(p for p in migrations_dir.rglob("*") if p.is_file()
                       and "__pycache__" not in p.parts and p.suffix != ".pyc"):
        data = path.read_bytes()
        digest.update(f"M {path.relative_to(migrations_dir).as_posix()} {len(data)}\n".encode())
        digest.update(data)
        if path.suffix == ".py":
            imported.update(_imports(data))
    for module in sorted(imported):
        source = _project_source(module)
        if source is not None:
            data = source.read_bytes()
            digest.update(f"I {module} {len(data)}\n".encode())
            digest.update(data)
    digest.update(b"INI\n" + _alembic_section(ini_file).encode())
    return digest.hexdigest()[:32]


@functools.lru_cache(maxsize=256)
def _imports(source: bytes) -> frozenset[str]:
    """Every module a file imports, at any depth in it (migrations import inside ``upgrade()`` too); for
    ``from a import b`` both ``a`` and ``a.b`` (``b`` may be a module). Memoised on the bytes: parsing the 24
    files is most of working out the key, and a process may make many new databases."""
    found: set[str] = set()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # its bytes are hashed anyway, and alembic will refuse it
        return frozenset()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(found)


def _project_source(module: str) -> Path | None:
    """The file of a module of this project (``yuqing.db`` -> yuqing/db.py); ``None`` for libraries."""
    base = PROJECT_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _alembic_section(ini_file: Path) -> str:
    """alembic.ini's ``[alembic]`` section (the logging sections change nothing in the database)."""
    lines: list[str] = []
    inside = False
    for line in ini_file.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            inside = stripped == "[alembic]"
        elif inside and stripped and not stripped.startswith(("#", ";")):
            lines.append(stripped)
    return "\n".join(lines)


def _upgrade_from_template(engine: Engine, cache: Path) -> bool:
    """Copy the template into a new database, or migrate it and save the template; ``False`` when the database is
    not new (the caller migrates it as before). The check and the copy run under a lock in the cache dir, held
    through a miss's migration too: two processes opening the same new file cannot both see it empty and the later
    copy overwrite what the first wrote since."""
    key = template_key()
    template = cache / f"{key}.db"
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        if not isinstance(conn, sqlite3.Connection):  # a wrapped driver: no backup API to rely on
            return False
        with _lock(cache, private=engine.url.database in (None, "", ":memory:")):
            if not _is_new(conn):
                return False
            if template.is_file():
                try:
                    source = sqlite3.connect(f"{template.as_uri()}?mode=ro", uri=True)
                    try:
                        source.backup(conn)
                    finally:
                        source.close()
                    return True
                except sqlite3.Error:
                    if not _is_new(conn):  # a partly applied copy: never guess, let the caller see the error
                        raise
            raw.close()
            raw = None
            _migrate(engine, "head")
            _save_template(engine, template)
            return True
    finally:
        if raw is not None:
            raw.close()


def _is_new(conn: sqlite3.Connection) -> bool:
    """No schema object at all and no user_version: nothing a copy could overwrite."""
    cur = conn.execute("SELECT count(*) FROM sqlite_master")
    objects = cur.fetchone()[0]
    cur.close()
    cur = conn.execute("PRAGMA user_version")
    version = cur.fetchone()[0]
    cur.close()
    return objects == 0 and version == 0 and not conn.in_transaction


@contextlib.contextmanager
def _lock(cache: Path, *, private: bool) -> Iterator[None]:
    if private:  # an in-memory database is this connection's own: nobody else can race for it
        yield
        return
    with open(cache / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save_template(engine: Engine, template: Path) -> None:
    """Back the just-migrated database up into a temp file in rollback-journal mode (one file, no -wal beside it),
    then rename it into place, so a concurrent reader sees either no template or a whole one. A failure leaves no
    template and the next new database just migrates."""
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".db", dir=template.parent)
    os.close(fd)
    try:
        raw = engine.raw_connection()
        try:
            dest = sqlite3.connect(tmp_name)
            try:
                raw.driver_connection.backup(dest)
                dest.execute("PRAGMA journal_mode=DELETE")
            finally:
                dest.close()
        finally:
            raw.close()
        os.replace(tmp_name, template)
    except (OSError, sqlite3.Error):
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
