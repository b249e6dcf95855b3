"""Settings from YUQING_* variables, and the clocks every stage takes time from."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from yuqing.clock import FrozenClock, ScaledClock, SystemClock, ensure_utc
from yuqing.errors import ConfigError
from yuqing.settings import load_settings


def test_sqlite_under_data_dir_is_the_default(monkeypatch, tmp_path):
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    s = load_settings(data_dir=tmp_path)
    assert s.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'yuqing.db'}"


def test_database_url_from_environment(monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert load_settings().effective_database_url.startswith("postgresql+psycopg://")


def test_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("YUQING_API_PORT", "70000")
    with pytest.raises(ConfigError, match="YUQING_API_PORT"):
        load_settings()
    monkeypatch.setenv("YUQING_API_PORT", "8000")
    monkeypatch.setenv("YUQING_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match="YUQING_TIMEZONE"):
        load_settings()


def test_frozen_clock_moves_only_when_told():
    c = FrozenClock(datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=8))))
    assert c.now() == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    c.advance(timedelta(minutes=5))
    asyncio.run(c.sleep(60))
    assert c.now() == datetime(2026, 11, 23, 1, 6, tzinfo=UTC)


def test_scaled_clock_runs_faster_than_the_wall():
    start = datetime(2026, 11, 23, tzinfo=UTC)
    c = ScaledClock(start, speed=3600)
    time.sleep(0.05)
    elapsed = c.now() - start
    assert timedelta(seconds=150) <= elapsed <= timedelta(seconds=3600)
    with pytest.raises(ValueError):
        ScaledClock(start, speed=0)


def test_clocks_are_always_aware_utc():
    assert SystemClock().now().tzinfo is UTC
    assert ensure_utc(datetime(2026, 1, 1)).tzinfo is UTC


def test_scaled_clocks_with_one_wall_clock_origin_agree_and_stand_still_before_it():
    """The distributed demo's processes each build their own clock from (start, speed, origin): they must agree."""
    start = datetime(2026, 11, 23, tzinfo=UTC)
    waiting = ScaledClock(start, speed=1500, origin=time.time() + 60)
    assert waiting.now() == start  # before the origin simulated time stands at the start
    origin = time.time() - 2.0
    first = ScaledClock(start, speed=1500, origin=origin)
    time.sleep(0.05)
    second = ScaledClock(start, speed=1500, origin=origin)  # created later, as a worker started later
    a, b = first.now(), second.now()
    assert timedelta(seconds=2.0 * 1500) <= a - start <= timedelta(seconds=10 * 1500)
    assert abs((b - a).total_seconds()) < 1.0 * 1500  # both read the same simulated time (within a read apart)
