"""The incident jobs' skips (``incidents.round_skips``) compare only what the notices' timing depends on, and the
reporting-chain escalations pass over a case whose groups cannot fall due yet.

* Deadline notices: a case looked at once is passed over while its summary or peak risk changes (as on every
  round its story grows); a task's new deadline has it looked at in the next round.
* Reporting-chain groups: two identical databases run the same rounds every 5 minutes for six hours over two cases
  (level II and III, the second opened later and raised to II, a telling anew) — one with the remembered times, one
  with them forgotten before every round. The groups reminded and escalated (which, when, whom) must be the same,
  and the first must have looked at the cases on far fewer rounds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from crawlers.models import Story
from incidents import round_skips, scheduled, service
from incidents.deadline_notices import DeadlineNotice
from incidents.models import Incident, Notification, TaskStatus, TimelineEvent
from tests.helpers import counting_calls, scratch_sqlite_session
from tests.incidents.conftest import START, _make_risk, _make_story
from yuqing.clock import FrozenClock

STEP = timedelta(minutes=5)


def _open(session, org, policy, clock, *, level: str, title: str) -> int:
    story = _make_story(session, clock=clock, title=title)
    out = service.handle_story_risk(session, story_risk=_make_risk(session, clock=clock, story=story, level=level),
                                    org=org, policy=policy, clock=clock)
    assert out.incident_id is not None
    session.commit()
    return out.incident_id


def test_a_case_is_looked_at_again_only_when_what_its_deadlines_read_changes(session, org, policy):
    clock = FrozenClock(START)
    case_id = _open(session, org, policy, clock, level="III", title="示例银行新华路网点被投诉")

    def looked() -> int:
        with counting_calls(scheduled, "_deadline_items") as worked_out:
            scheduled.run_deadline_notices(session, org=org, policy=policy, clock=clock)
            session.commit()
        clock.advance(STEP)
        return worked_out.calls

    assert looked() == 1
    assert looked() == 0
    case = session.get(Incident, case_id)
    case.summary, case.peak_risk = "事件摘要（随报道增加而更新）", 71.5  # as a growing story changes them
    session.commit()
    assert looked() == 0
    todo = next(t for t in sorted(case.tasks, key=lambda t: t.id) if t.status == TaskStatus.todo and t.due_at)
    todo.due_at = todo.due_at + timedelta(hours=1)  # a deadline moved: its reminder and overdue times move
    session.commit()
    assert looked() == 1
    assert looked() == 0
    case.level = "II"  # a new level: other leads and escalation delays
    session.commit()
    assert looked() == 1


def _replay_groups(path, org, policy, *, remember: bool) -> tuple[list[tuple], list[tuple], int]:
    clock = FrozenClock(START)
    cases: list[int] = []
    with scratch_sqlite_session(path) as session:
        end = clock.now() + timedelta(hours=6)
        with counting_calls(scheduled, "_groups_next_due") as looks:
            while clock.now() < end:
                if clock.now() == START:
                    cases.append(_open(session, org, policy, clock, level="II", title="示例银行新华路网点被投诉"))
                if clock.now() == START + timedelta(hours=1, minutes=10):
                    cases.append(_open(session, org, policy, clock, level="III", title="示例银行光明路网点排长队"))
                if clock.now() == START + timedelta(hours=3):  # the second case raised: its chain is told anew
                    story = session.get(Story, session.get(Incident, cases[1]).story_id)
                    service.handle_story_risk(session, story_risk=_make_risk(session, clock=clock, story=story,
                                                                             level="II", score=80.0),
                                              org=org, policy=policy, clock=clock)
                    session.commit()
                if not remember:
                    round_skips.forget_all()
                scheduled.run_group_escalations(session, org=org, policy=policy, clock=clock)
                session.commit()
                clock.advance(STEP)
        notices = sorted((n.incident_id, n.item, n.due_at.isoformat(), n.step, n.at.isoformat(), tuple(n.people))
                         for n in session.scalars(select(DeadlineNotice)))
        messages = sorted((m.incident_id, m.recipient_id, m.subject, m.created_at.isoformat())
                          for m in session.scalars(select(Notification).where(
                              Notification.purpose == scheduled.GROUP_UNACKNOWLEDGED)))
        tellings = session.scalar(select(TimelineEvent.id).where(TimelineEvent.kind == "reporting_chain")
                                  .order_by(TimelineEvent.id.desc()).limit(1))
        assert tellings is not None
    return notices, messages, looks.calls


def test_skipped_rounds_escalate_the_same_groups_in_the_same_rounds(tmp_path, org, policy):
    remembered, remembered_messages, remembered_looks = _replay_groups(tmp_path / "a.db", org, policy, remember=True)
    forgotten, forgotten_messages, full_looks = _replay_groups(tmp_path / "b.db", org, policy, remember=False)

    assert remembered == forgotten
    assert remembered_messages == forgotten_messages
    assert {case for case, *_ in remembered} == {1, 2}  # both cases' groups were escalated
    steps = [step for *_rest, step, _at, _people in remembered]
    assert "group_missed" in steps
    # each group reminded in the first round at or after its deadline
    for _case, _item, due, step, at, _people in remembered:
        if step == "group_missed":
            assert timedelta(0) <= datetime.fromisoformat(at) - datetime.fromisoformat(due) < STEP
    print(f"cases looked at: {remembered_looks} with the skips, {full_looks} without; {len(remembered)} notices")
    assert remembered_looks < full_looks / 5
