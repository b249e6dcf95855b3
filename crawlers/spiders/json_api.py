"""JSON APIs (Weibo-like search, complaint boards): items mapped to article fields by the source's config.

Items are re-read on every poll when the source tracks metrics, so reposts/comments/likes of known posts are
updated and a new metric sample recorded; that is how spread velocity is measured. The token comes from the
environment variable the config names, never from the config file, and is sent only to the API's own origin: it
joins ``own_headers``, which ``OwnOriginHeadersMiddleware`` strips from any request to another host (item links,
redirects).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import scrapy
from scrapy.http import Response

from crawlers.sources import JsonApiOptions
from crawlers.spiders.base import SourceSpider
from crawlers.spiders.items import RecordItem
from crawlers.spiders.timeparse import parse_datetime

MAX_TEXT_CHARS = 20_000


class JsonApiSpider(SourceSpider):
    async def start(self) -> AsyncIterator[Any]:
        opts = self._opts
        if opts.auth is not None:
            token = os.environ.get(opts.auth.token_env, "").strip()
            if not token:
                self.errors.append(f"未设置环境变量 {opts.auth.token_env}（该接口需要访问令牌）")
                self.entry_failed = True
                return
            self._auth_headers = {opts.auth.header: opts.auth.format.format(token=token)}
        yield self._page_request(opts.first_page, entry=True)

    def own_headers(self) -> dict[str, str]:
        """The source's headers plus the API token (which wins over a configured header of the same name)."""
        return {**super().own_headers(), **getattr(self, "_auth_headers", {})}

    @property
    def _opts(self) -> JsonApiOptions:
        assert self.source.json_api is not None
        return self.source.json_api

    def _page_request(self, page: int, *, entry: bool, cursor: str | None = None) -> scrapy.Request:
        opts = self._opts
        params = dict(opts.params)
        if opts.page_param:
            params[opts.page_param] = str(page)
        if opts.cursor_param and cursor is not None:
            params[opts.cursor_param] = cursor
        return self.entry_request(_with_query(self.source.url, params), self.parse_api, entry=entry,
                                  headers={"Accept": "application/json"}, cb_kwargs={"page": page})

    def parse_api(self, response: Response, page: int) -> Iterable[Any]:
        go_on, _validators = self.accept_entry(response)
        if not go_on:
            return
        opts = self._opts
        try:
            data = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            self.fail_entry(response, f"接口返回的不是有效 JSON（{response.url}）")
            return
        items = get_path(data, opts.items_path) if opts.items_path else data
        if not isinstance(items, list):
            self.fail_entry(response, f"接口返回中找不到条目列表 {opts.items_path!r}（{response.url}）")
            return
        stats = self.crawler.stats
        for raw in items:
            record = self._record(raw)
            if record is None:
                stats.inc_value("yuqing/dropped/bad_record")
                continue
            stats.inc_value("yuqing/records")
            yield record
        if not items or page - opts.first_page + 1 >= self.source.max_pages:
            return
        if opts.has_more_path and not get_path(data, opts.has_more_path):
            return
        if opts.page_param:
            yield self._page_request(page + 1, entry=False)
        elif opts.cursor_param and opts.cursor_path:
            cursor = _as_text(get_path(data, opts.cursor_path))
            if cursor and cursor != "0":
                yield self._page_request(page + 1, entry=False, cursor=cursor)

    def _record(self, raw: Any) -> RecordItem | None:
        if not isinstance(raw, dict):
            return None
        f = self._opts.fields
        ident = get_path(raw, f.id)
        text = _as_text(get_path(raw, f.text))
        if ident in (None, "") or text is None:
            return None
        external_id = str(ident)[:128]
        url = _as_text(get_path(raw, f.url)) if f.url else None
        if not url or not url.lower().startswith(("http://", "https://")):
            url = _with_query(self.source.url, {"yuqing_item": external_id}, keep=False)
        metrics: dict[str, int] = {}
        for name, path in f.metrics.items():
            value = get_path(raw, path)
            if isinstance(value, bool):
                value = int(value)
            if isinstance(value, int | float):
                metrics[name] = int(value)
            elif isinstance(value, str) and value.strip().isdigit():
                metrics[name] = int(value.strip())
        meta: dict[str, Any] = {"external_id": external_id}
        for name, path in f.meta.items():
            value = get_path(raw, path)
            if value is not None and isinstance(value, str | int | float | bool):
                meta[name] = value[:MAX_TEXT_CHARS] if isinstance(value, str) else value
        return RecordItem(
            source_id=self.source.id,
            channel=self.source.channel,
            url=url,
            external_id=external_id,
            text=text[:MAX_TEXT_CHARS],
            title=(_as_text(get_path(raw, f.title)) or "") if f.title else "",
            author=_as_text(get_path(raw, f.author)) if f.author else None,
            published_at=parse_datetime(get_path(raw, f.created_at)) if f.created_at else None,
            metrics=metrics,
            meta=meta,
        )

def get_path(data: Any, path: str) -> Any:
    """Follow a dotted path (``user.screen_name``, ``data.0.id``) through dicts and lists; None if absent."""
    current = data
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
        if current is None:
            return None
    return current


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _with_query(url: str, params: dict[str, str], keep: bool = True) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True)) if keep else {}
    query.update(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
