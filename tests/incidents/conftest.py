"""Fixtures for incident-response tests: a temp SQLite database, the demo org chart, the default policy."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.models import Article, Story
from incidents.policy import Policy, load_policy
from sentiment.models import StoryRisk
from tests.helpers import created_sqlite_engine
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.org import OrgChart, load_org

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
# Monday 2026-11-23 10:00 in Asia/Shanghai.
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def org() -> OrgChart:
    return load_org(CONFIG / "org.yaml")


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(CONFIG / "levels.yaml", CONFIG / "checklists")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def session(tmp_path):
    engine = created_sqlite_engine(tmp_path / "test.db")
    factory = make_sessionmaker(engine)
    s = factory()
    try:
        yield s
    finally:
        s.close()
        engine.dispose()


@pytest.fixture
def make_story(session, clock):
    """Insert a minimal story with one article (the crawler's side of the contract)."""
    return lambda **kw: _make_story(session, clock=clock, **kw)


@pytest.fixture
def make_risk(session, clock):
    """Insert a StoryRisk row (the sentiment stage's side of the contract)."""
    return lambda **kw: _make_risk(session, clock=clock, **kw)


def _make_story(session, *, clock, unit_id: str | None = "xinhualu", title: str = "示例银行新华路网点服务态度差被投诉",
               channel: str = "social") -> Story:
    now = clock.now()
    story = Story(title=title, unit_id=unit_id, first_seen_at=now, last_seen_at=now, article_count=1)
    session.add(story)
    session.flush()
    url = f"https://weibo.example/post/{story.id}"
    session.add(Article(source_id="weibo", channel=channel, url=url,
                        url_hash=hashlib.sha256(url.encode()).hexdigest(), title=title, text=title, fetched_at=now,
                        content_hash=hashlib.sha256(title.encode()).hexdigest(), story_id=story.id, stage="scored"))
    session.flush()
    return story


def _make_risk(session, *, story: Story, clock, level: str | None, score: float = 60.0,
              category: str = "service_attitude", factors: dict | None = None) -> StoryRisk:
    risk = StoryRisk(story_id=story.id, computed_at=clock.now(), score=score, level=level, category=category,
                     factors=factors if factors is not None else {
                         "velocity": {"value": 0.9, "reason": "两小时内转发量增长十倍"},
                         "reach": {"value": 0.7, "reason": "作者粉丝数超过十万"},
                         "locality": {"value": 0.4, "reason": "指名具体网点"},
                         "polarity": {"value": 0.2, "reason": "负面情绪"},
                     })
    session.add(risk)
    session.flush()
    return risk
