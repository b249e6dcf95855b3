"""Fault: a pipeline worker SIGKILLed at a random moment, 20 times — nothing lost, nothing done twice.

Each run clones a database (``CREATE DATABASE … TEMPLATE``, a file copy: far quicker than migrating) holding the
same fetched articles — three stories about three outlets and unrelated news — and starts a real worker process
(``tests/core/faults_worker.py``: the runtime every process builds, running the real ingest, classify, score,
incidents and notify steps). It is SIGKILLed after a random delay drawn from [0, the time an uninterrupted worker
takes], so kills land in every step, mid-batch and mid-send. Then another worker (this process, on a clock moved past
the dead worker's leases) finishes the work, and the end state must equal the uninterrupted run's: every article
ingested, classified and scored once, one alert per story, every message sent once — over a real webhook receiver
and a real SMTP server (aiosmtpd), each message received, and received twice only if it was in flight when the
worker died (same delivery id, so the receiver can drop it; at most one per send slot of the channel).

The RNG seed is printed and named in every failure (``YUQING_FAULT_SEED=… pytest …`` replays it).
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml
from sqlalchemy import create_engine, func, select

from crawlers.models import Article, ArticleStage
from incidents.models import Alert, Incident, Notification, TimelineEvent
from runner import stages
from runner.loop import did_work
from runner.runtime import Runtime, build_runtime
from sentiment.models import Classification, StoryRisk
from sentiment.rules import RuleBasedClassifier
from sentiment.service import CLASSIFY_LEASE, classify_pending
from sim.mailsink import MailSink
from tests.core.faults_worker import settings_for
from tests.core.workers_site import Receiver
from yuqing.db import engine_for
from yuqing.migrate import upgrade
from yuqing.settings import PROJECT_ROOT

pytestmark = pytest.mark.postgres

RUNS = int(os.environ.get("YUQING_FAULT_RUNS") or 20)  # kills per run; lower it locally to iterate faster
SEED = int(os.environ.get("YUQING_FAULT_SEED") or time.time_ns() % 2**31)
HOOK_SECRET = "faults-hook-secret-6Wc1Zp8Lr3Qv"
# past the dead worker's classify lease and its notify claim (round budget + margin), so the next worker takes them
LEASES_PASSED = CLASSIFY_LEASE + timedelta(minutes=1)

COPIES = {"新华路网点": 3, "光明路支行": 2, "滨江支行": 2}  # reports of each complaint: enough for one incident
OUTLETS = {
    "新华路网点": ["系统故障为由拒绝七旬老人取款，老人在网点等候三个小时仍未取到钱，家属多次投诉无人处理",
               "限制取现，拒绝办理大额取款，储户排长队担心挤兑，有人称银行要倒闭",
               "工作人员态度恶劣，与储户发生争执，现场有人拍摄视频上传网络，家属表示将向监管部门投诉"],
    "光明路支行": ["理财产品到期无法兑付，数十名投资者聚集讨说法，称销售时被承诺保本保息",
               "客户经理诱导老人购买高风险理财，亏损过半，家属投诉银行违规销售",
               "投资者拉横幅维权，要求银行退还本金，现场秩序混乱，警方到场处置"],
    "滨江支行": ["贷款被强制捆绑保险，借款人投诉乱收费，监管部门已介入调查",
             "信用卡被盗刷数万元，客户称银行拒不处理，多次投诉无果",
             "客户个人信息遭泄露，接到大量诈骗电话，质疑银行管理存在漏洞"],
}
UNRELATED = ["市图书馆周末举办少儿绘本阅读活动，吸引众多家长带孩子参加。",
             "江城地铁五号线今日开通试运营，沿线居民出行更加便利。",
             "另一家商业银行发布年度社会责任报告，介绍绿色金融进展。",
             "本市气象台发布寒潮预警，提醒市民注意防寒保暖。",
             "江城马拉松赛报名启动，预计吸引三万名跑者参赛。"]


def seed_articles(url: str) -> int:
    """Fetched articles, waiting for ingest: nine or six per outlet's story (variants of three complaints) and unrelated
    news; returns how many."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    texts = [f"示例银行江城分行{outlet}{body}（第{n}次报道，记者跟进）。" for outlet, bodies in OUTLETS.items()
             for n in range(COPIES[outlet]) for body in bodies]
    texts += [f"{t}（{n}）" for n in range(2) for t in UNRELATED]
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        for i, text in enumerate(texts):
            link = f"https://jcwb.example/a/{i}.html"
            session.add(Article(
                source_id="jcwb", channel="news", url=link, url_hash=hashlib.sha256(link.encode()).hexdigest(),
                title=text[:24], text=text, fetched_at=now - timedelta(minutes=len(texts) - i),
                published_at=now - timedelta(minutes=len(texts) - i),
                content_hash=hashlib.sha256(text.encode()).hexdigest(), stage=ArticleStage.fetched))
        session.commit()
    engine.dispose()
    return len(texts)


