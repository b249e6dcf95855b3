"""WeChat public-account (微信公众号) articles through a licensed data vendor's search API: WeChat itself offers
no public search, so a bank gets these from a vendor it has a contract with, with a token or an app id + secret.

The vendor shape read here: ``GET {endpoint}/articles/search?keyword=&since=<unix s>&cursor=&count=`` answering
``{"code": 0, "data": {"items": [...], "next_cursor": "…", "has_more": true}}`` and ``GET
{endpoint}/articles/{id}`` answering ``{"code": 0, "data": {...}}``; an item has ``article_id``, ``title``,
``digest``, ``content``, ``url``, ``publish_time`` (unix s), ``account`` (``name``, ``biz``, ``fans``) and the
counters ``read_num``, ``like_num``, ``looking_num`` (在看, which pushes the article to the reader's friends: counted
as reposts) and ``comment_num``. A non-zero ``code`` is the vendor refusing: reported with its message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from crawlers.platforms.base import (
    ApiAnswerError,
    ApiCall,
    Page,
    PlatformAdapter,
    PlatformPost,
    epoch_time,
    metrics_of,
    path,
    text_of,
)


class WechatAdapter(PlatformAdapter):
    name = "wechat"
    label = "微信公众号"

    def search(self, query: str, since: datetime | None, cursor: str | None, page_size: int) -> ApiCall:
        params = {"keyword": query, "count": str(page_size)}
        if since is not None:
            params["since"] = str(int(since.timestamp()))
        if cursor:
            params["cursor"] = cursor
        return ApiCall(f"{self.endpoint}/articles/search", params=params)

    def read_search(self, data: Any, since: datetime | None) -> Page:
        _check(data)
        raw_items = path(data, "data", "items")
        if not isinstance(raw_items, list):
            raise ApiAnswerError("no data.items list in the answer")
        items, reached = [], False
        for raw in raw_items:
            post = self.read_post(raw)
            if post is None:
                continue
            if since is not None and post.published_at is not None and post.published_at < since:
                reached = True
                continue
            items.append(post)
        cursor = text_of(path(data, "data", "next_cursor"))
        more = path(data, "data", "has_more") in (1, True) and cursor is not None and not reached
        return Page(items, cursor if more else None, reached)

    def fetch(self, post_id: str) -> ApiCall:
        return ApiCall(f"{self.endpoint}/articles/{quote(post_id, safe='')}")

    def read_post(self, data: Any) -> PlatformPost | None:
        if isinstance(data, dict) and "code" in data:  # a single-article answer wraps the item in data
            _check(data)
            data = data.get("data")
        if not isinstance(data, dict):
            return None
        ident = text_of(data.get("article_id"))
        text = text_of(data.get("content")) or text_of(data.get("digest"))
        if ident is None or text is None:
            return None
        account = data.get("account") if isinstance(data.get("account"), dict) else {}
        meta = {"account": text_of(account.get("name")), "account_id": text_of(account.get("biz")),
                "digest": text_of(data.get("digest"))}
        return PlatformPost(
            id=ident, text=text, title=text_of(data.get("title")) or "", url=text_of(data.get("url")),
            author=text_of(account.get("name")), published_at=epoch_time(data.get("publish_time")),
            metrics=metrics_of({"reposts": data.get("looking_num"), "comments": data.get("comment_num"),
                                "likes": data.get("like_num"), "reads": data.get("read_num"),
                                "followers": account.get("fans")}),
            meta={k: v for k, v in meta.items() if v is not None}, raw=data)


def _check(data: Any) -> None:
    if not isinstance(data, dict):
        raise ApiAnswerError("the answer is not a JSON object")
    code = data.get("code")
    if code not in (0, "0"):
        raise ApiAnswerError(f"vendor error {text_of(code) or '?'}: {text_of(data.get('message')) or ''}".strip())
