"""Crawled text is hostile: planted script, event-handler and ``javascript:`` payloads never run on any dashboard page.

The data is what the pipeline stores. A hostile local site (a Weibo-like JSON API and an RSS feed carrying full
text) is crawled, matched, classified (rule baseline), scored and turned into an alert and an incident by the real
stages, configured as ``yuqing run`` loads them (``load_config``); the feed's items whose links are script URLs are
refused by the crawler and counted against their source. Rows the crawler does not produce but the database can
hold — ``javascript:``/``data:`` URLs in every spelling, payloads in authors, metadata, keyword hits, risk reasons,
incident summaries, task notes, dismissal reasons and source errors — are added with the API test factories.

A commander signs in through the real form and visits every GET page the app has (enumerated from ``app.routes``,
so pages added later are covered too) in Debian's chromium. Every payload calls a trap that an init script defines
(and ``alert``); the test listens for the trap, dialogs, console messages and page errors, checks the DOM holds no
injected element, handler or script URL, clicks the links and link-like texts carrying hostile URLs, checks the
strict CSP on every response, and checks the payloads are shown as text (so the test is not vacuous).
"""

from __future__ import annotations

import asyncio
import base64
import html
import importlib.util
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fastapi.routing
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api import auth, config_live
from api.app import create_app
from api.models import User
from api.server import serve_api, stop_api
from api.users import seed_users
from crawlers.matching import Matcher
from crawlers.models import Article, Mention, SourceState, Story
from crawlers.stories import StoryIndex
from incidents.acks import AckLinks
from incidents.complaints.models import Complaint, ComplaintAttachment, ComplaintEvent
from incidents.models import Alert, Incident, Notification, Task
from incidents.notify import default_senders
from runner.runtime import LoadedConfig, Runtime, load_config, run_round
from sentiment.rules import RuleBasedClassifier
from sentiment.service import RiskContext
from tests.static_site import StaticSite
from yuqing import config_store
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.migrate import upgrade
from yuqing.org import Role
from yuqing.settings import Settings

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
# The branch's incident commander, given every role below so that no page of the app is closed to the visit
LOGIN, PASSWORD = "liuqiang", "Hostile-2026!pass"
FAST_CRAWL = {"DOWNLOAD_DELAY": 0, "YUQING_RETRY_BACKOFF": 0.01, "DOWNLOAD_TIMEOUT": 5, "LOG_LEVEL": "ERROR"}

# Runs before any script of every document and frame: whatever executes calls __xss (or alert…) and is recorded.
TRAP = """(() => {
  const hits = [];
  const record = (why) => { hits.push(String(why)); console.log("XSS " + String(why)); };
  Object.defineProperty(window, "__xss", { value: record, configurable: false, writable: false });
  Object.defineProperty(window, "__xssHits", { get: () => hits.slice(), configurable: false });
  for (const name of ["alert", "confirm", "prompt"]) {
    const original = window[name];
    window[name] = function (...args) { record(name + ":" + args.join(",")); return original.apply(this, args); };
  }
})();"""

# The DOM of a page that escaped everything holds only the dashboard's own elements: no handlers, no frames, no
# inline or foreign scripts, no script URLs anywhere, and external links that cannot reach back (noopener).
DOM_PROBE = """() => {
  const problems = [];
  const scriptUrl = /^(javascript|vbscript|data):/;
  const squash = (v) => v.toLowerCase().replace(/[\\u0000-\\u0020]/g, "");
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) problems.push(`${el.tagName} carries handler ${name}`);
      if (["srcdoc", "formaction", "xlink:href", "http-equiv"].includes(name)) problems.push(`${el.tagName}[${name}]`);
      if (["href", "src", "action", "data", "poster", "background", "srcset"].includes(name)
          && scriptUrl.test(squash(attr.value))
          && !(el.tagName === "LINK" && el.getAttribute("rel") === "icon" && attr.value === "data:,")) {
        problems.push(`${el.tagName} ${name}=${attr.value.slice(0, 80)}`);
      }
    }
  }
  for (const el of document.querySelectorAll("iframe, frame, object, embed, base, style, template")) {
    problems.push(`injected <${el.tagName.toLowerCase()}>`);
  }
  for (const s of document.querySelectorAll("script")) {
    const own = ["/static/app.js", "/static/live.js"].map((path) => location.origin + path);
    if (!own.includes(s.src) || s.textContent.trim()) problems.push(`foreign <script src=${s.src.slice(0, 80)}>`);
  }
  for (const l of document.querySelectorAll("link")) {
    const ok = (l.rel === "stylesheet" && l.href === location.origin + "/static/app.css")
      || (l.rel === "icon" && l.getAttribute("href") === "data:,");
    if (!ok) problems.push(`foreign <link rel=${l.rel}>`);
  }
  for (const a of document.querySelectorAll("a[href]")) {
    let url = null;
    try { url = new URL(a.href, location.href); } catch (e) { /* reported below */ }
    if (!url || !["http:", "https:"].includes(url.protocol)) {
      problems.push(`link to ${a.getAttribute("href").slice(0, 80)}`);
    } else if (url.origin !== location.origin && !/\\bnoopener\\b/.test(a.rel)) {
      problems.push(`opener kept: ${a.href}`);
    }
  }
  return problems;
}"""