class Shifted:
    """The real clock moved ``offset`` ahead: the next worker comes after the dead one's leases ran out."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class Outcome:
    """What a run left behind, compared between the uninterrupted run and every killed one."""

    stages: dict[str, int]
    classified: int
    classified_articles: int
    risks: int
    alerts: int
    stories_with_alert: int
    incidents: int
    notifications: dict[str, int]
    unsent: int
    notified_events: int
    hook_received: Counter = field(default_factory=Counter)
    mail_received: Counter = field(default_factory=Counter)
    hook_ids: set[int] = field(default_factory=set)
    mail_ids: set[int] = field(default_factory=set)

    def comparable(self) -> dict:
        return {k: v for k, v in vars(self).items() if k not in {"hook_received", "mail_received", "hook_ids",
                                                                  "mail_ids"}}


class World:
    """The template database, the copied configuration and the environment of the worker processes."""

    def __init__(self, admin_dsn: str, tmp: Path) -> None:
        self.admin_dsn, self.tmp = admin_dsn, tmp
        self.base = admin_dsn.rsplit("/", 1)[0]
        self.template = f"yq_faults_tpl_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.template}"')
        engine = create_engine(self.url(self.template))
        upgrade(engine)
        engine.dispose()
        self.articles = seed_articles(self.url(self.template))
        self.env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "T_HOOK_SECRET": HOOK_SECRET,
                    "HF_HUB_OFFLINE": "1", "YUQING_LOG_LEVEL": "ERROR"}
        self.hook, self.mail = Receiver().start(), MailSink(port=0).start()
        self.config_dir = self.config(self.hook.url, self.mail.port)
        self.dropping = ThreadPoolExecutor(max_workers=1)  # run databases are dropped beside the next run

    def url(self, name: str) -> str:
        return f"{self.base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"

    def clone(self) -> str:
        name = f"yq_faults_run_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def config(self, hook_url: str, smtp_port: int) -> Path:
        """A copy of config/ whose webhook and email channels point at the receiver and the mail server."""
        config = self.tmp / "config"
        shutil.copytree(PROJECT_ROOT / "config", config)
        (config / "sources.public.yaml").unlink(missing_ok=True)
        (config / "sources.yaml").write_text(
            "sources:\n  - id: jcwb\n    name: 江城晚报网\n    kind: rss\n    channel: news\n"
            "    url: http://127.0.0.1:9/feed.xml\n    authority: local_media\n    poll_interval: 300\n"
            "    private_network: 127.0.0.1:9\n    enabled: false\n", encoding="utf-8")
        channels = yaml.safe_load((config / "channels.yaml").read_text(encoding="utf-8"))
        channels["channels"]["webhook"].update(enabled=True, url=hook_url, secret_env="T_HOOK_SECRET")
        channels["channels"]["email"].update(enabled=True, smtp_host="127.0.0.1", smtp_port=smtp_port,
                                             timeout_seconds=10)
        (config / "channels.yaml").write_text(yaml.safe_dump(channels, allow_unicode=True), encoding="utf-8")
        return config

    def forget_messages(self) -> None:
        """Start a run with nothing received (the previous run is over: its worker dead, its messages all sent)."""
        self.hook.posts.clear()
        self.mail.handler.messages.clear()

    def close(self) -> None:
        self.dropping.shutdown(wait=True)
        self.hook.stop()
        self.mail.stop()
        self.drop(self.template)


@pytest.fixture(scope="module")
def world(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The template database and the configuration (migrated and seeded once per module)."""
    admin_dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://").split("?")[0]
    w = World(admin_dsn, tmp_path_factory.mktemp("faults-kill"))
    yield w
    w.close()


