"""RSS 2.0 / Atom feeds: each item links to an article page, unless the feed already carries the full text.

An item's link (``<link>`` text or ``href``, else a ``<guid>``/``<id>`` that is a URL) is resolved against the
feed's URL and must be an absolute http(s) URL: an item without one — ``javascript:``, ``data:``, no host — is
dropped and counted (``yuqing/dropped/bad_url``), full text or not, because its URL is what gets stored and linked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from html import escape
from typing import Any

from scrapy.http import Response

from crawlers.spiders.base import SourceSpider, response_headers
from crawlers.spiders.items import PageHints, PageItem
from crawlers.spiders.urls import url_hash
from crawlers.spiders.xml import child_text, children, descendants, local, parse_xml


class FeedSpider(SourceSpider):
    """Reads ``source.url`` as RSS or Atom (conditional GET), newest items first."""

    async def start(self) -> AsyncIterator[Any]:
        yield self.entry_request(self.source.url, self.parse_feed)

    def parse_feed(self, response: Response) -> Iterable[Any]:
        go_on, validators = self.accept_entry(response)
        yield from validators
        if not go_on:
            return
        root = parse_xml(response.body)
        if root is None or local(root) not in {"rss", "feed", "rdf"}:
            self.fail_entry(response, f"订阅源内容不是 RSS/Atom（{response.url}）")
            return
        entries = sorted(
            (self._entry(response, el) for el in (descendants(root, "item") or descendants(root, "entry"))),
            key=lambda e: e[1].published_at.timestamp() if e[1].published_at else 0.0,
            reverse=True,
        )
        for raw_link, hints, content in entries:
            link = self.article_url(raw_link, response.url)
            if link is None:
                continue
            if content:
                if self.is_new(link) and self._take_inline():
                    yield PageItem(
                        source_id=self.source.id,
                        channel=self.source.channel,
                        url=link,
                        body=_wrap_content(hints.title, content),
                        content_type="text/html; charset=utf-8",
                        hints=hints,
                        headers=response_headers(response),
                        from_feed=True,
                    )
                    self._queued.add(url_hash(link))
                elif not self.is_new(link):
                    self.crawler.stats.inc_value("yuqing/skipped_seen")
                continue
            request = self.article_request(link, hints)
            if request is not None:
                yield request

    def _entry(self, response: Response, el: Any) -> tuple[str | None, PageHints, str | None]:
        """(the item's link as written, hints, inline full text)."""
        link = None
        for link_el in children(el, "link"):
            href = link_el.get("href")
            rel = (link_el.get("rel") or "alternate").lower()
            if href and rel == "alternate":
                link = href.strip()
                break
            text = (link_el.text or "").strip()
            if text:
                link = text
                break
        if not link:
            guid = child_text(el, "guid", "id")
            if guid and guid.lower().startswith(("http://", "https://")):
                link = guid
        when = child_text(el, "pubDate", "published", "updated", "date", "issued")
        hints = PageHints(
            title=child_text(el, "title"),
            published_at=self.parse_time(when),
            author=child_text(el, "creator", "author"),
        )
        content = child_text(el, "encoded") or _atom_content(el)
        return link, hints, content

    def _take_inline(self) -> bool:
        if self._articles_queued >= self.source.max_items:
            return False
        self._articles_queued += 1
        return True


def _atom_content(el: Any) -> str | None:
    for c in children(el, "content"):
        text = "".join(c.itertext()).strip()
        if text and (c.get("type") or "html").lower() in {"html", "xhtml", "text"}:
            return text
    return None


def _wrap_content(title: str | None, content: str) -> bytes:
    # Feed content is already HTML (escaped in the XML); give the extractor a whole document. The title is
    # escaped because it is hostile text inserted into markup.
    head = f"<title>{escape(title)}</title>" if title else ""
    return f"<html><head><meta charset='utf-8'>{head}</head><body><article>{content}</article></body></html>".encode()

