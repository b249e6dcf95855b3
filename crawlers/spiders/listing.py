"""List pages (栏目页) linking to articles, with bounded pagination that stops where known links begin.

A list page holds links that are no articles — script buttons, ``mailto:``, in-page anchors — which are skipped
quietly (``yuqing/skipped_links``). A web link (http(s) or relative) that still is no valid absolute http(s) URL
once resolved against the page — no host, a bad port, credentials — is a broken article link: when it passes the
source's ``link_pattern`` it is dropped and counted (``yuqing/dropped/bad_url``), like a bad link in a feed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy.http import Response

from crawlers.spiders.base import SourceSpider
from crawlers.spiders.items import PageHints
from crawlers.spiders.urls import is_web_link, url_hash, web_url

SKIPPED_LINKS_STAT = "yuqing/skipped_links"


class ListingSpider(SourceSpider):
    """Reads list page 1 (conditional GET) and follows up to ``max_pages`` list pages while they hold new links."""

    async def start(self) -> AsyncIterator[Any]:
        yield self.entry_request(self.source.url, self.parse_list, cb_kwargs={"page_index": 0})

    def parse_list(self, response: Response, page_index: int) -> Iterable[Any]:
        go_on, validators = self.accept_entry(response)
        yield from validators
        if not go_on:
            return
        opts = self.source.listing
        assert opts is not None
        if not hasattr(response, "css"):
            self.errors.append(f"列表页不是 HTML（{response.url}）")
            return
        pattern = re.compile(opts.link_pattern) if opts.link_pattern else None
        new_links = 0
        for url, title in self._links(response, pattern):
            if pattern is not None and not pattern.search(url):
                continue
            if url_hash(url) not in self.known.seen:  # unknown before this poll (claims by other spiders don't count)
                new_links += 1
            request = self.article_request(url, PageHints(title=title))
            if request is not None:
                yield request
        self.crawler.stats.inc_value("yuqing/list_pages")
        if new_links == 0 or page_index + 1 >= self.source.max_pages:
            return
        next_url = None
        if opts.next_selector:
            href = response.css(opts.next_selector).attrib.get("href")
            next_url = self._page_link(href, response.url) if href else None
        elif opts.page_url_template:
            next_url = opts.page_url_template.format(page=opts.first_page + page_index + 1)
        if next_url and next_url != response.url:
            yield self.entry_request(next_url, self.parse_list, entry=False,
                                     cb_kwargs={"page_index": page_index + 1})

    def _links(self, response: Response, pattern: re.Pattern[str] | None) -> Iterable[tuple[str, str | None]]:
        """(absolute http(s) URL, link text) of the selected links, each once, in page order."""
        opts = self.source.listing
        assert opts is not None
        selected = response.xpath(opts.link_xpath) if opts.link_xpath else response.css(opts.link_selector or "a")
        seen: set[str] = set()
        stats = self.crawler.stats
        for sel in selected:
            root = sel.root
            if isinstance(root, str):
                href, title = root, None
            else:
                href = sel.attrib.get("href")
                inner = sel.css(opts.title_selector) if opts.title_selector else sel
                title = " ".join("".join(inner.xpath(".//text()").getall()).split()) or sel.attrib.get("title")
            if not href or not is_web_link(href):
                stats.inc_value(SKIPPED_LINKS_STAT)
                continue
            url = web_url(href, response.url)
            if url is None:
                if pattern is None or pattern.search(href):
                    self.bad_url(href)
                else:
                    stats.inc_value(SKIPPED_LINKS_STAT)
                continue
            if url in seen:
                continue
            seen.add(url)
            yield url, title or None

    def _page_link(self, href: str, base: str) -> str | None:
        """The next list page's URL; a script "next" button (the last page's, often) ends paging quietly."""
        if not is_web_link(href):
            return None
        return self.article_url(href, base)
