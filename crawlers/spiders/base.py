"""The behaviour every source spider shares: conditional entry requests, article requests, and error accounting.

A poll succeeds or fails on its *entry* request (the feed, sitemap, first list page or first API page): a 304 there
is a healthy run with nothing new, while a 401, a 500 after retries or a timeout fails the source with a message an
admin can act on. Article pages are fetched once (known URLs are skipped) and their failures are counted without
failing the source, except when every article fetch failed.

Requests carry no source credentials: the source's ``headers`` (and a JSON API's token) are added by
``OwnOriginHeadersMiddleware`` only to requests for the source's own origin, so an article link or a redirect to
another host never receives them. The spider's ``private_network`` is what the SSRF guard allows it to reach.

Everything a page says is hostile. Article URLs are absolute http(s) only (``article_url``: relative links are
resolved against the page, anything else — ``javascript:``, ``data:``, no host, credentials — is dropped and
counted as ``yuqing/dropped/bad_url``, which counts against the source's health). Times go through
``parse_time``, which never raises and refuses dates before 1990 or more than a day after the spider's clock.

Stats keys written here (read by ``crawlers.health``): ``yuqing/entry_status/<code>``, ``yuqing/not_modified``,
``yuqing/skipped_seen``, ``yuqing/pages_requested``, ``yuqing/pages_received``, ``yuqing/page_failures``,
``yuqing/page_ignored_status/<code>``, ``yuqing/dropped/<reason>``, ``yuqing/dates_refused``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.sources import SourceConfig
from crawlers.spiders.items import PageHints, PageItem, ValidatorItem
from crawlers.spiders.middlewares import AlreadySeen
from crawlers.spiders.timeparse import parse_datetime
from crawlers.spiders.urls import url_hash, web_url
from crawlers.ssrf import PrivateAllowance

logger = logging.getLogger(__name__)

BAD_URL_STAT = "yuqing/dropped/bad_url"  # an item or link whose URL is not an absolute http(s) URL
DATES_REFUSED_STAT = "yuqing/dates_refused"  # a time given but unreadable or implausible: stored without it
LOGGED_URL_CHARS = 120
HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
TOO_LARGE_STATUS = 413  # recorded in SeenUrl.status_code for a page dropped for its size
# Feeds, sitemaps, list and API pages may be far larger than an article page (DOWNLOAD_MAXSIZE, 2 MB, is the
# extractor's input cap): a full-text feed of 10,000 items is about 3.5 MB. They are parsed, not extracted, so they
# get their own cap — still a cap, so a runaway answer cannot fill the memory.
ENTRY_MAXSIZE = 32 * 1024 * 1024


@dataclass
class KnownState:
    """What earlier polls left behind: URLs already stored and validators for conditional GETs."""

    seen: set[str] = field(default_factory=set)  # url hashes
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # url hash → (etag, lm)
    # URL hashes claimed by any spider of the same crawl round (shared object): the feed, the sitemap and the list
    # page of one site usually point at the same new articles, which should be fetched once, not three times.
    claimed: set[str] = field(default_factory=set)


class SourceSpider(scrapy.Spider):
    """Base of the generic spiders; one instance crawls one ``SourceConfig`` once."""

    def __init__(self, source: SourceConfig, known: KnownState | None = None, **kwargs: Any):
        super().__init__(name=source.id, **kwargs)
        self.source = source
        self.known = known or KnownState()
        self.private_network: PrivateAllowance | None = source.private_allowance  # read by SSRFGuardMiddleware
        self.errors: list[str] = []
        self.entry_ok = False  # an entry response was read
        self.entry_failed = False  # an entry request failed: the source failed this poll
        self.not_modified = False
        self._queued: set[str] = set()
        self._articles_queued = 0

    # -- requests -------------------------------------------------------------------------------------------

    def entry_request(self, url: str, callback: Any, *, entry: bool = True, headers: dict[str, str] | None = None,
                      cb_kwargs: dict[str, Any] | None = None) -> scrapy.Request:
        """A feed / sitemap / list / API page request, conditional when validators are known."""
        all_headers = dict(headers or {})
        etag, last_modified = self.known.validators.get(url_hash(url), (None, None))
        if etag:
            all_headers["If-None-Match"] = etag
        if last_modified:
            all_headers["If-Modified-Since"] = last_modified
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_entry_error if entry else self.on_page_error,
            headers=all_headers,
            meta={"handle_httpstatus_all": True, "yuqing_entry": entry, "download_maxsize": ENTRY_MAXSIZE,
                  "download_warnsize": ENTRY_MAXSIZE // 2},
            cb_kwargs=cb_kwargs or {},
            dont_filter=True,
        )

    def article_request(self, url: str, hints: PageHints | None = None) -> scrapy.Request | None:
        """A request for an article page, or None if it is known, already queued, over ``max_items``, or not an
        absolute http(s) URL (counted, see ``article_url``)."""
        if web_url(url) is None:
            self.bad_url(url)
            return None
        key = url_hash(url)
        stats = self.crawler.stats
        if key in self.known.seen:
            stats.inc_value("yuqing/skipped_seen")
            return None
        if key in self._queued:
            return None
        if key in self.known.claimed:
            stats.inc_value("yuqing/skipped_claimed")
            return None
        if self._articles_queued >= self.source.max_items:
            stats.inc_value("yuqing/skipped_over_limit")
            return None
        self._queued.add(key)
        self.known.claimed.add(key)
        self._articles_queued += 1
        stats.inc_value("yuqing/pages_requested")
        return scrapy.Request(
            url,
            callback=self.parse_article,
            meta={"yuqing_article": True},
            errback=self.on_page_error,
            cb_kwargs={"hints": hints or PageHints()},
        )

    def own_headers(self) -> dict[str, str]:
        """Headers only the source's own origin may receive (``OwnOriginHeadersMiddleware`` adds or strips them)."""
        return dict(self.source.headers)

    def fail_entry(self, response: Response, message: str) -> None:
        """Record an unusable entry response (not a feed, not JSON…): the source failed this poll."""
        self.errors.append(message)
        if response.meta.get("yuqing_entry"):
            self.entry_failed = True

    def article_url(self, link: object, base: str | None) -> str | None:
        """``link`` as an absolute http(s) URL (resolved against ``base``, the page it was on), or None — counted
        as ``yuqing/dropped/bad_url`` and logged — when it is missing or cannot be one (``javascript:``…)."""
        url = web_url(link, base)
        if url is None:
            self.bad_url(link)
        return url

    def bad_url(self, link: object) -> None:
        self.crawler.stats.inc_value(BAD_URL_STAT)
        shown = repr(link)[:LOGGED_URL_CHARS]
        logger.warning("%s: dropped an item whose link is not an http(s) URL: %s", self.source.id, shown)

    def now(self) -> datetime:
        """The crawl's clock (``crawl_sources`` passes it); the system clock for a spider built without one."""
        clock = getattr(self, "clock", None)
        return clock.now() if clock is not None else datetime.now(UTC)

    def parse_time(self, value: object) -> datetime | None:
        """A publication time from a feed, sitemap or API (see ``parse_datetime``): None when missing, unreadable
        or implausible (before 1990, or more than a day ahead of ``now``) — the item is kept without it."""
        result = parse_datetime(value, now=self.now())
        if result is None and value is not None and not (isinstance(value, str) and not value.strip()):
            self.crawler.stats.inc_value(DATES_REFUSED_STAT)
        return result

    def is_new(self, url: str) -> bool:
        key = url_hash(url)
        return key not in self.known.seen and key not in self._queued and key not in self.known.claimed

    # -- callbacks --------------------------------------------------------------------------------------------

    def accept_entry(self, response: Response) -> tuple[bool, list[ValidatorItem]]:
        """Judge an entry-like response: (go on parsing?, validator items to store)."""
        is_entry = bool(response.meta.get("yuqing_entry"))
        stats = self.crawler.stats
        if is_entry:
            stats.inc_value(f"yuqing/entry_status/{response.status}")
        if response.status == 304:
            if is_entry:
                self.entry_ok = True
                self.not_modified = True
            stats.inc_value("yuqing/not_modified")
            return False, [self._validators(response)]
        if response.status >= 400 or response.status < 200:
            message = _status_message(response.status, response.url, self.source)
            if is_entry:
                self.errors.append(message)
                self.entry_failed = True
            elif response.status in (404, 410):
                stats.inc_value(f"yuqing/page_ignored_status/{response.status}")
            else:
                self.errors.append(message)
                stats.inc_value("yuqing/page_failures")
            return False, []
        if is_entry:
            self.entry_ok = True
        return True, [self._validators(response)]

    def parse_article(self, response: Response, hints: PageHints) -> Iterable[PageItem]:
        stats = self.crawler.stats
        stats.inc_value("yuqing/pages_received")
        content_type = _header(response, "Content-Type")
        if content_type and not content_type.split(";", 1)[0].strip().lower().startswith(HTML_TYPES):
            stats.inc_value("yuqing/dropped/not_html")
            logger.info("%s: dropped %s: content type %s is not HTML", self.source.id, response.url, content_type)
            return
        yield PageItem(
            source_id=self.source.id,
            channel=self.source.channel,
            url=response.url,
            body=response.body,
            content_type=content_type,
            status=response.status,
            requested_url=response.request.url if response.request else None,
            etag=_header(response, "ETag"),
            last_modified=_header(response, "Last-Modified"),
            hints=hints,
            headers=response_headers(response),
        )

    def on_entry_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        url = request.url if request is not None else self.source.url
        self.errors.append(f"入口请求失败：{_failure_reason(failure)}（{url}）")
        self.entry_failed = True
        self.crawler.stats.inc_value("yuqing/entry_failures")

    def on_page_error(self, failure: Failure) -> Iterable[ValidatorItem]:
        """Count a failed page; pages that will never work (gone, too large) are remembered so as not to retry."""
        stats = self.crawler.stats
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        exc = failure.value
        if isinstance(exc, HttpError):
            status = exc.response.status
            if status < 500 and status not in (408, 429):
                stats.inc_value(f"yuqing/page_ignored_status/{status}")
                logger.info("%s: ignored %s (HTTP %s)", self.source.id, url, status)
                if status in (404, 410) and request is not None and request.meta.get("yuqing_article"):
                    yield ValidatorItem(source_id=self.source.id, url=url, status=status)
                return
        if isinstance(exc, DownloadCancelledError):
            stats.inc_value("yuqing/dropped/too_large")
            logger.warning("%s: dropped %s: %s", self.source.id, url, exc)
            if request is not None and request.meta.get("yuqing_article"):
                yield ValidatorItem(source_id=self.source.id, url=url, status=TOO_LARGE_STATUS)
            return
        if isinstance(exc, AlreadySeen):
            return
        if isinstance(exc, IgnoreRequest):
            stats.inc_value("yuqing/dropped/refused")
            logger.warning("%s: refused %s: %s", self.source.id, url, exc)
            return
        stats.inc_value("yuqing/page_failures")
        self.errors.append(f"页面抓取失败：{_failure_reason(failure)}（{url}）")

    # -- helpers ----------------------------------------------------------------------------------------------

    def _validators(self, response: Response) -> ValidatorItem:
        return ValidatorItem(
            source_id=self.source.id,
            url=response.request.url if response.request else response.url,
            status=response.status,
            etag=_header(response, "ETag"),
            last_modified=_header(response, "Last-Modified"),
        )

    async def start(self) -> AsyncIterator[Any]:  # pragma: no cover - every subclass overrides
        raise NotImplementedError
        yield


