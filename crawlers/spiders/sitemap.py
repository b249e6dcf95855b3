"""XML sitemaps, Google News sitemaps included: follow each ``<loc>``; a sitemap index leads to its sitemaps.

A ``<loc>`` is resolved against the sitemap's URL and must be an absolute http(s) URL; any other is dropped and
counted (``yuqing/dropped/bad_url``). Dates go through ``parse_time`` (implausible ones are dropped, the URL kept).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy.http import Response

from crawlers.spiders.base import SourceSpider
from crawlers.spiders.items import PageHints
from crawlers.spiders.xml import child_text, children, descendants, local, parse_xml


class SitemapSpider(SourceSpider):
    """Reads ``source.url``; at most ``max_pages`` sitemaps per poll, newest URLs first."""

    async def start(self) -> AsyncIterator[Any]:
        self._sitemaps_read = 0
        yield self.entry_request(self.source.url, self.parse_sitemap)

    def parse_sitemap(self, response: Response) -> Iterable[Any]:
        go_on, validators = self.accept_entry(response)
        yield from validators
        if not go_on:
            return
        self._sitemaps_read += 1
        root = parse_xml(response.body)
        kind = local(root) if root is not None else ""
        if kind == "sitemapindex":
            for sm in children(root, "sitemap"):
                if self._sitemaps_read >= self.source.max_pages:
                    break
                loc = self.article_url(child_text(sm, "loc"), response.url)
                if loc:
                    self._sitemaps_read += 1
                    yield self.entry_request(loc, self.parse_sitemap, entry=False)
            return
        if kind != "urlset":
            self.fail_entry(response, f"站点地图内容无法解析（{response.url}）")
            return
        entries = []
        for url_el in children(root, "url"):
            loc = self.article_url(child_text(url_el, "loc"), response.url)
            if not loc:
                continue
            news = (descendants(url_el, "news") or [None])[0]
            title = child_text(news, "title") if news is not None else None
            when = (child_text(news, "publication_date") if news is not None else None) or child_text(url_el, "lastmod")
            entries.append((loc, PageHints(title=title, published_at=self.parse_time(when))))
        entries.sort(key=lambda e: e[1].published_at.timestamp() if e[1].published_at else 0.0, reverse=True)
        for url, hints in entries:
            request = self.article_request(url, hints)
            if request is not None:
                yield request
