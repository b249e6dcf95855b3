"""Admission control (``api.admission``): no more requests inside the app than the pool keeps connections, the rest
queued on the event loop or turned away with 503 + Retry-After; the live-update stream never counts; and a server
with far more concurrent clients than connections answers every request instead of stalling."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api import admission
from api.admission import AdmissionMiddleware, Gate
from tests.e2e.served_app import ServedApp


def _http_app(hold: asyncio.Event, seen: list[str], inside: list[int], peak: list[int]):
    """A bare ASGI app: records each path, counts how many are inside at once, waits for ``hold`` on /slow."""

    async def app(scope, receive, send):
        seen.append(scope["path"])
        inside[0] += 1
        peak[0] = max(peak[0], inside[0])
        try:
            if scope["path"].startswith(("/slow", "/events")):
                await hold.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        finally:
            inside[0] -= 1

    return app


async def _call(app, path: str, method: str = "GET") -> tuple[int, dict[bytes, bytes]]:
    out: dict = {}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"], out["headers"] = message["status"], dict(message["headers"])

    await app({"type": "http", "path": path, "method": method, "headers": []}, receive, send)
    return out["status"], out["headers"]


def test_no_more_than_the_limit_are_inside_and_the_rest_are_served_in_turn():
    async def scenario():
        hold, seen, inside, peak = asyncio.Event(), [], [0], [0]
        app = AdmissionMiddleware(_http_app(hold, seen, inside, peak), limit=2, queue=10, wait_s=5)
        calls = [asyncio.create_task(_call(app, f"/slow/{i}")) for i in range(6)]
        for _ in range(20):
            await asyncio.sleep(0)
        inside_while_held = inside[0]
        hold.set()
        results = await asyncio.gather(*calls)
        return inside_while_held, peak[0], results, seen, app.gate

    inside_while_held, peak, results, seen, gate = asyncio.run(scenario())
    assert inside_while_held == 2 and peak == 2
    assert [status for status, _ in results] == [200] * 6
    assert seen == [f"/slow/{i}" for i in range(6)]  # arrival order
    assert gate.active == 0 and not gate.waiters and gate.refused == 0


def test_a_full_queue_and_a_long_wait_are_answered_503_with_retry_after():
    async def scenario():
        hold, seen, inside, peak = asyncio.Event(), [], [0], [0]
        app = AdmissionMiddleware(_http_app(hold, seen, inside, peak), limit=1, queue=1, wait_s=0.2)
        held = asyncio.create_task(_call(app, "/slow"))
        queued = asyncio.create_task(_call(app, "/api/v1/alerts"))
        await asyncio.sleep(0.01)
        refused_now = await _call(app, "/api/v1/alerts")  # the queue (1) is full
        timed_out = await queued  # waited 0.2 s for the one slot
        hold.set()
        await held
        after = await _call(app, "/api/v1/alerts")
        return refused_now, timed_out, after, app.gate

    refused_now, timed_out, after, gate = asyncio.run(scenario())
    for status, headers in (refused_now, timed_out):
        assert status == 503 and headers[b"retry-after"] == b"1"
        assert headers[b"content-type"] == b"application/json"
    assert after[0] == 200
    assert gate.refused == 2 and gate.active == 0 and not gate.waiters


def test_the_live_stream_and_static_files_never_count():
    async def scenario():
        hold, seen, inside, peak = asyncio.Event(), [], [0], [0]
        app = AdmissionMiddleware(_http_app(hold, seen, inside, peak), limit=1, queue=0, wait_s=0.1)
        streams = [asyncio.create_task(_call(app, "/events")) for _ in range(3)]
        await asyncio.sleep(0.01)
        read = await _call(app, "/api/v1/alerts")  # the one slot is still free
        static = await _call(app, "/static/app.css")
        hold.set()
        await asyncio.gather(*streams)
        return read, static, app.gate

    read, static, gate = asyncio.run(scenario())
    assert read[0] == 200 and static[0] == 200 and gate.refused == 0


def test_sign_ins_are_left_to_the_password_gate():
    async def scenario():
        hold, seen, inside, peak = asyncio.Event(), [], [0], [0]
        app = AdmissionMiddleware(_http_app(hold, seen, inside, peak), limit=1, queue=0, wait_s=0.1)
        busy = asyncio.create_task(_call(app, "/slow", "POST"))  # takes the one slot
        await asyncio.sleep(0.01)
        signin = await _call(app, "/login", "POST")
        form = await _call(app, "/login")  # the form itself is an ordinary request: refused (queue 0)
        hold.set()
        return signin, form, await busy, app.gate

    signin, form, busy, gate = asyncio.run(scenario())
    assert signin[0] == 200 and busy[0] == 200 and form[0] == 503 and gate.refused == 1


def test_a_waiter_that_goes_away_gives_back_nothing_it_did_not_take():
    async def scenario():
        gate = Gate(limit=1, queue=5, wait_s=5)
        assert await gate.enter()
        waiter = asyncio.create_task(gate.enter())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gate.leave()
        return gate

    gate = asyncio.run(scenario())
    assert gate.active == 0 and not gate.waiters


def test_the_limit_is_the_pools_kept_connections(db: sessionmaker[Session]):
    assert admission.pool_limit(db.kw["bind"]) == 5  # SQLite file: QueuePool(5, overflow 10)
    assert admission.pool_limit(object()) == admission.DEFAULT_LIMIT


@pytest.fixture
def served(app: FastAPI) -> Iterator[ServedApp]:
    server = ServedApp(app)
    yield server
    server.stop()


def _get(port: int, path: str, headers: dict[str, str]) -> int:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{head}\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_many_more_clients_than_connections_are_all_answered(served: ServedApp, token_for, make, session):
    """64 clients at once on a pool of 5 (+10) connections: before admission control this could stall every request
    until the pool's 30 s timeout (threads waiting for connections held by requests waiting for threads)."""
    make.crisis()
    headers = token_for("wangmin")
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        for path in ("/api/v1/incidents?limit=20", "/api/v1/alerts?limit=20", "/api/v1/articles?limit=20"):
            code = _get(served.port, path, headers)
            with lock:
                statuses.append(code)

    threads = [threading.Thread(target=client) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert len(statuses) == 192
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
