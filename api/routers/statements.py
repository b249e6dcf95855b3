"""``/api/v1/incidents/{id}/statements`` and ``/api/v1/statements/{id}/…``: statements (口径), scoped to the caller's
units; writes take a bearer token (the cookie alone never writes). Who may do what: ``incidents.statements``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from sqlalchemy.orm import Session

from api import statements as st
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, SessionDep
from api.idempotency import IdempotencyKey, once
from api.pagination import Page, PageDep, paginate_list
from api.schemas import ERROR_RESPONSES
from api.statements import (
    ChangesRequest,
    DraftRequest,
    EditRequest,
    PublishRequest,
    StatementNoteRequest,
    StatementRead,
)
from yuqing.org import OrgChart

router = APIRouter(prefix="/api/v1", tags=["statements"], responses=ERROR_RESPONSES)


def _read(session: Session, org: OrgChart, statement_id: int) -> StatementRead:
    session.expire_all()
    return st.statement_read(org, st.flows.get_statement(session, statement_id))


@router.get("/incidents/{incident_id}/statements", response_model=Page[StatementRead], summary="事件的口径列表")
def list_statements(principal: CurrentUser, session: SessionDep, org: OrgDep, page: PageDep,
                    incident_id: IdPath) -> Page[StatementRead]:
    rows = st.list_statements(session, principal, incident_id=incident_id)
    got = paginate_list(rows, key=lambda s: (s.id,), page=page,
                        scope=page.scope("statements", incident_id=incident_id))
    return Page(items=[st.statement_read(org, s) for s in got.rows], total=got.total, next_cursor=got.next_cursor)


@router.post("/incidents/{incident_id}/statements", response_model=StatementRead,
             summary="起草口径（正文为空时按事件类别与口径类型的模板生成；支持 Idempotency-Key）")
def draft(request: Request, principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep,
          incident_id: IdPath, body: DraftRequest, idempotency_key: IdempotencyKey = None) -> Any:
    def run() -> StatementRead:
        made = st.draft(session, principal, incident_id=incident_id, kind=body.kind, text=body.text, org=org,
                        templates=st.templates_loader(request), tz=request.app.state.settings.timezone, clock=clock)
        return _read(session, org, made.id)

    return once(session, actor=principal.login, key=idempotency_key, route=f"incidents/{incident_id}/statements",
                body=body, clock=clock, run=run)


@router.get("/statements/{statement_id}", response_model=StatementRead, summary="口径详情（含全部版本与审核记录）")
def get_statement(principal: CurrentUser, session: SessionDep, org: OrgDep, statement_id: IdPath) -> StatementRead:
    statement, _ = st.visible_statement(session, principal, statement_id)
    return st.statement_read(org, statement)


@router.post("/statements/{statement_id}/edit", response_model=StatementRead, summary="修改口径（生成新版本）")
def edit(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, statement_id: IdPath,
         body: EditRequest) -> StatementRead:
    st.edit(session, principal, statement_id=statement_id, text=body.text, note=body.note, clock=clock)
    return _read(session, org, statement_id)


@router.post("/statements/{statement_id}/submit", response_model=StatementRead, summary="提交审核")
def submit(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep,
           statement_id: IdPath) -> StatementRead:
    st.submit(session, principal, statement_id=statement_id, clock=clock)
    return _read(session, org, statement_id)


@router.post("/statements/{statement_id}/legal-approve", response_model=StatementRead, summary="法律合规审核通过")
def legal_approve(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, statement_id: IdPath,
                  body: Annotated[StatementNoteRequest | None, Body()] = None) -> StatementRead:
    st.legal_approve(session, principal, statement_id=statement_id, note=body.note if body else "", clock=clock)
    return _read(session, org, statement_id)


@router.post("/statements/{statement_id}/approve", response_model=StatementRead, summary="领导审签")
def approve(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, statement_id: IdPath,
            body: Annotated[StatementNoteRequest | None, Body()] = None) -> StatementRead:
    st.approve(session, principal, statement_id=statement_id, note=body.note if body else "", org=org, clock=clock)
    return _read(session, org, statement_id)


@router.post("/statements/{statement_id}/request-changes", response_model=StatementRead, summary="退回修改")
def request_changes(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                    statement_id: IdPath, body: ChangesRequest) -> StatementRead:
    st.request_changes(session, principal, statement_id=statement_id, reason=body.reason, org=org, clock=clock)
    return _read(session, org, statement_id)


@router.post("/statements/{statement_id}/publish", response_model=StatementRead, summary="登记发布（须经领导审签）")
def publish(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, statement_id: IdPath,
            body: PublishRequest) -> StatementRead:
    st.publish(session, principal, statement_id=statement_id, where=body.where, url=body.url,
               published_at=body.published_at, clock=clock)
    return _read(session, org, statement_id)
