"""Small row factories for API tests: each inserts one row the way the pipeline stages would, and flushes.

Tests reach them through the ``make`` fixture (a ``Factories`` bound to the test's session and clock).
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from crawlers.models import Article, Mention, SourceState, Story
from incidents.models import Alert, Incident, Task, TimelineEvent
from sentiment.models import Classification, StoryRisk
from yuqing.clock import Clock

_seq = itertools.count(1)

FACTORS = {
    "polarity": {"value": 0.93, "reason": "最负面一条负面概率 0.93，负面占比 100%（2 条）"},
    "severity": {"value": 1.0, "reason": "风险类别：存取款受限/挤兑谣言"},
    "authority": {"value": 1.25, "reason": "最具影响力的来源：地方媒体"},
}


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_story(session: Session, *, at: datetime, unit_id: str | None = "xinhualu",
               title: str = "示例银行新华路网点排长队取不出钱") -> Story:
    story = Story(title=title, unit_id=unit_id, first_seen_at=at, last_seen_at=at, article_count=0)
    session.add(story)
    session.flush()
    return story


def make_article(session: Session, *, at: datetime, story: Story | None = None, unit_id: str = "xinhualu",
                 title: str = "示例银行新华路网点排长队", text: str = "今天在示例银行新华路网点排了两个小时的队。",
                 url: str | None = None, source_id: str = "jiangcheng-news", channel: str = "news",
                 label: str | None = "negative", negative_prob: float = 0.9, category: str = "withdrawal_bank_run",
                 snippet: str | None = None, primary: bool = True) -> Article:
    n = next(_seq)
    url = url or f"https://news.example.cn/a/{n}.html"
    article = Article(source_id=source_id, channel=channel, url=url, url_hash=_hash(f"{url}#{n}"), title=title,
                      text=text, published_at=at, fetched_at=at, content_hash=_hash(f"{text}#{n}"),
                      stage="scored", story_id=story.id if story else None)
    session.add(article)
    session.flush()
    session.add(Mention(article_id=article.id, unit_id=unit_id, is_primary=primary, terms=["新华路网点"],
                        snippet=snippet if snippet is not None else text[:80]))
    if label is not None:
        session.add(Classification(article_id=article.id, label=label, negative_prob=negative_prob,
                                   category=category, model="test", classified_at=at, cues=[]))
    if story is not None:
        story.article_count += 1
        story.first_article_id = story.first_article_id or article.id
    session.flush()
    return article


def make_story_risk(session: Session, *, story: Story, at: datetime, score: float = 72.0, level: str | None = "II",
                    category: str = "withdrawal_bank_run", factors: dict | None = None) -> StoryRisk:
    risk = StoryRisk(story_id=story.id, computed_at=at, score=score, level=level, category=category,
                     factors=FACTORS if factors is None else factors)
    session.add(risk)
    session.flush()
    return risk


def make_alert(session: Session, *, story: Story, at: datetime, unit_id: str | None = None, level: str = "II",
               status: str = "open", title: str | None = None, ack_in: timedelta = timedelta(minutes=15),
               incident: Incident | None = None, risk_score: float = 72.0) -> Alert:
    alert = Alert(story_id=story.id, unit_id=unit_id or story.unit_id, level=level, risk_score=risk_score,
                  category="withdrawal_bank_run", title=title or story.title, factors=FACTORS, status=status,
                  created_at=at, updated_at=at, ack_due_at=at + ack_in,
                  incident_id=incident.id if incident else None)
    session.add(alert)
    session.flush()
    return alert


def make_incident(session: Session, *, at: datetime, unit_id: str = "xinhualu", level: str = "II",
                  story: Story | None = None, title: str | None = None, status: str = "open",
                  tasks: list[tuple[str, str, timedelta]] | None = None) -> Incident:
    """An incident with checklist ``tasks`` given as (title, owner_role, due after opening)."""
    n = next(_seq)
    incident = Incident(number=f"YQ-20261123-{n:03d}", title=title or (story.title if story else "测试事件"),
                        unit_id=unit_id, level=level, category="withdrawal_bank_run", playbook="rumour_bank_run",
                        status=status, story_id=story.id if story else None, opened_at=at, peak_risk=72.0)
    session.add(incident)
    session.flush()
    for pos, (task_title, role, due) in enumerate(tasks or [("核实情况", "liaison", timedelta(minutes=30)),
                                                            ("报告分行领导", "commander", timedelta(hours=1))], 1):
        make_task(session, incident=incident, position=pos, title=task_title, owner_role=role, due_at=at + due)
    make_event(session, incident=incident, at=at, kind="opened", text="系统自动立案",
               data={"level": level})
    return incident


def make_task(session: Session, *, incident: Incident, position: int, title: str, owner_role: str = "liaison",
              owner_id: str | None = None, due_at: datetime | None = None, status: str = "todo",
              key: str | None = None) -> Task:
    task = Task(incident_id=incident.id, position=position, key=key or f"step{position}", title=title,
                owner_role=owner_role, owner_id=owner_id, due_at=due_at, status=status)
    session.add(task)
    session.flush()
    return task


def make_event(session: Session, *, incident: Incident, at: datetime, kind: str = "note", text: str = "",
               actor: str = "system", data: dict | None = None) -> TimelineEvent:
    event = TimelineEvent(incident_id=incident.id, at=at, kind=kind, actor=actor, text=text, data=data or {})
    session.add(event)
    session.flush()
    return event


def make_source_state(session: Session, *, source_id: str, now: datetime, failures: int = 0,
                      last_success_ago: timedelta | None = timedelta(minutes=5),
                      last_new_ago: timedelta | None = timedelta(minutes=10), error: str | None = None,
                      ran: bool = True) -> SourceState:
    state = SourceState(
        source_id=source_id, last_run_at=now - timedelta(minutes=1) if ran else None,
        last_success_at=now - last_success_ago if (ran and last_success_ago is not None) else None,
        last_new_item_at=now - last_new_ago if (ran and last_new_ago is not None) else None,
        last_error=error, last_error_at=now if error else None, consecutive_failures=failures,
        runs=10 if ran else 0, items_last_run=3, items_total=42, stats={})
    session.add(state)
    session.flush()
    return state


class Factories:
    """The factories above bound to one session and clock (``at`` defaults to the clock's now)."""

    def __init__(self, session: Session, clock: Clock):
        self.session, self.clock = session, clock

    def _at(self, kw: dict[str, Any]) -> dict[str, Any]:
        kw.setdefault("at", self.clock.now())
        return kw

    def story(self, **kw: Any) -> Story:
        return make_story(self.session, **self._at(kw))

    def article(self, **kw: Any) -> Article:
        return make_article(self.session, **self._at(kw))

    def story_risk(self, **kw: Any) -> StoryRisk:
        return make_story_risk(self.session, **self._at(kw))

    def alert(self, **kw: Any) -> Alert:
        return make_alert(self.session, **self._at(kw))

    def incident(self, **kw: Any) -> Incident:
        return make_incident(self.session, **self._at(kw))

    def event(self, **kw: Any) -> TimelineEvent:
        return make_event(self.session, **self._at(kw))

    def source_state(self, **kw: Any) -> SourceState:
        kw.setdefault("now", self.clock.now())
        return make_source_state(self.session, **kw)

    def crisis(self, *, unit_id: str = "xinhualu", title: str = "示例银行新华路网点排长队取不出钱",
               level: str = "II") -> tuple[Story, Alert, Incident]:
        """A story with two articles, its risk, an alert and an incident: what the pipeline leaves behind."""
        story = self.story(unit_id=unit_id, title=title)
        self.article(story=story, unit_id=unit_id, title=title)
        self.article(story=story, unit_id=unit_id, title=title + "（转载）", source_id="weibo", channel="social")
        self.story_risk(story=story, level=level)
        incident = self.incident(unit_id=unit_id, level=level, story=story)
        alert = self.alert(story=story, level=level, incident=incident, status="acknowledged")
        self.session.commit()
        return story, alert, incident
