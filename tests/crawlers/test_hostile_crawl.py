"""Hostile content through a real crawl (local HTTP server → Scrapy spiders → item pipeline) on SQLite and
PostgreSQL: the other items of the poll are stored, a broken item is stored repaired or counted against its source,
and the source's health says what was lost and where."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import Engine, select, text
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


def refuse_articles(engine: Engine, external_id: str) -> None:
    """A real database rule (a trigger) that refuses one article, as a constraint or a stricter server would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"CREATE TRIGGER refuse_article BEFORE INSERT ON articles "
                              f"WHEN NEW.external_id = '{external_id}' "
                              "BEGIN SELECT RAISE(ABORT, 'refused by a test rule'); END"))
        else:
            conn.execute(text(
                "CREATE FUNCTION refuse_article() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.external_id = '{external_id}' THEN RAISE EXCEPTION 'refused by a test rule'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER refuse_article BEFORE INSERT ON articles FOR EACH ROW "
                              "EXECUTE FUNCTION refuse_article()"))


def crawl(source: SourceConfig, factory, clock, fast):
    return asyncio.run(crawl_sources([source], session_factory=factory, clock=clock,
                                     settings_overrides=fast))[source.id]


def test_json_api_post_with_a_lone_surrogate_and_nul_is_stored_repaired_with_all_the_others(
        site, db_engine, factory, clock, fast):
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
