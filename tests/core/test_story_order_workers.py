"""One ingest worker and several at once make the same stories from the same backlog (issue 13: "two ingest
workers never split a story"), on the real PostgreSQL.

Clustering decides article by article against what the index holds, so the stories depend on the order articles
are clustered in; one worker goes through a backlog in ingest order (``crawlers.stories.ingest_order``). Several
workers used to reach the clustering lock in whatever order their batches came: a worker that took the later half
of the backlog clustered it before the earlier half, and the templated backlog of ``python -m bench workers`` then
divided into other stories. Now an article is clustered only when nothing before it in ingest order is still
waiting (``check_turn``, ``TurnQueue``). The backlog is the benchmark's own generator (``bench.workers``): units
and events told in varied texts, a fifth of it city news.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, select, update

from bench.workers import _backlog_items
from crawlers.claims import SequenceCounter, StoryAssignment
from crawlers.ingest import process_fetched
from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher
from crawlers.models import Article, ArticleStage, Mention, Story
from crawlers.stories import ClusteringTurn, StoryIndex, TurnQueue
from tests.core.concurrency_helpers import run_at_once
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.settings import PROJECT_ROOT

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
CLOCK = FrozenClock(T0 + timedelta(hours=2))
BACKLOG = 160  # 128 about the bank: enough for tellings to cross between stories when the order changes


@pytest.fixture(scope="module")
def matcher(org):
    return Matcher.from_org(org, load_keyword_plans(PROJECT_ROOT / "config" / "keywords.yaml"))


def _store_backlog(engine: Engine, n: int = BACKLOG) -> None:
    """The benchmark's backlog, ``fetched``, one item every 10 s (published and fetched at that time)."""
    with make_sessionmaker(engine)() as session:
        for i, (tag, title, text, _) in enumerate(_backlog_items(n, relevant_share=0.8)):
            url = f"https://news.example/{tag}"
            at = T0 + timedelta(seconds=10 * i)
            session.add(Article(source_id="bench", channel="news", url=url, title=title, text=text,
                                url_hash=hashlib.sha256(url.encode()).hexdigest(), fetched_at=at, published_at=at,
                                content_hash=hashlib.sha256(text.encode()).hexdigest(), meta={}))
        session.commit()


def _reset(engine: Engine) -> None:
    """Back to the raw backlog: no stories, mentions or clustering log, every article ``fetched`` again."""
    with make_sessionmaker(engine)() as session:
        session.execute(update(Article).values(stage=ArticleStage.fetched, story_id=None, is_duplicate=False,
                                               meta={}))
        for model in (Mention, StoryAssignment, Story, SequenceCounter):
            session.execute(delete(model))
        session.commit()


def _partition(engine: Engine) -> set[frozenset[str]]:
    """The stories as sets of article URLs (story ids differ between runs; the grouping must not)."""
    with make_sessionmaker(engine)() as session:
        rows = session.execute(select(Article.story_id, Article.url).where(Article.story_id.is_not(None))).all()
        left = session.scalar(select(Article.id).where(Article.stage == ArticleStage.fetched).limit(1))
    assert left is None, "an article was left unprocessed"
    stories: dict[int, set[str]] = {}
    for story_id, url in rows:
        stories.setdefault(story_id, set()).add(url)
    return {frozenset(urls) for urls in stories.values()}


def _drain(engine: Engine, matcher: Matcher, index: StoryIndex, *, limit: int = 500) -> int:
    """One worker: ``process_fetched`` until nothing is left ``fetched`` (another may hold some: look again)."""
    factory = make_sessionmaker(engine)
    processed = 0
    with factory() as session:
        while True:
            processed += process_fetched(session, matcher=matcher, index=index, clock=CLOCK, limit=limit).processed
            if session.scalar(select(Article.id).where(Article.stage == ArticleStage.fetched).limit(1)) is None:
                session.rollback()
                return processed
            session.rollback()
            time.sleep(0.01)


def _one_worker(engine: Engine, matcher: Matcher) -> set[frozenset[str]]:
    processed = _drain(engine, matcher, StoryIndex())
    assert processed == BACKLOG
    return _partition(engine)


class _GatedMatcher:
    """A matcher that, at its first article, says so (``holding``) and then stalls until ``release`` is set or
    ``stall`` seconds passed: the worker using it holds its whole batch (the bulk step's row locks) meanwhile."""

    def __init__(self, matcher: Matcher, stall: float) -> None:
        self._matcher = matcher
        self.stall = stall
        self.holding = threading.Event()
        self.release = threading.Event()

    def match(self, *args, **kwargs):
        if not self.holding.is_set():
            self.holding.set()
            self.release.wait(timeout=self.stall)
        return self._matcher.match(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._matcher, name)


