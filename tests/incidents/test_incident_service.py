"""Incident service scenarios against a real (temporary SQLite) database."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from incidents import flows, service
from incidents.errors import IncidentError
from incidents.models import Alert, Incident, Notification, Task, TimelineEvent
from yuqing.models import AuditEntry


def notifications(session, **where):
    q = select(Notification).order_by(Notification.id)
    for k, v in where.items():
        q = q.where(getattr(Notification, k) == v)
    return list(session.scalars(q))


def handle(session, risk, org, policy, clock):
    return service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)


def test_risk_rising_iii_ii_i_opens_one_incident_adds_tasks_and_notifies_each_person_once_per_level(
        session, org, policy, clock, make_story, make_risk):
    story = make_story(unit_id="xinhualu", channel="social")
    out = handle(session, make_risk(story=story, level="III", score=55), org, policy, clock)
    assert out.alert_created and out.incident_opened
    incident = session.get(Incident, out.incident_id)
    assert incident.number == "YQ-20261123-001"
    assert (incident.level, incident.playbook, incident.unit_id, incident.commander_id) == (
        "III", "viral_complaint", "xinhualu", "liuqiang")
    keys_iii = [t.key for t in incident.tasks]
    assert "preliminary_solution" not in keys_iii and "initial_report" in keys_iii
    owners = {t.key: t.owner_id for t in incident.tasks}
    assert owners["contact_complainant"] == "huangwei"  # the outlet's own liaison
    assert owners["preserve_evidence"] == "wangmin"
    opened = [e for e in incident.events if e.kind == "opened"]
    assert len(opened) == 1 and opened[0].data["factors"]["velocity"]["reason"] == "两小时内转发量增长十倍"
    alert = session.get(Alert, out.alert_id)
    assert alert.ack_due_at == clock.now() + timedelta(minutes=30)

    # Recomputed at the same level: nothing new.
    clock.advance(600)
    again = handle(session, make_risk(story=story, level="III", score=58), org, policy, clock)
    assert not again.alert_created and not again.incident_opened and again.notifications_queued == 0

    clock.advance(600)
    two = handle(session, make_risk(story=story, level="II", score=75), org, policy, clock)
    assert two.incident_level_change == ("III", "II") and two.incident_id == incident.id
    clock.advance(600)
    one = handle(session, make_risk(story=story, level="I", score=92), org, policy, clock)
    assert one.incident_level_change == ("II", "I")

    assert session.scalar(select(func.count()).select_from(Incident)) == 1
    assert session.scalar(select(func.count()).select_from(Alert)) == 1
    session.refresh(incident)
    assert incident.level == "I" and incident.peak_risk == 92
    keys = [t.key for t in incident.tasks]
    assert len(keys) == len(set(keys)) and "preliminary_solution" in keys
    changes = [(e.data["from"], e.data["to"]) for e in incident.events if e.kind == "level_changed"]
    assert changes == [("III", "II"), ("II", "I")]
    # A level-I 初报 is due one hour after the rise, earlier than the level-III 24 h.
    initial = next(t for t in incident.tasks if t.key == "initial_report")
    assert initial.due_at == clock.now() + timedelta(hours=1)

    rows = notifications(session)
    assert all(v == 1 for v in Counter((n.recipient_id, n.purpose, n.dedup_key.split(":")[3], n.channel)
                                       for n in rows).values()), "once per person, level and channel"
    sent = Counter((n.recipient_id, n.purpose, n.dedup_key.split(":")[3]) for n in rows if n.channel == "in_app")
    assert all(v == 1 for v in sent.values())
    # Level I tells leaders by phone too (leadership_by_phone): a call task per leader, at level I only.
    assert sorted((n.recipient_id, n.dedup_key.split(":")[3]) for n in rows if n.channel == "phone") == [
        ("chenjing", "I"), ("sunhua", "I")]
    by_person: dict[str, list[str]] = {}
    for (person, purpose, level), _ in sorted(sent.items()):
        by_person.setdefault(person, []).append(f"{purpose}:{level}")
    # Each level's reporting chain (config/levels.yaml). Before it, routing took the nearest holder of a role: the
    # outlet's liaison, the sub-branch's office and head office were never told, and the 行长 was told at level II.
    chain = ["incident_opened:III", "level_changed:I", "level_changed:II"]
    assert sorted(by_person["wangmin"]) == sorted(["alert:I", "alert:II", "alert:III", *chain])
    assert sorted(by_person["zhaolei"]) == sorted(["alert:I", "alert:II", "alert:III", *chain])
    assert sorted(by_person["liuqiang"]) == chain
    assert sorted(by_person["huangwei"]) == chain  # the outlet's own liaison
    assert sorted(by_person["zhoufang"]) == chain  # its sub-branch's general office
    assert sorted(by_person["chenjing"]) == ["level_changed:I", "level_changed:II"]  # 分管 leader from II
    assert sorted(by_person["sunhua"]) == ["level_changed:I"]  # the 行长 at I only
    assert sorted(by_person["yangfan"]) == ["level_changed:I"]  # head office at I only
    assert set(by_person) == {"wangmin", "zhaolei", "liuqiang", "huangwei", "zhoufang", "chenjing", "sunhua",
                              "yangfan"}
    # Email is off in the default channels.yaml; phone (level I leaders) is on: it creates a call task.
    assert {n.channel for n in notifications(session)} == {"in_app", "phone"}

    msg = notifications(session, recipient_id="chenjing", purpose="level_changed")[-1]
    assert "I级（特别重大）" in msg.subject and "示例银行江城分行新华路网点" in msg.subject
    assert "风险分值：92.0 / 100" in msg.body and "两小时内转发量增长十倍" in msg.body
    assert f"/incidents/{incident.id}" in msg.body and incident.number in msg.body
    first_alert = notifications(session, recipient_id="wangmin", purpose="alert")[0]
    assert first_alert.incident_id == incident.id and f"/incidents/{incident.id}" in first_alert.body
    assert "请于 2026-11-23 10:30（北京时间）前确认处理" in first_alert.body


def test_falling_risk_never_lowers_the_level(session, org, policy, clock, make_story, make_risk):
    story = make_story()
    handle(session, make_risk(story=story, level="II", score=80), org, policy, clock)
    clock.advance(3600)
    out = handle(session, make_risk(story=story, level="IV", score=20), org, policy, clock)
    alert = session.get(Alert, out.alert_id)
    incident = session.get(Incident, out.incident_id)
    assert (alert.level, incident.level) == ("II", "II")
    assert alert.risk_score == 20 and incident.peak_risk == 80
    out = handle(session, make_risk(story=story, level=None, score=5), org, policy, clock)
    assert session.get(Alert, out.alert_id).risk_score == 5 and out.notifications_queued == 0


def test_level_none_without_alert_does_nothing(session, org, policy, clock, make_story, make_risk):
    out = handle(session, make_risk(story=make_story(), level=None, score=10), org, policy, clock)
    assert out.alert_id is None and session.scalar(select(func.count()).select_from(Alert)) == 0


def test_incident_numbers_count_per_shanghai_day(session, org, policy, clock, make_story, make_risk):
    a = handle(session, make_risk(story=make_story(), level="III"), org, policy, clock)
    b = handle(session, make_risk(story=make_story(unit_id="binjiang"), level="II"), org, policy, clock)
    clock.set(datetime(2026, 11, 23, 16, 30, tzinfo=UTC))  # 00:30 on the 24th in Shanghai
    c = handle(session, make_risk(story=make_story(unit_id=None), level="I"), org, policy, clock)
    numbers = [session.get(Incident, o.incident_id).number for o in (a, b, c)]
    assert numbers == ["YQ-20261123-001", "YQ-20261123-002", "YQ-20261124-001"]
    assert session.get(Incident, c.incident_id).unit_id == "head-office"  # a story naming no unit


def test_level_iv_is_alert_only_and_can_be_opened_by_hand(session, org, policy, clock, make_story, make_risk):
    out = handle(session, make_risk(story=make_story(), level="IV", score=30), org, policy, clock)
    assert out.alert_id and out.incident_id is None
    assert session.scalar(select(func.count()).select_from(Incident)) == 0
    assert {n.recipient_id for n in notifications(session)} == {"wangmin", "zhaolei"}
    assert "/alerts#alert-" in notifications(session)[0].body

    clock.advance(300)
    incident = service.open_incident_from_alert(session, alert_id=out.alert_id, user_login="wangmin", org=org,
                                                policy=policy, clock=clock)
    assert incident.level == "IV" and incident.acknowledged_at == clock.now()
    alert = session.get(Alert, out.alert_id)
    assert (alert.status, alert.acknowledged_by, alert.incident_id) == ("acknowledged", "wangmin", incident.id)
    resolve = next(t for t in incident.tasks if t.key == "resolve_case")
    assert resolve.due_at == datetime(2026, 11, 26, 2, 5, tzinfo=UTC)  # 3 working days (seed 004, 一般投诉)
    assert incident.events[0].actor == "wangmin"
    with pytest.raises(IncidentError) as err:
        service.open_incident_from_alert(session, alert_id=out.alert_id, user_login="wangmin", org=org,
                                         policy=policy, clock=clock)
    assert incident.number in err.value.user_message
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "incident.open")).actor == "wangmin"


def test_level_iv_rising_to_iii_opens_the_incident_automatically(session, org, policy, clock, make_story,
                                                                 make_risk):
    story = make_story()
    handle(session, make_risk(story=story, level="IV", score=30), org, policy, clock)
    clock.advance(1800)
    out = handle(session, make_risk(story=story, level="III", score=50), org, policy, clock)
    assert out.incident_opened and out.alert_level_change == ("IV", "III")
    assert session.get(Incident, out.incident_id).level == "III"


def test_acknowledge_stops_escalation(session, org, policy, clock, make_story, make_risk):
    out = handle(session, make_risk(story=make_story(), level="III"), org, policy, clock)
    clock.advance(600)
    service.acknowledge_alert(session, alert_id=out.alert_id, user_login="wangmin", clock=clock)
    assert session.get(Incident, out.incident_id).acknowledged_at == clock.now()
    clock.advance(timedelta(hours=3))
    assert service.run_escalations(session, org=org, policy=policy, clock=clock) == 0
    assert notifications(session, purpose="escalation") == []
    with pytest.raises(IncidentError) as err:
        service.acknowledge_alert(session, alert_id=out.alert_id, user_login="zhaolei", clock=clock)
    assert "wangmin" in err.value.user_message and "确认" in err.value.user_message


def test_escalation_after_ack_deadline_goes_to_the_next_person_and_is_idempotent(
        session, org, policy, clock, make_story, make_risk):
    out = handle(session, make_risk(story=make_story(), level="III"), org, policy, clock)
    alert = session.get(Alert, out.alert_id)
    assert [s["people"] for s in alert.escalation_chain] == [["wangmin", "zhaolei"], ["liuqiang"],
                                                              ["chenjing", "sunhua"]]
    clock.advance(timedelta(minutes=29))
    assert service.run_escalations(session, org=org, policy=policy, clock=clock) == 0

    clock.advance(timedelta(minutes=2))
    assert service.run_escalations(session, org=org, policy=policy, clock=clock) == 1
    assert service.run_escalations(session, org=org, policy=policy, clock=clock) == 0  # same moment: nothing new
    esc = notifications(session, purpose="escalation")
    assert [n.recipient_id for n in esc] == ["liuqiang"]
    assert "超过确认时限" in esc[0].body and alert.escalation_step == 1
    assert alert.ack_due_at == clock.now() + timedelta(minutes=30)

    clock.advance(timedelta(minutes=31))
    assert service.run_escalations(session, org=org, policy=policy, clock=clock) == 1
    assert sorted(n.recipient_id for n in notifications(session, purpose="escalation")) == [
        "chenjing", "liuqiang", "sunhua"]
    clock.advance(timedelta(hours=2))
    assert service.run_escalations(session, org=org, policy=policy, clock=clock) == 0  # end of the chain
    events = [e for e in session.get(Incident, out.incident_id).events if e.kind == "escalated"]
    assert [e.data["step"] for e in events] == [1, 2]

    # Someone finally acknowledges: escalation messages not yet delivered are cancelled.
    service.acknowledge_alert(session, alert_id=alert.id, user_login="liuqiang", clock=clock)
    assert {n.status for n in notifications(session, purpose="escalation")} == {"cancelled"}
    assert {n.status for n in notifications(session, purpose="alert")} == {"pending"}


def test_state_transition_errors(session, org, policy, clock, make_story, make_risk):
    out = handle(session, make_risk(story=make_story(), level="II", score=80), org, policy, clock)
    incident = session.get(Incident, out.incident_id)
    task = incident.tasks[0]
    flows.complete_task(session, task_id=task.id, user_login="huangwei", clock=clock, note="已电话核实")
    with pytest.raises(IncidentError) as err:
        flows.complete_task(session, task_id=task.id, user_login="huangwei", clock=clock)
    assert task.title in err.value.user_message

    with pytest.raises(IncidentError) as err:
        flows.change_level(session, incident_id=incident.id, new_level="IV", reason="", user_login="liuqiang",
                           org=org, policy=policy, clock=clock)
    assert err.value.user_message == "调整事件等级必须填写原因"
    with pytest.raises(IncidentError) as err:
        flows.change_level(session, incident_id=incident.id, new_level="II", reason="x", user_login="liuqiang",
                           org=org, policy=policy, clock=clock)
    assert err.value.user_message == "事件已是II级（重大）"
    with pytest.raises(IncidentError) as err:
        flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary=" ", clock=clock)
    assert err.value.user_message == "结案需要填写处置小结"
    with pytest.raises(IncidentError) as err:
        flows.file_report(session, incident_id=incident.id, kind="final", text="终报", user_login="liuqiang",
                          clock=clock)
    assert err.value.user_message == "终报须在事件结案后、复盘前报送"

    with pytest.raises(IncidentError) as err:  # nobody has acknowledged it yet
        flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary="已处置", clock=clock)
    assert err.value.user_message == "事件当前状态为“待确认”，不能结案（仅限：已确认、处置中、持续监测）"
    clock.advance(timedelta(hours=6))
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="liuqiang", clock=clock)
    flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary="已妥善处置", clock=clock)
    with pytest.raises(IncidentError) as err:
        flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary="再次", clock=clock)
    assert incident.number in err.value.user_message
    with pytest.raises(IncidentError) as err:
        flows.change_level(session, incident_id=incident.id, new_level="I", reason="媒体跟进", user_login="liuqiang",
                           org=org, policy=policy, clock=clock)
    assert err.value.user_message == "事件已结案，不能调整等级"
    with pytest.raises(IncidentError) as err:
        flows.complete_task(session, task_id=999999, user_login="x", clock=clock)
    assert err.value.code == "not_found" and "不存在" in err.value.user_message
    actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert "task.complete" in actions and "incident.close" in actions
    kinds = [e.kind for e in incident.events]
    assert "task_done" in kinds and "closed" in kinds


def test_manual_lowering_is_logged_and_respected_by_automation(session, org, policy, clock, make_story, make_risk):
    story = make_story()
    out = handle(session, make_risk(story=story, level="I", score=90), org, policy, clock)
    clock.advance(timedelta(hours=3))
    before = len(notifications(session))
    flows.change_level(session, incident_id=out.incident_id, new_level="III", reason="已澄清，传播明显回落",
                       user_login="liuqiang", org=org, policy=policy, clock=clock)
    incident = session.get(Incident, out.incident_id)
    ev = [e for e in incident.events if e.kind == "level_changed"][-1]
    assert {k: ev.data[k] for k in ("from", "to", "reason", "direction", "tasks_added")} == {
        "from": "I", "to": "III", "reason": "已澄清，传播明显回落", "direction": "down", "tasks_added": []}
    assert ev.actor == "liuqiang" and len(notifications(session)) == before
    # The risk model still says I: that is not a rise, so the person's decision stands.
    clock.advance(600)
    handle(session, make_risk(story=story, level="I", score=91), org, policy, clock)
    assert session.get(Incident, out.incident_id).level == "III"
    # Raising by hand again needs a reason too (the timeline says why) and notifies the level's roles.
    flows.change_level(session, incident_id=out.incident_id, new_level="II", reason="评论区出现挤兑言论",
                       user_login="liuqiang", org=org, policy=policy, clock=clock)
    assert incident.level == "II"


def test_dismissal_is_stored_for_learning_and_a_higher_level_reopens(session, org, policy, clock, make_story,
                                                                       make_risk):
    story = make_story()
    out = handle(session, make_risk(story=story, level="IV", score=25), org, policy, clock)
    with pytest.raises(IncidentError):
        service.dismiss_alert(session, alert_id=out.alert_id, user_login="wangmin", reason="", clock=clock)
    service.dismiss_alert(session, alert_id=out.alert_id, user_login="wangmin", reason="同名企业，非本行", clock=clock)
    alert = session.get(Alert, out.alert_id)
    assert (alert.status, alert.dismissed_reason, alert.dismissed_by) == ("dismissed", "同名企业，非本行", "wangmin")
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "alert.dismiss"))
    assert audit.data["story_id"] == story.id and audit.data["category"] == "service_attitude"
    assert {n.status for n in notifications(session)} == {"cancelled"}

    clock.advance(600)
    same = handle(session, make_risk(story=story, level="IV", score=28), org, policy, clock)
    assert same.incident_id is None and alert.status == "dismissed"
    clock.advance(600)
    up = handle(session, make_risk(story=story, level="II", score=78), org, policy, clock)
    assert alert.status == "open" and up.incident_opened


def test_dismissing_an_alert_with_an_open_incident_is_refused(session, org, policy, clock, make_story, make_risk):
    out = handle(session, make_risk(story=make_story(), level="III"), org, policy, clock)
    with pytest.raises(IncidentError) as err:
        service.dismiss_alert(session, alert_id=out.alert_id, user_login="wangmin", reason="误报", clock=clock)
    assert "YQ-" in err.value.user_message


def test_a_filed_initial_report_stops_its_clock_and_completes_its_task(session, org, policy, clock, make_story,
                                                                      make_risk):
    out = handle(session, make_risk(story=make_story(), level="II", score=80), org, policy, clock)
    incident = session.get(Incident, out.incident_id)
    clocks = {c.key: c for c in service.incident_clocks(session, incident=incident, policy=policy, clock=clock)}
    assert clocks["initial_report"].due_at == clock.now() + timedelta(hours=2)
    clock.advance(timedelta(minutes=90))
    task = next(t for t in incident.tasks if t.key == "initial_report")
    with pytest.raises(IncidentError) as err:  # ticking the box is not filing the report
        flows.complete_task(session, task_id=task.id, user_login="liuqiang", clock=clock)
    assert err.value.user_message == "请通过“报送报告”提交初报正文，提交后此任务自动完成"
    flows.file_report(session, incident_id=incident.id, kind="initial", text="初报：网点排队已疏导。",
                      user_login="liuqiang", clock=clock)
    assert task.status == "done" and task.done_by == "liuqiang"
    clocks = {c.key: c for c in service.incident_clocks(session, incident=incident, policy=policy, clock=clock)}
    assert clocks["initial_report"].status == "done"
    assert clocks["update_report"].due_at == clock.now() + timedelta(hours=4)
    assert clocks["ack"].status == "overdue"


def test_crawled_title_cannot_break_the_subject_line(session, org, policy, clock, make_story, make_risk):
    story = make_story(title="示例银行<script>alert(1)</script>\r\nBcc: victim@example.com 乱收费")
    handle(session, make_risk(story=story, level="IV"), org, policy, clock)
    n = notifications(session)[0]
    assert "\n" not in n.subject and "\r" not in n.subject
    assert "<script>" in n.body  # stored as plain text; the dashboard escapes at render time


def test_queries_filter_by_status_and_unit(session, org, policy, clock, make_story, make_risk):
    a = handle(session, make_risk(story=make_story(unit_id="xinhualu"), level="III"), org, policy, clock)
    handle(session, make_risk(story=make_story(unit_id="binjiang"), level="II"), org, policy, clock)
    handle(session, make_risk(story=make_story(unit_id="kejiyuan"), level="IV"), org, policy, clock)
    assert len(service.list_incidents(session)) == 2
    assert [i.id for i in service.list_incidents(session, unit_ids=["xinhualu"])] == [a.incident_id]
    assert service.list_incidents(session, status="closed") == []
    assert len(service.list_alerts(session, status="open")) == 3
    assert service.get_incident(session, incident_id=a.incident_id).number.startswith("YQ-")
    inbox = service.list_notifications(session, recipient_id="wangmin")
    assert len(inbox) == 5  # three alerts, and the two incidents' reporting chains (the branch's duty desk)
    service.mark_notification_read(session, notification_id=inbox[0].id, recipient_id="wangmin", clock=clock)
    assert len(service.list_notifications(session, recipient_id="wangmin", unread_only=True)) == 4
    with pytest.raises(IncidentError):
        service.mark_notification_read(session, notification_id=inbox[0].id, recipient_id="zhaolei", clock=clock)
    assert session.scalar(select(func.count()).select_from(Task)) > 0
    assert session.scalar(select(func.count()).select_from(TimelineEvent)) >= 2
