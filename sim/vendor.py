"""A licensed data vendor's token-protected API on the simulated internet: WeChat public-account articles and Douyin
videos of the scripted scenario (``sim.content.platforms``), plus the token exchange the vendor (and the sim's Weibo
API) offers for the OAuth-style client-credentials flow.

* ``POST {prefix}/oauth2/token`` with ``grant_type=client_credentials``, ``app_id``, ``app_secret`` (form or JSON)
  → ``{"access_token", "token_type": "Bearer", "expires_in"}``; a wrong id or secret → 401 ``invalid_client``.
  Prefixes: ``/vendor/wechat/v1``, ``/vendor/douyin/v1``, ``/weibo/api``. Tokens expire on the sim's clock.
* ``GET /vendor/wechat/v1/articles/search?keyword=&since=&cursor=&count=`` and ``/vendor/wechat/v1/articles/{id}``;
  ``GET /vendor/douyin/v1/videos/search?…`` and ``/vendor/douyin/v1/videos/{id}``: ``Authorization: Bearer`` with
  the static vendor token or an exchanged, unexpired one, else 401. Newest first; ``since`` in unix seconds; the
  cursor is an offset.
* ``/vendor/wechat/s/{id}`` and ``/vendor/douyin/video/{id}``: the public page each item links to.

``VendorState`` is what tests look at and steer: how many tokens were issued, ``throttle(n, retry_after)`` to answer
the next n API calls with 429, ``revoke_all()`` to make issued tokens stop working before their expiry.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sim.content.platforms import DOUYIN, WECHAT, DouyinVideo, WechatArticle
from sim.model import Growth
from sim.scenario import Scenario

DEFAULT_VENDOR_TOKEN = "sim-vendor-token"
DEFAULT_APP_ID = "sim-app"
DEFAULT_APP_SECRET = "sim-app-secret"
DEFAULT_TOKEN_TTL = 7200  # seconds of sim time an exchanged token lives
TOKEN_PREFIXES = ("/vendor/wechat/v1", "/vendor/douyin/v1", "/weibo/api")


@dataclass(frozen=True)
class PlacedWechat:
    item: WechatArticle
    id: str
    published: datetime


@dataclass(frozen=True)
class PlacedVideo:
    item: DouyinVideo
    id: str
    published: datetime


@dataclass
class VendorState:
    static_token: str
    app_id: str
    app_secret: str
    token_ttl: int
    issued: dict[str, datetime] = field(default_factory=dict)  # token → expiry (sim time)
    exchanges: int = 0
    throttled_left: int = 0
    retry_after: int = 1
    api_calls: int = 0

    def throttle(self, calls: int, retry_after: int = 1) -> None:
        self.throttled_left, self.retry_after = calls, retry_after

    def revoke_all(self) -> None:
        self.issued.clear()

    def accepts(self, token: str | None, now: datetime) -> bool:
        if not token:
            return False
        if secrets.compare_digest(token, self.static_token):
            return True
        expiry = self.issued.get(token)
        return expiry is not None and now < expiry


def place(scenario: Scenario) -> tuple[list[PlacedWechat], list[PlacedVideo]]:
    """The content on the scenario's timeline with stable ids (they depend on the content only)."""
    wechat = [PlacedWechat(a, f"2247{483600 + 7 * i}", scenario.start + a.offset)
              for i, a in enumerate(sorted(WECHAT, key=lambda a: (a.offset, a.key)))]
    videos = [PlacedVideo(v, str(7_311_000_000_000_000_000 + 104_729 * i), scenario.start + v.offset)
              for i, v in enumerate(sorted(DOUYIN, key=lambda v: (v.offset, v.key)))]
    return wechat, videos


