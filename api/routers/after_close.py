"""``/api/v1/incidents/{id}/review/action-items/{item_id}/done`` and ``/api/v1/incidents/{id}/resurgence/dismiss``:
after a case closes (bearer token only, like every write; who may: ``api.after_close``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api import after_close
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, PolicyDep, SessionDep
from api.routers.incidents import _read
from api.schemas import ERROR_RESPONSES, IncidentRead, NoteRequest, ReasonRequest

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERROR_RESPONSES)


@router.post("/{incident_id}/review/action-items/{item_id}/done", response_model=IncidentRead,
             summary="整改事项标记完成")
def action_item_done(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                     incident_id: IdPath, item_id: IdPath,
                     body: Annotated[NoteRequest | None, Body()] = None) -> IncidentRead:
    after_close.mark_action_item_done(session, principal, incident_id=incident_id, item_id=item_id,
                                      note=body.note if body else "", org=org, clock=clock)
    return _read(session, org, incident_id, policy, clock)


@router.post("/{incident_id}/resurgence/dismiss", response_model=IncidentRead, summary="舆情反弹研判：暂不重新打开")
def resurgence_dismiss(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                       incident_id: IdPath, body: ReasonRequest) -> IncidentRead:
    after_close.dismiss_resurgence(session, principal, incident_id=incident_id, reason=body.reason, clock=clock)
    return _read(session, org, incident_id, policy, clock)
