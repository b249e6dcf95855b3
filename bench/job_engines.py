"""Job engine benchmark: procrastinate (PostgreSQL) against taskiq + taskiq-redis (Redis streams), beside a plain
``SELECT … FOR UPDATE SKIP LOCKED`` polling loop as the baseline, all in the same run.

Why: the pipeline's stages are to run as separate workers on an existing job engine (issue 13). This measures the
two candidates on what the pipeline needs, on the real local PostgreSQL and Redis:

1. **latency** — enqueue → start, p50 / p95 / p99, for ``--jobs`` small jobs sent at ``--rate`` per second (an open
   loop, below every engine's capacity, so the figure is the hand-off delay and not a backlog), with 1 and 2 worker
   processes;
2. **throughput** — jobs/s for ``--stage-jobs`` stage-shaped jobs (each reads one row and writes one row in
   PostgreSQL, as the ingest → classify hand-off does), all enqueued at once, with 1 and 2 worker processes;
3. **recovery** — two workers, ``--kills`` times a worker process is SIGKILLed in the middle of a 1.5 s job while a
   trickle of small jobs keeps arriving; whether the job runs again, after how long, and how many jobs ran to the
   end twice or never. Then once more with no other traffic (``idle``);
4. **periodic** — a job scheduled every second for ``--periodic-seconds``: runs seen, lateness after its nominal
   second, and the largest gap between two runs. The three schedulers run side by side.

Worker processes start the way a deployment would: ``procrastinate --app … worker`` and ``taskiq worker …`` (and
``taskiq scheduler …``), the baseline from this module. A SIGKILLed procrastinate or baseline worker is replaced by
the bench, as systemd's ``Restart=always`` would; taskiq's own process manager restarts its child. Everything lives
in a PostgreSQL database created for the run and dropped after it, and in Redis keys named for the run and deleted
after it; the ``test`` database is not touched. Results: ``bench/results/job_engines.json`` and ``.md``.
Nothing is asserted; the load average is printed because the machine is shared. With the default sizes a run
takes about 6 minutes on a shared 2-core machine; ``python -m bench.job_engines --help`` for the options that make
it shorter. taskiq and taskiq-redis come with the ``bench`` extra.

Engine settings used (the same as the product would): procrastinate workers send a heartbeat every second and a
periodic ``retry_stalled`` job re-queues the jobs of a worker silent for ``STALLED_SECONDS``; taskiq acknowledges a
message after the job ran (``--ack-type when_executed``) and re-claims a message left unacknowledged for
``STALLED_SECONDS`` (``idle_timeout``). Each worker process runs up to ``--concurrency`` jobs at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import procrastinate
import psycopg
from psycopg_pool import AsyncConnectionPool

try:
    from taskiq import TaskiqScheduler
    from taskiq.schedule_sources import LabelScheduleSource
    from taskiq_redis import RedisStreamBroker
except ImportError as exc:  # the losing candidate is only in the bench extra
    raise SystemExit(f"python -m bench job-engines needs the bench extra: pip install -e '.[bench]' ({exc})") from exc

from bench.common import cpu_model, nearest_rank, say

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
ADMIN_DSN = os.environ.get("YUQING_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("YUQING_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

# What the worker processes read: the run's database and Redis keys, and the recovery timing (same for both).
ENV_DSN, ENV_REDIS, ENV_STREAM = "YQ_JOBBENCH_DSN", "YQ_JOBBENCH_REDIS", "YQ_JOBBENCH_STREAM"
ENV_STALLED, ENV_PERIODIC = "YQ_JOBBENCH_STALLED", "YQ_JOBBENCH_PERIODIC"
DSN = os.environ.get(ENV_DSN, "postgresql://postgres@127.0.0.1:5432/postgres")
STREAM = os.environ.get(ENV_STREAM, "yq-jobbench")
STALLED_SECONDS = float(os.environ.get(ENV_STALLED, "5"))
SLOW_JOB_SECONDS = 1.5
BASELINE_POLL_SECONDS = 0.05
# how this module runs itself in a child: imported as bench.job_engines, never as __main__ (the apps live here)
_ENTRY = "import sys; from bench.job_engines import main; sys.exit(main(sys.argv[1:]))"

# ---------------------------------------------------------------------------------------------------------------
# The jobs: the same bodies for every engine. Each records what happened in the run's own PostgreSQL database.

_pool: AsyncConnectionPool | None = None
_pool_lock: asyncio.Lock | None = None


async def _db() -> AsyncConnectionPool:
    """One connection pool per worker process, opened by its first job."""
    global _pool, _pool_lock
    if _pool_lock is None:
        _pool_lock = asyncio.Lock()
    async with _pool_lock:
        if _pool is None:
            pool = AsyncConnectionPool(DSN, min_size=1, max_size=12, open=False)
            await pool.open()
            _pool = pool
    return _pool


async def _event(engine: str, phase: str, key: str, kind: str, enq: float | None, t: float | None = None) -> None:
    pool = await _db()
    async with pool.connection() as conn:
        await conn.execute("INSERT INTO ev (engine, phase, key, kind, pid, t, enq) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                           (engine, phase, key, kind, os.getpid(), time.time() if t is None else t, enq))


async def job_small(engine: str, phase: str, key: str, enq: float) -> None:
    """A job that does nothing but say it started (latency, the recovery trickle)."""
    await _event(engine, phase, key, "start", enq, t=time.time())


async def job_stage(engine: str, phase: str, src_id: int) -> None:
    """A stage hand-off: read one row, write one row (what ingest → classify does per article)."""
    pool = await _db()
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT body FROM src WHERE id = %s", (src_id,))
        row = await cur.fetchone()
        assert row is not None, src_id
        await conn.execute("INSERT INTO dst (engine, phase, src_id, label, t) VALUES (%s,%s,%s,%s,%s)",
                           (engine, phase, src_id, str(len(row[0])), time.time()))


async def job_slow(engine: str, phase: str, key: str) -> None:
    """A job long enough to be killed in the middle: 'start', a pause, then 'done'."""
    await _event(engine, phase, key, "start", None)
    await asyncio.sleep(SLOW_JOB_SECONDS)
    await _event(engine, phase, key, "done", None)


async def job_tick(engine: str, nominal: float | None) -> None:
    """The periodic job: when it started against the second it was due (None: the engine does not say)."""
    await _event(engine, "periodic", "tick", "start", nominal, t=time.time())


# ---------------------------------------------------------------------------------------------------------------
# procrastinate: a PostgreSQL job table; LISTEN/NOTIFY wakes workers; heartbeats find dead workers' jobs.

procrastinate_app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=DSN),
    worker_defaults={"update_heartbeat_interval": 1.0, "stalled_worker_timeout": STALLED_SECONDS,
                     "delete_jobs": "successful", "queues": ["bench"]},
)


@procrastinate_app.task(name="small", queue="bench")
async def p_small(phase: str, key: str, enq: float) -> None:
    await job_small("procrastinate", phase, key, enq)


@procrastinate_app.task(name="stage", queue="bench")
async def p_stage(phase: str, src_id: int) -> None:
    await job_stage("procrastinate", phase, src_id)


@procrastinate_app.task(name="slow", queue="bench")
async def p_slow(phase: str, key: str) -> None:
    await job_slow("procrastinate", phase, key)


@procrastinate_app.periodic(cron="* * * * * *", periodic_id="retry-stalled")
@procrastinate_app.task(name="retry_stalled", queue="bench", queueing_lock="retry_stalled")
async def p_retry_stalled(timestamp: int) -> None:
    """procrastinate finds a dead worker's jobs by its heartbeat but leaves re-queueing them to the application."""
    manager = procrastinate_app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS):
        await manager.retry_job(job)


