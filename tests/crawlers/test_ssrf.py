"""The SSRF guard refuses every way of pointing the crawler at this machine or its network, and a source's
private-network allowance opens exactly one host and port — never another, never a metadata address."""

from __future__ import annotations

import asyncio
import socket

import pytest
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawlers.crawl import crawl_sources
from crawlers.sources import SourceConfig
from crawlers.ssrf import PrivateAllowance, SSRFGuardMiddleware, UnsafeURLError, check_url, parse_ip_literal

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
        check_url(url, resolve=False)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.cn/x", "gopher://1.2.3.4/", "javascript:alert(1)",
                                 "http:///nohost", "http://user:pw@news.example.cn/", "http://@1.1.1.1/"])
def test_bad_schemes_credentials_and_missing_hosts_are_refused_even_when_private_is_allowed(url: str) -> None:
    for allowance in (PrivateAllowance.parse("news.example.cn:80"), PrivateAllowance.parse("1.1.1.1:80")):
        with pytest.raises(UnsafeURLError):
            check_url(url, allowance, resolve=False)


@pytest.mark.parametrize("url", ["http://1.2.3.4/a", "https://8.8.8.8:8443/x?y=1", "http://[2001:4860::8888]/"])
def test_public_addresses_pass(url: str) -> None:
    check_url(url, resolve=False)


def test_the_allowance_admits_the_local_sim_on_its_host_and_port() -> None:
    check_url("http://127.0.0.1:8765/news/rss.xml", PrivateAllowance.parse("127.0.0.1:8765"))
    check_url("http://[::1]:8765/", PrivateAllowance.parse("[0:0::1]:8765"))  # same address, canonical form


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8766/news/rss.xml",  # another port of the same host
    "http://127.0.0.1/",  # port 80 by default
    "http://127.0.0.2:8765/",
    "http://localhost:8765/",  # same machine, other name: not what the admin wrote
    "http://[::1]:8765/",
    "http://[::ffff:127.0.0.1]:8765/",
    "http://2130706433:8765/",  # legacy spelling never matches, so it is checked as public
    "http://10.0.0.5:8765/",
    "http://192.168.1.1:8765/",
    "http://169.254.169.254:8765/latest/meta-data/",
])
def test_the_allowance_admits_no_other_private_host_or_port(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_url(url, PrivateAllowance.parse("127.0.0.1:8765"), resolve=False)


def test_the_allowance_port_defaults_from_the_scheme() -> None:
    allowance = PrivateAllowance.parse("10.1.2.3:443")
    check_url("https://10.1.2.3/portal", allowance)
    check_url("https://10.1.2.3:443/portal", allowance)
    with pytest.raises(UnsafeURLError):
        check_url("http://10.1.2.3/portal", allowance)  # port 80


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://100.100.100.200/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
])
def test_link_local_metadata_and_unroutable_addresses_are_refused_even_when_named_by_an_allowance(url) -> None:
    # Built directly: PrivateAllowance.parse refuses these (see test_sources), the guard must refuse them anyway.
    from crawlers.ssrf import url_host_port

    host, port = url_host_port(url)
    with pytest.raises(UnsafeURLError):
        check_url(url, PrivateAllowance(host, port), resolve=False)


@pytest.mark.parametrize("url", ["http://metadata.google.internal/computeMetadata/v1/", "http://metadata/",
                                 "http://METADATA.GOOGLE.INTERNAL./", "http://metadata.tencentyun.com/latest/",
                                 "http://instance-data.ec2.internal/latest/"])
def test_metadata_names_are_refused_by_name_with_or_without_an_allowance(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="metadata"):
        check_url(url, resolve=False)
    from crawlers.ssrf import url_host_port

    host, port = url_host_port(url)
    with pytest.raises(UnsafeURLError, match="metadata"):
        check_url(url, PrivateAllowance(host, port), resolve=False)


