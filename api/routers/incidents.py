"""``/api/v1/incidents``: the cases the general office runs, scoped to the caller's units."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status

from api import queries, views
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, PolicyDep, SessionDep, ensure_unit
from api.schemas import IncidentListRead, IncidentRead, ListOf

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

LevelParam = Literal["I", "II", "III", "IV"]


@router.get("", response_model=ListOf[IncidentListRead], summary="事件列表")
def list_incidents(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                   status_: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None,
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
