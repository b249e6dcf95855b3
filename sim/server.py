"""The simulated internet as one Starlette app, and ways to run it.

One app, sites separated by path prefix (``/news/``, ``/province/``, ``/weibo/``, ``/complaints/``,
``/regulator/``), because one port is easier to hand to tests and to the demo than five. Every response is
computed from ``clock.now()``: nothing is published before its time, counters grow along each post's curve, and
feeds change (with fresh ETag / Last-Modified) as the story unfolds.

``/vendor/…`` is a licensed data vendor's token-protected API for WeChat public-account articles and Douyin
videos, with the OAuth-style token exchange (``sim.vendor``); exchanged tokens also open the Weibo API.

``/wecom/cgi-bin/webhook/send?key=…`` is a WeCom group robot (企业微信群机器人) answering like the platform
(``{"errcode":0,"errmsg":"ok"}``, 93000 for a wrong key); ``/dingtalk/robot/send`` and
``/feishu/open-apis/bot/v2/hook/{token}`` are a DingTalk robot and a Feishu bot that verify the platforms' signatures
(``sim.robots``) — so the demo's chat channels really post somewhere. What each received is kept in
``app.state.robot_received`` (``wecom`` / ``dingtalk`` / ``feishu``).

- ``create_app(clock, scenario, weibo_token=...)`` builds the ASGI app;
- ``SimServer`` runs it with uvicorn inside the caller's asyncio loop (tests, ``yuqing demo``);
- ``serve(...)`` blocks, for ``yuqing sim``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import socket
import time
from collections import deque
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from sim import render
from sim.robots import (
    DEFAULT_DINGTALK_SECRET,
    DEFAULT_DINGTALK_TOKEN,
    DEFAULT_FEISHU_SECRET,
    DEFAULT_FEISHU_TOKEN,
    RECEIVED_KEEP,
    robot_routes,
)
from sim.scenario import PlacedArticle, PlacedPost, Scenario, build_scenario
from sim.vendor import (
    DEFAULT_APP_ID,
    DEFAULT_APP_SECRET,
    DEFAULT_TOKEN_TTL,
    DEFAULT_VENDOR_TOKEN,
    VendorState,
    vendor_routes,
)
from yuqing.clock import Clock, ScaledClock

DEFAULT_TOKEN = "sim-weibo-token"
DEFAULT_ROBOT_KEY = "sim-wecom-robot-key"

ROBOTS = """User-agent: *
Disallow: /news/admin/
Disallow: /news/search
Crawl-delay: 0

