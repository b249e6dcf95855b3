"""Two ingest workers at once, each with its own in-memory story index, fed a post and its reposts: one story,
because clustering takes one lock and first learns what the other worker assigned (``StoryIndex.sync``)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crawlers.claims import StoryAssignment
from crawlers.ingest import process_fetched
from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher
from crawlers.models import Article, ArticleStage, Story
from crawlers.stories import StoryIndex
from tests.core.concurrency_helpers import run_at_once
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.settings import PROJECT_ROOT

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
POST = "示例银行新华路营业厅今天又取不出钱了，排了三个小时，柜员说要提前预约，老人在门口等了一上午！"
REPOSTS = 60


@pytest.fixture(scope="module")
def matcher(org):
    return Matcher.from_org(org, load_keyword_plans(PROJECT_ROOT / "config" / "keywords.yaml"))


def _feed(factory) -> None:
    with factory() as session:
        for i in range(REPOSTS + 1):
            text = POST if i == 0 else f"转发{i}：太过分了//@江城网友{i}:{POST}"
            meta = {} if i == 0 else {"retweeted_text": POST}
            url = f"https://weibo.example/post/{i}"
            session.add(Article(source_id="weibo", channel="social", url=url,
                                url_hash=hashlib.sha256(url.encode()).hexdigest(), title="", text=text,
                                fetched_at=T0 + timedelta(minutes=i), published_at=T0 + timedelta(minutes=i),
                                content_hash=hashlib.sha256(text.encode()).hexdigest(), meta=meta))
        session.commit()


def test_two_ingesters_fed_reposts_of_one_post_make_one_story(db_engine, matcher):
    factory = make_sessionmaker(db_engine)
    _feed(factory)
    clock = FrozenClock(T0 + timedelta(hours=2))
    indexes = [StoryIndex(), StoryIndex()]  # each worker's own memory

    reports = run_at_once(db_engine, [
        lambda s, ix=ix: process_fetched(s, matcher=matcher, index=ix, clock=clock, limit=20) for ix in indexes
    ] + [lambda s, ix=ix: process_fetched(s, matcher=matcher, index=ix, clock=clock) for ix in indexes])

    assert sum(r.processed for r in reports) == REPOSTS + 1  # each article ingested once
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Story)) == 1
        story = session.scalars(select(Story)).one()
        assert story.article_count == REPOSTS + 1
        in_story = select(func.count()).select_from(Article).where(Article.stage == ArticleStage.matched,
                                                                    Article.story_id == story.id)
        assert session.scalar(in_story) == REPOSTS + 1
        # the clustering log numbers every assignment once, in one order
        seqs = session.scalars(select(StoryAssignment.seq).order_by(StoryAssignment.seq)).all()
        assert len(seqs) == len(set(seqs)) == REPOSTS + 1


def test_an_index_learns_other_workers_assignments_and_a_restart_does_not_count_them_twice(db_engine, matcher):
    """What worker A clustered reaches worker B's index through sync; a fresh index loaded from the database and
    then synced holds each article once (the same profile as the worker that did the work)."""
    factory = make_sessionmaker(db_engine)
    _feed(factory)
    clock = FrozenClock(T0 + timedelta(hours=2))
    a, b = StoryIndex(), StoryIndex()
    with factory() as session:
        process_fetched(session, matcher=matcher, index=a, clock=clock, limit=10)
    with factory() as session:
        assert b.sync(session) == 10
        loaded = StoryIndex()
        loaded.load(session)
        assert loaded.sync(session) == 0  # load already holds everything up to its watermark
    assert len(b) == len(a) == len(loaded)
    assert b.watermark == a.watermark == loaded.watermark
    assert {k: (v.articles, v.members, dict(v.grams)) for k, v in b._units["xinhualu"].items()} == \
        {k: (v.articles, v.members, dict(v.grams)) for k, v in a._units["xinhualu"].items()}
