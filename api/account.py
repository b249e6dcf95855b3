"""我的账号: change one's own password (forced after an initial or reset password) and manage one's API tokens.

A new token is shown once, on the page that created it, and only its hash is stored. Changing the password signs
out every other session (the session epoch moves) and re-issues this browser's cookie.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from api import auth, users
from api.deps import AccountUser, ClockDep, IdPath, PageUser, Principal, SessionDep, ensure_csrf
from api.login import set_session_cookie
from api.pages import render

router = APIRouter(tags=["dashboard"], include_in_schema=False)

CsrfField = Annotated[str, Form(max_length=128)]
PasswordField = Annotated[str, Form(max_length=256)]
FLASH = {"password": "密码已修改，其他设备上的登录已退出。", "revoked": "令牌已吊销。"}


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, me: PageUser, session: SessionDep, clock: ClockDep) -> Response:
    return _render_account(request, me, session, clock)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, me: AccountUser) -> Response:
    return render(request, "password.html", me, "account", {"error": "", "forced": me.must_change_password})


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request, me: AccountUser, session: SessionDep, clock: ClockDep,
                          current: PasswordField = "", new: PasswordField = "", confirm: PasswordField = "",
                          csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    if new != confirm:
        return _password_error(request, me, "两次输入的新密码不一致")
    user = users.get_user(session, user_id=me.user_id)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "账号已停用")
    session.rollback()  # hand the connection back while waiting for the password gate (see api.login)

    def change() -> str:
        try:
            users.change_own_password(session, user=user, current=current, new=new, clock=clock)
        except users.AccountError as exc:
            session.rollback()
            return str(exc)
        session.commit()
        return ""

    gate: auth.PasswordGate = request.app.state.password_gate
    try:
        error = await gate.run(change)
    except auth.PasswordGateBusy:
        return _password_error(request, me, "请求过多，请稍候几秒再试", status.HTTP_503_SERVICE_UNAVAILABLE)
    if error:
        return _password_error(request, me, error)
    response = RedirectResponse("/account?done=password", status_code=status.HTTP_303_SEE_OTHER)
    set_session_cookie(request, response, auth.SessionData(user_id=user.id, csrf=auth.new_csrf_token(),
                                                           epoch=user.session_epoch))
    return response


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(request: Request, me: PageUser, session: SessionDep, clock: ClockDep, csrf_token: CsrfField = "",
                 name: Annotated[str, Form(max_length=64)] = "",
                 days: Annotated[int, Form(ge=1, le=users.MAX_TOKEN_DAYS)] = users.DEFAULT_TOKEN_DAYS) -> Response:
    ensure_csrf(me, csrf_token)
    user = users.get_user(session, user_id=me.user_id)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "账号已停用")
    token = users.create_api_token(session, user=user, name=name or "仪表盘签发", clock=clock, days=days)
    session.commit()
    return _render_account(request, me, session, clock, new_token=token)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(me: PageUser, session: SessionDep, clock: ClockDep, token_id: IdPath,
                 csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    try:
        users.revoke_api_token(session, token_id=token_id, actor=me.login, clock=clock, owner_id=me.user_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    session.commit()
    return RedirectResponse("/account?done=revoked", status_code=status.HTTP_303_SEE_OTHER)


def _render_account(request: Request, me: Principal, session, clock, new_token: str = "") -> Response:
    now = clock.now()
    tokens = [{"id": row.id, "name": row.name, "created_at": row.created_at, "expires_at": users.token_expiry(row),
               "last_used_at": row.last_used_at, "status": users.token_status(row, now)}
              for row, _login in users.list_api_tokens(session, user_id=me.user_id)]
    context: dict[str, Any] = {"tokens": tokens, "new_token": new_token, "account_flash":
                               FLASH.get(request.query_params.get("done", ""), ""),
                               "default_days": users.DEFAULT_TOKEN_DAYS, "max_days": users.MAX_TOKEN_DAYS}
    return render(request, "account.html", me, "account", context)


def _password_error(request: Request, me: Principal, message: str,
                    status_code: int = status.HTTP_422_UNPROCESSABLE_CONTENT) -> Response:
    return render(request, "password.html", me, "account",
                  {"error": message, "forced": me.must_change_password}, status_code=status_code)
