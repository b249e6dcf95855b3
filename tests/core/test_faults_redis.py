"""Fault: Redis stopped in the middle of a crawl and started again — with a redis-server of the test's own on a free
port (``tests/core/faults_services.py``), never the shared one.

Redis holds the per-domain request budget every crawl process shares (``crawlers.politeness``). Two sources on one
site are crawled by the crawl stage's own step (``runner.stages.crawl_in_thread``, as ``yuqing run`` and the crawl
workers run it): with Redis up the budget is in Redis; Redis is stopped while the second crawl is under way and
that crawl finishes anyway, every article stored once, the requests after the stop spaced by this process's own
budget (the fallback; its spacing is tested in test_concurrency_politeness.py), counted in the source health's
counters and logged; the admins are told Redis is gone. Once Redis is back the
next crawl uses it again (its slot key reappears) and the admins are told it recovered.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from pathlib import Path

import redis
from sqlalchemy import func, select

from crawlers.models import Article, SourceState
from crawlers.politeness import KEY_FORMAT
from incidents.models import Notification
from incidents.system_alerts import SYSTEM_HEALTH
from runner.runtime import build_runtime
from runner.stages import crawl_in_thread
from sentiment.rules import RuleBasedClassifier
from tests.core.faults_services import RedisServer
from tests.core.workers_site import Site
from yuqing.clock import SystemClock
from yuqing.db import engine_for
from yuqing.migrate import upgrade
from yuqing.settings import Settings

DELAY = 0.1  # seconds between request starts to the site's domain
NEW = 40  # articles of the crawl Redis stops in: more than Scrapy reserves slots for at once (16 in flight)


class Lines(logging.Handler):
    """Keeps the messages of the logger it is added to (Scrapy's logging set-up leaves the root's alone)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_crawl_rides_out_redis_stopping_and_uses_it_again_once_back(tmp_path: Path):
    server = RedisServer()
    site = Site(articles=4).start()
    host = f"127.0.0.1:{site.port}"
    (tmp_path / "sources.yaml").write_text("sources:\n" + "".join(
        f"  - id: {sid}\n    name: {sid}\n    kind: rss\n    channel: news\n    url: {site.base}/feed.xml?{sid}\n"
        f"    authority: local_media\n    poll_interval: 300\n    private_network: {host}\n"
        f"    respect_robots: false\n" for sid in ("s1", "s2")), encoding="utf-8")
    settings = Settings(data_dir=tmp_path, sources_file=tmp_path / "sources.yaml", allow_private_sources=["s1", "s2"],
                        database_url=f"sqlite:///{tmp_path / 'y.db'}", redis_url=server.url)
    engine = engine_for(settings)
    upgrade(engine)
    rt = build_runtime(settings, clock=SystemClock(), engine=engine, classifier=RuleBasedClassifier())
    namespace = f"faults-{uuid.uuid4().hex[:8]}"
    rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "YUQING_DOMAIN_DELAY": DELAY, "YUQING_POLITENESS_NAMESPACE": namespace,
                          "LOG_LEVEL": "ERROR", "DOWNLOAD_TIMEOUT": 10}
    key = KEY_FORMAT.format(namespace=namespace, domain="127.0.0.1")

    def crawl():
        return asyncio.run(crawl_in_thread(rt, rt.sources))

    def count(model, *where) -> int:
        with rt.session_factory() as s:
            return s.scalar(select(func.count()).select_from(model).where(*where))

    def told() -> list[str]:
        with rt.session_factory() as s:
            return list(s.scalars(select(Notification.subject).where(Notification.purpose == SYSTEM_HEALTH,
                                                                     Notification.channel == "in_app")
                                  .order_by(Notification.id)).all())

    try:
        # Redis up: the budget is kept there.
        first = crawl()
        assert first.new_articles == 4 and not first.errors
        assert redis.Redis.from_url(server.url).exists(key)

        # Redis stops while the next crawl is under way (NEW new articles, a request every DELAY seconds).
        site.articles = 4 + NEW
        before = len(site.hits)
        result: dict = {}
        crawler = threading.Thread(target=lambda: result.setdefault("report", crawl()))
        lines = Lines()
        politeness_log = logging.getLogger("crawlers.politeness")
        politeness_log.addHandler(lines)
        try:
            crawler.start()
            deadline = time.monotonic() + 30
            while len(site.hits) < before + NEW // 2:
                assert time.monotonic() < deadline, "the second crawl did not start"
                time.sleep(0.02)
            server.stop()
            stopped_at = time.monotonic()
            crawler.join(timeout=120)
        finally:
            politeness_log.removeHandler(lines)
        report = result["report"]
        assert report.new_articles == NEW and not report.errors, report.errors  # nothing lost
        assert count(Article) == 4 + NEW == len({u for u in site.hits if u.startswith("/a/")})  # nothing twice
        assert any("Redis 不可用" in m for m in lines.messages), lines.messages
        with rt.session_factory() as s:
            fell_back = sum(int((st.stats or {}).get("politeness/redis_unavailable") or 0)
                            for st in s.scalars(select(SourceState)))
        assert fell_back >= 1  # source health keeps the crawl's counter
        assert len(told()) == 1 and told()[0].startswith("系统异常：Redis")
        print(f"\nrequests after Redis stopped that fell back to this process's budget: {fell_back}; "
              f"crawl finished {time.monotonic() - stopped_at:.1f} s after the stop")

        # Redis back: the next crawl reserves its slots there again, and the admins hear it recovered.
        server.start()
        assert not redis.Redis.from_url(server.url).exists(key)  # a fresh server: nothing kept
        site.articles = 4 + NEW + 2
        third = crawl()
        assert third.new_articles == 2 and not third.errors
        assert redis.Redis.from_url(server.url).exists(key)
        assert len(told()) == 2 and told()[1].startswith("系统恢复：Redis"), told()
        assert count(Article) == 4 + NEW + 2
    finally:
        site.stop()
        server.close()
        engine.dispose()
