"""The deletion watch (issue 14, evidence) against a real local web site whose pages change between runs: 404 and a
removal-notice page mark the article deleted — timeline event 原帖已删除, the check's status and response hash kept,
captures and screenshots untouched, 已删除 on the incident page — a 503 or a timeout does not (the failed check is
recorded and retried sooner), a long article quoting the words is not a removal page, and a page that comes back
is un-deleted with a 原帖已恢复 event. Also the simulated internet's scripted deletion of a weibo post."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import zlib
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from api import auth
from api.app import create_app
from api.users import seed_users
from crawlers.guarded_fetch import guarded_get
from crawlers.models import ArticleCapture
from crawlers.ssrf import PrivateAllowance
from incidents.deletion_watch import judge, run_deletion_watch
from incidents.evidence_config import EvidenceConfig, load_evidence_config
from incidents.evidence_models import ArticleDeletionCheck, ArticleScreenshot, ArticleWatch, CheckOutcome
from incidents.models import TimelineEvent
from runner.cli import app
from sim.model import WeiboPost
from sim.scenario import DEFAULT_START, build_scenario
from sim.server import SimServer
from tests.incidents.evidence_site import Page, open_incident, running_site, sources_file
from tests.sim.running import serving
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.errors import ConfigError
from yuqing.migrate import upgrade
from yuqing.settings import PROJECT_ROOT, Settings

runner = CliRunner()
ARTICLE = "<!doctype html><meta charset=utf-8><title>微博</title><p>{}</p>"
LONG_QUOTE = ARTICLE.format("评论：有网友说帖子“该内容已被删除”是谣言。" + "示例银行新华路网点今日恢复正常营业，" * 60)
REMOVED = "<!doctype html><meta charset=utf-8><title>提示</title><div class='msg'>抱歉，该内容已被删除</div>"
PASSWORD = "Watch-2026!pass"


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'watch.db'}")
    upgrade(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def site():
    pages = {path: Page(200, ARTICLE.format(f"原帖 {path}：新华路网点拒绝老人取款").encode())
             for path in ("/a", "/b", "/c", "/d")}
    with running_site(pages) as s:
        yield s


def _watch(factory, site, clock, config: EvidenceConfig | None = None, waits: list[float] | None = None):
    """One run of the job; the pauses between checks of one host are recorded in ``waits``, not slept."""
    allowances = {"local-weibo": PrivateAllowance.parse(site.host_port)}

    async def pause(seconds: float) -> None:
        (waits if waits is not None else []).append(seconds)

    return asyncio.run(run_deletion_watch(factory, clock=clock, config=config or EvidenceConfig(),
                                          allowances=allowances, sleep=pause))


def _events(factory, incident_id: int, kind: str) -> list[TimelineEvent]:
    with factory() as s:
        return list(s.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id,
                                                          TimelineEvent.kind == kind).order_by(TimelineEvent.id)))


def test_404_and_removal_notices_mark_deleted_5xx_does_not_and_a_page_back_is_undeleted(session_factory, site, org,
                                                                                          policy, clock):
    factory = session_factory  # SQLite and PostgreSQL, both migrated
    incident_id, (a, b, c, d) = open_incident(factory, org=org, policy=policy, clock=clock, site=site,
                                              paths=["/a", "/b", "/c", "/d"])
    with factory() as s:  # a screenshot taken earlier: the watch must keep it
        s.add(ArticleScreenshot(article_id=a, taken_at=clock.now(), url=site.url("/a"), render_source="live",
                                sha256=hashlib.sha256(b"png").hexdigest(), size=3, width=1280, page_height=900,
                                clipped=False, blocked=0, note="", png=b"png"))
        s.commit()
        captures_before = s.scalar(select(func.count()).select_from(ArticleCapture))

    first = _watch(factory, site, clock)
    assert (first.checked, first.deleted, first.failed) == (4, 0, 0)
    assert _watch(factory, site, clock).checked == 0  # nothing is due again before the cadence

    site.pages["/a"] = Page(404, "<h1>该微博不存在</h1>".encode())
    site.pages["/b"] = Page(503, b"<h1>Service Unavailable</h1>")
    site.pages["/c"] = Page(200, REMOVED.encode())
    site.pages["/d"] = Page(200, LONG_QUOTE.encode())
    clock.advance(timedelta(minutes=30))
    second = _watch(factory, site, clock)
    assert (second.checked, second.deleted, second.failed) == (4, 2, 1)

    with factory() as s:
        wa, wb, wc, wd = (s.get(ArticleWatch, i) for i in (a, b, c, d))
        assert wa.deleted_at == clock.now()
        assert wa.deletion_evidence["status"] == 404 and wa.deletion_evidence["reason"] == "http_404"
        assert wa.deletion_evidence["sha256"] == hashlib.sha256(site.pages["/a"].body).hexdigest()
        assert wc.deleted_at == clock.now() and wc.deletion_evidence["reason"] == "notice:该内容已被删除"
        assert wc.deletion_evidence["status"] == 200
        assert wb.deleted_at is None and wb.check_failures == 1
        assert wb.next_check_at == clock.now() + timedelta(minutes=10)  # a failed check is retried sooner
        assert wd.deleted_at is None  # a long article quoting the words is not a removal page
        failed = s.scalars(select(ArticleDeletionCheck).where(ArticleDeletionCheck.article_id == b)
                           .order_by(ArticleDeletionCheck.id.desc())).first()
        assert (failed.outcome, failed.status, failed.reason) == (CheckOutcome.failed, 503, "http_503")
        # evidence is kept: every capture, the screenshot, every check
        assert s.scalar(select(func.count()).select_from(ArticleCapture)) == captures_before
        assert s.scalar(select(func.count()).select_from(ArticleScreenshot)) == 1
        assert s.scalar(select(func.count()).select_from(ArticleDeletionCheck)) == 8
        capture = s.scalars(select(ArticleCapture).where(ArticleCapture.article_id == a)).one()
        assert b"\xe6\x96\xb0\xe5\x8d\x8e\xe8\xb7\xaf" in zlib.decompress(capture.body)  # 新华路, as fetched

    deleted = _events(factory, incident_id, "article_deleted")
    assert [e.data["article_id"] for e in deleted] == [a, c]
    assert deleted[0].text.startswith("原帖已删除：") and "网站返回 HTTP 404" in deleted[0].text
    assert "页面显示“该内容已被删除”" in deleted[1].text

    clock.advance(timedelta(minutes=10))  # only the failed check is due; the site is still down: no deletion
    third = _watch(factory, site, clock)
    assert (third.checked, third.deleted, third.failed) == (1, 0, 1)
    with factory() as s:
        assert s.get(ArticleWatch, b).next_check_at == clock.now() + timedelta(minutes=20)  # doubling

    site.pages["/a"] = Page(200, ARTICLE.format("原帖 /a 又能打开了").encode())
    clock.advance(timedelta(minutes=30))
    fourth = _watch(factory, site, clock)
    assert (fourth.restored, fourth.deleted) == (1, 0)
    with factory() as s:
        assert s.get(ArticleWatch, a).deleted_at is None and s.get(ArticleWatch, c).deleted_at is not None
    restored = _events(factory, incident_id, "article_restored")
    assert len(restored) == 1 and restored[0].text.startswith("原帖已恢复：") and restored[0].data["article_id"] == a
    assert restored[0].data["deletion_evidence"]["status"] == 404
    assert len(_events(factory, incident_id, "article_deleted")) == 2  # c still deleted: no second event


def test_the_incident_page_shows_deleted_and_the_cli_checks_now(db, site, org, policy, clock, tmp_path,
                                                                  monkeypatch):
    factory = db
    incident_id, (a, b, _c, _d) = open_incident(factory, org=org, policy=policy, clock=clock, site=site,
                                                paths=["/a", "/b", "/c", "/d"])
    site.pages["/a"] = Page(410, b"gone")
    monkeypatch.setenv("YUQING_DATABASE_URL", f"sqlite:///{tmp_path / 'watch.db'}")
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("YUQING_SOURCES_FILE", str(sources_file(tmp_path, site)))
    monkeypatch.setenv("YUQING_ALLOW_PRIVATE_SOURCES", "local-weibo")
    result = runner.invoke(app, ["evidence", "check", str(incident_id)], obj={"clock": clock})
    assert result.exit_code == 0, result.output
    assert f"文章 {a}：已删除，HTTP 410，http_410（新发现删除，已记入处置记录）" in result.output
    assert f"文章 {b}：仍在，HTTP 200" in result.output

    monkeypatch.setattr(auth, "password_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(auth, "_DUMMY_HASH", None)
    with factory() as s:
        seed_users(s, org, password=PASSWORD, clock=clock, must_change=False)
        s.commit()
    web = create_app(settings=Settings(secret_key="watch-tests-7Hq2xW9pLm4Rt8Vz3Nc6Bk1Yd5Gf0Js", data_dir=tmp_path),
                     session_factory=factory, org=org, clock=clock, policy=policy, sources=[])
    with TestClient(web, follow_redirects=False) as client:
        form = client.get("/login").text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        login = client.post("/login", data={"login": "liuqiang", "password": PASSWORD, "csrf_token": token,
                                            "next": "/"})
        assert login.status_code == 303, login.text
        page = client.get(f"/incidents/{incident_id}").text
    evidence = page.split("证据（相关报道）", 1)[1].split("</section>", 1)[0]
    assert evidence.count("已删除") == 1
    item = next(li for li in evidence.split("<li>") if "已删除" in li)
    assert "新华路网点拒绝老人取款（1）" in item  # the deleted one is article /a, the first
    assert "原帖已删除" in page  # and the timeline says so


def test_the_sim_takes_a_weibo_post_down_at_a_scripted_time_and_the_watch_sees_it():
    scenario = build_scenario(DEFAULT_START)
    post = scenario.weibo[0]
    at = post.published + timedelta(hours=1)
    scenario.delete_post(post.key, at)
    with pytest.raises(KeyError):
        scenario.delete_post("no-such-post", at)
    clock = FrozenClock(at - timedelta(minutes=1))
    server = SimServer(clock, scenario, weibo_token="watch-token")
    options = EvidenceConfig().deletion_watch
    with serving(server):
        allowance = PrivateAllowance.parse(f"{server.host}:{server.port}")
        page_url = f"http://{server.host}:{server.port}{post.path}"
        show_url = f"http://{server.host}:{server.port}/weibo/api/statuses/show?id={post.id}&access_token=watch-token"
        search_url = f"http://{server.host}:{server.port}/weibo/api/statuses/search?access_token=watch-token&count=100"

        def look(url: str):
            return judge(guarded_get(url, allowance=allowance, timeout=10, max_bytes=1 << 20), options)

        def listed() -> bool:
            body = guarded_get(search_url, allowance=allowance, timeout=10, max_bytes=1 << 22).body
            return any(s["id"] == str(post.id) for s in json.loads(body)["statuses"])

        assert look(page_url).outcome == look(show_url).outcome == CheckOutcome.present and listed()
        clock.set(at)
        page, show = look(page_url), look(show_url)
        assert (page.outcome, page.status, page.reason) == (CheckOutcome.deleted, 200, "notice:该微博已被删除")
        assert (show.outcome, show.reason) == (CheckOutcome.deleted, "json_notice:该微博已被删除")
        assert not listed()
    # a content module can script it as well: deleted_after counts from the post's own publish time
    scripted = WeiboPost(key="k", offset=timedelta(0), user="u", text="t", truth="incident",
                         deleted_after=timedelta(hours=2))
    assert scripted.deleted_after == timedelta(hours=2)


def test_the_shipped_config_loads_and_errors_name_the_field(tmp_path):
    shipped = load_evidence_config(PROJECT_ROOT / "config" / "evidence.yaml")
    assert shipped == EvidenceConfig()  # the file documents the defaults
    bad = tmp_path / "evidence.yaml"
    bad.write_text("deletion_watch:\n  removal_notices: ['x']\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_evidence_config(bad)
    assert "deletion_watch.removal_notices" in str(err.value) and str(bad) in str(err.value)


def test_a_json_api_saying_the_post_is_gone_marks_it_deleted(db, org, policy, clock):
    factory = db
    record = Page(200, b'{"id": "1", "text": "\\u65b0\\u534e\\u8def"}', "application/json")
    with running_site({"/api/show?id=1": record, "/api/show?id=2": record}) as site:
        incident_id, (gone, kept) = open_incident(factory, org=org, policy=policy, clock=clock, site=site,
                                                  paths=["/api/show?id=1", "/api/show?id=2"])
        site.pages["/api/show?id=1"] = Page(200, '{"error": "该微博已被删除", "error_code": 20101}'.encode(),
                                            "application/json")
        # a record whose own text quotes a notice is not the API saying it is gone
        site.pages["/api/show?id=2"] = Page(200, '{"id": "2", "text": "该微博已被删除？谣言"}'.encode(),
                                            "application/json")
        report = _watch(factory, site, clock)
    assert (report.checked, report.deleted) == (2, 1)
    with factory() as s:
        assert s.get(ArticleWatch, gone).deletion_evidence["reason"] == "json_notice:该微博已被删除"
        assert s.get(ArticleWatch, kept).deleted_at is None
    assert [e.data["article_id"] for e in _events(factory, incident_id, "article_deleted")] == [gone]


def test_check_config_validates_the_evidence_file(tmp_path, monkeypatch):
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    monkeypatch.setenv("YUQING_CONFIG_DIR", str(config))
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    ok = runner.invoke(app, ["check-config"])
    assert ok.exit_code == 0 and "evidence: screenshots on, deletion watch every 30 min" in ok.output, ok.output
    (config / "evidence.yaml").write_text("deletion_watch:\n  open_every_minutes: 0\n", encoding="utf-8")
    bad = runner.invoke(app, ["check-config"])
    assert bad.exit_code == 2 and "evidence.yaml" in bad.output
    assert "deletion_watch.open_every_minutes" in bad.output, bad.output


def test_a_timeout_is_a_failed_check_not_a_deletion(db, site, org, policy, clock):
    factory = db
    _incident_id, (a, *_rest) = open_incident(factory, org=org, policy=policy, clock=clock, site=site,
                                              paths=["/a", "/b", "/c", "/d"])
    site.pages["/a"] = Page(404, b"gone", delay=3)  # would say deleted, but answers only after the timeout
    config = EvidenceConfig.model_validate({"deletion_watch": {"timeout_seconds": 1}})
    report = _watch(factory, site, clock, config)
    assert (report.checked, report.deleted, report.failed) == (4, 0, 1)
    with factory() as s:
        check = s.scalars(select(ArticleDeletionCheck).where(ArticleDeletionCheck.article_id == a)).one()
        assert (check.outcome, check.status, check.reason) == (CheckOutcome.failed, None, "timeout")
        assert s.get(ArticleWatch, a).deleted_at is None


def test_checks_of_one_host_are_spaced_out(db, site, org, policy, clock):
    factory = db
    open_incident(factory, org=org, policy=policy, clock=clock, site=site, paths=["/a", "/b", "/c", "/d"])
    waits: list[float] = []
    config = EvidenceConfig.model_validate({"deletion_watch": {"per_host_delay_seconds": 60}})
    assert _watch(factory, site, clock, config, waits).checked == 4
    assert len(waits) == 3 and all(40 < w <= 60 for w in waits)  # before the 2nd, 3rd and 4th request
