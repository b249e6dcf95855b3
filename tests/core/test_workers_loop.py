"""``yuqing run``'s stage loops (``runner.loop``): with one source hanging its crawl, the other source's articles go
through ingest, classify, score and incidents to a delivered alert, and the schedule stage keeps ticking, while
the slow crawl is still waiting for its answer. Real local HTTP server, real SQLite database, real clock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import text

from runner.loop import StageLoops
from runner.runtime import build_runtime
from sentiment.rules import RuleBasedClassifier
from tests.core.workers_site import Site
from yuqing.clock import SystemClock
from yuqing.db import engine_for
from yuqing.migrate import upgrade
from yuqing.settings import Settings

SLOW_SECONDS = 60.0  # far longer than the rest takes even on a loaded machine; the test ends long before


def test_a_hung_crawl_holds_up_neither_the_other_stages_nor_the_schedule(tmp_path: Path):
    site = Site(articles=2, slow_seconds=SLOW_SECONDS).start()
    (tmp_path / "sources.yaml").write_text(site.sources_yaml(slow=True), encoding="utf-8")
    settings = Settings(data_dir=tmp_path, secret_key="loop-tests-4Kd8Vn2Qx7Lm1Zc5Rb9Wt3Hp6Gj0Fs",
                        sources_file=tmp_path / "sources.yaml", allow_private_sources=["jcwb", "slow"],
                        database_url=f"sqlite:///{tmp_path / 'y.db'}")
    engine = engine_for(settings)
    upgrade(engine)
    rt = build_runtime(settings, clock=SystemClock(), engine=engine, classifier=RuleBasedClassifier())
    rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "LOG_LEVEL": "ERROR", "DOWNLOAD_TIMEOUT": 60}
    rt.evidence_config = None

    def count(sql: str) -> int:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()

    async def scenario() -> tuple[float, int, int, bool]:  # the slow source's request still hangs at the end
        stop = asyncio.Event()
        loops = StageLoops(rt, stop, cadences={"schedule": 0.5, "crawl": 0.5})
        runner = asyncio.create_task(loops.run())
        started = time.monotonic()
        try:
            while "/slow.xml" not in site.answered and time.monotonic() - started < SLOW_SECONDS:
                delivered = count("SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id "
                                  "WHERE n.status = 'sent'")
                if delivered and count("SELECT count(*) FROM articles WHERE stage = 'scored'") == 2:
                    break
                await asyncio.sleep(0.2)
            elapsed = time.monotonic() - started
            slow_still_crawling = "slow" in loops.crawling
            schedule_ticks = loops.ticks["schedule"]
            await asyncio.sleep(1.0)
            ticks_later = loops.ticks["schedule"]
        finally:
            stop.set()
            await runner
        return elapsed, schedule_ticks, ticks_later, slow_still_crawling

    try:
        elapsed, ticks, ticks_later, slow_still_crawling = asyncio.run(scenario())
    finally:
        site.stop()
        engine.dispose()
    assert "/slow.xml" in site.hits and slow_still_crawling, f"the alert waited for the hung crawl ({elapsed:.1f} s)"
    assert count_alerts(settings) == 1
    assert ticks >= 2 and ticks_later > ticks  # the schedule stage kept its cadence throughout


def count_alerts(settings: Settings) -> int:
    engine = engine_for(settings)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM alerts")).scalar_one()
    finally:
        engine.dispose()
