"""Hostile content through a real crawl (local HTTP server → Scrapy spiders → item pipeline) on SQLite and
PostgreSQL: the other items of the poll are stored, a broken item is stored repaired or counted against its source,
and the source's health says what was lost and where."""

from __future__ import annotations

import asyncio
import html
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.crawl import crawl_sources
from crawlers.health import PARTIAL_LABEL, health_report
from crawlers.models import Article, SeenUrl, SourceState
from crawlers.sources import SourceConfig
from yuqing.db import make_sessionmaker

FFFD = "\ufffd"
PAGE = """<html><head><meta charset="utf-8">{head}<title>{title}_江城晚报网</title></head><body>
<div class="content"><p>{para}</p>
<p>记者在现场看到，网点大堂内有十余名客户排队等候办理业务，工作人员正在逐一解释情况。</p></div></body></html>"""


@pytest.fixture
def factory(db_engine: Engine) -> sessionmaker[Session]:
    """The migrated SQLite file and the PostgreSQL schema of the root ``db_engine`` fixture."""
    return make_sessionmaker(db_engine)


def host_port(site) -> str:
    return site.base.removeprefix("http://")


def rss(base: str, links: list[str]) -> str:
    items = "".join(f"<item><title>第{i}条</title><link>{base}{link}</link>"
                    f"<pubDate>Mon, 23 Nov 2026 0{i}:00:00 +0800</pubDate></item>" for i, link in enumerate(links))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>测试</title>{items}'
            "</channel></rss>")



def crawl(source: SourceConfig, factory, clock, fast):
    return asyncio.run(crawl_sources([source], session_factory=factory, clock=clock,
                                     settings_overrides=fast))[source.id]


def test_json_api_post_with_a_lone_surrogate_and_nul_is_stored_repaired_with_all_the_others(
        site, db_engine, factory, clock, fast, refuse_articles):
    posts = [
        {"id": 1, "text": "示例银行光明路支行取钱要预约，太难了", "user": "刘家小妹", "link": f"{site.base}/p/1"},
        {"id": 2, "text": "示例银行\ud800新华路网点\u0000拒绝取款\udfff", "user": "路人\u0000甲\ud83d",
         "link": f"{site.base}/p/2\ud800", "status": "处理中\u0000\udc80"},
        {"id": 3, "text": "示例银行滨江支行服务获赞", "user": "市民", "link": f"{site.base}/p/3"},
        {"id": 4, "text": "示例银行高新区支行开展反诈宣传", "user": "市民", "link": f"{site.base}/p/4"},
    ]
    # json.dumps escapes them: the body is valid ASCII JSON, and json.loads gives back a lone surrogate and a NUL
    site.add("/api/posts", json.dumps({"statuses": posts}), content_type="application/json")
    src = SourceConfig(id="posts", name="社交平台", kind="json_api", channel="social", url=f"{site.base}/api/posts",
                       authority="social", private_network=host_port(site), respect_robots=False,
                       json_api={"items_path": "statuses", "fields": {"id": "id", "text": "text", "author": "user",
                                                                      "url": "link", "meta": {"status": "status"}}})

    result = crawl(src, factory, clock, fast)

    assert result.ok, result.errors
    assert result.new_items == 4 and result.stats["yuqing/items/repaired"] == 1
    with factory() as s:
        stored = {a.external_id: a for a in s.scalars(select(Article))}
    assert set(stored) == {"1", "2", "3", "4"}
    bad = stored["2"]
    assert bad.text == f"示例银行{FFFD}新华路网点拒绝取款{FFFD}"
    assert bad.author == f"路人甲{FFFD}" and bad.meta["status"] == f"处理中{FFFD}"
    assert bad.url == f"{site.base}/p/2{FFFD}"
    with factory() as s:
        [line] = health_report(s, [src], clock.now())
    assert line.status == "ok"  # repaired, nothing lost

    # A later poll where one post is refused by the database and one record has no text: the rest are still
    # stored, and the source's health names what was lost.
    refuse_articles(db_engine, "6")
    posts += [{"id": 5, "text": "示例银行江城分行发布澄清公告", "user": "示例银行", "link": f"{site.base}/p/5"},
              {"id": 6, "text": "示例银行新华路网点\u0000又排长队", "user": "市民", "link": f"{site.base}/p/6"},
              {"id": 7, "user": "没有正文"},
              {"id": 8, "text": "示例银行光明路支行恢复正常", "user": "市民", "link": f"{site.base}/p/8"}]
    site.add("/api/posts", json.dumps({"statuses": posts}), content_type="application/json")
    clock.advance(300)

    again = crawl(src, factory, clock, fast)

    assert again.ok and again.new_items == 2
    assert again.stats["yuqing/items/failed"] == 1 and again.stats["yuqing/dropped/bad_record"] == 1
    with factory() as s:
        assert set(s.scalars(select(Article.external_id))) == {"1", "2", "3", "4", "5", "8"}
        [line] = health_report(s, [src], clock.now())
        state = s.get(SourceState, "posts")
    assert line.status == "failing" and line.label == PARTIAL_LABEL
    assert "2 条内容未能入库" in line.reason
    assert "内容入库失败" in line.reason and "refused by a test rule" in line.reason
    assert f"{site.base}/p/6" in line.reason
    assert "接口记录缺少编号或正文" in line.reason
    assert state.consecutive_failures == 0 and state.last_success_at == clock.now()


