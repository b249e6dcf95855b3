"""The job engine's contract the workers will rely on (procrastinate on PostgreSQL, docs/architecture.md "Job
engine"): a job enqueued in one process runs exactly once in a worker process, and a job whose worker process is
SIGKILLed in the middle is run again by another worker.

The worker processes are started with procrastinate's own CLI, as a deployment would, on this module's ``app``;
the jobs record what they did in a table of their own. Everything lives in a database created for the test and
dropped after it (procrastinate's LISTEN/NOTIFY channels are database-wide, so a schema would not isolate them).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import procrastinate
import psycopg
import pytest

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
ENV_DSN = "YQ_JOB_SMOKE_DSN"
HEARTBEAT_SECONDS = 0.5
STALLED_SECONDS = 2.0
SLOW_JOB_SECONDS = 2.0

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ.get(ENV_DSN, "postgresql://127.0.0.1/unset")),
    worker_defaults={"update_heartbeat_interval": HEARTBEAT_SECONDS, "stalled_worker_timeout": STALLED_SECONDS,
                     "concurrency": 4},
)


async def _record(key: str, kind: str) -> None:
    async with await psycopg.AsyncConnection.connect(os.environ[ENV_DSN], autocommit=True) as conn:
        await conn.execute("INSERT INTO runs (key, kind, pid) VALUES (%s, %s, %s)", (key, kind, os.getpid()))


@app.task(name="record", queue="smoke")
async def record(key: str) -> None:
    await _record(key, "done")


@app.task(name="slow", queue="smoke")
async def slow(key: str) -> None:
    await _record(key, "start")
    await asyncio.sleep(SLOW_JOB_SECONDS)
    await _record(key, "done")


@app.periodic(cron="* * * * * *", periodic_id="retry-stalled")
@app.task(name="retry_stalled", queue="smoke", queueing_lock="retry_stalled")
async def retry_stalled(timestamp: int) -> None:
    """procrastinate finds a dead worker's jobs by its missing heartbeat; re-queueing them is the application's."""
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS):
        await app.job_manager.retry_job(job)


@pytest.fixture
def job_db(postgres_url: str) -> Iterator[str]:
    """A database of its own with procrastinate's schema and the ``runs`` table; its DSN is also put in the
    environment so this module's ``app`` (here and in the workers) points at it."""
    admin_dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"yq_job_smoke_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = admin_dsn.rsplit("/", 1)[0] + "/" + name
    old = os.environ.get(ENV_DSN)
    os.environ[ENV_DSN] = dsn
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE runs (key text NOT NULL, kind text NOT NULL, pid int NOT NULL)")
        with app.replace_connector(procrastinate.PsycopgConnector(conninfo=dsn)), app.open():
            app.schema_manager.apply_schema()
            yield dsn
    finally:
        if old is None:
            os.environ.pop(ENV_DSN, None)
        else:
            os.environ[ENV_DSN] = old
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def start_worker(job_db: str, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start a worker with procrastinate's CLI on this module's app; every one started is stopped afterwards."""
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "procrastinate", "--app", "tests.core.test_job_engine_smoke.app", "worker",
             "--queues", "smoke"],
            cwd=ROOT, env={**os.environ, ENV_DSN: job_db}, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _rows(dsn: str, sql: str, *args: object) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, args).fetchall()


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    """Wait until ``check()`` holds; the timeout only bounds a broken run, nothing here is timed."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def _live_workers(dsn: str) -> int:
    return _rows(dsn, "SELECT count(*) FROM procrastinate_workers")[0][0]


def test_a_job_enqueued_here_runs_once_in_a_worker_process(job_db, start_worker):
    start_worker()
    start_worker()
    _wait_for("two registered workers", lambda: _live_workers(job_db) == 2)
    keys = [f"job-{k}" for k in range(20)]
    for key in keys:
        record.defer(key=key)  # the fixture holds the app open on the test's database

    def all_finished() -> bool:
        return _rows(job_db, "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'record' "
                             "AND status = 'succeeded'")[0][0] == len(keys)

    _wait_for("the 20 jobs to succeed", all_finished)
    runs = _rows(job_db, "SELECT key, count(*), min(pid) FROM runs GROUP BY key ORDER BY key")
    assert sorted(k for k, _, _ in runs) == sorted(keys)
    assert all(n == 1 for _, n, _ in runs), runs  # each ran once, although two workers were listening
    assert os.getpid() not in {pid for _, _, pid in runs}  # in a worker process, not in the one that enqueued


def test_a_sigkilled_workers_job_is_run_again_by_another_worker(job_db, start_worker):
    workers = {p.pid: p for p in (start_worker(), start_worker())}
    _wait_for("two registered workers", lambda: _live_workers(job_db) == 2)
    slow.defer(key="slow")
    _wait_for("the slow job to start", lambda: bool(_rows(job_db, "SELECT 1 FROM runs WHERE kind = 'start'")))
    victim = _rows(job_db, "SELECT pid FROM runs WHERE kind = 'start'")[0][0]
    assert victim in workers
    os.kill(victim, signal.SIGKILL)
    workers[victim].wait()

    _wait_for("the job to be run again and finish",
              lambda: bool(_rows(job_db, "SELECT 1 FROM runs WHERE kind = 'done'")))
    starts = [pid for (pid,) in _rows(job_db, "SELECT pid FROM runs WHERE kind = 'start' ORDER BY pid")]
    done = [pid for (pid,) in _rows(job_db, "SELECT pid FROM runs WHERE kind = 'done'")]
    assert len(starts) == 2 and victim in starts  # started in the killed worker, then once more
    assert len(done) == 1 and done[0] != victim  # finished once, by the surviving worker
    status = _rows(job_db, "SELECT status, attempts FROM procrastinate_jobs WHERE task_name = 'slow'")
    assert status == [("succeeded", 2)], status  # the killed run counts as an attempt (a retry policy sees it)
