"""系统管理 · 用户与角色 (``/admin/users``, admins only).

Users come from the people of the org chart (login = person id; ``api.users.sync_with_org`` keeps name, roles and
unit in line and deactivates those who left). The page lists every person with their account: roles, unit, active
or not and why, whether the initial password must still be changed, the last sign-in (the newest ``login`` audit
entry) and how many API tokens are live. Actions: create the account of a person who has none, reset a password
(a random temporary one shown once, to be changed at the next sign-in; every session signed out), revoke every API
token, deactivate (with a reason) and activate. Roles belong to the org chart: changing them rewrites the person's
entry in ``org.yaml`` and saves it through ``api.config_admin.validate_and_save`` — so the change is validated with
the whole configuration (a reporting chain that needs the role still has someone), versioned, audited and applied
without a restart. Forms carry the CSRF token; an admin cannot deactivate or demote themselves here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import audit, auth, users
from api.admin_forms import ensure_admin
from api.config_admin import validate_and_save
from api.deps import ClockDep, OrgDep, PageUser, Principal, SessionDep, ensure_csrf
from api.models import ApiToken, User
from api.pages import render
from yuqing import config_store
from yuqing.models import AuditEntry
from yuqing.org import ROLE_LABELS, OrgChart, Person, Role

pages = APIRouter(tags=["dashboard"], include_in_schema=False)
CsrfField = Annotated[str, Form(max_length=128)]
Login = Annotated[str, Form(min_length=1, max_length=64)]
ORG_DOC = "org.yaml"
FLASH = {
    "created": "账号已创建。",
    "reset": "密码已重设，该用户的会话已全部退出。",
    "tokens": "该用户的 API 令牌已全部吊销。",
    "deactivated": "账号已停用，所有会话已退出。",
    "activated": "账号已启用，须在登录时修改密码。",
    "roles": "角色已修改并写入组织架构（org.yaml），立即生效。",
}


@dataclass
class PersonRow:
    person: Person
    unit_name: str
    user: User | None
    last_login: datetime | None
    live_tokens: int


def temporary_password() -> str:
    """A random password for the admin to hand over; the user must replace it at the next sign-in."""
    return "Yq-" + secrets.token_urlsafe(12)


def _rows(session: Session, org: OrgChart) -> tuple[list[PersonRow], list[User]]:
    accounts = {u.login: u for u in session.scalars(select(User))}
    last = dict(session.execute(select(AuditEntry.object_id, func.max(AuditEntry.at))
                                .where(AuditEntry.action == "login").group_by(AuditEntry.object_id)).all())
    tokens = dict(session.execute(select(ApiToken.user_id, func.count()).where(ApiToken.revoked_at.is_(None))
                                  .group_by(ApiToken.user_id)).all())
    rows = []
    for p in org.people:
        user = accounts.pop(p.id, None)
        unit = org.unit(p.unit) if p.unit in {u.id for u in org.units} else None
        rows.append(PersonRow(person=p, unit_name=unit.name if unit else p.unit, user=user,
                              last_login=last.get(str(user.id)) if user else None,
                              live_tokens=tokens.get(user.id, 0) if user else 0))
    return rows, sorted(accounts.values(), key=lambda u: u.login)  # accounts of nobody in the chart


def _page(request: Request, me: Principal, session: Session, org: OrgChart, *, problems: list[str] | None = None,
          password_for: tuple[str, str] | None = None, flash: str = "", status_code: int = 200) -> Response:
    rows, orphans = _rows(session, org)
    context = {"rows": rows, "orphans": orphans, "roles": {str(r): ROLE_LABELS[r] for r in Role},
               "problems": problems or [], "password_for": password_for}
    if flash:
        context["flash"] = flash
    return render(request, "admin_users.html", me, "admin_users", context, status_code=status_code)


@pages.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, me: PageUser, session: SessionDep, org: OrgDep) -> Response:
    ensure_admin(me)
    return _page(request, me, session, org, flash=FLASH.get(request.query_params.get("done", ""), ""))


def _account(session: Session, login: str) -> User | None:
    """The account with this login, active or not (``users.get_user_by_login`` finds active ones only)."""
    return session.scalar(select(User).where(User.login == login))


def _user(session: Session, login: str) -> User:
    user = _account(session, login)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有这个账号：{login}")
    return user


def _done(code: str) -> Response:
    return RedirectResponse(f"/admin/users?done={code}", status_code=status.HTTP_303_SEE_OTHER)


@pages.post("/admin/users/create", response_class=HTMLResponse)
def create_account(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                   login: Login, csrf_token: CsrfField = "") -> Response:
    """The account of an org-chart person who has none: login = person id, a temporary password shown once."""
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    person = next((p for p in org.people if p.id == login), None)
    if person is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"组织架构中没有此人：{login}")
    if _account(session, login) is not None:
        return _page(request, me, session, org, problems=[f"{login} 已有账号"], status_code=409)
    password = temporary_password()
    session.add(User(login=person.id, person_id=person.id, name=person.name, roles=[r.value for r in person.roles],
                     unit_id=person.unit, password_hash=auth.hash_password(password), active=True,
                     created_at=clock.now(), must_change_password=True))
    audit.record(session, clock=clock, actor=me.login, action="user.created", object_type="user", object_id=login,
                 detail="管理员创建账号（须在首次登录时修改密码）")
    session.commit()
    return _page(request, me, session, org, password_for=(login, password), flash=FLASH["created"])


@pages.post("/admin/users/reset-password", response_class=HTMLResponse)
def reset_password(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                   login: Login, csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    _user(session, login)
    password = temporary_password()
    users.set_password(session, login=login, password=password, clock=clock, temporary=True, actor=me.login)
    session.commit()
    return _page(request, me, session, org, password_for=(login, password), flash=FLASH["reset"])


@pages.post("/admin/users/revoke-tokens")
def revoke_tokens(me: PageUser, session: SessionDep, clock: ClockDep, login: Login, csrf_token: CsrfField = ""
                  ) -> Response:
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    user = _user(session, login)
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
        users.revoke_api_token(session, token_id=token.id, actor=me.login, clock=clock)
    session.commit()
    return _done("tokens")


@pages.post("/admin/users/deactivate", response_class=HTMLResponse)
def deactivate(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, login: Login,
               csrf_token: CsrfField = "", reason: Annotated[str, Form(max_length=200)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    user = _user(session, login)
    if user.login == me.login:
        return _page(request, me, session, org, problems=["不能停用自己的账号"], status_code=409)
    if not reason.strip():
        return _page(request, me, session, org, problems=[f"停用 {login}：请填写原因"], status_code=422)
    if user.active:
        users.deactivate(session, user=user, reason=reason.strip(), actor=me.login, clock=clock)
        session.commit()
    return _done("deactivated")


@pages.post("/admin/users/activate", response_class=HTMLResponse)
def activate(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, login: Login,
             csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    _user(session, login)
    try:
        users.activate(session, login=login, org=org, actor=me.login, clock=clock)
    except users.AccountError as exc:
        return _page(request, me, session, org, problems=[str(exc)], status_code=409)
    session.commit()
    return _done("activated")


def with_roles(org_text: str, person_id: str, roles: list[str]) -> str:
    """``org.yaml`` with one person's roles replaced (the rest of the document, comments included, kept)."""
    from api.yaml_entries import find, replace

    entry = find(org_text, "people", "id", person_id)
    if entry is None:
        raise LookupError(person_id)
    return replace(org_text, "people", "id", person_id, {**entry, "roles": roles})


