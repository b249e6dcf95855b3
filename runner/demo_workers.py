"""``yuqing demo --workers N``: the scripted crisis with the stages in ``yuqing worker`` processes.

The demo process keeps what is the demo's own — the simulated internet, the mail sink, the scaled clock and the
scripted people — and starts ``N`` worker processes per stage group (``DEMO_GROUPS``) on the same PostgreSQL (and
Redis) instead of running the stages itself. Each worker is a plain ``yuqing worker STAGE…`` with the hidden
``--demo`` flag, which opens a control channel on its stdin (JSON lines, ``DemoLink``):

1. ``{"wiring": …}`` at start: the mail sink's address; the worker then makes the same changes to its runtime as
   the one-process demo (``runner.demo.wire_demo_pipeline``), builds nothing else, and prints ``READY``;
2. ``{"clock": …}`` once every worker is ready: the demo's ``ScaledClock`` (start, speed and a wall-clock origin,
   so every process reads the same simulated time). Sent only then because the workers' start-up (imports, the
   configuration, the model) takes seconds, which at ``--speed 1500`` would be simulated hours of the story;
   until the clock arrives the worker fetches no job, and the demo's clock stands at the start too;
3. ``{"stop": "<instant>"}`` when the script is over: simulated time stops there in every process, as it does in
   the one-process demo, so the summary is the crisis as it stood at the end of the script;
4. end of input: the demo is gone (even SIGKILLed), so the worker stops itself (SIGTERM to its own pid).

The clock travels over stdin rather than in ``YUQING_*`` settings because its origin is known only after the
workers have started. The demo defers a schedule tick every ``round_pause`` (the one-process demo's round cadence;
the ticks' own cron is every 2 s), which dispatches the due crawls; each stage's output kicks the next stage at
once (``runner.workers``). When the script is over it waits until the pipeline is drained (``backlog``), prints
the same summary as the one-process demo (``runner.demo.demo_summary``) and stops every worker by its pid: SIGTERM,
then SIGKILL after ``STOP_SECONDS``; also on Ctrl-C or an error.

Why stage groups and not a process per stage: the machine this was built on has 2 cores, and each worker process
holds its own runtime (about 150–250 MB, the classify group the model too). Three groups of the seven stages —
crawl+ingest, classify+score+incidents, schedule+notify — give ``3 × N`` processes: 3 for ``--workers 1``, 6 for
``--workers 2``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TextIO

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from yuqing.errors import ConfigError
from yuqing.settings import Settings

if TYPE_CHECKING:
    import procrastinate

    from runner.demo import DemoClock, DemoOptions
    from runner.demo_people import DemoPeople
    from runner.runtime import Runtime
    from sim.scenario import Scenario

log = logging.getLogger("yuqing.demo")

DEMO_GROUPS: tuple[tuple[str, ...], ...] = (("crawl", "ingest"), ("classify", "score", "incidents"),
                                            ("schedule", "notify"))
READY = "yuqing demo worker ready"
START_SECONDS = 300.0  # a worker not ready by then (imports, configuration, model) fails the demo
STOP_SECONDS = 20.0  # SIGTERM lets running jobs finish; SIGKILL after this
DRAIN_SECONDS = 300.0  # the pipeline not drained by then: the summary is taken anyway (and says so in the log)
QUIET_CHECKS = 3  # consecutive empty backlogs, DRAIN_POLL apart, before the pipeline counts as drained
DRAIN_POLL = 0.5

POSTGRESQL_REQUIRED = ("yuqing demo --workers 需要 PostgreSQL：请设置 YUQING_DATABASE_URL=postgresql+psycopg://…"
                       "（以及 YUQING_REDIS_URL，供各抓取进程共享每个域名的请求预算）；"
                       "不带 --workers 的演示在单个进程中运行。"
                       " / yuqing demo --workers needs PostgreSQL: set YUQING_DATABASE_URL=postgresql+psycopg://… "
                       "(and YUQING_REDIS_URL); without --workers the demo runs in one process.")


def require_postgresql(settings: Settings) -> None:
    """Refuse (``ConfigError``) a demo with workers on anything but PostgreSQL: the job queue lives there."""
    url = settings.database_url
    if not url or make_url(url).get_backend_name() != "postgresql":
        raise ConfigError("yuqing demo --workers", [("YUQING_DATABASE_URL", POSTGRESQL_REQUIRED)])


# ---- the worker's end ----------------------------------------------------------------------------------------------

class DemoLink:
    """A worker's end of the demo's control channel (module docstring): applies the wiring, waits for the clock,
    then follows the stop and the end of input. ``setup`` is ``runner.workers.run_worker``'s hook, called after the
    runtime is built and before any job is fetched."""

    live: ClassVar[list[asyncio.Task[None]]] = []  # the follower task, kept referenced for the process's life

    def __init__(self, stages: Iterable[str], stream: TextIO | None = None) -> None:
        self.stages = set(stages)
        self.stream = stream if stream is not None else sys.stdin

    def _read(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[dict | None]) -> None:
        for line in self.stream:
            if line.strip():
                loop.call_soon_threadsafe(queue.put_nowait, json.loads(line))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    async def setup(self, rt: Runtime) -> None:
        from runner.demo import DemoClock, wire_demo_pipeline

        queue: asyncio.Queue[dict | None] = asyncio.Queue()
        threading.Thread(target=self._read, args=(asyncio.get_running_loop(), queue), name="demo-link",
                         daemon=True).start()
        wiring = await _expect(queue, "wiring")
        host, port = wiring["mail"]
        wire_demo_pipeline(rt, mail=(str(host), int(port)), env=os.environ)
        # The one-process demo's rounds never start the deletion re-checks and screenshots; neither do its workers.
        rt.evidence_config = None
        if "crawl" in self.stages:
            # Scrapy and the spiders take seconds to import on a busy machine: part of starting, before the clock
            # runs, not of the first crawl (at --speed 1500 a second is 25 simulated minutes of the story).
            await asyncio.to_thread(importlib.import_module, "crawlers.crawl")
        print(READY, flush=True)
        spec = await _expect(queue, "clock")
        clock = DemoClock(datetime.fromisoformat(spec["start"]), float(spec["speed"]), origin=float(spec["origin"]))
        rt.clock = clock
        DemoLink.live.append(asyncio.create_task(_follow(queue, clock)))


async def _expect(queue: asyncio.Queue[dict | None], key: str) -> dict:
    message = await queue.get()
    if message is None:  # the demo went away before the worker started: nothing to do
        raise SystemExit(0)
    if key not in message:
        raise RuntimeError(f"demo control channel: expected {key!r}, got {sorted(message)}")
    return message[key]


async def _follow(queue: asyncio.Queue[dict | None], clock: DemoClock) -> None:
    while (message := await queue.get()) is not None:
        if "stop" in message:
            clock.stop(datetime.fromisoformat(message["stop"]))
    os.kill(os.getpid(), signal.SIGTERM)  # the demo is gone: finish the running jobs and stop (runner.workers)


# ---- the demo's end ------------------------------------------------------------------------------------------------

@dataclass
class _Child:
    stages: tuple[str, ...]
    proc: asyncio.subprocess.Process
    log_path: Path
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    copier: asyncio.Task[None] | None = None


class DemoWorkers:
    """The demo's worker processes: started, told the wiring and the clock, stopped by pid."""

    def __init__(self, n: int, *, env: Mapping[str, str], log_dir: Path) -> None:
        self.n = n
        self.env = dict(env)
        self.log_dir = log_dir
        self.children: list[_Child] = []

    @property
    def pids(self) -> list[int]:
        return [c.proc.pid for c in self.children]

    async def start(self, mail: tuple[str, int]) -> None:
        """Start ``n`` workers per group and wait until every one is ready (raises if one exits first)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            for stages in DEMO_GROUPS:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "runner.cli", "worker", *stages, "--demo", env=self.env,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True)  # Ctrl-C reaches the demo only; it stops each worker by pid
                child = _Child(stages, proc, self.log_dir / f"worker-{i + 1}-{'+'.join(stages)}.log")
                child.copier = asyncio.create_task(_copy_output(child))
                self.children.append(child)
        self.send({"wiring": {"mail": list(mail)}})
        deadline = time.monotonic() + START_SECONDS
        for child in self.children:
            while not child.ready.is_set():
                if child.proc.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"yuqing worker {' '.join(child.stages)} (pid {child.proc.pid}) did not "
                                       f"start; see {child.log_path}:\n{_tail(child.log_path)}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(child.ready.wait(), timeout=0.5)

    def send(self, message: dict) -> None:
        line = (json.dumps(message) + "\n").encode()
        for child in self.children:
            if child.proc.stdin is not None and child.proc.returncode is None:
                child.proc.stdin.write(line)

    def check_alive(self) -> None:
        """A worker that died mid-demo fails the demo (its stage would silently stop)."""
        for child in self.children:
            if child.proc.returncode is not None:
                raise RuntimeError(f"yuqing worker {' '.join(child.stages)} (pid {child.proc.pid}) exited with "
                                   f"{child.proc.returncode}; see {child.log_path}:\n{_tail(child.log_path)}")

    async def stop(self) -> None:
        """SIGTERM every worker by pid (running jobs finish), SIGKILL those still running after ``STOP_SECONDS``."""
        for child in self.children:
            if child.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for child in self.children:
            try:
                await asyncio.wait_for(child.proc.wait(), timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                log.warning("worker did not stop; killing it", extra={"pid": child.proc.pid})
                with contextlib.suppress(ProcessLookupError):
                    child.proc.kill()
                await child.proc.wait()
            if child.copier is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(child.copier, timeout=5)
            if child.proc.stdin is not None:
                child.proc.stdin.close()


async def _copy_output(child: _Child) -> None:
    """Copy a worker's output to its log file, noticing the ``READY`` line. Read in chunks, not lines: a worker
    blocks once its pipe is full, so no log line may be too long to be read."""
    assert child.proc.stdout is not None
    marker = READY.encode()
    seen = b""
    with child.log_path.open("wb") as out:
        while chunk := await child.proc.stdout.read(65536):
            out.write(chunk)
            out.flush()
            if not child.ready.is_set():
                seen = (seen + chunk)[-(len(chunk) + len(marker)):]
                if any(line.strip() == marker for line in seen.splitlines()):
                    child.ready.set()


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


async def _defer_schedule(app: procrastinate.App) -> None:
    from runner.workers import defer_tick

    await defer_tick(app, "schedule")


def backlog(rt: Runtime) -> dict[str, int]:
    """What the pipeline still has to do: articles between stages, unhandled risk rows, messages due, and the job
    queue's crawls and running ticks. All zero: the pipeline is drained (with simulated time stopped, nothing new
    becomes due)."""
    from sqlalchemy import or_, text

    from crawlers.models import Article, ArticleStage
    from incidents.models import Notification
    from sentiment.models import StoryRisk

    now = rt.clock.now()
    with rt.session_factory() as session:
        waiting = {"articles": session.scalar(select(func.count()).select_from(Article).where(Article.stage.in_(
            (ArticleStage.fetched, ArticleStage.matched, ArticleStage.classified)))) or 0,
            "risks": session.scalar(select(func.count()).select_from(StoryRisk)
                                    .where(StoryRisk.handled_at.is_(None))) or 0,
            "messages": session.scalar(select(func.count()).select_from(Notification).where(
                Notification.status == "pending",
                or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now))) or 0}
        waiting["jobs"] = session.execute(text(
            "SELECT count(*) FROM procrastinate_jobs WHERE (task_name = 'yuqing:crawl_source' AND status IN "
            "('todo', 'doing')) OR (task_name LIKE 'yuqing:tick_%' AND status = 'doing') OR "
            "(task_name = 'yuqing:tick_schedule' AND status = 'todo')")).scalar() or 0
    return waiting


async def drain(app: procrastinate.App, rt: Runtime, workers: DemoWorkers) -> dict[str, int]:
    """Kick the schedule stage (a last crawl of the due sources, deadlines) until ``backlog`` is empty
    ``QUIET_CHECKS`` times in a row; returns the last backlog (not empty only after ``DRAIN_SECONDS``)."""
    deadline = time.monotonic() + DRAIN_SECONDS
    quiet = 0
    waiting: dict[str, int] = {}
    while quiet < QUIET_CHECKS:
        workers.check_alive()
        await _defer_schedule(app)
        await asyncio.sleep(DRAIN_POLL)
        waiting = await asyncio.to_thread(backlog, rt)
        quiet = quiet + 1 if not any(waiting.values()) else 0
        if time.monotonic() > deadline:
            log.warning("the pipeline did not drain; summarising what is there", extra=waiting)
            break
    return waiting


async def play_with_workers(settings: Settings, rt: Runtime, clock: DemoClock, options: DemoOptions, *,
                            scenario: Scenario, people: DemoPeople | None, wrap_up: datetime,
                            env: Mapping[str, str], mail: tuple[str, int]) -> dict:
    """Play the script with ``options.workers`` worker processes per stage group; returns ``demo_summary``.

    ``clock`` must stand at its start (origin ``math.inf``) until the workers are ready; it is started here. With
    ``--respond`` the people look once per ``round_pause``, in a thread, on the running clock: the one-process
    demo's ``HeldClock`` stands still while they look and while a round runs, which a clock shared by several
    processes cannot do. Their looks are Python work in the process that also serves the simulated internet, so
    on a small machine at a high ``--speed`` they slow the crawls down (docs/deployment.md)."""
    from runner.demo import demo_summary
    from runner.workers import build_app, ensure_job_schema

    assert clock.origin == math.inf, "the demo's clock must stand at its start until the workers are ready"
    await asyncio.to_thread(ensure_job_schema, settings)
    workers = DemoWorkers(options.workers, env=env, log_dir=settings.data_dir / "demo-workers")
    app = build_app(settings)
    try:
        started = time.monotonic()
        await workers.start(mail)
        log.info("demo workers ready", extra={"pids": workers.pids, "seconds": round(time.monotonic() - started, 1)})
        async with app.open_async():
            clock.origin = time.time()
            workers.send({"clock": {"start": clock.start.isoformat(), "speed": clock.speed,
                                    "origin": clock.origin}})
            pause = options.round_pause
            while not scenario.finished(clock.now()) or (
                    people is not None and people.busy() and clock.now() < wrap_up):
                workers.check_alive()
                await _defer_schedule(app)
                if people is not None:
                    # in a thread: this loop also serves the simulated internet, which the crawls wait for
                    await asyncio.to_thread(people.act)
                await asyncio.sleep(pause)
            ended = clock.stop()
            workers.send({"stop": ended.isoformat()})
            waiting = await drain(app, rt, workers)
            log.info("demo pipeline drained", extra={"backlog": waiting})
            return demo_summary(rt)
    finally:
        await workers.stop()