Sitemap: {base}/news/sitemap-news.xml
"""


def create_app(
    clock: Clock,
    scenario: Scenario,
    *,
    weibo_token: str = DEFAULT_TOKEN,
    weibo_rate_limit: float = 50.0,
    slow_page_seconds: float = 4.0,
    robot_key: str = DEFAULT_ROBOT_KEY,
    dingtalk_token: str = DEFAULT_DINGTALK_TOKEN,
    dingtalk_secret: str | None = DEFAULT_DINGTALK_SECRET,
    feishu_token: str = DEFAULT_FEISHU_TOKEN,
    feishu_secret: str | None = DEFAULT_FEISHU_SECRET,
    vendor_token: str = DEFAULT_VENDOR_TOKEN,
    vendor_app_id: str = DEFAULT_APP_ID,
    vendor_app_secret: str = DEFAULT_APP_SECRET,
    vendor_token_ttl: int = DEFAULT_TOKEN_TTL,
) -> Starlette:
    """Build the sim app. ``weibo_rate_limit`` is requests per second per token before 429s (wall time);
    ``robot_key`` is the WeCom group robot's key (``/wecom/cgi-bin/webhook/send?key=…``); the DingTalk robot's
    access token and 加签 secret and the Feishu bot's hook token and signing secret are the others' (``sim.robots``;
    a secret of None turns that platform's signature check off). ``vendor_token`` is the data vendor's static
    token, ``vendor_app_id`` / ``vendor_app_secret`` what its token exchange accepts, ``vendor_token_ttl`` how many
    seconds of sim time an exchanged token lives (``sim.vendor``)."""
    news_by_id = {a.id: a for a in scenario.news}
    province_by_id = {a.id: a for a in scenario.province}
    complaints_by_id = {c.id: c for c in scenario.complaints}
    penalties_by_id = {p.id: p for p in scenario.penalties}
    state: dict[str, Any] = {"flaky_hits": 0, "huge": None}
    hits: dict[str, deque[float]] = {}
    vendor = VendorState(vendor_token, vendor_app_id, vendor_app_secret, vendor_token_ttl)

    def now() -> datetime:
        return clock.now()

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    # ---- shared helpers ----
    def conditional(request: Request, body: str, media_type: str, etag: str, last: datetime) -> Response:
        last_modified = render.http_date(last)
        headers = {"ETag": etag, "Last-Modified": last_modified, "Cache-Control": "max-age=0"}
        inm = request.headers.get("if-none-match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            if etag in tags or "*" in tags:
                return Response(status_code=304, headers=headers)
        else:
            ims = request.headers.get("if-modified-since")
            if ims:
                with contextlib.suppress(TypeError, ValueError):
                    since = parsedate_to_datetime(ims)
                    if since.tzinfo is None:
                        since = since.replace(tzinfo=UTC)
                    if last.replace(microsecond=0) <= since:
                        return Response(status_code=304, headers=headers)
        return Response(body.encode("utf-8"), headers={**headers, "content-type": media_type})

    def related(pa: PlacedArticle, visible: list[PlacedArticle]) -> list[PlacedArticle]:
        others = [a for a in visible if a.id != pa.id and a.article.kind == "normal"]
        return others[pa.id % 5 : pa.id % 5 + 4]

    def page_response(html: str, encoding: str, status: int = 200) -> Response:
        data, ctype = render.encode_page(html, encoding)
        return Response(data, status_code=status, headers={"content-type": ctype})

    # ---- sim ----
    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def status(request: Request) -> Response:
        t = now()
        return JSONResponse({
            "now": t.isoformat(),
            "start": scenario.start.isoformat(),
            "end": scenario.end.isoformat(),
            "duration_seconds": scenario.duration.total_seconds(),
            "progress": round(scenario.progress(t), 6),
            "finished": scenario.finished(t),
            "visible": scenario.counts(t),
            "totals": scenario.totals(),
        })

    async def robots(request: Request) -> Response:
        return PlainTextResponse(ROBOTS.format(base=base(request)))

    # ---- 江城晚报网 ----
    def feedable_news(t: datetime) -> list[PlacedArticle]:
        return [a for a in scenario.visible_news(t) if a.article.kind in ("normal", "xss", "malformed")]

    async def news_index(request: Request) -> Response:
        return RedirectResponse("/news/list_1.html", status_code=302)

    async def news_list(request: Request) -> Response:
        page = request.path_params["page"]
        items = scenario.visible_news(now())
        pages = max(1, math.ceil(len(items) / render.PAGE_SIZE))
        if page < 1 or page > pages:
            return HTMLResponse("<h1>404 页面不存在</h1>", status_code=404)
        chunk = items[(page - 1) * render.PAGE_SIZE : page * render.PAGE_SIZE]
        return HTMLResponse(render.news_list(chunk, page, pages))

    async def news_article(request: Request) -> Response:
        pa = news_by_id.get(request.path_params["aid"])
        t = now()
        if pa is None or pa.published > t or pa.article.kind == "missing":
            return HTMLResponse("<html><body><h1>404 Not Found</h1><p>您访问的页面不存在或已被删除</p></body></html>",
                                status_code=404)
        kind = pa.article.kind
        if kind == "flaky":
            state["flaky_hits"] += 1
            if state["flaky_hits"] % 2 == 1:
                return HTMLResponse("<h1>500 Internal Server Error</h1>", status_code=500)
        if kind == "slow":
            await asyncio.sleep(slow_page_seconds)
        if kind == "huge":
            if state["huge"] is None:
                html = render.news_article(pa, scenario, [])
                html = html.replace("</p></div>", "</p>" + render.huge_extra() + "</div>", 1)
                state["huge"] = render.encode_page(html, pa.article.encoding)
            data, ctype = state["huge"]
            return Response(data, headers={"content-type": ctype})
        html = render.news_article(pa, scenario, related(pa, scenario.visible_news(t)))
        if kind == "malformed":
            html = render.malformed(html)
        return page_response(html, pa.article.encoding)

    async def news_rss(request: Request) -> Response:
        t = now()
        items = feedable_news(t)[:30]
        body = render.rss(render.NEWS_NAME + " - 滚动新闻", "/news/list_1.html", "江城晚报网最新新闻", items,
                          base(request), scenario, t)
        last = items[0].published if items else scenario.start - timedelta(days=7)
        return conditional(request, body, "application/rss+xml; charset=utf-8", render.feed_etag(items), last)

    async def news_sitemap(request: Request) -> Response:
        t = now()
        items = [a for a in feedable_news(t) if a.published >= t - timedelta(days=2)]
        body = render.news_sitemap(items, base(request))
        last = items[0].published if items else scenario.start - timedelta(days=7)
        return conditional(request, body, "application/xml; charset=utf-8", render.feed_etag(items), last)

    # ---- 楚江网 ----
    async def province_index(request: Request) -> Response:
        items = scenario.visible_province(now())[:30]
        lis = "".join(f'<li><a href="{a.path}">{render.escape(a.article.title)}</a> '
                      f"<em>{render.fmt_dash(a.published)}</em></li>" for a in items)
        return HTMLResponse(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{render.PROVINCE_NAME}'
                            f'</title></head><body><h1>{render.PROVINCE_NAME}</h1><ul class="list">{lis}</ul>'
                            "</body></html>")

    async def province_article(request: Request) -> Response:
        pa = province_by_id.get(request.path_params["aid"])
        if pa is None or pa.published > now():
            return HTMLResponse("<h1>404</h1>", status_code=404)
        return HTMLResponse(render.province_article(pa, scenario))

    async def province_rss(request: Request) -> Response:
        t = now()
        items = scenario.visible_province(t)[:30]
        body = render.rss(render.PROVINCE_NAME, "/province/", "楚江网 湖北新闻", items, base(request), scenario, t)
        last = items[0].published if items else scenario.start - timedelta(days=7)
        return conditional(request, body, "application/rss+xml; charset=utf-8", render.feed_etag(items), last)

    # ---- weibo ----
    def weibo_guard(request: Request) -> Response | None:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.query_params.get("access_token")
        if token != weibo_token and not vendor.accepts(token, now()):
            return JSONResponse({"error": "invalid_access_token", "error_code": 21332,
                                 "request": request.url.path}, status_code=401)
        window = hits.setdefault(token, deque())
        t = time.monotonic()
        while window and window[0] <= t - 1.0:
            window.popleft()
        if len(window) >= weibo_rate_limit:
            return JSONResponse({"error": "User requests out of rate limit!", "error_code": 10023,
                                 "request": request.url.path}, status_code=429, headers={"Retry-After": "1"})
        window.append(t)
        return None

    def int_param(request: Request, name: str, default: int) -> int:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return default
        try:
            return int(raw)
        except ValueError:
            return -1

    def weibo_query(request: Request, q: str) -> Response:
        t = now()
        since_id = int_param(request, "since_id", 0)
        max_id = int_param(request, "max_id", 0)
        count = int_param(request, "count", 20)
        if since_id < 0 or max_id < 0 or count < 1:
            return JSONResponse({"error": "invalid parameter", "error_code": 10008,
                                 "request": request.url.path}, status_code=400)
        count = min(count, 100)
        terms = q.split()
        matched: list[PlacedPost] = []
        for p in scenario.visible_weibo(t):
            if p.id <= since_id or (max_id and p.id > max_id):
                continue
            if terms:
                hay = p.text
                if p.root_key is not None:
                    hay += "\n" + scenario.post_by_key(p.root_key).text
                if not all(term in hay for term in terms):
                    continue
            matched.append(p)
        page = matched[:count]
        b = base(request)
        return JSONResponse({
            "statuses": [render.weibo_json(p, scenario, t, b) for p in page],
            "total_number": len(matched),
            "since_id": str(page[0].id) if page else str(since_id),
            "max_id": str(page[-1].id - 1) if len(matched) > count else "0",
            "has_more": len(matched) > count,
        }, headers={"Cache-Control": "no-store"})

    async def weibo_search(request: Request) -> Response:
        return weibo_guard(request) or weibo_query(request, request.query_params.get("q", ""))

    async def weibo_timeline(request: Request) -> Response:
        return weibo_guard(request) or weibo_query(request, "")

    async def weibo_show(request: Request) -> Response:
        refused = weibo_guard(request)
        if refused is not None:
            return refused
        post_id = int_param(request, "id", -1)
        pp = scenario.post_by_id(post_id) if post_id > 0 else None
        if pp is None or pp.published > now():
            return JSONResponse({"error": "target weibo does not exist!", "error_code": 20101,
                                 "request": request.url.path}, status_code=404)
        if scenario.is_deleted(pp, now()):  # taken down (Scenario.delete_post): the API says so
            return JSONResponse({"error": "该微博已被删除", "error_code": 20101, "request": request.url.path})
        return JSONResponse(render.weibo_json(pp, scenario, now(), base(request)))

    async def weibo_page(request: Request) -> Response:
        pp = scenario.post_by_id(request.path_params["mid"])
        t = now()
        if pp is None or pp.published > t or pp.user.id != request.path_params["uid"]:
            return HTMLResponse("<h1>该微博不存在</h1>", status_code=404)
        return HTMLResponse(render.weibo_page(pp, scenario, t))

    # ---- complaints ----
    async def complaints_api(request: Request) -> Response:
        page = int_param(request, "page", 1)
        size = int_param(request, "page_size", 20)
        if page < 1 or size < 1:
            return JSONResponse({"error": "bad page"}, status_code=400)
        size = min(size, 50)
        t = now()
        items = scenario.visible_complaints(t)
        chunk = items[(page - 1) * size : page * size]
        b = base(request)
        return JSONResponse({
            "data": [render.complaint_json(c, scenario, t, b) for c in chunk],
            "page": page,
            "page_size": size,
            "total": len(items),
            "has_more": page * size < len(items),
        })

    async def complaints_index(request: Request) -> Response:
        items = scenario.visible_complaints(now())[:20]
        lis = "".join(f'<li><a href="{c.path}">{render.escape(c.complaint.title)}</a></li>' for c in items)
        return HTMLResponse(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>投诉平台</title></head>'
                            f'<body><h1>最新投诉</h1><ul>{lis}</ul></body></html>')

    async def complaint_detail(request: Request) -> Response:
        pc = complaints_by_id.get(request.path_params["cid"])
        t = now()
        if pc is None or pc.published > t:
            return HTMLResponse("<h1>投诉不存在</h1>", status_code=404)
        return HTMLResponse(render.complaint_detail(pc, scenario, t))

    # ---- regulator ----
    async def regulator_list(request: Request) -> Response:
        return HTMLResponse(render.regulator_list(scenario.visible_penalties(now())))

    async def regulator_detail(request: Request) -> Response:
        pp = penalties_by_id.get(request.path_params["rid"])
        if pp is None or pp.published > now():
            return HTMLResponse("<h1>404</h1>", status_code=404)
        return HTMLResponse(render.regulator_detail(pp))

    # ---- 企业微信群机器人 (WeCom group robot webhook), for the demo's chat channel ----
    robot_messages: deque[dict[str, Any]] = deque(maxlen=RECEIVED_KEEP)  # the newest, for tests and a look
    robot_received: dict[str, deque[dict[str, Any]]] = {"wecom": robot_messages}

    async def wecom_robot(request: Request) -> Response:
        """Answers like qyapi.weixin.qq.com/cgi-bin/webhook/send: errcode 0 for a valid message to a known key."""
        if request.query_params.get("key") != robot_key:
            return JSONResponse({"errcode": 93000, "errmsg": "invalid webhook url"})
        try:
            data = await request.json()
        except ValueError:
            return JSONResponse({"errcode": 40016, "errmsg": "invalid json"})
        msgtype = data.get("msgtype") if isinstance(data, dict) else None
        content = (data.get(msgtype) or {}).get("content") if msgtype in ("text", "markdown") else None
        if not isinstance(content, str) or not content:
            return JSONResponse({"errcode": 40008, "errmsg": "invalid message type"})
        if len(content.encode()) > 4096:
            return JSONResponse({"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"})
        robot_messages.append({"at": now().isoformat(), "msgtype": msgtype, "title": "", "content": content,
                               "mentions": re.findall(r"<@([^>]+)>", content), "signed": False})
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    routes = [
        Route("/__sim/health", health),
        Route("/wecom/cgi-bin/webhook/send", wecom_robot, methods=["POST"]),
        *robot_routes(now, robot_received, dingtalk_token=dingtalk_token, dingtalk_secret=dingtalk_secret,
                      feishu_token=feishu_token, feishu_secret=feishu_secret),
        Route("/__sim/status", status),
        Route("/robots.txt", robots),
        Route("/news/robots.txt", robots),
        Route("/news/", news_index),
        Route("/news/list_{page:int}.html", news_list),
        Route("/news/a/{aid:int}.html", news_article),
        Route("/news/rss.xml", news_rss),
        Route("/news/sitemap-news.xml", news_sitemap),
        Route("/province/", province_index),
        Route("/province/rss.xml", province_rss),
        Route("/province/content/{aid:int}.html", province_article),
        Route("/weibo/api/statuses/search", weibo_search),
        Route("/weibo/api/statuses/public_timeline", weibo_timeline),
        Route("/weibo/api/statuses/show", weibo_show),
        *vendor_routes(now, scenario, vendor),
        Route("/weibo/{uid:int}/{mid:int}", weibo_page),
        Route("/complaints/", complaints_index),
        Route("/complaints/api/list", complaints_api),
        Route("/complaints/detail/{cid:int}.html", complaint_detail),
        Route("/regulator/list.html", regulator_list),
        Route("/regulator/detail/{rid:int}.html", regulator_detail),
    ]
    app = Starlette(routes=routes)
    app.state.scenario = scenario
    app.state.clock = clock
    app.state.robot_messages = robot_messages
    app.state.robot_received = robot_received
    app.state.vendor = vendor
    return app


class _InLoopServer(uvicorn.Server):
    """uvicorn without signal capture: the host process (tests, ``yuqing demo``) owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class SimServer:
    """Runs the sim on ``host:port`` as a task of the current asyncio loop; ``port=0`` picks a free port."""

    def __init__(
        self,
        clock: Clock,
        scenario: Scenario,
        host: str = "127.0.0.1",
        port: int = 0,
        weibo_token: str = DEFAULT_TOKEN,
        **app_options: Any,
    ):
        self.clock = clock
        self.scenario = scenario
        self.host = host
        self.port = port
        self.weibo_token = weibo_token
        self.app = create_app(clock, scenario, weibo_token=weibo_token, **app_options)
        self._server: _InLoopServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("SimServer already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = _InLoopServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="sim-server")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raise the startup error
                raise RuntimeError("sim server exited during startup")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, timeout=10)
        finally:
            if self._sock is not None:
                self._sock.close()
            self._server = self._task = self._sock = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8700,
    speed: float = 60.0,
    weibo_token: str = DEFAULT_TOKEN,
    start: datetime | None = None,
) -> None:
    """Run the sim until interrupted (``yuqing sim``). Simulated time starts at ``start`` (default: now) and runs
    ``speed`` times faster than the wall clock, so the 12-hour crisis takes 12 minutes at ``speed=60``."""
    clock = ScaledClock(start or datetime.now(UTC).replace(microsecond=0), speed)
    scenario = build_scenario(clock.start)
    minutes = scenario.duration.total_seconds() / speed / 60
    print(f"sim: http://{host}:{port}/  (speed x{speed:g}, crisis lasts {minutes:.1f} min wall time)", flush=True)
    print(f"sim: weibo token {weibo_token!r}; status at http://{host}:{port}/__sim/status", flush=True)
    print(f"sim: data vendor (WeChat, Douyin) token {DEFAULT_VENDOR_TOKEN!r}, or app id {DEFAULT_APP_ID!r} + secret "
          f"{DEFAULT_APP_SECRET!r} at /vendor/wechat/v1/oauth2/token (docs/platforms.md)", flush=True)
    uvicorn.run(create_app(clock, scenario, weibo_token=weibo_token), host=host, port=port, log_level="warning",
                lifespan="off")
