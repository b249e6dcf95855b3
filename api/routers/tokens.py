"""``/api/v1/tokens``: list, issue and revoke API tokens — one's own, or (admins) everyone's.

Issuing and revoking are writes, so they need a bearer token (the session cookie reads only): a client rotates
its own token by issuing the next one and revoking the old. Only the hash of a token is stored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api import users
from api.deps import ClockDep, CurrentUser, IdPath, SessionDep
from api.models import ApiToken, User
from api.pagination import Page, PageDep, paginate_list
from api.schemas import ERROR_RESPONSES, TokenCreated, TokenCreateRequest, TokenRead
from yuqing.org import Role

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[TokenRead], summary="API 令牌列表（按 id 排序）")
def list_tokens(principal: CurrentUser, session: SessionDep, clock: ClockDep, page: PageDep,
                all_users: Annotated[bool, Query(alias="all", description="全部用户的令牌（仅系统管理员）")] = False
                ) -> Page[TokenRead]:
    if all_users and not principal.has_role(Role.admin):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "仅系统管理员可查看全部用户的令牌")
    rows = users.list_api_tokens(session, user_id=None if all_users else principal.user_id)
    data = [_read(row, login, clock.now()) for row, login in rows]
    got = paginate_list(data, key=lambda t: (t.id,), page=page, scope=page.scope("tokens", all=all_users))
    return Page(items=got.rows, total=got.total, next_cursor=got.next_cursor)


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED, summary="签发 API 令牌（本人）")
def create_token(principal: CurrentUser, session: SessionDep, clock: ClockDep,
                 body: TokenCreateRequest) -> TokenCreated:
    user = users.get_user(session, user_id=principal.user_id)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "账号已停用")
    token, row = users.issue_api_token(session, user=user, name=body.name, clock=clock, days=body.days)
    session.commit()
    return TokenCreated(**_read(row, user.login, clock.now()).model_dump(), token=token)


@router.delete("/{token_id}", response_model=TokenRead, summary="吊销 API 令牌")
def revoke_token(principal: CurrentUser, session: SessionDep, clock: ClockDep, token_id: IdPath) -> TokenRead:
    owner = None if principal.has_role(Role.admin) else principal.user_id
    try:
        row = users.revoke_api_token(session, token_id=token_id, actor=principal.login, clock=clock, owner_id=owner)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    session.commit()
    owner_user = session.get(User, row.user_id)
    return _read(row, owner_user.login if owner_user is not None else "?", clock.now())


def _read(row: ApiToken, login: str, now) -> TokenRead:
    return TokenRead(id=row.id, user=login, name=row.name, created_at=row.created_at,
                     expires_at=users.token_expiry(row), last_used_at=row.last_used_at, revoked_at=row.revoked_at,
                     status=users.token_status(row, now))

