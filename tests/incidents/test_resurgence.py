"""舆情反弹 on SQLite and PostgreSQL: a monitoring case whose story comes back is reopened by the system with the
reason; a closed case is flagged, its alert raised again and its commander told, never silently reopened; one
resurgence tells once; a tail below the case's level, or a fading story, is not a comeback."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crawlers.models import Article, Story
from incidents import flows, resurgence, service
from incidents.errors import IncidentError
from incidents.lifecycle import SYSTEM_ACTIONS, Action, IncidentStatus, system_may
from incidents.models import Alert, Incident, Notification, TimelineEvent
from sentiment.models import Classification, StoryRisk
from yuqing.clock import FrozenClock
from yuqing.models import AuditEntry

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Asia/Shanghai


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def session(session_factory):
    with session_factory() as s:
        yield s


class Story_:
    """The pipeline's side: a story about the 新华路网点 that gains articles and risk computations over time."""

    def __init__(self, session, org, policy, clock):
        self.session, self.org, self.policy, self.clock = session, org, policy, clock
        now = clock.now()
        self.story = Story(title="示例银行新华路网点不让取钱", unit_id="xinhualu", first_seen_at=now,
                           last_seen_at=now, article_count=0)
        session.add(self.story)
        session.flush()
        self.n = 0

    def post(self, count: int = 1, *, author: str = "江城热点", channel: str = "social",
             label: str = "negative") -> None:
        now = self.clock.now()
        for _ in range(count):
            self.n += 1
            url = f"https://weibo.example/{self.story.id}/{self.n}"
            digest = hashlib.sha256(url.encode()).hexdigest()
            article = Article(source_id="weibo", channel=channel, url=url, url_hash=digest,
                              title=f"新华路网点又有人排队取钱 {self.n}", text="又排队了", author=author,
                              fetched_at=now, published_at=now - timedelta(minutes=2), content_hash=digest,
                              story_id=self.story.id, stage="scored")
            self.session.add(article)
            self.session.flush()
            self.session.add(Classification(article_id=article.id, label=label,
                                            negative_prob=0.9 if label == "negative" else 0.1,
                                            category="withdrawal_bank_run", model="test", classified_at=now, cues=[]))
        self.session.flush()

    def risk(self, level: str | None, score: float):
        risk = StoryRisk(story_id=self.story.id, computed_at=self.clock.now(), score=score, level=level,
                         category="withdrawal_bank_run", factors={"velocity": {"value": 1.4, "reason": "近1小时新增"}})
        self.session.add(risk)
        self.session.flush()
        return service.handle_story_risk(self.session, story_risk=risk, org=self.org, policy=self.policy,
                                         clock=self.clock)


def case_at_rest(session, org, policy, clock, *, status: str, level: str = "II"):
    """A case opened at ``level`` and run to ``status`` (monitoring or closed) by the commander; returns it."""
    s = Story_(session, org, policy, clock)
    s.post()
    out = s.risk(level, 70.0)
    incident = session.get(Incident, out.incident_id)
    clock.advance(timedelta(minutes=3))
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="liuqiang", clock=clock)
    clock.advance(timedelta(minutes=3))
    flows.start_response(session, incident_id=incident.id, user_login="liuqiang", clock=clock)
    clock.advance(timedelta(hours=2))
    flows.start_monitoring(session, incident_id=incident.id, user_login="liuqiang", note="传播回落", clock=clock)
    if status == "closed":
        clock.advance(timedelta(hours=2))
        flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary="已平息", clock=clock)
    s.risk(level, 66.0)  # a quiet round while it rests: the score fades, no new article
    session.commit()
    return s, incident


def resurgence_events(session, incident_id: int) -> list[TimelineEvent]:
    return list(session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id,
                                                            TimelineEvent.kind == resurgence.RESURGENCE)))


def messages(session, incident_id: int) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.incident_id == incident_id,
                                                           Notification.purpose == "resurgence")))


def test_the_system_may_reopen_only_a_monitoring_case():
    assert {Action.reopen: frozenset({IncidentStatus.monitoring})} == SYSTEM_ACTIONS
    assert system_may(Action.reopen, "monitoring")
    assert not system_may(Action.reopen, "closed") and not system_may(Action.reopen, "reviewed")
    assert not system_may(Action.close, "monitoring")


def test_the_rule_on_plain_values():
    base = {"status": "monitoring", "incident_level": "II", "new_level": "II", "new_score": 72.0,
            "previous_score": 68.0, "new_articles": 3, "flagged": False}
    assert resurgence.is_resurgence(**base)
    assert resurgence.is_resurgence(**{**base, "new_level": "I"})  # higher: yes
    assert not resurgence.is_resurgence(**{**base, "new_level": "III"})  # below the case's level
    assert not resurgence.is_resurgence(**{**base, "new_articles": 0})  # nothing new
    assert not resurgence.is_resurgence(**{**base, "new_score": 67.0})  # a fading tail, however high its level
    assert not resurgence.is_resurgence(**{**base, "flagged": True})  # one resurgence, one flag
    assert not resurgence.is_resurgence(**{**base, "status": "responding"})  # a running case is just running
    assert resurgence.is_resurgence(**{**base, "status": "reviewed", "previous_score": None})