@pytest.fixture
def fake_dns(monkeypatch):
    """Answers for a few names at the edge of the world (the resolver), as a hostile DNS server could give."""
    answers = {"intranet.example": "10.0.0.8", "rebound.example": "169.254.169.254",
               "aliyun-meta.example": "100.100.100.200", "v6meta.example": "fd00:ec2::254"}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            address = answers[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port or 0, 0, 0) if family == socket.AF_INET6 else (address, port or 0)
            return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_an_allowed_name_may_resolve_privately_but_never_to_a_metadata_address(fake_dns) -> None:
    check_url("http://intranet.example:8080/news", PrivateAllowance.parse("intranet.example:8080"))
    with pytest.raises(UnsafeURLError, match="non-public"):
        check_url("http://intranet.example:8081/news", PrivateAllowance.parse("intranet.example:8080"))
    for name in ("rebound.example", "aliyun-meta.example", "v6meta.example"):
        allowance = PrivateAllowance.parse(f"{name}:80")  # a name is accepted; its addresses are checked later
        with pytest.raises(UnsafeURLError, match="non-public"):
            check_url(f"http://{name}/latest/meta-data/", allowance)
        guard, _redirect, crawler = _guard_and_redirect(allowance)
        with pytest.raises(IgnoreRequest):
            asyncio.run(guard.process_request(Request(f"http://{name}/latest/meta-data/")))
        assert crawler.stats.get_value("ssrf/reason_count/private_address") == 1


def test_host_names_are_resolved_and_checked() -> None:
    # 'localhost' is refused by name; resolution of a name that maps to loopback is refused by address.
    with pytest.raises(UnsafeURLError):
        check_url("http://localhost:9/")
    with pytest.raises(UnsafeURLError, match="resolve"):
        check_url("http://no-such-host.invalid/")


def test_legacy_ip_forms_are_read_like_inet_aton() -> None:
    assert str(parse_ip_literal("2130706433")) == "127.0.0.1"
    assert str(parse_ip_literal("0x7f.1")) == "127.0.0.1"
    assert parse_ip_literal("news.example.cn") is None
    assert parse_ip_literal("123abc") is None


def _guard_and_redirect(
    allowance: PrivateAllowance | None = None,
) -> tuple[SSRFGuardMiddleware, RedirectMiddleware, Crawler]:
    crawler = get_crawler(Spider, {"REMOTE_CONTROL_ENABLED": False, "TWISTED_REACTOR_ENABLED": False})
    spider = Spider(name="t")
    spider.private_network = allowance
    crawler.spider = spider
    return SSRFGuardMiddleware.from_crawler(crawler), RedirectMiddleware.from_crawler(crawler), crawler


def test_redirect_from_a_public_source_to_loopback_is_refused() -> None:
    guard, redirect, crawler = _guard_and_redirect()
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
    guard, _redirect, _crawler = _guard_and_redirect()
    with pytest.raises(IgnoreRequest):
        asyncio.run(guard.process_request(Request("http://169.254.169.254/latest/meta-data/")))
    trusted, _r, crawler = _guard_and_redirect(PrivateAllowance.parse("127.0.0.1:8765"))
    asyncio.run(trusted.process_request(Request("http://127.0.0.1:8765/news/rss.xml")))
    with pytest.raises(IgnoreRequest):
        asyncio.run(trusted.process_request(Request("http://169.254.169.254/latest/meta-data/")))
    assert crawler.stats.get_value("ssrf/refused") == 1


def test_a_redirect_from_the_allowed_host_to_another_private_host_is_refused() -> None:
    guard, redirect, crawler = _guard_and_redirect(PrivateAllowance.parse("127.0.0.1:8765"))
    request = Request("http://127.0.0.1:8765/news/a/1.html")
    asyncio.run(guard.process_request(request))
    for target in ("http://127.0.0.1:8000/api/v1/users", "http://10.0.0.5:8765/", "http://169.254.169.254/"):
        response = Response(request.url, status=302, headers={"Location": target}, request=request)
        redirected = redirect.process_response(request, response)
        assert isinstance(redirected, Request) and redirected.url == target
        with pytest.raises(IgnoreRequest):
            asyncio.run(guard.process_request(redirected))
    assert crawler.stats.get_value("ssrf/refused") == 3


def test_a_page_cannot_widen_the_allowance_through_request_meta() -> None:
    guard, _redirect, crawler = _guard_and_redirect(PrivateAllowance.parse("127.0.0.1:8765"))
    for meta in ({"allow_private_network": True}, {"private_network": "127.0.0.1:8000"}):
        with pytest.raises(IgnoreRequest):
            asyncio.run(guard.process_request(Request("http://127.0.0.1:8000/api/v1/users", meta=meta)))
    public, _r, _c = _guard_and_redirect()
    with pytest.raises(IgnoreRequest):
        asyncio.run(public.process_request(Request("http://127.0.0.1:8765/", meta={"allow_private_network": True})))
    assert crawler.stats.get_value("ssrf/refused") == 2


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


