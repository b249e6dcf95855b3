"""Douyin (抖音) videos through a licensed data vendor's API (or the bank's own open-platform access).

The vendor shape read here: ``GET {endpoint}/videos/search?keyword=&since=<unix s>&cursor=&count=`` answering
``{"status_code": 0, "data": {"videos": [...], "cursor": 40, "has_more": 1}}`` and ``GET {endpoint}/videos/{id}``
answering ``{"status_code": 0, "data": {...}}``; a video has ``aweme_id``, ``desc`` (the caption: the only text),
``create_time`` (unix s), ``share_url``, ``author`` (``nickname``, ``uid``, ``follower_count``) and
``statistics`` (``digg_count`` likes, ``comment_count``, ``share_count`` counted as reposts, ``play_count``).
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


class DouyinAdapter(PlatformAdapter):
    name = "douyin"
    label = "抖音"

    def search(self, query: str, since: datetime | None, cursor: str | None, page_size: int) -> ApiCall:
        params = {"keyword": query, "count": str(page_size)}
        if since is not None:
            params["since"] = str(int(since.timestamp()))
        if cursor:
            params["cursor"] = cursor
        return ApiCall(f"{self.endpoint}/videos/search", params=params)

    def read_search(self, data: Any, since: datetime | None) -> Page:
        _check(data)
        videos = path(data, "data", "videos")
        if not isinstance(videos, list):
            raise ApiAnswerError("no data.videos list in the answer")
        items, reached = [], False
        for raw in videos:
            post = self.read_post(raw)
            if post is None:
                continue
            if since is not None and post.published_at is not None and post.published_at < since:
                reached = True
                continue
            items.append(post)
        cursor = text_of(path(data, "data", "cursor"))
        more = path(data, "data", "has_more") in (1, True) and cursor is not None and not reached
        return Page(items, cursor if more else None, reached)

    def fetch(self, post_id: str) -> ApiCall:
        return ApiCall(f"{self.endpoint}/videos/{quote(post_id, safe='')}")

    def read_post(self, data: Any) -> PlatformPost | None:
        if isinstance(data, dict) and "status_code" in data:
            _check(data)
            data = data.get("data")
        if not isinstance(data, dict):
            return None
        ident = text_of(data.get("aweme_id"))
        text = text_of(data.get("desc"))
        if ident is None or text is None:
            return None
        author = data.get("author") if isinstance(data.get("author"), dict) else {}
        stats = data.get("statistics") if isinstance(data.get("statistics"), dict) else {}
        meta = {"author_id": text_of(author.get("uid")), "video": True}
        return PlatformPost(
            id=ident, text=text, url=text_of(data.get("share_url")), author=text_of(author.get("nickname")),
            published_at=epoch_time(data.get("create_time")),
            metrics=metrics_of({"reposts": stats.get("share_count"), "comments": stats.get("comment_count"),
                                "likes": stats.get("digg_count"), "plays": stats.get("play_count"),
                                "followers": author.get("follower_count")}),
            meta={k: v for k, v in meta.items() if v is not None}, raw=data)


def _check(data: Any) -> None:
    if not isinstance(data, dict):
        raise ApiAnswerError("the answer is not a JSON object")
    code = data.get("status_code")
    if code not in (0, "0"):
        raise ApiAnswerError(f"vendor error {text_of(code) or '?'}: {text_of(data.get('status_msg')) or ''}".strip())
