"""Statements (口径) for people: who may do what (``incidents.statements``), the read model, and the actions the JSON
API (``api.routers.statements``), the dashboard (``/incidents/{id}/statements``) and the CLI share.

Every action checks, in order: the statement or incident exists (404), the caller's units contain the incident
(403), the caller's role (403, naming the roles), for a sign-off the caller being a leader of the incident's chain
(403); then the flow decides the rest (409 / 422 with its Chinese message) and the action commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api import actions, queries
from api.deps import ClockDep, IdPath, OrgDep, PageUser, Principal, SessionDep, ensure_csrf, ensure_unit
from api.views import person_name
from incidents import statements as flows
from incidents.errors import IncidentError
from incidents.models import (
    STATEMENT_KIND_LABELS,
    STATEMENT_STATUS_LABELS,
    Incident,
    Statement,
    StatementKind,
    StatementStatus,
)
from incidents.statements import DECISION_LABELS, StatementAction, StatementTemplates
from yuqing.clock import Clock
from yuqing.errors import ConfigError
from yuqing.org import OrgChart

KindParam = Literal["holding", "clarification", "apology"]


# --- read models ----------------------------------------------------------------------------------------------
class StatementVersionRead(BaseModel):
    number: int
    text: str
    author: str
    author_name: str | None
    created_at: datetime
    note: str


class StatementDecisionRead(BaseModel):
    version: int
    action: str
    action_name: str
    actor: str
    actor_name: str | None
    at: datetime
    note: str


class StatementRead(BaseModel):
    id: int
    incident_id: int
    kind: str
    kind_name: str
    status: str
    status_name: str
    current_version: int
    text: str = Field(description="the current version's text")
    pending_marks: list[str] = Field(description="【待核实】 markers still in the current text")
    template_key: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    legal_by: str | None
    legal_by_name: str | None
    legal_at: datetime | None
    legal_version: int | None
    approved_by: str | None
    approved_by_name: str | None
    approved_at: datetime | None
    approved_version: int | None
    published_by: str | None
    published_at: datetime | None
    published_where: str | None
    published_url: str | None
    published_version: int | None
    versions: list[StatementVersionRead]
    decisions: list[StatementDecisionRead]


def statement_read(org: OrgChart, s: Statement) -> StatementRead:
    current = next((v for v in s.versions if v.number == s.current_version), s.versions[-1])
    return StatementRead(
        id=s.id, incident_id=s.incident_id, kind=s.kind, kind_name=STATEMENT_KIND_LABELS[StatementKind(s.kind)],
        status=s.status, status_name=STATEMENT_STATUS_LABELS[StatementStatus(s.status)],
        current_version=s.current_version, text=current.text, pending_marks=flows.pending_marks(current.text),
        template_key=s.template_key, created_by=s.created_by, created_at=s.created_at, updated_at=s.updated_at,
        legal_by=s.legal_by, legal_by_name=person_name(org, s.legal_by), legal_at=s.legal_at,
        legal_version=s.legal_version, approved_by=s.approved_by, approved_by_name=person_name(org, s.approved_by),
        approved_at=s.approved_at, approved_version=s.approved_version, published_by=s.published_by,
        published_at=s.published_at, published_where=s.published_where, published_url=s.published_url,
        published_version=s.published_version,
        versions=[StatementVersionRead(number=v.number, text=v.text, author=v.author,
                                       author_name=person_name(org, v.author), created_at=v.created_at, note=v.note)
                  for v in s.versions],
        decisions=[StatementDecisionRead(version=d.version, action=d.action,
                                         action_name=DECISION_LABELS.get(d.action, d.action), actor=d.actor,
                                         actor_name=person_name(org, d.actor), at=d.at, note=d.note)
                   for d in s.decisions])


# --- request bodies (JSON API) ------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftRequest(_Body):
    kind: KindParam
    text: str = Field(default="", max_length=20000, description="empty: drafted from the category's template")


class EditRequest(_Body):
    text: str = Field(min_length=1, max_length=20000)
    note: str = Field(default="", max_length=500)


class StatementNoteRequest(_Body):
    note: str = Field(default="", max_length=2000)


class ChangesRequest(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class PublishRequest(_Body):
    where: str = Field(min_length=1, max_length=200, description="channel / outlet, e.g. 江城分行官方微博")
    url: str = Field(default="", max_length=2000)
    published_at: AwareDatetime | None = Field(default=None, description="when it went out (default: now)")


# --- the actions ----------------------------------------------------------------------------------------------
def visible_incident(session: Session, me: Principal, incident_id: int) -> Incident:
    incident = queries.get_incident(session, incident_id=incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"事件不存在（编号 {incident_id}）")
    ensure_unit(me, incident.unit_id)
    return incident


def visible_statement(session: Session, me: Principal, statement_id: int) -> tuple[Statement, Incident]:
    statement = flows.get_statement(session, statement_id)
    if statement is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"口径不存在（编号 {statement_id}）")
    incident = session.get(Incident, statement.incident_id)
    ensure_unit(me, incident.unit_id)
    return statement, incident


def list_statements(session: Session, me: Principal, *, incident_id: int) -> list[Statement]:
    incident = visible_incident(session, me, incident_id)
    return flows.statements_of(session, incident.id)


def draft(session: Session, me: Principal, *, incident_id: int, kind: str, text: str, org: OrgChart,
          templates: Callable[[], StatementTemplates], tz: str, clock: Clock) -> Statement:
    incident = visible_incident(session, me, incident_id)
    _ensure(me, StatementAction.draft)
    loaded = None
    if not text.strip():
        try:
            loaded = templates()
        except ConfigError as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"口径模板配置有误，请填写正文或联系管理员：{exc}"
                                ) from None
    statement = _call(flows.draft_statement, session, incident_id=incident.id, kind=kind, user_login=me.login,
                      org=org, templates=loaded, clock=clock, text=_repair(text) or None, tz=tz)
    session.commit()
    return statement


def edit(session: Session, me: Principal, *, statement_id: int, text: str, note: str, clock: Clock) -> Statement:
    statement, _ = visible_statement(session, me, statement_id)
    _ensure(me, StatementAction.edit)
    _call(flows.edit_statement, session, statement_id=statement.id, text=_repair(text), user_login=me.login,
          clock=clock, note=_repair(note))
    session.commit()
    return statement


def submit(session: Session, me: Principal, *, statement_id: int, clock: Clock) -> Statement:
    statement, _ = visible_statement(session, me, statement_id)
    _ensure(me, StatementAction.submit)
    _call(flows.submit_statement, session, statement_id=statement.id, user_login=me.login, clock=clock)
    session.commit()
    return statement


def legal_approve(session: Session, me: Principal, *, statement_id: int, note: str, clock: Clock) -> Statement:
    statement, _ = visible_statement(session, me, statement_id)
    _ensure(me, StatementAction.legal_approve)
    _call(flows.legal_approve, session, statement_id=statement.id, user_login=me.login, clock=clock,
          note=_repair(note))
    session.commit()
    return statement


def approve(session: Session, me: Principal, *, statement_id: int, note: str, org: OrgChart,
            clock: Clock) -> Statement:
    statement, incident = visible_statement(session, me, statement_id)
    _ensure(me, StatementAction.approve)
    _call(flows.check_approver, None, org=org, incident=incident, login=me.login)
    _call(flows.approve, session, statement_id=statement.id, user_login=me.login, org=org, clock=clock,
          note=_repair(note))
    session.commit()
    return statement


def request_changes(session: Session, me: Principal, *, statement_id: int, reason: str, org: OrgChart,
                    clock: Clock) -> Statement:
    statement, _ = visible_statement(session, me, statement_id)
    _ensure(me, StatementAction.request_changes)
    _call(flows.request_changes, session, statement_id=statement.id, user_login=me.login, roles=me.roles, org=org,
          reason=_repair(reason), clock=clock)
    session.commit()
    return statement


def publish(session: Session, me: Principal, *, statement_id: int, where: str, url: str,
            published_at: datetime | None, clock: Clock) -> Statement:
    statement, _ = visible_statement(session, me, statement_id)
    _ensure(me, StatementAction.publish)
    _call(flows.publish, session, statement_id=statement.id, user_login=me.login, where=_repair(where),
          url=_repair(url), published_at=published_at, clock=clock)
    session.commit()
    return statement


def permissions(me: Principal, statement: Statement | None, *, org: OrgChart, incident: Incident) -> dict[str, bool]:
    """Which statement forms the page shows this user (role, status, chain)."""
    return {a.value: flows.may_act(me.roles, me.login, a, statement, org=org, incident=incident)
            for a in StatementAction}


def templates_loader(request: Request) -> Callable[[], StatementTemplates]:
    path = request.app.state.settings.config_dir / flows.TEMPLATES_FILE
    return lambda: flows.load_templates(path)


def _ensure(me: Principal, action: StatementAction) -> None:
    if not flows.may(me.roles, action):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"无权执行此操作：需要以下角色之一：{flows.role_names(action)}")


def _call(fn: Callable[..., Any], session: Session | None, **kwargs: Any) -> Any:
    try:
        return fn(session, **kwargs) if session is not None else fn(**kwargs)
    except IncidentError as exc:
        if session is not None:
            session.rollback()
        if exc.code == "forbidden":
            raise HTTPException(status.HTTP_403_FORBIDDEN, exc.user_message) from None
        raise HTTPException(actions.ERROR_STATUS.get(exc.code, status.HTTP_409_CONFLICT), exc.user_message) from None


def _repair(text: str) -> str:
    from yuqing.text import repair_text

    return repair_text(text)


# --- the dashboard: /incidents/{id}/statements and its forms ----------------------------------------------------
router = APIRouter(tags=["dashboard"], include_in_schema=False)
CsrfField = Annotated[str, Form(max_length=128)]
Text = Annotated[str, Form(max_length=20000)]
Short = Annotated[str, Form(max_length=2000)]
FLASH = {"drafted": "口径草稿已生成，请核实【待核实】内容并修改。", "edited": "已保存为新版本。",
         "submitted": "已提交审核。", "legal": "法律合规审核已通过。", "approved": "已审签。",
         "returned": "已退回修改。", "published": "已登记发布。"}


@router.get("/incidents/{incident_id}/statements", response_class=HTMLResponse)
def statements_page(request: Request, me: PageUser, session: SessionDep, org: OrgDep, incident_id: IdPath,
                    s: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                    a: Annotated[int | None, Query(ge=1, le=100000)] = None,
                    b: Annotated[int | None, Query(ge=1, le=100000)] = None) -> Response:
    from api.pages import render

    incident = visible_incident(session, me, incident_id)
    rows = flows.statements_of(session, incident.id)
    cards = []
    for st in rows:
        numbers = [v.number for v in st.versions]
        old, new = (a, b) if s == st.id and a in numbers and b in numbers else (
            (numbers[-2], numbers[-1]) if len(numbers) > 1 else (None, None))
        cards.append({"s": statement_read(org, st), "can": permissions(me, st, org=org, incident=incident),
                      "diff": flows.diff_versions(st, old, new) if old is not None else None,
                      "diff_from": old, "diff_to": new})
    done = request.query_params.get("done", "")
    return render(request, "statements.html", me, "incidents", {
        "incident": incident, "cards": cards, "flash_statement": FLASH.get(done, ""),
        "can_draft": flows.may_act(me.roles, me.login, StatementAction.draft, None, org=org, incident=incident),
        "kinds": [(k.value, STATEMENT_KIND_LABELS[k]) for k in StatementKind],
        "leaders": [person_name(org, p) for p in flows.chain_leaders(org, incident.unit_id)],
        "timezone": request.app.state.settings.timezone})


def _back(incident_id: int, done: str, statement_id: int | None = None) -> Response:
    from fastapi.responses import RedirectResponse

    anchor = f"#statement-{statement_id}" if statement_id else ""
    return RedirectResponse(f"/incidents/{incident_id}/statements?done={done}{anchor}",
                            status_code=status.HTTP_303_SEE_OTHER)


@router.post("/incidents/{incident_id}/statements")
def page_draft(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
               incident_id: IdPath, csrf_token: CsrfField = "",
               kind: Annotated[KindParam, Form()] = "holding", text: Text = "") -> Response:
    ensure_csrf(me, csrf_token)
    st = draft(session, me, incident_id=incident_id, kind=kind, text=text, org=org,
               templates=templates_loader(request), tz=request.app.state.settings.timezone, clock=clock)
    return _back(incident_id, "drafted", st.id)


@router.post("/statements/{statement_id}/edit")
def page_edit(me: PageUser, session: SessionDep, clock: ClockDep, statement_id: IdPath, csrf_token: CsrfField = "",
              text: Text = "", note: Annotated[str, Form(max_length=500)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    st = edit(session, me, statement_id=statement_id, text=text, note=note, clock=clock)
    return _back(st.incident_id, "edited", st.id)


@router.post("/statements/{statement_id}/submit")
def page_submit(me: PageUser, session: SessionDep, clock: ClockDep, statement_id: IdPath,
                csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    st = submit(session, me, statement_id=statement_id, clock=clock)
    return _back(st.incident_id, "submitted", st.id)


@router.post("/statements/{statement_id}/legal-approve")
def page_legal_approve(me: PageUser, session: SessionDep, clock: ClockDep, statement_id: IdPath,
                       csrf_token: CsrfField = "", note: Short = "") -> Response:
    ensure_csrf(me, csrf_token)
    st = legal_approve(session, me, statement_id=statement_id, note=note, clock=clock)
    return _back(st.incident_id, "legal", st.id)


@router.post("/statements/{statement_id}/approve")
def page_approve(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, statement_id: IdPath,
                 csrf_token: CsrfField = "", note: Short = "") -> Response:
    ensure_csrf(me, csrf_token)
    st = approve(session, me, statement_id=statement_id, note=note, org=org, clock=clock)
    return _back(st.incident_id, "approved", st.id)


@router.post("/statements/{statement_id}/request-changes")
def page_request_changes(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, statement_id: IdPath,
                         csrf_token: CsrfField = "", reason: Short = "") -> Response:
    ensure_csrf(me, csrf_token)
    st = request_changes(session, me, statement_id=statement_id, reason=reason, org=org, clock=clock)
    return _back(st.incident_id, "returned", st.id)


@router.post("/statements/{statement_id}/publish")
def page_publish(request: Request, me: PageUser, session: SessionDep, clock: ClockDep, statement_id: IdPath,
                 csrf_token: CsrfField = "", where: Annotated[str, Form(max_length=200)] = "",
                 url: Annotated[str, Form(max_length=2000)] = "",
                 published_at: Annotated[str, Form(max_length=32)] = "") -> Response:
    """``published_at`` comes from a ``datetime-local`` field, in the dashboard's time zone; empty means now."""
    ensure_csrf(me, csrf_token)
    at = None
    if published_at.strip():
        try:
            value = datetime.fromisoformat(published_at.strip())
            at = value if value.tzinfo is not None else value.replace(tzinfo=request.app.state.settings.tz)
        except (ValueError, OverflowError):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                "发布时间格式无效：请使用 2026-11-23 09:30 这样的格式") from None
    st = publish(session, me, statement_id=statement_id, where=where, url=url, published_at=at, clock=clock)
    return _back(st.incident_id, "published", st.id)
