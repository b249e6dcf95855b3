"""Source health reaches the admin: the real pipeline round crawls real local servers that fail (HTTP 500, a refused
connection) or answer 200 with nothing new for a long time, and the org chart's 系统管理员 gets exactly one message
per change of state in the 消息 inbox (and a recovery message), never twice — not across a restart either — and sees
on the 信息源 page that they were told."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crawlers.crawl import CONSOLE
from crawlers.models import SourceState
from incidents.models import Notification
from incidents.source_alerts import SOURCE_HEALTH
from runner.runtime import Runtime, build_runtime, run_round
from yuqing.clock import FrozenClock
from yuqing.db import engine_for
from yuqing.migrate import upgrade
from yuqing.settings import Settings

FAST = {"DOWNLOAD_DELAY": 0, "YUQING_RETRY_BACKOFF": 0.01, "DOWNLOAD_TIMEOUT": 5, "LOG_LEVEL": "ERROR"}
SECRET = "source-health-tests-5Jq8Wd2Lm7Rx4Vz9Nc3Bk6Yf1Gh0Ps"
PASSWORD = "Admin-2026!pass"
START = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>{t}_江城晚报网</title></head><body><h1>{t}</h1>"
        "<div class='info'>发布时间：2026-12-06 09:15 来源：江城晚报</div><div class='content'><p>{t}。本报讯，"
        "市民广场今日举行迎新年文艺演出，数百名居民到场观看，现场秩序良好，活动持续到傍晚。</p></div></body></html>")


def rss(base: str, paths: list[str]) -> str:
    items = "".join(f"<item><title>第{i}条</title><link>{base}{p}</link></item>" for i, p in enumerate(paths))
    head = '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>测试</title>'
    return f"{head}{items}</channel></rss>"


@pytest.fixture(autouse=True)
def rules_classifier(monkeypatch):
    """The pipeline's classifier is not under test here: the rule baseline keeps each round fast."""
    import sentiment.batch

    original = sentiment.batch.choose_classifier
    monkeypatch.setattr(sentiment.batch, "choose_classifier", lambda *a, **k: original(None, rules=True))
    CONSOLE.forget()