def _feed(links: list[str]) -> str:
    items = "".join(f"<item><title>第{i}条</title><link>{link}</link></item>" for i, link in enumerate(links))
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>测</title>{items}</channel></rss>'


ARTICLE = ("<html><head><title>示例银行光明路支行</title></head><body><h1>示例银行光明路支行</h1>"
           "<p>示例银行光明路支行今日开展反诈宣传活动，向到店客户讲解常见骗局并发放宣传资料。</p></body></html>")


def _private_source(site, **kwargs) -> SourceConfig:
    values = {"id": "intranet", "name": "内网门户", "kind": "rss", "channel": "news", "url": f"{site.base}/feed.xml",
              "authority": "local_media", "respect_robots": False,
              "private_network": site.base.removeprefix("http://")}
    values.update(kwargs)
    return SourceConfig(**values)


def test_a_private_source_fetches_its_own_host_but_not_a_link_to_another_local_port(
    site, other_site, session_factory, clock, fast
) -> None:
    site.add("/feed.xml", _feed([f"{site.base}/a/1.html", f"{other_site.base}/internal/admin.html",
                                 "http://169.254.169.254/latest/meta-data/iam/"]),
             content_type="application/rss+xml")
    site.add("/a/1.html", ARTICLE)
    other_site.add("/internal/admin.html", ARTICLE)
    result = asyncio.run(crawl_sources([_private_source(site)], session_factory=session_factory, clock=clock,
                                       settings_overrides=fast))["intranet"]
    assert result.ok, result.errors
    assert result.new_items == 1 and len(site.hits("/a/1.html")) == 1
    assert other_site.requests == []
    assert result.stats["ssrf/refused"] == 2
    assert result.stats["ssrf/reason_count/private_address"] == 2


def test_a_private_source_cannot_be_redirected_to_another_local_server_or_to_metadata(
    site, other_site, session_factory, clock, fast
) -> None:
    site.add("/feed.xml", _feed([f"{site.base}/a/1.html", f"{site.base}/a/2.html"]),
             content_type="application/rss+xml")
    site.add("/a/1.html", b"", status=302, headers={"Location": f"{other_site.base}/internal/admin.html"})
    site.add("/a/2.html", b"", status=301, headers={"Location": "http://metadata.google.internal/computeMetadata/"})
    other_site.add("/internal/admin.html", ARTICLE)
    result = asyncio.run(crawl_sources([_private_source(site)], session_factory=session_factory, clock=clock,
                                       settings_overrides=fast))["intranet"]
    assert len(site.hits("/a/1.html")) == 1 and len(site.hits("/a/2.html")) == 1
    assert other_site.requests == []
    assert result.new_items == 0
    assert result.stats["ssrf/refused"] == 2


def test_pagination_and_robots_txt_of_another_local_server_are_refused_too(
    site, other_site, session_factory, clock, fast
) -> None:
    listing = ('<html><body><ul class="news"><li><a href="{own}/a/1.html">一</a></li>'
               '<li><a href="{other}/a/9.html">九</a></li></ul>'
               '<div class="pager"><a class="next" href="{other}/list_2.html">下一页</a></div></body></html>')
    site.add("/list_1.html", listing.format(own=site.base, other=other_site.base))
    site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    site.add("/a/1.html", ARTICLE)
    other_site.add("/list_2.html", listing.format(own=other_site.base, other=other_site.base))
    other_site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    other_site.add("/a/9.html", ARTICLE)
    source = _private_source(site, kind="listing", url=f"{site.base}/list_1.html", respect_robots=True,
                             listing={"link_selector": "ul.news a", "next_selector": "div.pager a.next"})
    result = asyncio.run(crawl_sources([source], session_factory=session_factory, clock=clock,
                                       settings_overrides=fast))["intranet"]
    assert result.ok, result.errors
    assert len(site.hits("/robots.txt")) == 1 and len(site.hits("/a/1.html")) == 1
    assert other_site.requests == []  # not the page, not the next list page, not its robots.txt
    assert result.stats["ssrf/refused"] >= 2
