"""The pipeline's stages as named units: what each does, how often it runs, and the function that runs it once.

``run_round`` (``runner.runtime``) calls them in order for the backtest, the demo and the tests; ``yuqing run``
(``runner.loop``) runs each on its own cadence as its own asyncio task; ``yuqing worker`` (``runner.workers``) runs
them as procrastinate jobs. All three call the same step functions below, so they do the same work.

A step is either *blocking* (``sync``: database and CPU work, run in a worker thread by the loops so the event loop
that serves the dashboard never waits on it) or *async* (crawl, which runs Scrapy on an asyncio loop; notify, whose
sends run side by side on a loop and whose SMTP sends run in threads); the loops and workers run an async step on
an event loop of its own in a thread (``in_own_loop``). Every step finds its work by
querying the database and claims it (docs/architecture.md, "Concurrency"), so running a step twice at once, or again
after a crash, neither repeats nor loses anything. Each returns a ``RoundReport`` holding only its own counts;
``RoundReport.add`` sums them into a round's report.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crawlers.sources import SourceConfig
    from runner.runtime import RoundReport, Runtime

log = logging.getLogger("yuqing.pipeline")
T = TypeVar("T")

SyncStep = Callable[["Runtime"], "RoundReport"]
AsyncStep = Callable[["Runtime"], Awaitable["RoundReport"]]


@dataclass(frozen=True)
class Stage:
    """One stage: its name (also its procrastinate queue and ``yuqing worker`` argument), how often its loop ticks
    (``cadence``, seconds) and its step. Exactly one of ``sync`` / ``run_async`` is set."""

    name: str
    cadence: float
    sync: SyncStep | None = None
    run_async: AsyncStep | None = None

    @property
    def blocking(self) -> bool:
        return self.sync is not None

    async def run(self, rt: Runtime, *, offload: bool = True) -> RoundReport:
        """Run the step once. With ``offload`` (the loops, the workers) a blocking step runs in a worker thread and
        an async one on an event loop of its own in a thread (``in_own_loop``: delivery's database commits and
        Scrapy stay off the caller's loop); without, on the calling thread and loop (``run_round``, exactly as the
        sequential round always did)."""
        if self.sync is not None:
            sync = self.sync

            def watched() -> RoundReport:
                try:
                    report = sync(rt)
                except Exception as exc:
                    database_failed(rt, exc, self.name)
                    raise
                database_answered(rt, self.name)
                return report

            return await in_step_thread(watched) if offload else watched()
        step = self.run_async
        assert step is not None

        async def watched_async() -> RoundReport:
            try:
                report = await step(rt)
            except Exception as exc:
                database_failed(rt, exc, self.name)
                raise
            database_answered(rt, self.name)
            return report

        return await in_own_loop(watched_async, name=self.name) if offload else await watched_async()


# ---- outages of PostgreSQL and Redis -----------------------------------------------------------------------------

@dataclass
class Outages:
    """What one process has seen of the services its steps depend on: since when each has been down (by
    ``rt.clock``). A step that fails on the database opens the database's outage; the next step that succeeds
    closes it and queues the admins' message (``incidents.system_alerts``); the crawl does the same for Redis from
    its politeness counters. Only PostgreSQL counts: SQLite's "database is locked" is contention, not an outage."""

    down: dict[str, datetime] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_OUTAGES: dict[int, Outages] = {}


def outages(rt: Runtime) -> Outages:
    return _OUTAGES.setdefault(id(rt), Outages())