class _SignallingIndex(StoryIndex):
    """A story index that sets ``assigned`` when it first decides an article's story."""

    def __init__(self) -> None:
        super().__init__()
        self.assigned = threading.Event()

    def assign(self, *args, **kwargs):
        self.assigned.set()
        return super().assign(*args, **kwargs)


pytestmark = pytest.mark.postgres


def test_a_worker_that_took_the_later_half_first_still_clusters_in_ingest_order(postgres_engine, matcher):
    """Worker A takes the earlier half of the backlog and is slow to match it; worker B takes the later half. B
    used to cluster its half first (A's matcher waited until B had assigned one article), and the stories came out
    different from one worker's. Now B waits for A's earlier articles (A's matcher gives up waiting after 5 s) and
    the partition is one worker's, article for article."""
    _store_backlog(postgres_engine)
    one = _one_worker(postgres_engine, matcher)
    _reset(postgres_engine)

    gated = _GatedMatcher(matcher, stall=5.0)
    index_b = _SignallingIndex()
    gated.release = index_b.assigned  # A goes on once B has assigned something (the old order), or after 5 s
    factory = make_sessionmaker(postgres_engine)
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def worker_a() -> None:
        try:
            with factory() as session:  # its bulk step locks the earlier half, then stalls in matching
                results["a"] = process_fetched(session, matcher=gated, index=StoryIndex(), clock=CLOCK,
                                               limit=BACKLOG // 2).processed
        except BaseException as exc:  # reported below
            errors.append(exc)

    def worker_b() -> None:
        try:
            assert gated.holding.wait(timeout=60), "worker A never started matching"
            results["b"] = _drain(postgres_engine, matcher, index_b)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker_a), threading.Thread(target=worker_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    assert results["a"] + results["b"] == BACKLOG  # each article ingested once
    assert results["a"] > 0 and results["b"] > 0  # both worked
    two = _partition(postgres_engine)
    assert len(two) == len(one)
    assert two == one


def test_three_free_running_workers_make_one_workers_stories(postgres_engine, matcher):
    """Three workers draining the backlog at once, small batches so they interleave throughout: the same
    stories as one worker (and each article ingested once)."""
    _store_backlog(postgres_engine)
    one = _one_worker(postgres_engine, matcher)
    _reset(postgres_engine)

    processed = run_at_once(postgres_engine, [
        lambda _s, limit=limit: _drain(postgres_engine, matcher, StoryIndex(), limit=limit) for limit in (10, 25, 40)])
    assert sum(processed) == BACKLOG
    assert _partition(postgres_engine) == one


def test_the_turn_queue_puts_the_earlier_article_first_and_gives_up_after_the_wait():
    """No database: what ``TurnQueue`` yields when articles meet earlier ones, and when it stops waiting."""
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    queue = TurnQueue([5, 6], wait=1.0, poll=0.25, sleep=sleep, monotonic=lambda: now[0])
    order = iter(queue)
    assert next(order) == 5
    assert queue.waits_for(ClusteringTurn(5, 2))  # 2 comes first, then 5 again; a new blocker: no sleep
    assert [next(order), next(order), next(order)] == [2, 5, 6]
    assert slept == []
    tries = 0
    while queue.waits_for(ClusteringTurn(6, 3)):  # 3 is held by another worker all along
        tries += 1
        assert [next(order), next(order)] == [3, 6]
    assert slept == [0.25] * 5  # a poll between repeats, until more than the 1 s wait had passed
    assert tries == 6
    assert list(order) == []  # gave up: nothing left in this batch


def test_the_turn_queue_reads_the_module_wait_and_poll_when_it_is_made(monkeypatch):
    """``TURN_WAIT`` / ``TURN_POLL`` set on the module (as a test or a deployment does) are what a queue made
    afterwards waits and polls, not the values the module had when it was imported."""
    import crawlers.stories

    monkeypatch.setattr(crawlers.stories, "TURN_WAIT", 0.5)
    monkeypatch.setattr(crawlers.stories, "TURN_POLL", 0.2)
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    queue = TurnQueue([6], sleep=sleep, monotonic=lambda: now[0])
    order = iter(queue)
    assert next(order) == 6
    while queue.waits_for(ClusteringTurn(6, 3)):
        assert [next(order), next(order)] == [3, 6]
    assert slept == [0.2, 0.2, 0.2]  # 0.6 s > the 0.5 s wait: given up after three polls
