"""The FastAPI application: JSON API under ``/api/v1``, the Chinese dashboard, ``/healthz`` and security headers.

Hardening applied to every response: the strict CSP and friends, HSTS when the request came over TLS, ``no-store``
on API responses; request bodies above ``max_request_bytes`` are refused with 413 before they are read; behind a
reverse proxy listed in ``trusted_proxies`` its X-Forwarded-For / -Proto are believed (so the client address the
login throttle counts is the real one, and cookies are ``Secure``), and nobody else's are.

``create_app`` is the only way in. Everything the app needs (settings, database sessions, org chart, clock,
incidents policy) is passed in and kept on ``app.state``, so the demo can run it on a simulated clock and tests on
a frozen one, several apps side by side.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import admission, auth, inbox, queries
from api.account import router as account_router
from api.deps import LoginRequired, PasswordChangeRequired, SessionDep
from api.login import router as login_router
from api.pages import router as pages_router
from api.routers import (
    alerts,
    articles,
    configuration,
    health,
    incidents,
    outbox,
    receipts,
    report_issues,
    stories,
    tasks,
    tokens,
)
from api.routers import audit as audit_router
from api.routers import sources as sources_router
from api.routers import users as users_router
from api.schemas import ERROR_RESPONSES, HealthRead
from api.templating import STATIC_DIR, make_templates
from crawlers.sources import SourceConfig, load_sources
from incidents.complaints.links import INTERNAL_SOURCE, INTERNAL_SOURCE_NAME
from incidents.policy import Policy, load_policy
from yuqing.clock import Clock
from yuqing.errors import ConfigError
from yuqing.org import OrgChart
from yuqing.security import require_secret_key
from yuqing.settings import Settings

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
NO_STORE = (b"cache-control", b"no-store")
POLICY_RETRY_S = 30.0
# API routes whose errors are one {"field", "message"} in English, request validation and 413 included
# (docs/complaints.md); the rest of the API keeps FastAPI's list of problems with a Chinese summary.
FIELD_ERROR_PATHS = re.compile(r"^/api/v1/(complaints|media-reports)(/|$)")
HTTP_STATUS_HEADINGS = {400: "请求有误", 401: "未登录", 403: "无权访问", 404: "页面不存在", 409: "操作未执行",
                        413: "请求过大", 422: "请求参数无效", 429: "请求过于频繁", 503: "服务暂不可用"}


def create_app(*, settings: Settings, session_factory: sessionmaker[Session], org: OrgChart, clock: Clock,
               policy: Policy | None = None, sources: Sequence[SourceConfig] | None = None,
               source_names: Mapping[str, str] | None = None) -> FastAPI:
    """Build the app.

    ``policy`` (incident levels and checklists) is loaded from config on first use if None. ``sources`` (the
    crawl configuration, whose health the dashboard shows) is loaded from the sources file if None.
    ``source_names`` overrides display names (source id → e.g. 江城晚报网); by default they come from ``sources``.
    Refuses (``ConfigError``) a missing or weak ``secret_key``: it signs every session.
    """
    require_secret_key(settings.secret_key)
    app = FastAPI(title="yuqing 舆情应急处置平台 API", version="0.1.0", docs_url=None, redoc_url=None,
                  description="舆情监测、预警与事件处置。所有时间为 UTC（ISO 8601）。列表、翻页、错误格式与幂等键见 "
                              "docs/api.md。", responses=ERROR_RESPONSES)
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.org = org
    app.state.clock = clock
    app.state.policy_provider = _policy_provider(settings, policy)
    app.state.session_signer = auth.SessionSigner(settings.secret_key)
    app.state.password_gate = auth.PasswordGate()
    app.state.sources = list(sources) if sources is not None else _load_sources(settings)
    # internal reports (a complaint raised to an incident, a journalist report) are a source nobody configures
    app.state.source_names = ({INTERNAL_SOURCE: INTERNAL_SOURCE_NAME} | {s.id: s.name for s in app.state.sources}
                              | dict(source_names or {}))
    app.state.templates = make_templates(settings.tz, app.state.source_names)

    # Added last = outermost: proxy headers first, then the size cap, then headers on whatever answers, then
    # admission (at most the pool's connections' worth of requests inside at once; api.admission).
    app.add_middleware(admission.AdmissionMiddleware, limit=admission.pool_limit(session_factory.kw.get("bind")))
    app.add_middleware(SecurityHeadersMiddleware)
    from api import complaints as complaint_routes  # 投诉: the API, the pages, and room for their attachments

    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes,
                       larger=complaint_routes.upload_limits(settings))
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (incidents, alerts, tasks, articles, stories, sources_router, tokens, audit_router, outbox,
                   configuration, users_router, health, receipts, report_issues):
        app.include_router(module.router)
    app.include_router(login_router)
    app.include_router(account_router)
    app.include_router(pages_router)
    from api import statements as statement_pages  # 口径: the page /incidents/{id}/statements and its forms
    from api.routers import statements as statements_api

    app.include_router(statements_api.router)
    app.include_router(statement_pages.router)
    from api import after_close  # 整改事项 marked done, the decision on a 舆情反弹 flag: API and dashboard forms
    from api.routers import after_close as after_close_api

    app.include_router(after_close_api.router)
    app.include_router(after_close.router)
    from api import regulators as regulator_forms  # 报告监管部门 / 报告人民银行: API and the incident page's form
    from api.routers import regulators as regulators_api

    app.include_router(regulators_api.router)
    app.include_router(regulator_forms.router)
    from api import briefings  # 专报草稿, 日报 / 周报: the pages and /api/v1/reports

    app.include_router(briefings.router)
    app.include_router(complaint_routes.api)
    app.include_router(complaint_routes.pages)
    from api import media_reports  # 记者正在询问/拍摄: POST /api/v1/media-reports opens the media-exposure alert

    app.include_router(media_reports.router)
    app.include_router(media_reports.pages)
    from api import mentions, story_page  # 舆情信息 (search, filters, charts) and the story view /stories/{id}

    app.include_router(mentions.router)
    app.include_router(story_page.router)
    from api import live  # GET /events: live updates (Server-Sent Events) for the pages that change

    app.state.live = live.LiveHub(session_factory)
    app.include_router(live.router)
    from api import admin_channels, admin_keywords, admin_sources  # 来源管理 / 关键词方案 / 通知渠道 (admins)

    for admin_module in (admin_sources, admin_keywords, admin_channels):
        app.include_router(admin_module.router)
        app.include_router(admin_module.pages)
    from api import admin_config_pages, admin_users, config_live  # 系统管理: configuration documents, users and roles
    from api.routers import config as config_api

    app.include_router(config_api.router)
    app.include_router(admin_config_pages.pages)
    app.include_router(admin_users.pages)
    config_live.install(app)  # configuration saved in the console is applied without a restart
    inbox.install(app)  # 消息, /api/v1/notifications, /ack/{token}, /outbox, and the top bar's unread count
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"], summary="健康检查",
                      response_model=HealthRead, responses={503: {"model": HealthRead, "description": "数据库不可用"}})
    _install_error_handlers(app)
    return app


def healthz(session: SessionDep) -> Response:
    """``{"status": "ok"}`` when the database answers, 503 otherwise."""
    try:
        queries.ping(session)
    except SQLAlchemyError as exc:
        log.warning("healthz: database unavailable", extra={"error": str(exc)[:200]})
        return JSONResponse({"status": "unavailable", "detail": "数据库不可用"}, status_code=503)
    return JSONResponse({"status": "ok"})


class SecurityHeadersMiddleware:
    """Adds the strict CSP and friends to every HTTP response (pages, API, static files, errors), HSTS to those
    served over TLS, and ``Cache-Control: no-store`` to API responses (they carry personal and crisis data)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = list(SECURITY_HEADERS)
        if scope.get("scheme") == "https":
            wanted.append(HSTS)
        path = scope.get("path", "")
        if path.startswith("/api/") or path in ("/healthz", "/openapi.json"):
            wanted.append(NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in wanted if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """Refuses request bodies larger than ``max_bytes`` with 413, by Content-Length up front or, for chunked
    bodies, as soon as the bytes received pass the limit (the handler never sees a partial body). Paths matching
    a pattern of ``larger`` (the complaint attachment uploads) get that pattern's limit instead."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Sequence[tuple[re.Pattern[str], int]] = ()):
        self.app = app
        self.default_max_bytes = max_bytes
        self.larger = list(larger)  # (path pattern, limit): upload routes that take files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        max_bytes = next((limit for pattern, limit in self.larger if pattern.match(path)), self.default_max_bytes)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > max_bytes:
                    await self._refuse(scope, send, max_bytes)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(scope, send, max_bytes)

    async def _refuse(self, scope: Scope, send: Send, max_bytes: int) -> None:
        too_large = _BodyTooLarge(max_bytes)
        detail = too_large.field_detail if FIELD_ERROR_PATHS.match(scope.get("path", "")) else too_large.detail
        body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` mid-body: FastAPI re-raises HTTP exceptions from body parsing, so the app's own
    error handler answers 413 (JSON for the API, the Chinese error page for the dashboard)."""

    def __init__(self, max_bytes: int):
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, f"请求体过大（上限 {max_bytes // 1024} KiB）")
        self.field_detail = {"field": None, "message": f"request body larger than {max_bytes // 1024} KiB"}


