"""The ``trending`` source kind: hot lists crawled from a local server, stored as one article per entry with its
rank over time, ``meta.trending`` keeping the first time seen, and a title-only entry naming the bank matched."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from crawlers.crawl import crawl_sources
from crawlers.health import health_report
from crawlers.ingest import process_fetched
from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher
from crawlers.models import Article, ArticleMetricSample, ArticleStage, Mention
from crawlers.sources import SourceConfig
from crawlers.spiders.trending import parse_heat
from crawlers.stories import StoryIndex
from yuqing.errors import ConfigError
from yuqing.org import load_org

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "public"
BANK_ENTRY = "示例银行新华路网点不让老人取钱"


def weibo(site, **options) -> SourceConfig:
    trending = {"format": "json", "items_path": "data.realtime", "skip_when": ["is_ad"],
                "fields": {"title": "word", "rank": "realpos", "heat": "num", "excerpt": "note",
                           "time": "onboard_time"},
                "url_template": "https://s.weibo.com/weibo?q=%23{title}%23", "reach": 50_000_000}
    trending.update(options)
    return SourceConfig(id="weibo-hot-search", name="微博热搜", kind="trending", channel="trending",
                        url=f"{site.base}/ajax/side/hotSearch", authority="social", poll_interval=300,
                        private_network=site.base.removeprefix("http://"), respect_robots=False, trending=trending)


def serve_weibo(site, body: bytes | None = None) -> None:
    site.add("/ajax/side/hotSearch", body or (FIXTURES / "weibo-hot-search.json").read_bytes(),
             content_type="application/json;charset=UTF-8")


def crawl(src, session_factory, clock, fast):
    return asyncio.run(crawl_sources([src], session_factory=session_factory, clock=clock,
                                     settings_overrides=fast))[src.id]


def articles(session_factory) -> dict[str, Article]:
    with session_factory() as s:
        return {a.title: a for a in s.scalars(select(Article))}


def test_weibo_hot_search_entries_become_trending_records(site, session_factory, clock, fast) -> None:
    serve_weibo(site)
    result = crawl(weibo(site), session_factory, clock, fast)
    assert result.ok, result.errors
    stored = articles(session_factory)
    # the advertisement (is_ad) is left out; the entry without a title is counted, not stored
    assert set(stored) == {"全国大部地区迎来寒潮降温", BANK_ENTRY, "国足公布新一期集训名单", "这也能上热搜？"}
    assert result.stats["yuqing/dropped/bad_entry"] == 1
    with session_factory() as s:  # the source's health says what was lost and where to look
        (health,) = health_report(s, [weibo(site)], clock.now())
    assert health.label == "部分内容失败" and "1 条热榜条目没有标题" in health.reason
    assert "trending.fields.title" in health.reason
    bank = stored[BANK_ENTRY]
    assert bank.channel == "trending" and bank.source_id == "weibo-hot-search" and bank.stage == "fetched"
    assert bank.url == f"https://s.weibo.com/weibo?q=%23{quote(BANK_ENTRY, safe='')}%23"
    assert bank.external_id.startswith("weibo-hot-search:") and len(bank.external_id) == len("weibo-hot-search:") + 32
    assert bank.text == BANK_ENTRY  # the note repeats the word: no excerpt added
    assert bank.metrics == {"rank": 2, "heat": 1587420}
    assert bank.published_at == datetime(2026, 11, 23, 1, 12, tzinfo=UTC)  # onboard_time (epoch seconds)
    now = clock.now().isoformat()
    assert bank.meta["trending"] == {"list": "weibo-hot-search", "list_name": "微博热搜", "rank": 2,
                                     "heat": 1587420, "reach": 50_000_000, "first_seen_at": now,
                                     "last_seen_at": now}
    # a list position after the skipped advertisement keeps the list's own rank; hostile values read safely
    assert stored["国足公布新一期集训名单"].metrics == {"rank": 4, "heat": 903311}
    hostile = stored["这也能上热搜？"]  # stored as text: the markup is gone
    assert hostile.metrics == {"rank": 5, "heat": 0} and hostile.published_at is None
    assert result.stats["yuqing/dates_refused"] == 1


def test_a_repoll_moves_rank_and_last_seen_but_keeps_first_seen(site, session_factory, clock, fast) -> None:
    serve_weibo(site)
    src = weibo(site)
    first_poll = clock.now().isoformat()
    crawl(src, session_factory, clock, fast)

    data = json.loads((FIXTURES / "weibo-hot-search.json").read_text("utf-8"))
    realtime = data["data"]["realtime"]
    bank = next(e for e in realtime if e.get("word") == BANK_ENTRY)
    bank.update(realpos=1, num=3_300_000)
    realtime.remove(bank)
    realtime.insert(0, bank)
    realtime[:] = [e for e in realtime if e.get("word") != "国足公布新一期集训名单"]  # dropped off the list
    serve_weibo(site, json.dumps(data, ensure_ascii=False).encode("utf-8"))
    clock.advance(300)
    second = crawl(src, session_factory, clock, fast)
    assert second.ok and second.new_items == 0
    assert len(site.hits("/ajax/side/hotSearch")) == 2
    assert all("if-none-match" not in r.headers for r in site.requests)  # never a 304: presence is news

    stored = articles(session_factory)
    moved = stored[BANK_ENTRY]
    assert moved.metrics == {"rank": 1, "heat": 3_300_000}
    assert moved.meta["trending"]["first_seen_at"] == first_poll
    assert moved.meta["trending"]["last_seen_at"] == clock.now().isoformat()
    assert moved.meta["trending"]["rank"] == 1
    gone = stored["国足公布新一期集训名单"]  # kept, its last_seen_at no longer moves
    assert gone.meta["trending"]["last_seen_at"] == first_poll
    with session_factory() as s:
        samples = s.scalars(select(ArticleMetricSample).where(ArticleMetricSample.article_id == moved.id)
                            .order_by(ArticleMetricSample.id)).all()
    assert [(sample.rank, sample.heat) for sample in samples] == [(2, 1587420), (1, 3_300_000)]
    assert [sample.observed_at for sample in samples] == [datetime.fromisoformat(first_poll), clock.now()]


def test_a_title_only_entry_naming_the_bank_reaches_matching(site, session_factory, clock, fast) -> None:
    serve_weibo(site)
    crawl(weibo(site), session_factory, clock, fast)
    matcher = Matcher.from_org(load_org(ROOT / "config/org.yaml"), load_keyword_plans(ROOT / "config/keywords.yaml"))
    with session_factory() as s:
        process_fetched(s, matcher=matcher, index=StoryIndex(), clock=clock)
        bank = s.scalar(select(Article).where(Article.title == BANK_ENTRY))
        assert bank.stage == ArticleStage.matched
        units = {m.unit_id for m in s.scalars(select(Mention).where(Mention.article_id == bank.id))}
        weather = s.scalar(select(Article).where(Article.title == "全国大部地区迎来寒潮降温"))
        assert weather.stage == ArticleStage.irrelevant
    assert "xinhualu" in units


def test_zhihu_heat_text_and_question_url(site, session_factory, clock, fast) -> None:
    site.add("/api/v3/feed/topstory/hot-lists/total?limit=50", (FIXTURES / "zhihu-hot-list.json").read_bytes(),
             content_type="application/json; charset=utf-8")
    src = SourceConfig(
        id="zhihu-hot-list", name="知乎热榜", kind="trending", channel="trending",
        url=f"{site.base}/api/v3/feed/topstory/hot-lists/total", authority="social",
        private_network=site.base.removeprefix("http://"), respect_robots=False,
        trending={"items_path": "data", "params": {"limit": "50"},
                  "fields": {"title": "target.title", "heat": "detail_text", "excerpt": "target.excerpt"},
                  "url_template": "https://www.zhihu.com/question/{target.id}", "reach": 10_000_000})
    assert crawl(src, session_factory, clock, fast).ok
    stored = articles(session_factory)
    first = stored["如何看待示例银行江城分行回应「网点拒绝老人取款」一事？"]
    assert first.url == "https://www.zhihu.com/question/694118023"
    assert first.metrics == {"rank": 1, "heat": 12_340_000}  # "1234 万热度", ranked by position
    assert first.text.startswith(first.title + "\n11 月 22 日，有网友发视频称")
    assert stored["为什么今年的寒潮来得这么早？"].text == "为什么今年的寒潮来得这么早？"
    assert stored["年轻人为什么开始流行「反向消费」？"].metrics == {"rank": 3, "heat": 0}  # "热度计算中"


def test_baidu_board_read_from_its_html_with_css_selectors(site, session_factory, clock, fast) -> None:
    """The same board as the catalogue reads from its embedded JSON, read here from the rendered HTML."""
    site.add("/board?tab=realtime", (FIXTURES / "baidu-hot-search.html").read_bytes())
    src = SourceConfig(
        id="baidu-hot-html", name="百度热搜", kind="trending", channel="trending",
        url=f"{site.base}/board?tab=realtime", authority="social",
        private_network=site.base.removeprefix("http://"), respect_robots=False,
        trending={"format": "html", "item_selector": "div.category-wrap_iQLoo",
                  "skip_when": ["div.top-icon_2dHj7", "span.ad-tag_2Xx1w"],
                  "fields": {"title": "div.c-single-text-ellipsis::text", "url": "a.title_dIF3B::attr(href)",
                             "rank": "div.index_1Ew5p::text", "heat": "div.hot-index_1Bl1a::text",
                             "excerpt": "div.hot-desc_1m_jR.small_Uvkd3::text"},
                  "reach": 30_000_000})
    assert crawl(src, session_factory, clock, fast).ok
    stored = articles(session_factory)
    assert sorted(stored, key=lambda t: stored[t].metrics["rank"]) == [
        "寒潮来袭 多地迎来今冬首场降雪", "示例银行回应网点拒绝老人取款", "国产大飞机C929取得新进展",
        "江城地铁6号线开通初期运营"]
    reply = stored["示例银行回应网点拒绝老人取款"]
    assert reply.metrics == {"rank": 2, "heat": 4872213}
    assert reply.url == f"https://www.baidu.com/s?wd={quote('示例银行回应网点拒绝老人取款')}&sa=fyb_news&rsv_dl=fyb_news"
    assert reply.text.endswith("并向当事客户致歉。") and reply.text.startswith(reply.title + "\n")


def test_a_list_that_is_not_json_fails_the_poll(site, session_factory, clock, fast) -> None:
    site.add("/ajax/side/hotSearch", b"<html><body>login</body></html>", content_type="text/html")
    result = crawl(weibo(site), session_factory, clock, fast)
    assert not result.ok and "不是有效 JSON" in result.errors[0]


@pytest.mark.parametrize(("value", "heat"), [
    (4960144, 4960144), ("4960144", 4960144), ("1234 万热度", 12_340_000), ("1.2亿", 120_000_000),
    ("热度 3,456,789", 3_456_789), ("", 0), (None, 0), ("热度计算中", 0), (-5, 0), (float("nan"), 0), (True, 0),
])
def test_heat_values_as_lists_write_them(value, heat) -> None:
    assert parse_heat(value) == heat


@pytest.mark.parametrize(("options", "message"), [
    ({"format": "html", "fields": {"title": "a::text"}, "reach": 1}, "json_pattern"),
    ({"item_selector": "li", "fields": {"title": "a::text"}, "reach": 1}, "item_selector is for format: html"),
    ({"json_pattern": "no group", "fields": {"title": "word"}, "reach": 1}, "capturing group"),
    ({"fields": {"title": "word"}, "reach": -1}, "greater than or equal to 0"),
    ({"fields": {"title": "word"}}, "reach"),
    ({"fields": {"title": "word"}, "reach": 1, "url_template": "https://s.weibo.com/weibo"}, "placeholder"),
])
def test_trending_options_are_validated_naming_the_field(tmp_path, options, message) -> None:
    from crawlers.sources import load_sources

    path = tmp_path / "sources.yaml"
    entry = {"id": "hot", "name": "热榜", "kind": "trending", "channel": "trending",
             "url": "https://example.cn/hot", "authority": "social", "trending": options}
    path.write_text(json.dumps({"sources": [entry]}, ensure_ascii=False), "utf-8")
    with pytest.raises(ConfigError) as err:
        load_sources(path)
    assert "sources.0[hot].trending" in str(err.value) and message in str(err.value)


def test_a_trending_source_needs_the_trending_channel() -> None:
    with pytest.raises(ValueError, match="channel: trending"):
        SourceConfig(id="hot", name="热榜", kind="trending", channel="social", url="https://example.cn/hot",
                     authority="social", trending={"fields": {"title": "word"}, "reach": 1})
