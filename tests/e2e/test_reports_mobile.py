"""On a phone: the HTML reports (专报 and 日报, as mailed) and the inbox with a delivered 日报 read well at 375 px —
no sideways scrolling of the page (wide tables keep their width and scroll inside their own box instead of
showing one character a line), body text at least 14 px, and the
issued report's page opens from the inbox. Screenshots go to ``var/test-output/briefings/mobile/`` (or
``$YUQING_TEST_OUTPUT``) so a person can look."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from api.app import create_app
from api.users import seed_users
from incidents.briefings import delivery, service
from tests.e2e.served_app import ServedApp
from tests.incidents.briefing_case import START, make_case
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.security import random_secret_key
from yuqing.settings import PROJECT_ROOT, load_settings

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
PHONE = {"width": 375, "height": 740}
PASSWORD = "Mobile-test-pass-1"
OVERFLOW_JS = "() => document.documentElement.scrollWidth - window.innerWidth"
FONT_JS = "() => parseFloat(getComputedStyle(document.body).fontSize)"
# the narrowest report table: a table squeezed to the phone's width shows one character a line
TABLE_JS = "() => Math.min(...[...document.querySelectorAll('.wide table')].map(t => t.getBoundingClientRect().width))"


@pytest.fixture(scope="module")
def policy():
    from incidents.policy import load_policy

    return load_policy(PROJECT_ROOT / "config" / "levels.yaml", PROJECT_ROOT / "config" / "checklists")


@pytest.fixture
def out_dir() -> Path:
    path = Path(os.environ.get("YUQING_TEST_OUTPUT", PROJECT_ROOT / "var" / "test-output")) / "briefings" / "mobile"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_reports_and_the_inbox_read_well_on_a_phone(sqlite_engine, org, policy, tmp_path, out_dir):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium missing: run `make test` (scripts/system-deps.sh installs it)")
    clock = FrozenClock(START)
    factory = make_sessionmaker(sqlite_engine)
    with factory() as session:
        case = make_case(session, org=org, policy=policy, clock=clock)
        seed_users(session, org, password=PASSWORD, clock=clock, must_change=False)
        clock.set(START + timedelta(days=1, hours=1))  # the next morning, 10:00: the 日报 of the case day is due
        issue = delivery.issue_report(session, kind="daily", day=START.date(), org=org, policy=policy, clock=clock)
        session.commit()
        files = {"briefing": service.render(service.incident_briefing(
                     session, incident_id=case.incident.id, kind="follow_up", org=org, policy=policy,
                     now=clock.now()), "html"),
                 "daily": service.render(service.daily_report(session, day=START.date(), org=org, policy=policy,
                                                              now=clock.now()).briefing, "html")}
    for name, data in files.items():
        (tmp_path / f"{name}.html").write_bytes(data)
    settings = load_settings(data_dir=tmp_path, secret_key=random_secret_key())
    app = create_app(settings=settings, session_factory=factory, org=org, clock=clock, policy=policy, sources=[])
    server = ServedApp(app)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport=PHONE, is_mobile=True, device_scale_factor=2,
                                       locale="zh-CN").new_page()
            for name in files:
                page.goto((tmp_path / f"{name}.html").as_uri())
                assert page.evaluate(OVERFLOW_JS) <= 1, f"{name}: the page scrolls sideways on a phone"
                assert page.evaluate(FONT_JS) >= 14
                assert page.evaluate(TABLE_JS) >= 600, f"{name}: tables squeezed to the phone's width"
                page.screenshot(path=str(out_dir / f"{name}.png"), full_page=True)
            base = f"http://127.0.0.1:{server.port}"
            page.goto(f"{base}/login")
            page.fill("input[name=login]", "chenjing")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{base}/inbox")
            assert "舆情日报" in page.content()
            assert page.evaluate(OVERFLOW_JS) <= 1, "the inbox scrolls sideways on a phone"
            page.screenshot(path=str(out_dir / "inbox.png"), full_page=True)
            page.click(f'a[href="/reports/issues/{issue.id}"]')
            assert page.url.endswith(f"/reports/issues/{issue.id}") and "确认阅知" in page.content()
            assert page.evaluate(OVERFLOW_JS) <= 1, "the issued report's page scrolls sideways on a phone"
            page.screenshot(path=str(out_dir / "issue.png"), full_page=True)
            browser.close()
    finally:
        server.stop()
