"""One interface for login-walled platforms (Weibo, WeChat public accounts, Douyin) reached through an API the bank
is entitled to — its licensed data vendor or its own accounts — never through scraping behind a login.

An adapter knows one platform's (or vendor's) API: how to ask for a search page or one post, and how to read the
JSON answers into ``PlatformPost``s. It does no I/O itself: ``search(query, since, cursor)`` and ``fetch(post_id)``
return the ``ApiCall`` to make, and ``read_search`` / ``read_post`` read what came back. The platform spider
(``crawlers.spiders.platform``) makes the calls through Scrapy, so every request passes the SSRF guard, the retry
backoff and the source's health accounting like any other crawl, and the adapter can be tested on plain JSON.

What an adapter never does: solve captchas, forge or replay request signatures, log in with a person's account, or
read anything the credentials the bank supplied do not entitle it to. A 401 or 403 is reported, never worked
around.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from crawlers.spiders.items import RecordItem
from crawlers.spiders.urls import web_url

MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class ApiCall:
    """One HTTP request an adapter wants made. ``form`` is sent as an urlencoded POST body."""

    url: str
    method: str = "GET"
    params: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None

    @property
    def full_url(self) -> str:
        if not self.params:
            return self.url
        return f"{self.url}{'&' if '?' in self.url else '?'}{urlencode(self.params)}"


@dataclass(frozen=True)
class PlatformPost:
    """A post, article or video as every platform has one: who, when, what, how far it went."""

    id: str
    text: str
    url: str | None = None
    title: str = ""
    author: str | None = None
    published_at: datetime | None = None
    metrics: dict[str, int] = field(default_factory=dict)  # reposts, comments, likes, followers, reads, plays
    meta: dict[str, Any] = field(default_factory=dict)
    raw: Any = None  # the record as the API served it (evidence)


@dataclass(frozen=True)
class Page:
    """One page of search results, newest first. ``next_cursor`` is None when there is nothing further to read;
    ``reached_since`` says the page went back to the ``since`` asked for (older items were left out)."""

    items: list[PlatformPost]
    next_cursor: str | None = None
    reached_since: bool = False


class ApiAnswerError(ValueError):
    """The API answered 200 with something that is not the shape the adapter reads (or an error code inside)."""


class PlatformAdapter(ABC):
    """A platform's API; see the module docstring. ``endpoint`` is the base URL the bank was given."""

    name: ClassVar[str]
    label: ClassVar[str]  # shown to bank staff: 微博, 微信公众号, 抖音

    def __init__(self, endpoint: str):
        self.endpoint = endpoint.rstrip("/")

    @abstractmethod
    def search(self, query: str, since: datetime | None, cursor: str | None, page_size: int) -> ApiCall:
        """The call for one page of posts matching ``query`` published at or after ``since`` (None: no limit)."""

    @abstractmethod
    def read_search(self, data: Any, since: datetime | None) -> Page:
        """Read a search answer; raise ``ApiAnswerError`` when it is not one."""

    @abstractmethod
    def fetch(self, post_id: str) -> ApiCall:
        """The call for one post by its id (to refresh its counters)."""

    @abstractmethod
    def read_post(self, data: Any) -> PlatformPost | None:
        """Read a single-post answer; None when the post is gone."""

    def token_call(self, token_url: str, app_id: str, app_secret: str) -> ApiCall:
        """The client-credentials exchange: app id + secret for an access token (sent only in the POST body)."""
        return ApiCall(token_url, "POST", form={"grant_type": "client_credentials", "app_id": app_id,
                                                "app_secret": app_secret})

    @staticmethod
    def read_token(data: Any) -> tuple[str, float]:
        """(access token, seconds it lives) from an exchange answer."""
        if not isinstance(data, dict):
            raise ApiAnswerError("token answer is not a JSON object")
        token = data.get("access_token")
        lifetime = data.get("expires_in")
        if not isinstance(token, str) or not token.strip():
            raise ApiAnswerError("token answer has no access_token")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or not math.isfinite(lifetime):
            lifetime = 0
        return token.strip(), max(0.0, float(lifetime))

    def to_record(self, post: PlatformPost, *, source_id: str, channel: str, fallback_url: str) -> RecordItem:
        """The post as the item pipeline stores it. A link that is no absolute http(s) URL is replaced by
        ``fallback_url`` (the post's address on the API), never stored."""
        meta = {"external_id": post.id, "platform": self.name, **post.meta}
        return RecordItem(
            source_id=source_id, channel=channel, url=web_url(post.url) or fallback_url, external_id=post.id[:128],
            text=post.text[:MAX_TEXT_CHARS], title=post.title[:500], author=post.author,
            published_at=post.published_at, metrics=dict(post.metrics), meta=meta,
            raw=json.dumps(post.raw, ensure_ascii=False, default=str).encode("utf-8", errors="backslashreplace"),
        )


