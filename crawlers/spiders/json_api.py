"""JSON APIs (Weibo-like search, complaint boards): items mapped to article fields by the source's config.

Items are re-read on every poll when the source tracks metrics, so reposts/comments/likes of known posts are
updated and a new metric sample recorded; that is how spread velocity is measured. The token comes from the
environment variable the config names, never from the config file, and is sent only to the API's own origin: it
joins ``own_headers``, which ``OwnOriginHeadersMiddleware`` strips from any request to another host (item links,
redirects).

A post is hostile data: one record must never cost the others of its page. Times go through ``parse_time`` (never
raises; implausible dates are dropped, the post kept), counters that are no finite number are left out, numbers too
long for ``int`` stay text, and a link that is no absolute http(s) URL (``javascript:``, ``data:``, relative, no
host) is replaced by the item's own URL on the API (``yuqing/items/url_replaced``) — the post is stored, its link
never. A record the mapping still cannot read is skipped and counted (``yuqing/dropped/record_error``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import scrapy
from scrapy.http import Response

from crawlers.sources import JsonApiOptions
from crawlers.spiders.base import SourceSpider, response_headers
from crawlers.spiders.items import RecordItem
from crawlers.spiders.urls import web_url
from yuqing.text import repair_text

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 20_000
MAX_INT_DIGITS = 1000  # longer JSON integers stay text: ``int`` refuses to convert beyond 4300 digits
URL_REPLACED_STAT = "yuqing/items/url_replaced"
RECORD_ERROR_STAT = "yuqing/dropped/record_error"
_TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")


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
        data = read_json(response.body, opts.json_pattern)
        if data is None:
            what = "页面中找不到内嵌的 JSON" if opts.json_pattern else "接口返回的不是有效 JSON"
            self.fail_entry(response, f"{what}（{response.url}）")
            return
        items = get_path(data, opts.items_path) if opts.items_path else data
        if not isinstance(items, list):
            self.fail_entry(response, f"接口返回中找不到条目列表 {opts.items_path!r}（{response.url}）")
            return
        stats = self.crawler.stats
        for raw in items:
            try:
                record = self._record(raw)
            except Exception:  # a record nobody foresaw: skip it, read the rest of the page
                logger.exception("%s: could not read a record of %s", self.source.id, response.url)
                stats.inc_value(RECORD_ERROR_STAT)
                continue
            if record is None:
                stats.inc_value("yuqing/dropped/bad_record")
                continue
            stats.inc_value("yuqing/records")
            yield dataclasses.replace(record, raw=_raw_record(raw), status=response.status,
                                      headers=response_headers(response))
        if not items or page - opts.first_page + 1 >= self.source.max_pages:
            return
        if opts.has_more_path and not get_path(data, opts.has_more_path):
            return
        if opts.page_param:
            yield self._page_request(page + 1, entry=False)
        elif opts.cursor_param and opts.cursor_path:
            cursor = _as_text(get_path(data, opts.cursor_path))
            cursor = repair_text(cursor) if cursor else cursor  # (a lone surrogate cannot go into a URL)
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
        given = _as_text(get_path(raw, f.url)) if f.url else None
        # Not resolved when relative: JSON has no base URL by standard, and the item's API URL below is what such
        # posts have always been stored under (resolving now would store them all a second time).
        url = web_url(given) if given else None
        if url is None and f.url_template:
            url = fill_template(f.url_template, raw)
        if url is None:
            if given:
                self.crawler.stats.inc_value(URL_REPLACED_STAT)
            # the item's own address on the API (the id repaired first: a lone surrogate cannot be URL-encoded)
            url = _with_query(self.source.url, {"yuqing_item": repair_text(external_id)}, keep=False)
        metrics: dict[str, int] = {}
        for name, path in f.metrics.items():
            count = _count(get_path(raw, path))
            if count is not None:
                metrics[name] = count
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
            published_at=self.parse_time(get_path(raw, f.created_at)) if f.created_at else None,
            metrics=metrics,
            meta=meta,
        )

def read_json(body: bytes, pattern: str | None = None) -> Any:
    """The JSON of a response — the whole body, or group 1 of ``pattern`` in it (JSONP ``cb({...})``, a
    ``var list = {...};`` in a page's script, ``<!--s-data:{...}-->``) — or None when there is none."""
    try:
        if pattern is None:
            return json.loads(body, parse_int=_json_int)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:  # a GBK page with a script variable in it
            text = body.decode("gb18030", errors="replace")
        match = re.search(pattern, text, re.S)
        return None if match is None else json.loads(match.group(1), parse_int=_json_int)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def fill_template(template: str, raw: Any, extra: dict[str, str] | None = None) -> str | None:
    """``template`` with each ``{path}`` replaced by that value of the item (``extra`` first), URL-quoted; None
    when the item lacks one or the result is no absolute http(s) URL."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        value = (extra or {}).get(name)
        if value is None:
            value = _as_text(get_path(raw, name)) if isinstance(raw, dict) else None
        if value is None:
            missing = True
            return ""
        return quote(repair_text(value), safe="")

    url = _TEMPLATE_FIELD.sub(fill, template)
    return None if missing else web_url(url)


def _raw_record(raw: Any) -> bytes:
    """One record of an API response as evidence: UTF-8 JSON with the keys as served (the response holds many
    records; each article keeps its own). Lone surrogates are kept as escapes, never dropped."""
    text = json.dumps(raw, ensure_ascii=False, default=str, sort_keys=False)
    return text.encode("utf-8", errors="backslashreplace")


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


def _json_int(digits: str) -> int | str:
    return int(digits) if len(digits) <= MAX_INT_DIGITS else digits


def _count(value: Any) -> int | None:
    """A counter as an int (clamped later to the column), or None when it is no finite whole number."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        digits = value.strip()
        if digits.isascii() and digits.isdigit() and len(digits) <= MAX_INT_DIGITS:
            return int(digits)
    return None


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
