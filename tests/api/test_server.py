"""``serve_api`` runs the app in the caller's asyncio loop next to other tasks, and ``stop`` ends it cleanly."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from api.server import bound_port, serve_api, stop, stop_api


def test_serve_api_in_the_current_loop_and_stop(app):
    async def scenario() -> tuple[int, dict, bool]:
        ticks = 0

        async def other_work() -> None:  # the sim and the pipeline share this loop
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        worker = asyncio.create_task(other_work())
        server, task = await serve_api(app, "127.0.0.1", 0)
        port = bound_port(server)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            r = await http.get("/healthz")
        await stop(server, task)
        worker.cancel()
        return r.status_code, r.json(), task.done() and ticks > 0

    status, body, clean = asyncio.run(scenario())
    assert status == 200 and body == {"status": "ok"} and clean


def test_port_in_use_is_an_error_not_a_process_exit(app):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        async def scenario() -> None:
            await serve_api(app, "127.0.0.1", port)

        with pytest.raises(RuntimeError, match="failed to start"):
            asyncio.run(scenario())


def test_stop_api_takes_the_pair_serve_api_returned(app):
    async def scenario() -> bool:
        handle = await serve_api(app, "127.0.0.1", 0)
        await stop_api(handle)
        return handle[1].done()

    assert asyncio.run(scenario())
