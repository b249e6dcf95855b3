"""Per-domain politeness: one request budget per registrable domain, shared by every source and every worker.

Scrapy spaces requests per crawler (``DOWNLOAD_DELAY``), and every source is its own crawler, so ten sources on
one site — its feed, sitemap, list pages and a JSON API, maybe on ``news.example.cn`` and ``www.example.cn`` — and
each crawl worker running them would hit that site ten times, times the workers, as hard as one source. Here the
budget belongs to the *registrable domain* (``example.cn``, ``example.com.cn``: the public-suffix list bundled with
tldextract, never fetched; an IP address or a single-label name such as ``localhost`` is its own domain): request
starts to one domain are spaced at least ``interval`` seconds apart, whoever makes them.

How: each request *reserves* the next free slot of its domain — ``slot = max(now, next_free)``, ``next_free = slot
+ interval`` — in one atomic step, then sleeps until its slot. With Redis (``YUQING_REDIS_URL``) the step is a Lua
script on the server, timed by the server's clock, so every process on every machine shares the budget; without
Redis, or while Redis cannot be reached (counted as ``politeness/redis_unavailable`` in the crawl's stats and
logged once per crawl), a limiter in this process does the same for the sources of this process only.
``DomainPolitenessMiddleware`` applies it to every request a spider makes (robots.txt, retries and redirects
included), after the SSRF guard and the seen-URL filter have dropped what will not be fetched.

What it guarantees: slots are ``interval`` apart; a request is sent no earlier than its slot. It may be sent later
(Scrapy's own per-source delay and concurrency limit still apply after the reservation), so the measured spacing
of two sends can fall short of ``interval`` by how much the first was held up more than the second.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "yuqing"
KEY_FORMAT = "{namespace}:polite:{domain}"

# KEYS[1]: the domain's key; ARGV[1]: the interval in microseconds. Returns how many microseconds to wait.
# Redis's own clock (TIME) times every worker, so clocks of different machines never disagree about a slot.
RESERVE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, free)
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', math.floor((slot + interval - now) / 1000) + 60000)
return slot - now
"""


@lru_cache(maxsize=1)
def _extractor():
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)  # the bundled list: no network


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """``news.example.cn`` → ``example.cn``; ``a.b.example.com.cn`` → ``example.com.cn``; an IP or a name with no
    public suffix (``localhost``, ``sim``) stays as it is. Lower-case, without a trailing dot."""
    host = (host or "").strip().rstrip(".").lower()
    if not host:
        return ""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host.strip("[]")
    except ValueError:
        pass
    parts = _extractor()(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    return host


def domain_of(url: str) -> str:
    """The registrable domain of a URL's host ("" for a URL without one)."""
    try:
        return registrable_domain(urlsplit(url).hostname or "")
    except ValueError:
        return ""


class DomainLimiter(Protocol):
    async def reserve(self, domain: str, interval: float) -> float:
        """Reserve ``domain``'s next slot; return the seconds to wait until it."""


class LocalDomainLimiter:
    """The in-process budget: slots kept in this process (monotonic clock), shared by all its crawls and threads."""

    def __init__(self) -> None:
        self._free: dict[str, float] = {}
        self._lock = threading.Lock()

    async def reserve(self, domain: str, interval: float) -> float:
        return self.reserve_now(domain, interval)

    def reserve_now(self, domain: str, interval: float) -> float:
        now = time.monotonic()
        with self._lock:
            slot = max(now, self._free.get(domain, 0.0))
            self._free[domain] = slot + interval
        return slot - now


class RedisDomainLimiter:
    """The shared budget: slots kept in Redis, reserved by a server-side script (see ``RESERVE_SCRIPT``)."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self.client = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self.client.register_script(RESERVE_SCRIPT)

    async def reserve(self, domain: str, interval: float) -> float:
        waited = await self._script(keys=[domain], args=[max(1, int(interval * 1_000_000))])
        return int(waited) / 1_000_000

    async def close(self) -> None:
        await self.client.aclose()


LOCAL = LocalDomainLimiter()  # one per process: every crawl in it shares the same slots


class DomainPolitenessMiddleware:
    """Downloader middleware: wait for the request's domain slot before it is downloaded.

    Settings: ``YUQING_DOMAIN_DELAY`` (seconds between request starts to one registrable domain; defaults to
    ``DOWNLOAD_DELAY``; 0 turns the budget off), ``YUQING_REDIS_URL`` (shared budget; empty: in-process only),
    ``YUQING_POLITENESS_NAMESPACE`` (Redis key prefix, default ``yuqing``: deployments sharing a Redis keep apart).
    Stats: ``politeness/wait_seconds``, ``politeness/requests``, ``politeness/redis_unavailable``.
    """

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.interval = settings.getfloat("YUQING_DOMAIN_DELAY", settings.getfloat("DOWNLOAD_DELAY", 0.0))
        if self.interval <= 0:
            raise NotConfigured
        self.namespace = settings.get("YUQING_POLITENESS_NAMESPACE") or DEFAULT_NAMESPACE
        url = settings.get("YUQING_REDIS_URL") or ""
        self.shared: RedisDomainLimiter | None = RedisDomainLimiter(url) if url else None
        self._warned = False
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DomainPolitenessMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        domain = domain_of(request.url)
        if not domain:
            return
        key = KEY_FORMAT.format(namespace=self.namespace, domain=domain)
        wait = await self._reserve(key)
        stats = self.crawler.stats
        stats.inc_value("politeness/requests")
        if wait > 0:
            stats.inc_value("politeness/wait_seconds", round(wait, 3))
            await asyncio.sleep(wait)

    async def _reserve(self, key: str) -> float:
        if self.shared is not None:
            try:
                return await self.shared.reserve(key, self.interval)
            except Exception as exc:  # Redis down or unreachable: keep crawling, politely, in this process
                self.crawler.stats.inc_value("politeness/redis_unavailable")
                if not self._warned:
                    self._warned = True
                    log.warning("Redis 不可用，按域名限速暂时只在本进程内生效 (politeness falls back to this process): "
                                "%s: %s", type(exc).__name__, exc)
        return LOCAL.reserve_now(key, self.interval)

    async def _closed(self) -> None:
        if self.shared is not None:
            try:
                await self.shared.close()
            except Exception:  # closing a broken connection must not fail the crawl's end
                log.debug("closing the politeness Redis client failed", exc_info=True)
