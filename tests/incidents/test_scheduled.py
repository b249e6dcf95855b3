"""Scheduled jobs (incidents/scheduled.py): reminders before a task or reporting clock is due, escalation when it
is overdue (owner → commander → leader in charge, level IV stopping before leaders), quiet hours that levels I–II
ignore, and reporting-chain groups that miss their acknowledgement deadline — each notice once, across restarts."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents import acks, flows, scheduled, service
from incidents.deadline_notices import DeadlineNotice
from incidents.models import Alert, Incident, Notification, TimelineEvent
from incidents.policy import load_policy
from yuqing.errors import ConfigError
from yuqing.models import AuditEntry

CONFIG = Path(__file__).resolve().parents[2] / "config"
LEADERS = {"chenjing", "sunhua"}


def open_case(session, org, policy, clock, make_story, make_risk, *, level: str = "III", unit_id: str = "xinhualu",
              title: str = "示例银行新华路网点服务态度差被投诉") -> Incident:
    story = make_story(unit_id=unit_id, title=title)
    out = service.handle_story_risk(session, story_risk=make_risk(story=story, level=level), org=org, policy=policy,
                                    clock=clock)
    if out.incident_id is None:  # level IV opens no incident by itself: the duty desk opens it by hand
        return service.open_incident_from_alert(session, alert_id=out.alert_id, user_login="wangmin", org=org,
                                                policy=policy, clock=clock)
    return session.get(Incident, out.incident_id)


def notices(session, incident: Incident, purpose: str) -> list[Notification]:
    """The in-app rows of one kind of notice about the incident, oldest first."""
    return list(session.scalars(select(Notification).where(
        Notification.incident_id == incident.id, Notification.purpose == purpose, Notification.channel == "in_app")
        .order_by(Notification.id)))


def about(rows: list[Notification], words: str) -> list[str]:
    """Recipients of the rows whose subject mentions ``words``."""
    return [n.recipient_id for n in rows if words in n.subject]


def events(incident: Incident, kind: str) -> list[TimelineEvent]:
    return [e for e in incident.events if e.kind == kind]


def task(incident: Incident, key: str):
    return next(t for t in incident.tasks if t.key == key)


def deadline_notices(session, clock, *, org, policy) -> int:
    return scheduled.run_deadline_notices(session, org=org, policy=policy, clock=clock)


# --- reminders ----------------------------------------------------------------------------------------------------

def test_a_task_is_reminded_once_before_it_is_due_naming_the_incident_and_local_deadline(
        session, org, policy, clock, make_story, make_risk):
    case = open_case(session, org, policy, clock, make_story, make_risk)
    evidence = task(case, "preserve_evidence")  # level III: due in 2 h, by the duty desk
    assert evidence.due_at == clock.now() + timedelta(hours=2)
    # 120 minutes before would be the opening itself: the reminder comes at half the span instead.
    clock.advance(timedelta(minutes=59))
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "reminder"), "保全证据") == []
    clock.advance(timedelta(minutes=2))
    deadline_notices(session, clock, org=org, policy=policy)
    rows = notices(session, case, "reminder")
    assert about(rows, "保全证据") == ["wangmin", "zhaolei"]  # the owner and the rest of the duty desk
    body = next(n.body for n in rows if "保全证据" in n.subject)
    assert case.number in rows[0].subject and f"事件编号：{case.number}" in body
    assert "将于 2026-11-23 12:00（北京时间）到期" in body and "处理链接：/incidents/" in body
    [ev] = events(case, "deadline_reminder")
    assert "保全证据" in ev.text and "王敏、赵磊" in ev.text
    # Once: later rounds before the deadline add nothing.
    for _ in range(3):
        clock.advance(timedelta(minutes=15))
        deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "reminder"), "保全证据") == ["wangmin", "zhaolei"]
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "deadline.remind")) is not None


def test_done_and_not_applicable_tasks_are_never_reminded_or_escalated(session, org, policy, clock, make_story,
                                                                       make_risk):
    case = open_case(session, org, policy, clock, make_story, make_risk)
    flows.complete_task(session, task_id=task(case, "preserve_evidence").id, user_login="wangmin", clock=clock)
    flows.mark_task_not_applicable(session, task_id=task(case, "similar_complaints").id, user_login="liuqiang",
                                   reason="无同类投诉", clock=clock)
    for _ in range(30):  # 30 hours: past both deadlines
        clock.advance(timedelta(hours=1))
        deadline_notices(session, clock, org=org, policy=policy)
    told = [n.subject for p in ("reminder", "overdue") for n in notices(session, case, p)]
    assert told, "other tasks were reminded"
    assert not [s for s in told if "保全证据" in s or "同类" in s]


# --- overdue escalation -------------------------------------------------------------------------------------------

def test_an_overdue_task_goes_to_its_owner_then_the_commander_then_the_leader_in_charge(
        session, org, policy, clock, make_story, make_risk):
    case = open_case(session, org, policy, clock, make_story, make_risk)
    due = task(case, "preserve_evidence").due_at
    clock.set(due)
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "overdue"), "保全证据") == ["wangmin", "zhaolei"]
    clock.advance(timedelta(minutes=119))  # level III waits 120 minutes between steps
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "overdue"), "保全证据") == ["wangmin", "zhaolei"]
    clock.advance(timedelta(minutes=1))
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "overdue"), "保全证据") == ["wangmin", "zhaolei", "liuqiang"]
    clock.advance(timedelta(hours=2))
    deadline_notices(session, clock, org=org, policy=policy)
    # The 分管 leader, not the president: the branch leader in charge.
    assert about(notices(session, case, "overdue"), "保全证据") == ["wangmin", "zhaolei", "liuqiang", "chenjing"]
    for _ in range(5):  # the end of the chain: nothing more
        clock.advance(timedelta(hours=2))
        deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "overdue"), "保全证据") == ["wangmin", "zhaolei", "liuqiang", "chenjing"]
    steps = [e.text for e in events(case, "deadline_overdue") if "保全证据" in e.text]
    evidence = "任务“保全证据：核对帖子的系统截图与原始网页、导出证据包并记录首发来源”（截止 2026-11-23 12:00）"
    assert steps == [f"已超时：{evidence}未完成，已提醒负责人：王敏、赵磊",
                     f"已超时：{evidence}仍未完成，已上报应急处置负责人：刘强",
                     f"已超时：{evidence}仍未完成，已上报分管行领导：陈静"]
    body = about_body(notices(session, case, "overdue"), "chenjing", "保全证据")
    assert "已告知负责人（王敏、赵磊）、应急处置负责人（刘强），仍未完成，现上报给您（分管行领导）" in body
    audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "deadline.escalate")).all()
    assert any("leader" in a.detail for a in audits)


def about_body(rows: list[Notification], recipient: str, words: str) -> str:
    return next(n.body for n in rows if n.recipient_id == recipient and words in n.subject)


def test_an_overdue_clock_goes_to_the_commander_then_the_leader(session, org, policy, clock, make_story, make_risk):
    case = open_case(session, org, policy, clock, make_story, make_risk)
    # Level III: leadership hears in the daily report (09:00 the next day); no checklist step stands for it.
    clock.set(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "overdue"), "报告分行领导") == ["liuqiang"]
    clock.advance(timedelta(hours=2))
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "overdue"), "报告分行领导") == ["liuqiang", "chenjing"]  # no commander step:
    # the commander owns it, so the next step up is the leader in charge.


def test_level_iv_never_reaches_a_leader(session, org, policy, clock, make_story, make_risk):
    case = open_case(session, org, policy, clock, make_story, make_risk, level="IV")
    assert case.level == "IV"
    for _ in range(24 * 4):
        clock.advance(timedelta(hours=1))
        scheduled.run_scheduled(session, org=org, policy=policy, clock=clock)
    overdue = notices(session, case, "overdue")
    told = {n.recipient_id for n in overdue}
    assert "liuqiang" in told  # the chain does go up: to the commander
    everyone = set(session.scalars(select(Notification.recipient_id).where(Notification.incident_id == case.id)))
    assert not everyone & LEADERS


# --- quiet hours --------------------------------------------------------------------------------------------------

def local(day: int, hh: int, mm: int = 0) -> datetime:
    """Asia/Shanghai wall time on 2026-11-``day``, as UTC."""
    return datetime(2026, 11, day, hh, mm, tzinfo=UTC) - timedelta(hours=8)


def test_quiet_hours_defer_a_level_iii_reminder_to_their_end_and_do_not_defer_a_level_i_one(
        session, org, policy, clock, make_story, make_risk):
    clock.set(local(23, 20))
    three = open_case(session, org, policy, clock, make_story, make_risk, level="III")
    clock.set(local(23, 21, 1))
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, three, "reminder"), "保全证据")  # 21:00 is not quiet yet
    clock.set(local(23, 22, 1))  # its deadline passes at 22:00, inside quiet hours (22:00–07:30)
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, three, "overdue"), "保全证据") == []

    clock.set(local(23, 23))
    one = open_case(session, org, policy, clock, make_story, make_risk, level="I", unit_id="binjianghuayuan",
                    title="示例银行滨江花园网点排长队")
    clock.set(local(23, 23, 21))  # level I: evidence due at 23:30, reminded 10 minutes before, at night all the same
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, one, "reminder"), "保全证据") == ["wangmin", "zhaolei"]

    # The level III leadership clock (the 09:00 daily report) is reminded 120 minutes before: 07:00, still quiet.
    clock.set(local(24, 7))
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, three, "reminder"), "报告分行领导") == []
    assert about(notices(session, three, "overdue"), "保全证据") == []
    clock.set(local(24, 7, 30))  # quiet hours end: deferred, not dropped
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, three, "reminder"), "报告分行领导") == ["liuqiang"]
    assert about(notices(session, three, "overdue"), "保全证据") == ["wangmin", "zhaolei"]
    texts = [e.text for e in events(three, "deadline_reminder") + events(three, "deadline_overdue")]
    assert any("报告分行领导" in t and "（夜间安静时段顺延）" in t for t in texts)
    assert any("保全证据" in t and "未完成" in t and "（夜间安静时段顺延）" in t for t in texts)


def test_quiet_hours_hold_a_level_iii_alert_escalation_but_not_a_level_i_one(session, org, policy, clock,
                                                                             make_story, make_risk):
    clock.set(local(23, 21, 45))
    three = service.handle_story_risk(session, story_risk=make_risk(story=make_story(), level="III"), org=org,
                                      policy=policy, clock=clock)
    clock.set(local(23, 22, 30))
    one = service.handle_story_risk(session, story_risk=make_risk(
        story=make_story(unit_id="binjianghuayuan", title="示例银行滨江花园网点排长队"), level="I"), org=org,
        policy=policy, clock=clock)
    clock.set(local(23, 22, 36))  # both past their acknowledgement deadline (22:15 and 22:35)
    assert scheduled.run_escalations(session, org=org, policy=policy, clock=clock) == 1
    assert session.get(Alert, one.alert_id).escalation_step == 1
    assert session.get(Alert, three.alert_id).escalation_step == 0
    clock.set(local(24, 7, 29))
    scheduled.run_escalations(session, org=org, policy=policy, clock=clock)
    assert session.get(Alert, three.alert_id).escalation_step == 0
    clock.set(local(24, 7, 30))
    scheduled.run_escalations(session, org=org, policy=policy, clock=clock)
    assert session.get(Alert, three.alert_id).escalation_step == 1


def test_quiet_hours_cross_midnight_and_end_in_local_time(policy):
    lf = policy.levels_file
    assert lf.quiet_until("III", local(23, 21, 59)) is None
    assert lf.quiet_until("III", local(23, 22)) == local(24, 7, 30)
    assert lf.quiet_until("IV", local(24, 3)) == local(24, 7, 30)
    assert lf.quiet_until("III", local(24, 7, 30)) is None
    assert lf.quiet_until("I", local(24, 3)) is None and lf.quiet_until("II", local(24, 3)) is None


# --- reporting-chain groups ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("leader_acknowledges", [False, True])
def test_a_group_that_misses_its_acknowledgement_deadline_is_reminded_and_escalated(
        session, org, policy, clock, make_story, make_risk, leader_acknowledges):
    case = open_case(session, org, policy, clock, make_story, make_risk, level="II")
    opened = clock.now()
    clock.advance(timedelta(minutes=5))
    flows.acknowledge_incident(session, incident_id=case.id, user_login="wangmin", clock=clock)  # the duty desk
    clock.advance(timedelta(minutes=5))
    message = notices(session, case, "incident_opened")
    mine = next(n for n in message if n.recipient_id == "liuqiang")
    acks.record_acknowledgement(session, notification=mine, person=org.person("liuqiang"), via="inbox",
                                now=clock.now(), outcome="received")  # the commander, from his inbox

    clock.set(opened + timedelta(minutes=16))  # level II groups: 15 minutes; the 分管 leader: 30
    assert scheduled.run_group_escalations(session, org=org, policy=policy, clock=clock) == 2
    rows = notices(session, case, "group_unacknowledged")
    assert sorted(n.recipient_id for n in rows) == ["huangwei", "liuqiang", "zhoufang"]
    up = next(n for n in rows if n.recipient_id == "liuqiang")
    assert "涉事单位联络人" in up.body and "上级支行综合管理部" in up.body and "现上报给您" in up.body
    assert "请确认" in next(n for n in rows if n.recipient_id == "huangwei").body
    [ev] = events(case, "group_unacknowledged")
    assert "涉事单位联络人（黄伟" in ev.text and "上级支行综合管理部（周芳" in ev.text and "上报刘强" in ev.text
    assert "分行综合管理部值班" not in ev.text and "应急处置负责人（" not in ev.text  # they acknowledged
    assert scheduled.run_group_escalations(session, org=org, policy=policy, clock=clock) == 0  # once

    if leader_acknowledges:
        clock.set(opened + timedelta(minutes=20))
        flows.acknowledge_as_leader(session, incident_id=case.id, user_login="chenjing", clock=clock)
    clock.set(opened + timedelta(minutes=31))
    escalated = scheduled.run_group_escalations(session, org=org, policy=policy, clock=clock)
    rows = notices(session, case, "group_unacknowledged")
    if leader_acknowledges:
        assert escalated == 0 and len(rows) == 3
    else:
        # The 分管 leader is asked again, and the commander (the default next step for leaders) is told.
        assert escalated == 1
        assert sorted(n.recipient_id for n in rows[3:]) == ["chenjing", "liuqiang"]
        assert "分管行领导（陈静" in events(case, "group_unacknowledged")[-1].text
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "reporting_group.escalate")) is not None


def test_a_groups_own_escalate_to_is_told(tmp_path, session, org, clock, make_story, make_risk):
    levels, checklists = _levels(tmp_path, lambda t: t.replace(
        "{key: unit_liaison, label: 涉事单位联络人, scope: owning_unit, roles: [liaison]}",
        "{key: unit_liaison, label: 涉事单位联络人, scope: owning_unit, roles: [liaison], escalate_to: [leader]}", 1))
    policy = load_policy(levels, checklists)
    case = open_case(session, org, policy, clock, make_story, make_risk, level="I")
    clock.advance(timedelta(minutes=6))
    scheduled.run_group_escalations(session, org=org, policy=policy, clock=clock)
    ev = events(case, "group_unacknowledged")[-1]
    group = next(g for g in ev.data["groups"] if g["group"] == "unit_liaison")
    assert group["escalated_to"] == ["chenjing"]


# --- restarts and moved deadlines ---------------------------------------------------------------------------------

def test_a_restart_sends_nothing_twice(session, org, policy, clock, make_story, make_risk):
    case = open_case(session, org, policy, clock, make_story, make_risk)
    session.commit()
    engine = session.get_bind()

    def run_in_a_new_process() -> tuple[int, int]:
        with Session(engine) as fresh:
            done = scheduled.run_scheduled(fresh, org=org, policy=policy, clock=clock)
            fresh.commit()
            rows = len(fresh.scalars(select(Notification)).all())
        return done, rows

    for minutes in (61, 120, 240, 360):
        clock.set(case.opened_at + timedelta(minutes=minutes))
        first, rows = run_in_a_new_process()
        assert first > 0
        again, rows_again = run_in_a_new_process()  # killed and restarted at the same moment
        assert (again, rows_again) == (0, rows)
    with Session(engine) as fresh:
        kept = fresh.scalars(select(DeadlineNotice)).all()
        assert len({(n.item, n.due_at, n.step) for n in kept}) == len(kept)


def test_a_deadline_moved_by_a_level_change_is_reminded_again(session, org, policy, clock, make_story, make_risk):
    case = open_case(session, org, policy, clock, make_story, make_risk)
    clock.advance(timedelta(minutes=61))
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "reminder"), "保全证据") == ["wangmin", "zhaolei"]
    clock.advance(timedelta(minutes=9))  # 11:10: raised to I, the evidence is due at 11:40 instead of 12:00
    flows.change_level(session, incident_id=case.id, new_level="I", reason="央视报道", user_login="liuqiang", org=org,
                       policy=policy, clock=clock)
    assert task(case, "preserve_evidence").due_at == clock.now() + timedelta(minutes=30)
    clock.advance(timedelta(minutes=19))
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "reminder"), "保全证据") == ["wangmin", "zhaolei"]  # reminded already
    clock.advance(timedelta(minutes=1))  # 11:30, 10 minutes (level I) before the new deadline
    deadline_notices(session, clock, org=org, policy=policy)
    assert about(notices(session, case, "reminder"), "保全证据") == ["wangmin", "zhaolei"] * 2
    assert "2026-11-23 11:40" in notices(session, case, "reminder")[-1].body


def test_closing_stops_everything_but_the_final_report_and_the_review(session, org, policy, clock, make_story,
                                                                     make_risk):
    case = open_case(session, org, policy, clock, make_story, make_risk)
    flows.acknowledge_incident(session, incident_id=case.id, user_login="liuqiang", clock=clock)
    clock.advance(timedelta(minutes=30))
    flows.close_incident(session, incident_id=case.id, user_login="liuqiang", summary="误解已澄清", clock=clock)
    closed_at = clock.now()
    for _ in range(23):
        clock.advance(timedelta(hours=1))
        deadline_notices(session, clock, org=org, policy=policy)
    [reminder] = notices(session, case, "reminder")
    assert "终报" in reminder.subject and reminder.recipient_id == "liuqiang"
    assert reminder.created_at == closed_at + timedelta(hours=22)  # 120 minutes before the 24 h deadline
    flows.file_report(session, incident_id=case.id, kind="final", text="终报：事件已妥善处置。", user_login="liuqiang",
                      clock=clock)
    for _ in range(24 * 8):
        clock.advance(timedelta(hours=1))
        deadline_notices(session, clock, org=org, policy=policy)
    subjects = [n.subject for p in ("reminder", "overdue") for n in notices(session, case, p)]
    assert not [s for s in subjects if "终报" not in s and "复盘" not in s], subjects  # no task, no other clock
    assert len([s for s in subjects if "终报" in s]) == 1  # filed: no overdue 终报
    assert [s for s in subjects if "复盘" in s and "已超时" in s]  # the review was not filed: it goes up


# --- the product path ---------------------------------------------------------------------------------------------

def test_the_pipeline_round_reminds_and_delivers_to_the_inbox(tmp_path, monkeypatch, session, clock, make_story,
                                                               make_risk):
    from runner.runtime import build_runtime, run_round
    from sentiment.rules import RuleBasedClassifier
    from yuqing.settings import load_settings

    # No story is classified here; loading the sentiment model would only cost time.
    monkeypatch.setattr("sentiment.batch.choose_classifier", lambda: RuleBasedClassifier())

    make_risk(story=make_story(), level="III")  # the sentiment stage scored a story: the round takes it from here
    session.commit()
    rt = build_runtime(load_settings(data_dir=tmp_path), clock=clock, engine=session.get_bind())
    asyncio.run(run_round(rt, crawl=False))
    case = session.scalars(select(Incident)).one()
    clock.advance(timedelta(minutes=61))
    report = asyncio.run(run_round(rt, crawl=False))
    assert report.escalations >= 1
    session.expire_all()
    rows = notices(session, case, "reminder")
    assert about(rows, "保全证据") == ["wangmin", "zhaolei"]
    assert all(n.status == "sent" for n in rows)  # delivered to the inbox in the same round
    again = asyncio.run(run_round(rt, crawl=False))
    assert again.escalations == 0
    session.expire_all()
    assert about(notices(session, case, "reminder"), "保全证据") == ["wangmin", "zhaolei"]


# --- configuration ------------------------------------------------------------------------------------------------

def _levels(tmp_path: Path, edit) -> tuple[Path, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(CONFIG / "checklists", tmp_path / "checklists")
    text = (CONFIG / "levels.yaml").read_text(encoding="utf-8")
    new = edit(text)
    assert new != text, "the edit did not apply"
    (tmp_path / "levels.yaml").write_text(new, encoding="utf-8")
    return tmp_path / "levels.yaml", tmp_path / "checklists"


def _error(tmp_path: Path, edit) -> str:
    levels, checklists = _levels(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_policy(levels, checklists)
    assert "levels.yaml" in str(err.value)
    return str(err.value)


def test_the_shipped_reminders_and_quiet_hours_load(policy):
    lf = policy.levels_file
    assert lf.reminders.before_minutes_by_level == {"I": 10, "II": 30, "III": 120, "IV": 240}
    assert lf.quiet_hours is not None and (lf.quiet_hours.start, lf.quiet_hours.end) == ("22:00", "07:30")
    assert [str(r) for r in lf.overdue_roles("I")] == ["commander", "leader"]
    assert [str(r) for r in lf.overdue_roles("IV")] == ["commander"]


def test_bad_reminder_and_quiet_hours_settings_name_the_field(tmp_path):
    msg = _error(tmp_path / "a", lambda t: t.replace("before_minutes_by_level: {I: 10, II: 30, III: 120, IV: 240}",
                                                     "before_minutes_by_level: {I: 10, II: 30}"))
    assert "reminders.before_minutes_by_level" in msg and "missing III, IV" in msg
    msg = _error(tmp_path / "b", lambda t: t.replace("{I: 15, II: 30, III: 120, IV: 240}",
                                                     "{I: 0, II: 30, III: 120, IV: 240}"))
    assert "reminders.escalate_after_minutes_by_level.I" in msg
    msg = _error(tmp_path / "c", lambda t: t.replace('start: "22:00"', 'start: "25:00"'))
    assert "quiet_hours.start" in msg
    msg = _error(tmp_path / "d", lambda t: t.replace('end: "07:30"', 'end: "22:00"'))
    assert "quiet_hours" in msg and "start and end are the same time" in msg
    msg = _error(tmp_path / "e", lambda t: t.replace(
        "    escalate_to: [monitor, commander]   # a level IV alert never pages a leader",
        "      - {key: boss, scope: branch, roles: [commander], escalate_to: [leader]}\n"
        "    escalate_to: [monitor, commander]"))
    assert "levels[3].reporting_chain[3].escalate_to" in msg and "level IV reaches no leader" in msg


def test_quiet_hours_are_optional(tmp_path):
    levels, checklists = _levels(tmp_path, lambda t: t.replace('quiet_hours: {start: "22:00", end: "07:30"}', ""))
    lf = load_policy(levels, checklists).levels_file
    assert lf.quiet_hours is None and lf.quiet_until("IV", local(24, 3)) is None
