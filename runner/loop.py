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
import multiprocessing
import multiprocessing.process
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from runner.stages import STAGES, Stage, crawl_in_thread, due_now, in_step_thread, start_evidence_if_due

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Event as EventType

    from crawlers.sources import SourceConfig
    from runner.runtime import RoundReport, Runtime
    from yuqing.settings import Settings

log = logging.getLogger("yuqing.pipeline")

# which stage a stage's output wakes at once (instead of at its next tick)
NEXT: dict[str, str] = {"crawl": "ingest", "ingest": "classify", "classify": "score", "score": "incidents",
                        "incidents": "notify", "schedule": "notify"}


# ``yuqing run``'s process tuning (``favour_the_dashboard``); the figures behind them are in docs/benchmarks.md
SWITCH_INTERVAL_S = 0.001  # Python's default is 0.005
STEP_NICE = 10  # how much nicer than the dashboard's thread the steps' threads run (Linux: per thread)
MODEL_THREADS = 1  # ONNX Runtime's intra-op threads for the model in ``yuqing run`` (the library's default is 2)


def favour_the_dashboard(rt: Runtime, *, switch_interval: float | None = None,
                         model_threads: int | None = None, step_nice: int | None = None) -> dict[str, object]:
    """Tune the process so the dashboard's event loop is not starved by the stage threads; returns what was set.

    Why: the steps run in worker threads, but a Python-heavy one (matching, clustering, the ORM, Scrapy's parsing)
    holds the GIL for up to ``sys.getswitchinterval()`` each time the loop thread asks for it, and a request
    needs the GIL many times (the socket read, the hop to Starlette's thread pool for a sync route, each
    database call, the hop back, the write). A shorter interval bounds each wait. The step threads and the crawl's
    and delivery's loops run ``step_nice`` nicer (Linux), so when the CPU is short the operating system runs the
    dashboard's thread first. The model's inference threads are cut so inference leaves a core to the server.
    Defaults: ``SWITCH_INTERVAL_S``, ``STEP_NICE``, ``MODEL_THREADS``; ``python -m bench dashboard-latency`` measured
    them (docs/benchmarks.md)."""
    interval = SWITCH_INTERVAL_S if switch_interval is None else switch_interval
    sys.setswitchinterval(interval)
    done: dict[str, object] = {"switch_interval_s": sys.getswitchinterval()}
    threads = MODEL_THREADS if model_threads is None else model_threads
    model = getattr(rt.classifier, "model", None)
    session = getattr(model, "session", None)
    if session is not None and hasattr(session, "get_session_options") and threads > 0:
        import onnxruntime as ort

        current = session.get_session_options()
        if current.intra_op_num_threads != threads:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = current.graph_optimization_level
            model.session = ort.InferenceSession(str(model.onnx_path), options, providers=["CPUExecutionProvider"])
        done["model_threads"] = model.session.get_session_options().intra_op_num_threads
    from runner import stages

    stages.STEP_NICE = STEP_NICE if step_nice is None else step_nice  # the step threads and side loops to come
    done["step_nice"] = stages.STEP_NICE
    return done


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
                due = [s for s in await in_step_thread(lambda: due_now(self.rt)) if s.id not in self.crawling]
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


# ---- the CPU-heavy stages in a process of their own ------------------------------------------------------------

HEAVY_STAGES = ("crawl", "ingest", "classify", "score", "incidents")  # parsing, matching, clustering, the model
STAGE_PROCESS_NICE = 10  # how much nicer the stage process runs than the dashboard's
RELOAD_EVERY_S = 2.0  # how often the stage process applies configuration saved in the console (as schedule does)
RESTART_AFTER_S = 5.0  # a stage process that died is started again after this long