def call(tag: str) -> str:
    return f'__xss("{tag}")'


def script(tag: str) -> str:
    """The first and shortest piece of every payload: the one asserted to be shown as text."""
    return f"<script>{call(tag)}</script>"


def payload(tag: str) -> str:
    """Every kind of markup attack at once, each calling the trap with ``tag`` if it ever runs."""
    return (f"{script(tag)}{{{{7*7}}}}<img src=x onerror={call(tag)}>\"><svg onload={call(tag)}>"
            f"'><details open ontoggle={call(tag)}></textarea></style></title></noscript>{script(tag)}"
            f"<iframe srcdoc=\"<script>parent.__xss('{tag}')</script>\"></iframe>"
            f"<a href=\"javascript:{call(tag)}\">点此查看</a>"
            f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:{call(tag)}\">")


# Article URLs no link may ever be made of (stored as is: the dashboard must not trust the crawler to refuse them).
SCRIPT_URLS = {
    "url-js": 'javascript:alert("url-js")',
    "url-js-case": f"JaVaScRiPt:{call('url-js-case')}",
    "url-js-space": f"  javascript:{call('url-js-space')}",
    "url-js-tab": f"java\tscript:{call('url-js-tab')}",
    "url-js-newline": f"java\nscript:{call('url-js-newline')}",
    "url-js-entity": f"java&#x09;script:{call('url-js-entity')}",
    "url-js-control": f"\x01javascript:{call('url-js-control')}",
    "url-js-fullwidth": f"ｊａｖａｓｃｒｉｐｔ:{call('url-js-fullwidth')}",
    "url-data": f"data:text/html,{script('url-data')}",
    "url-data-b64": "data:text/html;base64," + base64.b64encode(script("url-data-b64").encode()).decode(),
    "url-vbscript": 'vbscript:msgbox("url-vbscript")',
    "url-no-host": f"https:javascript:{call('url-no-host')}",
    "url-relative": f"//evil.example/{call('url-relative')}",
    "url-rss-link": f"javascript:{call('rss-link')}",  # what the feed's item links to (the crawler refuses it)
}
# Tags whose payload the dashboard shows today: each must appear, as text, on some page.
SHOWN = ["rss-title", "wb-text", "story-b", "alert-title", "incident-title", "incident-summary", "factor-reason",
         "timeline", "task-note", "dismiss-reason", "source-error", "complaint-text", "complaint-event",
         "complaint-solution", "complaint-file", "config-note", "config-text"]
SHOWN_URLS = ['javascript:__xss("rss-link")', 'javascript:alert("url-js")', f"data:text/html,{script('url-data')}"]


