"""``/api/v1/audit``: the audit log for system administrators — filtered, newest first, paged by cursor.

The API pages with the shared cursor (``api.pagination``, keyset on the id: the log only grows, and an offset would
shift by one row every time someone acts while an admin pages through it). The dashboard's 审计日志 page
(``api.pages.audit_page``) uses ``search`` below, paged by id both ways (``before_id`` / ``after_id``).
Entries hold hostile text (typed login names of failed sign-ins,
reasons, crawled titles): the API returns it as JSON strings, the page escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from api.deps import MAX_ROW_ID, Principal, SessionDep, require_roles
from api.examples import example
from api.pagination import Page, PageDep, paginate
from api.schemas import ERROR_RESPONSES
from yuqing import audit_chain
from yuqing.models import AuditEntry
from yuqing.org import Role

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
ACTION_NAMES = {
    "login": "登录", "login.failed": "登录失败", "login.locked": "登录锁定", "login.unlocked": "解除登录锁定",
    "logout": "退出", "password.changed": "修改密码", "password.reset": "重置密码", "token.created": "签发令牌",
    "token.revoked": "吊销令牌", "user.activated": "启用账号", "user.deactivated": "停用账号",
    "alert.create": "生成预警", "alert.reopen": "重新打开预警", "alert.escalate": "预警升级通知",
    "alert.acknowledge": "确认预警", "alert.dismiss": "标记误报", "incident.open": "立案",
    "incident.level": "调整事件级别", "incident.report": "报送", "incident.close": "结案", "task.complete": "完成任务",
}
OBJECT_TYPE_NAMES = {"alert": "预警", "incident": "事件", "task": "任务", "user": "用户", "login": "登录名",
                     "address": "地址", "api_token": "API 令牌"}
# statements (口径): incidents.statements
ACTION_NAMES.update({"statement.draft": "起草口径", "statement.edit": "修改口径", "statement.submit": "提交口径审核",
                     "statement.legal_approve": "口径法律合规审核通过", "statement.approve": "领导审签口径",
                     "statement.request_changes": "退回口径修改", "statement.publish": "登记口径发布"})
OBJECT_TYPE_NAMES["statement"] = "口径"
# the admin console: configuration documents, sources, keyword plans, channel tests and accounts
ACTION_NAMES.update({"config.save": "保存配置", "config.import": "导入配置", "source.create": "新增来源",
                     "source.update": "修改来源", "source.enable": "启用来源", "source.disable": "停用来源",
                     "source.delete": "删除来源", "keyword_plan.create": "新增监测方案",
                     "keyword_plan.update": "修改监测方案", "keyword_plan.delete": "删除监测方案",
                     "channel.test": "发送测试消息", "user.created": "创建账号"})
OBJECT_TYPE_NAMES.update({"config": "配置文件", "source": "来源", "keyword_plan": "监测方案", "channel": "通知渠道"})

IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)]
TextQuery = Annotated[str | None, Query(max_length=64)]
AdminUser = Annotated[Principal, Depends(require_roles(Role.admin))]  # refused before any parameter is looked at


@dataclass(frozen=True)
class AuditFilters:
    """What to show: exact actor, action, object type and id; ``since <= at < until`` (aware, any zone)."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[Any]:
        c = AuditEntry
        out: list[Any] = [col == value for col, value in ((c.actor, self.actor), (c.action, self.action),
                                                           (c.object_type, self.object_type),
                                                           (c.object_id, self.object_id)) if value]
        if self.since is not None:
            out.append(c.at >= self.since)
        if self.until is not None:
            out.append(c.at < self.until)
        return out


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]  # newest first
    total: int  # entries matching the filters, on all pages
    newer_after_id: int | None  # pass as after_id for the page of newer entries (None: this is the newest)
    older_before_id: int | None  # pass as before_id for the page of older entries (None: this is the oldest)