def test_monitoring_case_whose_story_comes_back_is_reopened_with_the_reason(session, org, policy, clock):
    story, incident = case_at_rest(session, org, policy, clock, status="monitoring")
    clock.advance(timedelta(minutes=50))
    story.post(4, author="财经老周")
    out = story.risk("II", 74.5)
    session.commit()
    session.refresh(incident)
    assert incident.status == IncidentStatus.responding and incident.level == "II"
    [ev] = resurgence_events(session, incident.id)
    assert ev.actor == "system" and ev.text.startswith("舆情反弹：")
    assert "II级" in ev.text and "74.5" in ev.text and "新增相关信息 4 条" in ev.text and "财经老周" in ev.text
    reopened = session.scalar(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id,
                                                          TimelineEvent.kind == "reopened"))
    assert reopened.actor == "system" and "舆情反弹：" in reopened.text and reopened.data["from"] == "monitoring"
    audit = {(a.actor, a.action) for a in session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "incident", AuditEntry.object_id == str(incident.id)))}
    assert {("system", "incident.resurgence"), ("system", "incident.reopen")} <= audit
    told = {n.recipient_id for n in messages(session, incident.id)}
    assert told == {"liuqiang"}  # same level: the commander
    assert out.notifications_queued == len(messages(session, incident.id))
    assert all(n.subject.startswith("【舆情反弹·事件") for n in messages(session, incident.id))


def test_a_comeback_at_a_higher_level_raises_it_through_the_level_flow(session, org, policy, clock):
    story, incident = case_at_rest(session, org, policy, clock, status="monitoring")
    clock.advance(timedelta(minutes=30))
    story.post(2)
    out = story.risk("I", 86.0)
    session.commit()
    session.refresh(incident)
    assert incident.status == IncidentStatus.responding and incident.level == "I"
    assert out.incident_level_change == ("II", "I")
    change = session.scalar(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id,
                                                        TimelineEvent.kind == "level_changed",
                                                        TimelineEvent.actor == "system"))
    assert change.data["to"] == "I" and change.data["reason"].startswith("舆情反弹：")
    told = {n.recipient_id for n in messages(session, incident.id)}
    assert {"liuqiang", "chenjing", "sunhua", "huangwei"} <= told  # level I's chain, leaders included
    # one message each, not a second 升级 message beside it
    assert not session.scalar(select(func.count()).select_from(Notification).where(
        Notification.incident_id == incident.id, Notification.purpose == "level_changed",
        Notification.created_at == clock.now()))
    chain = session.scalar(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id,
                                                       TimelineEvent.kind == "reporting_chain",
                                                       TimelineEvent.at == clock.now()))
    assert chain.data["level"] == "I" and chain.data["groups"]  # the chain's acknowledgement clocks run


def test_closed_case_is_flagged_and_its_commander_told_but_not_reopened(session, org, policy, clock):
    story, incident = case_at_rest(session, org, policy, clock, status="closed")
    alert = session.scalar(select(Alert).where(Alert.incident_id == incident.id))
    assert alert.status == "acknowledged"
    clock.advance(timedelta(hours=1))
    story.post(3)
    story.risk("II", 73.0)
    session.commit()
    session.refresh(incident)
    session.refresh(alert)
    assert incident.status == IncidentStatus.closed and incident.level == "II"  # status unchanged
    flag = resurgence.active_flag(incident)
    assert flag is not None and flag.level == "II" and flag.new_articles == 3 and "舆情反弹：" in flag.text
    assert "未自动重新打开" in flag.text
    assert alert.status == "open" and alert.ack_due_at > clock.now() and alert.escalation_step == 0  # raised again
    told = {n.recipient_id for n in messages(session, incident.id)}
    assert "liuqiang" in told and "wangmin" in told  # the commander and the duty desk
    assert all(n.alert_id == alert.id for n in messages(session, incident.id))  # acknowledging one acks the alert
    assert resurgence.active_flags(session, [incident]) == {incident.id: flag}


def test_a_second_round_without_new_articles_does_nothing(session, org, policy, clock):
    story, incident = case_at_rest(session, org, policy, clock, status="closed")
    clock.advance(timedelta(hours=1))
    story.post(2)
    story.risk("II", 72.0)
    session.commit()
    before = len(messages(session, incident.id))
    clock.advance(timedelta(minutes=10))
    story.risk("II", 75.0)  # the score still rising, but nothing new was posted
    clock.advance(timedelta(minutes=10))
    story.post(1)  # and while the flag stands, more posts are the same resurgence
    story.risk("I", 81.0)
    session.commit()
    assert len(resurgence_events(session, incident.id)) == 1
    assert len(messages(session, incident.id)) == before


def test_a_monitoring_case_reopened_once_is_not_reopened_again_by_the_next_round(session, org, policy, clock):
    story, incident = case_at_rest(session, org, policy, clock, status="monitoring")
    clock.advance(timedelta(minutes=20))
    story.post(2)
    story.risk("II", 71.0)
    clock.advance(timedelta(minutes=10))
    story.risk("II", 73.0)
    session.commit()
    assert len(resurgence_events(session, incident.id)) == 1
    assert session.scalar(select(func.count()).select_from(TimelineEvent).where(
        TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "reopened")) == 1