def test_feed_pages_empty_or_hostile_never_lose_the_others_and_empty_ones_count_against_the_source(
        site, factory, clock, fast):
    links = ["/a/good.html", "/a/nul.html", "/a/empty.html", "/a/far-future.html"]
    site.add("/feed.xml", rss(site.base, links), content_type="application/rss+xml")
    site.add("/a/good.html", PAGE.format(head="", title="光明路支行排长队", para="示例银行光明路支行门前排起长队。"))
    site.add("/a/nul.html", PAGE.format(head="", title="滨江\x00支行", para="示例银行\x00滨江支行\x01开通绿色通道。"))
    site.add("/a/empty.html", b"")
    site.add("/a/far-future.html", PAGE.format(
        head='<meta property="article:published_time" content="9999-12-31T23:59:59-05:00">',
        title="高新区支行开展宣传", para="示例银行高新区支行开展反诈宣传活动。"))
    src = SourceConfig(id="jcwb", name="江城晚报网", kind="rss", channel="news", url=f"{site.base}/feed.xml",
                       authority="local_media", private_network=host_port(site), respect_robots=False)

    result = crawl(src, factory, clock, fast)

    assert result.ok, result.errors
    with factory() as s:
        stored = {a.url.rsplit("/", 1)[-1]: a for a in s.scalars(select(Article))}
        seen = set(s.scalars(select(SeenUrl.url)))
        [line] = health_report(s, [src], clock.now())
    assert set(stored) == {"good.html", "nul.html", "far-future.html"}
    assert "示例银行滨江支行开通绿色通道" in stored["nul.html"].text
    assert "高新区支行开展反诈宣传活动" in stored["far-future.html"].text
    assert f"{site.base}/a/empty.html" not in seen  # fetched again next poll
    assert result.stats["yuqing/items/unparsable"] == 1
    assert line.status == "failing" and line.label == PARTIAL_LABEL
    assert "页面内容为空" in line.reason and f"{site.base}/a/empty.html" in line.reason


# --- links that are no http(s) URLs, and timestamps past the ends of time -------------------------------------
def feed_item(title: str, link: str | None, when: str = "Mon, 23 Nov 2026 09:00:00 +0800", content: bool = True) -> str:
    """One RSS item; with ``content`` it carries its full text (stored without fetching the link)."""
    body = html.escape(f"<p>示例银行{title}，记者在现场看到网点大堂内有十余名客户排队等候办理业务。</p>")
    return (f"<item><title>{html.escape(title)}</title>"
            + (f"<link>{html.escape(link)}</link>" if link is not None else "")
            + f"<pubDate>{when}</pubDate>" + (f"<content:encoded>{body}</content:encoded>" if content else "")
            + "</item>")


