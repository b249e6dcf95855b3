"""``yuqing worker STAGE [STAGE …]``: the pipeline's stages as procrastinate jobs on PostgreSQL.

Any number of worker processes, on any number of machines that reach the same PostgreSQL (and Redis for the shared
per-domain crawl budget), each running the stages it is given (docs/architecture.md, "Workers"):

- every stage but crawl has a **tick** job, a procrastinate periodic task on the stage's queue (``queue=<stage>``,
  ``queueing_lock="tick:<stage>"``: at most one waits). A tick runs the stage's step once (``runner.stages``), which
  claims its items itself, so a tick run twice or by two workers at once does nothing twice. A tick that did work
  defers the next stage's tick at once (crawl → ingest → classify → score → incidents → notify), so an article does
  not wait for the cadence of every stage it passes;
- the **schedule** tick (escalation, reminders, clock checks, source alerts, report schedules) also defers one
  **crawl** job per due source, with ``queueing_lock`` and ``lock`` ``crawl:<source id>``: one waiting and one
  running at most per source, so a source is never crawled twice at once. A crawl job checks again that its source
  is due (a duplicate after a finished crawl does nothing) and kicks ingest when it stored new items. The schedule
  tick carries ``lock="schedule"``: one schedule tick at a time across all workers;
- ``retry_stalled`` (every second, on the ``maintenance`` queue every worker listens to) re-queues the jobs of a
  worker whose heartbeat stopped (a SIGKILLed process, a lost machine) ``YUQING_WORKER_STALLED_SECONDS`` after it died;
- the deletion re-checks and screenshots (``incidents.evidence_jobs``) run in the schedule worker's process, one
  run at a time.

Within one process a stage's step runs once at a time (the ingest step keeps the story index in memory); blocking
steps run in a thread so the heartbeat keeps beating. SIGTERM (or Ctrl-C) stops fetching jobs and lets the running
ones finish. procrastinate needs PostgreSQL; on SQLite ``yuqing worker`` refuses to start and ``yuqing run`` runs
the same stages in one process (``runner.loop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, ClassVar

import procrastinate
import psycopg
import psycopg_pool
from procrastinate import exceptions as pexc
from sqlalchemy.engine import make_url

from runner.loop import NEXT, did_work
from runner.stages import STAGES, crawl_in_thread, due_now, start_evidence_if_due
from yuqing.errors import ConfigError
from yuqing.settings import Settings

if TYPE_CHECKING:
    from runner.runtime import Runtime

log = logging.getLogger("yuqing.worker")

MAINTENANCE = "maintenance"  # the queue of retry_stalled; every worker listens to it
STALLED_SECONDS = 10.0  # the default of YUQING_WORKER_STALLED_SECONDS
TICK_CRON = {  # croniter with seconds as the sixth field
    "ingest": "* * * * * */2", "classify": "* * * * * */2", "score": "* * * * * */2",
    "incidents": "* * * * * */2", "notify": "* * * * * */2", "schedule": "* * * * * */2",
}
PRIORITY = {"notify": 30, "incidents": 20, "schedule": 20, "score": 10, "ingest": 5, "crawl": 0, "classify": 0}
WORKER_STAGES = tuple(STAGES)  # crawl ingest classify score incidents notify schedule

SQLITE_REFUSED = ("yuqing worker 需要 PostgreSQL：请设置 YUQING_DATABASE_URL=postgresql+psycopg://…；"
                  "单机 SQLite 部署请使用 yuqing run。 / yuqing worker needs PostgreSQL: set "
                  "YUQING_DATABASE_URL=postgresql+psycopg://… (on SQLite, run every stage in one process with "
                  "yuqing run).")

class _Process:
    """What a worker process holds between jobs: the runtime, the app (to defer follow-up jobs) and one lock per
    stage (a stage's step runs once at a time here; other processes run theirs beside it)."""

    rt: ClassVar[Runtime | None] = None
    app: ClassVar[procrastinate.App | None] = None
    locks: ClassVar[dict[str, asyncio.Lock]] = {}


def _runtime() -> Runtime:
    if _Process.rt is None:
        raise RuntimeError("the worker's runtime is not built (run jobs through `yuqing worker`)")
    return _Process.rt


def job_dsn(settings: Settings) -> str:
    """The libpq DSN of ``YUQING_DATABASE_URL`` for procrastinate; refuses anything but PostgreSQL."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError("YUQING_DATABASE_URL", [("YUQING_DATABASE_URL", SQLITE_REFUSED)])
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def build_app(settings: Settings) -> procrastinate.App:
    """The procrastinate app of ``settings``' PostgreSQL with every yuqing job registered; workers beat their
    heartbeat every ``YUQING_WORKER_HEARTBEAT_SECONDS`` and count as dead after ``YUQING_WORKER_STALLED_SECONDS``."""
    timeout = max(2, int(settings.db_connect_timeout or 0)) if settings.db_connect_timeout else None
    kwargs = {"conninfo": job_dsn(settings)}
    if timeout:
        kwargs["kwargs"] = {"connect_timeout": timeout}  # psycopg_pool passes these to each connection
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(**kwargs),
        worker_defaults={"update_heartbeat_interval": settings.worker_heartbeat_seconds,
                         "stalled_worker_timeout": settings.worker_stalled_seconds,
                         "fetch_job_polling_interval": 1.0})
    app.add_tasks_from(job_blueprint(), namespace="yuqing")
    return app


def ensure_job_schema(settings: Settings) -> bool:
    """Apply procrastinate's schema to the database once (``yuqing migrate``); returns whether it was applied.
    Idempotent: a database that already has ``procrastinate_jobs`` is left alone."""
    import psycopg

    dsn = job_dsn(settings)
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is not None:
            return False
    # A bare app: the schema needs no tasks.
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
    with app.open():
        app.schema_manager.apply_schema()
    return True


async def _defer(task_name: str, **kwargs: object) -> bool:
    """Defer ``task_name`` (configured as registered); False when the same job is already waiting."""
    app = _Process.app
    if app is None:
        return False
    try:
        await app.tasks[f"yuqing:{task_name}"].defer_async(**kwargs)
    except pexc.AlreadyEnqueued:
        return False
    return True


async def kick(stage: str) -> bool:
    """Ask for one more tick of ``stage`` now (at most one waits)."""
    return await _defer(f"tick_{stage}", timestamp=0)


async def defer_tick(app: procrastinate.App, stage: str) -> bool:
    """``kick`` from a process that is not a worker (the distributed demo paces the schedule stage so)."""
    try:
        await app.tasks[f"yuqing:tick_{stage}"].defer_async(timestamp=0)
    except pexc.AlreadyEnqueued:
        return False
    return True


async def run_stage(name: str) -> None:
    """One tick of stage ``name`` in this process, then the next stage's tick if this one produced something."""
    lock = _Process.locks.setdefault(name, asyncio.Lock())
    async with lock:
        from runner.stages import reload_config

        rt = _runtime()
        if name != "schedule":
            await asyncio.to_thread(reload_config, rt)  # once per tick (the schedule step does it itself)
        else:
            await dispatch_crawls(rt)
        report = await STAGES[name].run(rt)
        if name == "schedule":
            start_evidence_if_due(rt)  # deletion re-checks and screenshots, every 30 s at most
    if did_work(report):
        log.info("stage %s", name, extra={"stage": name, **{k: v for k, v in vars(report).items()
                                                              if v and k not in {"errors", "seconds"}}})
        if name in NEXT:
            await kick(NEXT[name])


async def dispatch_crawls(rt: Runtime) -> int:
    """Defer a crawl job for every due source with none waiting; returns how many were deferred."""
    deferred = 0
    for source in await asyncio.to_thread(due_now, rt):
        deferred += await _defer_crawl(source.id)
    return deferred


def _tick(stage: str) -> Callable[[int], Awaitable[None]]:
    async def tick(timestamp: int) -> None:
        await run_stage(stage)

    tick.__name__ = tick.__qualname__ = f"tick_{stage}"
    return tick


async def crawl_source(context: procrastinate.JobContext, source_id: str) -> None:
    """Crawl one source if it is still due (a duplicate job after a finished crawl finds it not due)."""
    rt = _runtime()
    due = [s for s in await asyncio.to_thread(due_now, rt) if s.id == source_id]
    if not due:
        return
    report = await crawl_in_thread(rt, due)  # Scrapy off this loop: the heartbeat keeps beating
    log.info("stage crawl", extra={"stage": "crawl", "source": source_id, "new_articles": report.new_articles,
                                   "errors": len(report.errors)})
    if report.new_articles:
        await kick("ingest")


def _crawl_job_options(source_id: str) -> dict[str, str]:
    return {"queueing_lock": f"crawl:{source_id}", "lock": f"crawl:{source_id}"}


async def _defer_crawl(source_id: str) -> bool:
    app = _Process.app
    if app is None:
        return False
    try:
        await app.tasks["yuqing:crawl_source"].configure(**_crawl_job_options(source_id)).defer_async(
            source_id=source_id)
    except pexc.AlreadyEnqueued:
        return False
    return True


async def retry_stalled(timestamp: int) -> None:
    """Re-queue the running jobs of workers whose heartbeat stopped (procrastinate finds them; re-queueing is ours).

    A dead worker's job whose ``queueing_lock`` already has a waiting job (the next tick, or the schedule stage's
    next crawl of that source) cannot be put back beside it; it is marked failed instead, which releases its
    ``lock``, and the waiting job does the same work (every job is "this stage or source has work")."""
    app = _Process.app
    if app is None:
        return
    stalled_seconds = _Process.rt.settings.worker_stalled_seconds if _Process.rt is not None else STALLED_SECONDS
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds):
        try:
            await app.job_manager.retry_job(job)
            log.warning("re-queued a dead worker's job", extra={"job_id": job.id, "task": job.task_name})
        except pexc.UniqueViolation:
            await app.job_manager.finish_job(job, status=procrastinate.jobs.Status.FAILED, delete_job=False)
            log.warning("a dead worker's job is covered by a waiting one", extra={"job_id": job.id,
                                                                                  "task": job.task_name})


