"""An administrator's day in a real browser (Debian chromium via Playwright): the admin console changes what the
running system does, with no restart.

One served dashboard and one pipeline ``Runtime`` (``runner.runtime.build_runtime``, built once before the day
starts and never rebuilt) share a SQLite database and the same settings, as ``yuqing run`` and ``yuqing api`` share
them. A local news site on 127.0.0.1 serves an RSS feed and a page about 示例银行新华路网点 with a word no shipped
keyword plan knows; a local receiver plays the signed-webhook channel. The admin (``admin``), step by step, each
step asserting what is on screen and keeping a screenshot under ``var/test-output/role-days/admin/NN-step.png``:

1. opens 系统管理 and sees the configuration documents;
2. adds the site as a source on 来源管理 — an invalid form first (errors beside the fields, what was typed kept),
   then a valid one — and runs 试抓取 on the page: the extracted title and the matched outlet;
3. adds a keyword plan with the new word on 关键词方案 and runs 试匹配; 试抓取 now names the plan too;
4. the pipeline's next round crawls the new source and the article is on 舆情信息 (searched by the new word); its
   stored match names the new plan (no page shows an article's plan hits, so that is read from the database);
5. edits levels.yaml in the document editor — an invalid value first (the problem names the field, nothing saved),
   then a valid one — and reads the revision history and the diff; the pipeline's next round applies it;
6. resets a user's password and changes another's roles on 用户与角色, and finds both on 审计日志;
7. sends a test message through the webhook channel (已发送, the receiver checked the signature), then again while
   the receiver refuses (发送失败 with the error) — never 已读.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import auth
from api.app import create_app
from api.users import seed_users
from crawlers.models import Article
from incidents.models import Notification
from runner.runtime import Runtime, build_runtime, run_round
from sentiment.rules import RuleBasedClassifier
from tests.e2e.served_app import ServedApp
from tests.e2e.test_role_days_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, World, start_day
from tests.static_site import StaticSite
from yuqing import config_store
from yuqing.clock import FrozenClock
from yuqing.db import make_engine
from yuqing.models import AuditEntry
from yuqing.security import random_secret_key
from yuqing.settings import PROJECT_ROOT, load_settings

pytestmark = pytest.mark.e2e
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SOURCE_ID, SOURCE_NAME = "jiangcheng-local", "江城本地新闻网"
PLAN = "暗访曝光"
WORD = "暗访测试词九号"  # in no shipped keyword plan
TITLE = f"示例银行新华路网点被{WORD}"
PAGE = (f"<html><head><title>{TITLE}</title></head><body><article><h1>{TITLE}</h1>"
        "<p>发布时间：2026-11-23 09:30</p>"
        f"<p>记者今天上午来到示例银行江城分行新华路网点，发现{WORD}一事，网点负责人表示将尽快核实。</p>"
        "<p>多名储户在网点门口等候办理业务，现场秩序正常。</p><p>记者将持续关注此事进展。</p>"
        "</article></body></html>")


def _receiver_module() -> Any:
    """tests/incidents/receiver.py: a local server that checks the webhook's signature as the platform would."""
    path = Path(__file__).resolve().parents[1] / "incidents" / "receiver.py"
    spec = importlib.util.spec_from_file_location("yuqing_e2e_admin_day_receiver", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


receiver_module = _receiver_module()


class NewsSite(StaticSite):
    """A local news site: ``/rss.xml`` lists ``/news/1.html``; everything else is 404."""

    def __init__(self) -> None:
        super().__init__()
        self.feed, self.page = f"{self.base}/rss.xml", f"{self.base}/news/1.html"
        rss = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>江城本地新闻</title>'
               f"<item><title>{TITLE}</title><link>{self.page}</link>"
               "<pubDate>Mon, 23 Nov 2026 09:30:00 +0800</pubDate></item></channel></rss>")
        self.add("/rss.xml", rss, "application/rss+xml; charset=utf-8")
        self.add("/news/1.html", PAGE)


