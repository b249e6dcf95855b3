"""``yuqing worker`` end to end on the real PostgreSQL: worker processes started with the CLI, as a deployment
would, each on a group of stages, take a local news site's crawl to an alert whose messages are delivered; a crawl
worker SIGKILLed in the middle of a crawl has that crawl finished by another worker, once; with one source hanging
its crawl and the mail relay blackholed, the alert's webhook message goes out and an escalation fires within
seconds of its deadline. Most of each test's time is the workers' start-up (building the runtime). Each test has a
database of its own (procrastinate's LISTEN/NOTIFY channels are database-wide) created and dropped around it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.core.workers_site import Receiver, Site

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
YUQING = [sys.executable, "-m", "runner.cli"] if not (ROOT / ".venv/bin/yuqing").exists() else [
    str(ROOT / ".venv/bin/yuqing")]
SECRET = "workers-tests-7Hq2Lm9Xc4Vb8Nz1Rt5Wd3Kp6Gf0Js"


class Deployment:
    """A database, a sources file and the environment a worker process reads (``YUQING_*``)."""

    def __init__(self, dsn: str, admin_dsn: str, tmp: Path, site: Site, *, slow: bool = False) -> None:
        self.dsn, self.admin_dsn, self.tmp = dsn, admin_dsn, tmp
        (tmp / "sources.yaml").write_text(site.sources_yaml(slow=slow), encoding="utf-8")
        self.env = {**os.environ, "YUQING_DATABASE_URL": dsn.replace("postgresql://", "postgresql+psycopg://"),
                    "YUQING_DATA_DIR": str(tmp), "YUQING_SOURCES_FILE": str(tmp / "sources.yaml"),
                    "YUQING_ALLOW_PRIVATE_SOURCES": "jcwb,slow", "YUQING_SECRET_KEY": SECRET,
                    "YUQING_MODEL_DIR": str(tmp / "no-model"),  # the rule baseline: no model to load
                    "YUQING_WORKER_HEARTBEAT_SECONDS": "1", "YUQING_WORKER_STALLED_SECONDS": "6",
                    "YUQING_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}
        self.procs: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str) -> str:
        done = subprocess.run([*YUQING, *args], cwd=ROOT, env=self.env, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def worker(self, *stages: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"worker-{len(self.procs)}-{'-'.join(stages)}.log").open("wb")
        proc = subprocess.Popen([*YUQING, "worker", *stages], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def rows(self, sql: str, *args: object) -> list[tuple]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql, args).fetchall()

    def one(self, sql: str, *args: object) -> object:
        return self.rows(sql, *args)[0][0]

    def kill(self) -> None:
        """SIGKILL every worker still running, after its test: how a worker stops on SIGTERM is
        ``test_sigterm_lets_a_worker_finish_its_running_crawl_then_exit``'s to prove; a SIGTERM here only waited
        (up to 15 s) for a crawl the slow site still held, or for the workers' shutdown, before the database went."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait()


def _admin_dsn(postgres_url: str) -> str:
    return postgres_url.replace("postgresql+psycopg://", "postgresql://").split("?")[0]


