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

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, HTTPException, Path, Request, status
from sqlalchemy.orm import Session

from api import auth, queries, users
from api.models import User
from crawlers.models import Story
from incidents.policy import Policy
from yuqing.clock import Clock
from yuqing.org import OrgChart, Role
from yuqing.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_ROW_ID = 2**31 - 1  # ids are 32-bit integer columns; a larger id names nothing (422, never a database error)
IdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
TOKEN_CACHE_S = 2.0  # how long a checked bearer token is believed without reading the database again (TokenCache)


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
    # units above the scope: their stories and alerts are visible when they name a unit of the scope (read only)
    above_ids: frozenset[str] = frozenset()

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


async def get_policy(request: Request) -> Policy | None:
    """The incidents policy (levels and checklists), loaded on first use when the app was not given one (a few
    small files read once, on the event loop; every server process is given it at start-up)."""
    return request.app.state.policy_provider()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for the request, closed on the event loop as soon as the response is done.

    ``async`` on purpose: a plain generator's clean-up runs in a worker thread, and until that thread is free the
    request keeps its connection (its transaction still open) — one more thread hop per request. Creating a session
    does no I/O; closing it is one ROLLBACK round trip that returns the connection to the pool."""
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


def principal_for(user: User | users.TokenOwner, org: OrgChart, *, csrf: str | None, via: str) -> Principal:
    roles = tuple(str(r) for r in (user.roles or []))
    return Principal(user_id=user.id, login=user.login, name=user.name, roles=roles, unit_id=user.unit_id,
                     unit_ids=users.scope_unit_ids(org, unit_id=user.unit_id, roles=list(roles)),
                     csrf=csrf, via=via, must_change_password=bool(user.must_change_password),
                     above_ids=users.scope_above_ids(org, unit_id=user.unit_id, roles=list(roles)))


# The sign-in check and the route run in two worker threads one after the other, on the request's one session: the
# connection the check took stays with the request for the route (no second checkout, ping and COMMIT per request).
# That cannot stall the server, because ``api.admission`` lets no more requests in at once than the pool has
# connections: an admitted request always gets its connection and a thread.
def _session_principal(request: Request, session: Session) -> Principal | None:
    data = read_session_cookie(request)
    if data is None or data.user_id is None:
        return None
    user = users.get_user(session, user_id=data.user_id)
    if user is None or (user.session_epoch or 0) != data.epoch:
        return None  # logged out elsewhere or password changed: the cookie was revoked on the server
    return principal_for(user, request.app.state.org, csrf=data.csrf, via="session")


class TokenCache:
    """Bearer tokens this process checked in the last ``ttl_s`` seconds (by hash) → the caller they named.

    Why: a token check was a worker-thread hop and a query on every API request, about a tenth of a short list's
    CPU (docs/benchmarks.md, API throughput). The price, by design: a token revoked, or its user deactivated or
    given other roles, by *another* process (the CLI, another ``yuqing api`` worker) keeps its old standing for at
    most ``ttl_s`` more seconds in each API process that checked it just before; a change made through this process
    (``api.users.credentials_changed``) empties the cache at once. ``tests/api/test_token_cache.py`` shows both.
    Only tokens that passed are remembered, so guessing tokens still costs a query each."""

    def __init__(self, ttl_s: float = TOKEN_CACHE_S, max_entries: int = 4096,
                 now: Callable[[], float] = time.monotonic):
        self.ttl_s, self.max_entries, self.now = ttl_s, max_entries, now
        self._entries: dict[str, tuple[float, OrgChart, datetime, Principal]] = {}
        self._generation = users.credentials_generation

    def get(self, token_hash: str, org: OrgChart, now: datetime) -> Principal | None:
        """The caller of a token checked less than ``ttl_s`` ago against this same org chart (a reloaded chart may
        have moved units: the scope is worked out again) and not expired at ``now`` (the app's clock)."""
        if self._generation != users.credentials_generation:  # revoked / deactivated / re-roled in this process
            self._entries.clear()
            self._generation = users.credentials_generation
        found = self._entries.get(token_hash)
        if found is None or found[0] <= self.now() or found[1] is not org or found[2] <= now:
            return None
        return found[3]

    def put(self, token_hash: str, org: OrgChart, expires_at: datetime, principal: Principal, *,
            generation: int) -> None:
        """Remember a token checked against the database. ``generation``: ``users.credentials_generation`` as it
        was before the check read the database; if it has moved since, a change made in this process may have
        been committed after that read (and the cache already emptied for it), so what was read is not kept."""
        if generation != users.credentials_generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # plenty for the integrations of one bank; a flood of tokens just misses
        self._entries[token_hash] = (self.now() + self.ttl_s, org, expires_at, principal)


def token_cache(request: Request) -> TokenCache:
    cache = getattr(request.app.state, "token_cache", None)
    if cache is None:
        cache = request.app.state.token_cache = TokenCache()
    return cache


def _token_principal(request: Request, session: Session, token: str) -> tuple[Principal, datetime] | None:
    owner = users.user_for_token(session, token=token, clock=request.app.state.clock)
    if owner is None:
        return None
    if owner.token_use_noted:
        session.commit()  # last_used_at moved (once a minute at most): kept even if the route fails
    return principal_for(owner, request.app.state.org, csrf=None, via="token"), owner.token_expires_at


async def current_api_user(request: Request, session: SessionDep) -> Principal:
    """``async``: a token checked within the last ``TOKEN_CACHE_S`` seconds is answered on the event loop; the
    database is read in a worker thread otherwise (and always for a session cookie)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        cache, key, org = token_cache(request), auth.api_token_hash(token.strip()), request.app.state.org
        principal = cache.get(key, org, request.app.state.clock.now())
        if principal is None:
            generation = users.credentials_generation  # before the read: see TokenCache.put
            found = await anyio.to_thread.run_sync(_token_principal, request, session, token.strip())
            if found is None:
                raise _unauthorized("API 令牌无效或已停用")
            principal, expires_at = found
            cache.put(key, org, expires_at, principal, generation=generation)
        return principal
    principal = await anyio.to_thread.run_sync(_session_principal, request, session)
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

    async def check(principal: CurrentUser) -> Principal:  # async: no I/O, so no worker-thread hop
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


def ensure_story(session: Session, principal: Principal, org: OrgChart, story: Story) -> None:
    """A story is the caller's to see when it is of their units, unattributed and they see the whole bank, or of a
    unit above their scope and one of its articles names a unit of it (``crawlers.matching`` rule j)."""
    if story.unit_id is None and org.root().id in principal.unit_ids:
        return
    if story.unit_id in principal.above_ids and queries.story_reaches(session, story_id=story.id,
                                                                        unit_ids=principal.unit_ids):
        return
    ensure_unit(principal, story.unit_id)


def ensure_csrf(principal: Principal | None, token: str | None, session_data: auth.SessionData | None = None) -> None:
    expected = principal.csrf if principal is not None else (session_data.csrf if session_data else None)
    if not auth.csrf_matches(expected, token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "表单已失效（CSRF 校验失败），请刷新页面后重试")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})
