"""Helpers for the concurrency tests: run callables at the same moment, each with its own session."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from yuqing.db import make_sessionmaker


def run_at_once(engine: Engine, work: list[Callable[[Session], Any]]) -> list[Any]:
    """Run each ``work(session)`` in its own thread with its own session (its own database connection), released
    together by a barrier; return their results in order, re-raising the first error."""
    factory = make_sessionmaker(engine)
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)
    errors: list[BaseException] = []

    def run(i: int, fn: Callable[[Session], Any]) -> None:
        with factory() as session:
            try:
                barrier.wait(timeout=30)
                results[i] = fn(session)
            except BaseException as exc:  # reported to the test below
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(work)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    if errors:
        raise errors[0]
    return results
