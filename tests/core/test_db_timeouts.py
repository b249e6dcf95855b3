"""Database timeouts against the real servers: a statement over PostgreSQL's statement_timeout is cancelled with a
clear error, an unreachable or silent server fails within the connect timeout, SQLite gives up on a held lock after
its busy timeout. The time bounds are generous: they prove "did not hang", nothing finer."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from yuqing.db import engine_for, make_engine
from yuqing.settings import load_settings

pytestmark = pytest.mark.postgres


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that completes the TCP handshake and then never says a word (a hung database host)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more: connecting is refused
    return port


def test_settings_give_timeouts_by_default():
    s = load_settings()
    assert (s.db_connect_timeout, s.db_statement_timeout, s.db_busy_timeout) == (5.0, 30.0, 30.0)
    with pytest.raises(Exception, match="YUQING_DB_STATEMENT_TIMEOUT"):
        load_settings(db_statement_timeout=-1)


def test_a_statement_over_the_limit_is_cancelled_by_postgres(postgres_url):
    engine = engine_for(load_settings(database_url=postgres_url, db_statement_timeout=0.5))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "500ms"
            assert conn.execute(text("SELECT 1")).scalar() == 1  # a quick statement is unaffected
        started = time.perf_counter()
        with pytest.raises(OperationalError, match="canceling statement due to statement timeout") as caught, \
                engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(20)"))
        assert time.perf_counter() - started < 10
        assert caught.value.orig.sqlstate == "57014"  # query_canceled
    finally:
        engine.dispose()


def test_a_search_path_in_the_url_is_kept_beside_the_statement_timeout(postgres_url):
    url = make_url(postgres_url).update_query_dict({"options": "-csearch_path=pg_catalog"})
    engine = make_engine(url.render_as_string(hide_password=False), statement_timeout=2)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "2s"
            assert conn.execute(text("SHOW search_path")).scalar() == "pg_catalog"
    finally:
        engine.dispose()


@pytest.mark.parametrize("where", ["refused", "silent"])
def test_an_unreachable_database_fails_within_the_connect_timeout(where):
    with contextlib.ExitStack() as stack:
        port = closed_port() if where == "refused" else stack.enter_context(silent_server())
        engine = engine_for(load_settings(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/test",
                                          db_connect_timeout=2))
        started = time.perf_counter()
        with pytest.raises(OperationalError) as caught, engine.connect():
            pass
        elapsed = time.perf_counter() - started
        engine.dispose()
    assert elapsed < 10, elapsed  # without a connect timeout the silent server holds the caller indefinitely
    message = str(caught.value.orig)
    assert ("refused" in message) if where == "refused" else ("timeout" in message), message


def test_sqlite_gives_up_on_a_held_lock_after_its_busy_timeout(tmp_path):
    db = tmp_path / "busy.db"
    engine = engine_for(load_settings(data_dir=tmp_path, database_url=f"sqlite:///{db}", db_busy_timeout=0.5))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 500
        holder = sqlite3.connect(db, timeout=0)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        try:
            started = time.perf_counter()
            with pytest.raises(OperationalError, match="database is locked"), engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
            assert time.perf_counter() - started < 10
        finally:
            holder.rollback()
            holder.close()
        with engine.begin() as conn:  # once the lock is gone, writing works again
            conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        engine.dispose()
