"""Small helpers shared by tests of several packages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class CallCount:
    """How many times the function a ``counting_calls`` block replaced was called inside it."""

    calls: int = 0


@contextmanager
def counting_calls(owner: Any, name: str) -> Iterator[CallCount]:
    """Replace ``owner.name`` (a module's function) by a wrapper that counts its calls and calls it, for the
    block only: the original is put back when the block ends, on error too, so a test that replays the same work
    twice counts each replay on its own (a wrapper left in place would be wrapped again and count both)."""
    real = getattr(owner, name)
    count = CallCount()

    def counted(*args: Any, **kwargs: Any) -> Any:
        count.calls += 1
        return real(*args, **kwargs)

    setattr(owner, name, counted)
    try:
        yield count
    finally:
        setattr(owner, name, real)
