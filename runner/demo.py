"""``yuqing demo``: the simulated internet, the whole pipeline and the dashboard in one process, on one clock.

The sim and the pipeline share a ``ScaledClock`` so that the scripted crisis (simulated hours) and the incident
clocks (minutes to acknowledge, hours to report) stay consistent at any ``--speed``. Part of the composition root.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import os
import shlex
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import func, select

from runner.runtime import Runtime, build_runtime, run_round
from yuqing.clock import ScaledClock
from yuqing.db import engine_for, make_sessionmaker
from yuqing.migrate import upgrade
from yuqing.security import claim_for_demo, random_secret_key, secret_key_problem
from yuqing.settings import Settings

if TYPE_CHECKING:
    from runner.demo_people import DemoPeople
    from sim.scenario import Scenario

log = logging.getLogger("yuqing.demo")

DEMO_PASSWORD = "yuqing-demo"
DEMO_WEIBO_TOKEN = "sim-weibo-token"
# The sim is ours and local: no politeness delay, quick retries (real sources keep the defaults).
DEMO_CRAWL_OVERRIDES: dict[str, object] = {"DOWNLOAD_DELAY": 0, "YUQING_RETRY_BACKOFF": 0.05}


@dataclass
class DemoOptions:
    speed: float = 120.0
    headless: bool = False
    reset: bool = True
    round_pause: float = 0.2  # wall seconds between pipeline rounds
    respond: bool = False  # the commander, legal and a leader act too (runner.demo_people)
    workers: int = 0  # >0: this many `yuqing worker` processes per stage group run the stages (runner.demo_workers)


class DemoClock(ScaledClock):
    """The demo's ``ScaledClock``, which can be stopped for good: when the script is over, simulated time stands
    at the moment it ended, so the dashboard keeps showing the crisis as it stood then instead of every clock
    running hours overdue and every source turning silent while nothing is scripted any more."""

    _stopped_at: datetime | None = None

    def now(self) -> datetime:
        return self._stopped_at if self._stopped_at is not None else super().now()

    def stop(self, at: datetime | None = None) -> datetime:
        """Stop simulated time where it is now (or at ``at``: the instant the demo stopped at, in its workers);
        returns that instant."""
        if self._stopped_at is None:
            self._stopped_at = at if at is not None else self.now()
        return self._stopped_at

    @property
    def stopped(self) -> bool:
        return self._stopped_at is not None


class HeldClock(DemoClock):
    """A ``ScaledClock`` that runs only when released: with ``--respond`` simulated time moves only while the demo
    waits between the people's looks at the product, and stands still while the demo starts (loading the model)
    and while a pipeline round runs — so at a high ``--speed`` neither swallows the simulated minutes the story
    and the people need. It starts held."""

    def __init__(self, start: datetime, speed: float = 1.0):
        super().__init__(start, speed)
        self._held_since: float | None = self._t0
        self._held_total = 0.0

    def hold(self) -> None:
        if self._held_since is None:
            self._held_since = time.monotonic()

    def release(self) -> None:
        if self._held_since is not None:
            self._held_total += time.monotonic() - self._held_since
            self._held_since = None

    def now(self) -> datetime:
        if self._stopped_at is not None:
            return self._stopped_at
        t = self._held_since if self._held_since is not None else time.monotonic()
        return self.start + timedelta(seconds=(t - self._t0 - self._held_total) * self.speed)


async def run_demo(settings: Settings, options: DemoOptions, *, announce=None) -> dict:
    """Play the scenario to its end; serve the dashboard unless headless. Returns the summary."""
    if announce is None:
        def announce(line: str) -> None:
            print(line, flush=True)
    from api.app import create_app
    from api.server import serve_api, stop_api
    from api.users import seed_users
    from sim.demo_sources import DEMO_SOURCES_FILE, demo_source_ids, demo_source_variables
    from sim.robots import DEFAULT_DINGTALK_SECRET, DEFAULT_DINGTALK_TOKEN, DEFAULT_FEISHU_SECRET, DEFAULT_FEISHU_TOKEN
    from sim.scenario import build_scenario
    from sim.server import DEFAULT_ROBOT_KEY, SimServer

    db_path = settings.data_dir / "demo.db"
    own_file = None if settings.database_url else db_path
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
    # Simulated time stands at ``start`` (origin: never) until the pipeline is ready to run: starting (the model,
    # the sim, with --workers the worker processes) takes seconds, which at --speed 1500 would be hours of the story
    # gone before the first poll. --workers shares the clock with the workers by this wall-clock origin.
    clock: DemoClock = HeldClock(start, options.speed) if options.respond and not options.workers else DemoClock(
        start, options.speed, origin=math.inf)
    engine = engine_for(settings)
    try:
        if options.workers:
            from runner.demo_workers import require_postgresql

            require_postgresql(settings)
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            # Refuses a database holding anything but an earlier demo: the demo writes simulated articles and
            # users whose password is printed in the README.
            claim_for_demo(session, clock=clock, where=engine.url.render_as_string(hide_password=True))
    except BaseException:
        engine.dispose()
        raise
    for line in database_lines(engine.url.render_as_string(hide_password=True), own_file=own_file):
        announce(line)
    scenario = build_scenario(start)
    sim = SimServer(clock, scenario, weibo_token=DEMO_WEIBO_TOKEN)
    await sim.start()
    os.environ.setdefault("YUQING_WEIBO_TOKEN", DEMO_WEIBO_TOKEN)
    classifier = None
    if options.workers:  # the workers classify; this process needs no model (the rule baseline stands in)
        from sentiment.batch import choose_classifier

        classifier = choose_classifier(None, rules=True, errors=io.StringIO())
    rt = build_runtime(settings, clock=clock, source_vars=demo_source_variables(sim.host, sim.port), engine=engine,
                       classifier=classifier)
    # Email is on in the demo: real SMTP to a local sink (nothing leaves the machine); /outbox shows what was sent.
    from sim.mailsink import MailSink

    mail_sink = MailSink(directory=settings.data_dir / "demo-mail").start()
    # Group robots too — WeCom, DingTalk (加签) and Feishu (签名校验) — posting to the sim's own robot endpoints,
    # which check the platforms' signatures (config/channels.yaml keeps them off; secrets come from the environment).
    c = rt.policy.channels.channels
    robot_vars = {c.wecom.url_env: f"{sim.base_url}/wecom/cgi-bin/webhook/send?key={DEFAULT_ROBOT_KEY}",
                  c.dingtalk.url_env: f"{sim.base_url}/dingtalk/robot/send?access_token={DEFAULT_DINGTALK_TOKEN}",
                  c.dingtalk.secret_env: DEFAULT_DINGTALK_SECRET,
                  c.feishu.url_env: f"{sim.base_url}/feishu/open-apis/bot/v2/hook/{DEFAULT_FEISHU_TOKEN}",
                  c.feishu.secret_env: DEFAULT_FEISHU_SECRET}
    wire_demo_pipeline(rt, mail=(mail_sink.host, mail_sink.port), env={**os.environ, **robot_vars})
    with rt.session_factory() as session:
        # The demo's logins keep the published demo password (no forced change): the database is a throwaway, so
        # one argon2 hash serves every login (hashing it per user took 2.4 s of CPU at each start).
        users = seed_users(session, rt.org, password=DEMO_PASSWORD, clock=clock, must_change=False, one_hash=True)
        session.commit()
    api_server = None
    if not options.headless:
        app = create_app(settings=settings, session_factory=rt.session_factory, org=rt.org, clock=clock,
                         policy=rt.policy, sources=rt.sources)
        app.state.robot_received = sim.app.state.robot_received  # 发送记录 shows what each robot received
        api_server = await serve_api(app, settings.api_host, settings.api_port)
        from yuqing.listen import dashboard_url

        url = dashboard_url(settings.api_host, settings.api_port).rstrip("/")
        announce(f"仪表盘: {url}/")
        announce(f"模拟互联网 / simulated internet: {sim.base_url}")
        announce(f"演示账号 / demo logins (密码 password: {DEMO_PASSWORD}):")
        for u in users:
            announce(f"  {u.login:<10} {u.name}  {','.join(u.roles)}  ({u.unit_id})")
        announce(f"邮件 / email: smtp://{mail_sink.host}:{mail_sink.port}（本地收件箱，发送记录见 {url}/outbox，"
                 f"邮件另存于 {settings.data_dir / 'demo-mail'}）")
        announce(f"群机器人 / chat robots: 企业微信 {sim.base_url}/wecom/cgi-bin/webhook/send，"
                 f"钉钉 {sim.base_url}/dingtalk/robot/send，飞书 {sim.base_url}/feishu/open-apis/bot/v2/hook/…"
                 f"（收到的消息见 {url}/outbox）")
        if options.respond:
            announce("--respond：刘强（应急处置负责人）、钱宇（法律合规）、陈静（分行领导）、王敏（综合管理部值班）、"
                     "黄伟（新华路网点负责人）将按流程自动处置事件")
        announce(f"场景时长 {scenario.duration}，加速 {options.speed:g} 倍；Ctrl-C 退出")
    people = None
    if options.respond:
        from runner.demo_people import DemoPeople

        truth = scenario.ground_truth()  # what a person reading a post would conclude (the sim's ground truth)
        people = DemoPeople(session_factory=rt.session_factory, org=rt.org, policy=rt.policy, clock=clock,
                            templates_path=settings.config_dir / "statements.yaml", tz=settings.timezone,
                            truth_of=lambda url: truth.get(urlsplit(url).path))
    # With --respond the office wraps the case up after the story ends (close, 终报, 复盘): at most this long.
    wrap_up = scenario.end + timedelta(hours=8)
    try:
        if options.workers:
            from runner.demo_workers import play_with_workers

            env = {**os.environ, **robot_vars, **demo_worker_environment(settings, sim.host, sim.port)}
            summary = await play_with_workers(settings, rt, clock, options, scenario=scenario, people=people,
                                              wrap_up=wrap_up, env=env, mail=(mail_sink.host, mail_sink.port))
        else:
            summary = await _play_in_process(rt, clock, options, scenario=scenario, people=people, wrap_up=wrap_up)
        if api_server is not None:
            ended = clock.stop()
            announce(script_over_line(ended, settings.tz))
            app.state.demo_notice = script_over_line(ended, settings.tz).removesuffix("Ctrl-C 退出").rstrip("。")
            while True:  # no more polling; what people do on the dashboard is still delivered (by this process)
                await run_round(rt, crawl=False)
                await asyncio.sleep(max(1.0, options.round_pause))
        return summary
    finally:
        if api_server is not None:
            await stop_api(api_server)
        await sim.stop()
        mail_sink.stop()
        engine.dispose()


async def _play_in_process(rt: Runtime, clock: DemoClock, options: DemoOptions, *, scenario: Scenario,
                           people: DemoPeople | None, wrap_up: datetime) -> dict:
    """The one-process demo: pipeline rounds in this process until the script (and, with ``--respond``, the
    people's work) is over, one last round, and the summary."""
    if clock.origin == math.inf:
        clock.origin = time.time()  # simulated time starts now (a HeldClock starts when first released)
    while not scenario.finished(clock.now()) or (
            people is not None and people.busy() and clock.now() < wrap_up):
        report = await run_round(rt)
        for err in report.errors:  # each source's condition is logged once per change (crawlers.crawl)
            log.debug("crawl error", extra={"error": err})
        if people is None or not isinstance(clock, HeldClock):
            await asyncio.sleep(options.round_pause)
            continue
        for _ in range(4):  # simulated time runs; the people look at the product a few times between rounds
            clock.release()
            try:
                await asyncio.sleep(options.round_pause / 4)
            finally:
                clock.hold()
            people.act()
    # Simulated time stops where the script ended, so the summary is the crisis as it stood then, not hours later
    # after a slow last round on a busy machine (the distributed demo stops its workers' clocks alike).
    clock.stop()
    await run_round(rt)  # one last pass over what the final minutes published
    return demo_summary(rt)


def wire_demo_pipeline(rt: Runtime, *, mail: tuple[str, int], env: Mapping[str, str]) -> None:
    """What the demo changes in a runtime built from its settings, in its own process and in each of its worker
    processes (``runner.demo_workers``), so both run the same pipeline: no politeness delay towards the sim (ours
    and local; real sources keep the defaults), email on through the local mail sink at ``mail``, and the group
    robots on, their URLs and signing secrets read from ``env`` (the sim's robot endpoints)."""
    from incidents.notify import default_senders, with_email_relay

    rt.crawl_overrides = dict(DEMO_CRAWL_OVERRIDES)
    rt.policy = with_chat_robots(with_email_relay(rt.policy, *mail))
    rt.senders = default_senders(rt.policy, rt.settings, env=dict(env))


def demo_worker_environment(settings: Settings, sim_host: str, sim_port: int) -> dict[str, str]:
    """The ``YUQING_*`` variables that make a ``yuqing worker`` read what this demo reads: its database, Redis,
    config dir and data dir, the sim's sources file opened to the sim's one host:port (``SIM_HOST_PORT``)."""
    from sim.demo_sources import demo_source_variables

    env = {"YUQING_DATABASE_URL": settings.database_url, "YUQING_CONFIG_DIR": str(settings.config_dir),
           "YUQING_DATA_DIR": str(settings.data_dir), "YUQING_REDIS_URL": settings.redis_url,
           "YUQING_SOURCES_FILE": str(settings.sources_file),
           "YUQING_ALLOW_PRIVATE_SOURCES": ",".join(settings.allow_private_sources),
           "YUQING_WEIBO_TOKEN": os.environ.get("YUQING_WEIBO_TOKEN", DEMO_WEIBO_TOKEN),
           **demo_source_variables(sim_host, sim_port)}
    for name in ("org_file", "levels_file", "checklists_dir"):
        value = getattr(settings, name)
        if value is not None:
            env[f"YUQING_{name.upper()}"] = str(value)
    return env


def database_lines(where: str, *, own_file: Path | None) -> list[str]:
    """Which database the demo fills, and the exact command that issues an API token in it.

    The demo keeps its own database (public demo password, simulated articles; ``yuqing run`` refuses it), so a
    plain ``yuqing user …`` opens the deployment's database instead: the line says how to reach the demo's.
    ``own_file`` is the demo's SQLite file, or None when YUQING_DATABASE_URL chose the database (then the user
    commands already open it, and the URL — perhaps with a password — is not printed)."""
    lines = [f"数据库: {where}（演示专用，每次启动清空；yuqing run 会拒绝使用它）"]
    if own_file is None:
        lines.append("为演示账号签发 API 令牌（同一 YUQING_DATABASE_URL 下）: yuqing user token wangmin")
    else:
        url = shlex.quote(f"sqlite:///{own_file.resolve()}")
        lines.append(f"为演示账号签发 API 令牌: YUQING_DATABASE_URL={url} yuqing user token wangmin")
    return lines


def demo_database_hint(settings: Settings, command: str) -> str:
    """For a user command that found no such user: where the demo's database is, if there is one and the command
    did not open it (``make run`` fills ``YUQING_DATA_DIR/demo.db``, the user commands the deployment's)."""
    demo_file = (settings.data_dir / "demo.db").resolve()
    if not demo_file.exists() or settings.effective_database_url == f"sqlite:///{demo_file}":
        return ""
    return (f"\n提示：演示（make run / yuqing demo）使用自己的数据库 {demo_file}，请这样在其中执行："
            f"YUQING_DATABASE_URL={shlex.quote(f'sqlite:///{demo_file}')} {command}")


def script_over_line(ended: datetime, tz) -> str:
    """What the demo says when its script is over (simulated time stops there)."""
    local = ended.astimezone(tz)
    return (f"演示剧本已结束：模拟时间停在 {local.month}月{local.day}日 {local:%H:%M}，不再抓取来源；"
            "仪表盘保持此刻的状态，您在仪表盘上的操作照常生效、通知照常发送。Ctrl-C 退出")


def with_chat_robots(policy, names: tuple[str, ...] = ("wecom", "dingtalk", "feishu")):
    """The policy with these group robots on (each keeps the environment variable names of config/channels.yaml,
    which the demo fills with the sim's endpoints and signing secrets)."""
    c = policy.channels.channels
    update = {name: getattr(c, name).model_copy(update={"enabled": True}) for name in names}
    channels = policy.channels.model_copy(update={"channels": c.model_copy(update=update)})
    return policy.model_copy(update={"channels": channels})


def demo_summary(rt: Runtime) -> dict:
    """The counts the headless demo prints as its last line (a stable, machine-read shape): the pipeline's
    counts, and per incident its status, the levels it went through, the reports filed, statements published,
    whether it was reviewed and how many clocks are overdue at the end; ``deliveries`` counts the messages each
    channel confirmed (status ``sent``); ``first_leader_ack_minutes_after_first_post`` is measured from the
    records — the first incident a leader acknowledged, from its story's first post (publication time) to the
    first ``leadership_acknowledgements`` row — or None when no leader acknowledged anything."""
    from api import views
    from crawlers.models import Article, Mention, Story
    from incidents.models import (
        Alert,
        Incident,
        IncidentReport,
        LeadershipAcknowledgement,
        Notification,
        Statement,
        Task,
        TimelineEvent,
    )
    from yuqing.clock import ensure_utc

    with rt.session_factory() as session:
        def count(model) -> int:
            return session.scalar(select(func.count()).select_from(model)) or 0

        incidents = []
        for inc in session.scalars(select(Incident).order_by(Incident.id)):
            tasks = session.scalar(select(func.count()).select_from(Task).where(Task.incident_id == inc.id)) or 0
            changes = session.scalars(select(TimelineEvent).where(
                TimelineEvent.incident_id == inc.id, TimelineEvent.kind == "level_changed")
                .order_by(TimelineEvent.at, TimelineEvent.id)).all()
            history = [changes[0].data["from"]] if changes else [inc.level]
            history += [ev.data["to"] for ev in changes]
            reports = list(session.scalars(select(IncidentReport.kind).where(IncidentReport.incident_id == inc.id)
                                           .order_by(IncidentReport.filed_at, IncidentReport.id)))
            published = session.scalar(select(func.count()).select_from(Statement).where(
                Statement.incident_id == inc.id, Statement.status == "published")) or 0
            read = views.incident_read(session, rt.org, inc, policy=rt.policy, clock=rt.clock)
            incidents.append({"id": inc.id, "level": inc.level, "unit": inc.unit_id, "tasks": tasks,
                              "status": inc.status, "level_history": history,
                              "reports": list(dict.fromkeys(str(k) for k in reports)),
                              "statements_published": published, "reviewed": inc.reviewed_at is not None,
                              "overdue_clocks": sum(1 for c in read.clocks if c.overdue)})
        deliveries = dict(session.execute(select(Notification.channel, func.count())
                                          .where(Notification.status == "sent")
                                          .group_by(Notification.channel).order_by(Notification.channel)).all())
        first_ack = None
        for inc in session.scalars(select(Incident).order_by(Incident.opened_at, Incident.id)):
            acked = session.scalar(select(func.min(LeadershipAcknowledgement.at))
                                   .where(LeadershipAcknowledgement.incident_id == inc.id))
            posted = session.scalar(select(func.min(func.coalesce(Article.published_at, Article.fetched_at)))
                                    .where(Article.story_id == inc.story_id)) if inc.story_id else None
            if acked is not None and posted is not None:
                first_ack = round((ensure_utc(acked) - ensure_utc(posted)).total_seconds() / 60, 1)
                break
        return {"articles": count(Article), "mentions": count(Mention), "stories": count(Story),
                "alerts": count(Alert), "incidents": incidents, "notifications": count(Notification),
                "deliveries": deliveries, "first_leader_ack_minutes_after_first_post": first_ack}


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.unlink()
    shutil.rmtree(path.parent / "demo-snapshots", ignore_errors=True)
