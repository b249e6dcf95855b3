"""``POST /api/v1/media-reports``: an outlet reports that a journalist is asking questions or filming, before
anything is published, and the media-exposure alert opens at once (``incidents.complaints.media_reports``).

Checks, in order: a bearer token (the API never writes on the cookie alone), a role that may report
(``REPORTER_ROLES``: the outlet head or liaison, the duty monitor, the commander, a leader — 403), a known unit
(422 naming ``unit_id``), the unit in the caller's scope (403); then the domain decides (422 with an English
message and the field). An ``Idempotency-Key`` header makes a retry return the first report's alert (200).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClockDep, CurrentUser, OrgDep, PolicyDep, SessionDep
from incidents.complaints.flows import ComplaintError
from incidents.complaints.media_reports import TEXT_LIMIT, report_media_inquiry
from yuqing.org import Role
from yuqing.text import repair_text

REPORTER_ROLES = (Role.liaison, Role.monitor, Role.commander, Role.leader)

router = APIRouter(prefix="/api/v1/media-reports", tags=["media reports"])


class MediaReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: str = Field(min_length=1, max_length=64, description="the unit the journalist is at or asking about")
    text: str = Field(min_length=1, max_length=TEXT_LIMIT, description="who is asking or filming, about what")
    category: str = Field(default="other", max_length=32, description="a risk category code, if known")


def _refuse(code: int, message: str, field: str | None = None) -> HTTPException:
    return HTTPException(code, {"field": field, "message": message})


@router.post("", status_code=status.HTTP_201_CREATED,
             summary="记者正在询问/拍摄（尚未见报）：直接生成媒体曝光预警（Idempotency-Key: a retry returns the "
                     "first report's alert with 200）")
def create_media_report(me: CurrentUser, session: SessionDep, clock: ClockDep, org: OrgDep, policy: PolicyDep,
                        body: MediaReportRequest,
                        idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> JSONResponse:
    if not me.has_role(*REPORTER_ROLES):
        raise _refuse(status.HTTP_403_FORBIDDEN, "forbidden: reporting a journalist's inquiry needs one of the "
                      "roles " + ", ".join(r.value for r in REPORTER_ROLES))
    if body.unit_id not in {u.id for u in org.units}:
        raise _refuse(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown unit {body.unit_id!r} (not in the org chart)",
                      "unit_id")
    if not me.sees_unit(body.unit_id):
        raise _refuse(status.HTTP_403_FORBIDDEN, "forbidden: the unit is not in your units")
    if policy is None:
        raise _refuse(status.HTTP_503_SERVICE_UNAVAILABLE, "the incident policy is not loaded")
    try:
        out = report_media_inquiry(session, unit_id=body.unit_id, text=repair_text(body.text), actor=me.login,
                                   org=org, policy=policy, clock=clock, category=body.category,
                                   idempotency_key=idempotency_key)
        session.commit()
    except ComplaintError as exc:
        session.rollback()
        raise _refuse(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.en, exc.field) from None
    answer: dict[str, Any] = {"alert_id": out.alert_id, "level": out.level, "incident_id": out.incident_id,
                              "incident_number": out.incident_number, "story_id": out.story_id,
                              "alert_url": f"/alerts#alert-{out.alert_id}",
                              "incident_url": f"/incidents/{out.incident_id}" if out.incident_id else None}
    return JSONResponse(answer, status_code=status.HTTP_201_CREATED if out.created else status.HTTP_200_OK)
