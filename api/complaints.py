"""Complaints (投诉) for people and ticket systems: the JSON API under ``/api/v1/complaints`` and the dashboard pages
``/complaints`` (list), ``/complaints/new`` (intake form), ``/complaints/{id}`` (clocks, steps, timeline,
attachments) and ``/complaints/stats`` (考核 figures with charts).

The domain decides (``incidents.complaints.flows``: validation, steps, audit); this module checks who asks and maps
a refusal (``ComplaintError``) to an answer: in the API ``{"detail": {"field": …, "message": <English>}}`` with
422 (bad input), 409 (a step out of order, an idempotency key reused with other content) or 404; on the dashboard
the Chinese message beside the field, with everything typed kept.

Who may (scope: the complaint's unit or handling unit is one of the caller's units, else 403):

* read (list, view masked, statistics): every signed-in role in scope, legal included (read-only);
* enter a complaint (``ENTER_ROLES``): monitors, liaisons (an outlet's head at a walk-in), commanders, leaders,
  admins — for a unit in their scope; a 重要 / 紧急 one is reported to leadership at once (once only);
* act on the steps and add attachments: the complaint's first-contact owner (首问责任人) or assignee, or a
  commander, leader or admin (``STEP_ROLES``);
* see the customer's full details (``?reveal=1`` / 查看完整信息) and download attachments (letter scans and
  recordings carry them too): the roles in ``full_details_roles`` of ``config/complaints.yaml`` and the people who
  act on it; every such view or download is an audit entry;
* make the complaint and an incident one case — link it to an incident (``…/link-incident``) or raise an incident
  from it (``…/raise-incident``): ``links.CASE_ROLES`` (duty monitor, commander, leader, admin), the complaint
  and the incident both in scope.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Header, HTTPException, Query, Request, Response, UploadFile, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.deps import (
    ClockDep,
    CurrentUser,
    IdPath,
    PageUser,
    Principal,
    SessionDep,
    ensure_csrf,
)
from api.pagination import PageDep, paginate
from incidents.clocks import policy_calendar
from incidents.complaints import access, flows, links, masking, queries
from incidents.complaints.config import COMPLAINTS_FILE, ComplaintsConfig, load_complaints_config
from incidents.complaints.flows import ACK_METHODS, MEDIATION_KINDS, AttachmentInput, ComplaintError
from incidents.complaints.models import (
    CHANNEL_LABELS,
    OPEN_STATUSES,
    SATISFACTION_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    Complaint,
    ComplaintAttachment,
    ComplaintStatus,
    Severity,
)
from incidents.complaints.scheduled import tell_leadership_on_entry
from incidents.complaints.stats import Month, StatsError, month_stats
from incidents.lifecycle import ENDED
from incidents.models import Incident
from incidents.workdays import HOLIDAYS_FILE, WorkingCalendar, calendar_or_package
from yuqing import audit_chain
from yuqing.categories import CATEGORIES, LEVEL_ORDER, level_label
from yuqing.clock import Clock
from yuqing.errors import ConfigError
from yuqing.org import OrgChart
from yuqing.settings import Settings
from yuqing.text import repair_text

log = logging.getLogger(__name__)

# the domain's roles (incidents.complaints.access), the same for the CLI
ENTER_ROLES = access.ENTER_ROLES
STEP_ROLES = access.STEP_ROLES
MAX_FILES = 5  # attachments per form / request
UPLOAD_SLACK = 1024 * 1024  # the form's other fields and the multipart framing
ERROR_STATUS = {"not_found": status.HTTP_404_NOT_FOUND, "conflict": status.HTTP_409_CONFLICT,
                "invalid_state": status.HTTP_409_CONFLICT}
ERROR_FIELDS_ZH = {"channel": "受理渠道", "received_at": "受理时间", "unit_id": "被投诉单位", "category": "投诉类别",
                   "severity": "投诉等级", "description": "投诉内容", "customer_name": "客户姓名",
                   "customer_phone": "联系电话", "account_or_product": "账户/产品", "attachments": "附件"}
STEP_LABELS: dict[str, str] = {
    "acknowledge": "告知受理", "contact": "联系客户", "verify": "核实情况", "assign": "分派处理人",
    "propose": "提出解决方案", "accept": "记录客户意见", "mediation": "调解/仲裁", "close": "办结",
    "return-visit": "回访", "extend": "延长答复期限", "new-facts": "客户提出新事实", "hand-over": "移交首问责任",
}
StepName = Literal["acknowledge", "contact", "verify", "assign", "propose", "accept", "mediation", "close",
                   "return-visit", "extend", "new-facts", "hand-over"]


# --- configuration and shared context ------------------------------------------------------------------------
def load_config(settings: Settings) -> ComplaintsConfig:
    """``complaints.yaml`` of the config directory; on an invalid file the defaults (which match the shipped
    file), with the error logged, so the dashboard stays up (``yuqing check-config`` names the problem)."""
    try:
        return load_complaints_config(settings.config_dir / COMPLAINTS_FILE)
    except ConfigError as exc:
        log.error("complaints config invalid; using the defaults", extra={"error": str(exc)[:500]})
        return ComplaintsConfig()


def upload_limits(settings: Settings) -> list[tuple[re.Pattern[str], int]]:
    """Request-size limits above ``max_request_bytes`` for the routes that take attachments: room for
    ``MAX_FILES`` files of the configured size, so an oversized file reaches the handler and is refused with a
    clear message instead of a bare 413."""
    cfg = load_config(settings)
    limit = max(settings.max_request_bytes, cfg.max_attachment_bytes * MAX_FILES + UPLOAD_SLACK)
    return [(re.compile(r"^/complaints/?$|^/(api/v1/)?complaints/\d+/attachments/?$"), limit)]


def _cfg(request: Request) -> ComplaintsConfig:
    """The policy's complaints.yaml (loaded beside levels.yaml); the config directory's when no policy loaded."""
    state = request.app.state
    policy = state.policy_provider()
    if policy is not None:
        return policy.complaints
    cfg = getattr(state, "complaints_cfg", None)
    if cfg is None:
        cfg = state.complaints_cfg = load_config(state.settings)
    return cfg


def _calendar(request: Request) -> WorkingCalendar:
    policy = request.app.state.policy_provider()
    if policy is not None:
        return policy_calendar(policy)
    return calendar_or_package(request.app.state.settings.config_dir / HOLIDAYS_FILE)


def _tz(request: Request) -> str:
    return request.app.state.settings.timezone


def view_of(request: Request, c: Complaint, *, now: datetime, reveal: bool = False) -> dict:
    return queries.complaint_view(c, cfg=_cfg(request), tz=_tz(request), calendar=_calendar(request), now=now,
                                  reveal=reveal, org=request.app.state.org)


# --- who may ---------------------------------------------------------------------------------------------------
def may_enter(me: Principal) -> bool:
    return access.may_enter(me.roles)


def may_act(me: Principal, c: Complaint) -> bool:
    """Steps and attachments: the 首问 owner, the assignee, or a commander / leader / admin (``access.may_act``)."""
    return access.may_act(c, login=me.login, roles=me.roles)


def may_reveal(me: Principal, c: Complaint, cfg: ComplaintsConfig) -> bool:
    """The domain's rule (``masking.may_reveal``), for the caller."""
    return masking.may_reveal(c, login=me.login, roles=me.roles, cfg=cfg)


