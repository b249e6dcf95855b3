"""A running pipeline applies saved configuration documents at its next round, without a restart: a keyword filter
plan and new acknowledgement clocks saved through ``api.config_admin`` change what the same ``Runtime`` does; an
invalid document that reached the database anyway keeps the old configuration running."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.config_admin import validate_and_save
from crawlers.models import Article, Mention
from incidents.models import Alert
from runner.config_reload import reload_if_changed
from runner.runtime import build_runtime, run_round
from sim.demo_sources import DEMO_SOURCES_FILE, SIM_HOST_PORT_VARIABLE, demo_source_ids
from sim.scenario import DEFAULT_START, build_scenario
from sim.server import SimServer
from tests.sim.running import serving
from yuqing import config_store
from yuqing.clock import FrozenClock
from yuqing.settings import PROJECT_ROOT, load_settings

WEIBO_TOKEN = "reload-test-token"
ACK = {"I": 7, "II": 17, "III": 37, "IV": 127}


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[FrozenClock, str]]:
    clock = FrozenClock(DEFAULT_START)
    server = SimServer(clock, build_scenario(DEFAULT_START), weibo_token=WEIBO_TOKEN, slow_page_seconds=0.1)
    with serving(server):
        yield clock, f"{server.host}:{server.port}"


def test_running_pipeline_picks_up_keywords_and_levels_without_restart(sqlite_engine, sim, tmp_path, monkeypatch):
    db_engine = sqlite_engine  # the whole pipeline over the sim once (the store itself is tested on both databases)
    clock, host_port = sim
    clock.set(DEFAULT_START + timedelta(hours=3))
    monkeypatch.setenv("YUQING_WEIBO_TOKEN", WEIBO_TOKEN)
    settings = load_settings(data_dir=tmp_path, sources_file=DEMO_SOURCES_FILE,
                             allow_private_sources=demo_source_ids())
    rt = build_runtime(settings, clock=clock, source_vars={SIM_HOST_PORT_VARIABLE: host_port}, engine=db_engine)
    rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "YUQING_RETRY_BACKOFF": 0.01}
    assert rt.config_generation == 0

    keywords = (PROJECT_ROOT / "config" / "keywords.yaml").read_text(encoding="utf-8")
    extra = "  - name: 测试-排除视频\n    role: filter\n    exclude: [视频]\n\n"
    keywords = keywords.replace("plans:\n", "plans:\n" + extra, 1)
    levels = (PROJECT_ROOT / "config" / "levels.yaml").read_text(encoding="utf-8")
    for code, old in {"I": 5, "II": 15, "III": 30, "IV": 120}.items():  # each level's own ack_minutes line
        levels, n = re.subn(rf"(- code: {code}\n(?:    .*\n)*?    ack_minutes: ){old}\b", rf"\g<1>{ACK[code]}", levels)
        assert n == 1, code
    with Session(db_engine) as session:
        for name, text in (("keywords.yaml", keywords), ("levels.yaml", levels)):
            assert validate_and_save(session, name, text, principal="admin", settings=settings, clock=clock) == []

    asyncio.run(run_round(rt))  # the same runtime: the round starts by applying the saved documents

    assert rt.config_generation > 0 and rt.settings.config_dir.parent.name == "config-effective"
    with Session(db_engine) as session:
        texts = session.scalars(select(Article.text).join(Mention, Mention.article_id == Article.id)).all()
        alerts = session.scalars(select(Alert)).all()
        fetched = session.scalars(select(Article.text)).all()
    # with the shipped plans five of the round's mentions speak of the video (新华路 and 视频 together): the filter
    # plan saved after the runtime was built sets every one of them aside
    assert any("视频" in (t or "") and "新华路" in (t or "") for t in fetched), "the filter had work to do"
    assert texts and not any("视频" in (t or "") for t in texts)
    assert alerts
    for alert in alerts:
        assert alert.ack_due_at - alert.created_at == timedelta(minutes=ACK[alert.level]), alert.level


def test_an_invalid_document_keeps_the_old_configuration(db_engine, tmp_path, caplog):
    clock = FrozenClock(DEFAULT_START)
    settings = load_settings(data_dir=tmp_path)
    rt = build_runtime(settings, clock=clock, engine=db_engine)
    policy = rt.policy
    with Session(db_engine) as session:  # bypassing validation, as a hand-written SQL update would
        config_store.save_document(session, "levels.yaml", "levels: nonsense\n", actor="dba", clock=clock)
        session.commit()
    with caplog.at_level(logging.ERROR, logger="yuqing.config"):
        assert reload_if_changed(rt) is False
        assert reload_if_changed(rt) is False  # said once per generation
    assert rt.policy is policy
    said = [r.getMessage() for r in caplog.records if r.name == "yuqing.config"]
    assert len(said) == 1 and "levels.yaml (数据库版本 1)" in said[0], said


def test_a_saved_stories_document_changes_the_running_story_windows(db_engine, tmp_path):
    """stories.yaml is configuration too: new windows apply at the next reload, other documents keep the index."""
    clock = FrozenClock(DEFAULT_START)
    settings = load_settings(data_dir=tmp_path)
    rt = build_runtime(settings, clock=clock, engine=db_engine)
    before = rt.story_index
    assert before.window == timedelta(hours=48)
    keywords = (PROJECT_ROOT / "config" / "keywords.yaml").read_text(encoding="utf-8")
    with Session(db_engine) as session:  # a change elsewhere leaves the story index (and its state) alone
        assert validate_and_save(session, "keywords.yaml", keywords + "\n", principal="admin", settings=settings,
                                 clock=clock) == []
    assert reload_if_changed(rt) is True and rt.story_index is before
    with Session(db_engine) as session:
        assert validate_and_save(session, "stories.yaml", "window_hours: 24\nslow_days: 10\n", principal="admin",
                                 settings=settings, clock=clock) == []
    assert reload_if_changed(rt) is True
    assert rt.story_index is not before
    assert (rt.story_index.window, rt.story_index.slow_window) == (timedelta(hours=24), timedelta(days=10))


def test_new_delivery_settings_keep_an_open_breaker_open(db_engine, tmp_path):
    """A reload with new delivery settings while the mail relay is down must not make the outage look over: the
    admins' "恢复" message follows the breaker closing, so a fresh (closed) breaker would announce a recovery that
    did not happen and let a burst of mail into the dead relay. Streaks and open breakers carry over; the new
    threshold and cool-down apply from then on."""
    clock = FrozenClock(DEFAULT_START)
    settings = load_settings(data_dir=tmp_path)
    rt = build_runtime(settings, clock=clock, engine=db_engine)
    before = rt.breakers
    for _ in range(before.failures):
        opened = before.failure("email")
    assert opened and before.state("email") == "open"
    before.failure("wecom")  # one failure short of opening: the streak carries over too
    channels = (PROJECT_ROOT / "config" / "channels.yaml").read_text(encoding="utf-8")
    changed, n = re.subn(r"(breaker_cooldown_seconds: )300\b", r"\g<1>900", channels)
    assert n == 1
    with Session(db_engine) as session:
        assert validate_and_save(session, "channels.yaml", changed, principal="admin", settings=settings,
                                 clock=clock) == []
    assert reload_if_changed(rt) is True
    after = rt.breakers
    assert after is not before and after.cooldown_seconds == 900
    assert after.state("email") == "open" and 800 < after.retry_in("email") <= 900
    assert after.state("wecom") == "closed" and after.snapshot()["wecom"]["consecutive_failures"] == 1
    assert after.opened_count == {"email": 1}
