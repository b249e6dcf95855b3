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
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
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
            return await asyncio.to_thread(self.sync, rt) if offload else self.sync(rt)
        step = self.run_async
        assert step is not None
        return await in_own_loop(lambda: step(rt), name=self.name) if offload else await step(rt)


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
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make()`` on this loop and await its result on the caller's; cancelling the caller cancels it."""
        async def call() -> T:
            return await make()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self.loop))


_SIDE_LOOPS: dict[str, SideLoop] = {}
_SIDE_LOOPS_LOCK = threading.Lock()


async def in_own_loop(make: Callable[[], Awaitable[T]], *, name: str) -> T:
    """Run the coroutine ``make()`` returns on the side loop ``name`` (``SideLoop``, started on first use)."""
    with _SIDE_LOOPS_LOCK:
        side = _SIDE_LOOPS.get(name) or _SIDE_LOOPS.setdefault(name, SideLoop(name))
    return await side.run(make)


async def crawl(rt: Runtime) -> RoundReport:
    """Poll every source that is due."""
    due = await asyncio.to_thread(due_now, rt)
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
    return report


# ---- the stages, by name -----------------------------------------------------------------------------------------

CRAWL = Stage("crawl", 1.0, run_async=crawl)
INGEST = Stage("ingest", 1.0, sync=ingest)
CLASSIFY = Stage("classify", 1.0, sync=classify)
SCORE = Stage("score", 1.0, sync=score)
INCIDENTS = Stage("incidents", 1.0, sync=incidents)
SCHEDULE = Stage("schedule", 2.0, sync=schedule)
NOTIFY = Stage("notify", 1.0, run_async=notify)

STAGES: dict[str, Stage] = {s.name: s for s in (CRAWL, INGEST, CLASSIFY, SCORE, INCIDENTS, SCHEDULE, NOTIFY)}