def visible(session: Session, me: Principal, complaint_id: int) -> Complaint:
    c = session.get(Complaint, complaint_id)
    if c is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _msg(None, f"complaint {complaint_id} not found"))
    if not (me.sees_unit(c.unit_id) or me.sees_unit(c.handling_unit_id)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, _msg(None, "forbidden: the complaint is not in your units"))
    return c


def _msg(field: str | None, message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


def _refuse(code: int, message: str, field: str | None = None) -> HTTPException:
    return HTTPException(code, _msg(field, message))


def api_error(exc: ComplaintError) -> HTTPException:
    return _refuse(ERROR_STATUS.get(exc.code, status.HTTP_422_UNPROCESSABLE_CONTENT), exc.en, exc.field)


def _validation_error(exc: ValidationError) -> ComplaintError:
    """A value the input model could not even read (a received-at that is no time at all)."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err.get("loc") else None
    label = ERROR_FIELDS_ZH.get(field or "", field or "输入")
    if field == "received_at":
        return ComplaintError("received_at must be an ISO 8601 time with a zone offset, e.g. "
                              "2026-09-30T10:00:00+08:00", "受理时间格式无效（例如 2026-09-30 10:00）",
                              field=field)
    return ComplaintError(f"{field}: {err.get('msg', 'invalid')}", f"{label}无效", field=field)


def _input(fields: dict[str, Any]) -> flows.ComplaintInput:
    try:
        return flows.ComplaintInput(**fields)
    except ValidationError as exc:
        raise _validation_error(exc) from None


# --- the actions (shared by API and pages) ----------------------------------------------------------------------
def create(session: Session, me: Principal, request: Request, *, fields: dict[str, Any],
           attachments: list[AttachmentInput], clock: Clock) -> tuple[Complaint, bool]:
    """Record a complaint (ComplaintError for bad input, HTTPException 403 for a role or unit out of reach)."""
    if not may_enter(me):
        raise _refuse(status.HTTP_403_FORBIDDEN, "forbidden: entering complaints needs one of the roles "
                      + ", ".join(r.value for r in ENTER_ROLES))
    org: OrgChart = request.app.state.org
    data = _input(fields)
    for unit_id in {data.unit_id, data.handling_unit_id or data.unit_id}:
        if unit_id in {u.id for u in org.units} and not me.sees_unit(unit_id):
            raise _refuse(status.HTTP_403_FORBIDDEN, f"forbidden: unit {unit_id} is not in your units", "unit_id")
    if len(attachments) > MAX_FILES:
        raise ComplaintError(f"at most {MAX_FILES} attachments at once", f"一次最多上传 {MAX_FILES} 个附件",
                             field="attachments")
    try:
        complaint, created = flows.create_complaint(session, data, actor=me.login, org=org, cfg=_cfg(request),
                                                    clock=clock, tz=_tz(request), attachments=attachments)
        session.commit()
    except Exception:
        session.rollback()
        raise
    policy = request.app.state.policy_provider()
    if policy is not None:  # without a policy the scheduled round reports it
        tell_leadership_on_entry(session, complaint, created=created, org=org, policy=policy, clock=clock)
    return complaint, created


class StepRequest(BaseModel):
    """The fields a step reads (each step uses its own; see docs/complaints.md)."""

    model_config = ConfigDict(extra="forbid")

    how: str = Field(default="", max_length=32, description="acknowledge/contact: phone, sms, in_person, written")
    note: str = Field(default="", max_length=flows.NOTE_LIMIT)
    assignee_id: str = Field(default="", max_length=64)
    text: str = Field(default="", max_length=flows.TEXT_LIMIT, description="propose: the solution")
    preliminary: bool = False
    accepted: bool | None = None
    kind: str = Field(default="", max_length=32, description="mediation: mediation or arbitration")
    satisfaction: str = Field(default="", max_length=32,
                              description="return-visit: satisfied, basically_satisfied, dissatisfied")
    days: int | None = Field(default=None, ge=1, le=365, description="extend: the new limit, 30 or 60")
    reason: str = Field(default="", max_length=flows.NOTE_LIMIT)
    owner_id: str = Field(default="", max_length=64, description="hand-over: the new first-contact owner")


def run_step(session: Session, me: Principal, request: Request, *, complaint_id: int, action: str,
             body: StepRequest, clock: Clock) -> Complaint:
    c = visible(session, me, complaint_id)
    if not may_act(me, c):
        raise _refuse(status.HTTP_403_FORBIDDEN, "forbidden: steps are taken by the first-contact owner, the "
                      "assignee, a commander, a leader or an admin")
    cfg, org = _cfg(request), request.app.state.org
    common = {"actor": me.login, "clock": clock}
    txt = {k: repair_text(v) for k, v in body.model_dump().items() if isinstance(v, str)}
    calls: dict[str, Callable[[], Complaint]] = {
        "acknowledge": lambda: flows.acknowledge(session, c.id, how=txt["how"], note=txt["note"], **common),
        "contact": lambda: flows.record_contact(session, c.id, how=txt["how"], note=txt["note"], **common),
        "verify": lambda: flows.verify(session, c.id, note=txt["note"], **common),
        "assign": lambda: flows.assign(session, c.id, assignee_id=txt["assignee_id"], org=org, note=txt["note"],
                                       **common),
        "propose": lambda: flows.propose_solution(session, c.id, text=txt["text"], preliminary=body.preliminary,
                                                  **common),
        "accept": lambda: flows.record_acceptance(session, c.id, accepted=_required_bool(body.accepted),
                                                  note=txt["note"], **common),
        "mediation": lambda: flows.record_mediation(session, c.id, kind=txt["kind"], note=txt["note"], **common),
        "close": lambda: flows.close(session, c.id, note=txt["note"], **common),
        "return-visit": lambda: flows.return_visit(session, c.id, satisfaction=txt["satisfaction"],
                                                   note=txt["note"], **common),
        "extend": lambda: flows.extend_reply(session, c.id, days=body.days or 0, reason=txt["reason"], cfg=cfg,
                                             tz=_tz(request), **common),
        "new-facts": lambda: flows.new_facts(session, c.id, note=txt["note"], cfg=cfg, tz=_tz(request), **common),
        "hand-over": lambda: flows.hand_over(session, c.id, owner_id=txt["owner_id"], reason=txt["reason"],
                                             org=org, **common),
    }
    if action not in calls:
        raise ComplaintError(f"unknown step {action!r}; use one of {', '.join(calls)}", "未知的处理步骤",
                             field="action")
    try:
        result = calls[action]()
        session.commit()
    except Exception:
        session.rollback()
        raise
    return result


def _required_bool(value: bool | None) -> bool:
    if value is None:
        raise ComplaintError("accepted (true or false) is required", "请选择客户是否接受方案", field="accepted")
    return value


def read_uploads(files: list[UploadFile] | None, cfg: ComplaintsConfig) -> list[AttachmentInput]:
    """The uploaded files as AttachmentInputs; a file over the limit is kept only one byte past it (enough for
    the domain to refuse it) and the rest is counted, not stored, so a huge upload never sits whole in memory and
    the refusal names its real size."""
    out = []
    for f in files or []:
        if not f.filename and not f.size:
            continue  # an empty file input of a form
        data = f.file.read(cfg.max_attachment_bytes + 1)
        size = len(data)
        if size > cfg.max_attachment_bytes:
            while chunk := f.file.read(1024 * 1024):
                size += len(chunk)
        out.append(AttachmentInput(filename=f.filename or "", content_type=f.content_type or "", data=data,
                                   size=size))
    return out


def add_files(session: Session, me: Principal, request: Request, *, complaint_id: int,
              files: list[AttachmentInput], clock: Clock) -> Complaint:
    c = visible(session, me, complaint_id)
    if not may_act(me, c):
        raise _refuse(status.HTTP_403_FORBIDDEN, "forbidden: attachments are added by the first-contact owner, "
                      "the assignee, a commander, a leader or an admin")
    if not files:
        raise ComplaintError("no file was sent", "请选择要上传的附件", field="attachments")
    if len(files) > MAX_FILES:
        raise ComplaintError(f"at most {MAX_FILES} attachments at once", f"一次最多上传 {MAX_FILES} 个附件",
                             field="attachments")
    try:
        for a in files:
            flows.add_attachment(session, c.id, actor=me.login, clock=clock, attachment=a, cfg=_cfg(request))
        session.commit()
    except Exception:
        session.rollback()
        raise
    return c


def download(session: Session, me: Principal, request: Request, *, complaint_id: int, attachment_id: int,
             clock: Clock) -> Response:
    c = visible(session, me, complaint_id)
    a = session.get(ComplaintAttachment, attachment_id)
    if a is None or a.complaint_id != c.id:
        raise _refuse(status.HTTP_404_NOT_FOUND, f"attachment {attachment_id} of complaint {complaint_id} not found")
    if not (may_reveal(me, c, _cfg(request)) or may_act(me, c)):
        raise _refuse(status.HTTP_403_FORBIDDEN, "forbidden: attachments carry the customer's details; they are "
                      "for the roles that may see them and the people handling the complaint")
    audit_chain.append(session, at=clock.now(), actor=me.login, action="complaint.attachment_download",
                       object_type="complaint", object_id=c.id, detail=f"下载投诉 {c.number} 的附件 {a.filename}",
                       data={"attachment_id": a.id, "sha256": a.sha256})
    session.commit()
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", a.filename)[:100] or "attachment"
    return Response(a.data, media_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(a.filename)}",
        "X-Content-SHA256": a.sha256})


def stats_for(session: Session, me: Principal, request: Request, *, month: str, clock: Clock) -> dict:
    return month_stats(session, month=month, cfg=_cfg(request), tz=_tz(request), calendar=_calendar(request),
                       now=clock.now(), unit_ids=me.unit_ids)


# --- one case with an incident (incidents.complaints.links) -----------------------------------------------------
CASE_REFUSAL_ZH = "无权关联事件或由投诉立案：需为值班监测、应急处置负责人、分行领导或系统管理员"


def may_join(me: Principal) -> bool:
    """Link the complaint to an incident, or raise one from it (the domain's ``links.CASE_ROLES``)."""
    return links.may_join_cases(me.roles)


def _case_complaint(session: Session, me: Principal, complaint_id: int) -> Complaint:
    c = visible(session, me, complaint_id)
    if not may_join(me):
        raise _refuse(status.HTTP_403_FORBIDDEN, "forbidden: linking a complaint to an incident or raising one needs "
                      "one of the roles " + ", ".join(sorted(r.value for r in links.CASE_ROLES)))
    return c


def _policy(request: Request) -> Any:
    policy = request.app.state.policy_provider()
    if policy is None:
        raise _refuse(status.HTTP_503_SERVICE_UNAVAILABLE, "the incident policy is not loaded")
    return policy


def link_to_incident(session: Session, me: Principal, request: Request, *, complaint_id: int, incident_id: int,
                     clock: Clock) -> Complaint:
    """Link the complaint to an incident in the caller's scope (one case); ComplaintError for a missing incident
    (404) or one the complaint is not free for (409)."""
    c = _case_complaint(session, me, complaint_id)
    incident = session.get(Incident, incident_id)
    if incident is not None and not me.sees_unit(incident.unit_id):
        raise _refuse(status.HTTP_403_FORBIDDEN, "forbidden: the incident is not in your units", "incident_id")
    policy = _policy(request)
    try:
        links.link_incident(session, c.id, incident_id, actor=me.login, clock=clock, org=request.app.state.org,
                            policy=policy)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return c


def raise_from_complaint(session: Session, me: Principal, request: Request, *, complaint_id: int,
                         level: str | None, clock: Clock) -> Incident:
    """Open an incident from the complaint (its level: ``level``, else ``incident_levels`` by severity) and link
    them; ComplaintError for an unknown level (422) or a complaint already linked (409)."""
    c = _case_complaint(session, me, complaint_id)
    policy = _policy(request)
    try:
        incident = links.raise_incident(session, c.id, actor=me.login, clock=clock, org=request.app.state.org,
                                        policy=policy, level=(level or "").strip().upper() or None)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return incident


def incident_brief(incident: Incident) -> dict[str, Any]:
    return {"id": incident.id, "number": incident.number, "title": incident.title, "level": incident.level,
            "level_label": level_label(incident.level), "status": incident.status,
            "url": f"/incidents/{incident.id}"}


# --- JSON API ------------------------------------------------------------------------------------------------
api = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])