if os.environ.get(ENV_PERIODIC):  # only the periodic phase's workers schedule the tick

    @procrastinate_app.periodic(cron="* * * * * *", periodic_id="tick")
    @procrastinate_app.task(name="tick", queue="bench")
    async def p_tick(timestamp: int) -> None:
        await job_tick("procrastinate", float(timestamp))


# ---------------------------------------------------------------------------------------------------------------
# taskiq + taskiq-redis: a Redis stream per queue, a consumer group; unacknowledged messages are re-claimed.

taskiq_broker = RedisStreamBroker(url=os.environ.get(ENV_REDIS, REDIS_URL), queue_name=STREAM,
                                  consumer_group_name=STREAM, idle_timeout=int(STALLED_SECONDS * 1000),
                                  # the re-claim lock expires (taskiq-redis leaves it without expiry by default)
                                  unacknowledged_lock_timeout=STALLED_SECONDS)


@taskiq_broker.task(task_name="small")
async def t_small(phase: str, key: str, enq: float) -> None:
    await job_small("taskiq", phase, key, enq)


@taskiq_broker.task(task_name="stage")
async def t_stage(phase: str, src_id: int) -> None:
    await job_stage("taskiq", phase, src_id)


@taskiq_broker.task(task_name="slow")
async def t_slow(phase: str, key: str) -> None:
    await job_slow("taskiq", phase, key)


