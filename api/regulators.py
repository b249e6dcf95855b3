"""Reports to the regulator and the central bank (``incidents.regulators``) for people: the read model, the actions
the JSON API (``api.routers.regulators``), the incident page's 报告监管部门 / 报告人民银行 forms and the CLI share.

Every action checks, in order: the incident exists (404) and is in the caller's units (403), the caller's role
(403: ``incidents.lifecycle.ACTION_ROLES[Action.regulator_report]``, the commander or a leader); the flow decides the
rest (422 / 409 with its Chinese message) and the action commits.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.actions import _call, _ensure_may, _visible_incident
from api.deps import ClockDep, IdPath, OrgDep, PageUser, PolicyDep, Principal, SessionDep, ensure_csrf
from incidents import regulators
from incidents.lifecycle import Action, allowed_from, may
from incidents.models import Incident, RegulatorReport, TaskStatus
from incidents.policy import Policy
from yuqing.clock import Clock
from yuqing.org import OrgChart
from yuqing.text import repair_text

KindParam = Literal["regulator_report", "pboc_report"]


class RegulatorDraftRead(BaseModel):
    """Whom to tell for one kind of report on this incident, how, and the template filled in (to be edited: parts
    marked 【待核实…】 must be replaced before it can be recorded)."""

    kind: str
    kind_name: str
    to: str | None = Field(description="the configured recipient's key; null when none is configured")
    recipient_name: str
    department: str
    contact: str
    methods: list[str]
    text: str


class RegulatorReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: KindParam | None = Field(default=None, description="may be left out when `to` receives one kind")
    to: str = Field(default="", max_length=200, description="a recipient key; empty: the one configured for the "
                                                            "incident's branch (a name only when none is)")
    method: str = Field(min_length=1, max_length=regulators.METHOD_LIMIT, description="e.g. 书面报告, 电话")
    reference: str = Field(default="", max_length=200, description="the recipient's reference number, if any")
    text: str = Field(min_length=1, max_length=regulators.TEXT_LIMIT, description="the report as sent")


# --- the actions ----------------------------------------------------------------------------------------------
def list_reports(session: Session, me: Principal, *, incident_id: int) -> list[RegulatorReport]:
    incident = _visible_incident(session, me, incident_id)
    return regulators.reports_of(session, incident.id)


def record(session: Session, me: Principal, *, incident_id: int, kind: str | None, to: str, method: str,
           reference: str, text: str, org: OrgChart, policy: Policy | None, clock: Clock) -> RegulatorReport:
    """登记报告 (the commander or a leader)."""
    incident = _visible_incident(session, me, incident_id)
    _ensure_may(me, Action.regulator_report)
    row = _call(regulators.record_report, session, incident_id=incident.id, kind=kind, to=repair_text(to),
                method=repair_text(method), reference=repair_text(reference), text=repair_text(text),
                user_login=me.login, org=org, regs=policy.regulators if policy else None, clock=clock)
    session.commit()
    return row


def draft(session: Session, me: Principal, *, incident_id: int, kind: str, org: OrgChart, policy: Policy | None,
          clock: Clock, tz: str) -> RegulatorDraftRead:
    """The template of ``kind`` filled in for this incident (anyone who may see the incident may read it)."""
    incident = _visible_incident(session, me, incident_id)
    return _draft(session, incident, kind, org=org, regs=policy.regulators if policy else None, clock=clock, tz=tz,
                  reporter=me.login)


def forms(session: Session, me: Principal, incident: Incident, *, org: OrgChart, policy: Policy | None,
          clock: Clock, tz: str) -> list[dict]:
    """The incident page's 报告监管部门 / 报告人民银行 forms, one per kind, pre-filled; none for those who may not
    record. A kind the checklist has an open step for is shown open."""
    if not may(me.roles, Action.regulator_report) or not allowed_from(Action.regulator_report, incident.status):
        return []
    regs = policy.regulators if policy else None
    owed = {t.key for t in incident.tasks if t.key in regulators.REPORT_KINDS and t.status == TaskStatus.todo}
    return [{"draft": _draft(session, incident, kind, org=org, regs=regs, clock=clock, tz=tz, reporter=me.login),
             "open": kind in owed} for kind in regulators.REPORT_KINDS]


def _draft(session: Session, incident: Incident, kind: str, *, org: OrgChart, regs, clock: Clock, tz: str,
           reporter: str) -> RegulatorDraftRead:
    r = regulators.recipient_for(regs, org, incident.unit_id, kind)
    text = regulators.draft_text(session, incident=incident, kind=kind, regs=regs, org=org, now=clock.now(), tz=tz,
                                 reporter=reporter)
    return RegulatorDraftRead(kind=kind, kind_name=regulators.REPORT_KINDS[kind], to=r.key if r else None,
                              recipient_name=r.name if r else regulators.GENERIC_RECIPIENTS[kind],
                              department=r.department if r else "", contact=r.contact if r else "",
                              methods=list(r.methods) if r else [], text=text)


# --- the dashboard form ---------------------------------------------------------------------------------------
router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.post("/incidents/{incident_id}/regulator-reports")
def page_record(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                policy: PolicyDep, incident_id: IdPath, csrf_token: Annotated[str, Form(max_length=128)] = "",
                kind: Annotated[KindParam | None, Form()] = None,
                to: Annotated[str, Form(max_length=200)] = "",
                method: Annotated[str, Form(max_length=regulators.METHOD_LIMIT)] = "",
                reference: Annotated[str, Form(max_length=200)] = "",
                text: Annotated[str, Form(max_length=regulators.TEXT_LIMIT)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    record(session, me, incident_id=incident_id, kind=kind, to=to, method=method, reference=reference, text=text,
           org=org, policy=policy, clock=clock)
    return RedirectResponse(f"/incidents/{incident_id}?done=regulator#regulator-reports",
                            status_code=status.HTTP_303_SEE_OTHER)