@dataclass
class AdminWorld(World):
    """The days' ``World`` plus what an admin's day needs: the running pipeline, the news site, the receiver."""

    rt: Runtime | None = None
    site: NewsSite | None = None
    receiver: Any = None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[AdminWorld]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium missing: run `make test` (scripts/system-deps.sh installs it)")
    tmp = tmp_path_factory.mktemp("admin-day")
    shutil.copy(sqlite_template, tmp / "admin-day.db")
    engine = make_engine(f"sqlite:///{tmp / 'admin-day.db'}")
    clock = FrozenClock(NOW)
    # the private-network opt-in names the id the admin is about to give the source, as an operator would set it
    settings = load_settings(data_dir=tmp, secret_key=random_secret_key(), allow_private_sources=[SOURCE_ID])
    site = NewsSite()
    out = Path(os.environ.get("YUQING_TEST_OUTPUT", PROJECT_ROOT / "var" / "test-output")) / "role-days"
    with receiver_module.running_receiver() as receiver, pytest.MonkeyPatch.context() as env:
        env.setenv("YUQING_WEBHOOK_SECRET", receiver_module.SECRETS["webhook"])
        # argon2id with small parameters, as in the API tests: the same code path, milliseconds per hash
        env.setattr(auth, "password_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        with Session(engine) as session:  # the webhook channel on, pointing at the receiver
            channels = yaml.safe_load((PROJECT_ROOT / "config" / "channels.yaml").read_text(encoding="utf-8"))
            channels["channels"]["webhook"].update(enabled=True, url=f"{receiver.base}/webhook")
            config_store.save_document(session, "channels.yaml", yaml.safe_dump(channels, allow_unicode=True),
                                       actor="admin", clock=clock, note="测试：开启通用 Webhook")
            session.commit()
        # the running pipeline (the rule classifier: the model is not what this day is about)
        rt = build_runtime(settings, clock=clock, engine=engine, classifier=RuleBasedClassifier())
        rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "YUQING_RETRY_BACKOFF": 0.01, "LOG_LEVEL": "ERROR"}
        assert not any(s.enabled for s in rt.sources)  # the shipped sources.yaml is empty, the catalogue disabled
        with rt.session_factory() as session:
            seed_users(session, rt.org, password=PASSWORD, clock=clock, must_change=False)
            session.commit()
        app = create_app(settings=settings, session_factory=rt.session_factory, org=rt.org, clock=clock,
                         policy=rt.policy, sources=rt.sources)
        server = ServedApp(app)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                yield AdminWorld(f"http://127.0.0.1:{server.port}", rt.session_factory, clock, rt.org, rt.policy,
                                 browser, out, rt=rt, site=site, receiver=receiver)
                browser.close()
        finally:
            server.stop()
            site.stop()
            engine.dispose()


def _nav(day: Any, text: str) -> None:
    """Follow a link of the top bar, as a person would."""
    with day.page.expect_navigation():
        day.page.locator("header").get_by_role("link", name=text, exact=True).click()
    day.page.wait_for_load_state()