def is_database_outage(rt: Runtime, exc: BaseException) -> bool:
    """Whether ``exc`` means PostgreSQL could not be reached or answered (a lost connection, a refused one, a
    statement timeout, an empty pool), as opposed to a bug or a refused row."""
    from sqlalchemy.exc import DBAPIError, DisconnectionError
    from sqlalchemy.exc import OperationalError as SAOperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if rt.engine.dialect.name != "postgresql":
        return False
    if isinstance(exc, SAOperationalError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def database_failed(rt: Runtime, exc: BaseException, where: str) -> None:
    """A step failed: if on the database, remember since when it has been down (logged once per outage)."""
    if is_database_outage(rt, exc):
        database_down(rt, where, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)


def database_down(rt: Runtime, where: str, problem: str) -> None:
    """The database could not be reached (by a step, or by a worker's job queue): remember since when (logged
    once per outage); the next step that succeeds tells the admins."""
    seen = outages(rt)
    with seen.lock:
        if "database" in seen.down:
            return
        seen.down["database"] = rt.clock.now()
    log.error("数据库不可用，各阶段暂停，恢复后自动继续 (database unreachable; the stages retry): %s", problem,
              extra={"stage": where})


def database_answered(rt: Runtime, where: str) -> None:
    """A step succeeded: if the database was down, the outage is over — tell the admins (kept open if that
    fails: the database may still be flapping)."""
    seen = outages(rt)
    if "database" not in seen.down:
        return
    _report_outage(rt, "database", "ended", where)


def redis_seen(rt: Runtime, results: dict[str, object]) -> None:
    """After a crawl with a shared politeness budget: Redis failed (``politeness/redis_unavailable``) or answered
    (requests made without a failure); the admins are told when it goes and when it is back."""
    lost = asked = 0
    for result in results.values():
        stats = getattr(result, "stats", None) or {}
        lost += int(stats.get("politeness/redis_unavailable") or 0)
        asked += int(stats.get("politeness/requests") or 0)
    seen = outages(rt)
    if lost:
        with seen.lock:
            if "redis" in seen.down:
                return
            seen.down["redis"] = rt.clock.now()
        _report_outage(rt, "redis", "began", "crawl", keep=True)
    elif asked and "redis" in seen.down:
        _report_outage(rt, "redis", "ended", "crawl")


def _report_outage(rt: Runtime, service: str, phase: str, where: str, *, keep: bool = False) -> None:
    import os
    import socket

    from incidents.system_alerts import report_outage

    seen = outages(rt)
    started = seen.down.get(service)
    if started is None:
        return
    now = rt.clock.now()
    process = f"{socket.gethostname()}:{os.getpid()} 的 {where} 阶段"
    try:
        with rt.session_factory() as session:
            report_outage(session, org=rt.org, policy=rt.policy, service=service, phase=phase, started=started,
                          ended=None if phase == "began" else now, now=now, where=process, tz=rt.settings.tz)
            session.commit()
    except Exception:  # the database is still away: the outage stays open, the next success tries again
        log.warning("could not queue the admins' %s outage message yet", service, exc_info=True)
        return
    if not keep:
        with seen.lock:
            seen.down.pop(service, None)
    log.warning("%s 中断已%s (outage %s)", service, "开始" if phase == "began" else "结束", phase,
                extra={"service": service, "since": started.isoformat()})


def _report() -> RoundReport:
    from runner.runtime import RoundReport

    return RoundReport()


# ---- crawl -------------------------------------------------------------------------------------------------------

def due_now(rt: Runtime) -> list[SourceConfig]:
    """The enabled sources whose next poll has come (``source_states.next_poll_at``)."""
    from crawlers.health import due_sources

    with rt.session_factory() as session:
        return due_sources(session, rt.sources, rt.clock.now())


async def crawl_these(rt: Runtime, sources: Sequence[SourceConfig]) -> RoundReport:
    """Poll ``sources`` once (concurrently), with the shared per-domain budget when Redis is configured."""
    from crawlers.crawl import crawl_sources

    report = _report()
    if not sources:
        return report
    shared = {"YUQING_REDIS_URL": rt.settings.redis_url} if rt.settings.redis_url else {}  # the domain budget
    results = await crawl_sources(list(sources), session_factory=rt.session_factory, clock=rt.clock,
                                  settings_overrides={**shared, **rt.crawl_overrides} or None)
    if rt.settings.redis_url:
        redis_seen(rt, results)
    report.crawled_sources = len(results)
    report.new_articles = sum(r.new_items for r in results.values())
    report.errors.extend(f"{sid}: {e}" for sid, r in results.items() for e in r.errors)
    return report


async def crawl_in_thread(rt: Runtime, sources: Sequence[SourceConfig]) -> RoundReport:
    """``crawl_these`` on the crawl stage's own event loop in a thread of its own (``in_own_loop``), so Scrapy's CPU
    work (start-up, parsing, extraction) and the item pipeline's database writes never hold up the caller's loop:
    the dashboard's, or a worker's, whose heartbeat would stop and make the worker look dead. Cancelling the
    awaiting task cancels the crawl."""
    return await in_own_loop(lambda: crawl_these(rt, sources), name="crawl")


class SideLoop:
    """An event loop running for the life of the process in a daemon thread of its own. One per async stage, and
    kept: a stage's clients (the channels' HTTP clients, Scrapy's downloader) belong to the loop they first ran on,
    so a new loop per tick would break them."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=f"loop-{name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        lower_priority()
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make()`` on this loop and await its result on the caller's; cancelling the caller cancels it."""
        async def call() -> T:
            return await make()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self.loop))


STEP_NICE = 0  # how much nicer the step threads run than the dashboard's (runner.loop.favour_the_dashboard sets it)
_step_executor: ThreadPoolExecutor | None = None
_step_executor_lock = threading.Lock()


