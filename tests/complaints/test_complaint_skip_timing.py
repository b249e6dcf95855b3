"""The complaint round's skips compare only what the notices' timing depends on (``TIMING_COLUMNS``).

A complaint looked at once is passed over while only other columns change (its description, its status among the
open ones): its clocks are not worked out again. A change to a timing column (the customer contacted, a new
assignee) has it looked at in the very next round. Every notice still goes out in the same round as when nothing is
remembered: ``test_complaint_round_skips`` replays four days both ways.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import incidents.playbooks  # noqa: F401  (first: incidents.service must not start its own import cycle)
from incidents import round_skips
from incidents.complaints import flows, links
from incidents.complaints import scheduled as complaint_scheduled
from incidents.complaints.models import Complaint, ComplaintStatus
from incidents.models import Incident
from tests.complaints.support import enter, local, real_policy
from tests.helpers import counting_calls
from tests.incidents.cases import open_case
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker

POLICY = real_policy()


def _round(factory, org, clock) -> int:
    """One complaint round; how many complaints' clocks it worked out."""
    with counting_calls(complaint_scheduled, "clocks") as worked_out, factory() as s:
        complaint_scheduled.run_complaint_reminders(s, org=org, policy=POLICY, clock=clock)
        s.commit()
    return worked_out.calls


def test_only_a_change_to_what_the_timing_reads_brings_a_complaint_back(sqlite_engine, org):
    factory = make_sessionmaker(sqlite_engine)
    clock = FrozenClock(local(2026, 11, 23, 9, 0))  # a Monday; the entry clock runs 24 hours
    with factory() as s:
        cid = enter(s, org=org, policy=POLICY, clock=clock, received=local(2026, 11, 23, 8, 50)).id
    assert _round(factory, org, clock) == 1  # looked at once
    clock.advance(timedelta(minutes=5))
    assert _round(factory, org, clock) == 0  # nothing due, nothing changed: passed over

    with factory() as s:  # columns the timing does not read
        c = s.get(Complaint, cid)
        c.description = "柜员态度恶劣，拒绝办理挂失（补充：当时排队一小时）"
        c.status = ComplaintStatus.handling
        c.updated_at = clock.now()
        s.commit()
    clock.advance(timedelta(minutes=5))
    assert _round(factory, org, clock) == 0

    with factory() as s:  # the customer contacted: the contact clock is met, its notices change
        flows.record_contact(s, cid, actor="huangwei", clock=clock, how="电话")
        s.commit()
    clock.advance(timedelta(minutes=5))
    assert _round(factory, org, clock) == 1
    clock.advance(timedelta(minutes=5))
    assert _round(factory, org, clock) == 0

    with factory() as s:  # a new owner: who is told changes
        c = s.get(Complaint, cid)
        c.assignee_id = "wangmin"
        s.commit()
    clock.advance(timedelta(minutes=5))
    assert _round(factory, org, clock) == 1


def _first_reminder(engine, org, *, remember: bool):
    """Enter a complaint, edit its description two hours later, and run a round every 10 minutes until its first
    reminder is queued; returns that round's time and the reminder's text."""
    factory = make_sessionmaker(engine)
    received = local(2026, 11, 23, 9, 0)
    clock = FrozenClock(received)
    with factory() as s:
        cid = enter(s, org=org, policy=POLICY, clock=clock, received=received).id
    while clock.now() < received + timedelta(days=4):
        if clock.now() == received + timedelta(hours=2):
            with factory() as s:
                s.get(Complaint, cid).description = "改过的描述"
                s.commit()
        if not remember:
            round_skips.forget_all()
        _round(factory, org, clock)
        with factory() as s:
            texts = [e.text for e in s.get(Complaint, cid).events if e.kind == "deadline_reminder"]
        if texts:
            return clock.now(), texts
        clock.advance(timedelta(minutes=10))
    raise AssertionError("no reminder in four days")


def test_a_passed_over_complaint_is_still_reminded_in_the_same_round(tmp_path, sqlite_template, org):
    """Its description edited while it waits (a column the timing does not read): the first reminder goes out in
    the same round, with the same words, as when every complaint is looked at on every round."""
    engines = []
    for name in ("a", "b"):
        db = tmp_path / f"{name}.db"
        shutil.copyfile(sqlite_template, db)
        engines.append(make_engine(f"sqlite:///{db}"))
    try:
        assert _first_reminder(engines[0], org, remember=True) == _first_reminder(engines[1], org, remember=False)
    finally:
        for engine in engines:
            engine.dispose()


def test_a_linked_case_is_synced_again_only_when_its_steps_or_first_complaint_change(session_factory, org):
    """The complaint-step sync loads a linked case only when its complaint steps or its first complaint read
    differently from its last sync that changed nothing; a contact recorded meanwhile is ticked at once."""
    clock = FrozenClock(local(2026, 11, 24, 9, 0))
    with session_factory() as s:
        incident_id = open_case(s, org, POLICY, clock, level="II", score=70)
        c = enter(s, org=org, policy=POLICY, clock=clock, severity="重要", received=local(2026, 11, 23, 15, 20))
        links.link_incident(s, c.id, incident_id, actor="liuqiang", clock=clock, org=org, policy=POLICY)
        s.commit()

    def synced() -> int:
        with counting_calls(links, "sync_incident_tasks") as calls, session_factory() as s:
            links.sync_linked_incidents(s, policy=POLICY, now=clock.now())
            s.commit()
        clock.advance(timedelta(minutes=5))
        return calls.calls

    assert synced() == 1
    assert synced() == 0
    with session_factory() as s:  # the case changes elsewhere (its summary): nothing the sync reads
        s.get(Incident, incident_id).summary = "客户到店投诉后在微博发帖"
        s.commit()
    assert synced() == 0
    with session_factory() as s:
        flows.record_contact(s, c.id, actor="huangwei", clock=clock, how="电话")
        s.commit()
    assert synced() == 1
    with session_factory() as s:
        step = next(t for t in s.get(Incident, incident_id).tasks if t.key == "contact_complainant")
        assert step.status == "done" and step.done_by == "huangwei"
    assert synced() == 1  # the step it ticked is read once more, and changes nothing
    assert synced() == 0
