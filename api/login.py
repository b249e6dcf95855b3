"""登录 / 退出: the dashboard's sign-in form and sign-out, with CSRF protection from the first page.

Before sign-in the browser already holds a signed session cookie carrying only a CSRF token, so the login form
itself cannot be submitted cross-site. Signing in issues a fresh token (no fixation); signing out clears the
cookie. Both are written to the audit log, failed attempts included.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from api import audit, auth, users
from api.deps import ClockDep, SessionDep, ensure_csrf, read_session_cookie

router = APIRouter(tags=["dashboard"], include_in_schema=False)

LOGIN_FAILED = "用户名或密码错误，请重新输入。"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    data = read_session_cookie(request)
    if data is None:
        data = auth.SessionData(user_id=None, csrf=auth.new_csrf_token())
    response = render_login(request, csrf_token=data.csrf, next_path=safe_next(next))
    set_session_cookie(request, response, data)
    return response


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, session: SessionDep, clock: ClockDep,
                 login: Annotated[str, Form(max_length=64)] = "",
                 password: Annotated[str, Form(max_length=256)] = "",
                 csrf_token: Annotated[str, Form(max_length=128)] = "",
                 next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    data = read_session_cookie(request)
    ensure_csrf(None, csrf_token, data)
    login = login.strip()
    user = users.authenticate(session, login=login, password=password)
    if user is None:
        audit.record(session, clock=clock, actor=login or "anonymous", action="login.failed", object_type="user",
                     object_id=login, detail="登录失败")
        session.commit()
        return render_login(request, csrf_token=data.csrf, next_path=safe_next(next), login=login,
                            error=LOGIN_FAILED, status_code=status.HTTP_401_UNAUTHORIZED)
    audit.record(session, clock=clock, actor=user.login, action="login", object_type="user", object_id=user.id,
                 detail="登录成功")
    session.commit()
    response = RedirectResponse(safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    set_session_cookie(request, response, auth.SessionData(user_id=user.id, csrf=auth.new_csrf_token(),
                                                           epoch=user.session_epoch or 0))
    return response


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
                 status_code: int = 200) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, "login.html", {
        "me": None, "nav": "", "flash": "", "bank_name": request.app.state.org.bank.name,
        "now": request.app.state.clock.now(), "csrf_token": csrf_token, "next_path": next_path, "login": login,
        "error": error}, status_code=status_code)


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
