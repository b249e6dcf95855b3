"""The dashboard warns, on every page, before the holiday calendar runs out (admins) and once it has (also those who
work to the deadlines it counts). The date is the app's clock, frozen here."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from incidents.workdays import HOLIDAYS_FILE, WorkingCalendar, package_years
from yuqing.settings import PROJECT_ROOT

SH = ZoneInfo("Asia/Shanghai")
BANNER = re.compile(r'<p class="notice calendar-notice( error)?" role="(status|alert)">([^<]*)</p>')
PAGES = ["/", "/alerts", "/incidents", "/sources", "/account"]
LAST = WorkingCalendar().last_covered_date  # 2026-12-31 with chinesecalendar 1.11


def on(day: date) -> datetime:
    return datetime.combine(day, time(9, 30), tzinfo=SH)


@pytest.fixture
def config_dir(tmp_path):
    target = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", target)
    (target / HOLIDAYS_FILE).write_text("years: {}\n", encoding="utf-8")
    return target


@pytest.fixture
def sign_in(app_with, config_dir, csrf_of, password):
    """A client of an app reading ``config_dir``, signed in as ``login`` through the login form."""
    clients: list[TestClient] = []

    def _sign_in(login: str) -> TestClient:
        c = TestClient(app_with(config_dir=config_dir), follow_redirects=False)
        clients.append(c)
        r = c.post("/login", data={"login": login, "password": password, "csrf_token": csrf_of(c.get("/login").text),
                                   "next": "/"})
        assert r.status_code == 303, r.text
        return c

    yield _sign_in
    for c in clients:
        c.close()


def banners(client: TestClient, path: str = "/") -> list[tuple[str, str, str]]:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return BANNER.findall(r.text)


def test_admin_sees_a_warning_on_every_page_within_60_days_of_the_end(sign_in, clock):
    clock.set(on(LAST - timedelta(days=25)))
    admin = sign_in("admin")
    for path in PAGES:
        found = banners(admin, path)
        assert len(found) == 1, path
        error, role, text = found[0]
        assert (error, role) == ("", "status")
        assert f"节假日数据只覆盖到 {LAST}（还剩 25 天）" in text
        assert f"{LAST.year + 1} 年" in text and "holidays.yaml" in text and "chinesecalendar" in text


def test_the_window_opens_60_days_before_the_end(sign_in, clock):
    clock.set(on(LAST - timedelta(days=61)))
    admin = sign_in("admin")
    assert banners(admin) == []
    clock.set(on(LAST - timedelta(days=60)))
    assert len(banners(admin)) == 1
    clock.set(on(LAST))
    assert "今天是最后一天" in banners(admin)[0][2]


def test_others_see_nothing_while_the_data_still_lasts(sign_in, clock):
    clock.set(on(LAST - timedelta(days=10)))
    for login in ("wangmin", "liuqiang", "chenjing", "zhoufang"):  # monitor, commander, leader, liaison
        assert banners(sign_in(login)) == [], login


def test_past_the_end_it_is_an_alert_for_admins_monitors_and_commanders(sign_in, clock):
    clock.set(on(LAST + timedelta(days=4)))
    admin = banners(sign_in("admin"), "/incidents")
    assert len(admin) == 1 and admin[0][:2] == (" error", "alert")
    assert f"只覆盖到 {LAST}，今天已超出 4 天" in admin[0][2] and "holidays.yaml" in admin[0][2]
    for login in ("wangmin", "liuqiang"):
        found = banners(sign_in(login), "/alerts")
        assert len(found) == 1 and found[0][:2] == (" error", "alert"), login
        assert f"只覆盖到 {LAST}" in found[0][2] and "请联系系统管理员" in found[0][2], login
        assert "holidays.yaml" not in found[0][2]  # nothing they can act on
    for login in ("chenjing", "zhoufang"):
        assert banners(sign_in(login)) == [], login


def test_a_year_added_to_the_holidays_file_moves_the_end_and_the_banner_goes(sign_in, clock, config_dir):
    if package_years()[1] != 2026:
        pytest.skip("the installed chinesecalendar already knows 2027")
    clock.set(on(date(2026, 12, 6)))
    admin = sign_in("admin")
    assert len(banners(admin)) == 1
    # A test fixture, not the real 2027 schedule: the file is re-read when it changes, no restart needed.
    (config_dir / HOLIDAYS_FILE).write_text(
        "years:\n  2027:\n    notice: test fixture\n    holidays: [2027-01-01]\n", encoding="utf-8")
    assert banners(admin) == []
    clock.set(on(date(2027, 11, 1)))
    assert "只覆盖到 2027-12-31" in banners(admin)[0][2]


def test_an_invalid_holidays_file_never_breaks_a_page(sign_in, clock, config_dir):
    clock.set(on(LAST - timedelta(days=25)))
    (config_dir / HOLIDAYS_FILE).write_text("years:\n  2027: {notice: x, holidays: [2027-02-30]}\n",
                                            encoding="utf-8")
    found = banners(sign_in("admin"))
    assert len(found) == 1 and f"只覆盖到 {LAST}" in found[0][2]  # the package alone, as deadlines then use


def test_login_and_error_pages_render_without_a_banner(client, clock):
    clock.set(on(LAST + timedelta(days=4)))
    assert BANNER.findall(client.get("/login").text) == []
    assert client.get("/no-such-page").status_code == 404
