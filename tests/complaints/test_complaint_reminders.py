"""Complaint reminders and escalation in the scheduled round, across the 2026 National Day holiday (1–7 October
off, Saturday 10 October a make-up working day), once only across restarts; leadership told of 重要 / 紧急.

People (config/org.yaml): 黄伟 huangwei heads the 新华路 outlet (the 首问 owner when he enters it), 刘强 liuqiang is
the branch's commander, 陈静 chenjing the leader in charge (分管), 孙华 sunhua the branch president. Quiet hours are
22:00–07:30; 一般 complaints wait for them to end.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

import incidents.playbooks  # noqa: F401  (first: incidents.service must not start its own import cycle)
from incidents import scheduled
from incidents.complaints import flows
from incidents.complaints.models import ComplaintEvent
from incidents.complaints.notices import ComplaintNotice
from incidents.complaints.scheduled import run_complaint_reminders
from incidents.notify import InAppSender, deliver_pending
from tests.complaints.support import enter, local, outbox, real_policy
from yuqing.clock import FrozenClock

POLICY = real_policy()


def run(session_factory, org, clock) -> int:
    """One scheduled round in a fresh session (as after a restart), committed."""
    with session_factory() as s:
        done = scheduled.run_scheduled(s, org=org, policy=POLICY, clock=clock)
        s.commit()
        return done


def sent(session_factory, purpose: str) -> list[str]:
    with session_factory() as s:
        return [who for who, _ in outbox(s, purpose=purpose)]


def test_a_general_complaint_is_reminded_then_escalated_across_the_holiday(session_factory, org):
    clock = FrozenClock(local(2026, 9, 30, 10, 5))
    with session_factory() as s:
        c = enter(s, org=org, policy=POLICY, clock=clock, received=local(2026, 9, 30, 10, 0))
        cid = c.id
    assert run(session_factory, org, clock) == 0  # 一般: no leadership message; nothing due yet

    # contact is due 2 Oct 10:00; the reminder (8 h before) falls at 02:00, inside quiet hours: it waits
    clock.set(local(2026, 10, 2, 3, 0))
    assert run(session_factory, org, clock) == 0
    clock.set(local(2026, 10, 2, 7, 31))
    assert run(session_factory, org, clock) == 1
    assert sent(session_factory, "complaint_reminder") == ["huangwei"]
    assert run(session_factory, org, clock) == 0  # once, across a restart (a fresh session each round)

    # overdue: the owner first, then every 4 h the commander, then the leader in charge — one step per round
    clock.set(local(2026, 10, 2, 10, 1))
    assert run(session_factory, org, clock) == 1
    clock.advance(timedelta(hours=2))
    assert run(session_factory, org, clock) == 0
    clock.set(local(2026, 10, 2, 14, 2))
    assert run(session_factory, org, clock) == 1
    clock.set(local(2026, 10, 2, 18, 3))
    assert run(session_factory, org, clock) == 1
    clock.set(local(2026, 10, 3, 9, 0))
    assert run(session_factory, org, clock) == 0  # the chain is done for this deadline
    assert sent(session_factory, "complaint_overdue") == ["huangwei", "liuqiang", "chenjing"]

    # the resolve clock falls on the make-up Saturday, 10 October 10:00: reminded at 07:30 that morning
    with session_factory() as s:
        flows.record_contact(s, cid, actor="huangwei", clock=clock, how="电话")
        s.commit()
    clock.set(local(2026, 10, 9, 23, 0))
    assert run(session_factory, org, clock) == 0
    clock.set(local(2026, 10, 10, 7, 31))
    assert run(session_factory, org, clock) == 1
    with session_factory() as s:
        events = [e.text for e in s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == cid)
                                            .order_by(ComplaintEvent.id))]
        notices = s.scalars(select(ComplaintNotice).where(ComplaintNotice.complaint_id == cid)).all()
    assert any("“办结”时限将于 2026-10-10 10:00 到期" in t for t in events)
    assert any("上报分管行领导：已生成通知，排队发送给陈静" in t for t in events)
    assert any("已生成通知，排队发送给首问责任人：黄伟" in t for t in events)
    assert not any("已通知" in t or "发送通知" in t or "发送提醒" in t for t in events)  # queued, not sent
    # the contact clock (met now) is never reminded of again; one row per notice
    assert len(notices) == 5 and {n.item for n in notices} == {"clock:contact", "clock:resolve"}


def test_a_moved_reply_deadline_is_reminded_again(session_factory, org):
    clock = FrozenClock(local(2026, 9, 30, 10, 5))
    with session_factory() as s:
        cid = enter(s, org=org, policy=POLICY, clock=clock, received=local(2026, 9, 30, 10, 0)).id
        flows.record_contact(s, cid, actor="huangwei", clock=clock, how="电话")
        s.commit()
    # the reply (15 days: 15 Oct 10:00) is reminded a day before
    clock.set(local(2026, 10, 14, 10, 30))
    run(session_factory, org, clock)
    with session_factory() as s:
        reply_items = [n.due_at for n in s.scalars(select(ComplaintNotice).where(
            ComplaintNotice.complaint_id == cid, ComplaintNotice.item == "clock:reply"))]
        assert len(reply_items) == 1
        flows.extend_reply(s, cid, actor="huangwei", clock=clock, days=30, reason="需调取监控录像核实",
                           cfg=POLICY.complaints)
        s.commit()
    run(session_factory, org, clock)  # the new deadline (30 Oct) is far off: no reminder yet
    clock.set(local(2026, 10, 29, 10, 30))
    run(session_factory, org, clock)
    run(session_factory, org, clock)
    with session_factory() as s:
        dues = sorted(n.due_at for n in s.scalars(select(ComplaintNotice).where(
            ComplaintNotice.complaint_id == cid, ComplaintNotice.item == "clock:reply",
            ComplaintNotice.step == "reminder")))
    assert [d.astimezone(local(2026, 1, 1).tzinfo).strftime("%m-%d %H:%M") for d in dues] == \
        ["10-15 10:00", "10-30 10:00"]


@pytest.mark.parametrize(("severity", "told"), [("一般", []), ("重要", ["liuqiang", "chenjing"]),
                                                ("紧急", ["liuqiang", "chenjing", "sunhua"])])
def test_leadership_is_told_of_important_and_urgent_complaints(session_factory, org, severity, told):
    clock = FrozenClock(local(2026, 11, 24, 23, 0))  # at night: leadership messages do not wait
    with session_factory() as s:
        cid = enter(s, org=org, policy=POLICY, clock=clock, severity=severity, received=local(2026, 11, 24, 22, 40)).id
    run(session_factory, org, clock)
    run(session_factory, org, clock)
    assert sent(session_factory, "complaint_leadership") == told
    with session_factory() as s:
        events = [e for e in s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == cid))
                  if e.kind == "leadership_told"]
    assert len(events) == (1 if told else 0)
    if told:
        # the timeline records the sending, never that anyone read it
        assert "已生成通知，排队发送给刘强、陈静" in events[0].text and "阅读情况以消息记录为准" in events[0].text
        assert events[0].data["people"] == told


def test_an_urgent_complaint_is_followed_up_until_resolved(session_factory, org):
    clock = FrozenClock(local(2026, 11, 24, 9, 0))
    with session_factory() as s:
        cid = enter(s, org=org, policy=POLICY, clock=clock, severity="紧急", received=local(2026, 11, 24, 8, 30)).id
    clock.set(local(2026, 11, 24, 12, 0))
    with session_factory() as s:
        flows.record_contact(s, cid, actor="huangwei", clock=clock, how="电话")
        flows.propose_solution(s, cid, actor="huangwei", clock=clock, text="先行退还多扣费用，三日内核实",
                               preliminary=True)
        s.commit()
    clock.set(local(2026, 11, 24, 19, 59))
    with session_factory() as s:
        assert run_complaint_reminders(s, org=org, policy=POLICY, clock=clock) == 1  # leadership only
        s.commit()
    assert sent(session_factory, "complaint_follow_up") == []
    for hour in (20, 21, 4 + 24):  # 8 h after 12:00, again at 21:00 (same period), then 16 h after (04:00)
        clock.set(local(2026, 11, 24, 0, 0) + timedelta(hours=hour))
        run(session_factory, org, clock)
    assert sent(session_factory, "complaint_follow_up") == ["huangwei", "liuqiang", "huangwei", "liuqiang"]
    with session_factory() as s:
        flows.propose_solution(s, cid, actor="huangwei", clock=clock, text="全额退还并致歉")
        flows.record_acceptance(s, cid, actor="huangwei", clock=clock, accepted=True)
        flows.close(s, cid, actor="huangwei", clock=clock, note="客户接受方案")
        s.commit()
    clock.advance(timedelta(hours=9))
    run(session_factory, org, clock)
    assert len(sent(session_factory, "complaint_follow_up")) == 4


def test_delivery_outcomes_of_a_complaint_message_go_on_the_complaint_timeline(session_factory, org):
    clock = FrozenClock(local(2026, 11, 24, 10, 0))
    with session_factory() as s:
        cid = enter(s, org=org, policy=POLICY, clock=clock, severity="重要", received=local(2026, 11, 24, 9, 30)).id
    run(session_factory, org, clock)
    with session_factory() as s:
        asyncio.run(deliver_pending(s, clock=clock, senders={"in_app": InAppSender()}, org=org))
        s.commit()
        texts = [e.text for e in s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == cid,
                                                                        ComplaintEvent.kind == "notified"))]
    # in the inbox, not read: the timeline claims no more than that
    assert sorted(texts) == ["站内消息已送达刘强的消息箱（待阅读）", "站内消息已送达陈静的消息箱（待阅读）"]
