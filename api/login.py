"""登录 / 退出: the dashboard's sign-in form and sign-out, with CSRF protection from the first page.

Before sign-in the browser already holds a signed session cookie carrying only a CSRF token, so the login form
itself cannot be submitted cross-site. Signing in issues a fresh token (no fixation); signing out clears the
cookie. Both are written to the audit log, failed attempts included. Failed attempts are throttled per login and
per address (``api.throttle``); a user whose password was set by someone else is sent to change it first.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from api import audit, auth, throttle, users
from api.deps import ClockDep, SessionDep, ensure_csrf, read_session_cookie
from api.models import User
from yuqing.clock import Clock
from yuqing.text import repair_text

router = APIRouter(tags=["dashboard"], include_in_schema=False)

LOGIN_FAILED = "用户名或密码错误，请重新输入。"
LOCKED = "登录失败次数过多，已暂时锁定，请 {minutes} 分钟后再试；如需立即解锁，请联系系统管理员。"
BUSY = "登录请求过多，请稍候几秒再试。"
PASSWORD_PAGE = "/account/password"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    data = read_session_cookie(request)
    if data is None:
        data = auth.SessionData(user_id=None, csrf=auth.new_csrf_token())
    response = render_login(request, csrf_token=data.csrf, next_path=safe_next(next))
    set_session_cookie(request, response, data)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request, session: SessionDep, clock: ClockDep,
                       login: Annotated[str, Form(max_length=64)] = "",
                       password: Annotated[str, Form(max_length=256)] = "",
                       csrf_token: Annotated[str, Form(max_length=128)] = "",
                       next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    """Sign in: refused at once while the login or the address is locked out; the password check itself runs
    through the app's ``PasswordGate`` (a few at a time, never on the event loop)."""
    data = read_session_cookie(request)
    ensure_csrf(None, csrf_token, data)
    assert data is not None  # ensure_csrf refuses a request without a session
    login = repair_text(login).strip()  # a NUL would make PostgreSQL refuse the lookup (a 500, not a 401)
    address = client_address(request)
    lock = await anyio.to_thread.run_sync(lambda: _current_lock(session, clock, login, address))
    if lock is not None:
        return _locked(request, data, login, next, lock.minutes_left(clock.now()))
    gate: auth.PasswordGate = request.app.state.password_gate
    try:
        user, new_lock = await gate.run(lambda: _check_password(session, clock, login, password, address))
    except auth.PasswordGateBusy:
        return render_login(request, csrf_token=data.csrf, next_path=safe_next(next), login=login, error=BUSY,
                            status_code=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"})
    if user is None:
        if new_lock is not None:
            return _locked(request, data, login, next, new_lock.minutes_left(clock.now()))
        return render_login(request, csrf_token=data.csrf, next_path=safe_next(next), login=login,
                            error=LOGIN_FAILED, status_code=status.HTTP_401_UNAUTHORIZED)
    target = PASSWORD_PAGE if user.must_change_password else safe_next(next)
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    set_session_cookie(request, response, auth.SessionData(user_id=user.id, csrf=auth.new_csrf_token(),
                                                           epoch=user.session_epoch or 0))
    return response


def _current_lock(session: Session, clock: Clock, login: str, address: str) -> throttle.Lock | None:
    """The lock-out in force, with the database connection handed back at once: a sign-in waiting for the
    password gate must not hold one of the pool's connections (a crowd of guessers would starve every read)."""
    try:
        return throttle.current_lock(session, login=login, address=address, clock=clock)
    finally:
        session.rollback()


def _check_password(session: Session, clock: Clock, login: str, password: str,
                    address: str) -> tuple[User | None, throttle.Lock | None]:
    """Verify, count a failure (maybe locking) or reset the login's count; audit either way; one commit."""
    user = users.authenticate(session, login=login, password=password)
    if user is None:
        lock = throttle.record_failure(session, login=login, address=address, clock=clock)
        audit.record(session, clock=clock, actor=login or "anonymous", action="login.failed", object_type="user",
                     object_id=login, detail="登录失败", data={"address": address})
        session.commit()
        return None, lock
    throttle.record_success(session, login=login)
    audit.record(session, clock=clock, actor=user.login, action="login", object_type="user", object_id=user.id,
                 detail="登录成功", data={"address": address})
    session.commit()
    return user, None


def _locked(request: Request, data: auth.SessionData, login: str, next: str, minutes: int) -> Response:
    return render_login(request, csrf_token=data.csrf, next_path=safe_next(next), login=login,
                        error=LOCKED.format(minutes=minutes), status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                        headers={"Retry-After": str(minutes * 60)})


def client_address(request: Request) -> str:
    """The client's address (the proxy's X-Forwarded-For when the proxy is trusted; see ``trusted_proxies``)."""
    return request.client.host if request.client is not None else "unknown"


@router.post("/logout")
def logout(request: Request, session: SessionDep, clock: ClockDep,
           csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
    data = read_session_cookie(request)
    ensure_csrf(None, csrf_token, data)
    if data is not None and data.user_id is not None:
        user = users.get_user(session, user_id=data.user_id)
        if user is not None and (user.session_epoch or 0) == data.epoch:
            user.session_epoch = (user.session_epoch or 0) + 1  # revoke every copy of this session's cookie
            audit.record(session, clock=clock, actor=user.login, action="logout", object_type="user",
                         object_id=user.id, detail="退出登录")
            session.commit()
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def render_login(request: Request, *, csrf_token: str, next_path: str, login: str = "", error: str = "",
                 status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, "login.html", {
        "me": None, "nav": "", "flash": "", "bank_name": request.app.state.org.bank.name,
        "now": request.app.state.clock.now(), "csrf_token": csrf_token, "next_path": next_path, "login": login,
        "error": error}, status_code=status_code, headers={"Cache-Control": "no-store", **(headers or {})})


def set_session_cookie(request: Request, response: Response, data: auth.SessionData) -> None:
    signer: auth.SessionSigner = request.app.state.session_signer
    response.set_cookie(auth.SESSION_COOKIE, signer.dumps(data), max_age=signer.max_age_s, path="/",
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")


def safe_next(value: str | None) -> str:
    """A local path to return to after login; anything else (other sites, schemes) becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 0x20 for ch in value):
        return "/"
    return value
