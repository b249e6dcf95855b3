"""合并事件 (incidents.merge) on SQLite and PostgreSQL: what moves, what stays readable, the level taken through the
lifecycle code, the timelines and audit, the refusals, the clocks and reminders of a merged case, and a later rise
of the merged case's story raising the case it joined."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from crawlers.models import Article, Story
from incidents import flows, queries, service
from incidents.errors import IncidentError
from incidents.merge import MERGED_IN, MERGED_INTO, find_incident, merge_incident, merged_into
from incidents.models import Alert, Incident, IncidentReport, Notification, TimelineEvent
from incidents.scheduled import run_deadline_notices
from sentiment.models import StoryRisk
from yuqing.models import AuditEntry


@pytest.fixture
def session(session_factory):
    with session_factory() as s:
        yield s


def open_case(session, org, policy, clock, *, unit_id: str, title: str, level: str) -> Incident:
    """What the pipeline leaves: a story, its risk, its alert and the incident opened for it."""
    now = clock.now()
    story = Story(title=title, unit_id=unit_id, first_seen_at=now, last_seen_at=now, article_count=1)
    session.add(story)
    session.flush()
    url = f"https://weibo.example/{story.id}"
    digest = hashlib.sha256(url.encode()).hexdigest()
    session.add(Article(source_id="weibo", channel="social", url=url, url_hash=digest, title=title, text=title,
                        fetched_at=now, published_at=now - timedelta(minutes=20), content_hash=digest,
                        story_id=story.id, stage="scored"))
    risk = StoryRisk(story_id=story.id, computed_at=now, score=70, level=level, category="withdrawal_bank_run",
                     factors={})
    session.add(risk)
    session.flush()
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    risk.handled_at = now
    assert out.incident_id is not None
    return session.get(Incident, out.incident_id)


def two_cases(session, org, policy, clock, *, a_level: str = "III", b_level: str = "II"):
    a = open_case(session, org, policy, clock, unit_id="xinhualu", title="示例银行新华路网点不让老人取钱",
                  level=a_level)
    clock.advance(timedelta(minutes=30))
    b = open_case(session, org, policy, clock, unit_id="guangminglu", title="光明路支行网点拒绝老人取款视频",
                  level=b_level)
    clock.advance(timedelta(minutes=10))
    return a, b


def merge(session, org, policy, clock, b, a, **kw):
    return merge_incident(session, incident_id=b.id, into_id=a.id, user_login=kw.get("user", "liuqiang"),
                          reason=kw.get("reason", "同一事件：网点拒付后家属发视频"), org=org, policy=policy,
                          clock=clock)


def test_merge_closes_b_moves_its_alert_and_raises_a_through_the_lifecycle(session, org, policy, clock):
    a, b = two_cases(session, org, policy, clock)
    b_alert = session.scalar(select(Alert).where(Alert.incident_id == b.id))
    a_alert = session.scalar(select(Alert).where(Alert.incident_id == a.id))
    b_tasks = [t.id for t in b.tasks]
    assert b_tasks and b_alert.status == "open"
    flows.file_report(session, incident_id=b.id, kind="initial", text="初报：核实中", user_login="liuqiang",
                      clock=clock)
    clock.advance(timedelta(minutes=5))
    now = clock.now()

    out = merge(session, org, policy, clock, b, a)
    session.commit()
    session.expire_all()
    a, b = session.get(Incident, a.id), session.get(Incident, b.id)

    assert out.id == a.id
    assert b.status == "merged" and b.closed_at == now and b.summary.startswith(f"已合并到事件 {a.number}")
    assert merged_into(b) == (a.id, a.number) and merged_into(a) is None
    # B's alert now belongs to A, acknowledged by the person who merged; A's own alert is untouched
    b_alert, a_alert = session.get(Alert, b_alert.id), session.get(Alert, a_alert.id)
    assert b_alert.incident_id == a.id and b_alert.status == "acknowledged" and b_alert.acknowledged_by == "liuqiang"
    assert a_alert.incident_id == a.id and a_alert.status == "open"
    # everything else of B stays on B: its story, tasks, report
    assert b.story_id is not None and [t.id for t in b.tasks] == b_tasks
    assert [r.kind for r in session.scalars(select(IncidentReport).where(IncidentReport.incident_id == b.id))] \
        == ["initial"]
    # A takes the higher level (II) through apply_level: a level_changed event with the re-plan and notifications
    assert a.level == "II"
    changed = [e for e in a.events if e.kind == "level_changed"]
    assert len(changed) == 1 and changed[0].data["from"] == "III" and changed[0].data["to"] == "II"
    assert changed[0].actor == "liuqiang" and b.number in changed[0].text
    assert session.scalar(select(Notification).where(Notification.incident_id == a.id,
                                                     Notification.purpose == "level_changed")) is not None
    assert queries.incident_facts(session, a).level == "II"  # the clocks follow the new level
    # both timelines, and the audit log with the actor
    into_ev = [e for e in b.events if e.kind == MERGED_INTO]
    in_ev = [e for e in a.events if e.kind == MERGED_IN]
    assert len(into_ev) == 1 and into_ev[0].data["into"] == a.id and a.number in into_ev[0].text
    assert len(in_ev) == 1 and in_ev[0].data["merged"] == b.id and b.number in in_ev[0].text
    assert into_ev[0].data["alerts_moved"] == [b_alert.id]
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "incident.merge")).one()
    assert audit.actor == "liuqiang" and audit.object_id == str(b.id) and audit.data["into"] == a.id


def test_a_lower_case_merged_in_leaves_the_level(session, org, policy, clock):
    a, b = two_cases(session, org, policy, clock, a_level="II", b_level="III")
    merge(session, org, policy, clock, b, a)
    assert a.level == "II" and not [e for e in a.events if e.kind == "level_changed"]
    assert b.status == "merged"


def test_refusals(session, org, policy, clock):
    a, b = two_cases(session, org, policy, clock)
    with pytest.raises(IncidentError) as err:
        merge(session, org, policy, clock, a, a)
    assert err.value.user_message == "不能把事件合并到它自己" and err.value.code == "bad_request"
    flows.acknowledge_incident(session, incident_id=a.id, user_login="liuqiang", clock=clock)
    flows.close_incident(session, incident_id=a.id, user_login="liuqiang", summary="已处置", clock=clock)
    with pytest.raises(IncidentError) as err:
        merge(session, org, policy, clock, b, a)
    assert err.value.user_message == f"目标事件 {a.number} 当前状态为“已结案”，只能合并到进行中的事件"
    assert b.status == "open"
    c = open_case(session, org, policy, clock, unit_id="binjianghuayuan", title="滨江花园网点排长队", level="III")
    merge(session, org, policy, clock, b, c)
    with pytest.raises(IncidentError) as err:  # a merged case is final: not merged again, nor into
        merge(session, org, policy, clock, b, c)
    assert "已合并" in err.value.user_message
    d = open_case(session, org, policy, clock, unit_id="xinhualu", title="新华路网点门口聚集", level="III")
    with pytest.raises(IncidentError) as err:
        merge(session, org, policy, clock, d, b)
    assert err.value.user_message == f"目标事件 {b.number} 当前状态为“已合并”，只能合并到进行中的事件"
    with pytest.raises(IncidentError):  # nothing else is allowed on it either
        flows.close_incident(session, incident_id=b.id, user_login="liuqiang", summary="x", clock=clock)
    with pytest.raises(IncidentError):
        flows.reopen_incident(session, incident_id=b.id, user_login="liuqiang", reason="x", clock=clock)


def test_find_incident_by_id_or_number(session, org, policy, clock):
    a, _ = two_cases(session, org, policy, clock)
    assert find_incident(session, a.id) is a and find_incident(session, str(a.id)) is a
    assert find_incident(session, f" {a.number.lower()} ") is a
    assert find_incident(session, "YQ-19990101-001") is None and find_incident(session, "") is None


def test_merged_case_owes_no_final_report_and_gets_no_reminders(session, org, policy, clock):
    a, b = two_cases(session, org, policy, clock)
    merge(session, org, policy, clock, b, a)
    session.commit()
    keys = {c.key for c in queries.incident_clocks(session, incident=b, policy=policy, clock=clock)}
    assert "final_report" not in keys and "review" not in keys
    clock.advance(timedelta(days=3))  # every deadline of both cases is long past
    run_deadline_notices(session, org=org, policy=policy, clock=clock)
    told = {e.incident_id for e in session.scalars(select(TimelineEvent).where(
        TimelineEvent.kind.in_(["deadline_overdue", "deadline_reminder"])))}
    assert a.id in told and b.id not in told


def test_a_later_rise_of_the_merged_story_raises_the_case_it_joined(session, org, policy, clock):
    a, b = two_cases(session, org, policy, clock, a_level="III", b_level="III")
    merge(session, org, policy, clock, b, a)
    clock.advance(timedelta(hours=1))
    risk = StoryRisk(story_id=b.story_id, computed_at=clock.now(), score=90, level="I",
                     category="withdrawal_bank_run", factors={})
    session.add(risk)
    session.flush()
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    assert out.incident_id == a.id and a.level == "I" and b.level == "III" and b.status == "merged"
