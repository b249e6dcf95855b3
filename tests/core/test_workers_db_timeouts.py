"""The idle-in-transaction limit every process's PostgreSQL connection carries (``YUQING_DB_IDLE_IN_TRANSACTION_
TIMEOUT``): a session that stops inside an open transaction (a worker hung between two statements) is ended by
the server, so the row locks it held go back to the other workers."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from yuqing.db import engine_for
from yuqing.errors import ConfigError
from yuqing.settings import load_settings

pytestmark = pytest.mark.postgres


def test_the_setting_is_validated():
    assert load_settings().db_idle_in_transaction_timeout == 60.0
    with pytest.raises(ConfigError, match="YUQING_DB_IDLE_IN_TRANSACTION_TIMEOUT"):
        load_settings(db_idle_in_transaction_timeout=-1)


def test_a_session_idle_inside_a_transaction_is_ended_and_its_lock_freed(postgres_url):
    engine = engine_for(load_settings(database_url=postgres_url, db_idle_in_transaction_timeout=1,
                                      db_statement_timeout=5))
    other = engine_for(load_settings(database_url=postgres_url, db_idle_in_transaction_timeout=0,
                                     db_statement_timeout=5))
    table = f"idle_probe_{int(time.time() * 1000)}"
    try:
        with other.begin() as conn:
            conn.execute(text(f"CREATE TABLE {table} (id int PRIMARY KEY)"))
            conn.execute(text(f"INSERT INTO {table} VALUES (1)"))
        with engine.connect() as conn:
            assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "1s"
            conn.execute(text(f"SELECT id FROM {table} WHERE id = 1 FOR UPDATE"))  # holds the row, then hangs
            time.sleep(2.5)
            with other.connect() as free:  # the row is free again: the server ended the hung session
                got = free.execute(text(f"SELECT id FROM {table} WHERE id = 1 FOR UPDATE NOWAIT")).scalar()
                assert got == 1
            with pytest.raises(DBAPIError):
                conn.execute(text("SELECT 1"))  # the hung session learns it was terminated on its next call
    finally:
        with other.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
        other.dispose()