def lower_priority() -> None:
    """Make the calling thread ``STEP_NICE`` nicer than it is. Linux schedules threads, and its nice value is per
    thread (``setpriority`` on the thread's id); elsewhere the id is no process's, so nothing is done."""
    import os
    import sys

    if not STEP_NICE or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + STEP_NICE))
    except OSError:
        log.warning("could not lower the priority of step thread %s", tid, exc_info=True)


async def in_step_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in the step threads' pool (``lower_priority`` applied to each as it starts), with the caller's
    context variables. A pool of their own, not the loop's default one: the dashboard's own ``to_thread`` calls
    (its live-update stream) keep the dashboard's priority."""
    global _step_executor
    with _step_executor_lock:
        if _step_executor is None:
            import os

            size = max(8, min(32, (os.cpu_count() or 1) + 4))  # asyncio's default pool's size, at least one per stage
            _step_executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="step", initializer=lower_priority)
    ctx = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_step_executor, ctx.run, fn)


_SIDE_LOOPS: dict[str, SideLoop] = {}
_SIDE_LOOPS_LOCK = threading.Lock()


async def in_own_loop(make: Callable[[], Awaitable[T]], *, name: str) -> T:
    """Run the coroutine ``make()`` returns on the side loop ``name`` (``SideLoop``, started on first use)."""
    with _SIDE_LOOPS_LOCK:
        side = _SIDE_LOOPS.get(name) or _SIDE_LOOPS.setdefault(name, SideLoop(name))
    return await side.run(make)


async def crawl(rt: Runtime) -> RoundReport:
    """Poll every source that is due."""
    due = await in_step_thread(lambda: due_now(rt))
    return await crawl_in_thread(rt, due)


# ---- article stages ----------------------------------------------------------------------------------------------

def ingest(rt: Runtime) -> RoundReport:
    """Match ``fetched`` articles against the org chart and cluster the relevant ones into stories."""
    from crawlers.ingest import process_fetched

    report = _report()
    with rt.session_factory() as session:
        result = process_fetched(session, matcher=rt.matcher, index=rt.story_index, clock=rt.clock)
    report.relevant = result.relevant
    report.ingest_failed = result.failed
    return report


def classify(rt: Runtime) -> RoundReport:
    """Classify ``matched`` articles (a lease in ``work_claims`` per batch)."""
    from sentiment.service import classify_pending

    report = _report()
    with rt.session_factory() as session:
        report.classified = classify_pending(session, classifier=rt.classifier, clock=rt.clock)
    return report


def score(rt: Runtime) -> RoundReport:
    """Index what ingest matched for search, turn complaint-board posts into complaints, then score the stories
    with new articles or spread samples (each story under its row lock)."""
    from crawlers.search_index import index_search
    from incidents.complaints.links import complaints_from_board_posts
    from sentiment.service import score_stories

    report = _report()
    index_search(rt.session_factory, rt.clock)  # 舆情信息 search: index what ingest matched (crawlers.search_index)
    with rt.session_factory() as session:  # complaint-board posts naming a unit become complaints, once each
        report.complaints = complaints_from_board_posts(session, org=rt.org, policy=rt.policy, clock=rt.clock)
        session.commit()
    with rt.session_factory() as session:
        report.risks = len(score_stories(session, ctx=rt.risk_ctx, clock=rt.clock))
    return report


def incidents(rt: Runtime) -> RoundReport:
    """Turn each story's unhandled risk rows into its alert and incident (claimed under the story's row lock)."""
    from incidents.service import handle_pending_risks

    report = _report()
    with rt.session_factory() as session:
        report.alerts_touched = handle_pending_risks(session, org=rt.org, policy=rt.policy, clock=rt.clock)
    return report


# ---- scheduled jobs ----------------------------------------------------------------------------------------------

def scheduled(rt: Runtime, *, source_alerts: bool = True) -> RoundReport:
    """Escalation, reminders and clock checks; the admins' source alerts (unless ``source_alerts`` is False: a
    round that did not crawl has nothing new to say about sources); the 日报 / 周报 once due."""
    from incidents.briefings.delivery import issue_due_reports
    from incidents.scheduled import run_scheduled

    report = _report()
    with rt.session_factory() as session:
        report.escalations = run_scheduled(session, org=rt.org, policy=rt.policy, clock=rt.clock)
        session.commit()
    if source_alerts:  # a source failing or silent beyond its cadence: the admins are told, once per change of state
        with rt.session_factory() as session:
            report.escalations += run_source_alerts(session, rt)
            session.commit()
    with rt.session_factory() as session:  # the 日报 / 周报 to leadership, once due (issued once per period)
        report.reports_queued = issue_due_reports(session, org=rt.org, policy=rt.policy, clock=rt.clock,
                                                  config=rt.reports_config)
        session.commit()
    return report


