"""Scrapy settings for one source's crawl: politeness, limits and our middlewares, in one place.

Scrapy runs without a Twisted reactor (``TWISTED_REACTOR_ENABLED=False``: plain asyncio, aiohttp downloads) so it
can share the event loop that also serves the simulated internet and the API. Its remote-control server, telnet
console, memory-usage extension and HTTP cache are off. robots.txt is obeyed unless a source opts out.

Custom settings read by our components: ``YUQING_RETRY_BACKOFF`` (seconds before the first retry, doubling each
time, capped by ``YUQING_RETRY_BACKOFF_MAX``); ``YUQING_DOMAIN_DELAY`` (seconds between request starts to one
registrable domain across every source and worker, default ``DOWNLOAD_DELAY``), ``YUQING_REDIS_URL`` and
``YUQING_POLITENESS_NAMESPACE`` (``crawlers.politeness``). ``DOWNLOAD_DELAY`` itself still spaces each source's own
requests.
"""

from __future__ import annotations

from typing import Any

from crawlers.sources import SourceConfig

USER_AGENT = "Mozilla/5.0 (compatible; yuqing/0.1; public-opinion monitor; +self-hosted)"

DEFAULTS: dict[str, Any] = {
    "TWISTED_REACTOR_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "MEMUSAGE_ENABLED": False,
    "LOGSTATS_INTERVAL": 0,
    "LOG_LEVEL": "WARNING",
    "HTTPCACHE_ENABLED": False,
    "COOKIES_ENABLED": False,
    "USER_AGENT": USER_AGENT,
    "DEFAULT_REQUEST_HEADERS": {
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5",
    },
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    "DOWNLOAD_DELAY": 0.5,
    "DOWNLOAD_TIMEOUT": 15,
    # Extraction reads at most 2 MB of a page (crawlers.extract.MAX_INPUT_BYTES); a bigger body is dropped
    # (stats: yuqing/dropped/too_large) rather than half-read.
    "DOWNLOAD_MAXSIZE": 2 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 1024 * 1024,
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 2,
    "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
    "RETRY_GIVE_UP_LOG_LEVEL": "WARNING",
    "YUQING_RETRY_BACKOFF": 1.0,
    "YUQING_RETRY_BACKOFF_MAX": 30.0,
    "REDIRECT_MAX_TIMES": 5,
    # No depth limit: a list, API or sitemap poll requests each next page from the previous page's callback, so
    # Scrapy's depth counter grows by one per page and a limit silently dropped pages past it. Every spider bounds
    # its own chain instead (max_pages, max_items), and articles found on a page are fetched, never followed.
    "DEPTH_LIMIT": 0,
    "DOWNLOADER_MIDDLEWARES": {
        "crawlers.ssrf.SSRFGuardMiddleware": 50,
        "crawlers.spiders.middlewares.SeenUrlFilterMiddleware": 60,
        # before DefaultHeadersMiddleware (400); sees redirected requests again, so it strips off-origin headers
        "crawlers.spiders.middlewares.OwnOriginHeadersMiddleware": 390,
        "crawlers.spiders.middlewares.RetryBackoffMiddleware": 560,
        # after the retry back-off: the domain slot is reserved right before the request goes out
        "crawlers.politeness.DomainPolitenessMiddleware": 570,
    },
    "ITEM_PIPELINES": {"crawlers.pipelines.StorePipeline": 300},
}


def build_settings(source: SourceConfig, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings for crawling ``source``: the defaults, the source's own choices, then ``overrides`` (tests, demo)."""
    settings = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                for k, v in DEFAULTS.items()}
    settings["ROBOTSTXT_OBEY"] = source.respect_robots
    for key, value in (overrides or {}).items():
        if key in ("DOWNLOADER_MIDDLEWARES", "ITEM_PIPELINES") and isinstance(value, dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value
    return settings
