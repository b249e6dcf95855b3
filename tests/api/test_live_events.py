"""``GET /events`` (api/live.py) on a real uvicorn on 127.0.0.1, read with httpx streaming: a new alert and a
completed task reach a signed-in monitor's stream; a liaison hears nothing of another sub-branch; a page that
reconnects with ``Last-Event-ID`` is told what it missed; the per-user cap; and stopping the server ends open
streams at once instead of waiting for them."""

from __future__ import annotations

import json
import queue
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api import live
from api.live import Cursor, latest_cursor
from incidents import flows
from incidents.models import Alert, Notification, Task
from incidents.service import handle_story_risk
from tests.e2e.served_app import ServedApp
from yuqing.clock import FrozenClock
from yuqing.org import OrgChart

WAIT_S = 20.0  # generous for a loaded CI machine (8 s once ran out under four workers); the hub polls every 0.1 s here


@dataclass
class Sse:
    kind: str  # the event name; "" for an id-only block (connected, heartbeat)
    id: str | None
    data: dict


class Stream:
    """One open ``/events`` stream, read on a thread of its own into a queue of parsed blocks."""

    def __init__(self, client: httpx.Client, headers: dict[str, str] | None = None):
        self.blocks: queue.Queue[Sse | None] = queue.Queue()
        self.status: int | None = None
        self.content_type = ""
        self.retry: str | None = None
        self._opened = threading.Event()
        self._client = client
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, args=(headers or {},), daemon=True)
        self._thread.start()
        assert self._opened.wait(WAIT_S), "stream did not open"

    def _read(self, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", "/events", headers=headers, timeout=30) as resp:
                self._response = resp
                self.status, self.content_type = resp.status_code, resp.headers.get("content-type", "")
                self._opened.set()
                kind, ident, data = "", None, ""
                for line in resp.iter_lines():
                    if line == "":
                        if ident is not None or kind or data:
                            self.blocks.put(Sse(kind, ident, json.loads(data) if data else {}))
                        kind, ident, data = "", None, ""
                    elif line.startswith("retry:"):
                        self.retry = line[6:].strip()
                    elif line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("id:"):
                        ident = line[3:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
        except (httpx.HTTPError, RuntimeError):
            pass
        finally:
            self._opened.set()
            self.blocks.put(None)

    def next_event(self, kind: str, timeout: float = WAIT_S, **match: object) -> Sse:
        """The next event named ``kind`` whose data has ``match``; other blocks are skipped."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                block = self.blocks.get(timeout=left)
            except queue.Empty:
                break
            if block is None:
                raise AssertionError(f"stream ended before a {kind} event {match}")
            if block.kind == kind and all(block.data.get(k) == v for k, v in match.items()):
                return block
        raise AssertionError(f"no {kind} event {match} within {timeout} s")

    def events_until(self, cursor: Cursor, timeout: float = WAIT_S) -> list[Sse]:
        """Every named event until a block whose id reaches ``cursor`` (a heartbeat carries the hub's cursor)."""
        seen: list[Sse] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            block = self.blocks.get(timeout=left)
            assert block is not None, "stream ended"
            if block.kind:
                seen.append(block)
            here = Cursor.parse(block.id)
            if here is not None and not here.behind(cursor) and here != Cursor():
                return seen
        raise AssertionError(f"the stream never reached {cursor}")

    def first_id(self) -> str:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            block = self.blocks.get(timeout=WAIT_S)
            assert block is not None
            if block.id:
                return block.id
        raise AssertionError("no id")

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._thread.join(5)


@pytest.fixture
def served(app: FastAPI) -> Iterator[tuple[ServedApp, FastAPI]]:
    app.state.live.poll_seconds = 0.1
    app.state.live.heartbeat_seconds = 0.3
    server = ServedApp(app)
    yield server, app
    server.stop()


PASSWORD = "Demo-2026!pass"  # tests/api/conftest.py seeds every user with it
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _signed_in(server: ServedApp, login: str) -> httpx.Client:
    client = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", follow_redirects=False)
    form = {"login": login, "password": PASSWORD, "csrf_token": CSRF.search(client.get("/login").text).group(1),
            "next": "/"}
    assert client.post("/login", data=form).status_code == 303
    return client


def _new_alert(session: Session, make, org: OrgChart, policy, clock: FrozenClock, unit_id: str) -> int:
    """A story at ``unit_id`` whose risk the incident stage handles as the pipeline does: the alert, its audit entry
    and its messages are written in one transaction."""
    story = make.story(unit_id=unit_id, title=f"{unit_id} 网点排长队取不出钱")
    make.article(story=story, unit_id=unit_id, title=story.title)
    risk = make.story_risk(story=story, level="III", score=40.0)
    out = handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    assert out.alert_created
    session.commit()
    return session.scalar(select(Alert.id).where(Alert.story_id == story.id))


def _now(session: Session) -> Cursor:
    session.rollback()  # a fresh read: what the app committed since
    return latest_cursor(session)


def _latest(db: sessionmaker[Session]) -> Cursor:
    with db() as session:
        return latest_cursor(session)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_new_alert_and_a_completed_task_reach_the_monitors_stream(served, db, session, make, org, policy, clock,
                                                                      users):
    server, _ = served
    client = _signed_in(server, "wangmin")
    stream = Stream(client)
    try:
        assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
        stream.first_id()
        assert stream.retry == "3000"
        alert_id = _new_alert(session, make, org, policy, clock, "xinhualu")
        created = stream.next_event("alert", alert_id=alert_id, action="alert.create")
        assert set(created.data) == {"alert_id", "incident_id", "action"}  # ids and code words, no text
        stream.next_event("notification")  # wangmin is the duty monitor the new alert's message goes to

        incident = make.incident(unit_id="xinhualu")
        session.commit()
        task_id, incident_id = incident.tasks[0].id, incident.id
        flows.complete_task(session, task_id=task_id, user_login="liuqiang", clock=clock, note="已核实")
        session.commit()
        done = stream.next_event("task", task_id=task_id)
        assert done.data == {"task_id": task_id, "incident_id": incident_id, "action": "task.complete"}
        stream.next_event("timeline", incident_id=incident_id)
    finally:
        stream.close()
        client.close()


def test_a_liaison_hears_nothing_of_another_sub_branch(served, db, session, make, org, policy, clock, users):
    server, _ = served
    liaison, monitor = _signed_in(server, "zhoufang"), _signed_in(server, "wangmin")  # zhoufang: 光明路支行
    theirs, branch = Stream(liaison), Stream(monitor)
    try:
        theirs.first_id(), branch.first_id()
        elsewhere = _new_alert(session, make, org, policy, clock, "binjianghuayuan")  # another sub-branch
        branch.next_event("alert", alert_id=elsewhere)  # the branch-wide monitor is told
        heard = theirs.events_until(_latest(db))  # the liaison's stream has passed that change…
        assert heard == [], heard  # …and said nothing about it
        own = _new_alert(session, make, org, policy, clock, "xinhualu")  # an outlet of 光明路支行
        assert theirs.next_event("alert").data["alert_id"] == own
    finally:
        theirs.close(), branch.close()
        liaison.close(), monitor.close()


def test_last_event_id_resumes_with_what_was_missed(served, db, session, make, org, policy, clock, users):
    server, _ = served
    client = _signed_in(server, "wangmin")
    first = Stream(client)
    last_id = first.first_id()
    first.close()
    incident = make.incident(unit_id="xinhualu")
    session.commit()
    task_id = incident.tasks[0].id
    flows.complete_task(session, task_id=task_id, user_login="liuqiang", clock=clock)
    session.commit()
    resumed = Stream(client, {"Last-Event-ID": last_id})
    try:
        got = resumed.next_event("task", task_id=task_id)
        assert Cursor.parse(got.id) is not None and Cursor.parse(last_id).behind(Cursor.parse(got.id))
        hub, now = served[1].state.live, _latest(db)
        deadline = time.monotonic() + WAIT_S
        while (hub.cursor is None or hub.cursor.behind(now)) and time.monotonic() < deadline:
            time.sleep(0.05)  # a fresh stream starts at the hub's last poll: wait until it has read the change
        fresh = Stream(client)
        assert [e for e in fresh.events_until(now) if e.kind == "task"] == []  # no cursor: only what is new
        fresh.close()
    finally:
        resumed.close()
        client.close()


def test_streams_per_user_are_capped_and_need_a_session(served, users):
    server, app = served
    app.state.live.max_per_user = 2
    anonymous = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", follow_redirects=False)
    assert anonymous.get("/events").status_code == 303  # to the login page, like every dashboard page
    client = _signed_in(server, "wangmin")
    streams = [Stream(client), Stream(client)]
    try:
        for s in streams:
            s.first_id()
        refused = client.get("/events")
        assert refused.status_code == 429 and "实时连接过多" in refused.text
        other = Stream(_signed_in(server, "liuqiang"))  # the cap is per user
        assert other.status == 200
        other.close()
    finally:
        for s in streams:
            s.close()
        client.close()
        anonymous.close()


def test_stopping_the_server_ends_open_streams_at_once(app, users):
    app.state.live.heartbeat_seconds = 30.0
    server = ServedApp(app)
    client = _signed_in(server, "wangmin")
    stream = Stream(client)
    stream.first_id()
    started = time.monotonic()
    server.stop()
    took = time.monotonic() - started
    assert stream.blocks.get(timeout=5) is None or stream.blocks.get(timeout=5) is None  # the stream ended
    # uvicorn's own wait is unbounded, and the stream would notice nothing before its next heartbeat (30 s): half
    # of that tells the two apart on a loaded machine too (4 test workers on 2 cores), where 5 s did not always
    assert took < app.state.live.heartbeat_seconds / 2, f"stopping waited {took:.1f} s on an open stream"
    client.close()


def test_a_change_made_through_another_server_process_reaches_the_stream(served, app_with, session, make, org,
                                                                          policy, clock, users):
    """Two apps on one database stand for two server processes: each has its own hub, nothing shared in memory."""
    server, _ = served
    other = ServedApp(app_with())
    watcher, actor = _signed_in(server, "wangmin"), _signed_in(other, "liuqiang")
    stream = Stream(watcher)
    try:
        stream.first_id()
        alert_id = _new_alert(session, make, org, policy, clock, "binjianghuayuan")  # level III: no case opened
        stream.next_event("alert", alert_id=alert_id, action="alert.create")
        page = actor.get("/alerts")
        form = {"csrf_token": CSRF.search(page.text).group(1)}
        assert actor.post(f"/alerts/{alert_id}/ack", data=form).status_code == 303
        stream.next_event("alert", alert_id=alert_id, action="alert.acknowledge")
    finally:
        stream.close()
        watcher.close(), actor.close()
        other.stop()


def test_messages_reach_only_their_recipient(served, session, make, org, policy, clock, users):
    server, _ = served
    commander = _signed_in(server, "liuqiang")
    stream = Stream(commander)
    try:
        stream.first_id()
        alert_id = _new_alert(session, make, org, policy, clock, "xinhualu")
        heard = stream.events_until(_now(session))
        assert any(e.kind == "alert" and e.data["alert_id"] == alert_id for e in heard)
        told = {e.data["notification_id"] for e in heard if e.kind == "notification"}
        mine = set(session.scalars(select(Notification.id).where(Notification.recipient_id == "liuqiang",
                                                                 Notification.channel == "in_app")))
        others = set(session.scalars(select(Notification.id).where(Notification.recipient_id != "liuqiang",
                                                                   Notification.channel == "in_app")))
        assert others, "the alert's messages went to someone else too (the duty monitors)"
        assert told == mine  # every one of his, none of theirs
    finally:
        stream.close()
        commander.close()


def test_a_page_far_behind_is_told_to_refresh_everything(served, session, make, org, policy, clock, users,
                                                         monkeypatch):
    monkeypatch.setattr(live, "BATCH", 1)
    monkeypatch.setattr(live, "REPLAY_LIMIT", 2)  # two rows of a sequence, read one at a time
    server, app = served
    hub = app.state.live
    client = _signed_in(server, "wangmin")
    first = Stream(client)
    last_id = first.first_id()
    first.close()
    # The page comes back after its stream (and with it the hub's poller) has gone: a poller still running would
    # start the resumed stream at its own, older position and hand the rows over live instead — also correct, but
    # not the case this test is about (it made the test fail about one run in three).
    assert _until(lambda: hub.connections == 0 and (hub._task is None or hub._task.done()))
    make.incident(unit_id="xinhualu")
    session.commit()
    for task in session.scalars(select(Task)).all():  # three audit rows: more than the page may be replayed
        flows.complete_task(session, task_id=task.id, user_login="liuqiang", clock=clock)
    session.commit()
    resumed = Stream(client, {"Last-Event-ID": last_id})
    try:
        reset = resumed.next_event("reset")
        assert not Cursor.parse(reset.id).behind(_now(session))
    finally:
        resumed.close()
        client.close()


def test_last_event_ids_that_are_not_ours_are_ignored():
    assert Cursor.parse("12.3.40.5") == Cursor(12, 3, 40, 5)
    for hostile in ("", "1.2.3", "a.b.c.d", "1.2.3.4.5", "-1.2.3.4", "1" * 13 + ".0.0.0", "1.2.3.4\nevent: x"):
        assert Cursor.parse(hostile) is None, hostile


def test_a_client_that_goes_is_let_go_at_once(served, users):
    server, app = served
    app.state.live.heartbeat_seconds = 30.0  # nothing is written to the stream while it is open
    client = _signed_in(server, "wangmin")
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert _until(lambda: app.state.live.connections == 1)
    assert _until(lambda: app.state.live.connections == 0)  # seen from the closed socket, not a later write
    client.close()


def _until(condition, timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
