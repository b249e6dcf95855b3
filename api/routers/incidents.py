"""``/api/v1/incidents``: the cases the general office runs, scoped to the caller's units."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Query, status
from sqlalchemy.orm import Session

from api import actions, queries, views
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, PolicyDep, SessionDep, ensure_unit
from api.schemas import (
    CloseRequest,
    IncidentListRead,
    IncidentRead,
    LevelChangeRequest,
    ListOf,
    NoteRequest,
    ReasonRequest,
    ReportRequest,
    ReviewRequest,
)
from incidents import flows
from incidents.policy import Policy
from yuqing.clock import Clock
from yuqing.org import OrgChart

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

LevelParam = Literal["I", "II", "III", "IV"]
StatusParam = Literal["active", "ended", "open", "acknowledged", "responding", "monitoring", "closed", "reviewed"]


@router.get("", response_model=ListOf[IncidentListRead], summary="事件列表")
def list_incidents(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                   status_: Annotated[StatusParam | None, Query(alias="status")] = None,
                   level: Annotated[LevelParam | None, Query()] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ListOf[IncidentListRead]:
    rows = queries.list_incidents(session, unit_ids=principal.unit_ids, status=status_, level=level, limit=limit)
    data = views.incident_list_reads(session, org, rows, policy=policy, clock=clock)
    return ListOf(data=data, count=len(data))


@router.get("/{incident_id}", response_model=IncidentRead, summary="事件详情")
def get_incident(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                 incident_id: IdPath) -> IncidentRead:
    incident = queries.get_incident(session, incident_id=incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"事件 {incident_id} 不存在")
    ensure_unit(principal, incident.unit_id)
    return views.incident_read(session, org, incident, policy=policy, clock=clock)


# --- the lifecycle: one POST per action, bearer token only (the cookie alone never writes) -----------------------
def _read(session: Session, org: OrgChart, incident_id: int, policy: Policy | None, clock: Clock) -> IncidentRead:
    session.expire_all()
    return views.incident_read(session, org, queries.get_incident(session, incident_id=incident_id), policy=policy,
                               clock=clock)


@router.post("/{incident_id}/ack", response_model=IncidentRead, summary="确认事件")
def acknowledge(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                incident_id: IdPath) -> IncidentRead:
    actions.acknowledge_incident(session, principal, incident_id=incident_id, clock=clock)
    return _read(session, org, incident_id, policy, clock)


@router.post("/{incident_id}/respond", response_model=IncidentRead, summary="开始处置")
def respond(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
            incident_id: IdPath) -> IncidentRead:
    actions.start_response(session, principal, incident_id=incident_id, clock=clock)
    return _read(session, org, incident_id, policy, clock)


@router.post("/{incident_id}/monitor", response_model=IncidentRead, summary="转入持续监测")
def monitor(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
            incident_id: IdPath, body: Annotated[NoteRequest | None, Body()] = None) -> IncidentRead:
    actions.start_monitoring(session, principal, incident_id=incident_id, note=body.note if body else "",
                             clock=clock)
    return _read(session, org, incident_id, policy, clock)


@router.post("/{incident_id}/level", response_model=IncidentRead, summary="调整等级")
def change_level(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                 incident_id: IdPath, body: LevelChangeRequest) -> IncidentRead:
    actions.change_level(session, principal, incident_id=incident_id, level=body.level, reason=body.reason,
                         org=org, policy=policy, clock=clock)
    return _read(session, org, incident_id, policy, clock)


@router.post("/{incident_id}/reports", response_model=IncidentRead, summary="报送初报、续报或终报")
def file_report(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                incident_id: IdPath, body: ReportRequest) -> IncidentRead:
    actions.file_report(session, principal, incident_id=incident_id, kind=body.kind, text=body.text, clock=clock)
    return _read(session, org, incident_id, policy, clock)


@router.post("/{incident_id}/leader-ack", response_model=IncidentRead, summary="领导确认知悉")
def leader_ack(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
               incident_id: IdPath, body: Annotated[NoteRequest | None, Body()] = None) -> IncidentRead:
    actions.leader_acknowledge(session, principal, incident_id=incident_id, note=body.note if body else "",
                               clock=clock)
    return _read(session, org, incident_id, policy, clock)


@router.post("/{incident_id}/close", response_model=IncidentRead, summary="结案")
def close(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
          incident_id: IdPath, body: CloseRequest) -> IncidentRead:
    actions.close_incident(session, principal, incident_id=incident_id, summary=body.summary, clock=clock)
    return _read(session, org, incident_id, policy, clock)


@router.post("/{incident_id}/reopen", response_model=IncidentRead, summary="重新打开")
def reopen(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
           incident_id: IdPath, body: ReasonRequest) -> IncidentRead:
    actions.reopen_incident(session, principal, incident_id=incident_id, reason=body.reason, clock=clock)
    return _read(session, org, incident_id, policy, clock)


@router.post("/{incident_id}/review", response_model=IncidentRead, summary="提交复盘")
def review(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
           incident_id: IdPath, body: ReviewRequest) -> IncidentRead:
    items = [flows.ActionItemIn(i.title, i.owner_id, i.due_at) for i in body.action_items]
    actions.review_incident(session, principal, incident_id=incident_id, text=body.text, went_well=body.went_well,
                            went_badly=body.went_badly, action_items=items, org=org, clock=clock)
    return _read(session, org, incident_id, policy, clock)
