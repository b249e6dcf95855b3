"""The whole pipeline over the simulated internet, on SQLite and PostgreSQL: one round finds the crisis, and a
crash in the middle of a round loses nothing and duplicates nothing when the process restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from crawlers.models import Article, Mention, Story
from incidents.models import Alert, Incident, Notification, Task
from runner.runtime import Runtime, build_runtime, run_round
from sentiment.models import StoryRisk
from sim.demo_sources import DEMO_SOURCES_FILE, SIM_HOST_PORT_VARIABLE, demo_source_ids
from sim.scenario import DEFAULT_START, build_scenario
from sim.server import SimServer
from tests.sim.running import serving
from yuqing.clock import FrozenClock
from yuqing.db import make_engine
from yuqing.migrate import upgrade
from yuqing.settings import load_settings

WEIBO_TOKEN = "pipeline-test-token"


@pytest.fixture(scope="module")
def sim_at() -> Iterator[tuple[FrozenClock, str]]:
    """A sim server in its own thread; tests move its clock."""
    clock = FrozenClock(DEFAULT_START)
    server = SimServer(clock, build_scenario(DEFAULT_START), weibo_token=WEIBO_TOKEN, slow_page_seconds=0.1)
    with serving(server):
        yield clock, f"{server.host}:{server.port}"


def _runtime(engine: Engine, clock: FrozenClock, host_port: str, tmp_path, monkeypatch) -> Runtime:
    monkeypatch.setenv("YUQING_WEIBO_TOKEN", WEIBO_TOKEN)
    settings = load_settings(data_dir=tmp_path, sources_file=DEMO_SOURCES_FILE,
                             allow_private_sources=demo_source_ids())
    rt = build_runtime(settings, clock=clock, source_vars={SIM_HOST_PORT_VARIABLE: host_port}, engine=engine)
    rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "YUQING_RETRY_BACKOFF": 0.01}
    return rt


def _state(engine: Engine) -> dict:
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        def n(model) -> int:
            return s.scalar(select(func.count()).select_from(model)) or 0

        return {
            "articles": n(Article), "mentions": n(Mention), "stories": n(Story), "alerts": n(Alert),
            "incidents": sorted((i.unit_id, i.level) for i in s.scalars(select(Incident))),
            "tasks": n(Task), "notifications": n(Notification),
            "unhandled_risks": s.scalar(select(func.count()).select_from(StoryRisk)
                                        .where(StoryRisk.handled_at.is_(None))),
            "unsent": s.scalar(select(func.count()).select_from(Notification)
                               .where(Notification.status == "pending")),
        }


def test_one_round_at_t_plus_3h_alerts_on_the_outlet(db_engine, sim_at, tmp_path, monkeypatch):
    clock, base = sim_at
    clock.set(DEFAULT_START + timedelta(hours=3))
    rt = _runtime(db_engine, clock, base, tmp_path, monkeypatch)
    report = asyncio.run(run_round(rt))
    assert report.crawled_sources == len(rt.sources)
    assert report.new_articles > 100
    state = _state(db_engine)
    assert state["mentions"] > 0 and state["alerts"] > 0
    assert any(unit == "xinhualu" for unit, _ in state["incidents"]), state
    assert state["unhandled_risks"] == 0 and state["unsent"] == 0
    # a second round at the same instant finds nothing new and sends nothing twice
    asyncio.run(run_round(rt))
    again = _state(db_engine)
    assert again == state


@pytest.fixture(scope="module")
def uninterrupted_at_t_plus_3h(sim_at, tmp_path_factory) -> dict:
    """The reference for the crash test: the state after an uninterrupted round at T+3h in a separate SQLite
    database. The same inputs for the SQLite and the PostgreSQL run of that test, so it is replayed once."""
    clock, base = sim_at
    clock.set(DEFAULT_START + timedelta(hours=3))
    tmp = tmp_path_factory.mktemp("pipeline-reference")
    ref_engine = make_engine(f"sqlite:///{tmp / 'reference.db'}")
    upgrade(ref_engine)
    try:
        with pytest.MonkeyPatch.context() as mp:
            asyncio.run(run_round(_runtime(ref_engine, clock, base, tmp, mp)))
        return _state(ref_engine)
    finally:
        ref_engine.dispose()


def test_crash_mid_round_resumes_without_duplicates_or_losses(db_engine, sim_at, tmp_path, monkeypatch,
                                                              uninterrupted_at_t_plus_3h):
    clock, base = sim_at
    clock.set(DEFAULT_START + timedelta(hours=3))

    # reference: an uninterrupted run in a separate SQLite database (module-scoped: one for both databases)
    reference = uninterrupted_at_t_plus_3h

    # the process dies while handing the third risk row to incidents
    import incidents.service

    real = incidents.service.handle_story_risk
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(incidents.service, "handle_story_risk", dying)
    with pytest.raises(SystemExit):
        asyncio.run(run_round(_runtime(db_engine, clock, base, tmp_path, monkeypatch)))
    crashed = _state(db_engine)
    assert crashed["unhandled_risks"] > 0  # the work left behind is visible, not lost

    # restart: a fresh runtime (fresh in-memory story index) picks up exactly where it stopped
    monkeypatch.setattr(incidents.service, "handle_story_risk", real)
    asyncio.run(run_round(_runtime(db_engine, clock, base, tmp_path, monkeypatch)))
    assert _state(db_engine) == reference


def test_run_with_the_shipped_empty_sources_file_starts_and_says_no_sources_are_configured(
    db_engine, tmp_path, caplog
):
    import logging

    settings = load_settings(data_dir=tmp_path)  # config/sources.yaml as shipped: `sources: []`
    with caplog.at_level(logging.WARNING, logger="yuqing.pipeline"):
        rt = build_runtime(settings, clock=FrozenClock(DEFAULT_START), engine=db_engine)
    assert rt.sources == []
    warnings = [r for r in caplog.records if r.name == "yuqing.pipeline" and "未配置任何来源" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].sources_file == str(settings.sources_path)
    report = asyncio.run(run_round(rt))
    assert report.crawled_sources == 0 and report.errors == []
