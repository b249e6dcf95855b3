"""Run one poll of several sources with Scrapy, inside the caller's running asyncio loop, as often as needed.

The pipeline calls ``crawl_sources`` every poll round from the same event loop that serves the simulated internet
and the API, so Scrapy runs without a Twisted reactor (``TWISTED_REACTOR_ENABLED=False``, aiohttp downloads) via
``AsyncCrawlerRunner``; each source gets its own ``Crawler`` with its own settings, and all run concurrently.
Before the crawl, each spider is given what earlier polls left (known URLs, validators for conditional GET); after
it, each source's result is turned into a ``SourceRunResult`` and recorded in ``SourceState`` (``crawlers.health``).
A source's failure never fails the others, and never raises out of here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import AsyncCrawlerRunner, Crawler
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.health import failure_kind, record_run
from crawlers.models import SeenUrl
from crawlers.settings import build_settings
from crawlers.sources import SourceConfig
from crawlers.spiders import SPIDER_FOR_KIND, KnownState, SourceSpider
from yuqing.clock import Clock
from yuqing.db import session_scope

logger = logging.getLogger(__name__)

KNOWN_URLS_LIMIT = 50_000  # most recent URLs of a source preloaded; older ones are caught by SeenUrlFilterMiddleware
_STATUS_PREFIX = "downloader/response_status_count/"


@dataclass
class SourceRunResult:
    """What one poll of one source did."""

    source_id: str
    ok: bool
    new_items: int = 0
    updated_items: int = 0
    errors: list[str] = field(default_factory=list)
    status_counts: dict[int, int] = field(default_factory=dict)
    duration: float = 0.0  # wall-clock seconds
    not_modified: bool = False  # the entry answered 304: healthy, nothing new
    stats: dict[str, Any] = field(default_factory=dict)


STOP_GRACE_S = 2.0  # seconds a cancelled crawl may take to stop


async def crawl_sources(
    sources: list[SourceConfig],
    *,
    session_factory: sessionmaker[Session],
    clock: Clock,
    settings_overrides: dict[str, Any] | None = None,
) -> dict[str, SourceRunResult]:
    """Poll every enabled source once, concurrently; store items and health; return results by source id."""
    enabled = [s for s in sources if s.enabled]
    if not enabled:
        return {}
    _quiet_scrapy_logging((settings_overrides or {}).get("LOG_LEVEL", "WARNING"))
    known = await asyncio.to_thread(load_known_state, session_factory, enabled)
    runner = AsyncCrawlerRunner(build_settings(enabled[0], settings_overrides))
    jobs = [
        _run_one(runner, source, known[source.id], session_factory=session_factory, clock=clock,
                 settings=build_settings(source, settings_overrides))
        for source in enabled
    ]
    try:
        outcomes = await asyncio.gather(*jobs)
    except asyncio.CancelledError:
        # Shutting down (Ctrl-C): give in-flight requests a moment, never wait out their retries.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner.stop(), timeout=STOP_GRACE_S)
        raise
    results = {r.source_id: r for r in outcomes}
    await asyncio.to_thread(_record_health, session_factory, enabled, results, clock)
    for source in enabled:
        CONSOLE.report(source, results[source.id])
    return results


class SourceConsole:
    """One clear Chinese log line per source when its condition changes — and for its first poll in this process —
    instead of Scrapy's per-request tracebacks: 来源「…」（URL）抓取失败：连接被拒绝. The errors themselves go to
    DEBUG on every poll. The condition is "ok" or what failed (``crawlers.health.failure_kind``)."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}

    def report(self, source: SourceConfig, result: SourceRunResult) -> str | None:
        """Log the line if the condition changed; returns the line logged (or None)."""
        condition = "ok" if result.ok else failure_kind(result.errors[0] if result.errors else None)
        if result.errors:
            logger.debug("source %s poll errors: %s", source.id, "；".join(result.errors[:10]))
        previous = self._last.get(source.id)
        self._last[source.id] = condition
        if condition == previous:
            return None
        where = f"来源「{source.name}」（{source.url}）"
        if condition == "ok":
            line = f"{where}抓取正常" if previous is None else f"{where}已恢复正常"
            logger.info(line)
        else:
            line = f"{where}抓取失败：{condition}（之后仅在状态变化时再提示；详情见信息源页面或 DEBUG 日志）"
            logger.warning(line)
        return line

    def forget(self) -> None:
        self._last.clear()


CONSOLE = SourceConsole()  # per process: the log is per process too


