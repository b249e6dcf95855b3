"""Injectable time sources.

Every stage asks a ``Clock`` for the time instead of calling ``datetime.now``: tests freeze it, and the demo runs
the whole system on a ``ScaledClock`` so that a crisis lasting simulated hours (with its 5-minute acknowledgement
clocks and 2-hour reports) plays out in under a minute of wall time. All times are timezone-aware UTC.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware, UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FrozenClock:
    """A clock that moves only when told to; for tests."""

    def __init__(self, start: datetime):
        self._now = ensure_utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = ensure_utc(when)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


class ScaledClock:
    """Simulated time running ``speed`` times faster than the wall clock from ``start``.

    Shared by the simulated internet and the pipeline in the demo, so both agree on what "now" is. Within one
    process it counts from its creation on the monotonic clock. Given ``origin`` (a Unix time, ``time.time()``) it
    counts from that wall-clock instant instead, and stands at ``start`` until then: every process handed the same
    ``start``, ``speed`` and ``origin`` reads the same simulated time (the distributed demo's worker processes,
    ``yuqing demo --workers``), whenever each of them was started.
    """

    def __init__(self, start: datetime, speed: float = 1.0, *, origin: float | None = None):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = ensure_utc(start)
        self.speed = float(speed)
        self.origin = origin
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        if self.origin is not None:
            return self.start + timedelta(seconds=max(0.0, time.time() - self.origin) * self.speed)
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def elapsed(self) -> timedelta:
        return self.now() - self.start

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds / self.speed))


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; naive datetimes are taken to be UTC already (as stored by SQLite)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
