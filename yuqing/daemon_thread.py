"""Blocking network calls that never hold up a process's exit.

``asyncio.to_thread`` runs on the loop's default executor, which ``asyncio.run`` joins when the loop closes (and
the interpreter joins again at exit). A send blocked on a peer that no longer answers — an SMTP server that
accepted the connection but sends no greeting, or the demo's own mail sink once its loop stops — then keeps Ctrl-C
waiting for the socket timeout, once per blocking step. A daemon thread is not joined: the process stops at once
and the send in flight is like one cut by a crash — its delivery lease brings it back later with the same delivery
id, which the receiver can use to drop a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the caller stopped waiting (round budget, shutdown): nothing to hand over
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


async def in_daemon_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in a new daemon thread (with the caller's context variables) and await its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def run() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = context.run(fn, *args)
        except BaseException as exc:  # handed to the awaiting coroutine, which decides what it means
            error = exc
        # RuntimeError: the loop has closed - the process is stopping and nobody waits for this send.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, result, error)

    threading.Thread(target=run, name=f"yuqing-send-{getattr(fn, '__name__', 'call')}", daemon=True).start()
    return await future