def vendor_routes(now: Callable[[], datetime], scenario: Scenario, state: VendorState) -> list[Route]:
    wechat, videos = place(scenario)
    wechat_by_id = {w.id: w for w in wechat}
    video_by_id = {v.id: v for v in videos}

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def token_of(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def guard(request: Request, refuse: Callable[[str], dict[str, Any]]) -> Response | None:
        state.api_calls += 1
        token = token_of(request)
        if not state.accepts(token, now()):
            expired = token in state.issued
            return JSONResponse(refuse("access_token expired" if expired else "invalid access_token"),
                                status_code=401)
        if state.throttled_left > 0:
            state.throttled_left -= 1
            return JSONResponse(refuse("too many requests"), status_code=429,
                                headers={"Retry-After": str(state.retry_after)})
        return None

    async def token(request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                data = await request.json()
            except ValueError:
                data = {}
        else:
            data = dict(await request.form())
        if not isinstance(data, dict) or data.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if not (secrets.compare_digest(str(data.get("app_id", "")), state.app_id)
                and secrets.compare_digest(str(data.get("app_secret", "")), state.app_secret)):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        issued = secrets.token_urlsafe(24)
        state.issued[issued] = now() + timedelta(seconds=state.token_ttl)
        state.exchanges += 1
        return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": state.token_ttl},
                            headers={"Cache-Control": "no-store"})

    def page_args(request: Request) -> tuple[int, int, datetime | None] | None:
        try:
            offset = int(request.query_params.get("cursor") or 0)
            count = int(request.query_params.get("count") or 20)
            since_raw = request.query_params.get("since")
            since = datetime.fromtimestamp(int(since_raw), now().tzinfo) if since_raw else None
        except (ValueError, OverflowError, OSError):
            return None
        if offset < 0 or count < 1:
            return None
        return offset, min(count, 50), since

    def matching(items: list[Any], text: Callable[[Any], str], request: Request, since: datetime | None) -> list[Any]:
        t = now()
        terms = (request.query_params.get("keyword") or "").split()
        chosen = [i for i in items if i.published <= t and (since is None or i.published >= since)
                  and all(term in text(i) for term in terms)]
        return sorted(chosen, key=lambda i: i.published, reverse=True)

    def wechat_refusal(message: str) -> dict[str, Any]:
        return {"code": 40001, "message": message}

    def douyin_refusal(message: str) -> dict[str, Any]:
        return {"status_code": 2190008, "status_msg": message}

    def wechat_json(w: PlacedWechat, b: str) -> dict[str, Any]:
        looking, comments, likes = _counters(w.item.growth, now(), w.published)
        return {"article_id": w.id, "title": w.item.title, "digest": w.item.content[:54], "content": w.item.content,
                "url": f"{b}/vendor/wechat/s/{w.id}", "publish_time": int(w.published.timestamp()),
                "account": {"name": w.item.account, "biz": f"MzI{sum(map(ord, w.item.account)):08d}",
                            "fans": w.item.fans},
                "read_num": likes * 10 + (500 if likes else 0), "like_num": likes, "looking_num": looking,
                "comment_num": comments}

    def video_json(v: PlacedVideo, b: str) -> dict[str, Any]:
        shares, comments, likes = _counters(v.item.growth, now(), v.published)
        return {"aweme_id": v.id, "desc": v.item.desc, "create_time": int(v.published.timestamp()),
                "share_url": f"{b}/vendor/douyin/video/{v.id}",
                "author": {"nickname": v.item.nickname, "uid": str(sum(map(ord, v.item.nickname)) * 7919),
                           "follower_count": v.item.followers},
                "statistics": {"digg_count": likes, "comment_count": comments, "share_count": shares,
                               "play_count": likes * 30 + (100 if likes else 0)}}

    async def wechat_search(request: Request) -> Response:
        refused = guard(request, wechat_refusal)
        if refused is not None:
            return refused
        args = page_args(request)
        if args is None:
            return JSONResponse({"code": 40097, "message": "invalid args"}, status_code=400)
        offset, count, since = args
        found = matching(wechat, lambda w: f"{w.item.title}\n{w.item.content}", request, since)
        chunk = found[offset:offset + count]
        more = offset + count < len(found)
        return JSONResponse({"code": 0, "message": "ok", "data": {
            "items": [wechat_json(w, base(request)) for w in chunk], "total": len(found),
            "next_cursor": str(offset + count) if more else "", "has_more": more}})

    async def wechat_one(request: Request) -> Response:
        refused = guard(request, wechat_refusal)
        if refused is not None:
            return refused
        w = wechat_by_id.get(request.path_params["aid"])
        if w is None or w.published > now():
            return JSONResponse({"code": 40404, "message": "article not found"}, status_code=404)
        return JSONResponse({"code": 0, "message": "ok", "data": wechat_json(w, base(request))})

    async def douyin_search(request: Request) -> Response:
        refused = guard(request, douyin_refusal)
        if refused is not None:
            return refused
        args = page_args(request)
        if args is None:
            return JSONResponse({"status_code": 2190001, "status_msg": "invalid args"}, status_code=400)
        offset, count, since = args
        found = matching(videos, lambda v: v.item.desc, request, since)
        chunk = found[offset:offset + count]
        more = offset + count < len(found)
        return JSONResponse({"status_code": 0, "status_msg": "", "data": {
            "videos": [video_json(v, base(request)) for v in chunk], "cursor": offset + count,
            "has_more": 1 if more else 0}})

    async def douyin_one(request: Request) -> Response:
        refused = guard(request, douyin_refusal)
        if refused is not None:
            return refused
        v = video_by_id.get(request.path_params["vid"])
        if v is None or v.published > now():
            return JSONResponse({"status_code": 2190004, "status_msg": "video not found"}, status_code=404)
        return JSONResponse({"status_code": 0, "status_msg": "", "data": video_json(v, base(request))})

    async def wechat_page(request: Request) -> Response:
        w = wechat_by_id.get(request.path_params["aid"])
        if w is None or w.published > now():
            return HTMLResponse("<h1>该内容已被发布者删除</h1>", status_code=404)
        return HTMLResponse(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(w.item.title)}'
                            f'</title></head><body><h1>{escape(w.item.title)}</h1><p class="account">'
                            f"{escape(w.item.account)}</p><div id=\"js_content\"><p>{escape(w.item.content)}</p>"
                            "</div></body></html>")

    async def douyin_page(request: Request) -> Response:
        v = video_by_id.get(request.path_params["vid"])
        if v is None or v.published > now():
            return HTMLResponse("<h1>视频不存在</h1>", status_code=404)
        return HTMLResponse(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(v.item.desc[:30])}'
                            f'</title></head><body><p class="author">@{escape(v.item.nickname)}</p>'
                            f'<p class="desc">{escape(v.item.desc)}</p></body></html>')

    return [
        *(Route(f"{prefix}/oauth2/token", token, methods=["POST"]) for prefix in TOKEN_PREFIXES),
        Route("/vendor/wechat/v1/articles/search", wechat_search),
        Route("/vendor/wechat/v1/articles/{aid}", wechat_one),
        Route("/vendor/douyin/v1/videos/search", douyin_search),
        Route("/vendor/douyin/v1/videos/{vid}", douyin_one),
        Route("/vendor/wechat/s/{aid}", wechat_page),
        Route("/vendor/douyin/video/{vid}", douyin_page),
    ]


def _counters(growth: Growth, now: datetime, published: datetime) -> tuple[int, int, int]:
    age = (now - published).total_seconds() / 60
    return growth.at_age(age) if math.isfinite(age) else (0, 0, 0)
