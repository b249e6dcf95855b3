"""``/api/v1/alerts``: risk alerts on stories, and the two things a monitor does with one (确认 / 误报)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api import actions, queries, views
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, PolicyDep, SessionDep
from api.schemas import AlertRead, DismissRequest, IncidentRead, ListOf

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

AlertId = IdPath


@router.get("", response_model=ListOf[AlertRead], summary="预警列表")
def list_alerts(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                status_: Annotated[Literal["open", "acknowledged", "dismissed"] | None, Query(alias="status")] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ListOf[AlertRead]:
    now = clock.now()
    rows = queries.list_alerts(session, unit_ids=principal.unit_ids, status=status_, limit=limit)
    data = [views.alert_read(org, a, now) for a in rows]
    return ListOf(data=data, count=len(data))


@router.post("/{alert_id}/ack", response_model=AlertRead, summary="确认预警")
def acknowledge(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                alert_id: AlertId) -> AlertRead:
    alert = actions.acknowledge_alert(session, principal, alert_id=alert_id, clock=clock)
    return views.alert_read(org, alert, clock.now())


@router.post("/{alert_id}/dismiss", response_model=AlertRead, summary="标记误报")
def dismiss(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, alert_id: AlertId,
            body: DismissRequest) -> AlertRead:
    alert = actions.dismiss_alert(session, principal, alert_id=alert_id, reason=body.reason.strip() or "误报",
                                  clock=clock)
    return views.alert_read(org, alert, clock.now())


@router.post("/{alert_id}/incident", response_model=IncidentRead, summary="立案（由预警开启事件）")
def open_incident(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                  alert_id: AlertId) -> IncidentRead:
    incident = actions.open_incident(session, principal, alert_id=alert_id, org=org, policy=policy, clock=clock)
    loaded = queries.get_incident(session, incident_id=incident.id)
    return views.incident_read(session, org, loaded, policy=policy, clock=clock)
