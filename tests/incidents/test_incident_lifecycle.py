"""The incident lifecycle on SQLite and PostgreSQL: every transition allowed and refused (with the Chinese message
people see), clocks stopped only by typed records, closing stops every running clock, re-planning on a level
change, and the review's measured durations."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crawlers.models import Article, Story
from incidents import flows, queries, service
from incidents.errors import IncidentError
from incidents.lifecycle import TRANSITIONS, Action, IncidentStatus, may, may_complete_task
from incidents.models import Incident, IncidentReport, LeadershipAcknowledgement, TaskStatus, TimelineEvent
from sentiment.models import StoryRisk
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


def open_case(session, org, policy, clock, *, level: str = "II", posted_before: timedelta = timedelta(minutes=40)
              ) -> Incident:
    """What the pipeline leaves: a story first posted ``posted_before`` ago, its risk, alert and incident."""
    now = clock.now()
    story = Story(title="示例银行新华路网点挤兑传闻", unit_id="xinhualu", first_seen_at=now, last_seen_at=now,
                  article_count=1)
    session.add(story)
    session.flush()
    url = f"https://weibo.example/{story.id}"
    digest = hashlib.sha256(url.encode()).hexdigest()
    session.add(Article(source_id="weibo", channel="news", url=url, url_hash=digest, title=story.title,
                        text=story.title, fetched_at=now, published_at=now - posted_before, content_hash=digest,
                        story_id=story.id, stage="scored"))
    risk = StoryRisk(story_id=story.id, computed_at=now, score=75, level=level, category="service_attitude",
                     factors={})
    session.add(risk)
    session.flush()
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    return session.get(Incident, out.incident_id)


def clocks(session, incident, policy, clock) -> dict[str, object]:
    return {c.key: c for c in queries.incident_clocks(session, incident=incident, policy=policy, clock=clock)}


def to_status(session, incident, status: IncidentStatus, clock, org, policy) -> None:
    """Walk a fresh case along the main path up to ``status`` (``merged``: merged into a second fresh case)."""
    if status == IncidentStatus.merged:
        from incidents.merge import merge_incident

        other = open_case(session, org, policy, clock)
        clock.advance(60)
        merge_incident(session, incident_id=incident.id, into_id=other.id, user_login="liuqiang", reason="同一事件",
                       org=org, policy=policy, clock=clock)
        assert incident.status == status
        return
    path = [IncidentStatus.acknowledged, IncidentStatus.responding, IncidentStatus.monitoring,
            IncidentStatus.closed, IncidentStatus.reviewed]
    for step in path[: path.index(status) + 1] if status != IncidentStatus.open else []:
        clock.advance(60)
        if step == IncidentStatus.acknowledged:
            flows.acknowledge_incident(session, incident_id=incident.id, user_login="wangmin", clock=clock)
        elif step == IncidentStatus.responding:
            flows.start_response(session, incident_id=incident.id, user_login="liuqiang", clock=clock)
        elif step == IncidentStatus.monitoring:
            flows.start_monitoring(session, incident_id=incident.id, user_login="liuqiang", note="", clock=clock)
        elif step == IncidentStatus.closed:
            flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary="已处置",
                                 clock=clock)
        else:
            flows.review_incident(session, incident_id=incident.id, user_login="liuqiang", text="复盘",
                                  clock=clock)
    assert incident.status == status


def attempt(session, incident, action: Action, clock, org, policy) -> None:
    kw = {"incident_id": incident.id, "user_login": "liuqiang", "clock": clock}
    {Action.acknowledge: lambda: flows.acknowledge_incident(session, **kw),
     Action.respond: lambda: flows.start_response(session, **kw),
     Action.monitor: lambda: flows.start_monitoring(session, note="", **kw),
     Action.close: lambda: flows.close_incident(session, summary="结案", **kw),
     Action.review: lambda: flows.review_incident(session, text="复盘", **kw),
     Action.reopen: lambda: flows.reopen_incident(session, reason="再次发酵", **kw)}[action]()


STATUS_MOVES = [Action.acknowledge, Action.respond, Action.monitor, Action.close, Action.review, Action.reopen]
REFUSALS = {  # a few of the refusals, word for word
    (IncidentStatus.open, Action.close): "事件当前状态为“待确认”，不能结案（仅限：已确认、处置中、持续监测）",
    (IncidentStatus.open, Action.respond): "事件当前状态为“待确认”，不能开始处置（仅限：已确认）",
    (IncidentStatus.responding, Action.review): "事件当前状态为“处置中”，不能提交复盘（仅限：已结案）",
    (IncidentStatus.acknowledged, Action.reopen):
        "事件当前状态为“已确认”，不能重新打开（仅限：持续监测、已结案、已复盘）",
    (IncidentStatus.reviewed, Action.close): "事件 {number} 已结案",
    (IncidentStatus.closed, Action.close): "事件 {number} 已结案",
}


@pytest.mark.parametrize("status", list(IncidentStatus))
def test_every_status_move_is_allowed_exactly_where_the_table_says(session, org, policy, clock, status):
    for action in STATUS_MOVES:
        incident = open_case(session, org, policy, clock)
        to_status(session, incident, status, clock, org, policy)
        clock.advance(60)
        before = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        if status in TRANSITIONS[action][0]:
            attempt(session, incident, action, clock, org, policy)
            assert incident.status == TRANSITIONS[action][1]
            ev = incident.events[-1]
            assert ev.actor == "liuqiang" and ev.data["from"] == status and ev.data["to"] == incident.status
            newest = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
            assert newest.id != before and newest.object_id == str(incident.id)
        else:
            with pytest.raises(IncidentError) as err:
                attempt(session, incident, action, clock, org, policy)
            assert incident.status == status
            want = REFUSALS.get((status, action))
            if want is not None:
                assert err.value.user_message == want.format(number=incident.number)
            assert "不能" in err.value.user_message or "已结案" in err.value.user_message


def test_timestamps_stay_in_order(session, org, policy, clock):
    incident = open_case(session, org, policy, clock)
    clock.advance(timedelta(minutes=10))
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="wangmin", clock=clock)
    earlier = FrozenClock(clock.now() - timedelta(minutes=5))
    with pytest.raises(IncidentError) as err:
        flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary="x", clock=earlier)
    assert err.value.user_message == "结案时间不能早于确认时间"
    flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary="x", clock=clock)
    with pytest.raises(IncidentError) as err:
        flows.review_incident(session, incident_id=incident.id, user_login="liuqiang", text="复盘", clock=earlier)
    assert err.value.user_message == "复盘时间不能早于结案时间"


def test_only_typed_records_stop_clocks_and_closing_stops_the_rest(session, org, policy, clock):
    incident = open_case(session, org, policy, clock, level="II")
    # A leadership "report" event in the timeline (what message delivery used to write) stops nothing.
    session.add(TimelineEvent(incident=incident, at=clock.now(), kind="report", actor="system", text="已告知分行领导",
                              data={"report": "leadership_notice", "auto": True}))
    session.flush()
    c = clocks(session, incident, policy, clock)
    assert c["leadership_notice"].status != "done" and c["initial_report"].status != "done"
    clock.advance(timedelta(minutes=10))
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="wangmin", clock=clock)
    flows.acknowledge_as_leader(session, incident_id=incident.id, user_login="chenjing", note="知悉", clock=clock)
    with pytest.raises(IncidentError) as err:
        flows.acknowledge_as_leader(session, incident_id=incident.id, user_login="chenjing", clock=clock)
    assert err.value.user_message == "您已确认知悉该事件"
    task = next(t for t in incident.tasks if t.key == "leadership_notice")
    assert (task.status, task.done_by) == (TaskStatus.done, "chenjing")  # one key: the task is the clock
    c = clocks(session, incident, policy, clock)
    assert c["ack"].status == "done" and c["leadership_notice"].done_at == clock.now()
    clock.advance(timedelta(minutes=50))
    with pytest.raises(IncidentError) as err:
        flows.file_report(session, incident_id=incident.id, kind="follow_up", text="续报", user_login="liuqiang",
                          clock=clock)
    assert err.value.user_message == "请先报送初报，再报送续报"
    flows.file_report(session, incident_id=incident.id, kind="initial", text="初报正文", user_login="liuqiang",
                      clock=clock)
    assert incident.status == IncidentStatus.responding  # the first piece of work starts the response
    c = clocks(session, incident, policy, clock)
    assert c["initial_report"].status == "done"
    assert c["update_report"].due_at == clock.now() + timedelta(hours=4)  # level II cadence
    clock.advance(timedelta(hours=3))
    flows.file_report(session, incident_id=incident.id, kind="follow_up", text="续报一", user_login="liuqiang",
                      clock=clock)
    clock.advance(timedelta(hours=1))
    second = flows.file_report(session, incident_id=incident.id, kind="follow_up", text="续报二",
                               user_login="liuqiang", clock=clock)
    assert second.version == 2 and clocks(session, incident, policy, clock)["update_report"].due_at == \
        clock.now() + timedelta(hours=4)
    clock.advance(timedelta(hours=20))  # regulator clock (12 h) is overdue now
    assert clocks(session, incident, policy, clock)["regulator_report"].status == "overdue"
    flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary="已澄清", clock=clock)
    c = clocks(session, incident, policy, clock)
    assert c["regulator_report"].status == "stopped" and c["regulator_report"].missed
    assert "update_report" not in c  # 续报 end with the case
    assert not [k for k, v in c.items() if v.status == "overdue"]
    assert c["final_report"].due_at == clock.now() + timedelta(hours=24)
    assert c["review"].due_at == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # closed Tue 24 Nov 11:00 + 5 working days
    clock.advance(timedelta(days=2))
    assert clocks(session, incident, policy, clock)["final_report"].status == "overdue"
    flows.file_report(session, incident_id=incident.id, kind="final", text="终报", user_login="liuqiang", clock=clock)
    with pytest.raises(IncidentError) as err:
        flows.file_report(session, incident_id=incident.id, kind="final", text="终报", user_login="liuqiang",
                          clock=clock)
    assert err.value.user_message == "本次结案的终报已报送"
    with pytest.raises(IncidentError) as err:
        flows.file_report(session, incident_id=incident.id, kind="follow_up", text="续报", user_login="liuqiang",
                          clock=clock)
    assert err.value.user_message == "事件已结案，不能再报送续报；请报送终报"
    flows.review_incident(session, incident_id=incident.id, user_login="liuqiang", text="复盘", clock=clock)
    c = clocks(session, incident, policy, clock)
    assert c["final_report"].status == "done" and c["review"].status == "done"
    assert [r.kind for r in session.scalars(select(IncidentReport).order_by(IncidentReport.id))] == [
        "initial", "follow_up", "follow_up", "final"]


def test_level_iii_leadership_clock_is_met_by_a_leaders_acknowledgement(session, org, policy, clock):
    incident = open_case(session, org, policy, clock, level="III")
    c = clocks(session, incident, policy, clock)
    assert c["leadership_notice"].due_at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # next 09:00 local
    clock.advance(timedelta(hours=2))
    flows.acknowledge_as_leader(session, incident_id=incident.id, user_login="sunhua", clock=clock)
    assert clocks(session, incident, policy, clock)["leadership_notice"].status == "done"
    assert session.scalars(select(LeadershipAcknowledgement.leader_id)).all() == ["sunhua"]


def test_raising_and_lowering_replan_tasks_and_clocks_and_say_why(session, org, policy, clock):
    incident = open_case(session, org, policy, clock, level="III")
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="wangmin", clock=clock)
    keys = [t.key for t in incident.tasks]
    assert "leadership_notice" not in keys and "regulator_report" not in keys
    verify = next(t for t in incident.tasks if t.key == "verify_facts")
    due_before = verify.due_at
    clock.advance(timedelta(minutes=30))
    before = clocks(session, incident, policy, clock)["initial_report"].due_at
    flows.change_level(session, incident_id=incident.id, new_level="I", reason="省级媒体跟进", user_login="chenjing",
                       org=org, policy=policy, clock=clock)
    keys_after = [t.key for t in incident.tasks]
    assert len(keys_after) == len(set(keys_after))  # added, never duplicated
    assert {"leadership_notice", "regulator_report"} <= set(keys_after)
    assert verify.due_at < due_before  # the earlier deadline wins on a rise
    after = clocks(session, incident, policy, clock)["initial_report"].due_at
    assert after == clock.now() + timedelta(hours=1) and after < before
    ev = [e for e in incident.events if e.kind == "level_changed"][-1]
    assert incident.events[-1].kind == "reporting_chain"  # then whom the rise told, per the level's chain
    assert ev.kind == "level_changed" and "省级媒体跟进" in ev.text and "新增任务" in ev.text
    assert ev.data["tasks_added"] and ev.data["tasks_tightened"]
    clock.advance(timedelta(hours=2))
    flows.change_level(session, incident_id=incident.id, new_level="III", reason="已澄清，传播回落",
                       user_login="liuqiang", org=org, policy=policy, clock=clock)
    dropped = {t.key: t for t in incident.tasks if t.status == TaskStatus.not_applicable}
    assert "regulator_report" in dropped and "不再适用" in dropped["regulator_report"].note
    assert "不再适用" in incident.events[-1].text
    # deadlines incurred at I do not move back out by lowering
    assert clocks(session, incident, policy, clock)["initial_report"].due_at == after


def test_tasks_can_be_reassigned_and_marked_not_applicable_with_a_reason(session, org, policy, clock):
    incident = open_case(session, org, policy, clock, level="II")
    task = next(t for t in incident.tasks if t.key == "verify_facts")
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="wangmin", clock=clock)
    with pytest.raises(IncidentError) as err:
        flows.reassign_task(session, task_id=task.id, user_login="liuqiang", owner_id="nobody", reason="",
                            org=org, clock=clock)
    assert err.value.user_message == "“nobody”不在组织架构中"
    flows.reassign_task(session, task_id=task.id, user_login="liuqiang", owner_id="zhoufang", reason="网点人手不足",
                        org=org, clock=clock)
    assert task.owner_id == "zhoufang" and "网点人手不足" in incident.events[-1].text
    other = next(t for t in incident.tasks if t.key == "contact_media")
    with pytest.raises(IncidentError) as err:
        flows.mark_task_not_applicable(session, task_id=other.id, user_login="liuqiang", reason=" ", clock=clock)
    assert err.value.user_message == "标记任务不适用必须填写原因"
    flows.mark_task_not_applicable(session, task_id=other.id, user_login="liuqiang", reason="无需联系媒体", clock=clock)
    assert (other.status, other.note) == (TaskStatus.not_applicable, "无需联系媒体")
    with pytest.raises(IncidentError) as err:
        flows.complete_task(session, task_id=other.id, user_login="liuqiang", clock=clock)
    assert err.value.user_message == f"任务“{other.title}”已标记为不适用"


def test_who_may_do_what():
    assert may(["monitor"], Action.acknowledge) and not may(["liaison"], Action.acknowledge)
    for action in (Action.change_level, Action.close, Action.reopen, Action.file_report, Action.review):
        assert may(["commander"], action) and may(["leader"], action)
        assert not may(["monitor"], action) and not may(["admin"], action) and not may(["liaison"], action)
    assert may(["leader"], Action.leader_ack) and not may(["commander"], Action.leader_ack)
    base = {"login": "huangwei", "owner_id": None, "owner_unit_id": None, "incident_unit_id": "xinhualu"}
    liaison = {"roles": ["liaison"], "unit_id": "xinhualu", **base}
    assert may_complete_task(task_key="verify_facts", owner_role="liaison", **liaison)
    assert not may_complete_task(task_key="verify_facts", owner_role="liaison",
                                 **{**liaison, "unit_id": "guangminglu", "login": "zhoufang"})
    assert not may_complete_task(task_key="leadership_signoff", owner_role="leader", **liaison)
    assert not may_complete_task(task_key="leadership_signoff", owner_role="leader",
                                 **{**liaison, "roles": ["commander"]})
    assert may_complete_task(task_key="leadership_signoff", owner_role="leader", **{**liaison, "roles": ["leader"]})
    assert not may_complete_task(task_key="preserve_evidence", owner_role="monitor", **liaison)
    assert may_complete_task(task_key="preserve_evidence", owner_role="monitor", **{**liaison, "roles": ["monitor"]})
    assert not may_complete_task(task_key="verify_facts", owner_role="liaison", **{**liaison, "roles": ["admin"]})


def test_review_measures_the_case(session, org, policy, clock):
    incident = open_case(session, org, policy, clock, level="II", posted_before=timedelta(minutes=40))
    clock.advance(timedelta(minutes=7))
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="wangmin", clock=clock)
    clock.advance(timedelta(minutes=13))
    flows.acknowledge_as_leader(session, incident_id=incident.id, user_login="chenjing", clock=clock)
    clock.advance(timedelta(hours=5))
    flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary="已处置", clock=clock)
    clock.advance(timedelta(days=1))
    with pytest.raises(IncidentError) as err:
        flows.review_incident(session, incident_id=incident.id, user_login="liuqiang", text="复盘", clock=clock,
                              org=org, action_items=[flows.ActionItemIn("演练", "nobody")])
    assert err.value.user_message == "整改事项负责人“nobody”不在组织架构中"
    review = flows.review_incident(session, incident_id=incident.id, user_login="liuqiang", text="复盘",
                                   went_well="确认及时", went_badly="口径发布偏慢", org=org, clock=clock,
                                   action_items=[flows.ActionItemIn("网点应急演练", "huangwei",
                                                                    clock.now() + timedelta(days=30))])
    assert (review.seconds_to_detect, review.seconds_to_acknowledge, review.seconds_to_leadership,
            review.seconds_to_close) == (40 * 60, 7 * 60, 20 * 60, (20 * 60) + 5 * 3600)
    assert review.seconds_to_statement is None  # no statements in the product yet (queries.first_statement_at)
    assert [(i.title, i.owner_id) for i in review.action_items] == [("网点应急演练", "huangwei")]
    assert incident.status == IncidentStatus.reviewed and incident.reviewed_at == clock.now()