# --- the hostile site -----------------------------------------------------------------------------------------
class HostileSite(StaticSite):
    """A local web site on 127.0.0.1 serving a Weibo-like JSON API and an RSS feed; every other path answers 200."""

    def __init__(self) -> None:
        super().__init__(fallback=(b"<!doctype html><title>hostile</title>ok", "text/html"))
        self.routes = self.pages

    def sources_file(self, path: Path) -> Path:
        """The site's sources as an admin writes them (JSON is YAML), each allowed onto this one loopback port."""
        reach = {"private_network": f"127.0.0.1:{self.server.server_port}", "respect_robots": False}
        weibo = {"id": "weibo", "name": "微博", "kind": "json_api", "channel": "social", "authority": "social",
                 "url": f"{self.base}/api/statuses", **reach,
                 "json_api": {"items_path": "statuses", "params": {"count": "100"}, "fields": {
                     "id": "idstr", "text": "text", "url": "page_url", "created_at": "created_at",
                     "author": "user.screen_name",
                     "metrics": {"reposts": "reposts_count", "comments": "comments_count",
                                 "likes": "attitudes_count", "followers": "user.followers_count"},
                     "meta": {"retweeted_text": "retweeted_status.text", "location": "user.location"}}}}
        news = {"id": "jcwb", "name": "江城晚报网", "kind": "rss", "channel": "news", "authority": "local_media",
                "url": f"{self.base}/feed.xml", **reach}
        forum = {"id": "forum", "name": "本地论坛", "kind": "rss", "channel": "news", "authority": "self_media",
                 "url": f"{self.base}/forum.xml", **reach}
        path.write_text(json.dumps({"sources": [weibo, news, forum]}, ensure_ascii=False), encoding="utf-8")
        return path

    def plant(self) -> None:
        """Hostile posts and feed items, encoded as such sources really send them (escaped text, raw fields)."""
        post = {
            "idstr": "5001",
            # Weibo text is HTML: tags are stripped, escaped markup becomes literal text — the payload.
            "text": "示例银行新华路网点不让取钱，排队两小时也取不出钱！" + html.escape(payload("wb-text"))
                    + "<br/>大家快去取钱，要挤兑了",
            "created_at": "Mon Nov 23 09:15:00 +0800 2026",
            "page_url": f'{self.base}/weibo/5001?from="><script>{call("wb-url")}</script>',
            "user": {"screen_name": payload("wb-author"), "followers_count": 120000,
                     "location": payload("wb-location")},
            "reposts_count": 5200, "comments_count": 880, "attitudes_count": 310,
            "retweeted_status": {"text": "<br/>" + html.escape(payload("wb-repost"))},
        }
        self.routes["/api/statuses?count=100"] = (json.dumps({"statuses": [post]}, ensure_ascii=False).encode(),
                                                  "application/json")
        body = "示例银行新华路网点发生挤兑，储户排长队取不出钱，愤怒投诉。"

        def item(title: str, link: str, text_tag: str) -> str:
            # content:encoded is HTML escaped into XML; the payload is escaped once more so it survives extraction
            content = f"<p>{body}{html.escape(payload(text_tag))}</p><p>记者正在核实。</p>"
            return (f"<item><title>{html.escape(title)}</title><link>{html.escape(link)}</link>"
                    f"<pubDate>Mon, 23 Nov 2026 09:00:00 +0800</pubDate>"
                    f"<content:encoded>{html.escape(content)}</content:encoded></item>")

        # the crawler refuses the items whose links are script URLs (counted against the source); the dashboard
        # still meets such URLs, planted as rows (SCRIPT_URLS)
        items = [item("示例银行新华路网点挤兑" + payload("rss-title"),
                      f'{self.base}/a/1.html?x="><script>{call("rss-url")}</script>', "rss-text"),
                 item("示例银行新华路网点挤兑（转载）", f"javascript:{call('rss-link')}", "rss-text-2"),
                 item("示例银行新华路网点挤兑（跟进）", f"JaVaScRiPt:{call('rss-link-case')}", "rss-text-3")]
        feed = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
                'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>江城晚报</title>'
                + "".join(items) + "</channel></rss>")
        self.routes["/feed.xml"] = (feed.encode("utf-8"), "application/rss+xml; charset=utf-8")


