"""The simulated internet served from its own thread and event loop, so tests can stay synchronous code (httpx,
the pipeline's ``asyncio.run``) while the server keeps answering. One helper for every test that needs it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sim.server import SimServer


@contextmanager
def serving(server: SimServer, *, start_timeout: float = 10) -> Iterator[SimServer]:
    """Start ``server`` in a thread of its own; stop it and close its loop on exit. A start-up error is raised
    here, not lost in the thread."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: list[asyncio.Event] = []
    errors: list[BaseException] = []

    async def main() -> None:
        stop.append(asyncio.Event())
        try:
            await server.start()
        except BaseException as exc:
            errors.append(exc)
            started.set()
            return
        started.set()
        await stop[0].wait()
        await server.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(start_timeout), "sim server did not start"
    if errors:
        raise errors[0]
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(10)
        loop.close()
