"""``runner.event_loop``: the single-process commands serve on uvloop when it is installed (it is a dependency)."""

from __future__ import annotations

import asyncio

import uvloop

from runner import event_loop


def test_run_uses_uvloop_when_installed():
    async def which_loop() -> type:
        return type(asyncio.get_running_loop())

    assert issubclass(event_loop.run(which_loop()), uvloop.Loop)


def test_without_uvloop_it_is_asyncio_s_own_loop(monkeypatch):
    monkeypatch.setattr(event_loop, "loop_factory", lambda: None)

    async def which_loop() -> type:
        return type(asyncio.get_running_loop())

    loop_type = event_loop.run(which_loop())
    assert not issubclass(loop_type, uvloop.Loop)
    assert issubclass(loop_type, asyncio.BaseEventLoop)


def test_uvicorn_picks_uvloop_and_httptools_for_the_worker_processes():
    """``yuqing api --workers N`` leaves the choice to uvicorn (``loop`` / ``http`` "auto"): both must resolve to
    the C implementations, or the workers fall back to asyncio and h11 without a word."""
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    config = uvicorn.Config("runner.api_workers:worker_app", factory=True)
    factory = config.get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    from uvicorn.protocols.http.auto import AutoHTTPProtocol  # what http="auto" loads (without building the app)

    assert AutoHTTPProtocol is HttpToolsProtocol
