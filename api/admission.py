"""Admission control: at most as many requests inside the app at once as the pool keeps database connections.

Why: FastAPI runs a synchronous dependency, the route and its response validation in worker threads (anyio's 40),
one hop after another, and a request holds its pooled database connection from its first query until its session
is closed. With more requests inside than the pool can hand out connections (5 kept and 10 more opened on demand,
by default), every worker thread could end up waiting for a connection while the connections belong to requests
waiting for a thread: nothing moved until the pool's 30 s timeout (one worker, 64 clients, ``python -m bench
api-load``). With at most as many requests admitted as the pool keeps (``pool_limit``: 5 by default, fewer than
anyio's 40 threads), each admitted request can always get a connection and a thread, so none of them stalls;
the others wait here, on the event loop, holding neither, in arrival order. A request that waits longer
than ``wait_s``, or arrives when ``queue`` are already waiting, is answered 503 with ``Retry-After`` at once: under
overload the server says so instead of letting latency grow without bound.

Not counted: the live-update stream (``GET /events``, Server-Sent Events: open for as long as a page is, holding
no connection between its polls, each read a short session in one thread), static files (no database) and sign-ins
(``POST /login``): those wait for the one-at-a-time password hash behind ``api.auth.PasswordGate``, which bounds
them and answers the overflow 503 itself, and hold a connection only within one thread; a crowd of guessers must not
take the slots of everyone else's reads (``python -m bench login-flood``). None of them holds a connection while
waiting for a thread, so they cannot take part in the stall above.
"""

from __future__ import annotations

import asyncio
import collections
import json
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_LIMIT = 5  # SQLAlchemy's QueuePool keeps 5 connections (and opens up to 10 more, closed after use)
QUEUE = 256  # requests allowed to wait for a slot; beyond that, 503 at once
WAIT_S = 10.0  # longest wait for a slot before 503
RETRY_AFTER_S = 1
EXEMPT_PREFIXES = ("/events", "/static/")


@dataclass
class Gate:
    """A counting gate whose waiters are served in arrival order; a freed slot is handed straight to the next."""

    limit: int
    queue: int
    wait_s: float
    active: int = 0
    refused: int = 0  # answered 503 (queue full or waited too long), for tests and logs
    waiters: collections.deque[asyncio.Future[None]] = field(default_factory=collections.deque)

    async def enter(self) -> bool:
        """Take a slot (True), or False when the queue is full or the wait ran out. Cancellation propagates."""
        if self.active < self.limit and not self.waiters:
            self.active += 1
            return True
        if len(self.waiters) >= self.queue:
            self.refused += 1
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), self.wait_s)
            return True
        except (TimeoutError, asyncio.CancelledError) as exc:
            if fut.done() and not fut.cancelled():
                self.leave()  # the slot was handed over just as we gave up: pass it on
            else:
                fut.cancel()
                self.waiters.remove(fut)
            if isinstance(exc, asyncio.CancelledError):
                raise
            self.refused += 1
            return False

    def leave(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot moves to the next waiter; ``active`` stays the same
                return
        self.active -= 1


class AdmissionMiddleware:
    """Pure ASGI: counts HTTP requests (not WebSocket/lifespan) through a ``Gate``; see the module docstring."""

    def __init__(self, app: ASGIApp, *, limit: int = DEFAULT_LIMIT, queue: int = QUEUE, wait_s: float = WAIT_S):
        self.app = app
        self.gate = Gate(limit=max(1, limit), queue=queue, wait_s=wait_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or path.startswith(EXEMPT_PREFIXES)
                or (path == "/login" and scope.get("method") == "POST")):
            await self.app(scope, receive, send)
            return
        gate = self.gate
        if not await gate.enter():
            await _busy(path, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.leave()


async def _busy(path: str, send: Send) -> None:
    """503 with Retry-After: JSON for the API, a short Chinese page for the dashboard."""
    message = "服务繁忙，请稍后重试"
    if path.startswith("/api/") or path == "/healthz":
        body, ctype = json.dumps({"detail": message}, ensure_ascii=False).encode(), b"application/json"
    else:
        body = (f"<!doctype html><meta charset=utf-8><title>服务暂不可用</title><p>{message}</p>").encode()
        ctype = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", ctype), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_S).encode())]})
    await send({"type": "http.response.body", "body": body})


def pool_limit(bind: object, default: int = DEFAULT_LIMIT) -> int:
    """How many connections the engine's pool keeps open (its size, not its overflow), or ``default`` when the pool
    does not say (SQLite's in-memory pools).

    Why the size and not size + overflow: an overflow connection is closed as soon as it is given back, so a server
    kept busier than the pool's size opened and closed a PostgreSQL connection (a new backend process) every few
    requests — seen in a profile of ``python -m bench api-load``. On two cores, five requests inside at once keep
    both busy; the rest wait here for a few milliseconds each."""
    pool = getattr(bind, "pool", None)
    size = getattr(pool, "size", None)
    if callable(size):
        return max(1, int(size()))
    return default
