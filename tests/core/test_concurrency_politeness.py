"""Per-domain politeness shared by every source on a domain and by every worker: two crawl processes, four
sources on one host, against a local server that records when each request arrived. Through Redis the requests
of both processes together keep the domain's spacing; without Redis a process keeps it for its own sources."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawlers.crawl import crawl_sources
from crawlers.politeness import KEY_FORMAT, LocalDomainLimiter, domain_of, registrable_domain
from crawlers.sources import SourceConfig
from runner.schema import all_metadata
from yuqing.clock import SystemClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.settings import PROJECT_ROOT

ARTICLES = 8  # per source
DELAY = 0.25  # seconds between request starts to the domain
REDIS_URL = os.environ.get("YUQING_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class RecordingSite:
    """Serves ``/<source>/feed.xml`` (RSS linking ``ARTICLES`` pages) and the pages; records each arrival."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with lock:
                    site.arrivals.append((time.monotonic(), self.path))
                sid, _, name = self.path.strip("/").partition("/")
                if name == "feed.xml":
                    items = "".join(f"<item><title>第{i}条</title><link>{site.base}/{sid}/{i}.html</link></item>"
                                    for i in range(ARTICLES))
                    body = (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{sid}'
                            f"</title>{items}</channel></rss>").encode()
                    ctype = "application/rss+xml; charset=utf-8"
                else:
                    body = (f"<html><head><title>{sid}的第{name}篇报道</title></head><body><article><p>"
                            f"{'示例银行新华路营业厅今日正常营业，市民有序办理业务。' * 8}{sid}{name}</p></article>"
                            "</body></html>").encode()
                    ctype = "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[RecordingSite]:
    s = RecordingSite()
    yield s
    s.close()


@pytest.fixture(scope="module")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # say why; CI (YUQING_REQUIRE_POSTGRES: real services required) fails instead
        reason = f"Redis at {REDIS_URL} not reachable: {type(exc).__name__}: {exc}"
        if os.environ.get("YUQING_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    return REDIS_URL


def _crawl_in_two_processes(site: RecordingSite, tmp_path: Path, redis: str) -> list[dict]:
    go = tmp_path / "go"
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    procs = [subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "tests/core/politeness_crawler.py"), site.base,
         str(tmp_path / f"p{n}.db"), str(go), str(DELAY), redis, namespace, *ids],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT)
        for n, ids in enumerate([["a1", "a2"], ["b1", "b2"]])]
    try:
        for p in procs:
            line = p.stdout.readline()
            assert line.strip() == "ready", p.stderr.read()
        go.touch()  # both processes set up: crawl at once
        outputs = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return outputs


def test_two_crawl_processes_share_one_budget_for_the_domain(site, tmp_path, redis_url):
    outputs = _crawl_in_two_processes(site, tmp_path, redis_url)

    for out in outputs:
        for sid, result in out["sources"].items():
            assert result["ok"] and result["new"] == ARTICLES, (sid, result)
            assert result["stats"]["politeness/requests"] == ARTICLES + 1
            assert "politeness/redis_unavailable" not in result["stats"]
    times = sorted(t for t, _ in site.arrivals)
    assert len(times) == 4 * (ARTICLES + 1)
    # both processes were crawling at the same time: each started before the other's last request arrived
    # (time.monotonic is the machine's CLOCK_MONOTONIC, the same in every process)
    last = {g: max(t for t, p in site.arrivals if p.startswith(f"/{g}")) for g in "ab"}
    assert outputs[0]["started"] < last["b"] and outputs[1]["started"] < last["a"]
    # The domain's slots are DELAY apart whoever reserved them, so n requests span at least (n - 1) slots; one
    # slot of slack for the first request's own lateness. Two processes budgeting alone would take half as long.
    span = times[-1] - times[0]
    assert span >= (len(times) - 2) * DELAY, (span, [round(b - a, 3) for a, b in itertools.pairwise(times)])


def test_sources_crawl_on_when_redis_is_unreachable_with_the_budget_kept_in_process(site, tmp_path):
    """A Redis that cannot be reached (a closed port) costs nothing but sharing: the crawl succeeds, says so in its
    stats, and this process's sources still keep the domain's spacing between them."""
    engine = make_engine(f"sqlite:///{tmp_path / 'one.db'}")
    all_metadata().create_all(engine)
    sources = [SourceConfig(id=sid, name=sid, kind="rss", channel="news", url=f"{site.base}/{sid}/feed.xml",
                            authority="local_media", private_network=site.base.removeprefix("http://"),
                            respect_robots=False) for sid in ("c1", "c2")]
    overrides = {"DOWNLOAD_DELAY": 0, "YUQING_DOMAIN_DELAY": DELAY, "YUQING_REDIS_URL": "redis://127.0.0.1:9/0",
                 "YUQING_POLITENESS_NAMESPACE": f"test-{uuid.uuid4().hex[:12]}", "LOG_LEVEL": "ERROR"}
    results = asyncio.run(crawl_sources(sources, session_factory=make_sessionmaker(engine), clock=SystemClock(),
                                        settings_overrides=overrides))
    engine.dispose()
    for r in results.values():
        assert r.ok and r.new_items == ARTICLES
        assert r.stats["politeness/redis_unavailable"] == ARTICLES + 1
    times = sorted(t for t, _ in site.arrivals)
    assert times[-1] - times[0] >= (len(times) - 2) * DELAY


def test_sources_on_subdomains_of_one_registrable_domain_share_a_budget():
    assert registrable_domain("news.example.cn") == registrable_domain("www.example.cn") == "example.cn"
    assert registrable_domain("a.b.example.com.cn") == "example.com.cn"
    assert registrable_domain("weibo.com") != registrable_domain("weibo.cn")
    assert domain_of("http://127.0.0.1:8080/x") == "127.0.0.1"
    assert domain_of("https://LOCALHOST./feed") == "localhost"
    limiter = LocalDomainLimiter()
    keys = [KEY_FORMAT.format(namespace="n", domain=domain_of(u))
            for u in ("https://news.example.cn/rss", "https://www.example.cn/list", "https://other.cn/")]
    assert limiter.reserve_now(keys[0], 10.0) == 0.0
    assert limiter.reserve_now(keys[1], 10.0) > 9.0  # same domain: waits for the slot after the first
    assert limiter.reserve_now(keys[2], 10.0) == 0.0  # another domain: its own budget
