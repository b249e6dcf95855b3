"""``python -m bench dashboard-latency``: how the dashboard answers while the pipeline works, before and after.

One run measures both ways of running the pipeline in the same process as the dashboard, each on a fresh SQLite
database and the same local news site (an RSS feed of ``--articles`` pages about a withdrawal refused at the bank's
outlet, so every page is matched, classified, scored and alerted on):

- **before**: the sequential round (``runner.runtime.run_pipeline``), every stage's database and model work on the
  event loop that serves the dashboard (what ``yuqing run`` did);
- **after**: the stage loops of ``yuqing run`` today (``runner.loop``), blocking steps in worker threads.

A client thread asks for ``/healthz`` and the login page in turn, one request at a time, from the moment the
pipeline starts until every article is scored and the alert's messages are delivered (or ``--timeout``), after one
warm-up request to each. Reported:
requests, p50 / p95 / p99 / max in ms, and how long the pipeline took. The classifier is the rule baseline unless
a model is installed (``YUQING_MODEL_DIR``); with the transformer the loop does more CPU work per article.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.common import cpu_model, nearest_rank, say

RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "bench-dashboard-latency-8Jd3Lq7Wm2Xc5Vb9Nz4Rt1Kp6Gf"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(base: str, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        paths = ["/healthz", "/login"]
        n = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            with contextlib.suppress(httpx.HTTPError):
                client.get(paths[n % 2])
            latencies.append((time.perf_counter() - t0) * 1000)
            n += 1
            time.sleep(0.02)


async def _measure(mode: str, articles: int, timeout: float) -> dict:
    from api.app import create_app
    from api.server import serve_api, stop_api
    from runner.loop import StageLoops
    from runner.runtime import build_runtime, run_pipeline
    from tests.core.workers_site import Site
    from yuqing.clock import SystemClock
    from yuqing.db import engine_for
    from yuqing.migrate import upgrade
    from yuqing.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix=f"yq-bench-{mode}-"))
    site = Site(articles=articles).start()
    (tmp / "sources.yaml").write_text(site.sources_yaml(), encoding="utf-8")
    settings = Settings(data_dir=tmp, secret_key=SECRET, sources_file=tmp / "sources.yaml",
                        allow_private_sources=["jcwb"], database_url=f"sqlite:///{tmp / 'y.db'}")
    engine = engine_for(settings)
    upgrade(engine)
    clock = SystemClock()
    rt = build_runtime(settings, clock=clock, engine=engine)
    rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "LOG_LEVEL": "ERROR"}
    rt.evidence_config = None
    app = create_app(settings=settings, session_factory=rt.session_factory, org=rt.org, clock=clock,
                     policy=rt.policy, sources=rt.sources)
    port = _free_port()
    server = await serve_api(app, "127.0.0.1", port)
    latencies: list[float] = []
    client_stop = threading.Event()
    client = threading.Thread(target=_client, args=(f"http://127.0.0.1:{port}", client_stop, latencies))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as warm:  # first-use costs
        for path in ("/healthz", "/login"):  # (imports, template compilation) belong to neither way
            await warm.get(path)
    stop = asyncio.Event()
    t0 = time.perf_counter()
    client.start()
    pipeline = asyncio.create_task(run_pipeline(rt, stop, idle_seconds=1.0) if mode == "before"
                                   else StageLoops(rt, stop).run())

    def done() -> bool:
        with engine.connect() as conn:
            scored = conn.execute(text("SELECT count(*) FROM articles WHERE stage = 'scored'")).scalar_one()
            sent = conn.execute(text("SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id "
                                     "WHERE n.status = 'sent'")).scalar_one()
        return scored >= articles and sent > 0

    finished = False
    while time.perf_counter() - t0 < timeout:
        await asyncio.sleep(0.5)
        if await asyncio.to_thread(done):
            finished = True
            break
    took = time.perf_counter() - t0
    client_stop.set()
    await asyncio.to_thread(client.join)
    stop.set()
    await pipeline
    await stop_api(server)
    site.stop()
    engine.dispose()
    ordered = sorted(latencies)
    return {"mode": mode, "articles": articles, "finished": finished, "pipeline_seconds": round(took, 1),
            "requests": len(ordered), "p50_ms": round(nearest_rank(ordered, 50), 1),
            "p95_ms": round(nearest_rank(ordered, 95), 1), "p99_ms": round(nearest_rank(ordered, 99), 1),
            "max_ms": round(ordered[-1], 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dashboard-latency", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100, help="pages on the local news site (default 100)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each pipeline")
    args = parser.parse_args(argv)
    rows = []
    for mode in ("before", "after"):
        say(f"dashboard-latency: {mode} ({args.articles} articles)…")
        rows.append(asyncio.run(_measure(mode, args.articles, args.timeout)))
    print(f"dashboard latency while the pipeline works ({cpu_model()}; /healthz and /login, one at a time)")
    print("| pipeline | articles | done | pipeline s | requests | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['articles']} | {'yes' if r['finished'] else 'no'} | {r['pipeline_seconds']} | "
              f"{r['requests']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboard_latency.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
