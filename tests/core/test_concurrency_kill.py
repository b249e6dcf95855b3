"""A stage runner killed with SIGKILL while it holds work: nothing is lost and nothing done twice. Classify's
batch is taken by the next runner once its lease has passed; ingest's article as soon as the server has noticed
the dead connection (its transaction is rolled back). Real processes on the real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher
from crawlers.models import Article, ArticleStage
from crawlers.stories import StoryIndex
from sentiment.models import Classification
from sentiment.service import CLASSIFY_LEASE, classify_pending
from tests.core.test_concurrency_stages import CountingClassifier, _articles
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.settings import PROJECT_ROOT

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

pytestmark = pytest.mark.postgres


def _start_and_kill(mode: str, engine, url: str) -> None:
    with engine.connect() as conn:
        schema = conn.exec_driver_sql("select current_schema()").scalar()
    proc = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "tests/core/killed_runner.py"), mode, url, schema],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    try:
        line = proc.stdout.readline()
        assert line.strip() == "holding", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_a_classifier_killed_mid_batch_leaves_it_to_the_next_runner_after_the_lease(postgres_engine, postgres_url):
    factory = make_sessionmaker(postgres_engine)
    with factory() as session:
        _articles(session, 40, stage=ArticleStage.matched)
    _start_and_kill("classify", postgres_engine, postgres_url)

    model = CountingClassifier()
    with factory() as session:  # the dead runner's 16 are still leased: the next runner leaves them alone
        assert classify_pending(session, classifier=model, clock=FrozenClock(NOW)) == 24
    later = FrozenClock(datetime.now(UTC) + CLASSIFY_LEASE + timedelta(seconds=5))
    with factory() as session:  # once the lease has passed they are picked up, once
        assert classify_pending(session, classifier=model, clock=FrozenClock(NOW), lease_clock=later) == 16
        assert session.scalar(select(func.count()).select_from(Classification)) == 40
    assert set(model.seen.values()) == {1}


def test_an_ingester_killed_mid_article_leaves_it_to_the_next_runner(postgres_engine, postgres_url, org):
    factory = make_sessionmaker(postgres_engine)
    with factory() as session:
        _articles(session, 5, stage=ArticleStage.fetched)
        session.execute(Article.__table__.update().values(story_id=None))
        session.commit()
    _start_and_kill("ingest", postgres_engine, postgres_url)

    matcher = Matcher.from_org(org, load_keyword_plans(PROJECT_ROOT / "config" / "keywords.yaml"))
    with factory() as session:
        report = process_fetched_until_done(session, matcher)
        assert report == 5
        assert session.scalar(select(func.count()).select_from(Article)
                              .where(Article.stage == ArticleStage.fetched)) == 0


def process_fetched_until_done(session, matcher) -> int:
    """Ingest until nothing is left (the server may take a moment to notice the dead connection and release the
    article: until then it is skipped, never processed twice)."""
    import time

    from crawlers.ingest import process_fetched

    done, index = 0, StoryIndex()
    for _ in range(100):
        done += process_fetched(session, matcher=matcher, index=index, clock=FrozenClock(NOW)).processed
        left = session.scalar(select(func.count()).select_from(Article).where(Article.stage == ArticleStage.fetched))
        session.rollback()
        if not left:
            return done
        time.sleep(0.1)
    return done