def search(session: Session, filters: AuditFilters, *, before_id: int | None = None, after_id: int | None = None,
           limit: int = PAGE_SIZE) -> AuditPage:
    """One page of matching entries, newest first: the newest, those older than ``before_id``, or those just
    newer than ``after_id``."""
    where = filters.conditions()
    stmt = select(AuditEntry).where(*where)
    if after_id is not None:
        entries = list(session.scalars(stmt.where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(limit)))
        entries.reverse()
    else:
        if before_id is not None:
            stmt = stmt.where(AuditEntry.id < before_id)
        entries = list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    if not entries:
        return AuditPage([], total, None, None)

    def any_beyond(condition: Any) -> bool:
        return bool(session.scalar(select(exists().where(*where, condition))))

    newer = entries[0].id if any_beyond(AuditEntry.id > entries[0].id) else None
    older = entries[-1].id if any_beyond(AuditEntry.id < entries[-1].id) else None
    return AuditPage(entries, total, newer, older)


def distinct_values(session: Session) -> dict[str, list[str]]:
    """Actions and object types present, for the page's suggestions (code-defined names, not typed text)."""
    return {"actions": sorted(set(ACTION_NAMES) | set(session.scalars(select(AuditEntry.action).distinct()))),
            "object_types": sorted(set(OBJECT_TYPE_NAMES)
                                   | set(session.scalars(select(AuditEntry.object_type).distinct())))}


# --- the JSON API ----------------------------------------------------------------------------------------------
class AuditEntryRead(BaseModel):
    model_config = ConfigDict(json_schema_extra=example("AuditEntryRead"))

    id: int
    at: datetime
    actor: str
    action: str
    action_name: str = Field(description="操作的中文名（未知操作为空）")
    object_type: str
    object_id: str
    detail: str
    data: Any
    prev_hash: str
    row_hash: str


class AuditProblemRead(BaseModel):
    id: int
    kind: str = Field(description="changed | removed | inserted | anchor")
    kind_name: str
    message: str
    message_zh: str


class AuditChainRead(BaseModel):
    ok: bool
    rows: int = Field(description="校验通过的记录数（有异常时为异常之前的记录数）")
    last_id: int | None
    last_hash: str | None
    archived_through: int | None = Field(default=None, description="此编号及之前的记录已归档")
    problem: AuditProblemRead | None


class AuditPageRead(Page[AuditEntryRead]):
    chain: AuditChainRead | None = Field(default=None, description="哈希链校验结果（verify=true 时）")


def entry_read(entry: AuditEntry) -> AuditEntryRead:
    return AuditEntryRead(id=entry.id, at=entry.at, actor=entry.actor, action=entry.action,
                          action_name=ACTION_NAMES.get(entry.action, ""), object_type=entry.object_type,
                          object_id=entry.object_id, detail=entry.detail, data=entry.data,
                          prev_hash=entry.prev_hash, row_hash=entry.row_hash)


@router.get("", response_model=AuditPageRead, summary="审计日志（仅系统管理员；最新在前）")
def list_audit(principal: AdminUser, session: SessionDep, page: PageDep,
               actor: TextQuery = None, action: TextQuery = None, object_type: TextQuery = None,
               object_id: TextQuery = None,
               since: Annotated[datetime | None, Query(description="起（含），ISO 8601；无时区按 UTC")] = None,
               until: Annotated[datetime | None, Query(description="止（不含），ISO 8601；无时区按 UTC")] = None,
               verify: Annotated[bool, Query(description="同时校验整条哈希链（读全表）")] = False) -> AuditPageRead:
    filters = AuditFilters(actor=actor or None, action=action or None, object_type=object_type or None,
                           object_id=object_id or None, since=as_utc(since), until=as_utc(until))
    scope = page.scope("audit", actor=actor, action=action, object_type=object_type, object_id=object_id,
                       since=since, until=until)
    got = paginate(session, select(AuditEntry).where(*filters.conditions()), order=[(AuditEntry.id, True)],
                   page=page, scope=scope)
    chain = AuditChainRead(**audit_chain.verify(session).to_json()) if verify else None
    return AuditPageRead(items=[entry_read(e) for (e,) in got.rows], total=got.total, next_cursor=got.next_cursor,
                         chain=chain)


def as_utc(value: datetime | None) -> datetime | None:
    """The API speaks UTC: a time without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+08:00 is before the first UTC instant Python can hold
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "时间超出可表示的范围") from None
