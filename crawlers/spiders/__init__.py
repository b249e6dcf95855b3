"""Generic, config-driven spiders: one per source *kind*, never one per site."""

from __future__ import annotations

from crawlers.spiders.base import KnownState, SourceSpider
from crawlers.spiders.feed import FeedSpider
from crawlers.spiders.json_api import JsonApiSpider
from crawlers.spiders.listing import ListingSpider
from crawlers.spiders.platform import PlatformSpider
from crawlers.spiders.sitemap import SitemapSpider
from crawlers.spiders.trending import TrendingSpider

SPIDER_FOR_KIND: dict[str, type[SourceSpider]] = {
    "rss": FeedSpider,
    "sitemap": SitemapSpider,
    "listing": ListingSpider,
    "json_api": JsonApiSpider,
    "trending": TrendingSpider,
    "platform": PlatformSpider,
}

__all__ = ["SPIDER_FOR_KIND", "FeedSpider", "JsonApiSpider", "KnownState", "ListingSpider", "PlatformSpider",
           "SitemapSpider", "SourceSpider", "TrendingSpider"]