def test_an_admins_day(world: AdminWorld) -> None:
    day = start_day(world, "admin", "admin")

    # 1. 系统管理: the configuration documents
    _nav(day, "系统管理")
    assert day.page.url == world.base + "/admin/config"
    assert "系统管理 · 配置文件" in day.text("h1")
    rows = day.page.locator("table.config-documents tbody tr")
    assert f"共 {rows.count()} 个" in day.text("h1") and rows.count() >= 15
    documents = {rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).locator("td").nth(2).inner_text()
                 for i in range(rows.count())}
    assert documents["channels.yaml"] == "数据库" and documents["levels.yaml"] == "文件", documents
    assert "checklists/generic.yaml" in documents
    day.shot("config-documents")

    # 2. 来源管理: a new source, an invalid form first
    _nav(day, "来源管理")
    assert "尚未配置来源" in day.text("main")
    with day.page.expect_navigation():
        day.page.get_by_role("link", name="新增来源").click()
    assert "新增来源" in day.text("h1")
    typed = {"#id": "Jiangcheng Local", "#name": SOURCE_NAME, "#url": world.site.feed, "#poll_interval": "5",
             "#private_network": world.site.host}
    day.page.select_option("#kind", "rss")
    day.page.select_option("#channel", "news")
    day.page.select_option("#authority", "local_media")
    day.page.check("input[name=enabled]")
    day.submit("form[action='/admin/sources/new']", typed)
    _refused(day)
    assert "未保存：请按各字段旁的提示修改。" in day.text("main")
    id_error = day.page.locator("#id ~ #err-id")  # beside its field
    assert id_error.count() == 1 and id_error.inner_text(), day.text("main")
    poll_error = day.text("#err-poll_interval")
    assert "30" in poll_error, poll_error  # the minimum is named
    for selector, value in typed.items():  # what was typed is kept
        assert day.page.input_value(selector) == value, selector
    assert day.page.input_value("#kind") == "rss" and day.page.is_checked("input[name=enabled]")
    day.shot("source-invalid")

    day.submit("form[action='/admin/sources/new']", {"#id": SOURCE_ID, "#poll_interval": "60"})
    assert day.page.url == world.base + "/admin/sources?saved=created"
    assert day.flash() == "来源已新增，下一轮抓取生效。"
    row = day.text(f"#source-{SOURCE_ID}")
    assert SOURCE_NAME in row and "已启用" in row and world.site.feed in row and "60 秒" in row, row
    day.shot("source-added")

    # 试抓取 of the article page (from the source's row: its id brings the private-network allowance)
    with day.page.expect_navigation():
        day.page.locator(f"#source-{SOURCE_ID}").get_by_role("link", name="试抓取").click()
    assert day.page.input_value("#source_id") == SOURCE_ID and day.page.input_value("#url") == world.site.feed
    day.page.select_option("#kind", "page")
    day.submit("form[action='/admin/sources/test-fetch']", {"#url": world.site.page})
    trial = _definitions(day, "dl.trial-page")
    assert trial["标题"] == TITLE, trial
    assert trial["HTTP 状态"].startswith("200"), trial
    assert trial["匹配到的单位"].startswith("示例银行江城分行新华路网点（主要）"), trial
    assert PLAN not in trial["命中的监测方案"] and trial["是否计为舆情"] == "是", trial
    assert WORD in next(text for term, text in trial.items() if term.startswith("正文"))
    day.shot("test-fetch")

    # 3. 关键词方案: a plan with the new word, then 试匹配
    _nav(day, "关键词方案")
    assert PLAN not in day.text("table.keyword-plans")
    with day.page.expect_navigation():
        day.page.get_by_role("link", name="新增方案").click()
    day.page.select_option("#category", "service_attitude")
    day.submit("form[action='/admin/keywords/save']", {"#name": PLAN, "#any": WORD})
    assert day.page.url == world.base + "/admin/keywords?saved=created"
    assert day.flash() == "监测方案已新增，下一轮匹配起生效。"
    plan_row = day.page.locator("table.keyword-plans tr", has_text=PLAN).inner_text()
    assert WORD in plan_row and "服务态度" in plan_row, plan_row
    day.submit("#try form", {"#try-title": TITLE, "#try-text": f"示例银行新华路网点门口，记者{WORD}。"})
    tried = _definitions(day, "dl.try-result")
    assert tried["命中的方案"] == f"{PLAN}：{WORD}", tried
    assert tried["匹配到的单位"].startswith("示例银行江城分行新华路网点（主要）"), tried
    assert "服务态度" in tried["风险类别"], tried
    day.shot("keyword-plan-tried")

    day.goto(f"/admin/sources/test-fetch?source_id={SOURCE_ID}&kind=page&url={world.site.page}")
    day.submit("form[action='/admin/sources/test-fetch']")
    assert _definitions(day, "dl.trial-page")["命中的监测方案"] == f"{PLAN}：{WORD}"  # the app uses the plan now
    day.shot("test-fetch-with-plan")

    # 4. the running pipeline's next round: no restart
    report = pipeline_round(world.rt)
    assert [s.id for s in world.rt.sources if s.enabled] == [SOURCE_ID]
    assert report.crawled_sources == 1 and report.new_articles == 1, report
    with world.factory() as session:
        article = session.scalars(select(Article).where(Article.source_id == SOURCE_ID)).one()
    assert article.meta["match"]["plan_hits"] == {PLAN: [WORD]}, article.meta["match"]
    assert article.meta["match"]["primary_unit_id"] == "xinhualu"
    day.goto(f"/mentions?q={WORD}")
    listing = day.text("main")
    assert re.search(r"共\s*1\s*条", listing), listing
    mention = day.text(f"#article-{article.id}")
    assert TITLE in mention and "新华路网点" in mention and SOURCE_NAME in mention, mention
    day.shot("mention-crawled")

    # 5. levels.yaml in the document editor: an invalid value, then a valid change
    _nav(day, "系统管理")
    with day.page.expect_navigation():
        day.page.get_by_role("link", name="levels.yaml").click()
    assert "当前来源：文件" in day.text("main")
    original = day.page.input_value("#content")
    assert "    ack_minutes: 5 " in original
    invalid = original.replace("    ack_minutes: 5 ", "    ack_minutes: -5 ", 1)
    day.submit("#editor", {"#content": invalid, "#note": "一级确认时限"}, button="button[value=save]")
    _refused(day)
    problems = day.text("#problems")
    assert "未保存" in problems and "levels.yaml (本次修改)" in problems and "ack_minutes" in problems, problems
    assert day.page.input_value("#content") == invalid  # kept as typed
    with world.factory() as session:
        assert config_store.get_document(session, "levels.yaml") is None  # nothing saved
    day.shot("levels-invalid")

    valid = original.replace("    ack_minutes: 5 ", "    ack_minutes: 8 ", 1)
    day.submit("#editor", {"#content": valid, "#note": "特别重大事件确认时限改为 8 分钟"},
               button="button[value=save]")
    assert day.flash().startswith("已保存并生效"), day.flash()
    assert "当前来源：数据库（版本 1，admin" in day.text("main")
    history = day.text("#v1")
    assert "特别重大事件确认时限改为 8 分钟" in history and "admin" in history, history
    with day.page.expect_navigation():
        day.page.locator("#v1").get_by_role("link", name="与上一版比较").click()
    diff = day.text("#diff")
    assert "\n-    ack_minutes: 5 " in diff and "\n+    ack_minutes: 8 " in diff, diff  # one line each
    assert day.page.locator("#diff ins").count() == 1 and day.page.locator("#diff del").count() == 1
    day.shot("levels-saved-diff")
    pipeline_round(world.rt)  # the pipeline's next round takes the new clock
    assert world.rt.policy.level("I").ack_minutes == 8

    # 6. 用户与角色: a password reset and a roles change, then the audit log
    _nav(day, "系统管理")
    with day.page.expect_navigation():
        day.page.get_by_role("link", name="用户与角色").click()
    with day.page.expect_navigation():
        day.page.locator("#user-wangmin form[action='/admin/users/reset-password'] button").click()
    assert day.flash() == "密码已重设，该用户的会话已全部退出。"
    shown = day.text("#temporary-password")
    assert "wangmin 的临时密码" in shown and re.search(r"Yq-\S{10,}", shown), shown
    day.shot("password-reset")

    roles = day.page.locator("#user-zhengli form.roles-form")
    assert not roles.locator("input[value=monitor]").is_checked()
    roles.locator("input[value=monitor]").check()
    with day.page.expect_navigation():
        roles.locator("button").click()
    assert day.flash() == "角色已修改并写入组织架构（org.yaml），立即生效。"
    assert day.page.locator("#user-zhengli input[value=monitor]").is_checked()
    assert day.page.locator("#user-zhengli input[value=liaison]").is_checked()
    day.shot("roles-changed")

    _nav(day, "审计日志")
    audit = day.text("main")
    rows = day.page.locator("main table tbody tr").all_inner_texts()
    for name, action, target in (("重置密码", "password.reset", "用户 wangmin"),
                                 ("保存配置", "config.save", "配置文件 org.yaml"),
                                 ("保存配置", "config.save", "配置文件 levels.yaml"),
                                 ("新增来源", "source.create", f"来源 {SOURCE_ID}"),
                                 ("新增监测方案", "keyword_plan.create", f"监测方案 {PLAN}")):
        assert any(f"{name}\n{action}" in r and target in r for r in rows), (name, action, target, audit)
    with world.factory() as session:
        acts = [(a.action, a.object_id) for a in session.scalars(select(AuditEntry).where(AuditEntry.actor == "admin"))]
    assert ("password.reset", "wangmin") in acts and ("config.save", "org.yaml") in acts, acts
    day.shot("audit-log")

    # 7. 通知渠道: a test message through the signed webhook, then while the receiver refuses
    _nav(day, "通知渠道")
    channel = day.text("#channel-webhook")
    assert "已启用" in channel and "YUQING_WEBHOOK_SECRET：已设置" in channel, channel
    day.page.select_option("#person-webhook", "chenjing")
    before = len(world.receiver.of("webhook"))  # (the pipeline's rounds sent the new alert's messages this way)
    with day.page.expect_navigation():
        day.page.locator("#channel-webhook button[type=submit]").click()
    outcome = day.text("#last-test")
    assert re.fullmatch(r"测试消息（#\d+）已发送", outcome.strip()), outcome
    (hook,) = world.receiver.of("webhook")[before:]
    assert hook.verdict == "ok" and hook.json["recipient"]["id"] == "chenjing", hook
    assert "已发送" in day.text("#channel-webhook")
    day.shot("channel-test-sent")

    world.receiver.fail_next("webhook", receiver_module.Script(status=500, body={"error": "down"}))
    assert day.page.input_value("#person-webhook") == "admin"  # the form offers the admin again
    with day.page.expect_navigation():
        day.page.locator("#channel-webhook button[type=submit]").click()
    outcome = day.text("#last-test")
    assert outcome.strip().startswith("测试消息（#") and "发送失败" in outcome and "500" in outcome, outcome
    assert "发送失败" in day.text("#channel-webhook")
    assert "已读" not in outcome and "已读" not in day.text("#channel-webhook")
    with world.factory() as session:
        tests = session.scalars(select(Notification).where(Notification.purpose == "channel_test")
                                .order_by(Notification.id)).all()
    assert [(n.channel, n.recipient_id, n.status) for n in tests] == [("webhook", "chenjing", "sent"),
                                                                      ("webhook", "admin", "failed")]
    assert all(n.read_at is None for n in tests)  # only the recipient can mark a message read
    day.shot("channel-test-failed")
    day.end()


def pipeline_round(rt: Runtime) -> Any:
    """One round of the running pipeline, on a thread of its own (Playwright's sync API holds this thread's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(run_round(rt))).result(timeout=120)


def _refused(day: Any) -> None:
    """The form just sent was answered 422, as it must be; the browser logs that answer as a console error, which
    is taken off the day's errors here (any other error still fails the day)."""
    expected = "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    assert day.errors[-1:] == [expected], day.errors
    day.errors.pop()


def _definitions(day: Any, selector: str) -> dict[str, str]:
    """A ``<dl>`` as {term: definition text}."""
    pairs = day.page.locator(selector).evaluate(
        "dl => [...dl.querySelectorAll('dt')].map(dt => [dt.innerText.trim(), dt.nextElementSibling.innerText.trim()])")
    return dict(pairs)