def test_a_lower_level_recurrence_does_nothing(session, org, policy, clock):
    story, incident = case_at_rest(session, org, policy, clock, status="monitoring")
    clock.advance(timedelta(minutes=30))
    story.post(5)
    story.risk("III", 69.0)  # new posts, rising, but below the case's level II
    session.commit()
    session.refresh(incident)
    assert incident.status == IncidentStatus.monitoring
    assert resurgence_events(session, incident.id) == [] and messages(session, incident.id) == []


def test_a_fading_story_with_a_late_follow_up_is_not_a_comeback(session, org, policy, clock):
    story, incident = case_at_rest(session, org, policy, clock, status="monitoring")
    clock.advance(timedelta(minutes=30))
    story.post(1, channel="news", author="江城晚报网")  # "后续：老人已取到钱" — a new article, the score still falls
    story.risk("II", 64.0)
    session.commit()
    session.refresh(incident)
    assert incident.status == IncidentStatus.monitoring and resurgence_events(session, incident.id) == []


def test_closed_case_at_a_higher_level_tells_the_new_chain_and_keeps_its_level(session, org, policy, clock):
    story, incident = case_at_rest(session, org, policy, clock, status="closed", level="III")
    clock.advance(timedelta(hours=1))
    story.post(6)
    story.risk("I", 88.0)
    session.commit()
    session.refresh(incident)
    assert incident.status == IncidentStatus.closed and incident.level == "III"
    assert resurgence.active_flag(incident).level == "I"
    told = {n.recipient_id for n in messages(session, incident.id)}
    assert {"liuqiang", "chenjing", "sunhua"} <= told  # level I's chain reaches the leaders


def test_a_decision_not_to_reopen_clears_the_flag_and_a_later_comeback_flags_again(session, org, policy, clock):
    story, incident = case_at_rest(session, org, policy, clock, status="closed")
    clock.advance(timedelta(hours=1))
    story.post(2)
    story.risk("II", 72.0)
    session.commit()
    with pytest.raises(IncidentError, match="reason"):
        resurgence.dismiss_flag(session, incident_id=incident.id, user_login="liuqiang", reason=" ", clock=clock)
    clock.advance(timedelta(minutes=20))
    resurgence.dismiss_flag(session, incident_id=incident.id, user_login="liuqiang",
                            reason="新增内容为旧帖转发，网点营业正常，继续监测", clock=clock)
    session.commit()
    session.refresh(incident)
    assert resurgence.active_flag(incident) is None
    assert session.scalar(select(Alert.status).where(Alert.incident_id == incident.id)) == "acknowledged"
    assert session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "incident.resurgence_dismiss")) == \
        "liuqiang"
    with pytest.raises(IncidentError):
        resurgence.dismiss_flag(session, incident_id=incident.id, user_login="liuqiang", reason="再次", clock=clock)
    clock.advance(timedelta(minutes=5))
    story.risk("II", 74.0)  # nothing new since the decision
    session.commit()
    assert resurgence.active_flag(incident) is None
    clock.advance(timedelta(hours=3))
    story.post(3)
    story.risk("II", 76.0)
    session.commit()
    session.refresh(incident)
    assert resurgence.active_flag(incident) is not None and len(resurgence_events(session, incident.id)) == 2


def test_reopening_a_flagged_case_takes_the_flag_down(session, org, policy, clock):
    story, incident = case_at_rest(session, org, policy, clock, status="closed")
    clock.advance(timedelta(hours=1))
    story.post(2)
    story.risk("II", 72.0)
    clock.advance(timedelta(minutes=10))
    flows.reopen_incident(session, incident_id=incident.id, user_login="liuqiang", reason="舆情反弹，重新处置",
                          clock=clock)
    session.commit()
    session.refresh(incident)
    assert incident.status == IncidentStatus.responding and resurgence.active_flag(incident) is None


def test_only_negative_new_posts_make_a_comeback_a_clarification_joining_the_story_does_not(session, org, policy,
                                                                                            clock):
    story, incident = case_at_rest(session, org, policy, clock, status="monitoring")
    clock.advance(timedelta(minutes=50))
    story.post(3, author="江城发布", label="neutral")  # 辟谣, the bank's 情况说明, "老人已取到钱"
    story.post(1, author="网友", label="positive")
    story.risk("II", 74.5)
    session.commit()
    session.refresh(incident)
    assert incident.status == IncidentStatus.monitoring and resurgence_events(session, incident.id) == []
    # A negative post then is a comeback, and it is the one the timeline names.
    clock.advance(timedelta(minutes=10))
    story.post(1, author="财经老周")
    story.risk("II", 76.0)
    session.commit()
    session.refresh(incident)
    [ev] = resurgence_events(session, incident.id)
    assert incident.status == IncidentStatus.responding and "新增相关信息 1 条" in ev.text and "财经老周" in ev.text
