"""``/api/v1/incidents``: the cases the general office runs, scoped to the caller's units — the list, one case in
full, its timeline, checklist and filed reports as pages of their own, and one POST per lifecycle action (filing a
report takes an ``Idempotency-Key``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, status
from sqlalchemy.orm import Session

from api import actions, listings, queries, views
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, PolicyDep, SessionDep, ensure_unit
from api.idempotency import IdempotencyKey, once
from api.pagination import Page, PageDep, paginate, paginate_list
from api.routing import OneHopRoute
from api.schemas import (
    ERROR_RESPONSES,
    CloseRequest,
    IncidentListRead,
    IncidentRead,
    LevelChangeRequest,
    MergeRequest,
    NoteRequest,
    ReasonRequest,
    ReportRead,
    ReportRequest,
    ReviewRequest,
    TaskRead,
    TimelineEventRead,
)
from api.statements import visible_incident
from incidents import flows
from incidents.policy import Policy
from yuqing.clock import Clock
from yuqing.org import OrgChart

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERROR_RESPONSES,
                   route_class=OneHopRoute)

LevelParam = Literal["I", "II", "III", "IV"]
StatusParam = Literal["active", "ended", "open", "acknowledged", "responding", "monitoring", "closed", "reviewed",
                      "merged"]


@router.get("", response_model=Page[IncidentListRead], summary="事件列表（默认：级别高的在前，再按立案时间）")
def list_incidents(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                   page: PageDep, status_: Annotated[StatusParam | None, Query(alias="status")] = None,
                   level: Annotated[LevelParam | None, Query()] = None,
                   sort: Annotated[Literal["level", "time"], Query()] = "level") -> Page[IncidentListRead]:
    statuses = queries.incident_statuses(status_) if status_ else None
    stmt, order, params = listings.incidents_bound(unit_ids=principal.unit_ids, statuses=statuses, level=level,
                                                   sort=sort)
    got = paginate(session, stmt, order=order, page=page,
                   scope=page.scope("incidents", status=status_, level=level, sort=sort), params=params)
    items = views.incident_list_reads(session, org, [i for (i,) in got.rows], policy=policy, clock=clock)
    return Page(items=items, total=got.total, next_cursor=got.next_cursor)


@router.get("/{incident_id}", response_model=IncidentRead, summary="事件详情")
def get_incident(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                 incident_id: IdPath) -> IncidentRead:
    incident = queries.get_incident(session, incident_id=incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"事件 {incident_id} 不存在")
    ensure_unit(principal, incident.unit_id)
    return views.incident_read(session, org, incident, policy=policy, clock=clock)


@router.get("/{incident_id}/timeline", response_model=Page[TimelineEventRead], summary="事件时间线（按发生时间）")
def timeline(principal: CurrentUser, session: SessionDep, org: OrgDep, page: PageDep, incident_id: IdPath,
             kind: Annotated[str | None, Query(max_length=32, description="事件类型（opened、level_changed…）")] = None
             ) -> Page[TimelineEventRead]:
    visible_incident(session, principal, incident_id)
    stmt, order = listings.timeline(incident_id=incident_id, kind=kind)
    got = paginate(session, stmt, order=order, page=page,
                   scope=page.scope("timeline", incident_id=incident_id, kind=kind))
    items = [TimelineEventRead(id=e.id, at=e.at, kind=e.kind, actor=e.actor,
                               actor_name=views.person_name(org, e.actor) or e.actor, text=e.text)
             for (e,) in got.rows]
    return Page(items=items, total=got.total, next_cursor=got.next_cursor)


@router.get("/{incident_id}/tasks", response_model=Page[TaskRead], summary="事件的处置清单（按清单顺序）")
def incident_tasks(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, page: PageDep,
                   incident_id: IdPath) -> Page[TaskRead]:
    incident = visible_incident(session, principal, incident_id)
    now = clock.now()
    got = paginate_list(list(incident.tasks), key=lambda t: (t.position, t.id), page=page,
                        scope=page.scope("incident-tasks", incident_id=incident_id))
    return Page(items=[views.task_read(org, t, now) for t in got.rows], total=got.total, next_cursor=got.next_cursor)


@router.get("/{incident_id}/reports", response_model=Page[ReportRead], summary="事件已报送的初报、续报、终报")
def filed_reports(principal: CurrentUser, session: SessionDep, org: OrgDep, page: PageDep,
                  incident_id: IdPath) -> Page[ReportRead]:
    incident = visible_incident(session, principal, incident_id)
    got = paginate_list(views.report_reads(session, org, incident), key=lambda r: (r.filed_at, r.id), page=page,
                        scope=page.scope("incident-reports", incident_id=incident_id))
    return Page(items=got.rows, total=got.total, next_cursor=got.next_cursor)


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


@router.post("/{incident_id}/reports", response_model=IncidentRead,
             summary="报送初报、续报或终报（支持 Idempotency-Key）")
def file_report(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                incident_id: IdPath, body: ReportRequest, idempotency_key: IdempotencyKey = None) -> Any:
    def run() -> IncidentRead:
        actions.file_report(session, principal, incident_id=incident_id, kind=body.kind, text=body.text,
                            clock=clock)
        return _read(session, org, incident_id, policy, clock)

    return once(session, actor=principal.login, key=idempotency_key, route=f"incidents/{incident_id}/reports",
                body=body, clock=clock, run=run)


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


@router.post("/{incident_id}/merge", response_model=IncidentRead,
             summary="合并到另一事件（同一事件的两个案件；返回合并后的目标事件）")
def merge(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
          incident_id: IdPath, body: MergeRequest) -> IncidentRead:
    target = actions.merge_incident(session, principal, incident_id=incident_id, into=body.into, reason=body.reason,
                                    org=org, policy=policy, clock=clock)
    return _read(session, org, target.id, policy, clock)


@router.post("/{incident_id}/review", response_model=IncidentRead, summary="提交复盘")
def review(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
           incident_id: IdPath, body: ReviewRequest) -> IncidentRead:
    items = [flows.ActionItemIn(i.title, i.owner_id, i.due_at) for i in body.action_items]
    actions.review_incident(session, principal, incident_id=incident_id, text=body.text, went_well=body.went_well,
                            went_badly=body.went_badly, action_items=items, org=org, clock=clock)
    return _read(session, org, incident_id, policy, clock)