def _stage_process_main(settings: Settings, names: list[str], nice: int, crawl_overrides: dict[str, object],
                        conn: Connection, ready: EventType) -> None:
    """The stage process: its own runtime (configuration, model) and the named stages' loops, until the parent
    says stop, goes away (the pipe reaches end of file) or SIGTERM / SIGINT arrive."""
    import os
    import signal

    from runner.runtime import build_runtime
    from runner.stages import reload_config
    from yuqing.clock import SystemClock
    from yuqing.logs import configure_logging

    if nice and hasattr(os, "nice"):
        os.nice(nice)
    configure_logging(settings.log_level, settings.log_json)
    rt = build_runtime(settings, clock=SystemClock())
    rt.crawl_overrides = dict(crawl_overrides)
    ready.set()  # the runtime is built (the model loaded): the stages start now

    async def main() -> None:
        favour_the_dashboard(rt, step_nice=0)  # the model's threads cut as in one process; the whole process is nice
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def parent_says_stop() -> None:  # a message, or the parent's end closed (the parent died)
            loop.remove_reader(conn.fileno())
            stop.set()

        loop.add_reader(conn.fileno(), parent_says_stop)

        async def follow_configuration() -> None:
            while not stop.is_set():
                await asyncio.to_thread(reload_config, rt)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RELOAD_EVERY_S)

        reloads = asyncio.create_task(follow_configuration())
        await StageLoops(rt, stop).run(names)
        await reloads

    asyncio.run(main())


class StageProcess:
    """The CPU-heavy stages (``HEAVY_STAGES``) in a child process, started again if it dies.

    Why: threads of one process share its GIL, so a thread matching, clustering or parsing makes the dashboard's
    thread wait for the GIL at every step of a request; a child process has a GIL of its own, and running it
    ``nice`` lets the operating system give the dashboard's thread the CPU first. Both processes use the same
    database (SQLite's file lock or PostgreSQL's row locks: the steps claim their work as in one process). The
    cost: a second copy of the runtime (the model included) and the ``incidents`` → ``notify`` wake crossing no
    process boundary (the notify stage's own one-second tick picks the new messages up)."""

    def __init__(self, settings: Settings, *, names: Sequence[str] = HEAVY_STAGES, nice: int = STAGE_PROCESS_NICE,
                 crawl_overrides: dict[str, object] | None = None) -> None:
        self.settings = settings
        self.names = list(names)
        self.nice = nice
        self.crawl_overrides = dict(crawl_overrides or {})
        self.process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self.ready: EventType | None = None  # set by the process once its runtime is built
        self.starts = 0

    def start(self) -> None:
        if self._conn is not None:  # a process that died: its pipe goes with it (one descriptor per restart)
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None
        ctx = multiprocessing.get_context("spawn")  # never fork a process that has threads
        receive, send = ctx.Pipe(duplex=False)
        self.ready = ctx.Event()
        self.process = ctx.Process(target=_stage_process_main, name="yuqing-stages", args=(
            self.settings, self.names, self.nice, self.crawl_overrides, receive, self.ready))
        self.process.start()
        receive.close()  # the child's end; ours is ``send``
        self._conn = send
        self.starts += 1
        log.info("stage process started", extra={"pid": self.process.pid, "stages": ",".join(self.names)})

    async def supervise(self, stop: asyncio.Event) -> None:
        """Keep the stage process running until ``stop``; then stop it (``close``)."""
        try:
            while not stop.is_set():
                if self.process is None or not self.process.is_alive():
                    if self.process is not None:
                        log.error("stage process exited (code %s); starting it again in %.0f s",
                                  self.process.exitcode, RESTART_AFTER_S)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), RESTART_AFTER_S)
                        if stop.is_set():
                            break
                    self.start()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            await self.close()

    async def close(self, timeout: float = 30.0) -> None:
        """Ask the stage process to stop (each stage finishes its current step), then terminate it if it has not
        after ``timeout`` seconds."""
        process, conn = self.process, self._conn
        if process is None:
            return
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send("stop")
                conn.close()
            self._conn = None
        await asyncio.to_thread(process.join, timeout)
        if process.is_alive():
            log.warning("stage process did not stop in %.0f s; terminating it", timeout)
            process.terminate()
            await asyncio.to_thread(process.join, 5)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, 5)
        log.info("stage process stopped", extra={"pid": process.pid, "exitcode": process.exitcode})