class VendorSearchAdapter(PlatformAdapter):
    """A data vendor's keyword search over one collection: ``GET {endpoint}/{collection}/search?keyword=&since=<unix
    s>&cursor=&count=`` answering ``{<code_key>: 0, "data": {<items_key>: [...], <cursor_key>: …, "has_more": …}}``
    and ``GET {endpoint}/{collection}/{id}`` answering ``{<code_key>: 0, "data": {...}}``. Vendors differ only in
    those names and in how one item reads (``read_item``), so the paging, the ``since`` cut-off and the error
    check are written once here."""

    collection: ClassVar[str]  # the URL segment: videos, articles
    items_key: ClassVar[str]  # data.<items_key> holds the page's items
    cursor_key: ClassVar[str]  # data.<cursor_key> is the next page's cursor
    code_key: ClassVar[str]  # non-zero: the vendor refused; its message is under message_key
    message_key: ClassVar[str]

    def search(self, query: str, since: datetime | None, cursor: str | None, page_size: int) -> ApiCall:
        params = {"keyword": query, "count": str(page_size)}
        if since is not None:
            params["since"] = str(int(since.timestamp()))
        if cursor:
            params["cursor"] = cursor
        return ApiCall(f"{self.endpoint}/{self.collection}/search", params=params)

    def read_search(self, data: Any, since: datetime | None) -> Page:
        self.check(data)
        raw_items = path(data, "data", self.items_key)
        if not isinstance(raw_items, list):
            raise ApiAnswerError(f"no data.{self.items_key} list in the answer")
        items, reached = [], False
        for raw in raw_items:
            post = self.read_post(raw)
            if post is None:
                continue
            if since is not None and post.published_at is not None and post.published_at < since:
                reached = True
                continue
            items.append(post)
        cursor = text_of(path(data, "data", self.cursor_key))
        more = path(data, "data", "has_more") in (1, True) and cursor is not None and not reached
        return Page(items, cursor if more else None, reached)

    def fetch(self, post_id: str) -> ApiCall:
        return ApiCall(f"{self.endpoint}/{self.collection}/{quote(post_id, safe='')}")

    def read_post(self, data: Any) -> PlatformPost | None:
        if isinstance(data, dict) and self.code_key in data:  # a single-item answer wraps the item in data
            self.check(data)
            data = data.get("data")
        return self.read_item(data) if isinstance(data, dict) else None

    @abstractmethod
    def read_item(self, data: dict[str, Any]) -> PlatformPost | None:
        """One item of the vendor's shape; None when it lacks an id or any text."""

    def check(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise ApiAnswerError("the answer is not a JSON object")
        code = data.get(self.code_key)
        if code not in (0, "0"):
            message = text_of(data.get(self.message_key)) or ""
            raise ApiAnswerError(f"vendor error {text_of(code) or '?'}: {message}".strip())


# -- helpers for reading hostile JSON --------------------------------------------------------------------------


def text_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def count_of(value: Any) -> int | None:
    """A counter as an int, or None when it is no finite, non-negative whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
        value = int(value.strip())
    return value if isinstance(value, int) and 0 <= value < 2**63 else None


def epoch_time(value: Any) -> datetime | None:
    """Unix seconds as an aware UTC time; None when absent or absurd (before 1990, after 2100)."""
    seconds = count_of(value)
    if seconds is None or not 631_152_000 <= seconds <= 4_102_444_800:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def metrics_of(pairs: dict[str, Any]) -> dict[str, int]:
    return {name: n for name, v in pairs.items() if (n := count_of(v)) is not None}


def path(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
