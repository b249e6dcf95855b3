"""``POST /api/v1/media-reports`` and the dashboard form ``/media-reports/new``: an outlet reports that a journalist
is asking questions or filming, before anything is published, and the media-exposure alert opens at once
(``incidents.complaints.media_reports``).

Checks, in order: a bearer token (the API never writes on the cookie alone), a role that may report
(``REPORTER_ROLES``: the outlet head or liaison, the duty monitor, the commander, a leader — 403), a known unit
(422 naming ``unit_id``), the unit in the caller's scope (403); then the domain decides (422 with an English
message and the field). An ``Idempotency-Key`` header makes a retry return the first report's alert (200); the
same key with a different report (unit, category or text) is a 409. The dashboard form checks the same in
Chinese, keeps what was typed on a refusal, and carries a key of its own so a double click opens one alert.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClockDep, CurrentUser, OrgDep, PageUser, PolicyDep, Principal, SessionDep, ensure_csrf
from incidents.complaints.flows import ComplaintError
from incidents.complaints.media_reports import TEXT_LIMIT, report_media_inquiry
from yuqing.categories import CATEGORIES
from yuqing.org import OrgChart, Role
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
                     "first report's alert with 200; the same key with another report is 409）")
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
        code = status.HTTP_409_CONFLICT if exc.code == "conflict" else status.HTTP_422_UNPROCESSABLE_CONTENT
        raise _refuse(code, exc.en, exc.field) from None
    answer: dict[str, Any] = {"alert_id": out.alert_id, "level": out.level, "incident_id": out.incident_id,
                              "incident_number": out.incident_number, "story_id": out.story_id,
                              "alert_url": f"/alerts#alert-{out.alert_id}",
                              "incident_url": f"/incidents/{out.incident_id}" if out.incident_id else None}
    return JSONResponse(answer, status_code=status.HTTP_201_CREATED if out.created else status.HTTP_200_OK)


# --- the dashboard form ---------------------------------------------------------------------------------------
pages = APIRouter(tags=["dashboard"], include_in_schema=False)
_NOT_ALLOWED = "无权报告媒体采访：需为网点负责人/联络人、值班监测、应急处置负责人或分行领导"


def _form(request: Request, me: Principal, org: OrgChart, values: dict[str, str], error: str = "",
          status_code: int = 200) -> Response:
    from api.pages import render

    units = [u for u in org.units if me.sees_unit(u.id)]
    return render(request, "media_report_new.html", me, "alerts",
                  {"values": values, "error": error, "units": units, "categories": CATEGORIES,
                   "text_limit": TEXT_LIMIT}, status_code=status_code)


@pages.get("/media-reports/new", response_class=HTMLResponse)
def page_new(request: Request, me: PageUser, org: OrgDep) -> Response:
    if not me.has_role(*REPORTER_ROLES):
        raise HTTPException(status.HTTP_403_FORBIDDEN, _NOT_ALLOWED)
    return _form(request, me, org, {"unit_id": me.unit_id, "category": "other", "text": "",
                                    "idempotency_key": f"form-{secrets.token_urlsafe(16)}"})


@pages.post("/media-reports")
def page_create(request: Request, me: PageUser, session: SessionDep, clock: ClockDep, org: OrgDep,
                policy: PolicyDep, csrf_token: Annotated[str, Form(max_length=128)] = "",
                unit_id: Annotated[str, Form(max_length=64)] = "",
                text: Annotated[str, Form(max_length=TEXT_LIMIT)] = "",
                category: Annotated[str, Form(max_length=32)] = "other",
                idempotency_key: Annotated[str, Form(max_length=200)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    if not me.has_role(*REPORTER_ROLES):
        raise HTTPException(status.HTTP_403_FORBIDDEN, _NOT_ALLOWED)
    values = {"unit_id": unit_id, "text": text, "category": category, "idempotency_key": idempotency_key}
    if unit_id in {u.id for u in org.units} and not me.sees_unit(unit_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "无权为该单位报告：该单位不在您所辖范围内")
    if policy is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "未加载分级配置，暂不能生成预警")
    try:
        out = report_media_inquiry(session, unit_id=unit_id, text=repair_text(text), actor=me.login, org=org,
                                   policy=policy, clock=clock, category=category or "other",
                                   idempotency_key=idempotency_key or None)
        session.commit()
    except ComplaintError as exc:
        session.rollback()
        return _form(request, me, org, values, exc.zh, status.HTTP_422_UNPROCESSABLE_CONTENT)
    where = f"/incidents/{out.incident_id}" if out.incident_id else f"/alerts#alert-{out.alert_id}"
    return RedirectResponse(where, status_code=status.HTTP_303_SEE_OTHER)
