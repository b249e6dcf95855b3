"""Two runners of one stage at once over the same 200 items: each item is processed exactly once (classify,
score), and a runner that claims work and dies leaves it to the next runner once its lease has passed (classify's
lease) or its connection is gone (ingest's and score's row locks). Real PostgreSQL (each runner its own
connection) and SQLite."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher
from crawlers.models import Article, ArticleStage, Story
from crawlers.stories import StoryIndex
from sentiment.classifier import Prediction
from sentiment.models import Classification, StoryRisk
from sentiment.risk import load_risk_config
from sentiment.service import CLASSIFY_LEASE, RiskContext, classify_pending, score_stories
from tests.core.concurrency_helpers import run_at_once
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.settings import PROJECT_ROOT

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ITEMS = 200


class CountingClassifier:
    """Calls every text negative and counts how often it saw each one (thread-safe)."""

    name = "counting"

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def predict(self, texts):
        with self.lock:
            self.seen.update(texts)
        return [Prediction(label="negative", negative_prob=0.9, category="service_attitude") for _ in texts]


def _articles(session: Session, n: int, *, stage: str, per_story: int = 1) -> list[int]:
    """``n`` articles at ``stage`` about 新华路, ``per_story`` to a story; returns the article ids."""
    ids, story = [], None
    for i in range(n):
        if i % per_story == 0:
            story = Story(title=f"事件{i}", unit_id="xinhualu", first_seen_at=NOW, last_seen_at=NOW, article_count=0)
            session.add(story)
            session.flush()
        text = f"示例银行新华路营业厅第{i}位储户排队三小时取不出钱，柜员态度恶劣。"
        url = f"https://weibo.example/post/{i}"
        a = Article(source_id="weibo", channel="social", url=url, url_hash=hashlib.sha256(url.encode()).hexdigest(),
                    title="", text=text, fetched_at=NOW, published_at=NOW,
                    content_hash=hashlib.sha256(text.encode()).hexdigest(), story_id=story.id, stage=stage)
        session.add(a)
        story.article_count += 1
        session.flush()
        ids.append(a.id)
    session.commit()
    return ids


def test_two_classifiers_classify_each_article_once(db_engine):
    factory = make_sessionmaker(db_engine)
    with factory() as session:
        _articles(session, ITEMS, stage=ArticleStage.matched)
    model = CountingClassifier()
    clock = FrozenClock(NOW)

    done = run_at_once(db_engine, [lambda s: classify_pending(s, classifier=model, clock=clock, batch_size=16)] * 2)

    assert sum(done) == ITEMS
    assert len(model.seen) == ITEMS and set(model.seen.values()) == {1}  # the model saw each text once
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Classification)) == ITEMS
        assert session.scalar(select(func.count()).select_from(Article)
                              .where(Article.stage == ArticleStage.classified)) == ITEMS


def test_a_classifier_that_claims_and_dies_leaves_its_batch_until_the_lease_passes(db_engine):
    """Simulated death: a runner claims a batch (its claims committed), then never finishes. Another runner leaves
    those articles alone while the lease runs, and classifies them once it has passed."""
    from crawlers.claims import claim, claim_token
    from sentiment.service import CLASSIFY

    factory = make_sessionmaker(db_engine)
    with factory() as session:
        ids = _articles(session, 40, stage=ArticleStage.matched)
        claimed = claim(session, kind=CLASSIFY, item_ids=ids[:24], token=claim_token(), now=NOW,
                        until=NOW + CLASSIFY_LEASE)
        session.commit()
    assert claimed == ids[:24]
    model = CountingClassifier()
    with factory() as session:
        during = classify_pending(session, classifier=model, clock=FrozenClock(NOW),
                                  lease_clock=FrozenClock(NOW + CLASSIFY_LEASE - timedelta(seconds=1)))
    assert during == 16  # only the unclaimed ones
    with factory() as session:
        after = classify_pending(session, classifier=model, clock=FrozenClock(NOW),
                                 lease_clock=FrozenClock(NOW + CLASSIFY_LEASE + timedelta(seconds=1)))
        assert after == 24
        assert session.scalar(select(func.count()).select_from(Classification)) == 40
    assert set(model.seen.values()) == {1}


def test_a_late_result_from_a_runner_whose_lease_was_taken_over_is_dropped(db_engine):
    """A runner so slow that its lease expired and another runner took the batch over must not record it too."""
    factory = make_sessionmaker(db_engine)
    with factory() as session:
        _articles(session, 8, stage=ArticleStage.matched)
    fast = CountingClassifier()
    late = datetime.now(UTC) + CLASSIFY_LEASE + timedelta(minutes=1)

    class Slow(CountingClassifier):
        def predict(self, texts):  # while "thinking", the lease passes and another runner does the batch
            with factory() as other:
                assert classify_pending(other, classifier=fast, clock=FrozenClock(NOW),
                                        lease_clock=FrozenClock(late)) == len(texts)
            return super().predict(texts)

    with factory() as session:
        assert classify_pending(session, classifier=Slow(), clock=FrozenClock(NOW)) == 0
        assert session.scalar(select(func.count()).select_from(Classification)) == 8
        assert set(session.scalars(select(Classification.model)).all()) == {"counting"}


@pytest.fixture(scope="module")
def risk_ctx(org):
    return RiskContext(org=org, config=load_risk_config(PROJECT_ROOT / "config" / "risk.yaml"), authorities={})


def _classified(session: Session, n: int, per_story: int) -> None:
    ids = _articles(session, n, stage=ArticleStage.classified, per_story=per_story)
    for i in ids:
        session.add(Classification(article_id=i, label="negative", negative_prob=0.95, category="service_attitude",
                                   model="t", classified_at=NOW, cues=[]))
    session.commit()


def test_two_scorers_score_each_story_once(db_engine, risk_ctx):
    factory = make_sessionmaker(db_engine)
    with factory() as session:
        _classified(session, ITEMS, per_story=2)  # 100 stories
    clock = FrozenClock(NOW)

    created = run_at_once(db_engine, [lambda s: [r.story_id for r in score_stories(s, ctx=risk_ctx, clock=clock)]] * 2)

    assert sorted(created[0] + created[1]) == sorted(set(created[0] + created[1]))  # no story scored twice
    with factory() as session:
        per_story = session.execute(select(StoryRisk.story_id, func.count()).group_by(StoryRisk.story_id)).all()
        assert len(per_story) == ITEMS // 2 and {n for _, n in per_story} == {1}
        assert session.scalar(select(func.count()).select_from(Article)
                              .where(Article.stage == ArticleStage.scored)) == ITEMS


@pytest.mark.postgres
def test_a_scorer_holding_a_story_then_dying_leaves_it_to_the_next(postgres_engine, risk_ctx):
    """Row locks are the lease of score (and of ingest and incidents): held, the story is skipped; once the holder's
    connection is gone (rolled back, as the server does for a dead client) the next scorer does it."""
    from crawlers.claims import hold

    factory = make_sessionmaker(postgres_engine)
    with factory() as session:
        _classified(session, 4, per_story=2)
        first = session.scalars(select(Story.id).order_by(Story.id)).first()
    dying = factory()
    assert hold(dying, Story.id, first)
    with factory() as session:
        assert [r.story_id for r in score_stories(session, ctx=risk_ctx, clock=FrozenClock(NOW))] == [first + 1]
    dying.connection().invalidate()  # the worker's connection dies: the server rolls its transaction back
    dying.close()
    with factory() as session:
        assert [r.story_id for r in score_stories(session, ctx=risk_ctx, clock=FrozenClock(NOW))] == [first]


@pytest.mark.postgres
def test_an_ingester_holding_an_article_then_dying_leaves_it_to_the_next(postgres_engine, org, monkeypatch):
    """A worker holds one article (its row lock) and dies. The others cluster what comes before it in ingest order
    at once, nothing after it until it is free (stories are built in one worker's order, ``crawlers.stories``:
    they wait ``TURN_WAIT`` for it, then end their batch, losing nothing), and all of it once the holder is gone."""
    import crawlers.stories
    from crawlers.ingest import process_fetched

    monkeypatch.setattr(crawlers.stories, "TURN_WAIT", 0.5)
    matcher = Matcher.from_org(org, load_keyword_plans(PROJECT_ROOT / "config" / "keywords.yaml"))
    factory = make_sessionmaker(postgres_engine)

    def ingest() -> int:
        with factory() as session:
            return process_fetched(session, matcher=matcher, index=StoryIndex(), clock=FrozenClock(NOW)).processed

    def fetched() -> int:
        with factory() as session:
            return session.scalar(select(func.count()).select_from(Article)
                                  .where(Article.stage == ArticleStage.fetched))

    with factory() as session:
        ids = _articles(session, 4, stage=ArticleStage.fetched)  # one time: ingest order is id order
        session.execute(Article.__table__.update().values(story_id=None))
        session.commit()
    dying = factory()
    try:
        assert dying.scalars(select(Article.id).where(Article.id == ids[2]).with_for_update()).first() == ids[2]
        assert ingest() == 2  # the two before the held article; the one after it waits its turn
        assert fetched() == 2
    finally:  # the "dead" worker's connection goes even when an assertion fails (its lock would hang the teardown)
        dying.connection().invalidate()
        dying.close()
    assert ingest() == 2 and fetched() == 0  # the held article and the one after it, by the next worker


def test_claims_that_an_outage_kept_from_being_given_back_are_returned_once_the_database_answers(db_engine,
                                                                                                 monkeypatch):
    """The database goes away mid-batch: the batch fails, and so does the DELETE that should give its claims back.
    The same process gives them back at its next classify call, so the articles wait for the database, not for the
    five-minute lease (``yuqing run`` sat out a lease after a PostgreSQL restart before this)."""
    import sentiment.service as service
    from crawlers.claims import WorkClaim

    factory = make_sessionmaker(db_engine)
    with factory() as session:
        _articles(session, 12, stage=ArticleStage.matched)

    class Gone(Exception):
        """Stands for the lost connection: the model's batch and the claims' return both fail on it."""

    class DyingClassifier(CountingClassifier):
        def predict(self, texts):
            raise Gone("server closed the connection unexpectedly")

    def drop_fails(*args, **kwargs):
        raise Gone("connection refused")

    with monkeypatch.context() as m:
        m.setattr(service, "drop_claims", drop_fails)
        with factory() as session, pytest.raises(Gone):
            classify_pending(session, classifier=DyingClassifier(), clock=FrozenClock(NOW), batch_size=8)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(WorkClaim)) == 8  # left behind, leased 5 minutes

    model = CountingClassifier()
    with factory() as session:  # the database is back; the lease has not passed (real time, seconds later)
        assert classify_pending(session, classifier=model, clock=FrozenClock(NOW)) == 12
        assert session.scalar(select(func.count()).select_from(WorkClaim)) == 0
        assert session.scalar(select(func.count()).select_from(Classification)) == 12
    assert len(model.seen) == 12 and set(model.seen.values()) == {1}
