"""A complaint linked to (or raising) an incident is one case: the incident shows the complaint and its clocks, and
gets the complaint steps with deadlines counted from the complaint's receipt, ticked by the complaint's record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

import incidents.playbooks  # noqa: F401  (first: incidents.service must not start its own import cycle)
from crawlers.models import Article
from incidents import scheduled
from incidents.complaints import flows, links
from incidents.complaints.clocks import deadlines
from incidents.complaints.flows import ComplaintError
from incidents.complaints.models import ComplaintEvent
from incidents.models import Alert, Incident, Notification, TimelineEvent
from incidents.playbooks import applied_of
from tests.complaints.support import enter, local, real_policy
from tests.incidents.cases import open_case
from yuqing.clock import FrozenClock

POLICY = real_policy()


def tasks(incident: Incident) -> dict[str, object]:
    return {t.key: t for t in incident.tasks}


def test_linking_gives_a_rumour_incident_the_complaint_steps_counted_from_receipt(session_factory, org):
    clock = FrozenClock(local(2026, 11, 24, 9, 0))
    with session_factory() as s:
        incident_id = open_case(s, org, POLICY, clock, level="II", score=70)  # 挤兑传闻 on Weibo: no complaint steps
        s.commit()
        assert "contact_complainant" not in tasks(s.get(Incident, incident_id))
        # the customer had complained at the counter the afternoon before
        c = enter(s, org=org, policy=POLICY, clock=clock, severity="重要", received=local(2026, 11, 23, 15, 20))
        links.link_incident(s, c.id, incident_id, actor="liuqiang", clock=clock, org=org, policy=POLICY)
        s.commit()
        incident = s.get(Incident, incident_id)
        due = deadlines(c.received_at, c.severity, POLICY.complaints, tz=POLICY.timezone)
        t = tasks(incident)
        assert "viral_complaint" in [a.playbook_id for a in applied_of(s, incident)]
        assert t["contact_complainant"].due_at == due["contact"]  # 25 Nov 15:20, not 48 h from the opening
        assert t["resolve_case"].due_at == due["resolve"]  # 5 working days (重要)
        assert t["register_complaint"].status == "done" and "已登记投诉" in t["register_complaint"].note
        assert "起算" in t["contact_complainant"].note
        kinds = [e.kind for e in incident.events]
        assert "complaint_linked" in kinds and "playbook_added" in kinds
        assert any(e.kind == "incident_linked" for e in c.events)
        # linking again changes nothing; another incident is refused (one complaint, one case)
        links.link_incident(s, c.id, incident_id, actor="liuqiang", clock=clock, org=org, policy=POLICY)
        other = open_case(s, org, POLICY, clock, level="III", score=40)
        with pytest.raises(ComplaintError) as err:
            links.link_incident(s, c.id, other, actor="liuqiang", clock=clock, org=org, policy=POLICY)
        assert err.value.code == "conflict" and "已关联事件" in err.value.zh
        s.rollback()

        # the incident page's query: the complaint and its clocks, no customer details
        shown = links.incident_complaints(s, incident_id, policy=POLICY, now=clock.now())
        assert [x["number"] for x in shown] == [c.number]
        assert [k["key"] for k in shown[0]["clocks"]] == ["entry", "contact", "resolve", "reply"]
        assert shown[0]["clocks"][1]["due"] == local(2026, 11, 25, 15, 20)
        assert "张三" not in str(shown) and "13912345678" not in str(shown)

        # the complaint's record ticks the step on the next scheduled round
        clock.advance(timedelta(hours=3))
        flows.record_contact(s, c.id, actor="huangwei", clock=clock, how="电话")
        s.commit()
    with session_factory() as s:
        scheduled.run_scheduled(s, org=org, policy=POLICY, clock=clock)
        s.commit()
        t = tasks(s.get(Incident, incident_id))
        assert t["contact_complainant"].status == "done" and t["contact_complainant"].done_by == "huangwei"


def test_an_urgent_complaint_raises_an_incident_through_the_normal_opening(session_factory, org):
    clock = FrozenClock(local(2026, 11, 24, 10, 0))
    with session_factory() as s:
        c = enter(s, org=org, policy=POLICY, clock=clock, severity="紧急", received=local(2026, 11, 24, 9, 40),
                  category="opaque_fees", text="理财到期无法赎回，客户在大堂拉横幅")
        incident = links.raise_incident(s, c.id, actor="liuqiang", clock=clock, org=org, policy=POLICY)
        s.commit()
        assert incident.level == "II" and c.incident_id == incident.id  # incident_levels: 紧急 → II
        alert = s.scalar(select(Alert).where(Alert.incident_id == incident.id))
        article = s.scalar(select(Article).where(Article.story_id == alert.story_id))
        # an internal report, never pretending it was crawled
        assert article.source_id == "internal_report" and article.url.startswith("internal://complaint/")
        assert article.meta["internal_report"] is True and article.channel == "complaint"
        t = tasks(incident)
        due = deadlines(c.received_at, "urgent", POLICY.complaints, tz=POLICY.timezone)
        assert t["contact_complainant"].due_at == due["contact"]
        assert t["preliminary_solution"].due_at == due["resolve"]  # 24 h from receipt, 25 Nov 09:40
        # the level's reporting chain was told through the outbox
        told = {n.recipient_id for n in s.scalars(select(Notification).where(
            Notification.incident_id == incident.id, Notification.purpose == "incident_opened"))}
        assert {"liuqiang", "chenjing"} <= told
        assert any(e.kind == "incident_linked" for e in s.scalars(select(ComplaintEvent)))
        with pytest.raises(ComplaintError):
            links.raise_incident(s, c.id, actor="liuqiang", clock=clock, org=org, policy=POLICY)


def test_a_general_complaint_raises_an_incident_even_where_the_level_only_alerts(session_factory, org):
    clock = FrozenClock(local(2026, 11, 24, 10, 0))
    with session_factory() as s:
        c = enter(s, org=org, policy=POLICY, clock=clock, received=local(2026, 11, 24, 9, 0))
        incident = links.raise_incident(s, c.id, actor="wangmin", clock=clock, org=org, policy=POLICY)
        s.commit()
        assert incident.level == "IV"  # level IV alerts only; raising a complaint opens the case by hand
        alert = s.scalar(select(Alert).where(Alert.incident_id == incident.id))
        assert alert.status == "acknowledged" and alert.acknowledged_by == "wangmin"
        opened = s.scalar(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id,
                                                      TimelineEvent.kind == "opened"))
        assert opened.actor == "wangmin"


def test_the_incident_page_and_api_show_the_linked_complaint_and_its_clocks(session, users, bearer, login_as, org,
                                                                            clock):
    incident_id = open_case(session, org, POLICY, clock, level="II", score=70)
    c = enter(session, org=org, policy=POLICY, clock=clock, severity="重要", received=clock.now() - timedelta(hours=2))
    links.link_incident(session, c.id, incident_id, actor="liuqiang", clock=clock, org=org, policy=POLICY)
    session.commit()
    shown = bearer("liuqiang").get(f"/api/v1/incidents/{incident_id}")
    assert shown.status_code == 200, shown.text
    [linked] = shown.json()["complaints"]
    assert (linked["number"], linked["severity_label"]) == (c.number, "重要")
    assert [k["key"] for k in linked["clocks"]] == ["entry", "contact", "resolve", "reply"]
    assert linked["clocks"][0]["state"] == "met" and linked["clocks"][1]["state"] == "running"
    page = login_as("liuqiang").get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    assert "关联投诉" in page.text and f'href="/complaints/{c.id}"' in page.text and "联系客户" in page.text
    assert "张三" not in page.text and "13912345678" not in page.text  # no customer details on the incident page
