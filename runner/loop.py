"""``yuqing run``'s pipeline: every stage on its own cadence, as its own asyncio task, beside the dashboard.

The sequential round (``runner.runtime.run_round``) made everything wait for everything: a deadline waited for the
slowest source's crawl, the dashboard for a hundred classifications run on its event loop. Here each stage of
``runner.stages`` has a loop of its own:

- **crawl** looks for due sources every ``cadence`` seconds and starts a crawl for those not already being crawled
  (sources due together are crawled together, sharing their seen URLs), each crawl on an event loop of its own in
  a thread (``runner.stages.crawl_in_thread``), so Scrapy's parsing never holds up the dashboard; a slow source
  delays only itself;
- **ingest, classify, score, incidents** tick every ``cadence`` seconds, at once again while they find work, and
  are woken by the stage before them when it produced something (new articles → ingest → classify → …);
- **schedule** (escalation, reminders, clock checks, source alerts, report schedules; and it starts the deletion
  re-checks and screenshots, ``incidents.evidence_jobs``, every 30 s at most) ticks every few seconds whatever
  the crawl does, so a deadline fires within seconds of its time;
- **notify** delivers the outbox on its own loop (per-channel limits, budget and breakers inside).

Blocking steps (database and model work) run in worker threads (``Stage.run``), so the event loop serving the
dashboard only schedules them. On SQLite the writers of different threads take turns through the database's write
lock and ``YUQING_DB_BUSY_TIMEOUT``; each step keeps its write transactions short (docs/architecture.md,
"Concurrency"). A step that fails is logged and tried again at its next tick; it never stops the other stages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from runner.stages import STAGES, Stage, crawl_in_thread, due_now, start_evidence_if_due

if TYPE_CHECKING:
    from crawlers.sources import SourceConfig
    from runner.runtime import RoundReport, Runtime

log = logging.getLogger("yuqing.pipeline")

# which stage a stage's output wakes at once (instead of at its next tick)
NEXT: dict[str, str] = {"crawl": "ingest", "ingest": "classify", "classify": "score", "score": "incidents",
                        "incidents": "notify", "schedule": "notify"}


def did_work(report: RoundReport) -> bool:
    """Whether a step produced anything (an item handled, a message sent or queued): then it runs again at once."""
    quiet = {"delivery_skipped", "ingest_failed"}  # left for later, not done: no reason to tick again at once
    return any(value for name, value in vars(report).items()
               if isinstance(value, int) and not isinstance(value, bool) and name not in quiet)


class StageLoops:
    """The running loops of one process; ``wake(name)`` makes a stage tick now instead of at its cadence."""

    def __init__(self, rt: Runtime, stop: asyncio.Event, *, cadences: dict[str, float] | None = None) -> None:
        self.rt = rt
        self.stop = stop
        self.cadences = {name: (cadences or {}).get(name, stage.cadence) for name, stage in STAGES.items()}
        self.wakes: dict[str, asyncio.Event] = {name: asyncio.Event() for name in STAGES}
        self.crawling: dict[str, asyncio.Task[None]] = {}  # source id → the crawl task polling it
        self.ticks: dict[str, int] = dict.fromkeys(STAGES, 0)  # finished ticks per stage (for tests and logs)

    def wake(self, name: str) -> None:
        self.wakes[name].set()

    async def _pause(self, name: str) -> None:
        """Wait for the stage's cadence, an explicit wake, or the stop — whichever comes first."""
        wake = self.wakes[name]
        waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(self.stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=self.cadences[name], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        wake.clear()

    async def stage_loop(self, stage: Stage) -> None:
        """Tick ``stage`` until stopped: again at once while it finds work, else after its cadence or a wake."""
        while not self.stop.is_set():
            busy = False
            try:
                report = await stage.run(self.rt)
                busy = did_work(report)
                if busy:
                    log.info("stage %s", stage.name, extra={"stage": stage.name, **{
                        k: v for k, v in vars(report).items() if v and k not in {"errors", "seconds"}}})
                    if stage.name in NEXT:
                        self.wake(NEXT[stage.name])
            except Exception:  # a failing step must not stop the stage or the others; the next tick retries
                log.exception("stage %s failed", stage.name)
            if stage.name == "schedule":
                start_evidence_if_due(self.rt)  # deletion re-checks and screenshots, every 30 s at most
            self.ticks[stage.name] += 1
            if busy and not self.stop.is_set():
                await asyncio.sleep(0)  # let the loop breathe, then take the next batch
                continue
            await self._pause(stage.name)

    async def crawl_loop(self) -> None:
        """Start a crawl of the due sources not already being crawled, every cadence; never wait for a crawl."""
        while not self.stop.is_set():
            try:
                due = [s for s in await asyncio.to_thread(due_now, self.rt) if s.id not in self.crawling]
                if due:
                    task = asyncio.create_task(self._crawl(due))
                    for source in due:
                        self.crawling[source.id] = task
            except Exception:
                log.exception("stage crawl failed to find due sources")
            self.ticks["crawl"] += 1
            await self._pause("crawl")

    async def _crawl(self, sources: list[SourceConfig]) -> None:
        try:
            report = await crawl_in_thread(self.rt, sources)
            if report.new_articles:
                self.wake("ingest")
            log.info("stage crawl", extra={"stage": "crawl", "crawled_sources": report.crawled_sources,
                                           "new_articles": report.new_articles, "errors": len(report.errors)})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("crawl of %s failed", ", ".join(s.id for s in sources))
        finally:
            for source in sources:
                self.crawling.pop(source.id, None)

    async def run(self, names: Iterable[str] | None = None) -> None:
        """Run the named stages (all by default) until ``stop`` is set; each finishes its current step first."""
        from incidents.evidence_jobs import stop_evidence_jobs

        chosen = list(names or STAGES)
        tasks = [asyncio.create_task(self.crawl_loop() if name == "crawl" else self.stage_loop(STAGES[name]),
                                     name=f"stage-{name}") for name in chosen]
        try:
            await self.stop.wait()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for task in tasks:
                task.cancel()
            crawls = set(self.crawling.values())
            for task in crawls:
                task.cancel()
            for task in [*tasks, *crawls]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await stop_evidence_jobs(self.rt)


async def run_stage_loops(rt: Runtime, stop: asyncio.Event, *, cadences: dict[str, float] | None = None) -> None:
    """``yuqing run``'s pipeline: every stage on its own loop until ``stop`` is set."""
    await StageLoops(rt, stop, cadences=cadences).run()
