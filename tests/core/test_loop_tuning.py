"""Issue 13's measures for the dashboard's loop in ``yuqing run`` (``runner.loop``): the step threads run nicer than
the dashboard's thread, the GIL switch interval is shortened, and the CPU-heavy stages can run in a process of their
own (``StageProcess``) that goes all the way to a delivered alert, stops when told and is started again if it dies.
Whether any of it makes the dashboard faster is measured by ``python -m bench dashboard-latency``, not here."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from runner import loop as loop_module
from runner import stages
from runner.loop import HEAVY_STAGES, STAGES, StageLoops, StageProcess, favour_the_dashboard
from runner.runtime import build_runtime
from sentiment.rules import RuleBasedClassifier
from tests.core.workers_site import Site
from yuqing.clock import SystemClock
from yuqing.db import engine_for
from yuqing.migrate import upgrade
from yuqing.settings import Settings

SECRET = "loop-tuning-tests-7Hd2Kq9Xv4Mn8Lc1Rb5Wt3Zp6Gj0Fs"


def _settings(tmp_path: Path, site: Site) -> Settings:
    (tmp_path / "sources.yaml").write_text(site.sources_yaml(), encoding="utf-8")
    return Settings(data_dir=tmp_path, secret_key=SECRET, sources_file=tmp_path / "sources.yaml",
                    allow_private_sources=["jcwb"], database_url=f"sqlite:///{tmp_path / 'y.db'}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_step_threads_run_nicer_than_the_dashboards_thread_and_the_switch_interval_is_shortened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    site = Site(articles=1)
    settings = _settings(tmp_path, site)
    engine = engine_for(settings)
    upgrade(engine)
    rt = build_runtime(settings, clock=SystemClock(), engine=engine, classifier=RuleBasedClassifier())
    monkeypatch.setattr(stages, "_step_executor", None)  # a pool of this test's own, shut down below
    monkeypatch.setattr(stages, "STEP_NICE", 0)
    before = sys.getswitchinterval()
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def priority_here() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def scenario() -> tuple[dict[str, object], float, int]:
        tuned = favour_the_dashboard(rt, step_nice=3)
        return tuned, sys.getswitchinterval(), await stages.in_step_thread(priority_here)

    try:
        tuned, interval, step_priority = asyncio.run(scenario())
    finally:
        sys.setswitchinterval(before)
        if stages._step_executor is not None:
            stages._step_executor.shutdown(wait=True)
        engine.dispose()
    assert interval == pytest.approx(loop_module.SWITCH_INTERVAL_S) and interval < 0.005
    assert tuned["step_nice"] == 3 and "model_threads" not in tuned  # the rule classifier has no threads to cut
    assert step_priority == min(19, mine + 3)
    assert priority_here() == mine  # the calling (dashboard's) thread is untouched


def test_the_heavy_stages_in_their_own_process_reach_a_delivered_alert_stop_when_told_and_restart_if_killed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("YUQING_MODEL_DIR", str(tmp_path / "no-model"))  # the child falls back to the rules
    monkeypatch.setattr(loop_module, "RESTART_AFTER_S", 0.5)
    site = Site(articles=2).start()
    settings = _settings(tmp_path, site)
    engine = engine_for(settings)
    upgrade(engine)
    rt = build_runtime(settings, clock=SystemClock(), engine=engine, classifier=RuleBasedClassifier())
    rt.evidence_config = None

    def count(sql: str) -> int:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()

    def delivered() -> bool:
        return count("SELECT count(*) FROM articles WHERE stage = 'scored'") == 2 and count(
            "SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE n.status = 'sent'") > 0

    async def scenario() -> tuple[bool, int | None, int | None, int, bool, int | None]:
        stop = asyncio.Event()
        child = StageProcess(settings, crawl_overrides={"DOWNLOAD_DELAY": 0, "LOG_LEVEL": "ERROR"}, nice=0)
        here = [name for name in STAGES if name not in HEAVY_STAGES]
        running = asyncio.gather(child.supervise(stop), StageLoops(rt, stop).run(here))
        try:
            started = time.monotonic()
            while not delivered() and time.monotonic() - started < 120:
                await asyncio.sleep(0.3)
            alerted = delivered()
            assert child.process is not None
            first = child.process
            first.kill()
            await asyncio.to_thread(first.join, 10)
            while (child.process is first or not child.process.is_alive()) and time.monotonic() - started < 180:
                await asyncio.sleep(0.2)
            second = child.process
            restarted_alive = second is not first and second.is_alive()
        finally:
            stop.set()
            await running
        return alerted, first.exitcode, second.pid, child.starts, restarted_alive, second.exitcode

    try:
        alerted, first_exit, second_pid, starts, restarted_alive, second_exit = asyncio.run(scenario())
    finally:
        site.stop()
        engine.dispose()
    assert alerted, "the stage process did not take the articles to a delivered alert"
    assert first_exit == -9 and starts == 2 and restarted_alive and second_pid is not None
    assert second_exit == 0  # asked to stop, it finished its steps and exited by itself (not terminated)
    assert count_in(settings, "SELECT count(*) FROM alerts") == 1  # two processes, one alert: nothing done twice


def count_in(settings: Settings, sql: str) -> int:
    engine = engine_for(settings)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()
