"""A walk-in complaint entered on a phone (390 × 844): the outlet head opens 投诉 → 登记投诉, first submits the form
without the complaint text (the Chinese error appears beside the field, everything typed is still there), then
completes it; the complaint's page shows its four clocks first (due times in Beijing time), records 告知受理 in
person, and the contact clock turns 按时完成. Nothing scrolls sideways. Screenshots go to
``var/test-output/complaints/mobile/`` (or ``$YUQING_TEST_OUTPUT``)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from api.app import create_app
from api.users import seed_users
from incidents.complaints.models import Complaint
from tests.e2e.served_app import ServedApp
from tests.e2e.test_reports_mobile import CHROMIUM, CHROMIUM_ARGS, FONT_JS, OVERFLOW_JS
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.security import random_secret_key
from yuqing.settings import PROJECT_ROOT, load_settings

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
PASSWORD = "Complaint-phone-pass-1"
NOW = datetime(2026, 9, 30, 10, 20, tzinfo=ZoneInfo("Asia/Shanghai"))  # the customer walked in at 10:00


@pytest.fixture
def out_dir() -> Path:
    path = Path(os.environ.get("YUQING_TEST_OUTPUT", PROJECT_ROOT / "var" / "test-output")) / "complaints" / "mobile"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_a_walk_in_complaint_entered_on_a_phone_shows_its_clocks(sqlite_engine, org, tmp_path, out_dir):
    from playwright.sync_api import sync_playwright

    from incidents.policy import load_policy

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium missing: run `make test` (scripts/system-deps.sh installs it)")
    clock = FrozenClock(NOW)
    factory = make_sessionmaker(sqlite_engine)
    with factory() as session:
        seed_users(session, org, password=PASSWORD, clock=clock, must_change=False)
        session.commit()
    policy = load_policy(PROJECT_ROOT / "config" / "levels.yaml", PROJECT_ROOT / "config" / "checklists")
    settings = load_settings(data_dir=tmp_path, secret_key=random_secret_key())
    app = create_app(settings=settings, session_factory=factory, org=org, clock=clock, policy=policy, sources=[])
    server = ServedApp(app)
    base = f"http://127.0.0.1:{server.port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                       locale="zh-CN").new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=login]", "huangwei")  # 新华路网点负责人
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.click("button[type=submit]")
            page.click("nav >> text=投诉")
            with page.expect_navigation():
                page.click("text=登记投诉")
            assert page.url == f"{base}/complaints/new"
            assert page.evaluate(OVERFLOW_JS) <= 1, "the form scrolls sideways on a phone"
            assert page.evaluate(FONT_JS) >= 14
            assert page.input_value("#channel") == "walk_in" and page.input_value("#unit_id") == "xinhualu"
            assert page.input_value("#received_at") == "2026-09-30T10:20"  # now, in Beijing time
            page.fill("#received_at", "2026-09-30T10:00")
            page.select_option("#category", "service_attitude")
            page.check("input[name=severity][value=important]")
            page.fill("#customer_name", "张三丰")
            page.fill("#customer_phone", "13912345678")
            page.fill("#account_or_product", "借记卡 6222 0212 3456 7890")
            page.set_input_files("#attachments", files=[{"name": "意见簿.jpg", "mimeType": "image/jpeg",
                                                         "buffer": b"\xff\xd8\xff photo of the comment book"}])
            with page.expect_navigation():
                page.click("form.complaint-form button[type=submit]")
            # the text was forgotten: the Chinese error beside it, the rest kept
            assert page.locator("#description-error").inner_text() == "投诉内容不能为空"
            assert page.input_value("#customer_name") == "张三丰"
            assert page.input_value("#received_at") == "2026-09-30T10:00"
            assert page.is_checked("input[name=severity][value=important]")
            page.screenshot(path=str(out_dir / "form-error.png"), full_page=True)
            page.fill("#description", "客户称柜员办理挂失时态度生硬，要求道歉。")
            page.set_input_files("#attachments", files=[{"name": "意见簿.jpg", "mimeType": "image/jpeg",
                                                         "buffer": b"\xff\xd8\xff photo of the comment book"}])
            with page.expect_navigation():
                page.click("form.complaint-form button[type=submit]")
            assert "/complaints/" in page.url and "投诉已登记" in page.inner_text("main")
            assert page.evaluate(OVERFLOW_JS) <= 1, "the complaint's page scrolls sideways on a phone"
            clocks = page.locator("#clocks li")
            assert clocks.count() == 4
            # 重要, received 30 Sep 10:00: resolved within 5 working days across National Day and its make-up Saturday
            expected = {"entry": "2026-10-01 10:00", "contact": "2026-10-02 10:00", "resolve": "2026-10-13 10:00",
                        "reply": "2026-10-15 10:00"}
            for key, due in expected.items():
                assert due in page.locator(f"#clocks [data-clock={key}] .clock-due").inner_text(), key
            assert page.locator("#clocks [data-clock=entry] .clock-badge").inner_text() == "按时完成"
            # the clocks come before everything else on the phone's screen
            assert page.locator("#clocks").bounding_box()["y"] < page.locator("#steps").bounding_box()["y"]
            assert "张**" in page.inner_text("main") and "13912345678" not in page.content()
            page.screenshot(path=str(out_dir / "complaint.png"), full_page=True)
            form = page.locator("form[data-step=acknowledge]")
            form.locator("select[name=how]").select_option("in_person")
            with page.expect_navigation():
                form.locator("button[type=submit]").click()
            assert page.locator("#clocks [data-clock=contact] .clock-badge").inner_text() == "按时完成"
            assert page.locator("form[data-step=acknowledge]").count() == 0
            page.screenshot(path=str(out_dir / "acknowledged.png"), full_page=True)
            page.goto(f"{base}/complaints")
            assert page.evaluate(OVERFLOW_JS) <= 1, "the list scrolls sideways on a phone"
            browser.close()
    finally:
        server.stop()
    with factory() as session:
        (c,) = session.query(Complaint).all()
        assert (c.channel, c.severity, c.unit_id, c.first_contact_owner_id) == ("walk_in", "important", "xinhualu",
                                                                                 "huangwei")
        assert [a.filename for a in c.attachments] == ["意见簿.jpg"]