class Pipeline:
    """``yuqing run``'s pipeline round on a frozen clock, over a sources file naming the test's servers; ``restart``
    builds a new runtime on the same database (what a process restart keeps is what the database keeps)."""

    def __init__(self, tmp_path: Path, sources_yaml: str, private: list[str]) -> None:
        (tmp_path / "sources.yaml").write_text(sources_yaml, encoding="utf-8")
        self.settings = Settings(data_dir=tmp_path, secret_key=SECRET, sources_file=tmp_path / "sources.yaml",
                                 allow_private_sources=private, database_url=f"sqlite:///{tmp_path / 'y.db'}")
        self.clock = FrozenClock(START)
        self.engine = engine_for(self.settings)
        upgrade(self.engine)
        self.rt = self._build()

    def _build(self) -> Runtime:
        rt = build_runtime(self.settings, clock=self.clock, engine=self.engine)
        rt.crawl_overrides = dict(FAST)
        return rt

    def restart(self) -> None:
        CONSOLE.forget()
        self.rt = self._build()

    def poll(self) -> None:
        """Move the clock to when the next source is due, then run one round."""
        with self.rt.session_factory() as session:
            due = [s.next_poll_at for s in session.scalars(select(SourceState)) if s.next_poll_at is not None]
        if due:
            self.clock.set(max(self.clock.now(), min(due)))
        asyncio.run(run_round(self.rt))

    def admin_messages(self, source_name: str) -> list[Notification]:
        with self.rt.session_factory() as session:
            rows = session.scalars(select(Notification).where(
                Notification.purpose == SOURCE_HEALTH, Notification.recipient_id == "admin",
                Notification.channel == "in_app").order_by(Notification.id)).all()
            session.expunge_all()
        return [n for n in rows if f"「{source_name}」" in n.body]

    def close(self) -> None:
        self.engine.dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failing_sources_tell_the_admin_once_then_once_more_when_they_recover(tmp_path, site):
    site.add("/rss.xml", "busy", status=500, content_type="text/plain")
    closed = f"127.0.0.1:{_closed_port()}"
    here = site.base.removeprefix("http://")
    pipeline = Pipeline(tmp_path, f"""
sources:
  - {{id: broken, name: 新华网 RSS, kind: rss, channel: news, url: "{site.base}/rss.xml", authority: national_media,
      poll_interval: 60, private_network: "{here}", respect_robots: false}}
  - {{id: refused, name: 楚江网, kind: rss, channel: news, url: "http://{closed}/rss.xml", authority: local_media,
      poll_interval: 60, private_network: "{closed}", respect_robots: false}}
""", ["broken", "refused"])
    try:
        for _ in range(4):
            pipeline.poll()
        assert pipeline.admin_messages("新华网 RSS") == []  # four failures: not yet (threshold 5)
        pipeline.poll()
        [broken] = pipeline.admin_messages("新华网 RSS")
        assert broken.subject == "信息源异常：新华网 RSS 抓取失败"
        assert broken.body.startswith("来源「新华网 RSS」已连续 5 次抓取失败（HTTP 500），从未成功抓取")
        assert broken.status == "sent"  # in the admin's 消息 inbox
        [refused] = pipeline.admin_messages("楚江网")
        assert "已连续 5 次抓取失败（连接被拒绝）" in refused.body

        for _ in range(2):
            pipeline.poll()
        pipeline.restart()  # a new process on the same database: told already, nothing again
        pipeline.poll()
        assert len(pipeline.admin_messages("新华网 RSS")) == 1 and len(pipeline.admin_messages("楚江网")) == 1

        # the admin sees it on the 信息源 page too
        from api.app import create_app
        from api.users import seed_users

        with pipeline.rt.session_factory() as session:
            seed_users(session, pipeline.rt.org, password=PASSWORD, clock=pipeline.clock, must_change=False)
            session.commit()
        app = create_app(settings=pipeline.settings, session_factory=pipeline.rt.session_factory,
                         org=pipeline.rt.org, clock=pipeline.clock, policy=pipeline.rt.policy,
                         sources=pipeline.rt.sources)
        with TestClient(app, follow_redirects=False) as client:
            login = client.get("/login").text
            csrf = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            assert client.post("/login", data={"login": "admin", "password": PASSWORD, "csrf_token": csrf,
                                               "next": "/"}).status_code == 303
            page = client.get("/sources").text
            assert page.count("已通知管理员：抓取失败") == 2
            assert "信息源异常：新华网 RSS 抓取失败" in client.get("/inbox").text

        # the server comes back (a valid feed, nothing new in it): one recovery message, then quiet
        site.add("/rss.xml", rss(site.base, []), content_type="application/rss+xml")
        pipeline.poll()
        pipeline.poll()
        messages = pipeline.admin_messages("新华网 RSS")
        assert [m.subject for m in messages] == ["信息源异常：新华网 RSS 抓取失败", "信息源恢复：新华网 RSS"]
        assert messages[1].body.startswith("来源「新华网 RSS」已恢复正常（此前：抓取失败），最近一次成功抓取于12月6日")
        assert len(pipeline.admin_messages("楚江网")) == 1  # still failing: nothing new to say
    finally:
        pipeline.close()


