"""``/api/v1/reports/issues``: the issued 舆情日报 / 周报 (what was sent to leadership), and acknowledging one.

The same rules as the 报告 pages (``api.briefings``): an issued report covers the whole branch, so only callers
whose scope covers the branch see it (a liaison's list is empty, an issue answers them 403); acknowledging records
the caller's receipt (``via="api"``), audited as ``report.acknowledge``, and a leader's acknowledgement is their
知悉 of every case it lists in their units (``incidents.briefings.delivery.record_receipt``). Acknowledging twice is
harmless: the first time stands.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy import false, select

from api.briefings import _issue as visible_issue
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, SessionDep
from api.pagination import Page, PageDep, paginate
from api.schemas import ERROR_RESPONSES
from incidents.briefings import delivery
from incidents.briefings.models import ReportIssue, ReportReceipt
from yuqing.org import OrgChart

router = APIRouter(prefix="/api/v1/reports/issues", tags=["reports"], responses=ERROR_RESPONSES)


class ReportIssueRead(BaseModel):
    id: int
    kind: str = Field(description="daily | weekly")
    kind_name: str
    number: str
    period_start: datetime
    period_end: datetime
    issued_at: datetime
    summary: str
    incident_ids: list[int]
    opened_at: datetime | None = Field(description="when the caller opened it (null: not yet)")
    acknowledged_at: datetime | None = Field(description="when the caller acknowledged it (null: not yet)")


class ReportIssueAckRead(ReportIssueRead):
    leader_acknowledged_incidents: list[int] = Field(
        description="cases this acknowledgement recorded as 领导确认知悉 (a leader's, once per case)")


def _branch(org: OrgChart) -> str:
    return next((u for u in org.units if u.kind == "branch"), org.root()).id


def _read(issue: ReportIssue, receipt: ReportReceipt | None) -> ReportIssueRead:
    return ReportIssueRead(id=issue.id, kind=issue.kind,
                           kind_name=delivery.PURPOSE_LABELS[delivery.PURPOSES[issue.kind]], number=issue.number,
                           period_start=issue.period_start, period_end=issue.period_end, issued_at=issue.issued_at,
                           summary=issue.summary or "", incident_ids=[int(i) for i in issue.incident_ids or []],
                           opened_at=receipt.opened_at if receipt else None,
                           acknowledged_at=receipt.acknowledged_at if receipt else None)


@router.get("", response_model=Page[ReportIssueRead], summary="已印发的舆情日报、周报（最新在前；须辖全分行）")
def list_issues(principal: CurrentUser, session: SessionDep, org: OrgDep, page: PageDep) -> Page[ReportIssueRead]:
    stmt = select(ReportIssue)
    if not principal.sees_unit(_branch(org)):
        stmt = stmt.where(false())  # a report of the whole branch: nothing for a narrower scope
    got = paginate(session, stmt, order=[(ReportIssue.issued_at, True), (ReportIssue.id, True)], page=page,
                   scope=page.scope("report-issues"))
    issues = [i for (i,) in got.rows]
    mine = {r.issue_id: r for r in session.scalars(select(ReportReceipt).where(
        ReportReceipt.issue_id.in_([i.id for i in issues]), ReportReceipt.person_id == principal.login))}
    return Page(items=[_read(i, mine.get(i.id)) for i in issues], total=got.total, next_cursor=got.next_cursor)


@router.post("/{issue_id}/ack", response_model=ReportIssueAckRead,
             summary="确认阅知日报、周报（领导确认即知悉所列事件）")
def acknowledge(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                issue_id: IdPath) -> ReportIssueAckRead:
    issue = visible_issue(session, principal, org, issue_id)
    person = org.find_person(principal.login)
    if person is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "该账号不在机构人员名单中，无法确认")
    done = delivery.record_receipt(session, issue=issue, person=person, unit_ids=set(principal.unit_ids), via="api",
                                   acknowledge=True, clock=clock)
    session.commit()
    receipt = session.scalar(select(ReportReceipt).where(ReportReceipt.issue_id == issue.id,
                                                         ReportReceipt.person_id == person.id))
    return ReportIssueAckRead(**_read(issue, receipt).model_dump(), leader_acknowledged_incidents=list(done))
