"""The SSRF guard refuses every way of pointing the crawler at this machine or its network."""

from __future__ import annotations

import asyncio

import pytest
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawlers.crawl import crawl_sources
from crawlers.sources import SourceConfig
from crawlers.ssrf import SSRFGuardMiddleware, UnsafeURLError, check_url, parse_ip_literal

UNSAFE = [
    "http://127.0.0.1/",
    "http://127.8.9.10:8000/api",
    "http://localhost/",
    "http://foo.localhost/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[64:ff9b::a00:1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://017700000001/",
    "HTTP://LOCALHOST./",
]


@pytest.mark.parametrize("url", UNSAFE)
def test_private_and_disguised_local_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_url(url, allow_private=False, resolve=False)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.cn/x", "gopher://1.2.3.4/", "javascript:alert(1)",
                                 "http:///nohost", "http://user:pw@news.example.cn/", "http://@1.1.1.1/"])
def test_bad_schemes_credentials_and_missing_hosts_are_refused_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_url(url, allow_private=True, resolve=False)


@pytest.mark.parametrize("url", ["http://1.2.3.4/a", "https://8.8.8.8:8443/x?y=1", "http://[2001:4860::8888]/"])
def test_public_addresses_pass(url: str) -> None:
    check_url(url, allow_private=False, resolve=False)


def test_allowing_private_network_admits_the_local_sim() -> None:
    check_url("http://127.0.0.1:8765/news/rss.xml", allow_private=True)


def test_host_names_are_resolved_and_checked() -> None:
    # 'localhost' is refused by name; resolution of a name that maps to loopback is refused by address.
    with pytest.raises(UnsafeURLError):
        check_url("http://localhost:9/", allow_private=False)
    with pytest.raises(UnsafeURLError, match="resolve"):
        check_url("http://no-such-host.invalid/", allow_private=False)


def test_legacy_ip_forms_are_read_like_inet_aton() -> None:
    assert str(parse_ip_literal("2130706433")) == "127.0.0.1"
    assert str(parse_ip_literal("0x7f.1")) == "127.0.0.1"
    assert parse_ip_literal("news.example.cn") is None
    assert parse_ip_literal("123abc") is None


def _guard_and_redirect(allow_private: bool) -> tuple[SSRFGuardMiddleware, RedirectMiddleware, Crawler]:
    crawler = get_crawler(Spider, {"REMOTE_CONTROL_ENABLED": False, "TWISTED_REACTOR_ENABLED": False})
    spider = Spider(name="t")
    spider.allow_private_network = allow_private
    crawler.spider = spider
    return SSRFGuardMiddleware.from_crawler(crawler), RedirectMiddleware.from_crawler(crawler), crawler


def test_redirect_from_a_public_source_to_loopback_is_refused() -> None:
    guard, redirect, crawler = _guard_and_redirect(allow_private=False)
    request = Request("http://93.184.216.34/news/rss.xml")
    asyncio.run(guard.process_request(request))  # the public source itself is fine
    response = Response(request.url, status=302, headers={"Location": "http://127.0.0.1:8000/api/v1/users"},
                        request=request)
    redirected = redirect.process_response(request, response)
    assert isinstance(redirected, Request) and redirected.url.startswith("http://127.0.0.1:8000/")
    with pytest.raises(IgnoreRequest):
        asyncio.run(guard.process_request(redirected))
    assert crawler.stats.get_value("ssrf/refused") == 1
    assert crawler.stats.get_value("ssrf/reason_count/private_address") == 1


def test_metadata_address_in_a_link_is_refused_and_a_trusted_local_source_is_not() -> None:
    guard, _redirect, _crawler = _guard_and_redirect(allow_private=False)
    with pytest.raises(IgnoreRequest):
        asyncio.run(guard.process_request(Request("http://169.254.169.254/latest/meta-data/")))
    trusted, _r, _c = _guard_and_redirect(allow_private=True)
    asyncio.run(trusted.process_request(Request("http://127.0.0.1:8765/news/rss.xml")))


def test_a_crawl_of_a_private_url_without_the_flag_fails_the_source_and_fetches_nothing(
    site, session_factory, clock, fast
) -> None:
    site.add("/feed.xml", "<rss><channel></channel></rss>", content_type="application/rss+xml")
    # Built directly (load_sources would already refuse it) to prove the crawler refuses it on its own.
    source = SourceConfig(id="sneaky", name="内网地址", kind="rss", channel="news", url=f"{site.base}/feed.xml",
                          authority="local_media", respect_robots=False)
    result = asyncio.run(crawl_sources([source], session_factory=session_factory, clock=clock,
                                       settings_overrides=fast))["sneaky"]
    assert not site.requests
    assert not result.ok
    assert result.stats.get("ssrf/refused") == 1
    assert "请求被拒绝" in result.errors[0]
