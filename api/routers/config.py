"""``/api/v1/config``: the configuration documents for scripts and tools (system administrators only).

List them, read one (effective text, version, where it comes from), validate a proposed text, and save one — the
same validation and audit as the console (``api.config_admin``). A text with problems answers 422 and saves
nothing: ``detail`` has one entry per problem, its ``msg`` the line ``file: field: reason``. A saved document is
applied by the running pipeline at its next round and by the API within a second, no restart. Document names may
contain one slash (``checklists/run.yaml``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.config_admin import MAX_DOCUMENT_CHARS, check_documents, validate_and_save
from api.deps import ClockDep, Principal, SessionDep, require_roles
from api.pagination import Page, PageDep, paginate_list
from api.schemas import ERROR_RESPONSES, ErrorRead
from yuqing import config_store
from yuqing.org import Role
from yuqing.settings import Settings

router = APIRouter(prefix="/api/v1/config", tags=["configuration"], responses=ERROR_RESPONSES)
AdminUser = Annotated[Principal, Depends(require_roles(Role.admin))]
DocumentName = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$",
                                   description="文件名，如 levels.yaml、checklists/generic.yaml",
                                   examples=["levels.yaml"])]


class ConfigDocumentSummary(BaseModel):
    name: str = Field(description="文件名，如 sources.yaml、checklists/run.yaml")
    description: str = Field(description="内容说明")
    source: str = Field(description="database（数据库中保存的版本优先）| file | missing")
    version: int = Field(description="数据库版本号；0 表示仍读取文件")
    updated_at: datetime | None
    updated_by: str | None


class ConfigDocumentRead(ConfigDocumentSummary):
    sha256: str = Field(description="当前内容的 SHA-256")
    content: str = Field(description="当前生效的 YAML 文本")


class ConfigDocumentWrite(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"content": "plans:\n  - name: 风险事件\n    any: [挤兑, 投诉]\n", "note": "增加监测词", "base_version": 2}]})

    content: str = Field(max_length=MAX_DOCUMENT_CHARS, description="完整的 YAML 文本")
    note: str = Field(default="", max_length=500, description="修改说明（记入版本历史与审计日志）")
    base_version: int | None = Field(default=None, ge=0, description="基于的版本；与当前版本不同时返回 409，"
                                                                       "防止覆盖他人的修改（省略则不检查）")


class ConfigValidation(BaseModel):
    valid: bool
    problems: list[str] = Field(description="阻止保存的问题，每行“文件: 字段: 原因”")
    pre_existing: list[str] = Field(description="其他文件原有的问题（与本次修改无关，不阻止保存）")


def _base(request: Request) -> Settings:
    state = request.app.state
    return getattr(state, "base_settings", None) or state.settings


def _name(name: str) -> str:
    if not config_store.is_document_name(name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有这个配置文件：{name}")
    return name


def _read(request: Request, session: SessionDep, name: str) -> ConfigDocumentRead:
    settings = _base(request)
    info = next((d for d in config_store.list_documents(session, settings) if d.name == name), None)
    text = config_store.effective_text(session, settings, name)
    if info is None or info.source == "missing":
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"配置文件不存在：{name}")
    return ConfigDocumentRead(name=name, description=info.description, source=info.source, version=info.version,
                              updated_at=info.updated_at, updated_by=info.updated_by,
                              sha256=config_store.sha256_of(text), content=text)


@router.get("", response_model=Page[ConfigDocumentSummary], summary="配置文件列表（仅系统管理员）")
def list_config(request: Request, principal: AdminUser, session: SessionDep, page: PageDep
                ) -> Page[ConfigDocumentSummary]:
    docs = list(enumerate(config_store.list_documents(session, _base(request))))
    got = paginate_list(docs, key=lambda item: (item[0],), page=page, scope=page.scope("config"))
    return Page(items=[ConfigDocumentSummary(name=d.name, description=d.description, source=d.source,
                                             version=d.version, updated_at=d.updated_at, updated_by=d.updated_by)
                       for _, d in got.rows], total=got.total, next_cursor=got.next_cursor)


@router.post("/{name:path}/validate", response_model=ConfigValidation, summary="校验配置文件（不保存）")
async def validate_config(request: Request, principal: AdminUser, session: SessionDep, name: DocumentName,
                          body: Annotated[ConfigDocumentWrite, Body()]) -> ConfigValidation:
    _name(name)
    result = await run_in_threadpool(check_documents, session, {name: body.content}, settings=_base(request))
    return ConfigValidation(valid=not result.problems, problems=result.problems, pre_existing=result.pre_existing)


@router.get("/{name:path}", response_model=ConfigDocumentRead, summary="读取配置文件（当前生效的文本与版本）")
def get_config(request: Request, principal: AdminUser, session: SessionDep, name: DocumentName) -> ConfigDocumentRead:
    return _read(request, session, _name(name))


@router.put("/{name:path}", response_model=ConfigDocumentRead, summary="校验并保存配置文件（运行中的系统随即采用）",
            responses={409: {"model": ErrorRead, "description": "base_version 不是当前版本"},
                       422: {"model": ErrorRead, "description": "校验未通过，未保存：detail 列出全部问题，"
                                                                 "msg 为“文件: 字段: 原因”"}})
async def put_config(request: Request, principal: AdminUser, session: SessionDep, clock: ClockDep, name: DocumentName,
                     body: Annotated[ConfigDocumentWrite, Body()]) -> ConfigDocumentRead | JSONResponse:
    _name(name)
    if body.base_version is not None:
        doc = config_store.get_document(session, name)
        if body.base_version != (doc.version if doc else 0):
            raise HTTPException(status.HTTP_409_CONFLICT, f"{name} 已是版本 {doc.version if doc else 0}，"
                                                          f"不是 {body.base_version}：请读取最新内容后再保存")
    problems = await run_in_threadpool(validate_and_save, session, name, body.content.replace("\r\n", "\n"),
                                       principal=principal, settings=_base(request), clock=clock, note=body.note)
    if problems:
        detail = [{"loc": ["body", "content"], "msg": line, "type": "config_invalid"} for line in problems]
        return JSONResponse({"detail": detail, "message": f"配置校验未通过，未保存（{len(problems)} 处问题）"},
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _read(request, session, name)
