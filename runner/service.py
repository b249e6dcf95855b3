"""``yuqing run`` and ``yuqing api``: the long-running service on the real clock. Part of the composition root.

Both refuse to start with a missing or weak ``YUQING_SECRET_KEY`` and on a database the demo created, and both
bring the dashboard users in line with the org chart before serving (people who left can no longer sign in).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from sqlalchemy.orm import Session, sessionmaker

from runner.loop import HEAVY_STAGES, STAGES, StageLoops, StageProcess, favour_the_dashboard, run_stage_loops
from runner.runtime import Runtime, build_runtime
from yuqing import config_store
from yuqing.clock import Clock, SystemClock
from yuqing.db import engine_for, make_sessionmaker
from yuqing.migrate import upgrade
from yuqing.org import OrgChart, load_org
from yuqing.security import refuse_demo_database, require_secret_key
from yuqing.settings import Settings

log = logging.getLogger("yuqing.service")


async def run_service(settings: Settings, *, stage_process: bool = False) -> None:
    """Migrate, then run the pipeline's stages (each on its own loop, ``runner.loop``) and the dashboard until
    SIGINT/SIGTERM. With ``stage_process`` (``yuqing run --stage-process``) the CPU-heavy stages (crawl, ingest,
    classify, score, incidents) run in a child process of their own (``runner.loop.StageProcess``, started again
    if it dies) and this process keeps the dashboard, the schedule and delivery."""
    from api.app import create_app
    from api.server import serve_api, stop_api

    require_secret_key(settings.secret_key)
    clock = SystemClock()
    engine = engine_for(settings)
    upgrade(engine)
    classifier = None
    if stage_process:  # classification runs in the child, which loads the model; this process never classifies
        from sentiment.rules import RuleBasedClassifier

        classifier = RuleBasedClassifier()
    rt = build_runtime(settings, clock=clock, engine=engine, classifier=classifier)
    prepare_accounts(rt.session_factory, rt.org, clock=clock)
    tuning = favour_the_dashboard(rt)  # the stage threads must not starve the dashboard's loop (issue 13)
    log.info("process tuned for the dashboard", extra=tuning)
    app = create_app(settings=settings, session_factory=rt.session_factory, org=rt.org, clock=clock,
                     policy=rt.policy, sources=rt.sources)
    app.state.channel_breakers = RuntimeBreakers(rt)  # 通知渠道 shows the delivering stage's live breaker states
    stop = _stop_event()
    server = await serve_api(app, settings.api_host, settings.api_port)
    announce_dashboard(settings)
    try:
        if stage_process:
            child = StageProcess(settings)
            await asyncio.gather(child.supervise(stop), StageLoops(rt, stop).run(
                [name for name in STAGES if name not in HEAVY_STAGES]))
        else:
            await run_stage_loops(rt, stop)
    finally:
        await stop_api(server)
        engine.dispose()


class RuntimeBreakers:
    """The delivery stage's circuit breakers as the admin console reads them, followed through a configuration
    reload (which replaces ``rt.breakers`` when the delivery settings change)."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    def state(self, channel: str) -> str:
        return self.rt.breakers.state(channel) if self.rt.breakers is not None else "closed"

    def retry_in(self, channel: str) -> float:
        return self.rt.breakers.retry_in(channel) if self.rt.breakers is not None else 0.0


async def run_api_only(settings: Settings) -> None:
    from api.app import create_app
    from api.server import serve_api, stop_api
    from incidents.policy import load_policy

    require_secret_key(settings.secret_key)
    clock = SystemClock()
    engine = engine_for(settings)
    upgrade(engine)
    session_factory = make_sessionmaker(engine)
    with session_factory() as session:  # documents saved in the admin console win over the files
        effective, _ = config_store.effective_settings(session, settings)
    org = load_org(effective.org_path)
    prepare_accounts(session_factory, org, clock=clock)
    app = create_app(settings=settings, session_factory=session_factory, org=org,
                     clock=clock, policy=load_policy(effective.levels_path, effective.checklists_path))
    stop = _stop_event()
    server = await serve_api(app, settings.api_host, settings.api_port)
    announce_dashboard(settings)
    try:
        await stop.wait()
    finally:
        await stop_api(server)


def announce_dashboard(settings: Settings) -> None:
    """The one line a person starting the service looks for: where to open the dashboard (stdout, flushed)."""
    from yuqing.listen import dashboard_url

    url = dashboard_url(settings.api_host, settings.api_port)
    print(f"仪表盘: {url}", flush=True)
    log.info("yuqing running", extra={"url": url})


def prepare_accounts(session_factory: sessionmaker[Session], org: OrgChart, *, clock: Clock) -> None:
    """Refuse a demo database, then deactivate the users of people who left the org chart (logged)."""
    from api.users import sync_with_org

    with session_factory() as session:
        refuse_demo_database(session, where=str(session.get_bind().url.render_as_string(hide_password=True)))
        report = sync_with_org(session, org, clock=clock)
        session.commit()
    if report.deactivated:
        log.warning("users deactivated: no longer in the org chart", extra={"count": len(report.deactivated)})


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
