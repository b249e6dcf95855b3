"""Downloader middlewares of our own: exponential retry backoff, skipping URLs any source already fetched, and
keeping a source's headers and token on the source's own origin.

Backoff: Scrapy's RetryMiddleware re-schedules a failed request at once; a struggling server (the intermittent 500s of a
busy news site) is better served by waiting. A request carrying ``retry_times`` = n waits
``YUQING_RETRY_BACKOFF * 2**(n-1)`` seconds (capped by ``YUQING_RETRY_BACKOFF_MAX``) before it is downloaded.
The wait is recorded in stats as ``retry/backoff_seconds``.

Own-origin headers: a source's configured headers and a JSON API's token are credentials for that one site. Scrapy's
RedirectMiddleware copies every header into the redirected request (it drops only ``Cookie`` and
``Authorization`` across hosts), and article links lead anywhere, so ``OwnOriginHeadersMiddleware`` looks at every
request as it is about to be downloaded — redirects come back through it — and adds those headers when the request
is for the source URL's origin (scheme, host, port) and removes them otherwise.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest, NotConfigured
from sqlalchemy import select

from crawlers.models import SeenUrl
from crawlers.spiders.urls import url_hash

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from sqlalchemy.orm import Session, sessionmaker


class RetryBackoffMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.base = crawler.settings.getfloat("YUQING_RETRY_BACKOFF", 1.0)
        self.cap = crawler.settings.getfloat("YUQING_RETRY_BACKOFF_MAX", 30.0)
        if self.base <= 0:
            raise NotConfigured

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryBackoffMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        attempt = int(request.meta.get("retry_times", 0))
        if attempt <= 0:
            return
        delay = min(self.cap, self.base * 2 ** (attempt - 1))
        self.crawler.stats.inc_value("retry/backoff_seconds", delay)
        await asyncio.sleep(delay)


class AlreadySeen(IgnoreRequest):
    """An article request dropped because another source (or an earlier poll) already fetched its URL."""


class SeenUrlFilterMiddleware:
    """Drop article requests whose URL is already in ``seen_urls``, whichever source fetched it first.

    Spiders skip their own source's known URLs from a set loaded before the crawl; this catches the rest (the same
    article in a site's feed, sitemap and list page) with one indexed lookup per candidate, off the event loop.
    Only requests marked ``meta["yuqing_article"]`` are checked; the spider needs a ``session_factory``.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SeenUrlFilterMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if not request.meta.get("yuqing_article") or request.meta.get("redirect_times"):
            return
        factory = getattr(self.crawler.spider, "session_factory", None)
        if factory is None:
            return
        if await asyncio.to_thread(_url_known, factory, url_hash(request.url)):
            self.crawler.stats.inc_value("yuqing/skipped_seen")
            raise AlreadySeen("already fetched")


def _url_known(factory: sessionmaker[Session], key: str) -> bool:
    with factory() as session:
        return session.scalar(select(SeenUrl.id).where(SeenUrl.url_hash == key)) is not None


class OwnOriginHeadersMiddleware:
    """Give the spider's ``own_headers()`` to requests for its source's origin only; strip them from all others.

    Runs before ``DefaultHeadersMiddleware`` (400) and adds with ``setdefault``, so a header the spider set on one
    request (``Accept: application/json``) wins, and a stripped ``Accept`` or ``User-Agent`` falls back to the
    defaults rather than to nothing.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OwnOriginHeadersMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        spider = self.crawler.spider
        own_headers = getattr(spider, "own_headers", None)
        source = getattr(spider, "source", None)
        if not callable(own_headers) or source is None:
            return
        headers: dict[str, str] = own_headers()
        if not headers:
            return
        if origin(request.url) == origin(source.url):
            for name, value in headers.items():
                request.headers.setdefault(name, value)
        else:
            for name in headers:
                request.headers.pop(name, None)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in; a malformed URL has no port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return scheme, "", None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").rstrip(".").lower(), port
