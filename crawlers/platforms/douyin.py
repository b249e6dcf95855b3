"""Douyin (抖音) videos through a licensed data vendor's API (or the bank's own open-platform access).

The vendor shape read here: ``GET {endpoint}/videos/search?keyword=&since=<unix s>&cursor=&count=`` answering
``{"status_code": 0, "data": {"videos": [...], "cursor": 40, "has_more": 1}}`` and ``GET {endpoint}/videos/{id}``
answering ``{"status_code": 0, "data": {...}}``; a video has ``aweme_id``, ``desc`` (the caption: the only text),
``create_time`` (unix s), ``share_url``, ``author`` (``nickname``, ``uid``, ``follower_count``) and
``statistics`` (``digg_count`` likes, ``comment_count``, ``share_count`` counted as reposts, ``play_count``).
"""

from __future__ import annotations

from typing import Any

from crawlers.platforms.base import PlatformPost, VendorSearchAdapter, epoch_time, metrics_of, text_of


class DouyinAdapter(VendorSearchAdapter):
    name = "douyin"
    label = "抖音"
    collection = "videos"
    items_key = "videos"
    cursor_key = "cursor"
    code_key = "status_code"
    message_key = "status_msg"

    def read_item(self, data: dict[str, Any]) -> PlatformPost | None:
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