def test_a_source_that_answers_200_with_nothing_new_for_long_is_reported_silent_once(tmp_path, site):
    served: list[str] = []

    def feed() -> bytes:
        return rss(site.base, served).encode("utf-8")

    site.add("/feed.xml", feed, content_type="application/rss+xml")
    here = site.base.removeprefix("http://")
    pipeline = Pipeline(tmp_path, f"""
sources:
  - {{id: quiet, name: 江城晚报网, kind: rss, channel: news, url: "{site.base}/feed.xml", authority: local_media,
      poll_interval: 60, private_network: "{here}", respect_robots: false}}
""", ["quiet"])
    try:
        for i in range(4):  # new items at every poll: its usual gap is one poll (30 s after news)
            path = f"/a/{i}.html"
            site.add(path, PAGE.format(t=f"市民广场迎新年演出第{i}场"))
            served.append(path)
            pipeline.poll()
        assert pipeline.admin_messages("江城晚报网") == []
        polls = 0
        while not pipeline.admin_messages("江城晚报网"):  # 200 with nothing new: silent after 12 poll intervals
            pipeline.poll()
            polls += 1
            assert polls < 20, "never reported silent"
        [silent] = pipeline.admin_messages("江城晚报网")
        assert silent.subject == "信息源静默：江城晚报网 长时间没有新内容"
        assert "抓取正常，但" in silent.body and "起没有新内容（平时约每" in silent.body
        with pipeline.rt.session_factory() as session:
            state = session.get(SourceState, "quiet")
            assert state.consecutive_failures == 0  # it was crawled fine: nothing found, not nothing crawled
            assert (pipeline.clock.now() - state.last_new_item_at).total_seconds() > 12 * 60

        pipeline.restart()
        pipeline.poll()
        pipeline.poll()
        assert len(pipeline.admin_messages("江城晚报网")) == 1  # nothing twice across a restart

        site.add("/a/new.html", PAGE.format(t="市民广场新年灯会开幕"))
        served.append("/a/new.html")
        pipeline.poll()
        messages = pipeline.admin_messages("江城晚报网")
        assert [m.subject for m in messages] == ["信息源静默：江城晚报网 长时间没有新内容", "信息源恢复：江城晚报网"]
        assert "已恢复正常（此前：长时间没有新内容）" in messages[1].body
    finally:
        pipeline.close()


@pytest.mark.parametrize(("error", "kind"), [
    ("入口请求失败：DNSLookupError: DNS lookup failed: no results for hostname lookup: x.invalid.（http://x.invalid/）",
     "域名解析失败（DNS）"),
    ("入口请求失败：DownloadConnectionRefusedError: Cannot connect to host 127.0.0.1:9 [Connect call failed]（u）",
     "连接被拒绝"),
    ("入口请求失败：DownloadTimeoutError: Getting http://10.0.0.1/ took longer than 30.0 seconds.（u）", "连接超时"),
    ("HTTP 503：对方服务器错误，重试后仍失败（http://x/）", "HTTP 503"),
    ("订阅源内容不是 RSS/Atom（http://x/）", "订阅源内容不是 RSS/Atom（http://x/）"),
    (None, "未知错误"),
])
def test_what_failed_is_said_in_a_word(error, kind):
    from crawlers.health import failure_kind

    assert failure_kind(error) == kind


def test_the_console_says_a_source_state_once_per_change():
    from crawlers.crawl import SourceConsole, SourceRunResult
    from crawlers.sources import SourceConfig

    source = SourceConfig(id="x", name="新华网 RSS", kind="rss", channel="news", url="https://news.example/rss.xml",
                          authority="national_media")
    console = SourceConsole()
    refused = SourceRunResult("x", ok=False, errors=["入口请求失败：ConnectionRefusedError: Connect call failed（u）"])
    lines = [console.report(source, r) for r in (refused, refused, SourceRunResult("x", ok=True),
                                                  SourceRunResult("x", ok=True), refused)]
    assert lines[0].startswith("来源「新华网 RSS」（https://news.example/rss.xml）抓取失败：连接被拒绝")
    assert lines[1] is None and lines[3] is None
    assert lines[2] == "来源「新华网 RSS」（https://news.example/rss.xml）已恢复正常"
    assert lines[4] == lines[0]
