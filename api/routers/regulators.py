"""``/api/v1/incidents/{id}/regulator-reports``: reports to the regulator and the central bank (监管部门 / 人民银行),
scoped to the caller's units; recording takes a bearer token (the cookie alone never writes). Who may:
``incidents.lifecycle`` (the commander or a leader)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api import regulators as rg
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, PolicyDep, SessionDep
from api.idempotency import IdempotencyKey, once
from api.pagination import Page, PageDep, paginate_list
from api.schemas import ERROR_RESPONSES, RegulatorReportRead
from api.views import regulator_report_read

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERROR_RESPONSES)


@router.get("/{incident_id}/regulator-reports", response_model=Page[RegulatorReportRead],
            summary="事件的监管报告记录（报告监管部门、报告人民银行）")
def list_reports(principal: CurrentUser, session: SessionDep, org: OrgDep, page: PageDep,
                 incident_id: IdPath) -> Page[RegulatorReportRead]:
    rows = rg.list_reports(session, principal, incident_id=incident_id)
    got = paginate_list(rows, key=lambda r: (r.id,), page=page,
                        scope=page.scope("regulator-reports", incident_id=incident_id))
    return Page(items=[regulator_report_read(org, r) for r in got.rows], total=got.total,
                next_cursor=got.next_cursor)


@router.get("/{incident_id}/regulator-reports/draft", response_model=rg.RegulatorDraftRead,
            summary="按模板生成报告正文（报告对象、接受的报告方式与预填正文，【待核实】处须核实后替换）")
def draft(request: Request, principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep,
          policy: PolicyDep, incident_id: IdPath,
          kind: Annotated[rg.KindParam, Query()] = "regulator_report") -> rg.RegulatorDraftRead:
    return rg.draft(session, principal, incident_id=incident_id, kind=kind, org=org, policy=policy, clock=clock,
                    tz=request.app.state.settings.timezone)


@router.post("/{incident_id}/regulator-reports", response_model=RegulatorReportRead,
             summary="登记报告监管部门或人民银行（报告对象、方式、文号与报送正文）；停止对应报告时限"
                     "；支持 Idempotency-Key")
def record(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
           incident_id: IdPath, body: rg.RegulatorReportRequest, idempotency_key: IdempotencyKey = None) -> Any:
    def run() -> RegulatorReportRead:
        row = rg.record(session, principal, incident_id=incident_id, kind=body.kind, to=body.to, method=body.method,
                        reference=body.reference, text=body.text, org=org, policy=policy, clock=clock)
        session.refresh(row)
        return regulator_report_read(org, row)

    return once(session, actor=principal.login, key=idempotency_key,
                route=f"incidents/{incident_id}/regulator-reports", body=body, clock=clock, run=run)