MAX_HEADERS = 100
MAX_HEADER_CHARS = 4096


def response_headers(response: Response) -> dict[str, str]:
    """A response's headers for the evidence record: names and values decoded as latin-1 (what HTTP allows),
    repeated headers joined with ", ", at most ``MAX_HEADERS`` headers of ``MAX_HEADER_CHARS`` each (hostile
    servers send megabytes of headers)."""
    out: dict[str, str] = {}
    for name, values in response.headers.items():
        if len(out) >= MAX_HEADERS:
            break
        key = name.decode("latin-1", errors="replace")[:MAX_HEADER_CHARS]
        out[key] = ", ".join(v.decode("latin-1", errors="replace") for v in values)[:MAX_HEADER_CHARS]
    return out


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    if value is None:
        return None
    return value.decode("latin-1", errors="replace").strip() or None


def _status_message(status: int, url: str, source: SourceConfig) -> str:
    if status in (401, 403):
        hint = ""
        if source.json_api is not None and source.json_api.auth is not None:
            hint = f"，请检查环境变量 {source.json_api.auth.token_env} 中的令牌"
        return f"HTTP {status}：访问被拒绝（认证失败{hint}）（{url}）"
    if status == 404:
        return f"HTTP 404：地址不存在（{url}）"
    if status >= 500:
        return f"HTTP {status}：对方服务器错误，重试后仍失败（{url}）"
    return f"HTTP {status}（{url}）"


def _failure_reason(failure: Failure) -> str:
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        return f"请求被拒绝：{exc}"
    name = type(exc).__name__
    text = str(exc).strip()
    return f"{name}: {text}" if text else name