@pytest.fixture(scope="module")
def migrated(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once by ``yuqing migrate`` (the CLI, as a deployment is), for the tests that are not
    about migrating to clone (``CREATE DATABASE … TEMPLATE``: a file copy) instead of each running the migration
    in a process of its own again; ``test_workers_on_stage_groups…`` still migrates an empty database itself."""
    admin_dsn = _admin_dsn(postgres_url)
    name = f"yq_workers_tmpl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        tmp = tmp_path_factory.mktemp("workers-template")
        url = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
        env = {**os.environ, "YUQING_DATABASE_URL": url, "YUQING_DATA_DIR": str(tmp), "YUQING_LOG_LEVEL": "WARNING"}
        done = subprocess.run([*YUQING, "migrate"], cwd=ROOT, env=env, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        yield name
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def deploy(postgres_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Deployment]]:
    admin_dsn = _admin_dsn(postgres_url)
    made: list[tuple[str, Deployment, Site]] = []

    def make(*, slow_seconds: float = 0.0, migrated: bool = True) -> Deployment:
        """A deployment on a database of its own: a clone of the migrated one, or (``migrated=False``) empty."""
        name = f"yq_workers_{uuid.uuid4().hex[:10]}"
        template = f' TEMPLATE "{request.getfixturevalue("migrated")}"' if migrated else ""
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"{template}')
        site = Site(articles=2, slow_seconds=slow_seconds).start()
        d = Deployment(admin_dsn.rsplit("/", 1)[0] + "/" + name, admin_dsn, tmp_path, site, slow=slow_seconds > 0)
        made.append((name, d, site))
        d.site = site  # type: ignore[attr-defined]
        return d

    yield make
    for name, d, site in made:
        d.kill()
        site.stop()
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for(what: str, check: Callable[[], bool], timeout: float = 240, procs: list | None = None) -> None:
    """Wait until ``check()`` holds; the timeout only bounds a broken run."""
    deadline = time.monotonic() + timeout
    while not check():
        dead = [p.args[2:] for p in procs or [] if p.poll() is not None]
        if dead:
            pytest.fail(f"a worker exited while waiting for {what}: {dead}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


def test_workers_on_stage_groups_take_a_crawl_to_a_delivered_alert(deploy):
    d = deploy(migrated=False)
    out = d.cli("migrate")
    assert "job queue schema (procrastinate) created" in out
    assert "already present" in d.cli("migrate")  # idempotent
    d.worker("schedule", "notify")
    d.worker("crawl", "ingest")
    d.worker("classify", "score", "incidents")

    def delivered() -> bool:
        scored = d.one("SELECT count(*) FROM articles WHERE stage = 'scored'")
        return scored == 2 and d.one("SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id "
                                     "WHERE n.status = 'sent'") > 0

    wait_for("both articles scored and an alert with a delivered message", delivered, procs=d.procs)
    assert d.one("SELECT count(*) FROM articles") == 2
    assert d.one("SELECT count(*) FROM classifications") == 2  # each article classified once
    assert d.one("SELECT count(*) FROM alerts") == 1  # one alert for the story
    assert d.one("SELECT count(*) FROM procrastinate_workers") == 3  # three live workers did it, by the job queue
    assert d.site.hits.count("/feed.xml") == 1  # crawled once: not due again for 300 s


def test_a_sigkilled_crawl_worker_has_its_crawl_finished_by_another_once(deploy):
    d = deploy(slow_seconds=8.0)
    d.worker("schedule")
    victim = d.worker("crawl")

    def only_slow_left() -> bool:  # the other source's crawl recorded, the slow one waiting for its answer
        return "/slow.xml" in d.site.hits and bool(d.one(
            "SELECT count(*) FROM source_states WHERE source_id = 'jcwb' AND last_success_at IS NOT NULL"))

    wait_for("the slow source's crawl to start", only_slow_left, procs=d.procs)
    assert "/slow.xml" not in d.site.answered
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    d.procs.remove(victim)
    d.worker("crawl", "ingest")

    def slow_polled() -> bool:
        return bool(d.one("SELECT count(*) FROM source_states WHERE source_id = 'slow' "
                          "AND last_success_at IS NOT NULL"))

    wait_for("the slow source's crawl to be finished by the second worker", slow_polled, procs=d.procs)
    time.sleep(1.0)  # long enough for a duplicate crawl to have started, if there were one
    assert d.site.hits.count("/slow.xml") == 2  # the killed crawl and its one re-run
    assert d.site.hits.count("/feed.xml") == 1  # the other source: crawled once, before the kill
    urls = [u for (u,) in d.rows("SELECT url FROM articles")]
    assert len(urls) == len(set(urls)) == 2  # nothing twice, nothing lost (both sources list the same 2 pages)


class Blackhole:
    """A TCP port on 127.0.0.1 that accepts every connection and never says a word (a stalled mail relay)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_escalation_and_the_webhook_go_out_while_a_crawl_hangs_and_the_mail_relay_is_blackholed(deploy, tmp_path):
    hole, hook = Blackhole(), Receiver().start()
    try:
        d = deploy(slow_seconds=120.0)
        config = tmp_path / "config"
        shutil.copytree(ROOT / "config", config)
        channels = yaml.safe_load((config / "channels.yaml").read_text(encoding="utf-8"))
        channels["channels"]["email"].update(enabled=True, smtp_port=hole.port, timeout_seconds=20)
        channels["channels"]["webhook"].update(enabled=True, url=hook.url, secret_env="T_HOOK_SECRET")
        channels["delivery"]["round_budget_seconds"] = 25
        (config / "channels.yaml").write_text(yaml.safe_dump(channels, allow_unicode=True), encoding="utf-8")
        levels = yaml.safe_load((config / "levels.yaml").read_text(encoding="utf-8"))
        levels.pop("quiet_hours", None)  # escalate at whatever hour the test runs
        (config / "levels.yaml").write_text(yaml.safe_dump(levels, allow_unicode=True), encoding="utf-8")
        d.env.update(YUQING_CONFIG_DIR=str(config), T_HOOK_SECRET="workers-hook-secret-3Vn8Qd1Lx6",
                     YUQING_ALLOW_PRIVATE_SOURCES="jcwb,slow")
        d.worker("schedule")
        d.worker("notify")
        d.worker("crawl", "ingest", "classify", "score", "incidents")

        def alert_on_webhook() -> bool:
            return d.one("SELECT count(*) FROM notifications WHERE channel = 'webhook' AND alert_id IS NOT NULL "
                         "AND status = 'sent'") > 0

        wait_for("the alert's webhook message", alert_on_webhook, procs=d.procs)
        assert hook.posts
        assert hole.accepted  # the mail relay was tried and hangs
        assert "/slow.xml" in d.site.hits and "/slow.xml" not in d.site.answered  # the slow crawl still waits
        assert d.one("SELECT count(*) FROM notifications WHERE channel = 'email' AND status = 'sent'") == 0

        with psycopg.connect(d.dsn, autocommit=True) as conn:  # the acknowledgement deadline has just passed
            conn.execute("UPDATE alerts SET ack_due_at = now() - interval '1 second' WHERE status = 'open'")
        started = time.monotonic()
        wait_for("the escalation", lambda: d.one("SELECT count(*) FROM notifications WHERE purpose = 'escalation'")
                 > 0, timeout=30, procs=d.procs)
        took = time.monotonic() - started
        # The schedule worker ticks every 2 s and waits for neither the hung crawl (still hung: below) nor the
        # notify worker's round stalled on the mail relay (its 25 s budget): the escalation comes before that round
        # could have ended. Not a fixed 10 s, which 4 test workers on 2 cores could stretch past.
        assert took < channels["delivery"]["round_budget_seconds"], f"escalation took {took:.1f} s"
        assert "/slow.xml" not in d.site.answered  # ... while the crawl still hung
        assert d.one("SELECT count(*) FROM notifications WHERE channel = 'email' AND status = 'sent'") == 0
    finally:
        hole.close()
        hook.stop()


def test_sigterm_lets_a_worker_finish_its_running_crawl_then_exit(deploy):
    d = deploy(slow_seconds=4.0)
    d.worker("schedule")
    crawler = d.worker("crawl")
    wait_for("the slow source's crawl to start", lambda: "/slow.xml" in d.site.hits, procs=d.procs)
    crawler.send_signal(signal.SIGTERM)
    assert crawler.wait(timeout=60) == 0
    assert "/slow.xml" in d.site.answered  # the request it was waiting on was answered before it exited
    assert d.one("SELECT last_success_at IS NOT NULL FROM source_states WHERE source_id = 'slow'")  # and recorded
