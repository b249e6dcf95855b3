"""Live updates for the dashboard over Server-Sent Events: ``GET /events``.

Where changes come from. The database, not this process's memory, so a change made by another server process,
the pipeline or the command line reaches every open page. Four append-only row sequences are read past a
watermark each (their primary keys):

* ``audit_log`` — every act on an alert, incident, task or statement (``alert.create``, ``alert.acknowledge``,
  ``task.complete``, ``incident.level``, ``statement.draft`` …) → ``alert``, ``incident`` and ``task`` events.
  Its ids are handed out under the chain's lock (``yuqing.audit_chain``), so they become visible in id order and a
  watermark on them never skips a row.
* ``timeline_events`` → ``timeline`` events (articles added, clocks, messages sent: the pipeline's side).
* ``notifications`` → a ``notification`` event to the in-app recipient alone (the top bar's unread count), and an
  ``alert`` event when an alert's message goes out (a new alert, a higher level, an escalation step).
* ``mentions`` → ``mention`` events (the 舆情信息 list's "N 条新信息").

The last three use ordinary autoincrement ids. On PostgreSQL two transactions can commit out of id order, so a row
that commits after a higher id was already read is not announced as an event of its own; the page refreshes the
same section on the next event that touches it. The audit sequence, which carries every person's act, has no
such gap.

One poller per app (``LiveHub``): a task in the server's event loop runs the four ``id > watermark`` queries every
``poll_seconds`` (in a worker thread; the sessions are synchronous) while at least one page listens, and stops
when the last one leaves. It fans each change out to the connections whose user may see it: the unit of the alert,
incident or mention must be in the user's scope (``Principal.unit_ids``), and a notification goes only to its
recipient. Payloads are ids and code-defined words (``{"alert_id": 7, "action": "alert.acknowledge"}``), never
titles or crawled text: the page fetches the server-rendered, escaped fragment itself.

The stream: a ``retry:`` hint first; each event carries ``id:``, the cursor ``audit.timeline.notification.mention``
(e.g. ``812.340.95.2210``) just after it; a ``: heartbeat`` comment every ``heartbeat_seconds`` carries the current
cursor as its ``id:`` too, so a page that was told nothing still resumes from near now. A browser reconnecting
sends ``Last-Event-ID``; the changes since that cursor are read back from the database (scoped the same way) before
live ones, or, when more than ``REPLAY_LIMIT`` rows have passed, one ``reset`` event tells the page to refresh
everything. A stream ends after ``max_stream_seconds`` (the browser reconnects and resumes), when the client goes,
when the user's session is revoked (checked at each heartbeat), and at once when the server stops
(``api.server.stop`` calls ``LiveHub.close``), so uvicorn never waits on an open stream. A user may hold
``max_per_user`` streams at once on one server process (browsers allow six connections per host and each stream
holds one); more are refused with 429. The count is the process's own: behind several processes it is per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.deps import LoginRequired, PasswordChangeRequired, Principal, _session_principal
from crawlers.models import Mention
from incidents.models import Alert, Incident, Notification, Statement, Task, TimelineEvent
from yuqing.models import AuditEntry

log = logging.getLogger(__name__)

POLL_SECONDS = 1.5
HEARTBEAT_SECONDS = 15.0
RETRY_MS = 3000
MAX_STREAM_SECONDS = 600.0
MAX_PER_USER = 4
BATCH = 200  # rows per sequence per poll; a busier second is read over the next polls
REPLAY_LIMIT = 1000  # rows per sequence a resuming page may be told about before it is told to refresh everything
QUEUE_SIZE = 500  # events waiting for one slow connection before it is told to refresh everything
ALERT_PURPOSES = ("alert", "escalation")

router = APIRouter()


@dataclass(frozen=True, order=True)
class Cursor:
    """How far a stream has read each sequence: the last id seen of audit, timeline, notification, mention rows."""

    audit: int = 0
    timeline: int = 0
    notification: int = 0
    mention: int = 0

    def __str__(self) -> str:
        return f"{self.audit}.{self.timeline}.{self.notification}.{self.mention}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """The cursor a ``Last-Event-ID`` names, or None when it is not one of ours."""
        parts = (text or "").strip().split(".")
        if len(parts) != 4 or not all(p.isdigit() and len(p) <= 12 for p in parts):
            return None
        return cls(*(int(p) for p in parts))

    def behind(self, other: Cursor) -> bool:
        """True when some sequence of ``other`` is past this one."""
        return (other.audit > self.audit or other.timeline > self.timeline
                or other.notification > self.notification or other.mention > self.mention)


@dataclass(frozen=True)
class LiveEvent:
    """One change, with who may hear of it: users seeing ``unit_id``, or only ``recipient`` (a login)."""

    kind: str
    data: dict[str, Any]
    cursor: Cursor
    unit_id: str | None = None
    recipient: str | None = None

    def visible_to(self, principal: Principal) -> bool:
        if self.recipient is not None:
            return self.recipient == principal.login
        return principal.sees_unit(self.unit_id)

    def encode(self) -> str:
        return f"id: {self.cursor}\nevent: {self.kind}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n"


# --- reading the database ----------------------------------------------------------------------------------------

def latest_cursor(session: Session) -> Cursor:
    """The newest id of each sequence: where a fresh stream starts."""
    def top(column: Any) -> int:
        return int(session.scalar(select(func.max(column))) or 0)

    return Cursor(top(AuditEntry.id), top(TimelineEvent.id), top(Notification.id), top(Mention.id))


def changes_since(session: Session, cursor: Cursor, *, until: Cursor | None = None,
                  limit: int = BATCH) -> tuple[list[LiveEvent], Cursor]:
    """The changes after ``cursor`` (up to ``until`` when given), at most ``limit`` rows per sequence, as events in
    sequence order, each carrying the cursor just after it; and the cursor after the last row read."""
    events: list[LiveEvent] = []
    now = cursor

    def bounded(column: Any, after: int, upto: int | None) -> Any:
        cond = column > after
        return cond if upto is None else cond & (column <= upto)

    audit_rows = session.execute(
        select(AuditEntry.id, AuditEntry.action, AuditEntry.object_type, AuditEntry.object_id)
        .where(bounded(AuditEntry.id, cursor.audit, until.audit if until else None))
        .order_by(AuditEntry.id).limit(limit)).all()
    wanted: dict[str, set[int]] = {"alert": set(), "incident": set(), "task": set(), "statement": set()}
    for row in audit_rows:
        if row.object_type in wanted and str(row.object_id).isdigit():
            wanted[row.object_type].add(int(row.object_id))
    alerts = _alert_units(session, wanted["alert"])
    incident_units = _incident_units(session, wanted["incident"])
    tasks = _task_incidents(session, wanted["task"])
    statements = _statement_incidents(session, wanted["statement"])
    for row in audit_rows:
        now = replace(now, audit=row.id)
        oid = int(row.object_id) if str(row.object_id).isdigit() else None
        action = str(row.action)
        if row.object_type == "alert" and oid in alerts:
            unit, incident_id = alerts[oid]
            events.append(LiveEvent("alert", {"alert_id": oid, "incident_id": incident_id, "action": action},
                                    now, unit_id=unit))
        elif row.object_type == "incident" and oid in incident_units:
            events.append(LiveEvent("incident", {"incident_id": oid, "action": action}, now,
                                    unit_id=incident_units[oid]))
        elif row.object_type == "task" and oid in tasks:
            incident_id, unit = tasks[oid]
            events.append(LiveEvent("task", {"task_id": oid, "incident_id": incident_id, "action": action}, now,
                                    unit_id=unit))
        elif row.object_type == "statement" and oid in statements:
            incident_id, unit = statements[oid]
            events.append(LiveEvent("incident", {"incident_id": incident_id, "statement_id": oid,
                                                 "action": action}, now, unit_id=unit))

    timeline_rows = session.execute(
        select(TimelineEvent.id, TimelineEvent.incident_id, TimelineEvent.kind, Incident.unit_id)
        .join(Incident, Incident.id == TimelineEvent.incident_id)
        .where(bounded(TimelineEvent.id, cursor.timeline, until.timeline if until else None))
        .order_by(TimelineEvent.id).limit(limit)).all()
    for row in timeline_rows:
        now = replace(now, timeline=row.id)
        events.append(LiveEvent("timeline", {"incident_id": row.incident_id, "event_id": row.id,
                                             "kind": str(row.kind)}, now, unit_id=row.unit_id))

    notification_rows = session.execute(
        select(Notification.id, Notification.recipient_id, Notification.channel, Notification.purpose,
               Notification.alert_id, Notification.incident_id)
        .where(bounded(Notification.id, cursor.notification, until.notification if until else None))
        .order_by(Notification.id).limit(limit)).all()
    notified_alerts = _alert_units(session, {r.alert_id for r in notification_rows
                                             if r.alert_id is not None and r.purpose in ALERT_PURPOSES})
    announced: set[int] = set()
    for row in notification_rows:
        now = replace(now, notification=row.id)
        if row.channel == "in_app":
            events.append(LiveEvent("notification", {"notification_id": row.id, "incident_id": row.incident_id},
                                    now, recipient=row.recipient_id))
        if row.alert_id in notified_alerts and row.alert_id not in announced:
            announced.add(row.alert_id)
            unit, incident_id = notified_alerts[row.alert_id]
            events.append(LiveEvent("alert", {"alert_id": row.alert_id, "incident_id": incident_id,
                                              "action": f"notify.{row.purpose}"}, now, unit_id=unit))

    mention_rows = session.execute(
        select(Mention.id, Mention.article_id, Mention.unit_id)
        .where(bounded(Mention.id, cursor.mention, until.mention if until else None))
        .order_by(Mention.id).limit(limit)).all()
    for row in mention_rows:
        now = replace(now, mention=row.id)
        events.append(LiveEvent("mention", {"mention_id": row.id, "article_id": row.article_id}, now,
                                unit_id=row.unit_id))
    return events, now


def _alert_units(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, int | None]]:
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    rows = session.execute(select(Alert.id, Alert.unit_id, Alert.incident_id).where(Alert.id.in_(ids)))
    return {r.id: (r.unit_id, r.incident_id) for r in rows}


def _incident_units(session: Session, ids: Iterable[int]) -> dict[int, str]:
    ids = list(ids)
    if not ids:
        return {}
    return {r.id: r.unit_id for r in session.execute(select(Incident.id, Incident.unit_id)
                                                       .where(Incident.id.in_(ids)))}


def _task_incidents(session: Session, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(select(Task.id, Task.incident_id, Incident.unit_id)
                           .join(Incident, Incident.id == Task.incident_id).where(Task.id.in_(ids)))
    return {r.id: (r.incident_id, r.unit_id) for r in rows}


def _statement_incidents(session: Session, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(select(Statement.id, Statement.incident_id, Incident.unit_id)
                           .join(Incident, Incident.id == Statement.incident_id).where(Statement.id.in_(ids)))
    return {r.id: (r.incident_id, r.unit_id) for r in rows}


# --- the shared poller -------------------------------------------------------------------------------------------

class TooManyStreams(Exception):
    """The user already holds ``max_per_user`` streams."""


class HubClosed(Exception):
    """The server is stopping: no new streams."""


@dataclass(eq=False)
class Subscriber:
    principal: Principal
    start: Cursor
    queue: asyncio.Queue[LiveEvent | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False


class LiveHub:
    """One database poller per app, fanning changes out to the open streams (see the module docstring)."""

    def __init__(self, session_factory: sessionmaker[Session], *, poll_seconds: float = POLL_SECONDS,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS, max_stream_seconds: float = MAX_STREAM_SECONDS,
                 max_per_user: int = MAX_PER_USER):
        self.session_factory = session_factory
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.max_stream_seconds = max_stream_seconds
        self.max_per_user = max_per_user
        self.cursor: Cursor | None = None
        self.closed = False
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def connections(self) -> int:
        return len(self._subscribers)

    async def subscribe(self, principal: Principal) -> Subscriber:
        """Register a stream; it hears every change after ``Subscriber.start`` (the hub's cursor right now)."""
        if self.closed:
            raise HubClosed
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (a test client's per-request loop): start afresh in it
            self._loop, self._lock, self._task, self.cursor = loop, asyncio.Lock(), None, None
            self._subscribers = set()
        if sum(1 for s in self._subscribers if s.principal.user_id == principal.user_id) >= self.max_per_user:
            raise TooManyStreams
        assert self._lock is not None
        async with self._lock:
            if self._task is None or self._task.done():
                self.cursor = await asyncio.to_thread(self._read_latest)
                self._task = loop.create_task(self._run(), name="live-events-poller")
            sub = Subscriber(principal, self.cursor)
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def close(self) -> None:
        """End every stream now and stop polling (server shutdown)."""
        self.closed = True
        for sub in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)  # a full queue's stream sees ``closed`` after its next event
        self._subscribers.clear()
        if self._task is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)

    def _read_latest(self) -> Cursor:
        with self.session_factory() as session:
            return latest_cursor(session)

    def _read_changes(self, cursor: Cursor) -> tuple[list[LiveEvent], Cursor]:
        with self.session_factory() as session:
            return changes_since(session, cursor)

    async def _run(self) -> None:
        delay = self.poll_seconds
        while self._subscribers and not self.closed:
            await asyncio.sleep(delay)
            if not self._subscribers:
                break
            try:
                events, cursor = await asyncio.to_thread(self._read_changes, self.cursor or Cursor())
            except Exception as exc:  # database away: keep the streams open, try again less often
                log.warning("live events: polling failed", extra={"error": str(exc)[:300]})
                delay = min(delay * 2, 30.0)
                continue
            delay = self.poll_seconds
            self.cursor = cursor
            for sub in list(self._subscribers):
                for event in events:
                    if sub.overflowed or not event.visible_to(sub.principal):
                        continue
                    try:
                        sub.queue.put_nowait(event)
                    except asyncio.QueueFull:
                        sub.overflowed = True


