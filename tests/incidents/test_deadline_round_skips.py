"""The deadline-notice round passes over a case with nothing due (``incidents.round_skips``) — and still sends every
reminder and overdue step in the same round as when every case is worked out on every round.

Two identical databases run the same rounds every 5 minutes for two days over two cases (level III and level II,
opened at different times, one with a task done half-way): one with the remembered "nothing due before" times, one
with them forgotten before every round. The deadline notices (which item, which step, for which deadline, when)
must be the same, each overdue step outside quiet hours in the first round at or after its time; and the first run
must really have skipped work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from incidents import round_skips, scheduled, service
from incidents.deadline_notices import DeadlineNotice
from incidents.models import Incident, TaskStatus
from tests.helpers import counting_calls, scratch_sqlite_session
from tests.incidents.conftest import START, _make_risk, _make_story
from yuqing.clock import FrozenClock

STEP = timedelta(minutes=5)


def _replay(path, org, policy, *, remember: bool) -> tuple[list[tuple], int]:
    clock = FrozenClock(START)
    cases: list[int] = []
    with scratch_sqlite_session(path) as session:
        end = clock.now() + timedelta(days=2)
        with counting_calls(scheduled, "_deadline_items") as worked_out:
            while clock.now() < end:
                if clock.now() in (START, START + timedelta(hours=3, minutes=10)):  # a second case opens later
                    level = "III" if not cases else "II"
                    story = _make_story(session, clock=clock, title=f"示例银行新华路网点被投诉（{len(cases)}）")
                    risk = _make_risk(session, clock=clock, story=story, level=level)
                    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
                    assert out.incident_id is not None
                    cases.append(out.incident_id)
                    session.commit()
                if clock.now() == START + timedelta(hours=5):  # a task of the first case done: its row changes
                    case = session.get(Incident, cases[0])
                    todo = next(t for t in sorted(case.tasks, key=lambda t: t.id) if t.status == TaskStatus.todo)
                    todo.status = TaskStatus.done
                    session.commit()
                if not remember:
                    round_skips.forget_all()
                scheduled.run_deadline_notices(session, org=org, policy=policy, clock=clock)
                session.commit()
                clock.advance(STEP)
        rows = sorted((n.incident_id, n.item, n.due_at.isoformat(), n.step, n.at.isoformat())
                      for n in session.query(DeadlineNotice))
    return rows, worked_out.calls


def test_skipped_rounds_send_the_same_deadline_notices_in_the_same_rounds(tmp_path, org, policy):
    remembered, remembered_work = _replay(tmp_path / "a.db", org, policy, remember=True)
    forgotten, full_work = _replay(tmp_path / "b.db", org, policy, remember=False)

    assert remembered == forgotten
    steps = {step for *_rest, step, _at in remembered}
    assert "reminder" in steps and "overdue:owner" in steps and len(steps) >= 3
    checked = 0
    for _case, _item, due, step, at in remembered:
        deadline = datetime.fromisoformat(due)
        local_hour = (deadline + timedelta(hours=8)).hour  # Beijing time: quiet hours 22:00–07:30
        if step == "overdue:owner" and 8 <= local_hour < 22:
            assert timedelta(0) <= datetime.fromisoformat(at) - deadline < STEP
            checked += 1
    assert checked >= 1
    print(f"cases worked out: {remembered_work} with the skips, {full_work} without; {len(remembered)} notices")
    assert remembered_work < full_work / 5
