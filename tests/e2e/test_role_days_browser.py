"""A day at work for each role, in a real browser (Debian chromium via Playwright), on one served dashboard and one
database the days share, in this order (``--dist loadfile`` keeps a module's tests on one worker, in file order):

* 监测员 (wangmin): sees the new alerts on the overview and the alert queue, reads "why this alert", opens the story
  and searches the mentions, acknowledges one alert and opens an incident from the other;
* 指挥长 (liuqiang): starts the response, sees the outlet liaison's step arrive on the open page (live), completes
  checklist steps, raises the level with a reason, drafts a holding statement, files the 初报, reads the clocks and
  closes the case;
* 领导 (chenjing), on a phone-sized screen: finds the level-change message in 消息, reads the 初报 on the incident
  and its 专报, and acknowledges it (领导确认知悉) from the inbox;
* 指挥长 again: the review (复盘), which can only follow the leader's part once the case is closed;
* and two monitors side by side: one acknowledges an alert, the other's open alert queue drops it without a reload
  (live updates, ``GET /events``).

Each step asserts what the person sees (Chinese text, counts), not only that a page loaded, and keeps a screenshot:
``var/test-output/role-days/<role>/NN-step.png`` (or under ``$YUQING_TEST_OUTPUT``). ``RoleDay`` and ``start_day``
are the helpers an admin's day reuses: ``start_day(world, "admin", "admin")`` signs in and returns the day.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.app import create_app
from api.users import seed_users
from crawlers.search_index import index_pending
from incidents.models import Alert, Incident, LeadershipAcknowledgement
from incidents.policy import Policy, load_policy
from incidents.service import handle_story_risk
from tests.conftest import DEMO_START
from tests.e2e.served_app import ServedApp
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.org import OrgChart
from yuqing.security import random_secret_key
from yuqing.settings import PROJECT_ROOT, load_settings

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
PASSWORD = "Role-days-pass-1"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LIVE_WAIT_MS = 10_000  # a live update lands within a poll (0.3 s here) and a refetch; generous for loaded CI

CASE_TITLE = "示例银行新华路网点拒绝老人取款"
NOISE_TITLE = "示例银行滨江花园网点服务态度差"
LIVE_TITLE = "示例银行光明路支行门口排长队"


@functools.cache
def _factories() -> Any:
    """tests/api/factories.py, loaded once (its row numbering must run on across the days)."""
    path = Path(__file__).resolve().parents[1] / "api" / "factories.py"
    spec = importlib.util.spec_from_file_location("yuqing_e2e_role_day_factories", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class World:
    """What the days share: the served dashboard, its database and clock, and one chromium."""

    base: str
    factory: Any
    clock: FrozenClock
    org: OrgChart
    policy: Policy
    browser: Any
    out: Path
    ids: dict[str, int] = field(default_factory=dict)

    def alert_for(self, session: Any, title: str) -> Alert:
        return session.scalar(select(Alert).where(Alert.title == title))

    def new_alert(self, title: str, unit_id: str, text: str, *, score: float = 20.0, level: str = "IV") -> int:
        """A story with two posts whose risk the incident stage handles as the pipeline does (alert, audit entry and
        the duty monitors' messages in one transaction); the posts are indexed for 舆情信息 search."""
        with self.factory() as session:
            make = _factories().Factories(session, self.clock)
            story = make.story(unit_id=unit_id, title=title)
            make.article(story=story, unit_id=unit_id, title=title, text=text)
            make.article(story=story, unit_id=unit_id, title=title + "（转发）", text=text, source_id="weibo",
                         channel="social")
            risk = make.story_risk(story=story, level=level, score=score)
            out = handle_story_risk(session, story_risk=risk, org=self.org, policy=self.policy, clock=self.clock)
            session.commit()
            index_pending(session, clock=self.clock)
            return out.alert_id


@dataclass
class RoleDay:
    """One person's day in the browser: a signed-in page, numbered screenshots of each step under
    ``<out>/role-days/<role>/``, and the console errors seen (a CSP violation is one)."""

    world: World
    role: str
    page: Any
    context: Any
    errors: list[str] = field(default_factory=list)
    step: int = 0

    @property
    def shots(self) -> Path:
        return self.world.out / self.role

    def goto(self, path: str) -> None:
        self.page.goto(self.world.base + path)
        self.page.wait_for_load_state()

    def text(self, selector: str = "main") -> str:
        return self.page.locator(selector).first.inner_text()

    def shot(self, name: str) -> Path:
        self.step += 1
        path = self.shots / f"{self.step:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def submit(self, form: str, fields: dict[str, str] | None = None, *, button: str = "button[type=submit]") -> None:
        """Fill a form's fields (by CSS selector) and press its submit button; waits for the page it leads to."""
        for selector, value in (fields or {}).items():
            target = self.page.locator(selector)
            if target.evaluate("el => el.tagName") == "SELECT":
                target.select_option(value)
            else:
                target.fill(value)
        with self.page.expect_navigation():
            self.page.locator(form).locator(button).first.click()

    def flash(self) -> str:
        return self.text("p.flash")

    def end(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


def start_day(world: World, role: str, login: str, *, viewport: dict[str, int] = DESKTOP) -> RoleDay:
    """Sign ``login`` in through the login form in a fresh browser context; the day's screenshots start at 01."""
    shots = world.out / role
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    context = world.browser.new_context(locale="zh-CN", viewport=viewport)
    day = RoleDay(world, role, context.new_page(), context)
    day.page.on("console", lambda m: day.errors.append(m.text) if m.type == "error" else None)
    day.page.on("pageerror", lambda e: day.errors.append(str(e)))
    day.page.on("dialog", lambda d: (day.errors.append("dialog: " + d.message), d.dismiss()))
    day.goto("/login")
    day.page.fill("input[name=login]", login)
    day.page.fill("input[name=password]", PASSWORD)
    with day.page.expect_navigation():
        day.page.click("button[type=submit]")
    assert day.page.url.rstrip("/") == world.base, day.page.url  # signed in: the overview
    assert "舆情总览" in day.text("h1")
    return day


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, org: OrgChart) -> Iterator[World]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium missing: run `make test` (scripts/system-deps.sh installs it)")
    tmp = tmp_path_factory.mktemp("role-days")
    shutil.copy(sqlite_template, tmp / "role-days.db")
    engine = make_engine(f"sqlite:///{tmp / 'role-days.db'}")
    factory = make_sessionmaker(engine)
    clock = FrozenClock(DEMO_START)
    policy = load_policy(PROJECT_ROOT / "config" / "levels.yaml", PROJECT_ROOT / "config" / "checklists")
    with factory() as session:
        seed_users(session, org, password=PASSWORD, clock=clock, must_change=False)
        session.commit()
    settings = load_settings(data_dir=tmp, secret_key=random_secret_key())
    app = create_app(settings=settings, session_factory=factory, org=org, clock=clock, policy=policy, sources=[])
    app.state.live.poll_seconds = 0.3
    server = ServedApp(app)
    out = Path(os.environ.get("YUQING_TEST_OUTPUT", PROJECT_ROOT / "var" / "test-output")) / "role-days"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield World(f"http://127.0.0.1:{server.port}", factory, clock, org, policy, browser, out)
            browser.close()
    finally:
        server.stop()
        engine.dispose()


def test_a_monitors_day(world: World) -> None:
    world.ids["case_alert"] = world.new_alert(CASE_TITLE, "xinhualu",
                                              "新华路网点柜员拒绝七旬老人取款，家属拍视频发到网上。")
    world.clock.advance(timedelta(minutes=2))
    world.ids["noise_alert"] = world.new_alert(NOISE_TITLE, "binjianghuayuan",
                                               "滨江花园网点柜员态度冷淡，排队取款很久。")
    world.clock.advance(timedelta(minutes=3))
    day = start_day(world, "monitor", "wangmin")

    overview = day.text("#live")
    assert re.search(r"待确认预警\s*2", overview), overview
    assert CASE_TITLE in overview and NOISE_TITLE in overview
    assert day.page.locator("#inbox-link .unread-count").count() == 1  # the new alerts' messages
    day.page.wait_for_selector("#live-status.live-on")  # the 实时 indicator: the live stream is open
    assert day.text("#live-status") == "实时"
    day.shot("overview")

    day.goto("/alerts")
    queue = day.text("#alert-queue")
    assert re.search(r"待确认\s*2", queue), queue
    card = day.page.locator(f"article#alert-{world.ids['case_alert']}")
    assert "新华路网点" in card.inner_text() and "IV级" in card.inner_text(), card.inner_text()
    card.locator("summary", has_text="为什么预警").click()
    why = card.locator("details").inner_text()
    assert "风险类别：存取款受限/挤兑谣言" in why and "地方媒体" in why, why
    day.shot("alert-queue-why")

    with day.page.expect_navigation():
        card.locator("a", has_text="话题详情").click()
    assert CASE_TITLE in day.text("h1")
    assert re.search(r"报道数\s*2", day.text("main")), day.text("main")
    day.shot("story")

    day.goto("/mentions?q=老人")
    listing = day.text("main")
    assert re.search(r"共\s*2\s*条", listing), listing  # the post and its repost; the other alert's posts don't match
    assert CASE_TITLE in listing and NOISE_TITLE not in listing
    day.shot("mentions-search")

    day.goto("/alerts")
    noise = day.page.locator(f"article#alert-{world.ids['noise_alert']}")
    day.submit(f"article#alert-{world.ids['noise_alert']} form[action$='/ack']")
    assert day.flash() == "已确认预警。"
    assert re.search(r"待确认\s*1", day.text("#alert-queue"))
    assert noise.count() == 0  # left the queue for 已处理
    assert NOISE_TITLE in day.page.locator("#alert-queue section").nth(1).inner_text()
    day.shot("acknowledged")

    day.submit(f"article#alert-{world.ids['case_alert']} form[action$='/incident']")
    assert day.flash() == "已立案。"
    assert re.match(rf"{re.escape(world.base)}/incidents/\d+", day.page.url)
    world.ids["incident"] = int(day.page.url.split("/incidents/")[1].split("?")[0].split("#")[0])
    head = day.text("#incident-head")
    assert CASE_TITLE in head and "新华路网点" in head and "已确认" in head, head
    day.shot("incident-opened")
    day.end()


def test_a_commanders_day(world: World) -> None:
    incident_id = world.ids["incident"]
    world.clock.advance(timedelta(minutes=5))
    day = start_day(world, "commander", "liuqiang")
    assert "YQ-" in day.text("#live")  # the case is on the overview
    day.goto("/incidents?status=active")
    assert CASE_TITLE in day.text("#incident-list")
    day.shot("incidents")

    day.goto(f"/incidents/{incident_id}")
    assert "已确认" in day.text("#summary")
    day.submit("#actions form[action$='/respond']")
    assert day.flash() == "已开始处置。"
    assert "处置中" in day.text("#incident-head")
    done, total = _checklist_counts(day)
    assert total >= 3, total
    day.shot("responding")

    # the outlet's liaison ticks a step of theirs meanwhile: the commander's open page follows without a reload
    day.page.wait_for_selector("#live-status.live-on")
    day.page.evaluate("() => { window.__sameDocument = true; }")
    liaison = start_day(world, "liaison", "huangwei")
    liaison.goto(f"/incidents/{incident_id}")
    row = liaison.page.locator("#checklist tr:has(form[action$='/complete'])").first
    step = row.locator("td[data-label=任务]").inner_text().split("\n")[0]
    with liaison.page.expect_navigation():
        row.locator("form[action$='/complete'] button").click()
    assert liaison.flash() == "任务已完成。"
    liaison.shot("step-done")
    liaison.end()
    day.page.wait_for_function("want => document.querySelector('#checklist h2').textContent.includes(want)",
                               arg=f"{done + 1}/{total}", timeout=LIVE_WAIT_MS)
    day.page.wait_for_function("want => document.querySelector('#timeline').textContent.includes(want)",
                               arg=f"完成任务：{step}", timeout=LIVE_WAIT_MS)
    assert f"已完成 {done + 1}/{total}" in day.text("#summary")
    assert day.page.evaluate("() => window.__sameDocument === true")
    done += 1
    day.shot("liaison-step-arrived-live")

    ticked = 0
    for _ in range(2):  # two steps the commander may tick
        row = day.page.locator("#checklist tr:has(form[action$='/complete'])").first
        title = row.locator("td[data-label=任务]").inner_text().split("\n")[0]
        row.locator("form[action$='/complete'] input[name=note]").fill("已落实")
        with day.page.expect_navigation():
            row.locator("form[action$='/complete'] button").click()
        assert day.flash() == "任务已完成。"
        ticked += 1
        assert f"完成任务：{title}" in day.text("#timeline"), day.text("#timeline")
    assert _checklist_counts(day) == (done + ticked, total)
    day.shot("checklist")

    world.clock.advance(timedelta(minutes=10))
    day.submit("#actions form[action$='/level']", {"#level": "II", "#level-reason": "视频转发量快速上升，地方媒体跟进"})
    assert day.flash() == "已调整等级，处置清单与报告时限已重新计算。"
    assert "II级" in day.text("#incident-head"), day.text("#incident-head")
    assert "视频转发量快速上升" in day.text("#timeline")
    day.shot("level-raised")

    day.goto(f"/incidents/{incident_id}/statements")
    day.submit("form[action$='/statements']", {"#draft-kind": "holding"})
    drafted = day.text("main")
    assert "初步回应" in drafted and "草稿" in drafted and "新华路" in drafted, drafted
    day.shot("statement-drafted")

    day.goto(f"/incidents/{incident_id}/briefing?kind=initial")
    briefing = day.text("main")
    assert "初报" in briefing and CASE_TITLE in briefing, briefing
    day.shot("briefing-draft")

    day.goto(f"/incidents/{incident_id}")
    day.submit("#actions form[action$='/reports']",
               {"#report-kind": "initial",
                "#report-text": "初报：新华路网点一名老人取款受阻，已核实并当面致歉，舆情可控。"})
    assert day.flash() == "报告已报送。"
    reports = day.text("#reports")
    assert "初报" in reports and "当面致歉" in reports, reports
    clocks = day.text("#summary")
    assert "报告时限" in clocks and "初报" in clocks, clocks
    day.shot("initial-report-and-clocks")

    world.clock.advance(timedelta(minutes=30))
    day.submit("#actions form[action$='/close']", {"#close-summary": "已当面致歉并办理取款，相关帖子热度回落。"})
    assert day.flash() == "已结案：终报与复盘开始计时。"
    assert "已结案" in day.text("#incident-head")
    assert "终报" in day.text("#summary") and "复盘" in day.text("#summary")
    day.shot("closed")
    day.end()


def test_a_leaders_day_on_a_phone(world: World) -> None:
    incident_id = world.ids["incident"]
    world.clock.advance(timedelta(minutes=5))
    day = start_day(world, "leader", "chenjing", viewport=PHONE)
    unread = day.page.locator("#inbox-link .unread-count")
    assert unread.count() == 1 and int(unread.inner_text()) >= 1
    day.shot("overview-phone")

    day.goto("/inbox")
    message = day.page.locator("article.message", has_text=CASE_TITLE).first
    assert "未读" in message.inner_text() and "II级" in message.inner_text(), message.inner_text()
    day.shot("inbox")

    with day.page.expect_navigation():
        message.locator("a", has_text="查看事件").click()
    assert f"/incidents/{incident_id}" in day.page.url
    assert "已结案" in day.text("#incident-head")
    assert "当面致歉" in day.text("#reports")  # the 初报 the commander filed
    width = day.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the incident page scrolls sideways on a phone: {width} px"
    day.shot("incident-summary-phone")

    day.goto(f"/incidents/{incident_id}/briefing?kind=initial")
    assert "初报" in day.text("main") and CASE_TITLE in day.text("main")
    day.shot("briefing-phone")

    day.goto("/inbox")
    message = day.page.locator("article.message", has_text=CASE_TITLE).first
    with day.page.expect_navigation():
        message.locator("form[action$='/ack'] button").click()
    acked = day.page.locator("article.message", has_text=CASE_TITLE).first.inner_text()
    assert "已确认" in acked, acked
    with world.factory() as session:
        leaders = session.scalars(select(LeadershipAcknowledgement.leader_id)
                                  .where(LeadershipAcknowledgement.incident_id == incident_id)).all()
    assert leaders == ["chenjing"]  # the inbox acknowledgement is the leader's 知悉 of the case
    day.goto(f"/incidents/{incident_id}")
    assert "分行领导确认知悉" in day.text("#timeline")
    day.shot("acknowledged-phone")
    day.end()


def test_the_commander_writes_the_review(world: World) -> None:
    incident_id = world.ids["incident"]
    world.clock.advance(timedelta(hours=2))
    day = start_day(world, "commander-review", "liuqiang")
    day.goto(f"/incidents/{incident_id}")
    day.submit("#review-form", {"#review-text": "发现及时，领导知悉及时。", "#went-well": "当面致歉迅速",
                                "#went-badly": "柜面解释不到位", "#item-title-0": "组织柜员服务规范培训",
                                "#item-owner-0": "huangwei"})
    assert day.flash() == "复盘已提交。"
    assert "已复盘" in day.text("#incident-head")
    review = day.text("#review")
    assert "组织柜员服务规范培训" in review and "柜面解释不到位" in review, review
    day.shot("reviewed")
    with world.factory() as session:
        assert session.get(Incident, incident_id).status == "reviewed"
    day.end()


def test_another_monitors_acknowledgement_shows_up_without_a_reload(world: World) -> None:
    watcher = start_day(world, "live-watcher", "wangmin")
    watcher.goto("/alerts")
    watcher.page.wait_for_selector("#live-status.live-on")
    watcher.page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page reloads
    mentions = watcher.context.new_page()  # a second tab: the 舆情信息 list
    mentions.goto(world.base + "/mentions")
    mentions.wait_for_selector("#live-status.live-on")
    banner = mentions.locator("[data-live-banner=mention]")
    assert banner.is_hidden()
    watcher.shot("before")

    alert_id = world.new_alert(LIVE_TITLE, "guangminglu", "光明路支行门口排起长队，有人说取不出钱。")
    watcher.page.wait_for_selector(f"article#alert-{alert_id}", timeout=LIVE_WAIT_MS)  # the new alert arrives
    assert LIVE_TITLE in watcher.text("#alert-queue")
    banner.wait_for(state="visible", timeout=LIVE_WAIT_MS)
    assert banner.inner_text() == "2 条新信息，点击查看"  # the post and its repost; the list itself stays put
    mentions.screenshot(path=str(watcher.shots / "mentions-banner.png"), full_page=True)
    watcher.shot("alert-arrived")

    actor = start_day(world, "live-actor", "yangfan")  # head office's duty monitor sees the whole bank
    actor.goto("/alerts")
    actor.submit(f"article#alert-{alert_id} form[action$='/ack']")
    assert actor.flash() == "已确认预警。"
    actor.end()

    watcher.page.wait_for_selector(f"article#alert-{alert_id}", state="detached", timeout=LIVE_WAIT_MS)
    assert watcher.page.evaluate("() => window.__sameDocument === true")  # updated in place, no reload
    assert LIVE_TITLE in watcher.page.locator("#alert-queue section").nth(1).inner_text()  # now under 已处理
    watcher.shot("after")
    watcher.end()


def _checklist_counts(day: RoleDay) -> tuple[int, int]:
    heading = day.text("#checklist h2")
    match = re.search(r"(\d+)/(\d+)", heading)
    assert match, heading
    return int(match.group(1)), int(match.group(2))
