"""Lists and the scheduled round read a bounded number of queries, however many complaints there are: the list
loads every complaint's attachments in one query and never the files' bytes; the round reads every open
complaint's notices in one query."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

import incidents.playbooks  # noqa: F401  (first: incidents.service must not start its own import cycle)
from incidents.complaints.scheduled import run_complaint_reminders
from tests.complaints.support import enter, local, real_policy
from tests.complaints.web import WALK_IN
from yuqing.clock import FrozenClock

POLICY = real_policy()


@contextmanager
def statements(engine):
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_list_loads_attachments_in_one_query_without_their_bytes(bearer, db):
    api = bearer("liuqiang")
    for i in range(6):
        c = api.post("/api/v1/complaints", json={**WALK_IN, "description": f"第{i}件"}).json()
        r = api.post(f"/api/v1/complaints/{c['id']}/attachments",
                     files={"files": (f"来信{i}.txt", b"x" * 2000, "text/plain")})
        assert r.status_code == 201, r.text
    with statements(db.kw["bind"]) as seen:
        listed = api.get("/api/v1/complaints")
    assert listed.status_code == 200 and listed.json()["total"] == 6
    assert [len(row["attachments"]) for row in listed.json()["items"]] == [1] * 6
    reads = [s for s in seen if "FROM complaint_attachments" in s]
    assert len(reads) == 1, reads
    assert "complaint_attachments.data" not in reads[0]


def test_the_round_reads_the_notices_of_all_open_complaints_in_one_query(session_factory, org):
    clock = FrozenClock(local(2026, 9, 30, 10, 5))
    with session_factory() as s:
        for _ in range(5):
            enter(s, org=org, policy=POLICY, clock=clock, received=local(2026, 9, 30, 10, 0), severity="重要")
    clock.set(local(2026, 10, 2, 9, 0))
    with session_factory() as s:
        engine = s.get_bind()
        with statements(engine) as seen:
            queued = run_complaint_reminders(s, org=org, policy=POLICY, clock=clock)
        s.commit()
    assert queued >= 5  # leadership told of each, and the contact reminders
    reads = [q for q in seen if q.startswith("SELECT") and "FROM complaint_notices" in q]
    assert len(reads) == 1, reads