class ComplaintCreateRequest(BaseModel):
    """A complaint from a ticket or call-centre system. Values are checked by the domain, which names the field
    of the first problem in English."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(max_length=64, description="hotline, walk_in, letter, email, online_form, petition, "
                                                    "superior_bank, regulator_transfer, web_post, comment_book")
    received_at: str = Field(max_length=64, description="ISO 8601 with the zone offset: 2026-09-30T10:00:00+08:00")
    unit_id: str = Field(max_length=64, description="the unit complained about (org chart id)")
    category: str = Field(max_length=64, description="a category code, e.g. service_attitude, opaque_fees")
    severity: str = Field(default="general", max_length=16, description="general | important | urgent (一般…)")
    description: str = Field(max_length=flows.TEXT_LIMIT)
    customer_name: str = Field(default="", max_length=200)
    customer_phone: str = Field(default="", max_length=64)
    account_or_product: str = Field(default="", max_length=500)
    handling_unit_id: str | None = Field(default=None, max_length=64)
    lead_department: str = Field(default="", max_length=200)
    first_contact_owner_id: str | None = Field(default=None, max_length=64)
    source_system: str = Field(default="", max_length=64, description="the sending system, e.g. 95599-ticket")


def _json_error(exc: ComplaintError) -> JSONResponse:
    e = api_error(exc)
    return JSONResponse({"detail": e.detail}, status_code=e.status_code)


@api.post("", status_code=status.HTTP_201_CREATED, summary="登记投诉（Idempotency-Key: a retry with the same key "
          "and body returns the same record with 200）")
def api_create(request: Request, me: CurrentUser, session: SessionDep, clock: ClockDep,
               body: ComplaintCreateRequest,
               idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> Response:
    fields = {k: (repair_text(v) if isinstance(v, str) else v) for k, v in body.model_dump().items()}
    fields["idempotency_key"] = idempotency_key.strip() if idempotency_key and idempotency_key.strip() else None
    try:
        complaint, created = create(session, me, request, fields=fields, attachments=[], clock=clock)
    except ComplaintError as exc:
        return _json_error(exc)
    view = view_of(request, complaint, now=clock.now())
    return JSONResponse(view, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@api.get("", summary="投诉列表（按状态、渠道、等级、单位、月份筛选；限本人所辖单位；客户信息脱敏）")
def api_list(request: Request, me: CurrentUser, session: SessionDep, clock: ClockDep, page: PageDep,
             status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
             channel: Annotated[str | None, Query(max_length=32)] = None,
             severity: Annotated[str | None, Query(max_length=16)] = None,
             unit: Annotated[str | None, Query(max_length=64)] = None,
             month: Annotated[str | None, Query(max_length=16)] = None) -> Response:
    """Newest receipt first, paged by the API's shared cursor (``api.pagination``)."""
    try:
        filters = _filters(status_, channel, severity, month)
    except ComplaintError as exc:
        return _json_error(exc)
    units = me.unit_ids if unit is None else (me.unit_ids & _with_sub_units(request.app.state.org, unit))
    if unit is not None and not me.sees_unit(unit):
        raise _refuse(status.HTTP_403_FORBIDDEN, f"forbidden: unit {unit} is not in your units", "unit")
    stmt = queries.complaints_query(unit_ids=units, tz=_tz(request), **filters).order_by(None)
    scope = page.scope("complaints", status=status_, channel=channel, severity=severity, unit=unit, month=month)
    got = paginate(session, stmt.options(selectinload(Complaint.attachments)), page=page, scope=scope,
                   order=[(Complaint.received_at, True), (Complaint.id, True)])
    now = clock.now()
    data = [queries.complaint_view(c, cfg=_cfg(request), tz=_tz(request), calendar=_calendar(request), now=now,
                                   reveal=False, org=request.app.state.org, events=False) for (c,) in got.rows]
    return JSONResponse({"items": data, "total": got.total, "next_cursor": got.next_cursor})