@dataclass
class Run:
    """One run: its database (a clone of the template) and its directory."""

    db: str
    url: str
    dir: Path
    world: World
    closed: bool = False

    @property
    def config(self) -> Path:
        return self.world.config_dir

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.world.dropping.submit(self.world.drop, self.db)


@pytest.fixture
def new_run(world: World) -> Iterator:
    runs: list[Run] = []

    def make() -> Run:
        db = world.clone()
        (world.tmp / db).mkdir()
        run = Run(db, world.url(db), world.tmp / db, world)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.close()


class ForkServer:
    """``tests/core/faults_worker.py``'s fork server: one warm parent, a fresh worker process per run."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "tests/core/faults_worker.py")],
                                     cwd=PROJECT_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.warm = False
        self.workers: list[Worker] = []

    def spawn(self, run: Run) -> Worker:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if not self.warm:
            assert self.proc.stdout.readline().strip() == "warm", "the fork server did not start"
            self.warm = True
        out = run.dir / "worker.out"
        self.proc.stdin.write(f"{run.url} {run.config} {run.dir} {out}\n")
        self.proc.stdin.flush()
        self.workers.append(Worker(int(self.proc.stdout.readline()), out))
        return self.workers[-1]

    def close(self) -> None:
        for worker in self.workers:  # a failed run's worker is still running
            if worker.alive():
                worker.kill()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Worker:
    pid: int
    out: Path

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def lines(self) -> list[str]:
        try:
            return self.out.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:  # the forked worker has not opened it yet
            return []

    def wait_for(self, line: str, timeout: float = 60) -> float:
        """Wait until the worker printed ``line``; returns when (monotonic). Fails if the worker died."""
        deadline = time.monotonic() + timeout
        while line not in self.lines():
            if not self.alive():
                pytest.fail(f"the worker exited before '{line}':\n{self.out.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the worker did not print '{line}' within {timeout} s (seed {SEED})")
            time.sleep(0.005)
        return time.monotonic()

    def go(self) -> float:
        Path(f"{self.out}.go").touch()
        return time.monotonic()

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.alive():  # reaped by the fork server (SIGCHLD ignored)
            assert time.monotonic() < deadline, "the killed worker did not go away"
            time.sleep(0.005)


def finish(rt: Runtime) -> int:
    """The next worker: the same steps, until a whole pass finds nothing left (classify with its leases measured on
    the shifted clock, as a worker coming after them would see them); returns the passes."""
    for passes in range(1, 40):
        busy = False
        with rt.session_factory() as session:
            left = session.scalar(select(func.count()).select_from(Article)
                                  .where(Article.stage == ArticleStage.fetched))
        for name in ("ingest", "classify", "score", "incidents", "notify"):
            if name == "classify":
                with rt.session_factory() as session:
                    busy = bool(classify_pending(session, classifier=rt.classifier, clock=rt.clock,
                                                 lease_clock=rt.clock)) or busy
                continue
            busy = did_work(asyncio.run(stages.STAGES[name].run(rt, offload=False))) or busy
        if not busy and not left:
            return passes
        if not busy:
            time.sleep(0.1)  # an article still locked by the dead worker's connection: the server frees it soon
    pytest.fail(f"the next worker did not finish (seed {SEED})")


def outcome(run: Run) -> Outcome:
    engine = create_engine(run.url)
    from sqlalchemy.orm import Session

    try:
        with Session(engine) as s:
            alerts = s.scalars(select(Alert)).all()
            notes = s.scalars(select(Notification)).all()
            o = Outcome(
                stages=dict(Counter(s.scalars(select(Article.stage)).all())),
                classified=s.scalar(select(func.count()).select_from(Classification)),
                classified_articles=s.scalar(select(func.count(func.distinct(Classification.article_id)))),
                risks=s.scalar(select(func.count()).select_from(StoryRisk)),
                alerts=len(alerts), stories_with_alert=len({a.story_id for a in alerts}),
                incidents=s.scalar(select(func.count()).select_from(Incident)),
                notifications=dict(Counter(f"{n.channel}:{n.status}" for n in notes)),
                unsent=sum(1 for n in notes if n.status != "sent" and n.channel != "phone"),
                notified_events=s.scalar(select(func.count()).select_from(TimelineEvent)
                                         .where(TimelineEvent.kind == "notified")),
                hook_ids={n.id for n in notes if n.channel == "webhook" and n.status == "sent"},
                mail_ids={n.id for n in notes if n.channel == "email" and n.status == "sent"})
            notified = Counter(e.data["notification_id"] for e in s.scalars(
                select(TimelineEvent).where(TimelineEvent.kind == "notified")))
            assert not notified or set(notified.values()) == {1}, f"a message recorded as sent twice (seed {SEED})"
    finally:
        engine.dispose()
    o.hook_received = Counter(json.loads(body)["notification_id"] for body in run.world.hook.posts
                              if body.endswith(b"}"))  # a post cut off by the kill was never received
    o.mail_received = Counter(int(email.message_from_bytes(m.raw)["X-Yuqing-Notification"])
                              for m in run.world.mail.messages)
    return o


def recover(run: Run) -> int:
    settings = settings_for(run.url, run.config, run.dir)
    engine = engine_for(settings)
    os.environ["T_HOOK_SECRET"] = HOOK_SECRET
    try:
        rt = build_runtime(settings, clock=Shifted(LEASES_PASSED), engine=engine, classifier=RuleBasedClassifier())
        rt.evidence_config = None
        return finish(rt)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def forks(world: World) -> Iterator[ForkServer]:
    server = ForkServer(world.env)
    yield server
    server.close()


def test_a_worker_sigkilled_at_random_moments_loses_nothing_and_does_nothing_twice(world, new_run, forks):
    print(f"\nfault seed {SEED} (replay: YUQING_FAULT_SEED={SEED})")
    rng = random.Random(SEED)

    # The uninterrupted run: how long a worker takes, and the end state every killed run must reach.
    base = new_run()
    world.forget_messages()
    worker = forks.spawn(base)
    worker.wait_for("ready")
    started = worker.go()
    took = worker.wait_for("idle") - started
    worker.kill()
    expected = outcome(base)
    assert expected.stages.get(ArticleStage.fetched, 0) == 0 and sum(expected.stages.values()) == world.articles
    assert expected.stories_with_alert == expected.alerts == len(OUTLETS)  # one alert per story
    assert expected.unsent == 0 and expected.hook_ids and expected.mail_ids
    assert set(expected.hook_received.values()) == {1} and set(expected.mail_received) == expected.mail_ids
    print(f"uninterrupted worker: {took:.2f} s; {expected.comparable()}")

    kills: Counter[str] = Counter()
    resent: Counter[str] = Counter()
    run = new_run()
    worker = forks.spawn(run)
    for n in range(RUNS):
        delay = took * (n + rng.random()) / RUNS  # one kill in each twentieth of the work, at a random moment in it
        world.forget_messages()
        worker.wait_for("ready")
        worker.go()
        time.sleep(delay)
        worker.kill()
        lines = worker.lines()
        where = next((line.removeprefix("stage ") for line in reversed(lines) if line.startswith("stage ")), "start")
        kills["idle" if lines[-1] == "idle" else where] += 1
        if n + 1 < RUNS:  # the next run's worker starts up while this run is finished and checked
            next_run = new_run()
            next_worker = forks.spawn(next_run)
        recover(run)
        got = outcome(run)
        context = f"run {n} (seed {SEED}), killed {delay:.3f} s after start, in {where}"
        assert got.comparable() == expected.comparable(), context
        for channel, ids, received in (("webhook", got.hook_ids, got.hook_received),
                                       ("email", got.mail_ids, got.mail_received)):
            assert set(received) == ids, f"{context}: {channel} messages lost or unknown ones received"
            twice = {i: c for i, c in received.items() if c > 1}
            # only a send in flight at the kill goes out again: at most one per send slot, never three times
            assert len(twice) <= 4 and set(twice.values()) <= {2}, f"{context}: {channel} re-sent {twice}"
            resent[channel] += len(twice)
        run.close()
        if n + 1 < RUNS:
            run, worker = next_run, next_worker
    print(f"kills by step: {dict(kills)}; messages in flight at a kill, sent again: {dict(resent)}")
    assert len(set(kills) - {"start", "idle"}) >= 2, f"the kills did not spread over the steps: {dict(kills)}"
