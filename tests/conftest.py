"""Shared fixtures: databases (SQLite and the real PostgreSQL at 127.0.0.1:5432), clocks, the org chart.

The ``db_engine`` fixture runs every test that uses it twice: on a fresh SQLite file and on a fresh PostgreSQL
schema, both migrated with Alembic. PostgreSQL is skipped, with the reason printed, only when the server is not
reachable and YUQING_REQUIRE_POSTGRES is unset; CI sets it, so there a missing server fails the run.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.helpers import scratch_schema
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.migrate import upgrade
from yuqing.org import OrgChart, load_org
from yuqing.settings import PROJECT_ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One cache (ONNX exports by content hash) for the whole run and its subprocesses, outside the repository.
if "YUQING_CACHE_DIR" not in os.environ:
    os.environ["YUQING_CACHE_DIR"] = tempfile.mkdtemp(prefix="yuqing-test-cache-")
    atexit.register(shutil.rmtree, os.environ["YUQING_CACHE_DIR"], ignore_errors=True)
PG_URL = os.environ.get("YUQING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DEMO_START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


# The longest-running files, longest first. xdist (`--dist loadfile`) hands files to its workers in collection
# order (see pytest_configure), so a long file collected late runs alone at the end while the other workers have
# nothing left; started first, the short files fill in around them and all finish together. Measured file by file
# with `pytest -n 0 --durations` on 2 shared cores (2026-12-07, load 9-10 unless said): the headless demos 495 s
# (load 6, before the --respond demo's speed was doubled), the matrix 973 s (load 12-17; CPU-bound, 170 s of CPU),
# test_workers_pipeline 303 s, test_faults_postgres 217 s, test_faults_kill 194 s, test_faults_big_source 171 s,
# test_first_run 153 s, test_backtest_scenarios 148 s, test_bench_login_flood 57 s, test_story_order_workers 54 s.
# Not measured that day: schemathesis and the browser file keep the places an earlier full run gave them, the
# distributed demo sits by its docstring's 2.5-3 minutes at load 10. Later that day test_faults_postgres waited for
# a 10 s poll instead of a 30 s one (0.68x its time, measured before and after) and moved down, to about 148 s.
# Later still (load 10-15, /usr/bin/time on `pytest -n 0` per file): the two headless demos, 210 s together, were
# split into two files so they can run on two workers; run side by side (load ~20) the --respond demo took 315 s
# wall (44 s of CPU) and the one where nobody acts 201 s (21 s of CPU): the --respond one goes first, the other
# among the files of about its length (test_faults_kill 198 s, test_workers_pipeline 189 s, test_faults_big_source
# 187 s, test_faults_postgres 160 s, the distributed demo 152 s, test_first_run 69 s that morning).
LONG_FILES_FIRST = (
    "tests/e2e/test_demo_headless_respond.py",
    "tests/api/test_authorization_matrix.py",
    "tests/api/test_api_schemathesis.py",
    "tests/core/test_faults_kill.py",
    "tests/e2e/test_demo_headless.py",
    "tests/core/test_workers_pipeline.py",
    "tests/core/test_faults_big_source.py",
    "tests/core/test_faults_postgres.py",
    "tests/e2e/test_demo_distributed.py",
    "tests/core/test_first_run.py",
    "tests/backtest/test_backtest_scenarios.py",
    "tests/api/test_bench_login_flood.py",
    "tests/core/test_story_order_workers.py",
    "tests/e2e/test_hostile_content_browser.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """Keep xdist to the collection order. By default (xdist 3.x, ``--loadscope-reorder``) it sorts the files by
    their number of tests, most first, which undoes LONG_FILES_FIRST: the demo, fault and benchmark files hold one
    or two tests each, so they started last and ran alone at the end of the run."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Collect the long files first (a stable sort: the order inside each file, and of the rest, is kept)."""
    rank = {path: n for n, path in enumerate(LONG_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def _postgres_available() -> str | None:
    try:
        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # report why, never hide it
        return f"PostgreSQL at {PG_URL} not reachable: {type(exc).__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    reason = _postgres_available()
    if reason:
        if os.environ.get("YUQING_REQUIRE_POSTGRES"):
            pytest.fail(f"{reason} (YUQING_REQUIRE_POSTGRES is set: PostgreSQL tests may not be skipped)")
        pytest.skip(reason)
    return PG_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head with Alembic, once per session (per xdist worker): each test's database
    is a copy of it, the same bytes a migration of its own would write, without running Alembic each time."""
    path = tmp_path_factory.mktemp("sqlite-template") / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A fresh SQLite file migrated to head (a copy of ``sqlite_template``)."""
    db = tmp_path / "test.db"
    with closing(sqlite3.connect(sqlite_template)) as src, closing(sqlite3.connect(db)) as dst:
        src.backup(dst)  # SQLite's own copy: consistent even if the template's WAL was not checkpointed
    engine = make_engine(f"sqlite:///{db}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """A migrated, empty schema of its own in the shared ``test`` database, dropped afterwards."""
    with scratch_schema(postgres_url) as engine:
        upgrade(engine)
        yield engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on both databases."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def session_factory(db_engine: Engine):
    return make_sessionmaker(db_engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(DEMO_START)


@pytest.fixture(scope="session")
def org() -> OrgChart:
    return load_org(PROJECT_ROOT / "config" / "org.yaml")
