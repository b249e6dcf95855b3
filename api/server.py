"""Run the API inside the current asyncio loop, beside the simulated internet and the pipeline.

uvicorn's ``Server.serve()`` is awaited as a task instead of ``uvicorn.run`` (which would own the loop); signal
handlers are left to the caller, who stops everything in order with ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc

import uvicorn
from fastapi import FastAPI

STARTUP_TIMEOUT_S = 10.0


def settle_heap() -> None:
    """Move everything built at start-up (modules, the app, the org chart, templates: a quarter of a million objects)
    out of the garbage collector's sight (``gc.freeze``), once the app is built and before it serves.

    Why: CPython's full collections walk every tracked object. A list page allocating a few thousand ORM rows set
    one off every few requests (9 full collections in 25 requests of the incident page, profiled), and each walked
    the whole start-up heap again. Frozen objects are never collected, which costs nothing here: they live as long
    as the process anyway."""
    gc.collect()
    gc.freeze()


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process that embeds it."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


async def serve_api(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, *,
                    log_level: str = "warning") -> tuple[uvicorn.Server, asyncio.Task]:
    """Start serving ``app`` on ``host:port`` in this loop; returns once the socket is listening.

    Port 0 picks a free port; read it back with ``bound_port(server)``.
    """
    settle_heap()
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
                            proxy_headers=False, server_header=False)
    server = _EmbeddedServer(config)
    task = asyncio.create_task(_serve_guarded(server), name=f"api:{host}:{port}")
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_S
    while not server.started:
        if task.done():
            task.result()  # re-raises the startup error (e.g. port in use) as RuntimeError
            raise RuntimeError(f"API server on {host}:{port} exited during startup")
        if asyncio.get_running_loop().time() > deadline:
            await stop(server, task)
            raise TimeoutError(f"API server on {host}:{port} did not start within {STARTUP_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.02)
    return server, task


async def stop_api(handle: tuple[uvicorn.Server, asyncio.Task], *, timeout: float = 10.0) -> None:
    """``stop`` for the pair ``serve_api`` returned."""
    server, task = handle
    await stop(server, task, timeout=timeout)


async def _serve_guarded(server: uvicorn.Server) -> None:
    """uvicorn calls ``sys.exit`` when it cannot start (port in use…); in a shared loop that must not end the
    process, so it becomes an ordinary error of this task."""
    try:
        await server.serve()
    except SystemExit as exc:
        raise RuntimeError(f"API server failed to start (exit code {exc.code})") from None


def bound_port(server: uvicorn.Server) -> int:
    """The TCP port the started server listens on (useful after ``port=0``)."""
    for srv in server.servers:
        for sock in srv.sockets:
            return sock.getsockname()[1]
    raise RuntimeError("server is not listening")


async def stop(server: uvicorn.Server, task: asyncio.Task, *, timeout: float = 10.0) -> None:
    """Ask the server to finish in-flight requests and exit; cancel it if it takes longer than ``timeout``.

    Open live-event streams (``GET /events``) never finish on their own, so the app's ``LiveHub`` is closed first:
    uvicorn waits for open responses before it exits.
    """
    hub = getattr(getattr(server.config.app, "state", None), "live", None)
    if hub is not None:
        hub.close()
    server.should_exit = True
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout)
    except TimeoutError:
        server.force_exit = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