# --- the data ---------------------------------------------------------------------------------------------------
def _load_factories() -> Any:
    path = Path(__file__).resolve().parents[1] / "api" / "factories.py"
    spec = importlib.util.spec_from_file_location("yuqing_e2e_hostile_factories", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_pipeline(settings: Settings, factory: sessionmaker[Session], engine: Any, clock: FrozenClock,
                 crawled: list[str]) -> LoadedConfig:
    """Load the configuration as ``yuqing run`` does and run one round of the real pipeline (crawl → match →
    classify → score → alert/incident → notify) over the sources named in ``crawled``."""
    cfg = load_config(settings)
    sources = [s for s in cfg.sources if s.id in crawled]
    rt = Runtime(settings=settings, clock=clock, engine=engine, session_factory=factory, org=cfg.org,
                 sources=sources, policy=cfg.policy,
                 risk_ctx=RiskContext(org=cfg.org, config=cfg.risk_config,
                                      authorities={s.id: s.authority for s in cfg.sources}),
                 matcher=Matcher.from_org(cfg.org, cfg.plans), story_index=StoryIndex(),
                 classifier=RuleBasedClassifier(), senders=default_senders(cfg.policy, settings),
                 crawl_overrides=dict(FAST_CRAWL))
    report = asyncio.run(run_round(rt))
    assert report.errors == [], report.errors
    return cfg


def plant_rows(session: Session, clock: FrozenClock, site: HostileSite) -> None:
    """Rows beyond what today's crawler stores, with a payload in every field that holds crawled (or typed) text."""
    f = _load_factories().Factories(session, clock)
    now = clock.now()

    def factors(tag: str) -> dict:
        return {"polarity": {"value": 0.97, "reason": f"命中负面词：{payload(tag)}"},
                "severity": {"value": 1.0, "reason": f"风险类别：存取款受限/挤兑谣言（{payload(tag)}）"}}

    # story B: evidence whose URLs are script URLs of every spelling, plus clickable http URLs full of markup
    story = f.story(unit_id="guangminglu", title="示例银行光明路支行" + payload("story-b"))
    urls = list(SCRIPT_URLS.values()) + [f'{site.base}/b/{n}?q="><script>{call("url-http")}</script>&x=\'><img src=x '
                                         f'onerror={call("url-http")}>' for n in range(2)]
    for n, url in enumerate(urls):
        article = f.article(story=story, unit_id="guangminglu", url=url,
                            title=f"示例银行光明路支行乱收费{n}" + payload(f"b-title-{n}"),
                            text="示例银行光明路支行乱收费，" + payload(f"b-text-{n}"),
                            snippet="示例银行光明路支行乱收费，" + payload(f"b-snippet-{n}"),
                            source_id="weibo" if n % 2 else "jcwb", channel="social" if n % 2 else "news")
        article.author = payload(f"b-author-{n}")[:256]
        article.meta = {"retweeted_text": payload(f"b-repost-{n}"), "status": payload(f"b-meta-{n}")}
        article.metrics = {"reposts": 10 * n}
        for mention in session.scalars(select(Mention).where(Mention.article_id == article.id)):
            mention.terms = [payload(f"b-term-{n}"), "光明路支行"]
    f.story_risk(story=story, factors=factors("factor-reason"), level="II")
    incident = f.incident(unit_id="guangminglu", story=story, title="光明路支行" + payload("incident-title"))
    alert = f.alert(story=story, incident=incident, title="光明路支行" + payload("alert-title"))
    alert.factors = factors("factor-reason")
    task = session.scalar(select(Task).where(Task.incident_id == incident.id).order_by(Task.position))
    task.status, task.done_at, task.done_by, task.note = "done", now, "wangmin", payload("task-note")
    f.event(incident=incident, kind="article_added", text="新增报道：" + payload("timeline"),
            data={"title": payload("timeline-data")})

    # story C: an alert a monitor dismissed, the reason quoting the post
    story_c = f.story(unit_id="binjiang", title="示例银行滨江支行" + payload("story-c"))
    f.article(story=story_c, unit_id="binjiang", title="示例银行滨江支行" + payload("c-title"),
              url=f"data:text/html;charset=utf-8,{script('c-url')}")
    f.story_risk(story=story_c, factors=factors("c-factor"), level="IV", score=12.0)
    dismissed = f.alert(story=story_c, level="IV", status="dismissed", risk_score=12.0)
    dismissed.dismissed_reason, dismissed.dismissed_by, dismissed.dismissed_at = (
        "误报：" + payload("dismiss-reason"), "wangmin", now)

    # story D: a closed incident, its summary quoting the post
    story_d = f.story(unit_id="gaoxin", title="示例银行高新区支行" + payload("story-d"))
    f.article(story=story_d, unit_id="gaoxin", title="示例银行高新区支行" + payload("d-title"),
              url=f"{site.base}/d/1.html#{payload('d-url')}")
    f.story_risk(story=story_d, factors=factors("d-factor"), level="III", score=40.0)
    closed = f.incident(unit_id="gaoxin", story=story_d, level="III", status="closed")
    closed.summary, closed.closed_at = "已澄清。原帖：" + payload("incident-summary"), now
    f.alert(story=story_d, incident=closed, level="III", status="acknowledged", risk_score=40.0)

    # a failing source whose error quotes what the server sent back
    f.source_state(source_id="forum", failures=3, error="HTTP 500：" + payload("source-error"))

    # a complaint typed in by staff (or posted by a ticket system): every text field, the file name, the timeline
    complaint = Complaint(number="TS-20261123-901", channel="walk_in", received_at=now, entered_at=now,
                          entered_by="wangmin", source_system=payload("complaint-system")[:64],
                          customer_name=payload("complaint-customer"), customer_phone="13900000000",
                          account_or_product=payload("complaint-account"), unit_id="guangminglu",
                          handling_unit_id="guangminglu", lead_department=payload("complaint-dept"),
                          category="service_attitude", severity="urgent",
                          description="柜员态度恶劣：" + payload("complaint-text"), first_contact_owner_id=LOGIN,
                          status="handling", solution=payload("complaint-solution"), reply_base_at=now,
                          reply_limit_days=15, reopened_count=0, created_at=now, updated_at=now)
    complaint.events = [ComplaintEvent(at=now, kind="received", actor="wangmin", text=payload("complaint-event"))]
    complaint.attachments = [ComplaintAttachment(filename=payload("complaint-file"), content_type="text/html",
                                                 size=len(script("complaint-bytes")), sha256="0" * 64,
                                                 data=script("complaint-bytes").encode(), added_at=now,
                                                 added_by="wangmin")]
    session.add(complaint)
    session.commit()


# --- the running dashboard --------------------------------------------------------------------------------------
@dataclass
class Dashboard:
    base: str
    app: FastAPI
    site: HostileSite
    ids: dict[str, list[Any]] = field(default_factory=dict)


class ServerThread:
    """``serve_api`` in an event loop of its own thread (the test drives the browser synchronously)."""

    def __init__(self, app: FastAPI) -> None:
        self.loop = asyncio.new_event_loop()
        self.handle: Any = None
        ready = threading.Event()
        self.error: BaseException | None = None

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.handle = self.loop.run_until_complete(serve_api(app, "127.0.0.1", 0))
            except BaseException as exc:  # reported by the fixture
                self.error = exc
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="hostile-dashboard", daemon=True)
        self.thread.start()
        assert ready.wait(15), "dashboard did not start"
        if self.error is not None:
            raise self.error
        server = self.handle[0]
        self.port = next(sock.getsockname()[1] for srv in server.servers for sock in srv.sockets)

    def stop(self) -> None:
        if self.handle is not None:
            asyncio.run_coroutine_threadsafe(stop_api(self.handle), self.loop).result(timeout=15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=15)
        self.loop.close()


