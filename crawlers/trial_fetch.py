"""试抓取: fetch one URL the way the crawler would and show what the pipeline would make of it — nothing is stored.

An admin adding a source wants to know, before saving, whether the address answers, which encoding the page is
in, what the extractor takes as title, time, author and text, and whether the bank's units and keyword plans are
found in it. ``trial_fetch`` answers that with the crawler's own parts:

* the fetch is ``crawlers.guarded_fetch.guarded_get``: every hop SSRF-checked after DNS (private addresses refused
  unless a ``private_network`` allowance is given — the caller decides whether the admin's opt-in covers it),
  redirects followed by hand, at most ``max_bytes`` read, one ``timeout`` per request;
* a page is decoded and extracted by ``crawlers.extract.extract_html`` (which uses ``crawlers.encoding``);
* a feed (RSS / Atom), a sitemap or a list page is read for its entries (link, title, time) with the spiders'
  XML helpers and the source's listing selectors, and the first entry's page is fetched and extracted as above;
* the extracted text is matched with ``crawlers.matching.Matcher`` (the org chart and the keyword plans given).

Everything returned is plain data; the page's text is hostile and the caller must escape it (the dashboard's
templates autoescape; the API returns JSON).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
from parsel import Selector

from crawlers.extract import extract_html, parse_datetime
from crawlers.guarded_fetch import Fetched, FetchRefused, guarded_get
from crawlers.matching import Matcher
from crawlers.sources import ListingOptions
from crawlers.spiders.urls import is_web_link, web_url
from crawlers.spiders.xml import child_text, children, descendants, local, parse_xml
from crawlers.ssrf import PrivateAllowance

TrialKind = Literal["page", "rss", "sitemap", "listing"]
TRIAL_KINDS: dict[str, str] = {"page": "单篇文章页", "rss": "RSS / Atom 订阅源", "sitemap": "新闻站点地图",
                               "listing": "列表页"}
MAX_BYTES = 2 * 1024 * 1024  # the extractor reads at most this much too
TIMEOUT_SECONDS = 10.0  # per request
TOTAL_SECONDS = 20.0  # the whole trial: the list and its first entry
MAX_ENTRIES = 20  # entries shown of a feed, sitemap or list page
EXCERPT_CHARS = 600


class TrialRefused(Exception):
    """The URL may not be fetched (SSRF rule, too many redirects); ``reason`` is the guard's reason code."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class TrialEntry:
    url: str
    title: str | None = None
    published_at: str | None = None  # ISO 8601 as the entry states it (with its offset), or None


@dataclass
class TrialPage:
    """One fetched and extracted page with what matching found in it."""

    url: str
    status: int
    content_type: str
    bytes_read: int
    truncated: bool
    encoding: str | None
    title: str
    published_at: str | None  # ISO 8601 in the page's own zone (+08:00 for a zone-less time on a Chinese page)
    author: str | None
    excerpt: str
    text_chars: int
    units: list[dict[str, Any]] = field(default_factory=list)  # {unit_id, unit_name, terms, primary}
    plan_hits: dict[str, list[str]] = field(default_factory=dict)
    excluded_by: list[str] = field(default_factory=list)
    relevant: bool = False
    redirects: list[str] = field(default_factory=list)


@dataclass
class TrialResult:
    url: str
    kind: str
    seconds: float
    page: TrialPage | None = None  # the page itself (kind page) or the first entry's page
    entries: list[TrialEntry] = field(default_factory=list)
    entries_total: int = 0
    list_status: int | None = None
    list_bytes: int | None = None
    problems: list[str] = field(default_factory=list)  # Chinese, for the admin (not a failure of the trial itself)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def trial_fetch(url: str, *, kind: TrialKind, matcher: Matcher, allowance: PrivateAllowance | None = None,
                listing: ListingOptions | None = None, timeout: float = TIMEOUT_SECONDS,
                total_seconds: float = TOTAL_SECONDS, max_bytes: int = MAX_BYTES,
                client: httpx.Client | None = None, now: datetime | None = None) -> TrialResult:
    """Fetch ``url`` as ``kind`` and return what the pipeline would see; raises ``TrialRefused`` when the guard
    refuses the URL itself. Network failures, HTTP errors and unreadable content are reported in ``problems``."""
    started = time.monotonic()
    result = TrialResult(url=url, kind=kind, seconds=0.0)

    def left() -> float:
        return max(0.5, min(timeout, total_seconds - (time.monotonic() - started)))

    try:
        first = _get(url, allowance, left(), max_bytes, client)
    except httpx.HTTPError as exc:
        result.problems.append(f"无法连接：{_network_reason(exc)}")
        result.seconds = round(time.monotonic() - started, 3)
        return result
    if kind == "page":
        result.page = _page(first, matcher, now)
        if first.status >= 400:
            result.problems.append(f"HTTP {first.status}")
    else:
        result.list_status, result.list_bytes = first.status, first.size
        if first.status >= 400:
            result.problems.append(f"HTTP {first.status}")
        else:
            entries = _entries(first, kind, listing, result.problems)
            result.entries_total = len(entries)
            result.entries = entries[:MAX_ENTRIES]
            if first.truncated:
                result.problems.append(f"内容超过 {max_bytes // 1024} KiB，只读取了前 {max_bytes // 1024} KiB")
            if entries and time.monotonic() - started < total_seconds:
                try:
                    result.page = _page(_get(entries[0].url, allowance, left(), max_bytes, client), matcher, now)
                except TrialRefused as exc:
                    result.problems.append(f"第一条链接被拒绝抓取：{exc}")
                except httpx.HTTPError as exc:
                    result.problems.append(f"第一条链接无法抓取：{_network_reason(exc)}")
            elif not entries:
                result.problems.append("未找到任何条目：请检查地址与类型（列表页请检查链接选择器）")
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _get(url: str, allowance: PrivateAllowance | None, timeout: float, max_bytes: int,
         client: httpx.Client | None) -> Fetched:
    try:
        return guarded_get(url, allowance=allowance, timeout=timeout, max_bytes=max_bytes, client=client)
    except FetchRefused as exc:
        raise TrialRefused(str(exc), exc.reason) from None
    except (ValueError, UnicodeError, httpx.InvalidURL) as exc:  # an address no client can send (typed by hand)
        raise TrialRefused(f"invalid URL {url!r}: {exc}", "scheme") from None