def _with_sub_units(org: OrgChart, unit: str) -> set[str]:
    """A unit filter: the unit and the units under it (as ``yuqing complaint list --unit``)."""
    try:
        return {unit} | {u.id for u in org.descendants(unit)}
    except KeyError:
        return {unit}


def _filters(status_: str | None, channel: str | None, severity: str | None, month: str | None) -> dict:
    """The list filters, checked (an unknown value is an error, not an empty list)."""
    statuses = {s.value for s in ComplaintStatus} | {"open", "ended"}
    if status_ and status_ not in statuses:
        raise ComplaintError(f"unknown status {status_!r}; use one of {', '.join(sorted(statuses))}",
                             "状态无效", field="status")
    if channel:
        channel = flows.normalise_channel(channel)
    if severity:
        severity = flows.normalise_severity(severity)
    if month:
        try:
            month = str(Month.parse(month))
        except StatsError as exc:
            raise ComplaintError(exc.en, exc.zh, field="month") from None
    return {"status": status_ or None, "channel": channel or None, "severity": severity or None,
            "month": month or None}


@api.get("/stats", summary="投诉统计与考核指标（月度；与统计页面同一数据）")
def api_stats(request: Request, me: CurrentUser, session: SessionDep, clock: ClockDep,
              month: Annotated[str, Query(max_length=16)]) -> Response:
    try:
        return JSONResponse(stats_for(session, me, request, month=month, clock=clock))
    except StatsError as exc:
        return JSONResponse({"detail": _msg("month", exc.en)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


@api.get("/{complaint_id}", summary="投诉详情（客户信息脱敏；reveal=1 供有权角色查看完整信息，记入审计）")
def api_get(request: Request, me: CurrentUser, session: SessionDep, clock: ClockDep, complaint_id: IdPath,
            reveal: Annotated[bool, Query()] = False) -> Response:
    c = visible(session, me, complaint_id)
    if reveal:
        if not may_reveal(me, c, _cfg(request)):
            raise _refuse(status.HTTP_403_FORBIDDEN, "forbidden: the customer's full details are for the roles "
                          "in full_details_roles and the complaint's first-contact owner and assignee", "reveal")
        masking.reveal_audited(session, c, actor=me.login, clock=clock, via="api")
        session.commit()
    return JSONResponse(view_of(request, c, now=clock.now(), reveal=reveal))


@api.post("/{complaint_id}/steps/{action}", summary="处理步骤：acknowledge, contact, verify, assign, propose, "
          "accept, mediation, close, return-visit, extend, new-facts, hand-over")
def api_step(request: Request, me: CurrentUser, session: SessionDep, clock: ClockDep, complaint_id: IdPath,
             action: StepName, body: StepRequest | None = None) -> Response:
    try:
        c = run_step(session, me, request, complaint_id=complaint_id, action=action, body=body or StepRequest(),
                     clock=clock)
    except ComplaintError as exc:
        return _json_error(exc)
    return JSONResponse(view_of(request, c, now=clock.now()))


@api.post("/{complaint_id}/attachments", status_code=status.HTTP_201_CREATED,
          summary="上传附件（multipart，字段 files；单个文件大小上限见 complaints.yaml）")
def api_attach(request: Request, me: CurrentUser, session: SessionDep, clock: ClockDep, complaint_id: IdPath,
               files: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    try:
        c = add_files(session, me, request, complaint_id=complaint_id, files=read_uploads(files, _cfg(request)),
                      clock=clock)
    except ComplaintError as exc:
        return _json_error(exc)
    return JSONResponse(view_of(request, c, now=clock.now()), status_code=status.HTTP_201_CREATED)


@api.get("/{complaint_id}/attachments/{attachment_id}", summary="下载附件（记入审计）")
def api_download(request: Request, me: CurrentUser, session: SessionDep, clock: ClockDep, complaint_id: IdPath,
                 attachment_id: IdPath) -> Response:
    return download(session, me, request, complaint_id=complaint_id, attachment_id=attachment_id, clock=clock)


class LinkIncidentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: int = Field(ge=1, le=2**31 - 1, description="the incident to link the complaint to (one case)")


class RaiseIncidentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str | None = Field(default=None, max_length=8, description="I | II | III | IV; default: incident_levels "
                                                                      "of complaints.yaml by the complaint's severity")


@api.post("/{complaint_id}/link-incident",
          summary="关联舆情事件（同一案件；事件追加投诉处理步骤，期限自投诉受理时起算）")
def api_link_incident(request: Request, me: CurrentUser, session: SessionDep, clock: ClockDep,
                      complaint_id: IdPath, body: LinkIncidentRequest) -> Response:
    try:
        c = link_to_incident(session, me, request, complaint_id=complaint_id, incident_id=body.incident_id,
                             clock=clock)
    except ComplaintError as exc:
        return _json_error(exc)
    incident = session.get(Incident, body.incident_id)
    return JSONResponse(view_of(request, c, now=clock.now()) | {"incident": incident_brief(incident)})


@api.post("/{complaint_id}/raise-incident", status_code=status.HTTP_201_CREATED,
          summary="由投诉立案（内部报告预警，按等级通知报告链），投诉与事件为同一案件")
def api_raise_incident(request: Request, me: CurrentUser, session: SessionDep, clock: ClockDep,
                       complaint_id: IdPath, body: RaiseIncidentRequest | None = None) -> Response:
    try:
        incident = raise_from_complaint(session, me, request, complaint_id=complaint_id,
                                        level=body.level if body else None, clock=clock)
    except ComplaintError as exc:
        return _json_error(exc)
    c = visible(session, me, complaint_id)
    return JSONResponse(view_of(request, c, now=clock.now()) | {"incident": incident_brief(incident)},
                        status_code=status.HTTP_201_CREATED)


# --- dashboard -----------------------------------------------------------------------------------------------
pages = APIRouter(tags=["dashboard"], include_in_schema=False)
FLASH = {"created": "投诉已登记，各项时限已开始计算。", "step": "已记录处理步骤。", "attached": "附件已上传。",
         "existing": "该投诉已登记过（相同幂等键），已打开原记录。",
         "linked": "已关联舆情事件：事件已追加投诉处理步骤，期限自投诉受理时起算。",
         "raised": "已由投诉立案并通知报告链，投诉与事件为同一案件。"}
CsrfField = Annotated[str, Form(max_length=128)]


def _render(request: Request, template: str, me: Principal, context: dict[str, Any], status_code: int = 200
            ) -> Response:
    from api.pages import render

    response = render(request, template, me, "complaints", context, status_code=status_code)
    return response


def _base_context(request: Request, me: Principal) -> dict[str, Any]:
    flash = FLASH.get(request.query_params.get("done", ""), "")
    return {"flash": flash} if flash else {}


def _units_for(org: OrgChart, me: Principal) -> list[Any]:
    return [u for u in org.units if me.sees_unit(u.id)]


@pages.get("/complaints", response_class=HTMLResponse)
def page_list(request: Request, me: PageUser, session: SessionDep, clock: ClockDep,
              status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
              channel: Annotated[str | None, Query(max_length=32)] = None,
              severity: Annotated[str | None, Query(max_length=16)] = None,
              unit: Annotated[str | None, Query(max_length=64)] = None,
              month: Annotated[str | None, Query(max_length=16)] = None) -> Response:
    org: OrgChart = request.app.state.org
    try:
        filters = _filters(status_, channel, severity, month)
    except ComplaintError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.zh) from None
    if unit and not me.sees_unit(unit):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "无权访问：该单位不在您所辖范围内")
    rows = queries.list_complaints(session, unit_ids=me.unit_ids & _with_sub_units(org, unit) if unit else me.unit_ids,
                                   tz=_tz(request), limit=300, **filters)
    now = clock.now()
    items = [queries.complaint_view(c, cfg=_cfg(request), tz=_tz(request), calendar=_calendar(request), now=now,
                                    reveal=False, org=org, events=False) for c in rows]
    return _render(request, "complaints.html", me, {
        **_base_context(request, me), "complaints": items, "can_enter": may_enter(me),
        "filters": {"status": status_ or "", "channel": filters["channel"] or "",
                    "severity": filters["severity"] or "", "unit": unit or "", "month": filters["month"] or ""},
        "statuses": STATUS_LABELS, "channels": CHANNEL_LABELS, "severities": SEVERITY_LABELS,
        "units": _units_for(org, me), "month_now": now.astimezone(request.app.state.settings.tz).strftime("%Y-%m")})


def _form_context(request: Request, me: Principal, values: dict[str, str], errors: dict[str, str]
                  ) -> dict[str, Any]:
    org: OrgChart = request.app.state.org
    return {"values": values, "errors": errors, "channels": CHANNEL_LABELS, "severities": SEVERITY_LABELS,
            "categories": CATEGORIES, "units": _units_for(org, me), "max_mb": _cfg(request).max_attachment_bytes
            / (1024 * 1024), "max_files": MAX_FILES}


def _default_values(request: Request, me: Principal, clock: Clock) -> dict[str, str]:
    local = clock.now().astimezone(request.app.state.settings.tz)
    return {"channel": "walk_in", "received_at": local.strftime("%Y-%m-%dT%H:%M"), "unit_id": me.unit_id,
            "category": "service_attitude", "severity": "general", "description": "", "customer_name": "",
            "customer_phone": "", "account_or_product": "",
            # a double click or a resubmitted page then finds the record made by the first submission
            "idempotency_key": f"form-{secrets.token_urlsafe(16)}"}


@pages.get("/complaints/new", response_class=HTMLResponse)
def page_new(request: Request, me: PageUser, clock: ClockDep) -> Response:
    if not may_enter(me):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "无权登记投诉：需要值班监测、联络人、应急处置负责人、分行领导或"
                                                       "系统管理员角色")
    return _render(request, "complaint_new.html", me, _form_context(request, me, _default_values(request, me, clock),
                                                                     {}))


