"""``OneHopRoute``: a JSON API route whose synchronous endpoint costs one worker-thread hop, not two.

Why: FastAPI runs a plain ``def`` endpoint in a worker thread and then, because the endpoint was synchronous, runs
the response model's validation in a *second* worker thread before serialising on the event loop. Each hop is a
hand-over between threads under the GIL — together 11–16 % of a short list's CPU in a profile of
``python -m bench api-load`` (docs/benchmarks.md, API throughput). This route class wraps such an endpoint in an
``async`` function that runs it in one worker thread (``run_in_threadpool``, as FastAPI would); FastAPI then sees a
coroutine endpoint and validates and serialises the result on the event loop, which for the model instance a route
returns is a type check and the Rust serialiser. Everything else is FastAPI's own handling: the signature and the
return annotation are the endpoint's (``functools.wraps``), so parameters, dependencies, status codes, response
models and OpenAPI are unchanged. Generator and ``async`` endpoints are left as they are.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


def in_one_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """An ``async`` stand-in for a synchronous ``endpoint`` that runs it in a worker thread."""

    @functools.wraps(endpoint)
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(endpoint, *args, **kwargs)

    return call


class OneHopRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        plain = not (inspect.iscoroutinefunction(endpoint) or inspect.isgeneratorfunction(endpoint)
                     or inspect.isasyncgenfunction(endpoint))
        super().__init__(path, in_one_thread(endpoint) if plain and inspect.isfunction(endpoint) else endpoint,
                         **kwargs)
