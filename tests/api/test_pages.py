"""The Chinese dashboard: content, scoping, escaping of hostile crawled text, and the security headers."""

from __future__ import annotations

import re
from datetime import timedelta

from api.app import CONTENT_SECURITY_POLICY
from api.templating import STATIC_DIR, TEMPLATES_DIR

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
HOSTILE = f"示例银行新华路网点{SCRIPT}{IMG}"


def _hostile_crisis(make, session):
    story = make.story(unit_id="xinhualu", title=HOSTILE)
    make.article(story=story, title=HOSTILE, text=f"正文{SCRIPT}", snippet=f"摘要{IMG}", url="javascript:alert(3)",
                 source_id="evil<b>src</b>")
    make.article(story=story, title="正常标题", url="https://news.example.cn/a.html?x=1&y=<2>")
    make.story_risk(story=story, factors={"polarity": {"value": 0.9, "reason": f"原因{SCRIPT}"}})
    incident = make.incident(unit_id="xinhualu", story=story, title=HOSTILE,
                             tasks=[(f"任务{IMG}", "liaison", timedelta(minutes=30))])
    make.event(incident=incident, text=f"记录{SCRIPT}")
    alert = make.alert(story=story, title=HOSTILE)
    session.commit()
    return story, alert, incident


def _assert_escaped(html: str, page: str) -> None:
    assert SCRIPT not in html and "<img" not in html, page  # the dashboard has no images: any <img is injected
    assert not any(h.lower().startswith("javascript:") for h in re.findall(r'href="([^"]*)"', html)), page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html, page


def test_hostile_titles_are_escaped_on_every_page_that_shows_them(login_as, make, session):
    _, _, incident = _hostile_crisis(make, session)
    c = login_as("wangmin")
    for page in ["/", "/partials/overview", "/alerts", "/incidents", f"/incidents/{incident.id}"]:
        r = c.get(page)
        assert r.status_code == 200, page
        _assert_escaped(r.text, page)
    detail = c.get(f"/incidents/{incident.id}").text
    assert "&lt;img src=x onerror=" in detail  # snippet and task title shown as text
    assert "evil&lt;b&gt;src&lt;/b&gt;" in detail
    assert "原因&lt;script&gt;" in detail and "记录&lt;script&gt;" in detail


def test_evidence_links_only_for_http_urls_and_never_pass_referrer_or_rank(login_as, make, session):
    _, _, incident = _hostile_crisis(make, session)
    html = login_as("wangmin").get(f"/incidents/{incident.id}").text
    links = re.findall(r'<a class="url" href="([^"]*)" rel="([^"]*)"', html)
    assert links == [("https://news.example.cn/a.html?x=1&amp;y=&lt;2&gt;", "noopener noreferrer nofollow")]
    assert '<span class="url">javascript:alert(3)</span>' in html  # shown as text, not a link


def test_security_headers_on_pages_api_static_and_errors(client, login_as, token_for):
    c = login_as("wangmin")
    responses = [c.get("/"), client.get("/login"), client.get("/"), client.get("/static/app.css"),
                 client.get("/api/v1/incidents", headers=token_for("wangmin")), client.get("/api/v1/incidents"),
                 c.get("/nope"), client.get("/healthz")]
    for r in responses:
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, r.url
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


def test_templates_have_no_inline_script_style_or_handlers_and_never_mark_content_safe():
    for path in TEMPLATES_DIR.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert "<style" not in text and " style=" not in text, path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text, path.name
    assert (STATIC_DIR / "app.js").is_file() and (STATIC_DIR / "app.css").is_file()