def _policy_provider(settings: Settings, policy: Policy | None) -> Callable[[], Policy | None]:
    """Return the given policy, or load it from config on first use (retrying now and then if it fails)."""
    lock = threading.Lock()
    state: dict[str, Any] = {"policy": policy, "next_try": 0.0}

    def provide() -> Policy | None:
        if state["policy"] is not None or time.monotonic() < state["next_try"]:
            return state["policy"]
        with lock:
            if state["policy"] is None and time.monotonic() >= state["next_try"]:
                try:
                    state["policy"] = load_policy(settings.levels_path, settings.checklists_path)
                except Exception as exc:  # missing or invalid config: pages still work, without clocks
                    log.warning("incidents policy not loaded", extra={"error": str(exc)[:300]})
                    state["next_try"] = time.monotonic() + POLICY_RETRY_S
        return state["policy"]

    return provide


def _load_sources(settings: Settings) -> list[SourceConfig]:
    """The configured sources; on a broken file the dashboard still starts and says so in the log."""
    try:
        return load_sources(settings.sources_path)
    except ConfigError as exc:
        log.warning("sources not loaded; source health unavailable", extra={"error": str(exc)[:500]})
        return []


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}",
                                status_code=status.HTTP_303_SEE_OTHER)

    @app.exception_handler(PasswordChangeRequired)
    async def _password_change_required(request: Request, exc: PasswordChangeRequired) -> Response:
        return RedirectResponse("/account/password", status_code=status.HTTP_303_SEE_OTHER)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            detail = exc.detail
            if isinstance(exc, _BodyTooLarge) and FIELD_ERROR_PATHS.match(request.url.path):
                detail = exc.field_detail
            return JSONResponse({"detail": detail}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        # Framework messages are English ("Not Found"); show ours, in Chinese, instead.
        message = exc.detail if _is_chinese(exc.detail) else "请求未能完成。"
        if exc.status_code == 404 and not _is_chinese(exc.detail):
            message = "您访问的页面不存在。"
        return _error_page(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [_describe(err) for err in exc.errors()]
        message = "请求参数无效：" + "；".join(problems)
        if _is_api(request) and FIELD_ERROR_PATHS.match(request.url.path):
            return JSONResponse({"detail": _field_error(exc.errors())},
                                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        if _is_api(request):
            return JSONResponse({"detail": _plain_errors(exc.errors()), "message": message},
                                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        return _error_page(request, status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def _error_page(request: Request, status_code: int, message: str) -> Response:
    state = request.app.state
    return state.templates.TemplateResponse(request, "error.html", {
        "me": None, "nav": "", "flash": "", "bank_name": state.org.bank.name, "now": state.clock.now(),
        "heading": HTTP_STATUS_HEADINGS.get(status_code, "出错了"), "message": str(message)},
        status_code=status_code)


def _is_chinese(detail: Any) -> bool:
    return isinstance(detail, str) and any("\u4e00" <= ch <= "\u9fff" for ch in detail)


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body"))
    return f"{loc or '请求'}：{err.get('msg', '无效')}"


def _field_error(errors: Any) -> dict:
    """The first validation problem as {"field", "message"} in English (pydantic's words): the field is the input's
    name without its location (body, query, path, header), None for the body as a whole (not JSON, not an
    object)."""
    err = next(iter(errors), {})
    names = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header") and isinstance(p, str)]
    field = ".".join(names) or None
    msg = str(err.get("msg", "invalid input"))
    if err.get("type") == "json_invalid":
        field, msg = None, "the request body is not valid JSON"
    return {"field": field, "message": f"{field}: {msg}" if field else msg}


def _plain_errors(errors: Any) -> list[dict]:
    """Validation errors without the raw input and context objects (which may not be JSON-serialisable)."""
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
