"""The incident page of a demo-sized crisis in a real browser (Debian chromium via Playwright): with its evidence
collapsed and paged it stays under 6,000 px tall (it was ~17,000 px when every article was listed before the
timeline); opening the evidence shows one page of twenty and the pager moves on; the alert queue shows an
escalated alert's history. Screenshots go to ``var/test-output/incident/`` (or ``$YUQING_TEST_OUTPUT``)."""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.users import seed_users
from incidents import scheduled
from incidents.escalation import build_chain
from incidents.policy import load_policy
from tests.conftest import DEMO_START
from tests.e2e.served_app import ServedApp
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.security import random_secret_key
from yuqing.settings import PROJECT_ROOT, load_settings

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
PASSWORD = "Incident-page-pass-1"
ARTICLES = 150   # more than the demo crisis gathers
EVENTS = 40      # a busy morning's timeline
MAX_HEIGHT = 6000


def _factories() -> Any:
    path = Path(__file__).resolve().parents[1] / "api" / "factories.py"
    spec = importlib.util.spec_from_file_location("yuqing_e2e_incident_page_factories", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def out_dir() -> Path:
    path = Path(os.environ.get("YUQING_TEST_OUTPUT", PROJECT_ROOT / "var" / "test-output")) / "incident"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_a_demo_sized_incident_page_is_short_and_its_evidence_pages(sqlite_engine, org, tmp_path, out_dir):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium missing: run `make test` (scripts/system-deps.sh installs it)")
    clock = FrozenClock(DEMO_START)
    factory = make_sessionmaker(sqlite_engine)
    policy = load_policy(PROJECT_ROOT / "config" / "levels.yaml", PROJECT_ROOT / "config" / "checklists")
    with factory() as session:
        f = _factories().Factories(session, clock)
        story = f.story(title="示例银行新华路网点挤兑传闻")
        for i in range(ARTICLES):
            f.article(story=story, title=f"转发{i:03d}：新华路网点挤兑<script>console.log('XSS')</script>",
                      text="有人说新华路网点要挤兑了，大家排队取钱。" * 3, channel="social", source_id="weibo",
                      at=clock.now() + timedelta(minutes=i))
        f.story_risk(story=story, score=86.0, level="I")
        tasks = [(f"处置任务{n}", "commander", timedelta(minutes=30 * n)) for n in range(1, 13)]
        incident = f.incident(unit_id="xinhualu", level="I", story=story, tasks=tasks)
        for n in range(EVENTS):
            f.event(incident=incident, at=clock.now() + timedelta(minutes=n), kind="note", text=f"处置记录第{n}条")
        other = f.story(title="示例银行新华路网点服务投诉")
        f.article(story=other)
        alert = f.alert(story=other, level="I", ack_in=timedelta(minutes=5))
        alert.escalation_chain = [s.to_json() for s in build_chain(org, "xinhualu",
                                                                    policy.levels_file.escalation_roles("I"))]
        seed_users(session, org, password=PASSWORD, clock=clock, must_change=False)
        session.commit()
        for _ in range(2):
            clock.advance(timedelta(minutes=6))
            assert scheduled.run_escalations(session, org=org, policy=policy, clock=clock) == 1
            session.commit()
        incident_id, alert_id = incident.id, alert.id
    settings = load_settings(data_dir=tmp_path, secret_key=random_secret_key())
    app = create_app(settings=settings, session_factory=factory, org=org, clock=clock, policy=policy, sources=[])
    server = ServedApp(app)
    errors: list[str] = []
    dialogs: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" or "XSS" in m.text else None)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            base = f"http://127.0.0.1:{server.port}"
            page.goto(f"{base}/login")
            page.fill("input[name=login]", "liuqiang")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()

            page.goto(f"{base}/incidents/{incident_id}")
            collapsed = page.evaluate("() => document.documentElement.scrollHeight")
            assert collapsed < MAX_HEIGHT, collapsed
            assert page.locator("ol.evidence > li").first.is_visible() is False  # collapsed
            body = page.inner_text("body")
            for label in ("概况与时限", "处置清单", "时间线", "口径", "报告", "证据"):
                assert label in page.locator("nav.section-nav").inner_text(), label
            assert "处置记录第39条" in body  # the whole timeline is on the page, above the evidence
            page.screenshot(path=str(out_dir / "incident-collapsed.png"), full_page=True)

            page.locator("#evidence summary").click()
            assert page.locator("ol.evidence > li").count() == 20
            assert page.locator("ol.evidence > li").first.is_visible()
            opened = page.evaluate("() => document.documentElement.scrollHeight")
            page.click("#evidence a[rel=next]")
            page.wait_for_load_state()
            assert "evidence_page=2" in page.url
            assert page.locator("ol.evidence > li").first.is_visible()  # the page asked for opens the list
            assert "转发020" in page.locator("ol.evidence > li").first.inner_text()
            page.screenshot(path=str(out_dir / "incident-evidence-page2.png"), full_page=True)

            page.goto(f"{base}/alerts")
            card = page.locator(f"#alert-{alert_id}")
            text = card.inner_text()
            assert "上报记录" in text and "第1级" in text and "第2级" in text
            assert "自 2026-11-23 09:05 起超时未确认" in text
            page.screenshot(path=str(out_dir / "alerts-escalated.png"), full_page=True)
            browser.close()
    finally:
        server.stop()
    assert dialogs == [] and errors == [], (dialogs, errors)
    print(f"incident page height: {collapsed} px collapsed, {opened} px with one page of evidence open "
          f"({ARTICLES} articles, {EVENTS} timeline events)")