def test_overview_shows_levels_alert_countdown_mentions_and_source_health(login_as, make, session, clock):
    make.crisis(unit_id="xinhualu", level="I")
    queue = make.story(unit_id="jiefangdadao", title="解放大道网点排队")
    make.article(story=queue, unit_id="jiefangdadao", title="解放大道网点排队", label="neutral", negative_prob=0.2)
    make.alert(story=queue, level="III", ack_in=timedelta(minutes=30))
    make.source_state(source_id="weibo", failures=2, error="HTTP 503")
    make.source_state(source_id="jiangcheng-news")
    session.commit()
    c = login_as("wangmin")
    html = c.get("/").text
    for text in ["舆情总览", "预警", "事件", "信息源", "退出", "王敏", "值班监测"]:
        assert text in html
    assert 'class="badge level-red">I级 特别重大' in html
    assert "剩余 30分0秒" in html and "2026-11-23 09:30" in html
    assert "解放大道网点排队" in html and "中性" in html and "负面" in html
    assert "抓取失败" in html and "最近 2 次抓取失败" in html and "HTTP 503" in html
    assert 'data-refresh-url="/partials/overview"' in html and '<script src="/static/app.js" defer>' in html
    clock.advance(timedelta(minutes=45))
    partial = c.get("/partials/overview").text
    assert "<html" not in partial and "已超时 15分0秒" in partial


def test_incident_page_shows_clocks_checklist_factors_evidence_and_timeline(login_as, make, session, clock):
    _, _, incident = make.crisis(unit_id="xinhualu", level="II")
    c = login_as("liuqiang")
    html = c.get(f"/incidents/{incident.id}").text
    assert 'class="badge level-orange">II级 重大' in html and "新华路网点" in html
    for text in ["报告时限", "确认预警", "书面初报", "处置清单", "核实情况", "联络人", "为什么预警", "类别严重度",
                 "证据", "处置记录", "系统自动立案", "完成"]:
        assert text in html, text
    assert "2026-11-23 09:30" in html  # task due 30 min after 09:00 Shanghai
    clock.advance(timedelta(hours=3))
    late = c.get(f"/incidents/{incident.id}").text
    assert "row-overdue" in late and "已超时" in late and "超时</strong>" in late


def test_liaison_dashboard_is_scoped_to_own_units(login_as, make, session):
    _, _, mine = make.crisis(unit_id="xinhualu", title="新华路网点事件")
    _, _, theirs = make.crisis(unit_id="binjiang", title="滨江支行事件")
    c = login_as("zhoufang")
    listing = c.get("/incidents").text
    assert "新华路网点事件" in listing and "滨江支行事件" not in listing
    assert "滨江支行事件" not in c.get("/").text
    r = c.get(f"/incidents/{theirs.id}")
    assert r.status_code == 403 and "无权访问" in r.text and "滨江支行事件" not in r.text
    assert c.get(f"/incidents/{mine.id}").status_code == 200


def test_unknown_pages_and_bad_ids_get_chinese_error_pages(login_as):
    c = login_as("wangmin")
    r = c.get("/incidents/4242")
    assert r.status_code == 404 and "事件 4242 不存在" in r.text
    missing = c.get("/no-such-page")
    assert missing.status_code == 404 and "页面不存在" in missing.text
    bad = c.get("/incidents/abc")
    assert bad.status_code == 422 and "请求参数无效" in bad.text


def test_sources_page_lists_every_source_with_health(login_as, make, session):
    make.source_state(source_id="weibo", failures=1, error="超时")
    make.source_state(source_id="regulator", ran=False)
    session.commit()
    html = login_as("admin").get("/sources").text
    assert "微博" in html and "weibo" in html and "抓取失败" in html and "最近 1 次抓取失败：超时" in html
    assert "尚未运行" in html and "尚未抓取过" in html
    assert "本地论坛" in html  # configured sources show even before their first run


def test_pages_are_mobile_friendly_and_work_without_javascript(login_as, make, session):
    make.crisis()
    html = login_as("chenjing").get("/").text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "@media (max-width: 640px)" in (STATIC_DIR / "app.css").read_text(encoding="utf-8")
    assert 'class="table-wrap"' in html  # wide tables scroll sideways on phones
