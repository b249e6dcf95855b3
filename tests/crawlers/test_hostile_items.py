"""Hostile crawled items on real SQLite and PostgreSQL: repaired and stored, or counted against their source —
never silently lost, and never the reason the other items of the same poll are lost.

These drive the item pipeline's store function directly with the items spiders produce (the crawl through a
real HTTP server is in ``test_hostile_crawl.py``), and a real Scrapy stats collector for what health reads.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.crawl import SourceRunResult
from crawlers.health import ITEM_PROBLEM_STATS, PARTIAL_LABEL, health_report, record_run
from crawlers.models import Article, ArticleMetricSample, SeenUrl, SourceState
from crawlers.pipelines import (
    EMPTY,
    ITEM_ERRORS_STAT,
    MAX_COUNTER,
    NEW,
    PROBLEM_OUTCOMES,
    REPAIRED_STAT,
    UNCHANGED,
    UNPARSABLE,
    record_result,
    store_safely,
)
from crawlers.sources import SourceConfig
from crawlers.spiders.base import BAD_URL_STAT
from crawlers.spiders.items import PageHints, PageItem, RecordItem, ValidatorItem
from crawlers.spiders.json_api import RECORD_ERROR_STAT
from crawlers.spiders.urls import url_hash
from yuqing.db import make_sessionmaker

FFFD = "\ufffd"
PAGE = ("<html><head><title>{title}</title></head><body><div class='content'><p>{para}</p>"
        "<p>记者在现场看到，网点大堂内有十余名客户排队等候办理业务，工作人员正在逐一解释情况。</p></div></body></html>")


@pytest.fixture
def factory(db_engine: Engine) -> sessionmaker[Session]:
    """A session factory on the migrated SQLite file and on the PostgreSQL schema (the root ``db_engine``)."""
    return make_sessionmaker(db_engine)


def record(n: int, text: str = "示例银行光明路支行取钱要预约，太难了", **kwargs) -> RecordItem:
    values = {"source_id": "weibo", "channel": "social", "url": f"https://weibo.example/status/{n}",
              "external_id": str(n), "text": text, "metrics": {"reposts": n, "comments": 1, "likes": 2}}
    values.update(kwargs)
    return RecordItem(**values)


def page_item(path: str, body: bytes, **kwargs) -> PageItem:
    values = {"source_id": "jcwb", "channel": "news", "url": f"https://news.example/{path}", "body": body,
              "content_type": "text/html; charset=utf-8"}
    values.update(kwargs)
    return PageItem(**values)


def articles(factory: sessionmaker[Session]) -> dict[str, Article]:
    with factory() as s:
        return {a.external_id or a.url: a for a in s.scalars(select(Article))}


def test_json_records_with_lone_surrogates_and_nul_are_stored_repaired_beside_the_others(factory, clock):
    bad = record(
        2, text="示例银行\ud800新华路网点\x00拒绝取款\udcff",
        title="标题\x00含空字符", author="刘家\ud83d小妹", url="https://weibo.example/status/2?x=\ud800\x00",
        external_id="2\x00", meta={"retweeted_text": "原文\x00\ud800", "status\ud800": "处理中\x1b", "n": 3},
        metrics={"reposts": 10**30, "comments": -4, "likes": 7})
    long_author = record(3, author="作" * 400)
    results = [store_safely(factory, item, clock.now()) for item in (record(1), bad, long_author, record(4))]

    assert [r.outcome for r in results] == [NEW, NEW, NEW, NEW]
    assert [r.repaired for r in results] == [False, True, False, False]
    assert all(r.error is None for r in results)
    stored = articles(factory)
    assert set(stored) == {"1", "2", "3", "4"}
    repaired = stored["2"]
    assert repaired.text == f"示例银行{FFFD}新华路网点拒绝取款{FFFD}"
    assert repaired.title == "标题含空字符" and repaired.author == f"刘家{FFFD}小妹"
    assert repaired.meta == {"retweeted_text": f"原文{FFFD}", f"status{FFFD}": "处理中", "n": 3}
    assert repaired.external_id == "2" and repaired.url == f"https://weibo.example/status/2?x={FFFD}"
    assert repaired.url_hash == url_hash(repaired.url)
    assert repaired.metrics == {"reposts": MAX_COUNTER, "comments": 0, "likes": 7}
    assert len(stored["3"].author) == 256
    with factory() as s:
        sample = s.scalar(select(ArticleMetricSample).where(ArticleMetricSample.article_id == repaired.id))
    assert (sample.reposts, sample.comments, sample.likes) == (MAX_COUNTER, 0, 7)

    # The next poll re-reads the same hostile post: it is recognised (same repaired URL), not stored twice.
    clock.advance(120)
    again = store_safely(factory, bad, clock.now())
    assert again.outcome == UNCHANGED and again.repaired
    assert len(articles(factory)) == 4


def test_page_items_with_nul_and_surrogates_in_body_hints_and_validators_are_repaired(factory, clock):
    body = PAGE.format(title="示例银行滨江\x00支行", para="示例银行滨江支行\x00为老年客户\x07开通绿色通道。").encode()
    hostile = page_item("a/1.html", body, hints=PageHints(title="滨江支行\ud800服务获赞", author="记者\x00甲"),
                        etag='"v1\x00"', last_modified="Mon\x00, 23 Nov 2026 01:00:00 GMT")
    clean = page_item("a/2.html", PAGE.format(title="光明路支行", para="示例银行光明路支行门前排起长队。").encode())
    first = store_safely(factory, hostile, clock.now())
    second = store_safely(factory, clean, clock.now())
    validators = store_safely(factory, ValidatorItem(source_id="jcwb", url="https://news.example/feed.xml\x00",
                                                     status=200, etag='"f\ud800"'), clock.now())

    assert (first.outcome, first.repaired) == (NEW, True)
    assert (second.outcome, second.repaired) == (NEW, False)
    assert validators.repaired
    stored = articles(factory)
    page = stored["https://news.example/a/1.html"]
    assert "示例银行滨江支行为老年客户开通绿色通道" in page.text
    assert page.title == f"滨江支行{FFFD}服务获赞" and page.author == "记者甲"
    with factory() as s:
        seen = {row.url: row for row in s.scalars(select(SeenUrl))}
    assert seen["https://news.example/a/1.html"].etag == '"v1"'
    assert seen["https://news.example/feed.xml"].etag == f'"f{FFFD}"'


def test_a_page_with_an_empty_body_is_unparsable_not_remembered_and_the_next_page_is_stored(factory, clock):
    empty = store_safely(factory, page_item("a/empty.html", b"  \r\n "), clock.now())
    good = store_safely(factory, page_item("a/ok.html", PAGE.format(title="新闻", para="示例银行开业。").encode()),
                        clock.now())
    assert empty.outcome == UNPARSABLE and good.outcome == NEW
    assert "页面内容为空" in empty.error and "https://news.example/a/empty.html" in empty.error
    with factory() as s:
        urls = set(s.scalars(select(SeenUrl.url)))
    assert "https://news.example/a/empty.html" not in urls  # fetched again next poll: it may have been transient
    assert "https://news.example/a/ok.html" in urls


def test_a_page_whose_extraction_raises_is_unparsable_and_the_next_page_is_stored(factory, clock):
    # A body the extractor cannot read (a spider handing over a buffer instead of bytes): extraction raises.
    broken = store_safely(factory, page_item("a/broken.html", memoryview(b"<html><p>x</p></html>")), clock.now())
    good = store_safely(factory, page_item("a/ok.html", PAGE.format(title="新闻", para="示例银行开业。").encode()),
                        clock.now())
    assert broken.outcome == UNPARSABLE and good.outcome == NEW
    assert "页面解析失败" in broken.error and "TypeError" in broken.error and "a/broken.html" in broken.error
    assert set(articles(factory)) == {"https://news.example/a/ok.html"}


def test_a_page_that_is_only_markup_is_empty_and_reported(factory, clock):
    result = store_safely(factory, page_item("a/shell.html", b"<html><body><div id='app'></div></body></html>"),
                          clock.now())
    assert result.outcome == EMPTY and "没有可读的标题或正文" in result.error



def _source() -> SourceConfig:
    return SourceConfig(id="weibo", name="微博搜索", kind="json_api", channel="social",
                        url="https://weibo.example/api/search", authority="social", poll_interval=300,
                        json_api={"items_path": "statuses", "fields": {"id": "id", "text": "text"}})


def test_an_item_the_database_refuses_is_counted_against_the_source_and_the_others_are_stored(
        db_engine, factory, clock, refuse_articles):
    refuse_articles(db_engine, "666")
    stats = get_crawler().stats
    for item in (record(1), record(666, text="示例银行\x00被拒绝的一条"), record(2)):
        record_result(stats, store_safely(factory, item, clock.now()))
    stats.inc_value("yuqing/dropped/bad_record")  # what the JSON spider counts for a record without id or text
    run = stats.get_stats()

    assert set(articles(factory)) == {"1", "2"}
    assert run["yuqing/items/new"] == 2 and run["yuqing/items/failed"] == 1 and run[REPAIRED_STAT] == 1
    [message] = run[ITEM_ERRORS_STAT]
    assert "内容入库失败" in message and "refused by a test rule" in message
    assert "https://weibo.example/status/666" in message

    source = _source()
    with factory.begin() as s:
        record_run(s, source, SourceRunResult(source_id="weibo", ok=True, new_items=2, stats=run), clock.now())
    with factory() as s:
        [line] = health_report(s, [source], clock.now())
        state = s.get(SourceState, "weibo")
    assert line.status == "failing" and line.label == PARTIAL_LABEL
    assert "2 条内容未能入库" in line.reason and "refused by a test rule" in line.reason
    assert "接口记录缺少编号或正文" in line.reason
    # the source itself answered: no failure streak, no back-off (new items: polled sooner)
    assert state.consecutive_failures == 0 and state.last_success_at == clock.now()
    assert state.next_poll_at == clock.now() + timedelta(seconds=150)
    assert "refused by a test rule" in state.last_error and state.stats["run/item_problems"] == 2

    # A clean poll later still shows the recent problem (with when), until the silent window has passed.
    clock.advance(600)
    with factory.begin() as s:
        record_run(s, source, SourceRunResult(source_id="weibo", ok=True, new_items=1, stats={}), clock.now())
    with factory() as s:
        [line] = health_report(s, [source], clock.now())
    assert line.status == "failing" and "10 分钟前的抓取" in line.reason
    clock.advance(300 * 12)
    with factory.begin() as s:
        record_run(s, source, SourceRunResult(source_id="weibo", ok=True, new_items=1, stats={}), clock.now())
    with factory() as s:
        [line] = health_report(s, [source], clock.now())
    assert line.status == "ok" and line.label == "正常"


def test_health_counts_exactly_the_outcomes_the_pipeline_reports_as_problems():
    spider_drops = {"yuqing/dropped/bad_record", "yuqing/dropped/bad_entry", BAD_URL_STAT, RECORD_ERROR_STAT,
                    "spider_exceptions/count"}
    assert {f"yuqing/items/{o}" for o in PROBLEM_OUTCOMES} | spider_drops == set(ITEM_PROBLEM_STATS)


def test_records_the_json_spider_could_not_read_and_bad_links_count_against_the_source(factory, clock):
    run = {"yuqing/items/new": 3, RECORD_ERROR_STAT: 1, BAD_URL_STAT: 2}
    source = _source()
    with factory.begin() as s:
        record_run(s, source, SourceRunResult(source_id="weibo", ok=True, new_items=3, stats=run), clock.now())
    with factory() as s:
        [line] = health_report(s, [source], clock.now())
    assert line.status == "failing" and line.label == PARTIAL_LABEL
    assert "3 条内容未能入库" in line.reason
    assert "1 条接口记录解析出错" in line.reason and "2 个条目的链接不是有效的 http(s) 网址" in line.reason


def test_a_spider_callback_that_raised_counts_against_the_source(factory, clock):
    # What Scrapy records when a feed / API callback raises half-way through a page (e.g. on a hostile timestamp):
    # the rest of that page was never read, although the poll itself "succeeded".
    run = {"yuqing/items/new": 1, "spider_exceptions/count": 1, "spider_exceptions/OverflowError": 1}
    source = _source()
    with factory.begin() as s:
        record_run(s, source, SourceRunResult(source_id="weibo", ok=True, new_items=1, stats=run), clock.now())
    with factory() as s:
        [line] = health_report(s, [source], clock.now())
        state = s.get(SourceState, "weibo")
    assert line.status == "failing" and line.label == PARTIAL_LABEL
    assert "1 次解析出错（OverflowError）" in line.reason and "交给开发人员" in line.reason
    assert state.stats["spider_exceptions/OverflowError"] == 1
