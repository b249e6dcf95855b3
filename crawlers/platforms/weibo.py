"""Weibo through its open-platform style API (``statuses/search``, ``statuses/show``), as a licensed vendor or the
bank's own developer account serves it. Results come newest first and page backwards with ``max_id``; the search
takes no time bound, so ``since`` is applied here: a page stops at the first post older than it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crawlers.platforms.base import (
    ApiAnswerError,
    ApiCall,
    Page,
    PlatformAdapter,
    PlatformPost,
    metrics_of,
    path,
    text_of,
)


class WeiboAdapter(PlatformAdapter):
    name = "weibo"
    label = "微博"

    def search(self, query: str, since: datetime | None, cursor: str | None, page_size: int) -> ApiCall:
        params = {"q": query, "count": str(page_size)}
        if cursor:
            params["max_id"] = cursor
        return ApiCall(f"{self.endpoint}/statuses/search", params=params)

    def read_search(self, data: Any, since: datetime | None) -> Page:
        statuses = path(data, "statuses")
        if not isinstance(statuses, list):
            raise ApiAnswerError(_error(data) or "no 'statuses' list in the answer")
        items: list[PlatformPost] = []
        reached = False
        for raw in statuses:
            post = self.read_post(raw)
            if post is None:
                continue
            if since is not None and post.published_at is not None and post.published_at < since:
                reached = True
                break
            items.append(post)
        cursor = text_of(path(data, "max_id"))
        more = bool(path(data, "has_more")) and cursor not in (None, "0") and not reached
        return Page(items, cursor if more else None, reached)

    def fetch(self, post_id: str) -> ApiCall:
        return ApiCall(f"{self.endpoint}/statuses/show", params={"id": post_id})

    def read_post(self, data: Any) -> PlatformPost | None:
        if not isinstance(data, dict):
            return None
        ident = text_of(data.get("idstr")) or text_of(data.get("id"))
        text = text_of(data.get("text"))
        if ident is None or text is None:
            return None
        user = data.get("user") if isinstance(data.get("user"), dict) else {}
        retweeted = data.get("retweeted_status") if isinstance(data.get("retweeted_status"), dict) else {}
        meta: dict[str, Any] = {"user_id": text_of(user.get("idstr")), "verified": user.get("verified") is True}
        if retweeted:
            meta.update(retweeted_id=text_of(retweeted.get("idstr")), retweeted_text=text_of(retweeted.get("text")),
                        retweeted_author=text_of(path(retweeted, "user", "screen_name")))
        return PlatformPost(
            id=ident, text=text, url=text_of(data.get("page_url")), author=text_of(user.get("screen_name")),
            published_at=weibo_time(data.get("created_at")),
            metrics=metrics_of({"reposts": data.get("reposts_count"), "comments": data.get("comments_count"),
                                "likes": data.get("attitudes_count"), "followers": user.get("followers_count")}),
            meta={k: v for k, v in meta.items() if v is not None}, raw=data)


def weibo_time(value: Any) -> datetime | None:
    """Weibo's ``Mon Nov 23 09:20:00 +0800 2026`` (or ISO 8601) as UTC; None when unreadable."""
    if not isinstance(value, str):
        return None
    for parse in (lambda v: datetime.strptime(v, "%a %b %d %H:%M:%S %z %Y"), datetime.fromisoformat):
        try:
            parsed = parse(value.strip())
        except ValueError:
            continue
        return parsed.astimezone(UTC) if parsed.tzinfo else None
    return None


def _error(data: Any) -> str | None:
    return text_of(path(data, "error"))
