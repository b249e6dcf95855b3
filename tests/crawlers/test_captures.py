"""Evidence kept at fetch time: every stored article has a capture of the bytes served, their SHA-256, the
response headers and the fetch time; a re-fetch that changed keeps both versions; a huge page is cut at the
configured size and says so."""

from __future__ import annotations

import asyncio
import hashlib
import json
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import select
from test_crawl import page, rss, source, weibo_posts, weibo_source

from crawlers.crawl import crawl_sources
from crawlers.models import Article, ArticleCapture, CaptureKind
from crawlers.pipelines import captured_bytes, store_safely
from crawlers.spiders.items import PageItem
from yuqing.db import make_sessionmaker


def test_crawled_articles_keep_the_bytes_served_their_hash_headers_and_fetch_time(site, session_factory, clock,
                                                                                 fast, monkeypatch) -> None:
    small = page("光明路支行排长队", "11月23日上午，示例银行光明路支行门前排起长队。")
    gbk = page("滨江支行服务获赞", "示例银行滨江支行为老年客户开通绿色通道。", charset="gbk")
    huge = page("高新区支行开展宣传", "高新区支行开展反诈宣传活动。" + "市民纷纷表示支持。" * 4000)
    assert len(huge) > 100_000
    site.add("/feed.xml", rss(site.base, ["/a/1.html", "/a/2.html", "/a/huge.html"]),
             content_type="application/rss+xml")
    site.add("/a/1.html", small, headers={"X-Evidence": "kept", "Last-Modified": "Mon, 23 Nov 2026 01:00:00 GMT"})
    site.add("/a/2.html", gbk, content_type="text/html")
    site.add("/a/huge.html", huge)
    monkeypatch.setenv("YUQING_CAPTURE_MAX_BYTES", "50000")  # Settings.capture_max_bytes

    result = asyncio.run(crawl_sources([source(site)], session_factory=session_factory, clock=clock,
                                       settings_overrides=fast))["jcwb"]

    assert result.ok, result.errors
    assert result.new_items == 3
    with session_factory() as s:
        rows = {a.url.rsplit("/", 1)[-1]: (a, c) for a, c in s.execute(
            select(Article, ArticleCapture).join(ArticleCapture, ArticleCapture.article_id == Article.id))}
        assert len(s.scalars(select(ArticleCapture)).all()) == 3  # one capture per article
    served = {"1.html": small, "2.html": gbk, "huge.html": huge}
    for name, body in served.items():
        article, cap = rows[name]
        assert cap.sha256 == hashlib.sha256(body).hexdigest(), name
        assert cap.size == len(body)
        assert cap.fetched_at == clock.now() == article.fetched_at
        assert cap.status == 200 and cap.kind == CaptureKind.page and cap.url == article.url
        assert len(cap.body) < cap.stored_size  # kept compressed
    first = rows["1.html"][1]
    assert captured_bytes(first) == small and not first.truncated and first.stored_sha256 == first.sha256
    assert first.headers["X-Evidence"] == "kept"
    assert first.headers["Content-Type"] == "text/html; charset=utf-8"
    assert rows["2.html"][1].headers["Content-Type"] == "text/html"  # GBK bytes kept as served, not re-encoded
    assert captured_bytes(rows["2.html"][1]) == gbk
    cut = rows["huge.html"][1]
    assert cut.truncated and cut.stored_size == 50_000 and cut.size == len(huge)
    assert captured_bytes(cut) == huge[:50_000]
    assert cut.stored_sha256 == hashlib.sha256(huge[:50_000]).hexdigest() != cut.sha256


@pytest.mark.parametrize("db_engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_storage_keeps_every_changed_version_and_cuts_huge_pages(db_engine, clock) -> None:
    factory = make_sessionmaker(db_engine)
    url = "https://news.example/a/1.html"

    def item(body: bytes) -> PageItem:
        return PageItem(source_id="jcwb", channel="news", url=url, body=body, content_type="text/html",
                        headers={"Server": "nginx", "X-Bad": "a\x00b"})

    v1 = page("光明路支行排长队", "示例银行光明路支行门前排起长队。")
    v2 = page("光明路支行排长队（更新）", "示例银行光明路支行门前排起长队，已有回应。" + "补充。" * 2000)
    assert store_safely(factory, item(v1), clock.now(), capture_max_bytes=4096).outcome == "new"
    clock.advance(600)
    assert store_safely(factory, item(v1), clock.now(), capture_max_bytes=4096).outcome == "duplicate"
    clock.advance(600)
    assert store_safely(factory, item(v2), clock.now(), capture_max_bytes=4096).outcome == "duplicate"
    with factory() as s:
        caps = s.scalars(select(ArticleCapture).order_by(ArticleCapture.id)).all()
        article = s.scalars(select(Article)).one()
    assert [c.sha256 for c in caps] == [hashlib.sha256(v1).hexdigest(), hashlib.sha256(v2).hexdigest()]
    assert {c.article_id for c in caps} == {article.id}
    assert [c.fetched_at for c in caps] == [clock.now() - timedelta(seconds=1200), clock.now()]
    assert not caps[0].truncated and zlib.decompress(caps[0].body) == v1
    assert caps[1].truncated and caps[1].size == len(v2) and captured_bytes(caps[1]) == v2[:4096]
    assert caps[0].headers["Server"] == "nginx" and "\x00" not in caps[0].headers["X-Bad"]


def test_api_records_keep_each_record_as_served_and_a_changed_record_adds_a_version(site, session_factory, clock,
                                                                                    fast, monkeypatch) -> None:
    monkeypatch.setenv("TEST_WEIBO_TOKEN", "secret-1")
    counters = {"reposts": 5}
    site.add("/api/search?count=100", lambda: weibo_posts(site.base, counters["reposts"]),
             content_type="application/json", require_auth="Bearer secret-1")
    src = weibo_source(site)

    async def polls():
        await crawl_sources([src], session_factory=session_factory, clock=clock, settings_overrides=fast)
        counters["reposts"] = 250
        clock.advance(120)
        await crawl_sources([src], session_factory=session_factory, clock=clock, settings_overrides=fast)

    asyncio.run(polls())
    with session_factory() as s:
        original = s.scalar(select(Article).where(Article.external_id == "1001"))
        repost = s.scalar(select(Article).where(Article.external_id == "1002"))
        caps = s.scalars(select(ArticleCapture).order_by(ArticleCapture.id)).all()
    mine = [c for c in caps if c.article_id == original.id]
    assert [c.article_id for c in caps].count(repost.id) == 1  # unchanged record: no second version
    assert len(mine) == 2 and all(c.kind == CaptureKind.api_record for c in mine)
    served = [json.loads(captured_bytes(c)) for c in mine]
    assert [r["reposts_count"] for r in served] == [5, 250]
    assert served[0]["text"].startswith("示例银行光明路支行取钱要预约？<a href=")  # the record as served, HTML kept
    assert mine[0].sha256 == hashlib.sha256(captured_bytes(mine[0])).hexdigest()
    assert mine[0].headers["Content-Type"] == "application/json" and mine[0].status == 200
    assert [c.fetched_at for c in mine] == [clock.now() - timedelta(seconds=120), clock.now()]