def job_blueprint() -> procrastinate.Blueprint:
    """A new blueprint holding every yuqing job: a tick per stage (periodic), ``crawl_source`` and
    ``retry_stalled`` (periodic).

    New at every call because ``App.add_tasks_from`` changes the blueprint it copies from: it renames its tasks
    in place (``tick_ingest`` → ``yuqing:tick_ingest``) and points them at the app. One module-level blueprint
    added to a second app in the same process gave that app ``yuqing:yuqing:…`` names, and the first app's tasks
    the same names and the second app's connector (tests/core/test_workers_app_build.py)."""
    bp = procrastinate.Blueprint()
    for stage in TICK_CRON:
        task = bp.task(name=f"tick_{stage}", queue=stage, queueing_lock=f"tick:{stage}",
                       lock="schedule" if stage == "schedule" else None, priority=PRIORITY[stage])(_tick(stage))
        bp.periodic(cron=TICK_CRON[stage], periodic_id=f"tick-{stage}")(task)
    bp.task(name="crawl_source", queue="crawl", priority=PRIORITY["crawl"], pass_context=True)(crawl_source)
    stalled = bp.task(name="retry_stalled", queue=MAINTENANCE, queueing_lock="retry_stalled",
                      priority=100)(retry_stalled)
    bp.periodic(cron="* * * * * *", periodic_id="retry-stalled")(stalled)
    return bp