def _page(fetched: Fetched, matcher: Matcher, now: datetime | None) -> TrialPage:
    extracted = extract_html(fetched.body, fetched.url, fetched.content_type or None, now=now)
    match = matcher.match(extracted.text, extracted.title)
    names = {u.id: u.name for u in matcher.org.units}
    return TrialPage(
        url=fetched.url, status=fetched.status, content_type=fetched.content_type, bytes_read=fetched.size,
        truncated=fetched.truncated, encoding=extracted.encoding, title=extracted.title,
        published_at=extracted.published_at.isoformat() if extracted.published_at else None,
        author=extracted.author, excerpt=extracted.text[:EXCERPT_CHARS], text_chars=len(extracted.text),
        units=[{"unit_id": m.unit_id, "unit_name": names.get(m.unit_id, m.unit_id), "terms": list(m.terms),
                "primary": m.is_primary} for m in match.mentions],
        plan_hits={k: list(v) for k, v in match.plan_hits.items()}, excluded_by=list(match.excluded_by),
        relevant=match.relevant, redirects=list(fetched.redirects))


def _entries(fetched: Fetched, kind: str, listing: ListingOptions | None, problems: list[str]) -> list[TrialEntry]:
    if kind == "listing":
        return _listing_entries(fetched, listing, problems)
    root = parse_xml(fetched.body)
    name = local(root) if root is not None else ""
    found: list[TrialEntry] = []
    if kind == "rss":
        if name not in {"rss", "feed", "rdf"}:
            problems.append("内容不是 RSS/Atom 订阅源")
            return []
        assert root is not None
        for el in descendants(root, "item") or descendants(root, "entry"):
            link = _feed_link(el)
            url = web_url(link, fetched.url) if link else None
            if url:
                when = child_text(el, "pubDate", "published", "updated", "date", "issued")
                found.append(TrialEntry(url, child_text(el, "title"), _iso(when)))
        return found
    if name == "sitemapindex":
        assert root is not None
        problems.append("这是站点地图索引：下列条目是子站点地图，抓取时按 max_pages 逐个读取")
        return [TrialEntry(u) for u in (web_url(child_text(sm, "loc"), fetched.url)
                                         for sm in children(root, "sitemap")) if u]
    if name != "urlset":
        problems.append("内容不是站点地图（urlset / sitemapindex）")
        return []
    assert root is not None
    for url_el in children(root, "url"):
        url = web_url(child_text(url_el, "loc"), fetched.url)
        if not url:
            continue
        news = (descendants(url_el, "news") or [None])[0]
        title = child_text(news, "title") if news is not None else None
        when = (child_text(news, "publication_date") if news is not None else None) or child_text(url_el, "lastmod")
        found.append(TrialEntry(url, title, _iso(when)))
    return found


def _listing_entries(fetched: Fetched, listing: ListingOptions | None, problems: list[str]) -> list[TrialEntry]:
    if listing is None or not (listing.link_selector or listing.link_xpath):
        problems.append("列表页需要链接选择器（listing.link_selector 或 link_xpath）")
        return []
    from crawlers.encoding import decode_html

    text, _encoding = decode_html(fetched.body, fetched.content_type or None)
    try:
        page = Selector(text=text)
        selected = page.xpath(listing.link_xpath) if listing.link_xpath else page.css(listing.link_selector or "a")
    except Exception as exc:  # a selector the admin typed: parsel raises several kinds
        problems.append(f"选择器无效：{str(exc)[:200]}")
        return []
    pattern = re.compile(listing.link_pattern) if listing.link_pattern else None
    found: list[TrialEntry] = []
    seen: set[str] = set()
    for sel in selected:
        root = sel.root
        href = root if isinstance(root, str) else sel.attrib.get("href")
        if not href or not is_web_link(href):
            continue
        url = web_url(href, fetched.url)
        if url is None or url in seen or (pattern is not None and not pattern.search(url)):
            continue
        seen.add(url)
        title = None
        if not isinstance(root, str):
            inner = sel.css(listing.title_selector) if listing.title_selector else sel
            title = " ".join("".join(inner.xpath(".//text()").getall()).split()) or sel.attrib.get("title")
        found.append(TrialEntry(url, title or None))
    return found


def _feed_link(el: Any) -> str | None:
    for link_el in children(el, "link"):
        href = link_el.get("href")
        if href and (link_el.get("rel") or "alternate").lower() == "alternate":
            return href.strip()
        if (link_el.text or "").strip():
            return (link_el.text or "").strip()
    guid = child_text(el, "guid", "id")
    return guid if guid and guid.lower().startswith(("http://", "https://")) else None


def _iso(value: str | None) -> str | None:
    parsed = parse_datetime(value) if value else None
    return parsed.isoformat() if parsed else None


def _network_reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "连接超时"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "name or service" in text or "nodename" in text or "resolve" in text:
            return "域名解析失败（DNS）"
        return "连接被拒绝"
    return f"{type(exc).__name__}: {str(exc)[:200]}"
