"""舆情信息 (/mentions) by 监测方案: the topic keyword plans an article hit, as ingest recorded them
(``article_plan_hits``), filter the list and are shown on each row; a plan that is not a topic plan in force is a
400 in Chinese; an article matched again without the plan leaves the filter. Driven through the page as a signed-in
monitor would, with the articles taken through the real ingest step and the configured plans. Also migration 0022's
fill from what ingest kept in ``meta`` before the table existed, on both databases."""

from __future__ import annotations

import hashlib
import re
from html import unescape

import pytest
from sqlalchemy import create_engine, select, text

from crawlers.ingest import process_fetched
from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher
from crawlers.models import Article, ArticlePlanHit, ArticleStage
from crawlers.stories import StoryIndex
from tests.conftest import PROJECT_ROOT
from tests.helpers import scratch_schema
from yuqing.migrate import upgrade

ROW_RE = re.compile(r'<tr id="article-(\d+)">')
PLANS = load_keyword_plans(PROJECT_ROOT / "config" / "keywords.yaml")


def ids_on(html: str) -> list[int]:
    return [int(i) for i in ROW_RE.findall(html)]


def _fetched(session, clock, n: int, text_: str) -> Article:
    url = f"https://jiangcheng-news.example/{n}"
    digest = hashlib.sha256(text_.encode()).hexdigest()
    a = Article(source_id="jiangcheng-news", channel="news", url=url, url_hash=hashlib.sha256(url.encode()).hexdigest(),
                title=text_[:20], text=text_, fetched_at=clock.now(), published_at=clock.now(), content_hash=digest,
                stage=ArticleStage.fetched)
    session.add(a)
    session.flush()
    return a


def _ingest(session, org, clock) -> None:
    process_fetched(session, matcher=Matcher.from_org(org, PLANS), index=StoryIndex(), clock=clock)


@pytest.fixture
def ingested(session, org, clock):
    rude = _fetched(session, clock, 1, "示例银行新华路网点柜员服务态度恶劣，储户排队取现被拒。")
    outage = _fetched(session, clock, 2, "示例银行江城分行手机银行系统故障，多名客户转账失败。")
    plain = _fetched(session, clock, 3, "示例银行新华路网点举办消费者权益保护宣传活动。")
    session.commit()
    _ingest(session, org, clock)
    return {"rude": rude.id, "outage": outage.id, "plain": plain.id}


def _hits(session, article_id: int) -> set[str]:
    return set(session.scalars(select(ArticlePlanHit.plan).where(ArticlePlanHit.article_id == article_id)))


def test_ingest_records_the_topic_plans_each_article_hit(session, ingested):
    assert {"服务态度", "存取款业务"} <= _hits(session, ingested["rude"])
    assert "系统故障/技术问题" in _hits(session, ingested["outage"])
    assert _hits(session, ingested["plain"]) == set()
    rude = session.get(Article, ingested["rude"])
    assert _hits(session, rude.id) == set(rude.meta["match"]["plan_hits"])  # the same as the article keeps


def test_the_plan_filter_narrows_the_list_and_each_row_names_its_plans(login_as, ingested):
    c = login_as("wangmin")
    everything = ids_on(c.get("/mentions").text)
    assert set(everything) == set(ingested.values())
    page = c.get("/mentions", params={"plan": "服务态度"})
    assert page.status_code == 200
    assert ids_on(page.text) == [ingested["rude"]]
    assert '<option value="服务态度" selected>服务态度</option>' in page.text
    assert "统计（当前筛选的全部 1 条）" in page.text  # the charts count the filtered set too
    row = page.text[page.text.index(f'id="article-{ingested["rude"]}"'):]
    row = unescape(row[:row.index("</tr>")])
    assert "监测方案：" in row and "服务态度" in row and "存取款业务" in row
    assert ids_on(c.get("/mentions", params={"plan": "系统故障/技术问题"}).text) == [ingested["outage"]]
    both = c.get("/mentions", params={"plan": "服务态度", "q": "转账"})  # with the other filters: all must hold
    assert ids_on(both.text) == []
    plain_page = c.get("/mentions").text
    plain_row = plain_page[plain_page.index(f'id="article-{ingested["plain"]}"'):]
    assert "监测方案：" not in plain_row[:plain_row.index("</tr>")]


@pytest.mark.parametrize("plan", ["排除-非银行语境", "没有这个方案"])
def test_a_plan_that_is_not_a_topic_plan_in_force_is_a_400_in_chinese(login_as, ingested, plan):
    r = login_as("wangmin").get("/mentions", params={"plan": plan})
    assert r.status_code == 400
    assert "监测方案无效：请从列表中选择" in r.text
    assert ids_on(r.text) == []


def test_an_article_matched_again_without_the_plan_leaves_the_filter(login_as, session, org, clock, ingested):
    rude = session.get(Article, ingested["rude"])
    rude.title = rude.text = "示例银行新华路网点今日正常营业。"
    rude.stage = ArticleStage.fetched
    session.commit()
    _ingest(session, org, clock)
    assert _hits(session, rude.id) == set()
    assert ids_on(login_as("wangmin").get("/mentions", params={"plan": "服务态度"}).text) == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def at_0021(request, tmp_path):
    """An empty database of its own migrated to 0021 (before the table existed)."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, "0021")
        yield engine
        engine.dispose()
        return
    with scratch_schema(request.getfixturevalue("postgres_url")) as engine:
        upgrade(engine, "0021")
        yield engine


def test_migration_0022_fills_the_rows_from_what_ingest_kept_in_meta(at_0021):
    metas = {
        1: '{"match": {"plan_hits": {"服务态度": ["态度恶劣"], "存取款业务": ["排队", "取现"]}}}',
        2: '{"match": {"plan_hits": {}}}',
        3: '{"match": {"bank_mentioned": true}}',
        4: '{}',
        5: '{"match": {"plan_hits": ["not", "an", "object"]}}',
    }
    with at_0021.begin() as conn:
        for n, meta in metas.items():
            conn.execute(text(
                "INSERT INTO articles (id, source_id, channel, url, url_hash, title, text, fetched_at, content_hash, "
                "metrics, meta, stage, is_duplicate) VALUES (:id, 's', 'news', :url, :h, '', '', "
                "'2026-12-01 00:00:00+00:00', :h, '{}', :meta, 'matched', false)"),
                {"id": n, "url": f"https://x.example/{n}", "h": f"{n:064d}", "meta": meta})
    upgrade(at_0021)
    with at_0021.connect() as conn:
        rows = set(conn.execute(text("SELECT article_id, plan FROM article_plan_hits")).all())
    assert rows == {(1, "服务态度"), (1, "存取款业务")}