def run_source_alerts(session: Session, rt: Runtime) -> int:
    """``incidents.source_alerts`` with the thresholds of ``YUQING_SOURCE_ALERT_*``."""
    from crawlers.health import HealthThresholds
    from incidents.source_alerts import run_source_alerts as run

    s = rt.settings
    thresholds = HealthThresholds(failures=s.source_alert_failures, silent_intervals=s.source_alert_silent_intervals,
                                  quiet_factor=s.source_alert_quiet_factor)
    return run(session, org=rt.org, policy=rt.policy, sources=rt.sources, clock=rt.clock, thresholds=thresholds,
               tz=s.tz)


def schedule(rt: Runtime) -> RoundReport:
    """The schedule stage of the loops and workers: reload changed configuration (when ``runner.config_reload``
    exists), then the scheduled jobs above with source alerts."""
    reload_config(rt)
    return scheduled(rt, source_alerts=True)


def reload_config(rt: Runtime) -> None:
    """Call ``runner.config_reload.reload_if_changed(rt)`` when that module is present; a failure is logged and the
    current configuration kept (a bad edit must not stop the deadlines)."""
    try:
        from runner.config_reload import reload_if_changed  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    try:
        reload_if_changed(rt)
    except Exception:
        log.exception("configuration reload failed; keeping the current configuration")


EVIDENCE_EVERY_SECONDS = 30.0  # the deletion re-checks and screenshots start at most this often (each run is bounded)
_evidence_started: dict[int, float] = {}


def start_evidence_if_due(rt: Runtime) -> bool:
    """Start a run of the deletion re-checks and screenshots (``incidents.evidence_jobs``) when the last run has
    ended and ``EVIDENCE_EVERY_SECONDS`` have passed since it started; call on the event loop that should own it."""
    from incidents.evidence_jobs import start_evidence_jobs

    now = time.monotonic()
    last = _evidence_started.get(id(rt))
    if last is not None and now - last < EVIDENCE_EVERY_SECONDS:
        return False
    if start_evidence_jobs(rt):
        _evidence_started[id(rt)] = now
        return True
    return False


# ---- delivery ----------------------------------------------------------------------------------------------------

async def notify(rt: Runtime) -> RoundReport:
    """Deliver the due outbox rows: per-channel concurrency limit, time budget, circuit breaker; commits per message
    (``incidents.notify.deliver_pending``)."""
    from incidents.notify import deliver_pending

    report = _report()
    with rt.session_factory() as session:
        delivery = await deliver_pending(session, clock=rt.clock, senders=rt.senders, org=rt.org,
                                         retry=rt.policy.channels.delivery, breakers=rt.breakers)
        report.delivered = delivery.sent
        report.delivery_skipped = sum(delivery.skipped.values())
        report.breakers_open = sorted(ch for ch, b in delivery.breakers.items() if b["state"] != "closed")
        session.commit()
    channels_seen(rt, delivery.breakers_opened)
    return report


def channels_seen(rt: Runtime, opened: Sequence[str]) -> None:
    """After a delivery round: a channel whose breaker opened is down (the admins are told), one down whose breaker
    has closed again (a trial message went out) is back (told too)."""
    seen = outages(rt)
    for channel in opened:
        with seen.lock:
            if f"channel:{channel}" in seen.down:
                continue
            seen.down[f"channel:{channel}"] = rt.clock.now()
        _report_outage(rt, f"channel:{channel}", "began", "notify", keep=True)
    for service in [s for s in seen.down if s.startswith("channel:")]:
        if rt.breakers is None or rt.breakers.state(service.removeprefix("channel:")) == "closed":
            _report_outage(rt, service, "ended", "notify")


# ---- the stages, by name -----------------------------------------------------------------------------------------

CRAWL = Stage("crawl", 1.0, run_async=crawl)
INGEST = Stage("ingest", 1.0, sync=ingest)
CLASSIFY = Stage("classify", 1.0, sync=classify)
SCORE = Stage("score", 1.0, sync=score)
INCIDENTS = Stage("incidents", 1.0, sync=incidents)
SCHEDULE = Stage("schedule", 2.0, sync=schedule)
NOTIFY = Stage("notify", 1.0, run_async=notify)

STAGES: dict[str, Stage] = {s.name: s for s in (CRAWL, INGEST, CLASSIFY, SCORE, INCIDENTS, SCHEDULE, NOTIFY)}
