"""试抓取: one URL fetched through the SSRF guard (a private address refused unless the source's id is opted in,
as for crawling), extracted and matched as the pipeline would, hostile page text shown as text, nothing stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from crawlers.models import Article
from tests.static_site import StaticSite

HOSTILE = ("<html><head><title>示例银行新华路网点排长队 <script>alert(1)</script></title>"
           '<meta name="author" content="记者 张三"></head><body><article><h1>示例银行新华路网点排长队</h1>'
           "<p>发布时间：2026-11-20 09:30</p>"
           '<p>今天上午，示例银行江城分行新华路网点门前排起长队，有储户称取不出钱。<img src=x onerror="alert(2)"></p>'
           "<p>网点工作人员表示系统升级，下午恢复正常。网友留言：&lt;script&gt;alert(1)&lt;/script&gt;</p>"
           + "<p>围观群众议论纷纷，现场秩序总体平稳。</p>" * 5
           + "</article></body></html>")
GBK_PAGE = ("<html><head><meta charset='gbk'><title>示例银行江城分行发布公告</title></head><body><article>"
            "<p>示例银行江城分行今日发布公告，称网点营业正常，请广大储户放心。</p>" * 4 + "</article></body></html>"
            ).encode("gbk")


def feed(base: str) -> str:
    items = "".join(f"<item><title>条目{i}&lt;img src=x onerror=alert(3)&gt;</title><link>{base}/news/{i}.html</link>"
                    f"<pubDate>Fri, 20 Nov 2026 0{i}:00:00 +0800</pubDate></item>" for i in range(1, 4))
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>江城晚报</title>{items}' \
           "</channel></rss>"


@pytest.fixture
def site() -> Iterator[str]:
    with StaticSite() as web:
        web.add("/rss.xml", feed(web.base), "application/rss+xml")
        for i in range(1, 4):
            web.add(f"/news/{i}.html", HOSTILE)
        web.add("/gbk.html", GBK_PAGE, "text/html")  # no charset in the header: the page and the bytes say GBK
        yield web.base


@pytest.fixture
def trusted(app_with) -> Iterator[TestClient]:
    """The app with the source id ``local-site`` opted in for its private network (YUQING_ALLOW_PRIVATE_SOURCES)."""
    with TestClient(app_with(allow_private_sources=["local-site"]), follow_redirects=False) as client:
        yield client


def test_a_private_address_is_refused_unless_the_source_is_opted_in(trusted, token_for, site, users):
    admin = token_for("admin")
    r = trusted.post("/api/v1/sources/test-fetch", json={"url": f"{site}/news/1.html"}, headers=admin)
    assert r.status_code == 422 and "拒绝抓取" in r.text, r.text
    host_port = site.removeprefix("http://")
    r = trusted.post("/api/v1/sources/test-fetch", json={"url": f"{site}/news/1.html", "source_id": "other",
                                                         "private_network": host_port}, headers=admin)
    assert r.status_code == 422 and "YUQING_ALLOW_PRIVATE_SOURCES" in r.text
    r = trusted.post("/api/v1/sources/test-fetch", json={"url": "http://169.254.169.254/latest/meta-data/",
                                                         "source_id": "local-site",
                                                         "private_network": "169.254.169.254:80"}, headers=admin)
    assert r.status_code == 422  # link-local / metadata: never allowed
    r = trusted.post("/api/v1/sources/test-fetch", json={"url": f"{site}/news/1.html"}, headers=token_for("wangmin"))
    assert r.status_code == 403


def test_a_page_is_extracted_and_matched_and_nothing_is_stored(trusted, token_for, site, session, users):
    host_port = site.removeprefix("http://")
    r = trusted.post("/api/v1/sources/test-fetch", json={"url": f"{site}/news/1.html", "source_id": "local-site",
                                                         "private_network": host_port}, headers=token_for("admin"))
    assert r.status_code == 200, r.text
    page = r.json()["page"]
    assert page["title"].startswith("示例银行新华路网点排长队")
    assert page["published_at"] == "2026-11-20T09:30:00+08:00"
    assert page["author"] and "张三" in page["author"]
    assert "取不出钱" in page["excerpt"] and page["encoding"] == "utf-8"
    assert page["relevant"] and any(u["unit_id"] == "xinhualu" and u["primary"] for u in page["units"])
    assert "取不出钱" in page["plan_hits"]["存取款受限/挤兑谣言"]
    assert session.scalar(select(func.count()).select_from(Article)) == 0


def test_a_feed_lists_its_entries_and_the_page_shows_hostile_text_escaped(trusted, login_as, csrf_of, site,
                                                                            users):
    admin = login_as("admin")  # signed in on the client below through the same app
    client = trusted
    client.cookies = admin.cookies
    form = client.get("/admin/sources/test-fetch")
    assert form.status_code == 200
    r = client.post("/admin/sources/test-fetch", data={
        "csrf_token": csrf_of(form.text), "url": f"{site}/rss.xml", "kind": "rss", "source_id": "local-site",
        "private_network": site.removeprefix("http://")})
    assert r.status_code == 200, r.text
    assert "找到 3 条" in r.text and "条目1" in r.text and f"{site}/news/3.html" in r.text
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert 'onerror="alert(2)"' not in r.text
    assert "<img src=x onerror=alert(3)>" not in r.text and "条目1&lt;img src=x onerror=alert(3)&gt;" in r.text
    assert "新华路网点（主要）" in r.text


def test_the_encoding_is_detected(trusted, token_for, site, users):
    r = trusted.post("/api/v1/sources/test-fetch", json={"url": f"{site}/gbk.html", "source_id": "local-site",
                                                         "private_network": site.removeprefix("http://")},
                     headers=token_for("admin"))
    assert r.status_code == 200, r.text
    page = r.json()["page"]
    assert page["encoding"] == "gb18030" and page["title"] == "示例银行江城分行发布公告"


def test_an_unreachable_address_is_reported_not_raised(trusted, token_for, users):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = trusted.post("/api/v1/sources/test-fetch", json={"url": f"http://127.0.0.1:{port}/", "source_id": "local-site",
                                                         "private_network": f"127.0.0.1:{port}"},
                     headers=token_for("admin"))
    assert r.status_code == 200 and r.json()["problems"] == ["无法连接：连接被拒绝"], r.text
