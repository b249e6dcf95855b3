"""The event loop the long-running commands (``yuqing run``, ``yuqing api``) serve on: uvloop when installed.

Why: ``yuqing api --workers N`` gets uvloop and the httptools parser from uvicorn itself (``loop="auto"``,
``http="auto"``), but the single-process commands start their loop with ``asyncio.run`` and hand uvicorn a server
to await inside it (``api.server.serve_api``), so uvicorn never chooses their loop. uvloop's C loop costs less CPU
per request than asyncio's (docs/benchmarks.md, API throughput); the HTTP parser is uvicorn's choice in both cases.
Where uvloop is missing (it is a dependency, but not on every platform) this is plain ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` when uvloop can be imported, else None (asyncio's own loop)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop of :func:`loop_factory` (Python 3.11's ``asyncio.Runner``)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