def local_received_at(text: str, tz: Any) -> datetime | str:
    """The form's datetime-local value (no zone: the dashboard's local time) as an aware time; a value with its
    own zone is kept as given; anything unreadable is passed on as text for the domain to refuse."""
    raw = (text or "").strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


@pages.post("/complaints")
def page_create(request: Request, me: PageUser, session: SessionDep, clock: ClockDep, csrf_token: CsrfField = "",
                channel: Annotated[str, Form(max_length=64)] = "",
                received_at: Annotated[str, Form(max_length=64)] = "",
                unit_id: Annotated[str, Form(max_length=64)] = "",
                category: Annotated[str, Form(max_length=64)] = "",
                severity: Annotated[str, Form(max_length=16)] = "",
                description: Annotated[str, Form(max_length=flows.TEXT_LIMIT)] = "",
                customer_name: Annotated[str, Form(max_length=200)] = "",
                customer_phone: Annotated[str, Form(max_length=64)] = "",
                account_or_product: Annotated[str, Form(max_length=500)] = "",
                idempotency_key: Annotated[str, Form(max_length=200)] = "",
                attachments: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    ensure_csrf(me, csrf_token)
    values = {"channel": channel, "received_at": received_at, "unit_id": unit_id, "category": category,
              "severity": severity, "description": description, "customer_name": customer_name,
              "customer_phone": customer_phone, "account_or_product": account_or_product,
              "idempotency_key": idempotency_key}
    fields: dict[str, Any] = {k: repair_text(v) for k, v in values.items()}
    fields["received_at"] = local_received_at(received_at, request.app.state.settings.tz)
    fields["idempotency_key"] = fields["idempotency_key"].strip() or None
    try:
        files = read_uploads(attachments, _cfg(request))
        complaint, created = create(session, me, request, fields=fields, attachments=files, clock=clock)
    except ComplaintError as exc:
        errors = {(exc.field if exc.field in ERROR_FIELDS_ZH else "_form"): exc.zh}
        return _render(request, "complaint_new.html", me, _form_context(request, me, values, errors),
                       status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_403_FORBIDDEN and isinstance(exc.detail, dict):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "无权为该单位登记投诉：该单位不在您所辖范围内") from None
        raise
    return RedirectResponse(f"/complaints/{complaint.id}?done={'created' if created else 'existing'}",
                            status_code=status.HTTP_303_SEE_OTHER)


def next_steps(c: Complaint, cfg: ComplaintsConfig) -> list[str]:
    """The steps the detail page offers, in handling order: only those that make sense now (the domain still
    refuses anything out of order)."""
    if c.status == ComplaintStatus.visited:
        return []
    if c.status == ComplaintStatus.closed:
        return ["return-visit"]
    steps: list[str] = []
    if c.acknowledged_at is None:
        steps.append("acknowledge")
    if c.contacted_at is None:
        steps.append("contact")
    if c.verified_at is None:
        steps.append("verify")
    if c.assignee_id is None:
        steps.append("assign")
    if c.status in (ComplaintStatus.received, ComplaintStatus.handling) or c.customer_accepted is False:
        steps.append("propose")
    if c.status == ComplaintStatus.proposed and c.customer_accepted is None:
        steps.append("accept")
    if c.customer_accepted is False and c.status != ComplaintStatus.mediation:
        steps.append("mediation")
    if c.customer_accepted is True or c.status == ComplaintStatus.mediation:
        steps.append("close")
    return steps


def other_steps(c: Complaint, cfg: ComplaintsConfig) -> list[str]:
    """Steps that may come at any time while the complaint is open (shown folded)."""
    if c.status not in OPEN_STATUSES:
        return []
    steps = []
    if c.assignee_id is not None:
        steps.append("assign")
    if c.proposed_at is None and c.reply_limit_days < max(cfg.reply_limits()):
        steps.append("extend")
    steps += ["new-facts", "hand-over"]
    return steps


@pages.get("/complaints/stats", response_class=HTMLResponse)
def page_stats(request: Request, me: PageUser, session: SessionDep, clock: ClockDep,
               month: Annotated[str | None, Query(max_length=16)] = None) -> Response:
    tz = request.app.state.settings.tz
    chosen = month or clock.now().astimezone(tz).strftime("%Y-%m")
    try:
        s = stats_for(session, me, request, month=chosen, clock=clock)
    except StatsError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.zh) from None
    org: OrgChart = request.app.state.org
    m = Month.parse(chosen)
    return _render(request, "complaint_stats.html", me, {
        "s": s, "unit_names": {u.id: (u.short_name or u.name) for u in org.units}, "channels": CHANNEL_LABELS,
        "categories": CATEGORIES, "severities": SEVERITY_LABELS, "satisfactions": SATISFACTION_LABELS,
        "clock_labels": {"entry": "录入（24 小时）", "contact": "联系客户（48 小时）", "resolve": "办结",
                         "reply": "答复客户（15 日）"},
        "previous_month": str(m.plus(-1)), "next_month": str(m.plus(1))})