def load_known_state(factory: sessionmaker[Session], sources: Iterable[SourceConfig]) -> dict[str, KnownState]:
    """Per source: URLs stored by any source of this round (bounded, most recent first) and validators.

    The seen set is shared by the round's sources because one site's feed, sitemap and list pages point at the
    same articles: whichever stored an article, the others must neither refetch it nor page deeper for it.
    """
    sources = list(sources)
    seen: set[str] = set()
    claimed: set[str] = set()
    validators: dict[str, dict[str, tuple[str | None, str | None]]] = {s.id: {} for s in sources}
    with factory() as session:
        rows = session.execute(
            select(SeenUrl.source_id, SeenUrl.url_hash, SeenUrl.etag, SeenUrl.last_modified)
            .where(SeenUrl.source_id.in_([s.id for s in sources]))
            .order_by(SeenUrl.id.desc())
            .limit(KNOWN_URLS_LIMIT * len(sources))
        ).all()
    for source_id, key, etag, last_modified in rows:
        seen.add(key)
        if etag or last_modified:
            validators[source_id][key] = (etag, last_modified)
    known: dict[str, KnownState] = {}
    for source in sources:
        # JSON items are re-read every poll to update their metrics: nothing is skipped as already seen.
        known[source.id] = KnownState(seen=set() if source.tracks_metrics else seen,
                                      validators=validators[source.id], claimed=claimed)
    return known


async def _run_one(runner: AsyncCrawlerRunner, source: SourceConfig, known: KnownState, *,
                   session_factory: sessionmaker[Session], clock: Clock, settings: dict[str, Any]) -> SourceRunResult:
    started = time.monotonic()
    crawler = Crawler(SPIDER_FOR_KIND[source.kind], settings)
    crash: str | None = None
    try:
        await runner.crawl(crawler, source=source, known=known, session_factory=session_factory, clock=clock)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a broken source must not take the others down
        logger.exception("crawl of source %s crashed", source.id)
        crash = f"抓取程序异常：{type(exc).__name__}: {exc}"
    return _result(source, crawler, crash, time.monotonic() - started)


def _result(source: SourceConfig, crawler: Crawler, crash: str | None, duration: float) -> SourceRunResult:
    stats: dict[str, Any] = dict(crawler.stats.get_stats()) if crawler.stats is not None else {}
    spider = getattr(crawler, "spider", None)
    errors: list[str] = list(spider.errors) if isinstance(spider, SourceSpider) else []
    if crash:
        errors.append(crash)
    ok = (crash is None and isinstance(spider, SourceSpider) and spider.entry_ok and not spider.entry_failed)
    failures = int(stats.get("yuqing/page_failures", 0))
    if ok and failures and not stats.get("yuqing/pages_received") and not stats.get("yuqing/items/new"):
        ok = False
        errors.append(f"全部 {failures} 个文章页面抓取失败")
    if not ok and not errors:
        errors.append("入口没有返回可用的内容")
    status_counts = {int(k[len(_STATUS_PREFIX):]): int(v) for k, v in stats.items()
                     if k.startswith(_STATUS_PREFIX) and k[len(_STATUS_PREFIX):].isdigit()}
    return SourceRunResult(
        source_id=source.id,
        ok=ok,
        new_items=int(stats.get("yuqing/items/new", 0)),
        updated_items=int(stats.get("yuqing/items/updated", 0)),
        errors=errors,
        status_counts=status_counts,
        duration=duration,
        not_modified=bool(isinstance(spider, SourceSpider) and spider.not_modified),
        stats=stats,
    )


def _record_health(factory: sessionmaker[Session], sources: list[SourceConfig],
                   results: dict[str, SourceRunResult], clock: Clock) -> None:
    now = clock.now()
    with session_scope(factory) as session:
        for source in sources:
            record_run(session, source, results[source.id], now)


def _quiet_scrapy_logging(level: str) -> None:
    # Scrapy logs through the root logger of the host application; keep its chatter at the configured level, and
    # don't repeat at every poll that the aiohttp handler is "experimental" (a deliberate choice, see settings).
    logging.getLogger("scrapy").setLevel(level)
    logging.getLogger("scrapy.core.downloader.handlers._base_streaming").setLevel(logging.ERROR)
    # A source that cannot be reached is a condition of the source, said once per change by SourceConsole; the
    # download errors behind it (with tracebacks, at every poll, per request) become DEBUG records.
    for name in _DOWNLOAD_ERROR_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, _DemoteDownloadErrors) for f in target.filters):
            target.addFilter(_DemoteDownloadErrors())


# Scrapy's loggers that report failed downloads (given up retrying, robots.txt unreachable, download errors).
_DOWNLOAD_ERROR_LOGGERS = ("scrapy.downloadermiddlewares.retry", "scrapy.downloadermiddlewares.robotstxt",
                           "scrapy.core.scraper", "scrapy.core.engine")
_DOWNLOAD_ERROR_TEXT = ("Gave up retrying", "Error downloading", "Error while obtaining start requests")


class _DemoteDownloadErrors(logging.Filter):
    """Turns Scrapy's download-failure records into DEBUG records (dropped unless DEBUG is on). Spider errors
    (a callback that raised on a page) are left as they are: those are bugs to hand to a developer."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not any(text in str(record.msg) for text in _DOWNLOAD_ERROR_TEXT):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger("crawlers").isEnabledFor(logging.DEBUG)
