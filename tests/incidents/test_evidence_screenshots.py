"""Screenshots of incident articles in Debian's chromium (issue 14, evidence): taken with JavaScript off and every
sub-request through the SSRF guard, stored with a SHA-256 of the PNG, exported under ``screenshots/`` and checked
by ``yuqing evidence verify`` — which fails, naming the file, once one byte of a PNG changes. The stored capture is
shot, and the record says so, when the live page is gone; failures are recorded and retried with backoff.

Browser tests: marked ``e2e`` like ``tests/e2e`` (``make test`` runs them after ``scripts/system-deps.sh`` installs
chromium and the CJK fonts); a missing browser is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import sync_playwright
from sqlalchemy import func, select
from typer.testing import CliRunner

from crawlers.models import ArticleCapture
from crawlers.screenshot import CHROMIUM, CHROMIUM_ARGS, RenderRequest, cjk_font_installed, render_page_async
from incidents.evidence_config import EvidenceConfig
from incidents.evidence_jobs import start_evidence_jobs
from incidents.evidence_models import ArticleScreenshot, ArticleWatch, RenderSource
from incidents.screenshots import take_due_screenshots
from runner.cli import app
from runner.runtime import Runtime, run_pipeline
from tests.incidents.evidence_site import Page, open_incident, running_site, sources_file
from yuqing.db import make_engine, make_sessionmaker
from yuqing.migrate import upgrade
from yuqing.settings import Settings

pytestmark = pytest.mark.e2e
runner = CliRunner()
RED = (255, 0, 0)

# The script would replace the post's text and paint the page red; with JavaScript off neither happens.
POST = """<!doctype html><html><head><meta charset="utf-8"><title>微博正文</title></head>
<body style="margin:0;background:#ffffff">
<p id="text">原帖：示例银行新华路网点拒绝七旬老人取款</p>
<img src="/pixel.png" width="10" height="10">
<img src="http://127.0.0.1:{intranet}/secret.png">
<img src="http://169.254.169.254/latest/meta-data/">
<script>document.getElementById("text").textContent = "JS RAN"; document.body.style.background = "#ff0000";</script>
</body></html>"""
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e221bc330000000049454e44ae426082")


@pytest.fixture(autouse=True)
def browser_installed() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium missing: run `make test` (scripts/system-deps.sh installs it)")


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'evidence.db'}")
    upgrade(engine)
    yield engine, make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def intranet():
    """A second local server the page points at: not the source's allowed host:port, so never reached."""
    with running_site({"/secret.png": Page(200, PIXEL, "image/png")}) as other:
        yield other


@pytest.fixture
def site(intranet):
    pages = {"/post/1": Page(200, POST.format(intranet=intranet.port).encode()),
             "/pixel.png": Page(200, PIXEL, "image/png"),
             "/post/gone": Page(200, "<!doctype html><meta charset=utf-8><p>被删前的原帖：新华路网点拒绝取款</p>"
                                     "<img src='/pixel.png'>".encode()),
             "/post/down": Page(200, b"<p>ok</p>")}
    with running_site(pages) as s:
        yield s


def _cli(monkeypatch, tmp_path: Path, site, clock, *args: str):
    monkeypatch.setenv("YUQING_DATABASE_URL", f"sqlite:///{tmp_path / 'evidence.db'}")
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("YUQING_SOURCES_FILE", str(sources_file(tmp_path, site)))
    monkeypatch.setenv("YUQING_ALLOW_PRIVATE_SOURCES", "local-weibo")
    return runner.invoke(app, list(args), obj={"clock": clock})