@pages.get("/complaints/{complaint_id}", response_class=HTMLResponse)
def page_detail(request: Request, me: PageUser, session: SessionDep, clock: ClockDep, complaint_id: IdPath,
                reveal: Annotated[bool, Query()] = False) -> Response:
    try:
        c = visible(session, me, complaint_id)
    except HTTPException as exc:
        raise HTTPException(exc.status_code, "投诉不存在" if exc.status_code == 404
                            else "无权访问：该投诉不属于您所辖的单位") from None
    cfg = _cfg(request)
    allowed_reveal = may_reveal(me, c, cfg)
    if reveal:
        if not allowed_reveal:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "无权查看客户完整信息：限应急处置负责人、分行领导、"
                                                           "系统管理员及该投诉的首问责任人、处理人")
        masking.reveal_audited(session, c, actor=me.login, clock=clock, via="dashboard")
        session.commit()
    org: OrgChart = request.app.state.org
    acts = may_act(me, c)
    return _render(request, "complaint.html", me, {
        **_base_context(request, me), "c": view_of(request, c, now=clock.now(), reveal=reveal),
        "can_act": acts, "can_reveal": allowed_reveal and not reveal,
        "steps": next_steps(c, cfg) if acts else [], "more_steps": other_steps(c, cfg) if acts else [],
        "step_labels": STEP_LABELS, "ack_methods": ACK_METHODS, "mediation_kinds": MEDIATION_KINDS,
        "satisfactions": SATISFACTION_LABELS, "people": [p for p in org.people if me.sees_unit(p.unit)],
        "urgent_pending": c.severity == Severity.urgent and c.preliminary_at is None,
        "next_limit": next((d for d in cfg.reply_limits() if d > c.reply_limit_days), None),
        "may_download": allowed_reveal or acts, "max_files": MAX_FILES, **_case_context(session, me, c, cfg)})


