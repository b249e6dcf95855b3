"""Two incident runners at once: every risk row handled once, one alert per story, incident numbers distinct and
without gaps — on the real PostgreSQL (row locks, the per-day counter row) and on SQLite (the write lock)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawlers.models import Article, Story
from incidents.models import Alert, Incident, Notification
from incidents.numbering import next_incident_number
from incidents.policy import load_policy
from incidents.service import handle_pending_risks
from sentiment.models import StoryRisk
from tests.core.concurrency_helpers import run_at_once
from yuqing import audit_chain
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.settings import PROJECT_ROOT

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: numbers YQ-20261123-NNN
STORIES = 40


@pytest.fixture(scope="module")
def policy():
    return load_policy(PROJECT_ROOT / "config" / "levels.yaml", PROJECT_ROOT / "config" / "checklists")


def _stories_with_risks(session: Session, n: int, *, level: str = "II") -> list[int]:
    ids = []
    for i in range(n):
        title = f"示例银行新华路网点事件{i}"
        story = Story(title=title, unit_id="xinhualu", first_seen_at=NOW, last_seen_at=NOW, article_count=1)
        session.add(story)
        session.flush()
        url = f"https://weibo.example/post/{story.id}"
        session.add(Article(source_id="weibo", channel="social", url=url,
                            url_hash=hashlib.sha256(url.encode()).hexdigest(), title=title, text=title,
                            fetched_at=NOW, content_hash=hashlib.sha256(title.encode()).hexdigest(),
                            story_id=story.id, stage="scored"))
        session.add(StoryRisk(story_id=story.id, computed_at=NOW, score=70.0, level=level,
                              category="service_attitude", factors={}))
        ids.append(story.id)
    session.commit()
    return ids


def test_two_incident_runners_handle_each_risk_once(db_engine, org, policy):
    factory = make_sessionmaker(db_engine)
    with factory() as session:
        _stories_with_risks(session, STORIES)
    clock = FrozenClock(NOW)

    handled = run_at_once(db_engine, [
        lambda s: handle_pending_risks(s, org=org, policy=policy, clock=clock),
        lambda s: handle_pending_risks(s, org=org, policy=policy, clock=clock)])

    assert sum(handled) == STORIES  # each risk row handled by exactly one runner
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(StoryRisk)
                              .where(StoryRisk.handled_at.is_(None))) == 0
        assert session.scalar(select(func.count()).select_from(Alert)) == STORIES
        numbers = session.scalars(select(Incident.number)).all()
        assert sorted(numbers) == [f"YQ-20261123-{i:03d}" for i in range(1, STORIES + 1)]  # distinct, no gaps
        # one message per (incident, level, person, channel): nobody told twice about the same incident
        keys = session.execute(select(Notification.dedup_key)).scalars().all()
        assert len(keys) == len(set(keys)) > 0
        assert audit_chain.verify(session).ok


@pytest.mark.postgres
def test_incident_numbers_from_two_writers_at_once(postgres_engine):
    """2 writers × 20 numbers at the same moment, each in its own transaction committed at once: 40 distinct."""
    def twenty(session: Session) -> list[str]:
        got = []
        for _ in range(20):
            got.append(next_incident_number(session, NOW, "Asia/Shanghai"))
            session.commit()
        return got

    first, second = run_at_once(postgres_engine, [twenty, twenty])
    assert sorted(first + second) == [f"YQ-20261123-{i:03d}" for i in range(1, 41)]
    assert first and second


def test_a_rolled_back_number_is_given_again(db_engine):
    """No gaps: a transaction that fails after drawing a number gives it back."""
    factory = make_sessionmaker(db_engine)
    with factory() as session:
        assert next_incident_number(session, NOW, "Asia/Shanghai") == "YQ-20261123-001"
        session.rollback()
        assert next_incident_number(session, NOW, "Asia/Shanghai") == "YQ-20261123-001"
        session.commit()
        assert next_incident_number(session, NOW, "Asia/Shanghai") == "YQ-20261123-002"
        # the next local day starts again at 001
        assert next_incident_number(session, NOW + timedelta(days=1), "Asia/Shanghai") == "YQ-20261124-001"
        session.commit()


def test_numbering_carries_on_from_incidents_written_before_the_counter(db_engine, org, policy):
    """A day whose incidents predate the counter (numbered by the old "highest + 1") continues after them."""
    factory = make_sessionmaker(db_engine)
    with factory() as session:
        story_id = _stories_with_risks(session, 1)[0]
        session.add(Incident(number="YQ-20261123-007", title="旧事件", unit_id="xinhualu", level="III",
                             category="other", playbook="generic", status="closed", story_id=story_id,
                             opened_at=NOW, summary="", peak_risk=40.0))
        session.commit()
        assert next_incident_number(session, NOW, "Asia/Shanghai") == "YQ-20261123-008"
        session.commit()