@pages.post("/admin/users/roles", response_class=HTMLResponse)
async def change_roles(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                       login: Login, csrf_token: CsrfField = "",
                       roles: Annotated[list[str] | None, Form()] = None) -> Response:
    """Edit the person's roles in ``org.yaml`` (validated with the whole configuration, saved, audited)."""
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    chosen = [r for r in (str(v) for v in Role) if r in set(roles or [])]
    unknown = sorted(set(roles or []) - set(chosen))
    if unknown:
        return _page(request, me, session, org, problems=[f"未知角色：{'、'.join(unknown)}"], status_code=422)
    if login == me.login and str(Role.admin) not in chosen:
        return _page(request, me, session, org, problems=["不能在此去掉自己的系统管理员角色"], status_code=409)
    state = request.app.state
    base = getattr(state, "base_settings", None) or state.settings
    text = config_store.effective_text(session, base, ORG_DOC)
    try:
        new_text = with_roles(text, login, chosen)
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"组织架构中没有此人：{login}") from None
    except ValueError as exc:  # api.yaml_entries.EntryError: the people list cannot be edited this way
        return _page(request, me, session, org, problems=[f"{ORG_DOC}：{exc}"], status_code=422)
    labels = "、".join(ROLE_LABELS[Role(r)] for r in chosen) or "无"
    problems = await run_in_threadpool(validate_and_save, session, ORG_DOC, new_text, principal=me, settings=base,
                                       clock=clock, note=f"修改 {login} 的角色为：{labels}")
    if problems:
        return _page(request, me, session, org, problems=problems, status_code=422)
    from api.config_live import refresh

    await run_in_threadpool(refresh, request.app)  # this app applies it now (users synced with the new chart)
    return _done("roles")
