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

from typing import Any

from crawlers.platforms.base import PlatformPost, VendorSearchAdapter, epoch_time, metrics_of, text_of


class WechatAdapter(VendorSearchAdapter):
    name = "wechat"
    label = "微信公众号"
    collection = "articles"
    items_key = "items"
    cursor_key = "next_cursor"
    code_key = "code"
    message_key = "message"

    def read_item(self, data: dict[str, Any]) -> PlatformPost | None:
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

