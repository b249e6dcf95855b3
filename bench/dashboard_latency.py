"""``python -m bench dashboard-latency``: how the dashboard answers while ``yuqing run``'s pipeline works.

Each mode runs the pipeline in the same process as the dashboard, on a fresh SQLite database and the same local
news site (an RSS feed of ``--articles`` pages about a withdrawal refused at the bank's outlet, so every page is
matched, classified, scored and alerted on). Modes (``--modes``, default ``loops run``):

- **round**: the sequential round (``runner.runtime.run_pipeline``), every stage's database and model work on the
  event loop that serves the dashboard (what ``yuqing run`` did first);
- **loops**: the stage loops (``runner.loop``), blocking steps in worker threads, the process left as Python sets
  it up (a 5 ms GIL switch interval, the classifier's default threads): ``yuqing run`` before issue 13's tuning;
- **run**: the stage loops with the process tuned exactly as ``yuqing run`` tunes it (``runner.loop.favour_the_
  dashboard``: a shorter GIL switch interval, the step threads nicer than the dashboard's, the model's inference on
  fewer threads);
- **split**: ``yuqing run --stage-process``: crawl, ingest, classify, score and incidents in a nice child process
  (``runner.loop.StageProcess``, its start-up included in the pipeline's time and reported), the rest here, tuned
  as ``run``.

Per mode, a client in a **separate process** (so its own Python never competes with the server's for the GIL) asks
for ``/healthz`` and the login page in turn, one request at a time with a 20 ms pause, first for ``--idle-seconds``
against the idle server (after one warm-up request to each: imports and template compilation belong to no phase),
which is the floor on this machine at this moment, then from the moment the pipeline starts until every article is
scored and the alert's messages are delivered (or ``--timeout``). Reported per phase: requests, p50 / p95 / p99 /
max in ms; the ratio of the busy p99 to the idle p99; how long the pipeline took; the event loop's lag (a 10 ms
sleep's overshoot, p99 / max); the load average before and after; and which classifier ran (the shipped model,
as ``yuqing run`` loads it, unless ``--rules``).

``--debug-slow MS`` turns on asyncio's debug mode and lists the callbacks and tasks that held the dashboard's loop
for longer than MS (a diagnosis aid: debug mode itself slows the loop, so its latencies are not comparable).
``--switch-interval``, ``--model-threads`` and ``--step-nice`` override the ``run`` and ``split`` modes' tuning,
``--process-nice`` the child's nice value, to measure other choices. Results: ``--out`` (default
``bench/results/dashboard_latency.json``); docs/benchmarks.md has the figures and the command for a quiet machine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import text

from bench.common import cpu_model, nearest_rank, say

RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "bench-dashboard-latency-8Jd3Lq7Wm2Xc5Vb9Nz4Rt1Kp6Gf"
MODES = ("round", "loops", "run", "split")
PAUSE_S = 0.02  # between the client's requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client_process(base: str, stop, conn) -> None:
    """The client, in a process of its own: one request at a time until ``stop`` is set; sends back the latencies
    (ms) and how many requests failed or did not answer 200."""
    import httpx

    latencies: list[float] = []
    failed = 0
    with httpx.Client(base_url=base, timeout=30) as client:
        paths = ["/healthz", "/login"]
        n = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                ok = client.get(paths[n % 2]).status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - t0) * 1000)
            failed += not ok
            n += 1
            time.sleep(PAUSE_S)
    conn.send((latencies, failed))
    conn.close()


class Client:
    """Start the client process; ``stop()`` returns what it measured."""

    def __init__(self, base: str) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self.stop_event = ctx.Event()
        self.receive, send = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_client_process, args=(base, self.stop_event, send), daemon=True)
        self.process.start()

    async def stop(self) -> tuple[list[float], int]:
        self.stop_event.set()
        result = await asyncio.to_thread(self.receive.recv)
        await asyncio.to_thread(self.process.join, 10)
        return result


async def _wait_ready(base: str) -> None:
    """Wait until the client process has answered once (spawning it imports Python afresh: not a measurement)."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=60) as warm:
        for path in ("/healthz", "/login"):
            await warm.get(path)


class LagProbe:
    """How late the dashboard's loop wakes from a 10 ms sleep: what any request waits before the loop looks at it."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _probe(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append((time.perf_counter() - t0 - 0.01) * 1000)

    def start(self) -> None:
        self.lags.clear()
        self.task = asyncio.create_task(self._probe())

    async def stop(self) -> list[float]:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        return sorted(self.lags)


class SlowCallbacks(logging.Handler):
    """Collects asyncio debug mode's "Executing <handle> took N seconds" warnings, keyed by the handle without its
    addresses, so the same callback seen many times is counted once."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter[str] = Counter()
        self.worst: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if not record.msg.startswith("Executing") or len(record.args or ()) < 2:
            return
        handle, took = record.args[0], float(record.args[1])  # type: ignore[index]
        key = re.sub(r" at 0x[0-9a-f]+", "", repr(handle))[:300]
        self.seen[key] += 1
        self.worst[key] = max(self.worst.get(key, 0.0), took)