def _png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_screenshot_of_the_live_page_without_its_script_exports_and_verifies(db, site, intranet, tmp_path,
                                                                               monkeypatch, org, policy, clock):
    _engine, factory = db
    incident_id, (post,) = open_incident(factory, org=org, policy=policy, clock=clock, site=site,
                                         paths=["/post/1"])
    result = _cli(monkeypatch, tmp_path, site, clock, "evidence", "screenshot", str(incident_id))
    assert result.exit_code == 0, result.output
    assert "新截 1 张" in result.output and "已截图（原网页）" in result.output

    with factory() as s:
        shot = s.scalars(select(ArticleScreenshot)).one()
        assert shot.article_id == post and shot.render_source == RenderSource.live and shot.url == site.url("/post/1")
        assert shot.sha256 == hashlib.sha256(shot.png).hexdigest() and shot.size == len(shot.png)
        assert shot.png.startswith(b"\x89PNG") and shot.taken_at == clock.now() and shot.http_status == 200
        assert shot.page_sha256 == hashlib.sha256(site.pages["/post/1"].body).hexdigest()
        assert shot.blocked == 2  # the other local port and the metadata address
        picture = shot.png
    # the sub-request to the allowed host went through the guard; the page's other hosts were never reached
    assert site.asked("/pixel.png") == 1 and intranet.requests == []

    # JavaScript did not run: the page is white where the script would have painted it red ...
    image = _png(picture)
    assert image.getpixel((600, image.height - 5)) == (255, 255, 255)
    # ... and that check can fail: the same page rendered with JavaScript on is red there
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", lambda route: route.continue_() if route.request.url == site.url("/post/1")
                   else route.abort())
        page.goto(site.url("/post/1"))
        assert page.inner_text("#text") == "JS RAN"
        js_image = _png(page.screenshot(full_page=True))
        browser.close()
    assert js_image.getpixel((600, js_image.height - 5)) == RED
    assert js_image.tobytes() != image.tobytes()

    out = tmp_path / "evidence.zip"
    exported = _cli(monkeypatch, tmp_path, site, clock, "evidence", "export", str(incident_id), "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert "1 个原始网页" in exported.output and "1 张网页截图" in exported.output
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        entry = next(f for f in manifest["files"] if f["kind"] == "screenshot")
        assert entry["path"].startswith("screenshots/") and entry["path"].endswith(".png")
        assert zf.read(entry["path"]) == picture
    assert entry["sha256"] == hashlib.sha256(picture).hexdigest() == entry["recorded_sha256"]
    assert (entry["url"], entry["article_id"], entry["render_source"]) == (site.url("/post/1"), post, "live")
    assert entry["taken_at"] == clock.now().isoformat()

    ok = _cli(monkeypatch, tmp_path, site, clock, "evidence", "verify", str(out))
    assert ok.exit_code == 0 and "校验通过：2 个文件" in ok.output, ok.output

    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(out) as zin, zipfile.ZipFile(changed, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == entry["path"]:
                data = data[:100] + bytes([data[100] ^ 0x01]) + data[101:]
            zout.writestr(name, data)
    bad = _cli(monkeypatch, tmp_path, site, clock, "evidence", "verify", str(changed))
    assert bad.exit_code == 1
    assert f"校验失败：文件 {entry['path']} 的 SHA-256 与清单不符" in bad.output

    again = _cli(monkeypatch, tmp_path, site, clock, "evidence", "screenshot", str(incident_id))
    assert again.exit_code == 0 and "均已有截图" in again.output  # only the missing ones are taken


def test_a_gone_page_is_shot_from_its_capture_and_the_record_says_so(db, site, tmp_path, monkeypatch, org, policy,
                                                                     clock):
    _engine, factory = db
    incident_id, (gone,) = open_incident(factory, org=org, policy=policy, clock=clock, site=site,
                                         paths=["/post/gone"])
    site.pages["/post/gone"] = Page(404, "<h1>该微博已被删除</h1>".encode())
    asked_before = site.asked("/pixel.png")
    result = _cli(monkeypatch, tmp_path, site, clock, "evidence", "screenshot", str(incident_id))
    assert result.exit_code == 0, result.output
    with factory() as s:
        shot = s.scalars(select(ArticleScreenshot)).one()
        capture = s.scalars(select(ArticleCapture).where(ArticleCapture.article_id == gone)).one()
        assert shot.render_source == RenderSource.capture and shot.capture_id == capture.id
        assert shot.http_status == 404 and "原网页已无法访问（HTTP 404）" in shot.note and "保存的原始网页" in shot.note
        assert shot.page_sha256 == capture.sha256 and shot.sha256 == hashlib.sha256(shot.png).hexdigest()
        assert shot.blocked == 1  # the capture is rendered from its bytes alone: its image is not fetched
    assert site.asked("/pixel.png") == asked_before
    assert "保存的原始网页" in result.output


def test_failures_are_recorded_and_retried_with_backoff_by_the_scheduled_job(session_factory, site, org, policy,
                                                                             clock):
    factory = session_factory  # SQLite and PostgreSQL, both migrated
    _incident_id, (down,) = open_incident(factory, org=org, policy=policy, clock=clock, site=site,
                                         paths=["/post/down"])
    with factory() as s:  # an article with no capture to fall back on
        s.query(ArticleCapture).delete()
        s.commit()
    site.pages["/post/down"] = Page(503, b"busy")
    config = EvidenceConfig.model_validate({"screenshots": {"retry_minutes": [5, 30]}})
    allowances = {"local-weibo": _allowance(site)}

    report = asyncio.run(take_due_screenshots(factory, clock=clock, config=config, allowances=allowances))
    assert (report.taken, report.failed) == (0, 1)
    with factory() as s:
        watch = s.get(ArticleWatch, down)
        assert watch.shot_attempts == 1 and watch.shot_next_at == clock.now() + timedelta(minutes=5)
        assert "网站返回 HTTP 503" in watch.shot_last_error and "没有保存的原始网页" in watch.shot_last_error
    asked = site.asked("/post/down")
    report = asyncio.run(take_due_screenshots(factory, clock=clock, config=config, allowances=allowances))
    assert report.outcomes == [] and site.asked("/post/down") == asked  # waits out its backoff

    clock.advance(timedelta(minutes=5))
    site.pages["/post/down"] = Page(200, "<p>恢复访问的原帖</p>".encode())
    report = asyncio.run(take_due_screenshots(factory, clock=clock, config=config, allowances=allowances))
    assert (report.taken, report.failed) == (1, 0)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(ArticleScreenshot)) == 1
        assert s.get(ArticleWatch, down).shot_next_at is None


def test_after_repeated_live_failures_the_capture_is_shot(db, site, org, policy, clock):
    _engine, factory = db
    _incident_id, (down,) = open_incident(factory, org=org, policy=policy, clock=clock, site=site,
                                          paths=["/post/down"])
    site.pages["/post/down"] = Page(503, b"busy")
    config = EvidenceConfig.model_validate({"screenshots": {"retry_minutes": [1], "live_attempts": 2}})
    allowances = {"local-weibo": _allowance(site)}
    first = asyncio.run(take_due_screenshots(factory, clock=clock, config=config, allowances=allowances))
    assert (first.taken, first.failed) == (0, 1)
    clock.advance(timedelta(minutes=1))
    second = asyncio.run(take_due_screenshots(factory, clock=clock, config=config, allowances=allowances))
    assert (second.taken, second.failed) == (1, 0)
    with factory() as s:
        shot = s.scalars(select(ArticleScreenshot)).one()
        assert shot.article_id == down
        assert shot.render_source == RenderSource.capture and shot.http_status == 503
        assert shot.note.startswith("原网页连续 2 次截图失败（最后一次：网站返回 HTTP 503），截取的是 ")


def test_the_pipeline_loop_starts_the_job_in_the_background(db, site, org, policy, clock, tmp_path):
    engine, factory = db
    open_incident(factory, org=org, policy=policy, clock=clock, site=site, paths=["/post/1"])
    settings = Settings(data_dir=tmp_path, allow_private_sources=["local-weibo"])
    # the source is disabled (nothing is crawled) but its articles are still watched, under its allowance
    rt = Runtime(settings=settings, clock=clock, engine=engine, session_factory=factory, org=org,
                 sources=[_source(site, enabled=False)], policy=policy, risk_ctx=None, matcher=None,
                 story_index=None, classifier=None, evidence_config=EvidenceConfig())

    async def loop() -> bool:
        stop = asyncio.Event()
        pipeline = asyncio.create_task(run_pipeline(rt, stop, idle_seconds=0.05))
        while rt.evidence_task is None:
            await asyncio.sleep(0.05)
        first = rt.evidence_task
        again = start_evidence_jobs(rt)  # the run is still going: not started twice
        await first
        stop.set()
        await pipeline
        return again

    assert asyncio.run(loop()) is False
    with factory() as s:
        shot = s.scalars(select(ArticleScreenshot)).one()
        assert shot.render_source == RenderSource.live and shot.sha256 == hashlib.sha256(shot.png).hexdigest()


def test_a_hanging_page_costs_one_time_limit(site):
    site.pages["/slow"] = Page(200, b"<p>slow</p>", delay=20)
    request = RenderRequest(url=site.url("/slow"), allowance=site.host_port, nav_timeout_seconds=60)
    result = asyncio.run(render_page_async(request, time_limit=3))
    assert not result.ok and result.error == "time limit of 3 s reached" and result.png == b""


def test_a_meta_refresh_does_not_put_another_page_in_the_picture(site):
    site.pages["/refresh"] = Page(200, '<meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/elsewhere">'
                                       "<p>原帖仍在此页</p>".encode())
    site.pages["/elsewhere"] = Page(200, "<p>另一页</p>".encode())
    request = RenderRequest(url=site.url("/refresh"), allowance=site.host_port)
    result = asyncio.run(render_page_async(request, time_limit=60))
    assert result.ok, result.error
    assert result.text == "原帖仍在此页" and site.asked("/elsewhere") == 0
    assert result.blocked == [f"navigation: {site.url('/elsewhere')}"]


def test_chinese_fonts_are_installed():
    assert cjk_font_installed(), "Noto CJK missing: run scripts/system-deps.sh"


def _allowance(site):
    from crawlers.ssrf import PrivateAllowance

    return PrivateAllowance.parse(site.host_port)


def _source(site, *, enabled: bool = True):
    from crawlers.sources import SourceConfig

    return SourceConfig(id="local-weibo", name="本地测试微博", kind="rss", channel="social", url=site.url("/feed.xml"),
                        authority="local_media", private_network=site.host_port, enabled=enabled)
