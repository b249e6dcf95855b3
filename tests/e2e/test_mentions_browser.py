"""舆情信息 in a real browser (Debian chromium via Playwright): a monitor searches 挤兑, narrows to one channel,
sorts by reach, sees the charts, pages on, and opens a story from a row — no console error (a CSP violation would
be one), no script run from crawled text. Screenshots go to ``var/test-output/mentions/`` (or
``$YUQING_TEST_OUTPUT``) so a person can look."""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.users import seed_users
from crawlers.models import ArticleMetricSample
from crawlers.search_index import index_pending
from crawlers.sources import SourceConfig
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
PASSWORD = "Mentions-test-pass-1"


def _factories() -> Any:
    path = Path(__file__).resolve().parents[1] / "api" / "factories.py"
    spec = importlib.util.spec_from_file_location("yuqing_e2e_mentions_factories", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def out_dir() -> Path:
    path = Path(os.environ.get("YUQING_TEST_OUTPUT", PROJECT_ROOT / "var" / "test-output")) / "mentions"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_a_monitor_searches_filters_and_opens_a_story(sqlite_engine, org, tmp_path, out_dir):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium missing: run `make test` (scripts/system-deps.sh installs it)")
    clock = FrozenClock(DEMO_START)
    factory = make_sessionmaker(sqlite_engine)
    with factory() as session:
        f = _factories().Factories(session, clock)
        story = f.story(title="新华路网点挤兑传闻")
        f.story_risk(story=story, score=86.0, level="I")
        root = f.article(story=story, title="示例银行新华路网点挤兑？储户排长队", channel="social", source_id="weibo",
                         text="有人说新华路网点要挤兑了<script>console.log('XSS')</script>",
                         at=clock.now() - timedelta(hours=3))
        session.add(ArticleMetricSample(article_id=root.id, observed_at=clock.now(), reposts=3000, comments=200,
                                        likes=800))
        for i in range(60):  # reposts of the same story: neutral tone of their own, the story's level beside it
            f.article(story=story, title=f"转发{i}：新华路网点挤兑", text="转发", label="neutral", negative_prob=0.1,
                      channel="social", source_id="weibo", at=clock.now() - timedelta(minutes=100 - i))
        f.article(title="江城晚报：新华路网点运营正常，挤兑系谣言", text="网点负责人回应。", label="neutral",
                  negative_prob=0.2, at=clock.now() - timedelta(hours=1))
        f.article(title="新华书店周末活动", text="与银行无关的新华新闻。", label="positive", negative_prob=0.01)
        seed_users(session, org, password=PASSWORD, clock=clock, must_change=False)
        session.commit()
        assert index_pending(session, clock=clock) == 63
    settings = load_settings(data_dir=tmp_path, secret_key=random_secret_key())
    sources = [SourceConfig(id=sid, name=name, kind="rss", channel=channel, url=f"https://{sid}.example/feed",
                            authority="local_media", poll_interval=600)
               for sid, name, channel in [("weibo", "微博", "social"), ("jiangcheng-news", "江城晚报网", "news")]]
    policy = load_policy(PROJECT_ROOT / "config" / "levels.yaml", PROJECT_ROOT / "config" / "checklists")
    app = create_app(settings=settings, session_factory=factory, org=org, clock=clock, policy=policy,
                     sources=sources)
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
            page.fill("input[name=login]", "wangmin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            page.click("nav.nav >> text=舆情信息")
            assert page.url.endswith("/mentions")

            page.fill("input[name=q]", "挤兑")
            page.click("button:has-text('搜索')")
            page.wait_for_load_state()
            assert "q=%E6%8C%A4%E5%85%91" in page.url  # the search is in the URL: shareable
            assert "共 62 条" in page.inner_text("body")  # not the bookshop, not anything without 挤兑
            assert page.locator("tr[id^=article-]").count() == 50  # a page of fifty
            assert page.locator(".charts svg").count() == 4
            page.screenshot(path=str(out_dir / "search.png"), full_page=True)

            page.click("a[rel=next]")
            page.wait_for_load_state()
            assert page.locator("tr[id^=article-]").count() == 12

            page.goto(f"{base}/mentions?q=%E6%8C%A4%E5%85%91")
            page.select_option("select[name=channel]", "social")
            page.select_option("select[name=sort]", "reach")
            page.click("button:has-text('搜索')")
            page.wait_for_load_state()
            assert "channel=social" in page.url and "sort=reach" in page.url
            assert "共 61 条" in page.inner_text("body")
            first = page.locator("tr[id^=article-]").first
            assert first.get_attribute("id") == f"article-{root.id}"  # the most reposted first
            assert "负面" in first.locator(".own-tone").inner_text()
            second = page.locator("tr[id^=article-]").nth(1)
            assert "中性" in second.locator(".own-tone").inner_text()  # a repost's own tone …
            assert "I级" in second.locator(".story-level").inner_text()  # … beside its story's level
            page.screenshot(path=str(out_dir / "filtered.png"), full_page=True)

            first.locator(".mention-title a").click()
            page.wait_for_load_state()
            assert page.url.endswith(f"/stories/{story.id}")
            body = page.inner_text("body")
            for heading in ("传播情况", "风险与依据", "报道与转载", "取证记录"):
                assert heading in body
            assert page.locator("#spread svg").count() == 1
            page.screenshot(path=str(out_dir / "story.png"), full_page=True)

            assert dialogs == [] and errors == [], (dialogs, errors)
            response = page.goto(f"{base}/mentions?since=not-a-date")
            assert response.status == 400 and "起始日期格式无效" in page.inner_text("body")
            assert len(errors) == 1 and "400" in errors.pop()  # the browser logs the 400 itself
            browser.close()
    finally:
        server.stop()
    assert dialogs == [] and errors == [], (dialogs, errors)
    for name in ("search", "filtered", "story"):
        assert (out_dir / f"{name}.png").stat().st_size > 20_000