def _stats(values: list[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    if not ordered:
        return {"requests": 0}
    return {"requests": len(ordered), "p50_ms": round(nearest_rank(ordered, 50), 1),
            "p95_ms": round(nearest_rank(ordered, 95), 1), "p99_ms": round(nearest_rank(ordered, 99), 1),
            "max_ms": round(ordered[-1], 1)}


async def _measure(mode: str, args: argparse.Namespace, classifier) -> dict:
    from api.app import create_app
    from api.server import serve_api, stop_api
    from runner.loop import HEAVY_STAGES, STAGES, StageLoops, StageProcess, favour_the_dashboard
    from runner.runtime import build_runtime, run_pipeline
    from tests.core.workers_site import Site
    from yuqing.clock import SystemClock
    from yuqing.db import engine_for
    from yuqing.migrate import upgrade
    from yuqing.settings import Settings

    loop = asyncio.get_running_loop()
    slow = None
    if args.debug_slow:
        loop.slow_callback_duration = args.debug_slow / 1000
        slow = SlowCallbacks()
        logging.getLogger("asyncio").addHandler(slow)
    switch_before = sys.getswitchinterval()
    tmp = Path(tempfile.mkdtemp(prefix=f"yq-bench-{mode}-"))
    site = Site(articles=args.articles).start()
    (tmp / "sources.yaml").write_text(site.sources_yaml(), encoding="utf-8")
    settings = Settings(data_dir=tmp, secret_key=SECRET, sources_file=tmp / "sources.yaml",
                        allow_private_sources=["jcwb"], database_url=f"sqlite:///{tmp / 'y.db'}")
    engine = engine_for(settings)
    upgrade(engine)
    clock = SystemClock()
    rt = build_runtime(settings, clock=clock, engine=engine, classifier=classifier)
    rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "LOG_LEVEL": "ERROR"}
    rt.evidence_config = None
    tuning: dict[str, object] = {}
    if mode in ("run", "split"):
        tuning = favour_the_dashboard(rt, switch_interval=args.switch_interval, model_threads=args.model_threads,
                                      step_nice=args.step_nice)
    app = create_app(settings=settings, session_factory=rt.session_factory, org=rt.org, clock=clock,
                     policy=rt.policy, sources=rt.sources)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = await serve_api(app, "127.0.0.1", port)
    await _wait_ready(base)  # first-use costs (imports, template compilation) belong to neither phase
    probe = LagProbe()

    # the floor: the same client against the idle server
    client = Client(base)
    await asyncio.sleep(1.0)  # the spawned client imports httpx before its first request
    probe.start()
    await asyncio.sleep(args.idle_seconds)
    idle, idle_failed = await client.stop()
    idle = idle[1:]  # the client's own first request (its connection set-up) is not the server's latency
    idle_lag = await probe.stop()

    load_before = os.getloadavg()
    client = Client(base)
    await asyncio.sleep(1.0)
    stop = asyncio.Event()
    probe.start()
    t0 = time.perf_counter()
    if mode == "round":
        pipeline = asyncio.create_task(run_pipeline(rt, stop, idle_seconds=1.0))
    elif mode == "split":  # the heavy stages in a process of their own, the rest beside the dashboard
        stage_process = StageProcess(settings, crawl_overrides=rt.crawl_overrides, nice=args.process_nice)
        pipeline = asyncio.gather(stage_process.supervise(stop), StageLoops(rt, stop).run(
            [name for name in STAGES if name not in HEAVY_STAGES]))
    else:
        pipeline = asyncio.create_task(StageLoops(rt, stop).run())

    def done() -> bool:
        with engine.connect() as conn:
            scored = conn.execute(text("SELECT count(*) FROM articles WHERE stage = 'scored'")).scalar_one()
            sent = conn.execute(text("SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id "
                                     "WHERE n.status = 'sent'")).scalar_one()
        return scored >= args.articles and sent > 0

    finished = False
    startup = None
    while time.perf_counter() - t0 < args.timeout:
        await asyncio.sleep(0.5)
        if mode == "split" and startup is None and stage_process.ready is not None and stage_process.ready.is_set():
            startup = time.perf_counter() - t0  # (to within the half second of this poll)
        if await asyncio.to_thread(done):
            finished = True
            break
    took = time.perf_counter() - t0
    busy, busy_failed = await client.stop()
    busy = busy[1:]
    busy_lag = await probe.stop()
    load_after = os.getloadavg()
    stop.set()
    await pipeline
    await stop_api(server)
    site.stop()
    engine.dispose()
    sys.setswitchinterval(switch_before)
    if slow is not None:
        logging.getLogger("asyncio").removeHandler(slow)
    row = {"mode": mode, "articles": args.articles, "finished": finished, "pipeline_seconds": round(took, 1),
           "stage_process_ready_seconds": None if startup is None else round(startup, 1),
           "classifier": getattr(rt.classifier, "name", type(rt.classifier).__name__),
           "classifier_type": type(rt.classifier).__name__, "tuning": tuning,
           "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in load_after],
           "idle": {**_stats(idle), "failed": idle_failed}, "busy": {**_stats(busy), "failed": busy_failed},
           "idle_loop_lag": {k: v for k, v in _stats(idle_lag).items() if k != "requests"},
           "busy_loop_lag": {k: v for k, v in _stats(busy_lag).items() if k != "requests"},
           "debug": bool(args.debug_slow)}
    if idle and busy:
        row["p99_ratio"] = round(row["busy"]["p99_ms"] / max(row["idle"]["p99_ms"], 0.1), 1)
    if slow is not None:
        row["slow_callbacks"] = [{"handle": k, "count": n, "worst_s": round(slow.worst[k], 3)}
                                 for k, n in slow.seen.most_common(15)]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dashboard-latency", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100, help="pages on the local news site (default 100)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each pipeline")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["loops", "run"],
                        help="which pipelines to measure, in this order (default: loops run)")
    parser.add_argument("--idle-seconds", type=float, default=10.0,
                        help="how long to measure the idle server first (default 10)")
    parser.add_argument("--rules", action="store_true",
                        help="use the rule baseline instead of the shipped model (yuqing run loads the model)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="the run mode's GIL switch interval in seconds (default: yuqing run's)")
    parser.add_argument("--model-threads", type=int, default=None,
                        help="the run mode's inference threads (default: yuqing run's)")
    parser.add_argument("--step-nice", type=int, default=None,
                        help="the run mode's niceness of the step threads over the dashboard's (default: yuqing run's)")
    parser.add_argument("--process-nice", type=int, default=10,
                        help="the split mode's niceness of the stage process (default 10)")
    parser.add_argument("--debug-slow", type=float, default=0.0, metavar="MS",
                        help="asyncio debug mode: list callbacks holding the loop longer than MS (slows the loop)")
    parser.add_argument("--out", type=Path, default=RESULTS / "dashboard_latency.json",
                        help="where to write the results (JSON)")
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)  # a single mode, in this process
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.one:
        from sentiment.batch import choose_classifier

        classifier = choose_classifier(rules=True) if args.rules else None  # None: loaded as yuqing run loads it
        row = asyncio.run(_measure(args.one, args, classifier), debug=bool(args.debug_slow))
        print(json.dumps(row, ensure_ascii=False))
        return 0
    rows = []
    for mode in args.modes:  # each in a fresh process: the crawl's reactor, thread priorities and the GIL
        say(f"dashboard-latency: {mode} ({args.articles} articles, {'rules' if args.rules else 'the shipped model'})…")
        done = subprocess.run([sys.executable, "-m", "bench", "dashboard-latency", "--one", mode,
                               *(argv if argv is not None else sys.argv[1:])],
                              stdout=subprocess.PIPE, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        say(json.dumps(rows[-1], ensure_ascii=False))
    print(f"dashboard latency while the pipeline works ({cpu_model()}, {os.cpu_count()} CPUs; /healthz and /login "
          f"one at a time from another process; classifier {rows[0]['classifier']})")
    print("| mode | articles | done | pipeline s | load before → after | idle requests | idle p50 / p95 / p99 / max ms"
          " | busy requests | busy p50 / p95 / p99 / max ms | busy p99 ÷ idle p99 | loop lag p99 / max ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        i, b, lag = r["idle"], r["busy"], r["busy_loop_lag"]
        started = r.get("stage_process_ready_seconds")
        took = f"{r['pipeline_seconds']}" + (f" (stage process ready at {started})" if started is not None else "")
        print(f"| {r['mode']} | {r['articles']} | {'yes' if r['finished'] else 'no'} | {took} | "
              f"{r['load_before'][0]} → {r['load_after'][0]} | {i['requests']} | "
              f"{i.get('p50_ms')} / {i.get('p95_ms')} / {i.get('p99_ms')} / {i.get('max_ms')} | {b['requests']} | "
              f"{b.get('p50_ms')} / {b.get('p95_ms')} / {b.get('p99_ms')} / {b.get('max_ms')} | "
              f"{r.get('p99_ratio')} | {lag.get('p99_ms')} / {lag.get('max_ms')} |")
    for r in rows:
        if r.get("tuning"):
            print(f"{r['mode']}: {r['tuning']}")
        for s in r.get("slow_callbacks", []):
            print(f"{r['mode']} slow callback ×{s['count']} (worst {s['worst_s']} s): {s['handle']}")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