@taskiq_broker.task(task_name="tick", schedule=[{"interval": 1}])
async def t_tick() -> None:
    await job_tick("taskiq", None)  # the scheduler fires on whole seconds; lateness is taken from that second


taskiq_scheduler = TaskiqScheduler(taskiq_broker, sources=[LabelScheduleSource(taskiq_broker)])

# ---------------------------------------------------------------------------------------------------------------
# The baseline: a table polled with SELECT … FOR UPDATE SKIP LOCKED; the row stays locked while its job runs, so a
# dead worker's job is free again as soon as PostgreSQL notices the closed connection.

BASELINE_TASKS: dict[str, Callable[..., Awaitable[None]]] = {
    "small": lambda **kw: job_small("baseline", **kw),
    "stage": lambda **kw: job_stage("baseline", **kw),
    "slow": lambda **kw: job_slow("baseline", **kw),
    "tick": lambda **kw: job_tick("baseline", **kw),
}


async def _baseline_loop(stop: asyncio.Event) -> None:
    async with await psycopg.AsyncConnection.connect(DSN) as conn:
        while not stop.is_set():
            async with conn.transaction():
                cur = await conn.execute("SELECT id, task, args FROM bq WHERE NOT done ORDER BY id LIMIT 1 "
                                         "FOR UPDATE SKIP LOCKED")
                row = await cur.fetchone()
                if row is not None:
                    await BASELINE_TASKS[row[1]](**row[2])
                    await conn.execute("UPDATE bq SET done = true WHERE id = %s", (row[0],))
            if row is None:
                await asyncio.sleep(BASELINE_POLL_SECONDS)


async def _baseline_worker(concurrency: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await asyncio.gather(*(_baseline_loop(stop) for _ in range(concurrency)))


async def _baseline_scheduler() -> None:
    """Every whole second, insert the tick (the plain loop a home-made scheduler would be)."""
    async with await psycopg.AsyncConnection.connect(DSN, autocommit=True) as conn:
        while True:
            now = time.time()
            due = int(now) + 1
            await asyncio.sleep(due - now)
            await conn.execute("INSERT INTO bq (task, args) VALUES ('tick', %s)",
                               (json.dumps({"nominal": float(due)}),))


# ---------------------------------------------------------------------------------------------------------------
# The bench side: one adapter per engine (enqueue, start workers, count live workers).

SCHEMA = """
CREATE TABLE ev (engine text, phase text, key text, kind text, pid int, t double precision, enq double precision);
CREATE INDEX ev_phase ON ev (engine, phase, kind);
CREATE TABLE src (id int PRIMARY KEY, body text NOT NULL);
CREATE TABLE dst (engine text, phase text, src_id int, label text, t double precision);
CREATE TABLE bq (id bigserial PRIMARY KEY, task text NOT NULL, args jsonb NOT NULL,
                 done boolean NOT NULL DEFAULT false);
CREATE INDEX bq_todo ON bq (id) WHERE NOT done;
"""


class Procs:
    """The worker processes this run started (each in its own process group), stopped by group at the end."""

    def __init__(self, logdir: Path, env: dict[str, str]) -> None:
        self.logdir, self.env, self.started = logdir, env, 0
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.forced: dict[str, int] = {}  # worker processes still running 3 s after SIGTERM, by engine

    def start(self, name: str, cmd: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self.started += 1
        log = open(self.logdir / f"{self.started:03d}-{name}.log", "wb")  # noqa: SIM115 — kept open for the child
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**self.env, **(extra_env or {})}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def stop_all(self) -> None:
        """SIGTERM each group, then SIGKILL what is still there after 3 s (counted in ``forced`` by name)."""
        for _, p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for name, p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.forced[name] = self.forced.get(name, 0) + 1
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)  # the group: a taskiq parent's children too
            p.wait()
        self.procs = []


class Adapter:
    name = ""
    restarts_itself = False  # True: the engine's own manager replaces a killed worker process

    def __init__(self, conn: psycopg.AsyncConnection, concurrency: int) -> None:
        self.conn, self.concurrency = conn, concurrency

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def enqueue(self, task: str, **kwargs: Any) -> None: raise NotImplementedError
    async def enqueue_many(self, task: str, items: list[dict[str, Any]]) -> None: raise NotImplementedError
    def worker_cmd(self) -> list[str]: raise NotImplementedError
    def scheduler_cmd(self) -> list[str] | None: return None
    async def live_workers(self) -> int: raise NotImplementedError