RECONNECT_SECONDS = (1.0, 2.0, 5.0, 10.0)  # waits before the job queue tries the database again


class _SideTaskFailed(logging.Handler):
    """Notices procrastinate stopping a worker because a side task (the LISTEN connection, the heartbeat) failed:
    that stop is a lost database, not a request to stop."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "action", None) == "side_task_failed":
            self.failed = True


async def _run_until_stopped(app: procrastinate.App, *, queues: list[str], name: str, concurrency: int) -> None:
    """Run the procrastinate worker until SIGTERM or SIGINT. When the database goes away (a restart, a failover, a
    network cut) procrastinate stops its worker — the LISTEN connection or the heartbeat fails — or raises; the
    process then waits (``RECONNECT_SECONDS``) and starts the job queue again, keeping its runtime, so it recovers
    without a restart. The signals are this function's (not procrastinate's), so a stop asked for while the
    database is away ends the process instead of reconnecting. Jobs running at the moment are re-run by
    ``retry_stalled`` once their heartbeat is stale."""
    from procrastinate.worker import Worker

    loop = asyncio.get_running_loop()
    requested = asyncio.Event()
    current: list[Worker] = []

    def stop() -> None:
        requested.set()
        for worker in current:
            worker.stop()  # running jobs finish first

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    watch = _SideTaskFailed()
    worker_log = logging.getLogger("procrastinate.worker")
    worker_log.addHandler(watch)
    attempt = 0
    try:
        while not requested.is_set():
            watch.failed = False
            try:
                async with app.open_async():
                    worker = Worker(app=app, **{**app.worker_defaults, "queues": queues, "name": name,
                                                "concurrency": concurrency, "wait": True,
                                                "install_signal_handlers": False, "delete_jobs": "successful"})
                    current[:] = [worker]
                    await worker.run()
                if requested.is_set() or not watch.failed:
                    return  # stopped on request
                problem = "a side task failed"
            except (pexc.ConnectorException, OSError, psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                if requested.is_set():
                    return
                problem = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            finally:
                current.clear()
            if _Process.rt is not None:  # the admins hear of it once a step runs again (runner.stages)
                from runner.stages import database_down

                database_down(_Process.rt, "job queue", problem)
            wait = RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)]
            attempt += 1
            log.error("作业队列与数据库的连接中断，%s 秒后重新连接 (job queue lost the database, reconnecting): %s",
                      wait, problem)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(requested.wait(), timeout=wait)
    finally:
        worker_log.removeHandler(watch)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def check_stages(names: Iterable[str]) -> list[str]:
    """The stage names given on the command line, validated (ConfigError naming the unknown ones)."""
    chosen = list(dict.fromkeys(names))
    unknown = [n for n in chosen if n not in STAGES]
    if unknown or not chosen:
        raise ConfigError("yuqing worker", [("STAGE", f"未知阶段 unknown stage {', '.join(unknown) or '(none)'}; "
                                             f"choose from {' '.join(WORKER_STAGES)}")])
    return chosen


async def run_worker(settings: Settings, stages: Iterable[str], *, concurrency: int | None = None,
                     setup: Callable[[Runtime], Awaitable[None]] | None = None) -> None:
    """Build the runtime and run a procrastinate worker on the stages' queues (and ``maintenance``) until SIGTERM
    or SIGINT; the jobs running then are finished first. ``setup`` is awaited with the built runtime before any
    job is fetched (``yuqing demo --workers`` hands its workers the demo's wiring and clock so,
    ``runner.demo_workers``)."""
    from runner.runtime import build_runtime
    from yuqing.clock import SystemClock
    from yuqing.db import engine_for

    chosen = check_stages(stages)
    app = build_app(settings)  # refuses SQLite before anything is loaded
    engine = engine_for(settings)
    classifier = None
    if "classify" not in chosen:  # a worker that does not classify needs no model: the rule baseline stands in
        from sentiment.batch import choose_classifier

        classifier = choose_classifier(None, rules=True)
    rt = build_runtime(settings, clock=SystemClock(), engine=engine, classifier=classifier)
    if setup is not None:
        try:
            await setup(rt)
        except BaseException:
            engine.dispose()
            raise
    _Process.rt, _Process.app, _Process.locks = rt, app, {}
    # several crawls at once in a crawl worker; the other stages serialise per process anyway (one lock each)
    slots = concurrency or (len(chosen) + (3 if "crawl" in chosen else 0))
    name = f"{socket.gethostname()}:{os.getpid()}:{'+'.join(chosen)}"
    print(f"yuqing worker {' '.join(chosen)} 已启动 started ({name})", flush=True)
    try:
        await _run_until_stopped(app, queues=[*chosen, MAINTENANCE], name=name, concurrency=slots)
    finally:
        from incidents.evidence_jobs import stop_evidence_jobs

        await stop_evidence_jobs(rt)
        _Process.rt = _Process.app = None
        engine.dispose()
