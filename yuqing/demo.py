"""``yuqing demo``: the simulated internet, the whole pipeline and the dashboard in one process, on one clock.

The sim and the pipeline share a ``ScaledClock`` so that the scripted crisis (simulated hours) and the incident
clocks (minutes to acknowledge, hours to report) stay consistent at any ``--speed``. Part of the composition root.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from yuqing.clock import ScaledClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.migrate import upgrade
from yuqing.runtime import Runtime, build_runtime, run_round
from yuqing.security import claim_for_demo, random_secret_key, secret_key_problem
from yuqing.settings import Settings

log = logging.getLogger("yuqing.demo")

DEMO_PASSWORD = "yuqing-demo"
DEMO_WEIBO_TOKEN = "sim-weibo-token"


@dataclass
class DemoOptions:
    speed: float = 120.0
    headless: bool = False
    reset: bool = True
    round_pause: float = 0.2  # wall seconds between pipeline rounds


async def run_demo(settings: Settings, options: DemoOptions, *, announce=None) -> dict:
    """Play the scenario to its end; serve the dashboard unless headless. Returns the summary."""
    if announce is None:
        def announce(line: str) -> None:
            print(line, flush=True)
    from api.app import create_app
    from api.server import serve_api, stop_api
    from api.users import seed_users
    from sim.demo_sources import DEMO_SOURCES_FILE, demo_source_ids, demo_source_variables
    from sim.scenario import build_scenario
    from sim.server import SimServer

    db_path = settings.data_dir / "demo.db"
    if options.reset:
        _remove_sqlite(db_path)
    settings = settings.model_copy(update={"database_url": settings.database_url or f"sqlite:///{db_path}"})
    if secret_key_problem(settings.secret_key) is not None:
        # The demo's sessions live as long as the process: a fresh random key, never a shared default.
        settings = settings.model_copy(update={"secret_key": random_secret_key()})
    # The demo crawls the sim's own sources file and opts them in, by id, to the one private host:port they name.
    settings = settings.model_copy(update={"sources_file": DEMO_SOURCES_FILE,
                                           "allow_private_sources": demo_source_ids()})
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    clock = ScaledClock(start, options.speed)
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            # Refuses a database holding anything but an earlier demo: the demo writes simulated articles and
            # users whose password is printed in the README.
            claim_for_demo(session, clock=clock, where=engine.url.render_as_string(hide_password=True))
    except BaseException:
        engine.dispose()
        raise
    scenario = build_scenario(start)
    sim = SimServer(clock, scenario, weibo_token=DEMO_WEIBO_TOKEN)
    await sim.start()
    os.environ.setdefault("YUQING_WEIBO_TOKEN", DEMO_WEIBO_TOKEN)
    rt = build_runtime(settings, clock=clock, source_vars=demo_source_variables(sim.host, sim.port), engine=engine)
    # The sim is ours and local: no politeness delay, quick retries (real sources keep the defaults).
    rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "YUQING_RETRY_BACKOFF": 0.05}
    # Email is on in the demo: real SMTP to a local sink (nothing leaves the machine); /outbox shows what was sent.
    from incidents.notify import default_senders, with_email_relay
    from sim.mailsink import MailSink

    mail_sink = MailSink(directory=settings.data_dir / "demo-mail").start()
    rt.policy = with_email_relay(rt.policy, mail_sink.host, mail_sink.port)
    rt.senders = default_senders(rt.policy, settings)
    with rt.session_factory() as session:
        # The demo's logins keep the published demo password (no forced change): the database is a throwaway.
        users = seed_users(session, rt.org, password=DEMO_PASSWORD, clock=clock, must_change=False)
        session.commit()
    api_server = None
    if not options.headless:
        app = create_app(settings=settings, session_factory=rt.session_factory, org=rt.org, clock=clock,
                         policy=rt.policy, sources=rt.sources)
        api_server = await serve_api(app, settings.api_host, settings.api_port)
        url = f"http://{settings.api_host}:{settings.api_port}"
        announce(f"仪表盘 / dashboard: {url}")
        announce(f"模拟互联网 / simulated internet: {sim.base_url}")
        announce(f"演示账号 / demo logins (密码 password: {DEMO_PASSWORD}):")
        for u in users:
            announce(f"  {u.login:<10} {u.name}  {','.join(u.roles)}  ({u.unit_id})")
        announce(f"邮件 / email: smtp://{mail_sink.host}:{mail_sink.port}（本地收件箱，发送记录见 {url}/outbox，"
                 f"邮件另存于 {settings.data_dir / 'demo-mail'}）")
        announce(f"场景时长 {scenario.duration}，加速 {options.speed:g} 倍；Ctrl-C 退出")
    try:
        while not scenario.finished(clock.now()):
            report = await run_round(rt)
            for err in report.errors:
                log.warning("crawl error", extra={"error": err})
            await asyncio.sleep(options.round_pause)
        await run_round(rt)  # one last pass over what the final minutes published
        summary = demo_summary(rt)
        if api_server is not None:
            announce("场景已结束，仪表盘继续运行；Ctrl-C 退出")
            await asyncio.Event().wait()
        return summary
    finally:
        if api_server is not None:
            await stop_api(api_server)
        await sim.stop()
        mail_sink.stop()
        engine.dispose()


def demo_summary(rt: Runtime) -> dict:
    """The counts the headless demo prints as its last line (a stable, machine-read shape)."""
    from crawlers.models import Article, Mention, Story
    from incidents.models import Alert, Incident, Notification, Task

    with rt.session_factory() as session:
        def count(model) -> int:
            return session.scalar(select(func.count()).select_from(model)) or 0

        incidents = []
        for inc in session.scalars(select(Incident).order_by(Incident.id)):
            tasks = session.scalar(select(func.count()).select_from(Task).where(Task.incident_id == inc.id)) or 0
            incidents.append({"id": inc.id, "level": inc.level, "unit": inc.unit_id, "tasks": tasks})
        return {"articles": count(Article), "mentions": count(Mention), "stories": count(Story),
                "alerts": count(Alert), "incidents": incidents, "notifications": count(Notification)}


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.unlink()
    shutil.rmtree(path.parent / "demo-snapshots", ignore_errors=True)