@pytest.fixture
def dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    # argon2id with small parameters, as in the API tests: same code path, milliseconds per hash
    monkeypatch.setattr(auth, "password_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    site = HostileSite()
    engine = make_engine(f"sqlite:///{tmp_path / 'hostile.db'}")
    server = None
    try:
        upgrade(engine)
        factory = make_sessionmaker(engine)
        settings = Settings(secret_key=secrets.token_urlsafe(32), data_dir=tmp_path,
                            sources_file=site.sources_file(tmp_path / "sources.yaml"),
                            allow_private_sources=["weibo", "jcwb", "forum"])
        clock = FrozenClock(NOW)
        site.plant()
        cfg = run_pipeline(settings, factory, engine, clock, crawled=["weibo", "jcwb"])
        org, policy, sources = cfg.org, cfg.policy, cfg.sources
        with factory() as session:
            assert session.scalar(select(Incident).where(Incident.unit_id == "xinhualu")) is not None, \
                "the hostile crawl should have opened an incident at 新华路网点"
            # the feed's items with script links were refused, and counted against the source
            assert session.scalar(select(Article).where(Article.url.like("javascript:%"))) is None
            assert session.get(SourceState, "jcwb").stats["yuqing/dropped/bad_url"] == 2
            # (as in the demo database: no first-login password change)
            for user in seed_users(session, org, password=PASSWORD, clock=clock, must_change=False):
                if user.login == LOGIN:
                    user.roles = [str(role) for role in Role]  # every role: no page is closed to the visit
            plant_rows(session, clock, site)
            assert session.scalar(select(Article).where(Article.url.like("javascript:%"))) is not None
            ids = {"incident_id": list(session.scalars(select(Incident.id))),
                   "alert_id": list(session.scalars(select(Alert.id))),
                   "story_id": list(session.scalars(select(Story.id))),
                   "article_id": list(session.scalars(select(Article.id))),
                   "task_id": list(session.scalars(select(Task.id))),
                   "source_id": [s.id for s in sources],
                   "unit_id": sorted({u for u in session.scalars(select(Mention.unit_id))}),
                   "user_id": list(session.scalars(select(User.id).where(User.login.in_([LOGIN, "wangmin"])))),
                   "login": [LOGIN, "wangmin"],
                   "complaint_id": list(session.scalars(select(Complaint.id))),
                   # one-click acknowledgement links of the messages this user got (their pages quote the
                   # message, which quotes crawled titles)
                   "token": [AckLinks(settings.secret_key, base_url="").token(n_id, LOGIN)
                             for n_id in session.scalars(select(Notification.id).where(
                                 Notification.recipient_id == LOGIN).order_by(Notification.id).limit(3))]}
            assert ids["token"], "the hostile incident should have sent the commander a message"
            # an issued 日报 of today (its page quotes the summary and the listed cases' titles: crawled text)
            from incidents.briefings.delivery import issue_report

            ids["issue_id"] = [issue_report(session, kind="daily", day=clock.now().date(), org=org, policy=policy,
                                            clock=clock).id]
            # 系统管理: configuration documents (one with a slash), one saved in the console with hostile text in
            # its note and in a comment (the editor's textarea, the history and the diff show them), and keyword
            # plans by name (one with a slash) for the plan editor
            keywords = (settings.config_dir / "keywords.yaml").read_text(encoding="utf-8")
            config_store.save_document(session, "keywords.yaml", f"# {payload('config-text')}\n{keywords}",
                                       actor="admin", clock=clock, note=payload("config-note"))
            ids["name"] = ["keywords.yaml", "sources.yaml", "org.yaml", "checklists/generic.yaml"]
            ids["?name"] = [*[p.name for p in cfg.plans if "/" in p.name][:1], cfg.plans[-1].name]
            session.commit()
        app = create_app(settings=settings, session_factory=factory, org=org, clock=clock, policy=policy,
                         sources=sources)
        # the app applies the saved document now, which brings the users in line with the org chart; then the
        # visitor gets every role again (no later request re-applies it: the generation does not move)
        assert config_live.refresh(app)
        with factory() as session:
            session.scalar(select(User).where(User.login == LOGIN)).roles = [str(role) for role in Role]
            session.commit()
        server = ServerThread(app)
        yield Dashboard(f"http://127.0.0.1:{server.port}", app, site, ids)
    finally:
        if server is not None:
            server.stop()
        site.stop()
        engine.dispose()


# --- which pages ------------------------------------------------------------------------------------------------
NOT_PAGES = {"/healthz", "/events"}  # JSON, like everything under /api/; the live-update stream (live.js reads it)
# Pages that show crawled text: each must show some payload as text. Every other page must merely stay inert.
CRAWLED_PAGES = {"/", "/partials/overview", "/alerts", "/incidents", "/incidents/{incident_id}", "/sources",
                 "/incidents/{incident_id}/briefing", "/complaints/{complaint_id}", "/mentions",
                 "/stories/{story_id}"}
EXTRA_QUERIES = {"/incidents": ["?status=open", "?status=closed"],
                 "/incidents/{incident_id}/briefing": ["?kind=follow_up", "?kind=final"],
                 "/mentions": ["?sort=reach&channel=social"],
                 "/admin/config/{name:path}": ["?diff=1"]}


def page_urls(app: FastAPI, ids: dict[str, list[Any]], *, api: bool = False) -> list[tuple[str, str]]:
    """(route path, URL) of every GET page of the app, each path parameter filled with every known id.

    With ``api``, the GET routes of the JSON API instead (those whose parameters cannot be filled are left out:
    they are not pages, and a browser only ever shows them as text).
    """
    urls: list[tuple[str, str]] = []
    # FastAPI ≥ 0.16x keeps included routers as such in app.routes; iter_route_contexts flattens them
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in (flatten(app.routes) if flatten else app.routes):
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if not path or "GET" not in (methods or set()) or path.startswith("/api/") != api or path in NOT_PAGES \
                or path in {app.openapi_url, app.docs_url, app.redoc_url}:
            continue
        params = re.findall(r"{(\w+)(?::\w+)?}", path)
        unknown = [p for p in params if p not in ids]
        queries = _required_queries(route)  # filled from ids["?name"]
        unknown_queries = [q for q in queries if "?" + q not in ids]
        if (unknown or unknown_queries) and api:
            continue
        if unknown:
            pytest.fail(f"page {path} has path parameters {unknown} this test cannot fill: add them to the ids in "
                        "the dashboard fixture so hostile content is checked on that page too")
        if unknown_queries:
            pytest.fail(f"page {path} has required query parameters {unknown_queries} this test cannot fill: add "
                        "them to the ids in the dashboard fixture (as '?name') so the page is checked too")
        combos: list[str] = [path]
        for p in params:
            combos = [re.sub(r"{" + p + r"(?::\w+)?}", str(value), c) for c in combos for value in ids[p]]
        for q in queries:
            combos = [f"{c}{'&' if '?' in c else '?'}{q}={_q(str(value))}" for c in combos for value in ids["?" + q]]
        for url in combos:
            urls.append((path, url))
            urls.extend((path, url + q) for q in EXTRA_QUERIES.get(path, []))
    return urls


def _required_queries(route: Any) -> list[str]:
    """Query parameters the page cannot do without (a request lacking one is refused with 422), its dependencies'
    included."""
    def walk(dependant: Any) -> list[str]:
        found = [p.alias for p in dependant.query_params if p.field_info.is_required()]
        return found + [q for sub in dependant.dependencies for q in walk(sub)]

    dependant = getattr(route, "dependant", None)
    return list(dict.fromkeys(walk(dependant))) if dependant is not None else []


# --- the browser ------------------------------------------------------------------------------------------------
@dataclass
class Watch:
    """Everything that would betray an executed payload, gathered over the whole visit."""

    hits: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    missing_csp: list[str] = field(default_factory=list)

    def console(self, msg: Any) -> None:
        if "XSS" in msg.text:
            self.hits.append(msg.text)
        elif msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            # (the bare live partial has no <link rel=icon>, so the browser asks for /favicon.ico: a 404)
            self.errors.append(f"{msg.page.url if msg.page else '?'}: {msg.text}")

    def dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def check_headers(self, url: str, headers: dict[str, str]) -> None:
        csp = headers.get("content-security-policy", "")
        needed = ["default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'"]
        if any(part not in csp for part in needed) or "unsafe-inline" in csp or "unsafe-eval" in csp \
                or headers.get("x-content-type-options") != "nosniff":
            self.missing_csp.append(f"{url}: {csp!r}")


def login(page: Any, base: str) -> None:
    page.goto(f"{base}/incidents")
    assert "/login" in page.url
    page.fill("input[name=login]", LOGIN)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.rstrip("/").endswith("/incidents"), page.url


def inspect(page: Any, watch: Watch, label: str) -> str:
    """Trap hits and DOM problems of the current document; returns its visible text."""
    watch.hits.extend(f"{label}: {h}" for h in page.evaluate("() => window.__xssHits || []"))
    watch.problems.extend(f"{label}: {p}" for p in page.evaluate(DOM_PROBE))
    return page.inner_text("body")


# Marks what to click: every link off the dashboard, and every element whose own text is a script URL or quotes one.
# Collapsed sections (the incident page's evidence) are opened first, as a person would to click what is in them.
MARK_CLICKABLE = """() => {
  for (const d of document.querySelectorAll("main details:not([open])")) { d.open = true; }
  let n = 0;
  for (const a of document.querySelectorAll("a[href]")) {
    let origin = "null";
    try { origin = new URL(a.href, location.href).origin; } catch (e) { /* not a URL: off the dashboard */ }
    if (origin !== location.origin) { a.dataset.hostileLink = String(n++); }
  }
  let t = 0;
  for (const el of document.querySelectorAll("main *")) {
    if (el.children.length === 0 && el.getClientRects().length && /script:|^\\s*data:/i.test(el.textContent)) {
      el.dataset.hostileText = String(t++);
    }
  }
  return [n, t];
}"""


def click_hostile_links(page: Any, context: Any, watch: Watch, site: str) -> tuple[int, int]:
    """Click every crawled URL on the page: script URLs are inert text; http(s) links open the site, nothing else."""
    start = page.url
    links, texts = page.evaluate(MARK_CLICKABLE)
    for i in range(texts):
        target = page.locator(f"[data-hostile-text='{i}']")
        try:
            target.click(timeout=3_000)
        except PlaywrightError:  # covered or moving: the click event itself is what matters
            target.dispatch_event("click")
    page.wait_for_timeout(100)
    if page.url != start:
        watch.problems.append(f"{start}: clicking crawled text navigated to {page.url}")
        page.goto(start)
    for i in range(links):
        link = page.locator(f"[data-hostile-link='{i}']")
        href = link.evaluate("a => a.href")
        if not href.startswith(site + "/"):
            watch.problems.append(f"{start}: crawled link to {href}")
            link.click()
            page.wait_for_timeout(200)
            for other in context.pages:
                if other is not page:
                    other.close()
            continue
        try:
            with context.expect_page(timeout=5_000) as popup_info:
                link.click()
        except PlaywrightError:
            watch.problems.append(f"{start}: crawled link {href} did not open in a new page")
            if page.url != start:
                page.goto(start)
                page.evaluate(MARK_CLICKABLE)
            continue
        popup = popup_info.value
        popup.wait_for_load_state()
        if popup.url != href or popup.evaluate("() => window.opener") is not None:  # noopener: cannot reach us
            watch.problems.append(f"{start}: link {href} opened {popup.url} with an opener")
        popup.close()
    if page.url != start:
        watch.problems.append(f"{start}: clicking crawled links navigated to {page.url}")
    watch.hits.extend(f"after clicks on {start}: {h}" for h in page.evaluate("() => window.__xssHits || []"))
    return links, texts


def test_hostile_crawled_content_never_executes_on_any_page(dashboard: Dashboard) -> None:

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium missing: run `make test` (scripts/system-deps.sh installs it)")
    base, watch = dashboard.base, Watch()
    urls = page_urls(dashboard.app, dashboard.ids)
    paths = {p for p, _ in urls}
    assert paths >= CRAWLED_PAGES, f"pages gone from the app? {CRAWLED_PAGES - paths}"
    shown: dict[str, str] = {}
    blank: list[str] = []  # pages that should show crawled text but showed none of it
    clicked_links = clicked_texts = api_pages = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="zh-CN")
        context.add_init_script(TRAP)
        context.on("console", watch.console)
        context.on("dialog", watch.dialog)
        context.on("response", lambda r: watch.check_headers(r.url, r.headers) if r.url.startswith(base) else None)
        page = context.new_page()
        page.on("pageerror", lambda exc: watch.errors.append(f"page error: {exc}"))
        login(page, base)

        for path, url in urls:
            probe = page.request.get(base + url)
            assert probe.status == 200, f"{url}: HTTP {probe.status}"
            if not probe.headers.get("content-type", "").startswith("text/html"):
                continue  # downloads (CSV…) are never rendered; their headers were checked above
            response = page.goto(base + url)
            assert response is not None and response.status == 200, url
            assert page.url == base + url, f"{url} redirected to {page.url}"
            text = inspect(page, watch, url)
            shown[url] = text
            if path in CRAWLED_PAGES and "__xss(" not in text:
                blank.append(url)
            if path.startswith("/incidents/{"):
                links, texts = click_hostile_links(page, context, watch, dashboard.site.base)
                clicked_links, clicked_texts = clicked_links + links, clicked_texts + texts

        # the overview's live region is replaced by the partial app.js fetches: that path must stay inert too
        page.goto(f"{base}/")
        page.evaluate("() => document.querySelector('#live').firstElementChild.setAttribute('data-stale', '1')")
        with page.expect_response(lambda r: r.url == f"{base}/partials/overview", timeout=15_000):
            pass
        page.wait_for_function("() => !document.querySelector('#live [data-stale]')", timeout=5_000)
        shown["/ (refreshed)"] = inspect(page, watch, "/ (refreshed)")

        # the JSON API opened in the browser: served as JSON (never HTML), shown as inert text
        for _, url in page_urls(dashboard.app, dashboard.ids, api=True):
            probe = page.request.get(base + url)
            ctype = probe.headers.get("content-type", "")
            if ctype.startswith("text/html"):
                watch.problems.append(f"{url}: JSON API answered {ctype}")
            if probe.status == 200 and ctype.startswith("application/json"):
                page.goto(base + url)
                inspect(page, watch, url)  # (not counted as shown: the pages themselves must show the text)
                api_pages += 1

        # 系统管理's forms that show what they were given: 试抓取 of the hostile feed (titles, the first entry's page)
        # and 试匹配 of pasted hostile text; the document editor holds hostile text in its textarea
        feed = f"{dashboard.site.base}/feed.xml"
        page.goto(f"{base}/admin/sources/test-fetch?source_id=jcwb&kind=rss&url={_q(feed)}")
        with page.expect_navigation():
            page.click("form[action='/admin/sources/test-fetch'] button[type=submit]")
        shown["试抓取"] = inspect(page, watch, "试抓取")
        assert re.search(r"找到 \d+ 条", shown["试抓取"]), shown["试抓取"][-2000:]  # listed, not refused
        assert script("rss-title") in shown["试抓取"], shown["试抓取"][-2000:]  # the feed's titles, as text
        page.goto(f"{base}/admin/keywords")
        page.fill("#try-title", payload("try-title"))
        page.fill("#try-text", "示例银行新华路网点挤兑" + payload("try-text"))
        with page.expect_navigation():
            page.click("#try button[type=submit]")
        shown["试匹配"] = inspect(page, watch, "试匹配")
        assert "新华路网点" in page.inner_text(".try-result"), page.inner_text(".try-result")
        assert page.input_value("#try-text") == "示例银行新华路网点挤兑" + payload("try-text")  # kept as typed text
        assert page.input_value("#try-title") == payload("try-title")[:300]
        page.goto(f"{base}/admin/config/keywords.yaml")
        assert page.input_value("#content").startswith(f"# {payload('config-text')}\n")
        inspect(page, watch, "config editor")

        # reflected input: hostile paths and query strings come back (if at all) as text
        before = len(watch.errors)
        for url, status in ((f"/login?next={_q(payload('next'))}", {200}),
                            (f"/incidents/{_q('<svg onload=' + call('path') + '>')}", {422}),
                            (f"/incidents?status={_q(payload('query'))}", {422}),
                            (f"/{_q(payload('nopage'))}", {404})):
            response = page.goto(base + url)
            assert response is not None and response.status in status, f"{url}: HTTP {response and response.status}"
            inspect(page, watch, url)
        # (the browser logs each refused request itself; those 4xx answers are the point here)
        watch.errors[before:] = [e for e in watch.errors[before:]
                                 if "Failed to load resource" not in e or "status of 4" not in e]
        browser.close()

    assert watch.hits == [], f"planted script ran: {sorted(set(watch.hits))[:40]}"
    assert watch.dialogs == [], f"planted script opened dialogs: {watch.dialogs}"
    assert watch.problems == [], "markup from crawled text reached the DOM:\n" + "\n".join(watch.problems[:60])
    assert watch.errors == [], watch.errors  # includes any CSP violation report
    assert watch.missing_csp == [], watch.missing_csp
    assert blank == [], f"pages showing none of the planted text (is the test still planting it?): {blank}"
    everything = "\n".join(shown.values())
    for tag in SHOWN:
        assert script(tag) in everything, f"payload {tag} is not shown as text on any page"
    for url in SHOWN_URLS:
        assert url in everything, f"script URL {url} is not shown as text"
    assert "{{7*7}}" in everything  # template syntax in crawled text is text, never evaluated
    assert clicked_texts >= len(SCRIPT_URLS) and clicked_links >= 4, (clicked_texts, clicked_links)
    assert api_pages >= 5, api_pages


def _q(text: str) -> str:
    return quote(text, safe="")


def test_page_enumeration_fails_on_pages_it_cannot_fill() -> None:
    """A new page with an unknown path parameter is a failure to extend this test, never a silent skip."""
    app = FastAPI()
    app.add_api_route("/reports/{report_key}", lambda report_key: report_key, methods=["GET"])
    with pytest.raises(pytest.fail.Exception, match="report_key"):
        page_urls(app, {"incident_id": [1]})


def test_page_enumeration_fills_required_query_parameters() -> None:
    """A page that needs a query parameter is visited with each known value (``?name`` in the ids), or fails."""
    app = FastAPI()
    app.add_api_route("/plans/edit", lambda name, page=1: name, methods=["GET"])
    with pytest.raises(pytest.fail.Exception, match="required query parameters \\['name'\\]"):
        page_urls(app, {})
    urls = dict(page_urls(app, {"?name": ["挤兑/谣言"]}))
    assert urls["/plans/edit"] == "/plans/edit?name=%E6%8C%A4%E5%85%91%2F%E8%B0%A3%E8%A8%80"