class ProcrastinateAdapter(Adapter):
    name = "procrastinate"
    _tasks: ClassVar[dict[str, Any]] = {"small": p_small, "stage": p_stage, "slow": p_slow}

    async def open(self) -> None:
        await procrastinate_app.open_async()
        await procrastinate_app.schema_manager.apply_schema_async()

    async def close(self) -> None:
        await procrastinate_app.close_async()

    async def enqueue(self, task: str, **kwargs: Any) -> None:
        await self._tasks[task].defer_async(**kwargs)

    async def enqueue_many(self, task: str, items: list[dict[str, Any]]) -> None:
        await self._tasks[task].batch_defer_async(*items)

    def worker_cmd(self) -> list[str]:
        return [sys.executable, "-m", "procrastinate", "--app", "bench.job_engines.procrastinate_app", "--log-level",
                "warning", "worker",
                "--concurrency", str(self.concurrency)]

    async def live_workers(self) -> int:
        cur = await self.conn.execute("SELECT count(*) FROM procrastinate_workers "
                                      "WHERE last_heartbeat > now() - interval '3 seconds'")
        return (await cur.fetchone())[0]  # type: ignore[index]


class TaskiqAdapter(Adapter):
    name = "taskiq"
    restarts_itself = True
    _tasks: ClassVar[dict[str, Any]] = {"small": t_small, "stage": t_stage, "slow": t_slow}

    async def open(self) -> None:
        await taskiq_broker.startup()

    async def close(self) -> None:
        await taskiq_broker.shutdown()

    async def enqueue(self, task: str, **kwargs: Any) -> None:
        await self._tasks[task].kiq(**kwargs)

    async def enqueue_many(self, task: str, items: list[dict[str, Any]]) -> None:
        for k in range(0, len(items), 200):
            await asyncio.gather(*(self._tasks[task].kiq(**kw) for kw in items[k:k + 200]))

    def worker_cmd(self) -> list[str]:
        return [sys.executable, "-m", "taskiq", "worker", "bench.job_engines:taskiq_broker", "--workers", "1",
                "--max-async-tasks", str(self.concurrency), "--ack-type", "when_executed", "--log-level",
                os.environ.get("YQ_JOBBENCH_LOG", "WARNING")]

    async def pending(self) -> int:
        """Messages delivered to a consumer and never acknowledged (a stopped or killed worker's)."""
        from redis.asyncio import Redis

        async with Redis.from_url(os.environ.get(ENV_REDIS, REDIS_URL)) as r:
            return int((await r.xpending(STREAM, STREAM))["pending"])

    def scheduler_cmd(self) -> list[str]:
        return [sys.executable, "-m", "taskiq", "scheduler", "bench.job_engines:taskiq_scheduler",
                "--log-level", "WARNING"]

    async def live_workers(self) -> int:
        return -1  # consumers stay listed in the group after they die; readiness comes from the warm-up jobs


class BaselineAdapter(Adapter):
    name = "baseline"

    async def enqueue(self, task: str, **kwargs: Any) -> None:
        await self.conn.execute("INSERT INTO bq (task, args) VALUES (%s, %s)", (task, json.dumps(kwargs)))

    async def enqueue_many(self, task: str, items: list[dict[str, Any]]) -> None:
        async with self.conn.cursor() as cur:
            await cur.executemany("INSERT INTO bq (task, args) VALUES (%s, %s)",
                                  [(task, json.dumps(kw)) for kw in items])

    def worker_cmd(self) -> list[str]:
        return [sys.executable, "-c", _ENTRY, "_baseline-worker", str(self.concurrency)]

    def scheduler_cmd(self) -> list[str]:
        return [sys.executable, "-c", _ENTRY, "_baseline-scheduler"]

    async def live_workers(self) -> int:
        return -1  # no registry; readiness comes from the warm-up jobs


ADAPTERS: dict[str, type[Adapter]] = {"procrastinate": ProcrastinateAdapter, "taskiq": TaskiqAdapter,
                                      "baseline": BaselineAdapter}


async def _scalar(conn: psycopg.AsyncConnection, sql: str, *args: Any) -> Any:
    cur = await conn.execute(sql, args)
    return (await cur.fetchone())[0]  # type: ignore[index]


