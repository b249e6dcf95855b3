"""Drive a platform adapter (``crawlers.platforms``) for one ``platform`` source: search each keyword page by page
since the last poll, then re-read the counters of recent posts the searches did not return.

Credentials come from the environment variables the source names: a ready token, or an app id and secret exchanged
for an expiring token (kept in memory per process, refreshed before it expires and once more if the API rejects it
early). Requests are made one after another, never in parallel, so a rejected credential costs one request, not a
storm of them:

* **401 / 403** — the poll stops at once and the source fails with a message naming the environment variables to
  check (an exchanged token is first renewed once: it may have been revoked early);
* **429** — the ``Retry-After`` the platform asks for is waited out (at most ``platform.max_wait_seconds``, three
  times per request); beyond that the poll stops, keeping what it read;
* **5xx** — Scrapy's retry with backoff, as for every source (429 is taken out of its retry codes here).

Each poll searches from the newest stored post of the source minus ``platform.overlap_minutes`` (``since``): late-
indexed posts are found and recent posts' counters read again. Posts older than that but published within
``REFRESH_HOURS`` are re-read by id (``fetch``), at most ``REFRESH_LIMIT`` a poll, so a spreading post's samples keep
coming. API requests are never redirected (``dont_redirect``): a credential is sent to the endpoint the bank gave and
nowhere else.

Stats: ``yuqing/records``, ``yuqing/platform/token_exchanges``, ``yuqing/platform/token_rejected``,
``yuqing/platform/throttled``, ``yuqing/platform/waited_seconds``, ``yuqing/platform/refreshed``,
``yuqing/platform/gone``, ``yuqing/dates_refused`` (a publication time more than a day ahead of the crawl's
clock: the post is kept without it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response
from sqlalchemy import func, select
from twisted.python.failure import Failure

from crawlers.models import Article
from crawlers.platforms.adapters import ADAPTERS
from crawlers.platforms.base import ApiAnswerError, ApiCall, PlatformAdapter, PlatformPost
from crawlers.platforms.config import PlatformOptions
from crawlers.spiders.base import DATES_REFUSED_STAT, SourceSpider, response_headers

logger = logging.getLogger(__name__)

FUTURE_SLACK = timedelta(days=1)  # a publication time further ahead of the crawl's clock is not believed
TOKEN_MARGIN = timedelta(seconds=60)  # renew a token this long before the platform says it expires
MAX_THROTTLE_RETRIES = 3
REFRESH_HOURS = 48
REFRESH_LIMIT = 50
RETRY_CODES_WITHOUT_429 = [500, 502, 503, 504, 522, 524, 408]

# Exchanged tokens by (source id, token URL, app id): they live for hours, polls come every few minutes.
_TOKENS: dict[tuple[str, str, str], tuple[str, datetime]] = {}


def forget_tokens() -> None:
    """Drop every cached exchanged token (tests; a process that rotated its app secrets)."""
    _TOKENS.clear()


class CredentialsRejected(Exception):
    pass


class PlatformSpider(SourceSpider):
    # Each request is yielded by the previous one's callback, so Scrapy's DEPTH_LIMIT (meant for following links)
    # would cut the chain; it is bounded here by keywords × max_pages + REFRESH_LIMIT instead.
    custom_settings: ClassVar[dict[str, Any]] = {"RETRY_HTTP_CODES": RETRY_CODES_WITHOUT_429, "DEPTH_LIMIT": 0}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        assert self.source.platform is not None, "a platform source has platform options"
        self.opts: PlatformOptions = self.source.platform
        self.adapter: PlatformAdapter = ADAPTERS[self.opts.name](self.opts.endpoint)
        self.queries: list[str] = []
        self.since: datetime | None = None
        self.refresh_ids: list[str] = []
        self.read_ids: set[str] = set()
        self.halted = False
        self._token: str | None = None
        self._renewed = False
        self._sent_first = False

    # -- start ----------------------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        self.queries = list(self.opts.query) or _bank_names()
        if not self.queries:
            self._fail("没有搜索关键词：platform.query 为空，组织架构中也没有银行名称")
            return
        creds = self.opts.credentials
        if creds.token_env is not None:
            self._token = os.environ.get(creds.token_env, "").strip() or None
            if self._token is None:
                self._fail(f"未设置环境变量 {creds.token_env}（{self.adapter.label}接口的访问令牌）")
                return
        elif not self._app_credentials():
            return
        self.since, self.refresh_ids = await asyncio.to_thread(self._known_posts)
        if creds.exchanges:
            cached = _TOKENS.get(self._token_key())
            if cached is not None and cached[1] - TOKEN_MARGIN > self.now():
                self._token = cached[0]
            else:
                yield self._exchange(then=lambda: self._search(0, None, 1))
                return
        yield self._search(0, None, 1)

    # -- requests -------------------------------------------------------------------------------------------

    def _request(self, call: ApiCall, callback: Callable[..., Any], *, auth: bool = True,
                 cb_kwargs: dict[str, Any] | None = None, attempt: int = 0) -> scrapy.Request:
        headers = {"Accept": "application/json"}
        if auth and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        body = None
        if call.form is not None:
            body = urlencode(call.form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        entry = not self._sent_first
        self._sent_first = True
        return scrapy.Request(
            call.full_url, method=call.method, body=body, headers=headers, callback=callback,
            errback=self.on_api_error, dont_filter=True, cb_kwargs=cb_kwargs or {},
            meta={"handle_httpstatus_all": True, "dont_redirect": True, "yuqing_entry": entry,
                  "platform_attempt": attempt})

    def _search(self, index: int, cursor: str | None, page: int, attempt: int = 0) -> scrapy.Request:
        call = self.adapter.search(self.queries[index], self.since, cursor, self.opts.page_size)
        return self._request(call, self.on_search, attempt=attempt,
                             cb_kwargs={"index": index, "cursor": cursor, "page": page})

    def _fetch(self, position: int, attempt: int = 0) -> scrapy.Request:
        return self._request(self.adapter.fetch(self.refresh_ids[position]), self.on_fetch, attempt=attempt,
                             cb_kwargs={"position": position})

    def _exchange(self, then: Callable[[], scrapy.Request]) -> scrapy.Request:
        app_id, secret = self._app_credentials() or ("", "")
        call = self.adapter.token_call(self.opts.token_url, app_id, secret)
        self.crawler.stats.inc_value("yuqing/platform/token_exchanges")
        return self._request(call, self.on_token, auth=False, cb_kwargs={"then": then})

    def _after_query(self, index: int) -> scrapy.Request | None:
        if self.halted:
            return None
        if index + 1 < len(self.queries):
            return self._search(index + 1, None, 1)
        return self._next_fetch(-1)

    def _next_fetch(self, position: int) -> scrapy.Request | None:
        if self.halted:
            return None
        position += 1
        while position < len(self.refresh_ids) and self.refresh_ids[position] in self.read_ids:
            position += 1
        return self._fetch(position) if position < len(self.refresh_ids) else None

    # -- callbacks ------------------------------------------------------------------------------------------

    async def on_token(self, response: Response, then: Callable[[], scrapy.Request]) -> AsyncIterator[Any]:
        creds = self.opts.credentials
        if response.status in (400, 401, 403):
            self._fail(f"应用凭据被拒绝（HTTP {response.status}）：{self.adapter.label}接口不接受环境变量 "
                       f"{creds.app_id_env} / {creds.app_secret_env} 中的应用 ID 和密钥；本轮不再请求，请更新凭据"
                       f"（{self.opts.token_url}）")
            return
        redo = await self._trouble(response, lambda attempt: self._exchange(then))
        if redo is not None:
            for request in redo:
                yield request
            return
        try:
            token, lifetime = self.adapter.read_token(_json(response))
        except ApiAnswerError as exc:
            self._fail(f"换取访问令牌失败：{exc}（{self.opts.token_url}）")
            return
        self._token = token
        _TOKENS[self._token_key()] = (token, self.now() + timedelta(seconds=lifetime))
        yield then()

    async def on_search(self, response: Response, index: int, cursor: str | None, page: int) -> AsyncIterator[Any]:
        redo = await self._trouble(response, lambda attempt: self._search(index, cursor, page, attempt))
        if redo is not None:
            for request in redo:
                yield request
            return
        try:
            result = self.adapter.read_search(_json(response), self.since)
        except ApiAnswerError as exc:
            self._error(response, f"{self.adapter.label}接口返回无法读取：{exc}（{response.url}）")
            after = self._after_query(index)
            if after is not None:
                yield after
            return
        for post in result.items:
            if post.id in self.read_ids:
                continue
            self.read_ids.add(post.id)
            yield self._record(post, response)
        if result.next_cursor and page < self.opts.max_pages:
            yield self._search(index, result.next_cursor, page + 1)
            return
        after = self._after_query(index)
        if after is not None:
            yield after

    async def on_fetch(self, response: Response, position: int) -> AsyncIterator[Any]:
        if response.status in (404, 410):
            self.crawler.stats.inc_value("yuqing/platform/gone")
        else:
            redo = await self._trouble(response, lambda attempt: self._fetch(position, attempt))
            if redo is not None:
                for request in redo:
                    yield request
                return
            try:
                post = self.adapter.read_post(_json(response))
            except ApiAnswerError as exc:
                self._error(response, f"{self.adapter.label}接口返回无法读取：{exc}（{response.url}）")
                post = None
            if post is None:
                self.crawler.stats.inc_value("yuqing/platform/gone")
            elif post.id not in self.read_ids:
                self.read_ids.add(post.id)
                self.crawler.stats.inc_value("yuqing/platform/refreshed")
                yield self._record(post, response)
        following = self._next_fetch(position)
        if following is not None:
            yield following

    def on_api_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        if request is not None and request.meta.get("yuqing_entry"):
            self.on_entry_error(failure)
        else:
            self.errors.append(f"{self.adapter.label}接口请求失败：{failure.value!r}"[:500])
            self.crawler.stats.inc_value("yuqing/page_failures")

    # -- the shared judgement of an answer ------------------------------------------------------------------

    async def _trouble(self, response: Response,
                       redo: Callable[[int], scrapy.Request]) -> list[scrapy.Request] | None:
        """None when ``response`` is a usable 2xx answer; otherwise what to send instead (perhaps nothing)."""
        stats = self.crawler.stats
        entry = bool(response.meta.get("yuqing_entry"))
        if entry:
            stats.inc_value(f"yuqing/entry_status/{response.status}")
        attempt = int(response.meta.get("platform_attempt", 0))
        if self.halted:
            return []
        if response.status in (401, 403):
            if self.opts.credentials.exchanges and not self._renewed and self._token is not None:
                # An exchanged token the platform no longer takes (revoked, or its clock differs): renew it once.
                self._renewed = True
                stats.inc_value("yuqing/platform/token_rejected")
                _TOKENS.pop(self._token_key(), None)
                return [self._exchange(then=lambda: redo(attempt))]
            creds = self.opts.credentials
            where = (f"环境变量 {creds.token_env} 中的令牌" if creds.token_env
                     else f"用环境变量 {creds.app_id_env} / {creds.app_secret_env} 换取的令牌")
            self._fail(f"凭据被拒绝（HTTP {response.status}）：{self.adapter.label}接口不接受{where}；"
                       f"本轮不再请求，不会重试，请更新凭据（{_short(response.url)}）")
            return []
        if response.status == 429:
            wait = _retry_after(response)
            if attempt < MAX_THROTTLE_RETRIES and wait <= self.opts.max_wait_seconds:
                stats.inc_value("yuqing/platform/throttled")
                stats.inc_value("yuqing/platform/waited_seconds", wait)
                logger.info("%s: HTTP 429, waiting %.1f s as Retry-After asks", self.source.id, wait)
                await asyncio.sleep(wait)
                return [redo(attempt + 1)]
            self.halted = True
            message = (f"平台限流（HTTP 429）：要求 {wait:g} 秒后再试（上限 {self.opts.max_wait_seconds:g} 秒，"
                       f"已等待 {attempt} 次）；本轮停止，已读到的内容已保存（{_short(response.url)}）")
            if entry:
                self._fail(message)
            else:
                self.errors.append(message)
            return []
        if not 200 <= response.status < 300:
            self._error(response, f"HTTP {response.status}：{self.adapter.label}接口出错（{_short(response.url)}）")
            if entry:
                return []
            self.halted = True
            return []
        self.entry_ok = True  # the platform answered (a retried first request is no longer marked as the entry)
        return None

    # -- helpers --------------------------------------------------------------------------------------------

    def _record(self, post: PlatformPost, response: Response) -> Any:
        self.crawler.stats.inc_value("yuqing/records")
        if post.published_at is not None and post.published_at > self.now() + FUTURE_SLACK:
            # a post "from next week" would push every later poll's ``since`` past what is really new
            post = dataclasses.replace(post, published_at=None)
            self.crawler.stats.inc_value(DATES_REFUSED_STAT)
        item = self.adapter.to_record(post, source_id=self.source.id, channel=self.source.channel,
                                      fallback_url=self.adapter.fetch(post.id).full_url)
        return dataclasses.replace(item, status=response.status, headers=response_headers(response))

    def _fail(self, message: str) -> None:
        self.errors.append(message)
        self.entry_failed = True
        self.halted = True

    def _error(self, response: Response, message: str) -> None:
        if response.meta.get("yuqing_entry"):
            self._fail(message)
        else:
            self.errors.append(message)
            self.crawler.stats.inc_value("yuqing/page_failures")

    def _app_credentials(self) -> tuple[str, str] | None:
        creds = self.opts.credentials
        app_id = os.environ.get(creds.app_id_env or "", "").strip()
        secret = os.environ.get(creds.app_secret_env or "", "").strip()
        if not app_id or not secret:
            missing = [n for n, v in ((creds.app_id_env, app_id), (creds.app_secret_env, secret)) if not v]
            self._fail(f"未设置环境变量 {' / '.join(str(m) for m in missing)}（{self.adapter.label}接口的应用凭据）")
            return None
        return app_id, secret

    def _token_key(self) -> tuple[str, str, str]:
        app_id = os.environ.get(self.opts.credentials.app_id_env or "", "").strip()
        return self.source.id, self.opts.token_url, app_id

    def _known_posts(self) -> tuple[datetime | None, list[str]]:
        """``since`` (newest stored post minus the overlap) and the ids of recent posts to re-read."""
        factory = getattr(self, "session_factory", None)
        if factory is None:
            return None, []
        with factory() as session:
            newest = session.scalar(select(func.max(Article.published_at))
                                    .where(Article.source_id == self.source.id))
            ids = session.scalars(
                select(Article.external_id).where(Article.source_id == self.source.id,
                                                  Article.external_id.is_not(None),
                                                  Article.published_at >= self.now() - timedelta(hours=REFRESH_HOURS))
                .order_by(Article.published_at.desc()).limit(REFRESH_LIMIT)).all()
        since = None
        if newest is not None:
            newest = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
            since = newest - timedelta(minutes=self.opts.overlap_minutes)
        return since, [i for i in ids if i]


def _bank_names() -> list[str]:
    """The bank's name and aliases from the org chart the deployment uses."""
    from yuqing.org import load_org
    from yuqing.settings import load_settings

    return load_org(load_settings().org_path).bank.all_names()


def _json(response: Response) -> Any:
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiAnswerError("the answer is not JSON") from None


def _retry_after(response: Response) -> float:
    """Seconds the platform asks to wait: ``Retry-After`` as seconds or an HTTP date; 1 s when it does not say."""
    raw = response.headers.get("Retry-After")
    value = raw.decode("latin-1").strip() if raw else ""
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 1.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _short(url: str) -> str:
    return url.split("?", 1)[0]