# --- the route ---------------------------------------------------------------------------------------------------

@router.get("/events", include_in_schema=False)
async def events(request: Request) -> StreamingResponse:
    """The signed-in user's live event stream (``text/event-stream``).

    Signed in like every dashboard page (the session cookie; the login page otherwise, the password page for an
    initial password), but checked in a short session of its own rather than through ``PageUser``: a dependency's
    database session would stay open, holding a pooled connection, for as long as the stream runs.
    """
    me = await asyncio.to_thread(_principal, request)
    if me is None:
        raise LoginRequired("/")
    if me.must_change_password:
        raise PasswordChangeRequired
    hub: LiveHub = request.app.state.live
    try:
        sub = await hub.subscribe(me)
    except TooManyStreams:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "实时连接过多，请关闭部分页面后刷新") from None
    except HubClosed:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "服务正在停止") from None
    resume = Cursor.parse(request.headers.get("last-event-id"))
    return StreamingResponse(_stream(request, hub, sub, resume), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _stream(request: Request, hub: LiveHub, sub: Subscriber, resume: Cursor | None) -> AsyncIterator[str]:
    started = time.monotonic()
    try:
        yield f"retry: {RETRY_MS}\n\n"
        if resume is not None and resume.behind(sub.start):
            replay, complete = await asyncio.to_thread(_replay, hub, sub, resume)
            if not complete:
                yield f"id: {sub.start}\nevent: reset\ndata: {{}}\n\n"
            else:
                for event in replay:
                    yield event.encode()
        yield f"id: {sub.start}\n: connected\n\n"
        while not hub.closed:
            if sub.overflowed:
                sub.overflowed = False
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                yield f"id: {hub.cursor}\nevent: reset\ndata: {{}}\n\n"
            left = hub.max_stream_seconds - (time.monotonic() - started)
            if left <= 0:
                return
            try:
                event = await asyncio.wait_for(sub.queue.get(), min(hub.heartbeat_seconds, left))
            except TimeoutError:
                if not await asyncio.to_thread(_still_signed_in, request):
                    yield "event: signed_out\ndata: {}\n\n"
                    return
                if sub.queue.empty() and not sub.overflowed and hub.cursor is not None:
                    yield f"id: {hub.cursor}\n: heartbeat\n\n"
                else:
                    yield ": heartbeat\n\n"
                continue
            if event is None:  # the hub closed: the server is stopping
                return
            yield event.encode()
    finally:
        hub.unsubscribe(sub)


def _replay(hub: LiveHub, sub: Subscriber, resume: Cursor) -> tuple[list[LiveEvent], bool]:
    """The changes a reconnecting page missed, between its cursor and where its live events start; ``complete`` is
    False when there were more than ``REPLAY_LIMIT`` rows of a sequence (the page then refreshes everything)."""
    out: list[LiveEvent] = []
    cursor = resume
    with hub.session_factory() as session:
        for _ in range(REPLAY_LIMIT // BATCH):
            events, after = changes_since(session, cursor, until=sub.start, limit=BATCH)
            out.extend(e for e in events if e.visible_to(sub.principal))
            if after == cursor or not after.behind(sub.start):
                return out, True
            cursor = after
    return out, not cursor.behind(sub.start)


def _principal(request: Request) -> Principal | None:
    with request.app.state.session_factory() as session:
        return _session_principal(request, session)


def _still_signed_in(request: Request) -> bool:
    """Whether the stream's session still stands (not logged out, password unchanged, user not removed)."""
    try:
        principal = _principal(request)
    except Exception:  # database away: keep the stream; the next heartbeat checks again
        return True
    return principal is not None and not principal.must_change_password
