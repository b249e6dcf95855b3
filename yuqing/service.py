"""``yuqing run`` and ``yuqing api``: the long-running service on the real clock. Part of the composition root."""

from __future__ import annotations

import asyncio
import logging
import signal

from yuqing.clock import SystemClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.migrate import upgrade
from yuqing.org import load_org
from yuqing.runtime import build_runtime, run_pipeline
from yuqing.settings import Settings

log = logging.getLogger("yuqing.service")


async def run_service(settings: Settings) -> None:
    """Migrate, then run the pipeline loop and the dashboard until SIGINT/SIGTERM."""
    from api.app import create_app
    from api.server import serve_api, stop_api

    clock = SystemClock()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    rt = build_runtime(settings, clock=clock, engine=engine)
    app = create_app(settings=settings, session_factory=rt.session_factory, org=rt.org, clock=clock,
                     policy=rt.policy, sources=rt.sources)
    stop = _stop_event()
    server = await serve_api(app, settings.api_host, settings.api_port)
    log.info("yuqing running", extra={"url": f"http://{settings.api_host}:{settings.api_port}"})
    try:
        await run_pipeline(rt, stop, idle_seconds=5.0)
    finally:
        await stop_api(server)
        engine.dispose()


async def run_api_only(settings: Settings) -> None:
    from api.app import create_app
    from api.server import serve_api, stop_api
    from incidents.policy import load_policy

    clock = SystemClock()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    app = create_app(settings=settings, session_factory=make_sessionmaker(engine), org=load_org(settings.org_path),
                     clock=clock, policy=load_policy(settings.levels_path, settings.checklists_path))
    stop = _stop_event()
    server = await serve_api(app, settings.api_host, settings.api_port)
    try:
        await stop.wait()
    finally:
        await stop_api(server)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
