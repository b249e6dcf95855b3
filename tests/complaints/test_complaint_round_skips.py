"""The complaint round passes over a complaint with nothing due (``incidents.round_skips``) — and
still sends every notice in the same round as when every complaint is worked out on every round.

Two identical databases run the same rounds every 10 minutes over four days (quiet nights, a holiday-free week):
one with the remembered "nothing due before" times, one with them forgotten before every round. The notices
(which, when, for which deadline) must be the same, each reminder and overdue step in the first round at or after
its time; and the first must really have skipped work.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timedelta

import incidents.playbooks  # noqa: F401  (first: incidents.service must not start its own import cycle)
from incidents import round_skips
from incidents.complaints import flows
from incidents.complaints import scheduled as complaint_scheduled
from incidents.complaints.notices import ComplaintNotice
from tests.complaints.support import enter, local, real_policy
from tests.helpers import counting_calls
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker

POLICY = real_policy()
STEP = timedelta(minutes=10)


def _database(tmp_path, sqlite_template, name: str):
    db = tmp_path / f"{name}.db"
    with closing(sqlite3.connect(sqlite_template)) as src, closing(sqlite3.connect(db)) as dst:
        src.backup(dst)
    return make_engine(f"sqlite:///{db}")


def _replay(engine, org, *, remember: bool) -> tuple[list[tuple], int]:
    """Enter three complaints and run the complaint round every ``STEP`` for four days; returns the notices and how
    many complaints' clocks were worked out."""
    factory = make_sessionmaker(engine)
    clock = FrozenClock(local(2026, 11, 23, 9, 0))  # a Monday
    with factory() as s:
        general = enter(s, org=org, policy=POLICY, clock=clock, received=local(2026, 11, 23, 8, 50)).id
        enter(s, org=org, policy=POLICY, clock=clock, severity="重要", received=local(2026, 11, 23, 8, 55))
        urgent = enter(s, org=org, policy=POLICY, clock=clock, severity="紧急", received=local(2026, 11, 23, 9, 0)).id
    end = clock.now() + timedelta(days=4)
    with counting_calls(complaint_scheduled, "clocks") as worked_out:
        while clock.now() < end:
            if not remember:
                round_skips.forget_all()
            if clock.now() == local(2026, 11, 23, 15, 0):  # the urgent one gets its preliminary solution: follow-ups
                with factory() as s:
                    flows.record_contact(s, urgent, actor="huangwei", clock=clock, how="电话")
                    flows.propose_solution(s, urgent, actor="huangwei", clock=clock, text="先行退还多扣费用",
                                           preliminary=True)
                    s.commit()
            if clock.now() == local(2026, 11, 25, 11, 0):  # the general one is contacted late: its row changes
                with factory() as s:
                    flows.record_contact(s, general, actor="huangwei", clock=clock, how="电话")
                    s.commit()
            with factory() as s:
                complaint_scheduled.run_complaint_reminders(s, org=org, policy=POLICY, clock=clock)
                s.commit()
            clock.advance(STEP)
    with factory() as s:
        notices = sorted((n.complaint_id, n.item, n.due_at.isoformat(), n.step, n.at.isoformat())
                         for n in s.query(ComplaintNotice))
    return notices, worked_out.calls


def test_skipped_rounds_send_the_same_notices_in_the_same_rounds(tmp_path, sqlite_template, org):
    remembered, remembered_work = _replay(_database(tmp_path, sqlite_template, "a"), org, remember=True)
    forgotten, full_work = _replay(_database(tmp_path, sqlite_template, "b"), org, remember=False)

    assert remembered == forgotten
    steps = {(item, step) for _c, item, _due, step, _at in remembered}
    # reminders, overdue chains, leadership and the urgent follow-ups all happened in this window
    assert {s for _i, s in steps} >= {"reminder", "overdue:owner"}
    assert len({s for _i, s in steps if s.startswith("told:")}) == 2  # 重要 and 紧急
    assert any(s.startswith("follow_up:") for _i, s in steps)
    # each overdue owner step in the first round at or after its deadline (one falling in the quiet hours waits)
    checked = 0
    for _c, _item, due, step, at in remembered:
        deadline = datetime.fromisoformat(due)
        if step == "overdue:owner" and 8 <= deadline.astimezone(local(2026, 1, 1).tzinfo).hour < 22:
            assert timedelta(0) <= datetime.fromisoformat(at) - deadline < STEP
            checked += 1
    assert checked >= 1
    # every complaint worked out on each of the 576 rounds without the skips (and twice more when leadership is
    # told); far fewer with them
    print(f"clocks worked out: {remembered_work} with the skips, {full_work} without")
    assert full_work >= 3 * 576
    assert remembered_work < full_work / 5
