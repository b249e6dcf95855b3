"""``runner.loop.StageProcess`` started again after its process died closes the dead process's pipe first (one
file descriptor kept per restart otherwise, for as long as ``yuqing run --stage-process`` runs)."""

from __future__ import annotations

import asyncio

import runner.loop
from runner.loop import StageProcess


def exit_at_once(settings, names, nice, crawl_overrides, conn, ready) -> None:
    """A stage process that dies as soon as it starts (module level: the spawned child imports it by name)."""
    ready.set()


def test_a_restart_closes_the_dead_process_pipe(monkeypatch):
    monkeypatch.setattr(runner.loop, "_stage_process_main", exit_at_once)
    child = StageProcess(None, nice=0)  # type: ignore[arg-type]  (the stand-in reads no settings)
    child.start()
    child.process.join(60)
    assert child.process.exitcode == 0
    first = child._conn
    child.start()  # as ``supervise`` does after a death
    try:
        assert first is not None and first.closed
        assert child._conn is not None and not child._conn.closed
        assert child.starts == 2
    finally:
        asyncio.run(child.close(timeout=30))
    assert child.process.exitcode == 0
