"""``/api/v1/users``: sign-in accounts for system administrators (who has which roles, who must still change the
initial password, who was deactivated and why). Never a password hash; accounts are managed with ``yuqing user``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from api import users
from api.deps import Principal, SessionDep, require_roles
from api.models import User
from api.pagination import Page, PageDep, paginate, paginate_list
from api.schemas import ERROR_RESPONSES, UserRead
from yuqing.org import Role

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=ERROR_RESPONSES)
AdminUser = Annotated[Principal, Depends(require_roles(Role.admin))]


@router.get("", response_model=Page[UserRead], summary="用户账号（仅系统管理员；按登录名排序）")
def list_users(principal: AdminUser, session: SessionDep, page: PageDep,
               active: Annotated[bool | None, Query(description="true 只列在用账号，false 只列已停用")] = None,
               role: Annotated[Role | None, Query(description="只列有此角色的账号")] = None) -> Page[UserRead]:
    stmt = select(User)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    scope = page.scope("users", active=active, role=role)
    if role is not None:  # roles are a JSON list: filtered here, the same way on SQLite and PostgreSQL
        chosen = [u for u in session.scalars(stmt) if str(role) in (u.roles or [])]
        got = paginate_list(chosen, key=lambda u: (u.login, u.id), page=page, scope=scope)
        found = got.rows
    else:
        got = paginate(session, stmt, order=[(User.login, False), (User.id, False)], page=page, scope=scope)
        found = [u for (u,) in got.rows]
    return Page(items=[user_read(u) for u in found], total=got.total, next_cursor=got.next_cursor)


def user_read(u: User) -> UserRead:
    roles = [str(r) for r in (u.roles or [])]
    return UserRead(id=u.id, login=u.login, name=u.name, roles=roles, role_names=users.role_labels(roles),
                    unit_id=u.unit_id, active=bool(u.active), must_change_password=bool(u.must_change_password),
                    created_at=u.created_at, password_changed_at=u.password_changed_at,
                    deactivated_at=u.deactivated_at, deactivated_reason=u.deactivated_reason)
