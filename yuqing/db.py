"""Database plumbing shared by every domain package: declarative Base, engine and session factories.

SQLite (WAL) is the embedded default under ``var/``; PostgreSQL is used in production via
``YUQING_DATABASE_URL=postgresql+psycopg://…``. Column types are portable (no PostgreSQL-only types) so both are
tested with the same models. Timestamps are stored in UTC and always come back timezone-aware.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table of every package (one MetaData, one Alembic history)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and returned timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSON(), "sqlite")


DEFAULT_CONNECT_TIMEOUT = 5.0  # seconds to reach PostgreSQL before giving up
DEFAULT_BUSY_TIMEOUT = 30.0  # seconds SQLite waits for another writer's lock


def make_engine(url: str, *, echo: bool = False, connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
                statement_timeout: float | None = None, idle_in_transaction_timeout: float | None = None,
                busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """Create an engine; for SQLite, create the directory and turn on WAL and foreign keys.

    PostgreSQL gets a ``connect_timeout`` (libpq counts whole seconds, at least 2) and, when given, a server-side
    ``statement_timeout`` on every connection, so a hung or unreachable database fails a call within a known time
    instead of freezing its caller; a statement over the limit raises ``OperationalError`` (SQLSTATE 57014,
    "canceling statement due to statement timeout"), and, when given, ``idle_in_transaction_session_timeout``: a
    session left idle inside an open transaction that long (a process hung between statements) is ended by the
    server, which frees the row locks it held for the other workers. ``None`` or 0 leaves a limit off
    (migrations and bulk jobs use the bare engine). Values in the URL's query win over these. SQLite waits
    ``busy_timeout`` seconds for a lock held by another writer, then raises "database is locked". The processes
    take the values from settings through ``engine_for``.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        busy_ms = int(busy_timeout * 1000)
        engine = create_engine(url, echo=echo, connect_args={"timeout": busy_timeout, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        if connect_timeout and "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = max(2, math.ceil(connect_timeout))
        options = []
        if statement_timeout:
            options.append(f"-c statement_timeout={int(statement_timeout * 1000)}")
        if idle_in_transaction_timeout:
            options.append(f"-c idle_in_transaction_session_timeout={int(idle_in_transaction_timeout * 1000)}")
        if options:
            given = parsed.query.get("options", "")
            given = " ".join(given) if isinstance(given, tuple) else given
            connect_args["options"] = " ".join([given, *options]).strip()
    return create_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)


def engine_for(settings: Any, url: str | None = None) -> Engine:
    """The engine a running process uses: ``settings``' database (or ``url``) with its connect, statement,
    idle-in-transaction and busy timeouts (``YUQING_DB_CONNECT_TIMEOUT`` / ``YUQING_DB_STATEMENT_TIMEOUT`` /
    ``YUQING_DB_IDLE_IN_TRANSACTION_TIMEOUT`` / ``YUQING_DB_BUSY_TIMEOUT``)."""
    return make_engine(url or settings.effective_database_url, connect_timeout=settings.db_connect_timeout,
                       statement_timeout=settings.db_statement_timeout,
                       idle_in_transaction_timeout=getattr(settings, "db_idle_in_transaction_timeout", None),
                       busy_timeout=settings.db_busy_timeout)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def plain_rows(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> Any:
    """Run a statement of plain columns (no ORM entity) on the session's connection and return its result.

    Why: ``Session.execute`` sets up the ORM's loading even for rows of plain columns, about a third of the CPU of
    running a short statement built once (docs/benchmarks.md, API throughput, sixth round); the connection gives
    the same rows. The session's pending changes are flushed first when autoflush is on, as ``Session.execute``
    would do, so the rows see them. Only for statements without ORM entities: entities need the session."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection().execute(stmt, params or {})
