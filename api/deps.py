"""Typed FastAPI dependencies: the database session, the signed-in user, roles and unit scope.

``CurrentUser`` serves the JSON API: a bearer token always works; the dashboard's session cookie is accepted for
reads (GET/HEAD) only, so a forged cross-site request can never change anything through the API. ``PageUser``
serves the dashboard: the session cookie, or a redirect to the login page. A user still holding a password
someone else set (``must_change_password``) is sent to the password page by ``PageUser``, and the API refuses
their session cookie, until they pick their own; ``AccountUser`` admits them (the pages that let them do so). API
tokens are separate credentials an admin issued on purpose (often for an integration account that never signs
in), so they keep working; revoke them with ``yuqing user revoke-token`` when a password is reset after a leak.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from sqlalchemy.orm import Session

from api import auth, users
from api.models import User
from incidents.policy import Policy
from yuqing.clock import Clock
from yuqing.org import OrgChart, Role
from yuqing.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_ROW_ID = 2**31 - 1  # ids are 32-bit integer columns; a larger id names nothing (422, never a database error)
IdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


class LoginRequired(Exception):
    """A dashboard page was asked for without a valid session; answered with a redirect to /login."""

    def __init__(self, next_path: str):
        self.next_path = next_path


class PasswordChangeRequired(Exception):
    """A signed-in user with an initial or reset password asked for another page; redirected to change it."""


@dataclass(frozen=True)
class Principal:
    """The signed-in user as the rest of the request sees them: who, which roles, which units."""

    user_id: int
    login: str
    name: str
    roles: tuple[str, ...]
    unit_id: str
    unit_ids: frozenset[str]
    csrf: str | None  # the session's CSRF token (None for bearer-token callers)
    via: str  # "session" | "token"
    must_change_password: bool = False

    def has_role(self, *roles: Role | str) -> bool:
        return any(str(r) in self.roles for r in roles)

    @property
    def role_names(self) -> list[str]:
        return users.role_labels(list(self.roles))

    def sees_unit(self, unit_id: str | None) -> bool:
        return unit_id is not None and unit_id in self.unit_ids


# --- application state ---------------------------------------------------------------------------------------
# ``async def``: these only read ``app.state``, and FastAPI runs a plain ``def`` dependency in a worker thread — a
# thread hop per dependency per request, a measurable share of a short list's CPU (docs/benchmarks.md, throughput).
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_org(request: Request) -> OrgChart:
    return request.app.state.org


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock


async def get_source_names(request: Request) -> dict[str, str]:
    return request.app.state.source_names


def get_policy(request: Request) -> Policy | None:
    """The incidents policy (levels and checklists), loaded on first use when the app was not given one."""
    return request.app.state.policy_provider()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for the request, closed on the event loop as soon as the response is done.

    ``async`` on purpose: a plain generator's clean-up runs in a worker thread, and until that thread is free the
    request keeps its connection (its transaction still open). With more concurrent requests than the pool has
    connections, every worker thread could be waiting for a connection while the connections wait for a thread to
    close them: all requests stalled until the pool's 30 s timeout (64 clients in ``python -m bench api-load``).
    Creating a session does no I/O; closing it is one ROLLBACK round trip that returns the connection to the pool."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
OrgDep = Annotated[OrgChart, Depends(get_org)]
ClockDep = Annotated[Clock, Depends(get_clock)]
PolicyDep = Annotated[Policy | None, Depends(get_policy)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SourceNamesDep = Annotated[dict[str, str], Depends(get_source_names)]


# --- who is asking -------------------------------------------------------------------------------------------
def read_session_cookie(request: Request) -> auth.SessionData | None:
    signer: auth.SessionSigner = request.app.state.session_signer
    return signer.loads(request.cookies.get(auth.SESSION_COOKIE))


def principal_for(user: User, org: OrgChart, *, csrf: str | None, via: str) -> Principal:
    roles = tuple(str(r) for r in (user.roles or []))
    return Principal(user_id=user.id, login=user.login, name=user.name, roles=roles, unit_id=user.unit_id,
                     unit_ids=users.scope_unit_ids(org, unit_id=user.unit_id, roles=list(roles)),
                     csrf=csrf, via=via, must_change_password=bool(user.must_change_password))


def release(session: Session) -> None:
    """End the session's transaction and give its connection back to the pool, after the sign-in check.

    Why: FastAPI runs the check and the route in two separate worker threads. A connection kept from one to the
    other is held while the request waits for its next thread; under more concurrent requests than the pool holds,
    every thread can end up waiting for a connection held by a request that is itself waiting for a thread — all
    stall until the pool's timeout (seen with 64 clients in ``python -m bench api-load``). The COMMIT is one short
    round trip; the route checks a connection out again."""
    session.commit()


def _session_principal(request: Request, session: Session) -> Principal | None:
    data = read_session_cookie(request)
    if data is None or data.user_id is None:
        return None
    user = users.get_user(session, user_id=data.user_id)
    release(session)
    if user is None or (user.session_epoch or 0) != data.epoch:
        return None  # logged out elsewhere or password changed: the cookie was revoked on the server
    return principal_for(user, request.app.state.org, csrf=data.csrf, via="session")


def current_api_user(request: Request, session: SessionDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        user = users.user_for_token(session, token=token.strip(), clock=request.app.state.clock)
        if user is None:
            raise _unauthorized("API 令牌无效或已停用")
        release(session)  # last_used_at, if it moved
        return principal_for(user, request.app.state.org, csrf=None, via="token")
    principal = _session_principal(request, session)
    if principal is None:
        raise _unauthorized("未登录：请提供 API 令牌（Authorization: Bearer …）")
    if request.method not in SAFE_METHODS:
        raise _unauthorized("写操作需使用 API 令牌（Authorization: Bearer …）")
    if principal.must_change_password:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "请先在仪表盘修改初始密码")
    return principal


def current_account_user(request: Request, session: SessionDep) -> Principal:
    """The signed-in dashboard user, even one who must still change their password."""
    principal = _session_principal(request, session)
    if principal is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path if request.method in SAFE_METHODS else "/")
    return principal


def current_page_user(principal: Annotated[Principal, Depends(current_account_user)]) -> Principal:
    if principal.must_change_password:
        raise PasswordChangeRequired
    return principal


CurrentUser = Annotated[Principal, Depends(current_api_user)]
AccountUser = Annotated[Principal, Depends(current_account_user)]
PageUser = Annotated[Principal, Depends(current_page_user)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only API callers holding one of ``roles``."""

    def check(principal: CurrentUser) -> Principal:
        ensure_role(principal, *roles)
        return principal

    return check


# --- checks shared by the API and the dashboard ---------------------------------------------------------------
def ensure_role(principal: Principal, *roles: Role) -> None:
    if not principal.has_role(*roles):
        names = "、".join(users.role_labels([r.value for r in roles]))
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"无权执行此操作：需要以下角色之一：{names}")


def ensure_unit(principal: Principal, unit_id: str | None) -> None:
    if not principal.sees_unit(unit_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "无权访问：该事项不属于您所辖的单位")


def ensure_csrf(principal: Principal | None, token: str | None, session_data: auth.SessionData | None = None) -> None:
    expected = principal.csrf if principal is not None else (session_data.csrf if session_data else None)
    if not auth.csrf_matches(expected, token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "表单已失效（CSRF 校验失败），请刷新页面后重试")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})
