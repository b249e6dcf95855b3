"""The ingest step on a real SQLite database: attribution, stories, idempotency and crash recovery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.ingest import IngestReport, process_fetched
from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher, MatchResult
from crawlers.models import Article, ArticleStage, Mention, Story
from crawlers.stories import StoryIndex
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.org import load_org
from yuqing.schema import all_metadata

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

ORIGINAL = ("11月22日上午，不少市民反映，位于江汉区新华路77号的示例银行新华路营业厅门前排起了长队，有储户称排了两个多"
            "小时仍未办完业务，想取出定期存款却取不出钱，被告知需要提前预约。记者在现场看到，营业厅内仅开放了两个窗口，"
            "等候区座位已满，不少老人站在门外等候。对此，示例银行江城分行工作人员回应称，当天系统升级导致部分业务办理"
            "变慢，目前已增派人手。")
REWRITE = ("江城晚报讯 11月22日上午，不少市民反映，位于新华路77号的示例银行新华路营业厅门前排起了长队，有储户称排了两个"
           "多小时仍未办完业务，想取出定期存款却取不出钱，被告知需要提前预约。现场营业厅内仅开放了两个窗口，等候区座位"
           "已满。对此，示例银行江城分行回应称，系统升级导致部分业务办理变慢，已增派人手。网友纷纷留言希望提前公告。")
SHORT_POST = "示例银行新华路营业厅今天又取不出钱了，排了三个小时！"

# (key, title, text, published offset in minutes, meta): fetched in this order, one minute apart.
SCENARIO = [
    ("original", "示例银行新华路营业厅排长队 储户称取不出钱", ORIGINAL, 15, {}),
    ("copy", "示例银行新华路营业厅排长队 储户称取不出钱", ORIGINAL, 40, {}),
    ("short_post", "", SHORT_POST, 60, {}),
    ("repost", "", f"太坑了//@江城吃瓜群众:{SHORT_POST}", 70, {"retweeted_text": SHORT_POST}),
    ("annual_report", "示例银行发布三季度报告",
     "示例银行发布2026年三季度报告，营收同比增长百分之五，资产质量保持稳定。", 80, {}),
    ("other_bank", "工商银行新华路营业厅装修",
     "工商银行新华路营业厅下周起装修停业，客户可前往附近网点办理业务。", 85, {}),
    ("code", "接口文档",
     "下面的示例代码演示了如何调用接口：示例银行新华路营业厅 = Outlet()，然后查询排队人数。", 86, {}),
    ("collection", "示例银行滨江支行被指暴力催收",
     "市民张女士反映，她在示例银行滨江支行办理的信用卡逾期后，频繁接到催收电话，对方言语威胁，还联系了她的亲属。", 90,
     {}),
    ("rewrite_earlier", "储户排长队取不出钱", REWRITE, -30, {}),  # published before the "original"
]


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    all_metadata().create_all(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.from_org(load_org(ROOT / "config/org.yaml"), load_keyword_plans(ROOT / "config/keywords.yaml"))


def seed(session: Session) -> dict[str, int]:
    ids = {}
    for n, (key, title, text, published, meta) in enumerate(SCENARIO):
        article = Article(source_id="test", channel="social" if not title else "news", url=f"https://x.example/{key}",
                          url_hash=f"hash-{key}", title=title, text=text, content_hash=f"content-{key}",
                          published_at=T0 + timedelta(minutes=published), fetched_at=T0 + timedelta(minutes=n),
                          meta=dict(meta))
        session.add(article)
        session.flush()
        ids[key] = article.id
    session.commit()
    return ids


def counts(session: Session) -> tuple[int, int, list[int]]:
    mentions = session.scalar(select(func.count()).select_from(Mention))
    stories = session.scalars(select(Story).order_by(Story.id)).all()
    return mentions, len(stories), [s.article_count for s in stories]


def test_batch_attributes_clusters_and_reports(factory, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    with factory() as session:
        ids = seed(session)
        report = process_fetched(session, matcher=matcher, index=StoryIndex(), clock=clock)
        assert report == IngestReport(processed=9, relevant=7, irrelevant=2, new_stories=3, joined_stories=4,
                                      duplicates=report.duplicates)
        by_key = {k: session.get(Article, i) for k, i in ids.items()}
        assert by_key["other_bank"].stage == ArticleStage.irrelevant
        assert by_key["code"].stage == ArticleStage.irrelevant
        assert by_key["code"].meta["match"]["excluded_by"] == ["示例代码"]
        assert all(a.stage == ArticleStage.matched for k, a in by_key.items() if k not in {"other_bank", "code"})

        # one story for the queue at 新华路营业厅: the copy, the short post (same unit + 取不出钱), its repost and
        # the earlier-published rewrite all joined it
        story = by_key["original"].story
        assert {by_key[k].story_id for k in ("copy", "short_post", "repost", "rewrite_earlier")} == {story.id}
        assert by_key["short_post"].meta["match"]["story_reason"] == "same_unit_risk"
        assert by_key["repost"].meta["match"]["story_reason"] == "minhash"
        assert story.unit_id == "xinhualu" and story.article_count == 5
        assert story.first_article_id == ids["rewrite_earlier"]  # the earliest published copy is the first source
        assert story.first_seen_at == T0 - timedelta(minutes=30)
        assert story.last_seen_at == T0 + timedelta(minutes=70)
        assert story.title == "示例银行新华路营业厅排长队 储户称取不出钱"
        assert len(story.minhash) == 128 and all(isinstance(v, int) for v in story.minhash)

        assert by_key["copy"].is_duplicate and not by_key["original"].is_duplicate
        assert not by_key["rewrite_earlier"].is_duplicate
        flagged = session.scalar(select(func.count()).select_from(Article).where(Article.is_duplicate))
        assert report.duplicates == flagged >= 1

        assert by_key["annual_report"].story.unit_id == "head-office"
        assert by_key["collection"].story.unit_id == "binjiang"
        assert by_key["collection"].story_id not in {story.id, by_key["annual_report"].story_id}

        primary = session.scalars(select(Mention).where(Mention.article_id == ids["original"],
                                                        Mention.is_primary)).one()
        assert primary.unit_id == "xinhualu" and "示例银行新华路营业厅" in primary.terms
        assert "<" not in primary.snippet and "示例银行新华路营业厅" in primary.snippet
        assert by_key["original"].meta["match"]["primary_unit_id"] == "xinhualu"
        assert "取不出钱" in by_key["original"].meta["match"]["risk_words"]


def test_running_twice_changes_nothing(factory, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    index = StoryIndex()
    with factory() as session:
        seed(session)
        process_fetched(session, matcher=matcher, index=index, clock=clock)
        first = counts(session)
        again = process_fetched(session, matcher=matcher, index=index, clock=clock)
        assert again == IngestReport()
        assert counts(session) == first


def test_rematching_an_article_does_not_duplicate_mentions_or_story_counts(factory, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    index = StoryIndex()
    with factory() as session:
        ids = seed(session)
        process_fetched(session, matcher=matcher, index=index, clock=clock)
        before = counts(session)
        article = session.get(Article, ids["original"])
        story_id = article.story_id
        article.stage = ArticleStage.fetched  # e.g. an admin asks for a re-match after editing the org chart
        session.commit()
        report = process_fetched(session, matcher=matcher, index=index, clock=clock)
        assert report.processed == 1 and report.new_stories == 0 and report.joined_stories == 0
        assert counts(session) == before
        assert session.get(Article, ids["original"]).story_id == story_id


class ExplodingMatcher:
    """Delegates to a real matcher but dies on the n-th call, like a worker killed mid-batch."""

    def __init__(self, inner: Matcher, die_on_call: int):
        self.inner, self.die_on_call, self.calls = inner, die_on_call, 0
        self.root_unit_id = inner.root_unit_id

    def match(self, text: str, title: str = "") -> MatchResult:
        self.calls += 1
        result = self.inner.match(text, title=title)
        if self.calls == self.die_on_call:
            raise RuntimeError("worker killed")
        return result


def test_crash_mid_batch_then_rerun_after_restart_gives_the_clean_result(tmp_path, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    clean_engine = make_engine(f"sqlite:///{tmp_path / 'clean.db'}")
    all_metadata().create_all(clean_engine)
    with make_sessionmaker(clean_engine)() as session:
        seed(session)
        clean_report = process_fetched(session, matcher=matcher, index=StoryIndex(), clock=clock)
        clean = counts(session)
    clean_engine.dispose()

    engine = make_engine(f"sqlite:///{tmp_path / 'crashy.db'}")
    all_metadata().create_all(engine)
    factory = make_sessionmaker(engine)
    with factory() as session:
        seed(session)
        with pytest.raises(RuntimeError, match="worker killed"):
            process_fetched(session, matcher=ExplodingMatcher(matcher, die_on_call=4), index=StoryIndex(),
                            clock=clock)
    with factory() as session:  # the process restarts: new session, index rebuilt from the database
        done = session.scalar(select(func.count()).select_from(Article).where(Article.stage != ArticleStage.fetched))
        assert done == 3  # the three articles before the crash are committed, the fourth rolled back
        index = StoryIndex()
        index.load(session, now=clock.now())
        rest = process_fetched(session, matcher=matcher, index=index, clock=clock)
        assert rest.processed == 6
        assert counts(session) == clean
        left = session.scalar(select(func.count()).select_from(Article).where(Article.stage == ArticleStage.fetched))
        assert left == 0
        assert session.scalar(select(func.count()).select_from(Story)) == clean_report.new_stories
    engine.dispose()


def test_limit_takes_the_oldest_fetched_first(factory, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    with factory() as session:
        ids = seed(session)
        report = process_fetched(session, matcher=matcher, index=StoryIndex(), clock=clock, limit=2)
        assert report.processed == 2
        stages = {k: session.get(Article, i).stage for k, i in ids.items()}
        assert stages["original"] == stages["copy"] == ArticleStage.matched
        assert stages["short_post"] == ArticleStage.fetched
