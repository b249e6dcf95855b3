"""Hot lists (微博热搜, 知乎热榜, 百度热搜, 抖音热榜): one record per entry, re-read with its current rank every poll.

An entry on a hot list is a reach signal even when it is only a title: millions see the list. So every entry
becomes a ``RecordItem`` on channel ``trending`` — title, the excerpt when the list gives one, a link (the entry's
own, else a stable search URL from ``url_template``) — and carries its place on the list:

* ``metrics = {"rank": r, "heat": h}`` — re-yielded each poll, so ``store_record`` updates the article and appends
  an ``article_metric_samples`` row whenever rank or heat moved: rank over time;
* ``meta["trending"] = {"list", "list_name", "rank", "heat", "reach", "first_seen_at", "last_seen_at"}`` —
  ``first_seen_at`` and ``last_seen_at`` are this poll's time (ISO, UTC); ``store_record`` keeps the stored
  ``first_seen_at`` of a known entry, so it stays the first poll that saw it, while ``last_seen_at`` moves. An entry
  that drops off the list is not touched: its ``last_seen_at`` stops.

The entry's identity is the list plus the SHA-256 of its title (``external_id``), so the same words on the list
tomorrow are the same article. Lists come as JSON (``items_path``), as JSON inside a page or a JSONP wrapper
(``json_pattern``), or as HTML (``item_selector`` with CSS selectors per field). No conditional GET: a list that
did not change still tells that its entries are on it now.

Everything a list says is hostile: a link that is no absolute http(s) URL (after resolving against the list's URL)
is replaced by the template URL (``yuqing/items/url_replaced``), heat that is no number is 0, an entry without a
title is skipped and counted (``yuqing/dropped/bad_entry``, which counts against the source's health).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy.http import Response

from crawlers.sources import TrendingOptions
from crawlers.spiders.base import SourceSpider, response_headers
from crawlers.spiders.items import RecordItem
from crawlers.spiders.json_api import _raw_record, _with_query, fill_template, get_path, read_json
from crawlers.spiders.urls import web_url
from yuqing.text import repair_text

logger = logging.getLogger(__name__)

MAX_TITLE_CHARS = 500
MAX_EXCERPT_CHARS = 5_000
URL_REPLACED_STAT = "yuqing/items/url_replaced"
RECORD_ERROR_STAT = "yuqing/dropped/record_error"
BAD_ENTRY_STAT = "yuqing/dropped/bad_entry"  # an entry without a title (crawlers.health explains it)
# "4960144", "1234 万热度", "1.2亿", "热度 3,456,789": the first number, times 万 / 亿 when it says so
_HEAT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(万|亿|w|W)?")
_UNITS = {"万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000}
MAX_HEAT = 2**31 - 1  # metric samples are INTEGER columns


@dataclasses.dataclass
class Entry:
    """One hot-list entry as read, before it becomes a record."""

    title: str
    url: str | None
    rank: int | None
    heat: int
    excerpt: str | None
    time: Any
    raw: Any  # the entry's JSON, or its HTML, as evidence
    values: dict[str, Any]  # what a url_template may name


class TrendingSpider(SourceSpider):
    """Reads ``source.url`` (one request per poll) and yields a ``RecordItem`` per list entry."""

    async def start(self) -> AsyncIterator[Any]:
        url = _with_query(self.source.url, self._opts.params) if self._opts.params else self.source.url
        request = self.entry_request(url, self.parse_list)
        for name in (b"If-None-Match", b"If-Modified-Since"):  # see the module docstring: never a 304
            request.headers.pop(name, None)
        yield request

    @property
    def _opts(self) -> TrendingOptions:
        assert self.source.trending is not None
        return self.source.trending

    def parse_list(self, response: Response) -> Iterable[Any]:
        go_on, _validators = self.accept_entry(response)  # (validators not kept: no conditional GET, see above)
        if not go_on:
            return
        entries = self._entries(response)
        if entries is None:
            return
        stats = self.crawler.stats
        now = self.now()
        seen_at = now.isoformat()
        position = 0
        yielded: set[str] = set()
        for entry in entries:
            if entry is None:
                stats.inc_value(BAD_ENTRY_STAT)
                continue
            position += 1
            if len(yielded) >= self.source.max_items:
                stats.inc_value("yuqing/skipped_over_limit")
                break
            try:
                record = self._record(entry, position, seen_at, response)
            except Exception:  # an entry nobody foresaw: skip it, read the rest of the list
                logger.exception("%s: could not read an entry of %s", self.source.id, response.url)
                stats.inc_value(RECORD_ERROR_STAT)
                continue
            if record.external_id in yielded:  # the same title twice on one list: its first (higher) place counts
                continue
            yielded.add(record.external_id)
            stats.inc_value("yuqing/records")
            yield record

    # -- reading the list -------------------------------------------------------------------------------------

    def _entries(self, response: Response) -> list[Entry | None] | None:
        """The list's entries in list order (None for one without a title), or None after failing the poll."""
        opts = self._opts
        if opts.format == "html" and opts.item_selector:
            if not hasattr(response, "css"):
                self.fail_entry(response, f"热榜页面不是 HTML（{response.url}）")
                return None
            return [self._html_entry(el) for el in response.css(opts.item_selector)
                    if not any(_truthy(el.css(s).get()) for s in opts.skip_when)]
        data = read_json(response.body, opts.json_pattern)
        if data is None:
            what = "页面中找不到内嵌的 JSON" if opts.json_pattern else "返回的不是有效 JSON"
            self.fail_entry(response, f"热榜{what}（{response.url}）")
            return None
        items = get_path(data, opts.items_path) if opts.items_path else data
        if not isinstance(items, list):
            self.fail_entry(response, f"热榜返回中找不到条目列表 {opts.items_path!r}（{response.url}）")
            return None
        return [self._json_entry(raw) for raw in items
                if not (isinstance(raw, dict) and any(_truthy(get_path(raw, p)) for p in opts.skip_when))]

    def _json_entry(self, raw: Any) -> Entry | None:
        if not isinstance(raw, dict):
            return None
        f = self._opts.fields
        title = _text(get_path(raw, f.title))
        if not title:
            return None
        return Entry(
            title=title,
            url=_text(get_path(raw, f.url)) if f.url else None,
            rank=_whole(get_path(raw, f.rank)) if f.rank else None,
            heat=parse_heat(get_path(raw, f.heat)) if f.heat else 0,
            excerpt=_text(get_path(raw, f.excerpt)) if f.excerpt else None,
            time=get_path(raw, f.time) if f.time else None,
            raw=raw,
            values=raw,
        )

    def _html_entry(self, el: Any) -> Entry | None:
        f = self._opts.fields

        def value(selector: str | None) -> str | None:
            if not selector:
                return None
            return _text(" ".join(v for v in el.css(selector).getall() if isinstance(v, str)))

        title = value(f.title)
        if not title:
            return None
        return Entry(title=title, url=value(f.url), rank=_whole(value(f.rank)), heat=parse_heat(value(f.heat)),
                     excerpt=value(f.excerpt), time=value(f.time), raw=el.get(), values={})

    # -- one record -------------------------------------------------------------------------------------------

    def _record(self, entry: Entry, position: int, seen_at: str, response: Response) -> RecordItem:
        opts = self._opts
        title = " ".join(entry.title.split())[:MAX_TITLE_CHARS]
        digest = hashlib.sha256(repair_text(title).encode("utf-8")).hexdigest()[:32]
        external_id = f"{self.source.id}:{digest}"
        rank = entry.rank - opts.rank_base + 1 if entry.rank is not None and entry.rank >= opts.rank_base else position
        heat = min(entry.heat, MAX_HEAT)
        url = web_url(entry.url, response.url) if entry.url else None
        if url is None:
            if entry.url:
                self.crawler.stats.inc_value(URL_REPLACED_STAT)
            template = opts.url_template
            url = (fill_template(template, entry.values, {"title": title}) if template else None) or _with_query(
                self.source.url, {"yuqing_item": external_id}, keep=False)
        excerpt = " ".join((entry.excerpt or "").split())[:MAX_EXCERPT_CHARS]
        text = f"{title}\n{excerpt}" if excerpt and excerpt != title else title
        trending = {"list": self.source.id, "list_name": self.source.name, "rank": rank, "heat": heat,
                    "reach": opts.reach, "first_seen_at": seen_at, "last_seen_at": seen_at}
        raw = entry.raw if not isinstance(entry.raw, str) else {"html": entry.raw}
        return RecordItem(
            source_id=self.source.id,
            channel=self.source.channel,
            url=url,
            external_id=external_id,
            text=text,
            title=title,
            published_at=self.parse_time(entry.time) if entry.time is not None else None,
            metrics={"rank": rank, "heat": heat},
            meta={"external_id": external_id, "trending": trending},
            raw=_raw_record(raw),
            status=response.status,
            headers=response_headers(response),
        )


def parse_heat(value: Any) -> int:
    """A list's heat as an int: numbers as they are, text such as "1234 万热度" or "1.2亿" read with its unit;
    0 when there is none (never raises, never negative)."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float):
        return max(int(value), 0) if math.isfinite(value) else 0
    if not isinstance(value, str):
        return 0
    match = _HEAT.search(value[:200])
    if not match:
        return 0
    number = float(match.group(1).replace(",", ""))
    if not math.isfinite(number):
        return 0
    return int(number * _UNITS.get(match.group(2) or "", 1))


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 10:
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return " ".join(value.split()) or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip() not in ("", "0", "false", "False")
    return bool(value)

