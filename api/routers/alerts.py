"""``/api/v1/alerts``: risk alerts on stories, the two things a monitor does with one (确认 / 误报), and opening an
incident from one (立案; takes an ``Idempotency-Key``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api import actions, listings, queries, views
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, PolicyDep, SessionDep
from api.idempotency import IdempotencyKey, once
from api.pagination import Page, PageDep, paginate
from api.routing import OneHopRoute
from api.schemas import ERROR_RESPONSES, AlertRead, DismissRequest, IncidentRead

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=ERROR_RESPONSES,
                   route_class=OneHopRoute)

AlertId = IdPath


@router.get("", response_model=Page[AlertRead], summary="预警列表（默认：待确认的按确认时限在前）")
def list_alerts(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, page: PageDep,
                status_: Annotated[Literal["open", "acknowledged", "dismissed"] | None, Query(alias="status")] = None,
                level: Annotated[Literal["I", "II", "III", "IV"] | None, Query()] = None,
                sort: Annotated[Literal["urgent", "time", "risk"], Query()] = "urgent") -> Page[AlertRead]:
    now = clock.now()
    stmt, order, params = listings.alerts_bound(unit_ids=principal.unit_ids, status=status_, level=level, sort=sort,
                                                plain=True, above_ids=principal.above_ids)
    got = paginate(session, stmt, order=order, page=page,
                   scope=page.scope("alerts", status=status_, level=level, sort=sort), params=params)
    return Page(items=[views.alert_read(org, listings.AlertRow._make(row), now) for row in got.rows],
                total=got.total, next_cursor=got.next_cursor)


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


@router.post("/{alert_id}/incident", response_model=IncidentRead,
             summary="立案（由预警开启事件；支持 Idempotency-Key）")
def open_incident(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                  alert_id: AlertId, idempotency_key: IdempotencyKey = None) -> Any:
    def run() -> IncidentRead:
        incident = actions.open_incident(session, principal, alert_id=alert_id, org=org, policy=policy, clock=clock)
        loaded = queries.get_incident(session, incident_id=incident.id)
        return views.incident_read(session, org, loaded, policy=policy, clock=clock)

    return once(session, actor=principal.login, key=idempotency_key, route=f"alerts/{alert_id}/incident", body=None,
                clock=clock, run=run)