async def _wait(pred: Callable[[], Awaitable[bool]], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pred():
            return True
        await asyncio.sleep(step)
    return await pred()


async def _start_workers(ad: Adapter, procs: Procs, n: int, phase: str) -> None:
    """Start n worker processes and wait until they run jobs (a registry count where the engine has one, then
    ``4 × n`` warm-up jobs all started)."""
    for _ in range(n):
        procs.start(ad.name, ad.worker_cmd())
    if await ad.live_workers() >= 0:
        await _wait(lambda: _gte(ad.live_workers(), n), 30)
    # warm-up jobs keep coming until 4 × n of them ran: a job sent while a stopped taskiq worker was still reading
    # stays pending on it until new traffic lets a live worker re-claim it (see the recovery figures)
    sql = "SELECT count(DISTINCT key) FROM ev WHERE engine=%s AND phase=%s"
    deadline = time.monotonic() + 60
    k = 0
    while await _scalar(ad.conn, sql, ad.name, f"warm-{phase}") < 4 * n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{ad.name}: workers did not start (logs in {procs.logdir})")
        await ad.enqueue("small", phase=f"warm-{phase}", key=f"warm-{phase}-{k}", enq=time.time())
        k += 1
        await asyncio.sleep(0.1)


async def _gte(value: Awaitable[int], n: int) -> bool:
    return (await value) >= n


def _pcts(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    return {"p50_ms": round(nearest_rank(v, 50) * 1000, 1), "p95_ms": round(nearest_rank(v, 95) * 1000, 1),
            "p99_ms": round(nearest_rank(v, 99) * 1000, 1), "max_ms": round(v[-1] * 1000, 1)}


async def bench_latency(ad: Adapter, procs: Procs, workers: int, jobs: int, rate: float) -> dict[str, Any]:
    phase = f"latency-{workers}"
    await _start_workers(ad, procs, workers, phase)
    t0 = time.time()
    for i in range(jobs):
        delay = t0 + i / rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await ad.enqueue("small", phase=phase, key=str(i), enq=time.time())
    await _wait(lambda: _gte(_scalar(ad.conn, "SELECT count(*) FROM ev WHERE engine=%s AND phase=%s", ad.name,
                                     phase), jobs), 60, 0.2)
    cur = await ad.conn.execute("SELECT t - enq FROM ev WHERE engine=%s AND phase=%s", (ad.name, phase))
    lat = [r[0] for r in await cur.fetchall()]
    procs.stop_all()
    return {"workers": workers, "jobs": jobs, "started": len(lat), **(_pcts(lat) if lat else {})}


async def bench_throughput(ad: Adapter, procs: Procs, workers: int, jobs: int) -> dict[str, Any]:
    phase = f"throughput-{workers}"
    await _start_workers(ad, procs, workers, phase)
    t0 = time.time()
    await ad.enqueue_many("stage", [{"phase": phase, "src_id": i + 1} for i in range(jobs)])
    enqueued = time.time() - t0
    await _wait(lambda: _gte(_scalar(ad.conn, "SELECT count(*) FROM dst WHERE engine=%s AND phase=%s", ad.name,
                                     phase), jobs), 120, 0.1)
    cur = await ad.conn.execute("SELECT count(*), count(DISTINCT src_id), max(t) FROM dst WHERE engine=%s AND "
                                "phase=%s", (ad.name, phase))
    n, distinct, last = await cur.fetchone()  # type: ignore[misc]
    procs.stop_all()
    elapsed = (last or time.time()) - t0
    return {"workers": workers, "jobs": jobs, "done": distinct, "done_twice": n - distinct,
            "seconds": round(elapsed, 2), "enqueue_seconds": round(enqueued, 2),
            "jobs_per_s": round(distinct / elapsed, 1)}


async def _kill_one(ad: Adapter, procs: Procs, phase: str, key: str, timeout: float) -> dict[str, Any]:
    """Enqueue a slow job, SIGKILL the process running it, and see whether and when it runs again."""
    await ad.enqueue("slow", phase=phase, key=key)
    sql = "SELECT pid, t FROM ev WHERE engine=%s AND phase=%s AND key=%s AND kind='start' ORDER BY t"
    started = await _wait(lambda: _has_rows(ad.conn, sql, (ad.name, phase, key), 1), 30, 0.02)
    if not started:
        return {"key": key, "started": False}
    cur = await ad.conn.execute(sql, (ad.name, phase, key))
    pid = (await cur.fetchone())[0]  # type: ignore[index]
    await asyncio.sleep(0.3)  # mid-job (it sleeps SLOW_JOB_SECONDS)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.time()
    if not ad.restarts_itself:
        procs.start(ad.name, ad.worker_cmd())  # what systemd's Restart=always does
    rerun = await _wait(lambda: _has_rows(ad.conn, sql, (ad.name, phase, key), 2), timeout, 0.05)
    cur = await ad.conn.execute(sql, (ad.name, phase, key))
    rows = await cur.fetchall()
    return {"key": key, "started": True, "rerun": rerun,
            "rerun_after_s": round(rows[1][1] - killed_at, 2) if len(rows) > 1 else None}


async def _has_rows(conn: psycopg.AsyncConnection, sql: str, args: tuple[Any, ...], n: int) -> bool:
    cur = await conn.execute(sql, args)
    return len(await cur.fetchall()) >= n


async def bench_recovery(ad: Adapter, procs: Procs, kills: int, timeout: float) -> dict[str, Any]:
    phase = "recovery"
    await _start_workers(ad, procs, 2, phase)
    stop = asyncio.Event()
    sent: list[str] = []

    async def trickle() -> None:
        while not stop.is_set():
            key = f"trickle-{len(sent)}"
            await ad.enqueue("small", phase=phase, key=key, enq=time.time())
            sent.append(key)
            await asyncio.sleep(0.1)

    trickler = asyncio.create_task(trickle())
    rounds = [await _kill_one(ad, procs, phase, f"slow-{k}", timeout) for k in range(kills)]
    await _wait(lambda: _gte(_scalar(ad.conn, "SELECT count(DISTINCT key) FROM ev WHERE engine=%s AND phase=%s "
                                     "AND kind='done'", ad.name, phase), kills), timeout)
    stop.set()
    await trickler
    await _wait(lambda: _gte(_scalar(ad.conn, "SELECT count(DISTINCT key) FROM ev WHERE engine=%s AND phase=%s AND "
                                     "key LIKE 'trickle-%%'", ad.name, phase), len(sent)), timeout)
    cur = await ad.conn.execute(
        "SELECT key, count(*) FILTER (WHERE kind='done' OR key LIKE 'trickle-%%') FROM ev "
        "WHERE engine=%s AND phase=%s GROUP BY key", (ad.name, phase))
    effects = dict(await cur.fetchall())
    expected = [f"slow-{k}" for k in range(kills)] + sent
    twice = sum(1 for k in expected if effects.get(k, 0) > 1)
    lost = [k for k in expected if effects.get(k, 0) == 0]
    # once more with nothing else arriving: does a dead worker's job come back on its own?
    idle = await _kill_one(ad, procs, "recovery-idle", "idle-slow", timeout)
    procs.stop_all()
    after = [r["rerun_after_s"] for r in rounds if r.get("rerun_after_s") is not None]
    return {"kills": kills, "rerun": sum(1 for r in rounds if r.get("rerun")),
            "rerun_after_s_max": max(after) if after else None,
            "rerun_after_s_mean": round(sum(after) / len(after), 2) if after else None,
            "jobs": len(expected), "ran_twice": twice, "lost": len(lost), "lost_keys": lost[:10],
            "idle_rerun": idle.get("rerun"), "idle_rerun_after_s": idle.get("rerun_after_s"), "rounds": rounds}


async def bench_periodic(ads: list[Adapter], procs: Procs, seconds: float) -> dict[str, Any]:
    """All schedulers side by side, one worker each, for ``seconds``; lateness against each tick's whole second."""
    for ad in ads:
        procs.start(ad.name, ad.worker_cmd(), {ENV_PERIODIC: "1"})
        sched = ad.scheduler_cmd()
        if sched:
            procs.start(ad.name + "-scheduler", sched, {ENV_PERIODIC: "1"})
    conn = ads[0].conn
    await _wait(lambda: _gte(_scalar(conn, "SELECT count(DISTINCT engine) FROM ev WHERE phase='periodic'"),
                             len(ads)), 60, 0.1)  # every scheduler has fired once: all are up
    t0 = time.time()
    await asyncio.sleep(seconds)
    t1 = time.time()
    await asyncio.sleep(2)  # the last ticks' runs land
    procs.stop_all()
    out: dict[str, Any] = {}
    for ad in ads:
        cur = await conn.execute("SELECT t, enq FROM ev WHERE engine=%s AND phase='periodic' ORDER BY t", (ad.name,))
        rows = [(t, enq if enq is not None else float(int(t))) for t, enq in await cur.fetchall()]
        rows = [(t, nominal) for t, nominal in rows if t0 <= nominal < t1]
        late = sorted(t - nominal for t, nominal in rows)
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(rows)]
        nominals = [nominal for _, nominal in rows]
        out[ad.name] = {"expected": math.ceil(t1) - math.ceil(t0), "runs": len(rows),
                        "same_second_twice": len(nominals) - len(set(nominals)),
                        "lateness_p50_ms": round(nearest_rank(late, 50) * 1000) if late else None,
                        "lateness_max_ms": round(late[-1] * 1000) if late else None,
                        "max_gap_s": round(max(gaps), 2) if gaps else None}
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    dsn = os.environ[ENV_DSN]  # the run's own database, made by _reexec
    logdir = Path(tempfile.mkdtemp(prefix="yq-jobbench-"))
    say(f"[job-engines] worker logs in {logdir}")
    env = {k: v for k, v in os.environ.items() if k != ENV_PERIODIC}
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(SCHEMA)
        async with conn.cursor() as cur:
            await cur.executemany("INSERT INTO src (id, body) VALUES (%s, %s)",
                                  [(i + 1, "示例银行网点排队取款" * (1 + i % 7)) for i in range(args.stage_jobs)])
        procs = Procs(logdir, env)
        adapters: list[Adapter] = [ADAPTERS[name](conn, args.concurrency) for name in args.engines]
        results: dict[str, Any] = {"latency": {}, "throughput": {}, "recovery": {}}
        try:
            for ad in adapters:
                await ad.open()
            t = time.monotonic()

            def lap(what: str) -> None:
                nonlocal t
                say(f"[job-engines] {what}: {time.monotonic() - t:.1f} s")
                t = time.monotonic()

            for ad in adapters:
                for n in args.workers:
                    results["latency"].setdefault(ad.name, []).append(
                        await bench_latency(ad, procs, n, args.jobs, args.rate))
                    lap(f"{ad.name} latency, {n} worker(s)")
                    results["throughput"].setdefault(ad.name, []).append(
                        await bench_throughput(ad, procs, n, args.stage_jobs))
                    lap(f"{ad.name} throughput, {n} worker(s)")
                results["recovery"][ad.name] = await bench_recovery(ad, procs, args.kills, args.recover_timeout)
                lap(f"{ad.name} recovery, {args.kills} kills")
            results["periodic"] = await bench_periodic(adapters, procs, args.periodic_seconds)
            lap(f"periodic, {args.periodic_seconds:.0f} s, side by side")
            procs.stop_all()
            results["stop_forced"] = dict(procs.forced)
            for ad in adapters:
                if isinstance(ad, TaskiqAdapter):
                    results["taskiq_pending_at_end"] = await ad.pending()
        finally:
            procs.stop_all()
            for ad in adapters:
                with contextlib.suppress(Exception):
                    await ad.close()
    return results


async def _cleanup(dbname: str, stream: str) -> None:
    async with await psycopg.AsyncConnection.connect(ADMIN_DSN, autocommit=True) as admin:
        await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    from redis.asyncio import Redis

    async with Redis.from_url(REDIS_URL) as r:
        keys = [k async for k in r.scan_iter(match=f"*{stream}*")]
        if keys:
            await r.delete(*keys)


def render(result: dict[str, Any]) -> str:
    """The Markdown summary (printed and written beside the JSON)."""
    r = result["results"]
    lines = [f"# Job engines — {result['when']}", "",
             f"CPU: {result['cpu']} ({os.cpu_count()} cores, load {result['load']}); PostgreSQL {result['postgres']}, "
             f"Redis {result['redis']}; procrastinate {result['versions']['procrastinate']}, taskiq "
             f"{result['versions']['taskiq']} + taskiq-redis {result['versions']['taskiq-redis']}. "
             f"Concurrency {result['params']['concurrency']} jobs per worker process; stalled after "
             f"{result['params']['stalled_seconds']:.0f} s; baseline polls every "
             f"{BASELINE_POLL_SECONDS * 1000:.0f} ms.",
             "", f"## Enqueue → start latency ({result['params']['jobs']} small jobs at "
             f"{result['params']['rate']:.0f}/s)", "", "| engine | workers | p50 ms | p95 ms | p99 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, rows in r["latency"].items():
        for x in rows:
            lines.append(f"| {name} | {x['workers']} | {x.get('p50_ms')} | {x.get('p95_ms')} | {x.get('p99_ms')} | "
                         f"{x.get('max_ms')} |" + ("" if x["started"] == x["jobs"] else f" ({x['started']} started)"))
    lines += ["", f"## Throughput (stage-shaped job: read one row, write one row; {result['params']['stage_jobs']} "
              "jobs enqueued at once)", "", "| engine | workers | jobs/s | seconds | enqueue s | done twice |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, rows in r["throughput"].items():
        for x in rows:
            lines.append(f"| {name} | {x['workers']} | {x['jobs_per_s']} | {x['seconds']} | {x['enqueue_seconds']} "
                         f"| {x['done_twice']} |" + ("" if x["done"] == x["jobs"] else f" ({x['done']} done)"))
    lines += ["", f"## Recovery (2 workers; SIGKILL mid-job × {result['params']['kills']} with a trickle of 10 "
              "jobs/s; then once with no other traffic)", "",
              "| engine | re-run | after (mean / max s) | jobs | ran twice | lost | idle: re-run (after s) |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for name, x in r["recovery"].items():
        lines.append(f"| {name} | {x['rerun']}/{x['kills']} | {x['rerun_after_s_mean']} / {x['rerun_after_s_max']} "
                     f"| {x['jobs']} | {x['ran_twice']} | {x['lost']} | "
                     f"{'yes' if x['idle_rerun'] else 'no'} ({x['idle_rerun_after_s']}) |")
    lines += ["", f"## Periodic job every 1 s for {result['params']['periodic_seconds']:.0f} s", "",
              "| engine | runs / expected | same second twice | lateness p50 ms | lateness max ms | max gap s |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, x in r["periodic"].items():
        lines.append(f"| {name} | {x['runs']}/{x['expected']} | {x['same_second_twice']} | {x['lateness_p50_ms']} | "
                     f"{x['lateness_max_ms']} | {x['max_gap_s']} |")
    forced = r.get("stop_forced") or {}
    lines += ["", "Worker processes still running 3 s after SIGTERM (then SIGKILLed by the bench): "
              + (", ".join(f"{k} {v}" for k, v in sorted(forced.items())) or "none") + "."]
    if "taskiq_pending_at_end" in r:
        lines += ["", f"taskiq messages still pending (delivered, never acknowledged) when the run ended: "
                  f"{r['taskiq_pending_at_end']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["_baseline-worker"]:
        asyncio.run(_baseline_worker(int(args_in[1])))
        return 0
    if args_in[:1] == ["_baseline-scheduler"]:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_baseline_scheduler())
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench job-engines", description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2000, help="small jobs per latency run (default 2000)")
    ap.add_argument("--rate", type=float, default=100.0, help="latency jobs sent per second (default 100)")
    ap.add_argument("--stage-jobs", type=int, default=1000, help="stage-shaped jobs per throughput run (default 1000)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker processes (default 1 2)")
    ap.add_argument("--concurrency", type=int, default=10, help="jobs at once per worker process (default 10)")
    ap.add_argument("--kills", type=int, default=5, help="SIGKILLs in the recovery run (default 5)")
    ap.add_argument("--recover-timeout", type=float, default=15.0, help="seconds to wait for a re-run (default 15)")
    ap.add_argument("--periodic-seconds", type=float, default=30.0, help="length of the periodic run (default 30)")
    ap.add_argument("--engines", nargs="+", choices=list(ADAPTERS), default=list(ADAPTERS),
                    help="engines to measure (default: all three)")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR / "job_engines.json")
    args = ap.parse_args(args_in)
    if not os.environ.get(ENV_DSN, "").rsplit("/", 1)[-1].startswith("yq_jobbench_"):
        return _reexec(args_in)
    dbname = os.environ[ENV_DSN].rsplit("/", 1)[-1]
    started = time.time()
    try:
        results = asyncio.run(run(args))
    finally:
        asyncio.run(_cleanup(dbname, STREAM))
    import importlib.metadata as md

    import redis

    with psycopg.connect(ADMIN_DSN) as c:
        pg_version = c.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    redis_version = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    result = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)), "cpu": cpu_model(),
              "load": " ".join(f"{x:.1f}" for x in os.getloadavg()), "postgres": pg_version, "redis": redis_version,
              "versions": {p: md.version(p) for p in ("procrastinate", "taskiq", "taskiq-redis")},
              "params": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                         "stalled_seconds": STALLED_SECONDS, "slow_job_seconds": SLOW_JOB_SECONDS},
              "seconds": round(time.time() - started, 1), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    md_text = render(result)
    args.out.with_suffix(".md").write_text(md_text, encoding="utf-8")
    print(md_text)
    say(f"[job-engines] {result['seconds']} s; wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


def _reexec(args_in: list[str]) -> int:
    """Create the run's database, then run the bench in a child whose module-level apps point at it (procrastinate's
    app and taskiq's broker are built at import, as in a deployment, from the environment)."""
    run_id = uuid.uuid4().hex[:10]
    dbname = f"yq_jobbench_{run_id}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    env = {**os.environ, ENV_DSN: ADMIN_DSN.rsplit("/", 1)[0] + "/" + dbname, ENV_REDIS: REDIS_URL,
           ENV_STREAM: f"yq-jobbench-{run_id}", ENV_STALLED: str(STALLED_SECONDS), "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.call([sys.executable, "-c", _ENTRY, *args_in], cwd=ROOT, env=env)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    raise SystemExit(main())