def _case_context(session: Session, me: Principal, c: Complaint, cfg: ComplaintsConfig) -> dict[str, Any]:
    """The 舆情事件 section: the linked incident, else — for those who may — the running incidents in scope to link
    to and the levels to raise one at."""
    incident = session.get(Incident, c.incident_id) if c.incident_id is not None else None
    joinable = incident is None and may_join(me)
    choices = []
    if joinable:
        rows = session.scalars(select(Incident).where(Incident.status.not_in(list(ENDED)))
                               .order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(300))
        choices = [i for i in rows if me.sees_unit(i.unit_id)][:100]
    return {"incident": incident_brief(incident) if incident is not None else None, "can_join": joinable,
            "link_choices": choices, "levels": [(code, level_label(code)) for code in LEVEL_ORDER],
            "default_level": cfg.incident_levels.get(Severity(c.severity))}


def _step_error_page(request: Request, me: PageUser, exc: ComplaintError) -> Response:
    from api.app import _error_page

    return _error_page(request, ERROR_STATUS.get(exc.code, status.HTTP_422_UNPROCESSABLE_CONTENT), exc.zh)


@pages.post("/complaints/{complaint_id}/steps/{action}")
def page_step(request: Request, me: PageUser, session: SessionDep, clock: ClockDep, complaint_id: IdPath,
              action: StepName, csrf_token: CsrfField = "",
              how: Annotated[str, Form(max_length=32)] = "", note: Annotated[str, Form(max_length=4000)] = "",
              assignee_id: Annotated[str, Form(max_length=64)] = "",
              text: Annotated[str, Form(max_length=flows.TEXT_LIMIT)] = "",
              preliminary: Annotated[str, Form(max_length=8)] = "",
              accepted: Annotated[str, Form(max_length=8)] = "",
              kind: Annotated[str, Form(max_length=32)] = "",
              satisfaction: Annotated[str, Form(max_length=32)] = "",
              days: Annotated[str, Form(max_length=8)] = "",
              reason: Annotated[str, Form(max_length=4000)] = "",
              owner_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    body = StepRequest.model_construct(
        how=how, note=note, assignee_id=assignee_id, text=text, preliminary=preliminary in ("1", "on", "true"),
        accepted={"yes": True, "no": False}.get(accepted), kind=kind, satisfaction=satisfaction,
        days=int(days) if days.isascii() and days.isdigit() and int(days) <= 365 else None, reason=reason,
        owner_id=owner_id)
    try:
        run_step(session, me, request, complaint_id=complaint_id, action=action, body=body, clock=clock)
    except ComplaintError as exc:
        return _step_error_page(request, me, exc)
    except HTTPException as exc:
        raise _zh(exc) from None
    return RedirectResponse(f"/complaints/{complaint_id}?done=step#steps", status_code=status.HTTP_303_SEE_OTHER)


def _zh(exc: HTTPException) -> HTTPException:
    """The dashboard's Chinese wording of a refusal raised with the API's English detail."""
    text = {404: "投诉不存在",
            403: "无权执行此操作：处理步骤由首问责任人、处理人、应急处置负责人、分行领导或系统管理员记录",
            }.get(exc.status_code)
    if exc.status_code == 403 and isinstance(exc.detail, dict) and "not in your units" in exc.detail["message"]:
        text = "无权访问：该投诉不属于您所辖的单位"
    return HTTPException(exc.status_code, text or "请求未能完成")


@pages.post("/complaints/{complaint_id}/attachments")
def page_attach(request: Request, me: PageUser, session: SessionDep, clock: ClockDep, complaint_id: IdPath,
                csrf_token: CsrfField = "", files: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    ensure_csrf(me, csrf_token)
    try:
        add_files(session, me, request, complaint_id=complaint_id, files=read_uploads(files, _cfg(request)),
                  clock=clock)
    except ComplaintError as exc:
        return _step_error_page(request, me, exc)
    except HTTPException as exc:
        raise _zh(exc) from None
    return RedirectResponse(f"/complaints/{complaint_id}?done=attached#attachments",
                            status_code=status.HTTP_303_SEE_OTHER)


def _form_incident_id(text: str) -> int:
    raw = (text or "").strip()
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 2**31 - 1:
        raise ComplaintError("incident_id must be an incident id", "请选择要关联的事件", field="incident_id")
    return int(raw)


def _case_zh(exc: HTTPException) -> HTTPException:
    """The dashboard's Chinese wording of a link / raise refusal."""
    message = exc.detail.get("message", "") if isinstance(exc.detail, dict) else ""
    if exc.status_code == 404:
        text = "投诉不存在"
    elif exc.status_code == 403 and "not in your units" in message:
        text = ("无权处理该事件：不属于您所辖的单位" if "incident" in message
                else "无权访问：该投诉不属于您所辖的单位")
    elif exc.status_code == 403:
        text = CASE_REFUSAL_ZH
    elif exc.status_code == 503:
        text = "事件处置策略未加载，暂不能关联或立案"
    else:
        text = "请求未能完成"
    return HTTPException(exc.status_code, text)


@pages.post("/complaints/{complaint_id}/link-incident")
def page_link_incident(request: Request, me: PageUser, session: SessionDep, clock: ClockDep, complaint_id: IdPath,
                       csrf_token: CsrfField = "", incident_id: Annotated[str, Form(max_length=16)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    try:
        link_to_incident(session, me, request, complaint_id=complaint_id, incident_id=_form_incident_id(incident_id),
                         clock=clock)
    except ComplaintError as exc:
        return _step_error_page(request, me, exc)
    except HTTPException as exc:
        raise _case_zh(exc) from None
    return RedirectResponse(f"/complaints/{complaint_id}?done=linked#case", status_code=status.HTTP_303_SEE_OTHER)


@pages.post("/complaints/{complaint_id}/raise-incident")
def page_raise_incident(request: Request, me: PageUser, session: SessionDep, clock: ClockDep, complaint_id: IdPath,
                        csrf_token: CsrfField = "", level: Annotated[str, Form(max_length=8)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    try:
        raise_from_complaint(session, me, request, complaint_id=complaint_id, level=level, clock=clock)
    except ComplaintError as exc:
        return _step_error_page(request, me, exc)
    except HTTPException as exc:
        raise _case_zh(exc) from None
    return RedirectResponse(f"/complaints/{complaint_id}?done=raised#case", status_code=status.HTTP_303_SEE_OTHER)