def rss_feed(items: list[str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>测试</title>'
            + "".join(items) + "</channel></rss>")


BAD_LINKS = {
    "js": 'javascript:alert("js")',
    "js-case": "JaVaScRiPt:alert(1)",
    "js-newline": "java\nscript:alert(1)",
    "js-space": "  javascript:alert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "vbscript": 'vbscript:msgbox("x")',
    "no-host": "https:javascript:alert(1)",
    "empty-host": "http:///",
    "credentials": "http://admin:secret@news.example.cn/a/1.html",
    "bad-port": "http://news.example.cn:99999/a/1.html",
    "bad-host": "http://<svg onload=alert(1)>/a.html",
    "anchor": "#comments",
    "none": None,
}


def test_feed_items_whose_links_are_no_http_urls_are_dropped_counted_and_the_others_stored(
        site, factory, clock, fast):
    site.add("/a/linked.html", PAGE.format(head="", title="滨江支行服务获赞", para="示例银行滨江支行开通绿色通道。"))
    items = [feed_item("光明路支行排长队", f"{site.base}/a/good.html"),
             *(feed_item(f"新华路网点{name}", link) for name, link in BAD_LINKS.items()),
             feed_item("高新区支行开展宣传", "/a/relative.html"),  # resolved against the feed's URL
             feed_item("滨江支行服务获赞", f"{site.base}/a/linked.html", content=False),  # fetched
             feed_item("新华路网点（无正文）", "javascript:alert(2)", content=False)]  # never requested
    site.add("/feed.xml", rss_feed(items), content_type="application/rss+xml")
    src = SourceConfig(id="jcwb", name="江城晚报网", kind="rss", channel="news", url=f"{site.base}/feed.xml",
                       authority="local_media", private_network=host_port(site), respect_robots=False)

    result = crawl(src, factory, clock, fast)

    assert result.ok, result.errors
    with factory() as s:
        urls = set(s.scalars(select(Article.url)))
        [line] = health_report(s, [src], clock.now())
    assert urls == {f"{site.base}/a/good.html", f"{site.base}/a/relative.html", f"{site.base}/a/linked.html"}
    assert result.stats["yuqing/dropped/bad_url"] == len(BAD_LINKS) + 1
    assert not any(k.startswith("spider_exceptions/") for k in result.stats)
    assert line.status == "failing" and line.label == PARTIAL_LABEL
    assert f"{len(BAD_LINKS) + 1} 个条目的链接不是有效的 http(s) 网址" in line.reason


def test_sitemap_and_list_links_that_are_no_http_urls_are_never_requested_or_stored(site, factory, clock, fast):
    for name in ("s1", "s2", "l1", "l2"):
        site.add(f"/a/{name}.html", PAGE.format(head="", title=f"示例银行{name}",
                                                para="示例银行滨江支行开通绿色通道。"))
    locs = [f"{site.base}/a/s1.html", "/a/s2.html", "javascript:alert(1)", "http://user:pw@news.example.cn/a.html",
            "data:text/html,x"]
    site.add("/sitemap.xml", '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
             'schemas/sitemap/0.9">' + "".join(f"<url><loc>{html.escape(u)}</loc><lastmod>"
                                               "9999-12-31T23:59:59-05:00</lastmod></url>" for u in locs)
             + "<url></url></urlset>", content_type="application/xml")
    # list page: script buttons, mail links and anchors are no article links (skipped quietly); a broken web
    # link among the articles is counted
    site.add("/list.html", '<ul class="list"><li><a href="/a/l1.html">一</a></li><li><a href="a/l2.html">二</a></li>'
             '<li><a href="javascript:void(0)">更多</a></li><li><a href="mailto:x@example.cn">投稿</a></li>'
             '<li><a href="#top">顶部</a></li><li><a href="http://:8080/a/l3.html">三</a></li></ul>'
             '<a class="next" href="javascript:;">下一页</a>')
    sitemap = SourceConfig(id="sitemap", name="站点地图", kind="sitemap", channel="news",
                           url=f"{site.base}/sitemap.xml", authority="local_media", private_network=host_port(site),
                           respect_robots=False)
    listing = SourceConfig(id="list", name="列表页", kind="listing", channel="news", url=f"{site.base}/list.html",
                           authority="local_media", private_network=host_port(site), respect_robots=False,
                           max_pages=3, listing={"link_selector": "ul.list a", "next_selector": "a.next"})

    results = asyncio.run(crawl_sources([sitemap, listing], session_factory=factory, clock=clock,
                                        settings_overrides=fast))

    assert results["sitemap"].ok and results["list"].ok
    with factory() as s:
        stored = {a.url.rsplit("/", 1)[-1]: a for a in s.scalars(select(Article))}
    assert set(stored) == {"s1.html", "s2.html", "l1.html", "l2.html"}
    assert stored["s1.html"].published_at is None  # lastmod past the ends of time: no date, the page is kept
    assert results["sitemap"].stats["yuqing/dropped/bad_url"] == 4  # three bad <loc> and one <url> without any
    assert results["list"].stats["yuqing/dropped/bad_url"] == 1
    assert results["list"].stats["yuqing/skipped_links"] == 3
    assert not any(k.startswith("spider_exceptions/") for r in results.values() for k in r.stats)
    assert sorted(r.path for r in site.requests) == sorted(
        ["/sitemap.xml", "/list.html", "/a/s1.html", "/a/s2.html", "/a/l1.html", "/a/l2.html"])


# past datetime.max in UTC (ISO, RFC 822, Weibo style), epoch ms of the year 5138, before 1990, infinity, a digit int()
# cannot read, a number too long to convert, before 1970, next year
HOSTILE_TIMES = ["9999-12-31T23:59:59-05:00", "Fri, 31 Dec 9999 23:59:59 -0500", "Fri Dec 31 23:59:59 -0500 9999",
                 99999999999999, "0001-01-01T00:00:00+05:00", float("inf"), "\u00b2", "1" * 5000, -5,
                 "2027-06-01 09:00"]


def social_source(site) -> SourceConfig:
    return SourceConfig(id="posts", name="社交平台", kind="json_api", channel="social", url=f"{site.base}/api/posts",
                        authority="social", private_network=host_port(site), respect_robots=False,
                        json_api={"items_path": "statuses", "fields": {
                            "id": "id", "text": "text", "url": "link", "created_at": "created_at",
                            "metrics": {"reposts": "reposts"}}})


def test_json_api_page_with_hostile_timestamps_stores_every_post_without_its_impossible_date(
        site, factory, clock, fast):
    posts = [{"id": n, "text": f"示例银行新华路网点第{n}条", "created_at": when, "link": f"{site.base}/p/{n}"}
             for n, when in enumerate(HOSTILE_TIMES)]
    posts.append({"id": 99, "text": "示例银行光明路支行恢复正常", "created_at": "2026-11-23T09:15:00+08:00",
                  "link": f"{site.base}/p/99"})  # after them all: must not be lost with the rest of the page
    site.add("/api/posts", json.dumps({"statuses": posts}), content_type="application/json")
    src = social_source(site)

    result = crawl(src, factory, clock, fast)

    assert result.ok, result.errors
    assert not any(k.startswith("spider_exceptions/") for k in result.stats)
    with factory() as s:
        stored = {a.external_id: a.published_at for a in s.scalars(select(Article))}
        [line] = health_report(s, [src], clock.now())
    assert stored == {**{str(n): None for n in range(len(HOSTILE_TIMES))},
                      "99": datetime(2026, 11, 23, 1, 15, tzinfo=UTC)}
    assert result.stats["yuqing/dates_refused"] == len(HOSTILE_TIMES)
    assert line.status == "ok", line.reason  # every post stored: nothing lost


def test_json_api_page_with_hostile_numbers_ids_and_links_stores_every_post(site, factory, clock, fast):
    # raw JSON: 1e400 reads as infinity, NaN as NaN, a 5000-digit number is too long for int()
    posts = [f'{{"id": 1, "text": "示例银行滨江支行", "created_at": {"9" * 5000}, "reposts": 1e400, '
             f'"link": "{site.base}/p/1"}}',
             '{"id": 2, "text": "示例银行高新区支行", "created_at": NaN, "reposts": NaN, '
             '"link": "javascript:alert(1)"}',
             '{"id": "\\ud800", "text": "示例银行光明路支行", "reposts": "\\u00b2", "link": "/p/relative"}',
             f'{{"id": 4, "text": "示例银行光明路支行恢复正常", "reposts": "12", "link": "{site.base}/p/4"}}']
    site.add("/api/posts", '{"statuses": [' + ",".join(posts) + "]}", content_type="application/json")
    src = social_source(site)

    result = crawl(src, factory, clock, fast)

    assert result.ok, result.errors
    assert not any(k.startswith("spider_exceptions/") for k in result.stats)
    with factory() as s:
        stored = {a.external_id: a for a in s.scalars(select(Article))}
        [line] = health_report(s, [src], clock.now())
    assert set(stored) == {"1", "2", FFFD, "4"}
    assert stored["1"].published_at is None and stored["2"].published_at is None
    # counters that are no finite whole number are left out; a plain one is kept
    assert stored["1"].metrics == stored["2"].metrics == stored[FFFD].metrics == {}
    assert stored["4"].metrics == {"reposts": 12}
    # a script or relative link is never stored: the post keeps its own address on the API instead
    assert stored["1"].url == f"{site.base}/p/1"
    assert stored["2"].url == f"{site.base}/api/posts?yuqing_item=2"
    assert stored[FFFD].url == f"{site.base}/api/posts?yuqing_item=%EF%BF%BD"
    assert result.stats["yuqing/items/url_replaced"] == 2
    assert line.status == "ok", line.reason
