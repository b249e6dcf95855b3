"""Briefings in the dashboard and the JSON API: the 专报 draft of an incident, the 日报 / 周报 downloads.

* ``GET /incidents/{id}/briefing?kind=`` — 生成专报草稿: the draft drafted from the data (``incidents.briefings``),
  shown as editable text; the commander edits it and files it through the incident's own report form
  (``POST /incidents/{id}/reports``, ``incidents.flows.file_report``): filing is the report event that stops
  that report's clock, and every filed version is kept. The same draft downloads as HTML, PDF or DOCX.
* ``GET /reports`` — 报告: the daily and weekly reports of the recent days and weeks with data, each downloadable,
  and the reports issued to leadership (``incidents.briefings.delivery``).
* ``GET /reports/issues/{id}`` — an issued 日报 / 周报: opening it records a receipt, and a leader's receipt is their
  知悉 of the cases it lists (level III for the daily report: its leadership clock is "the daily report");
  ``POST /reports/issues/{id}/ack`` acknowledges it explicitly. Issued reports cover the branch: readable by those
  whose scope covers it.
* ``GET /api/v1/reports/filed/{report_id}`` — a filed 专报 exactly as filed (the edited text), in any format.
* ``GET /api/v1/reports/incidents/{id}``, ``/api/v1/reports/daily``, ``/api/v1/reports/weekly`` — the briefing as
  JSON (``BriefingRead``: header, summary, the plain text, the attachments), or as a file with ``format=html|pdf|
  docx`` (the HTML carries its own CSP: no script, nothing loaded). Everyone signed in may read them, scoped like
  every read: an incident of one of their units, and the daily / weekly figures of their own units only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from api import queries
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, PageUser, PolicyDep, Principal, SessionDep, ensure_unit
from incidents.briefings import service as briefings
from incidents.errors import IncidentError
from incidents.lifecycle import ACTIVE
from incidents.models import ReportKind

KindParam = Literal["initial", "follow_up", "final"]
FormatParam = Literal["json", "html", "pdf", "docx"]
KIND_LABELS = {"initial": "初报", "follow_up": "续报", "final": "终报"}
RECENT_DAYS, RECENT_WEEKS = 7, 4

router = APIRouter(tags=["reports"])


class HeaderField(BaseModel):
    label: str
    value: str


class SourceRead(BaseModel):
    number: int
    title: str
    url: str
    source: str
    channel: str
    published_at: datetime | None
    evidence_hash: str


class BriefingRead(BaseModel):
    """A briefing as data: what the files show, for integrations."""

    kind: str
    title: str
    number: str
    organisation: str
    header: list[HeaderField]
    summary: str
    text: str
    attachments: list[SourceRead]
    generated_at: datetime
    masked: bool


# --- JSON API: the briefing as JSON or a file ------------------------------------------------------------------
@router.get("/api/v1/reports/incidents/{incident_id}", summary="事件舆情专报（初报、续报、终报）",
            response_class=Response)
def incident_briefing_file(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                           policy: PolicyDep, incident_id: IdPath, kind: Annotated[KindParam, Query()] = "initial",
                           format: Annotated[FormatParam, Query()] = "json") -> Response:
    briefing = _incident_briefing(session, principal, org, policy, clock, incident_id, kind)
    return _file(briefing, format)


@router.get("/api/v1/reports/filed/{report_id}", summary="已报送的专报（报送版本）", response_class=Response)
def filed_file(principal: CurrentUser, session: SessionDep, org: OrgDep, report_id: IdPath,
               format: Annotated[FormatParam, Query()] = "json") -> Response:
    """A filed 初报 / 续报 / 终报 exactly as the commander filed it, in any format."""
    from incidents.models import Incident, IncidentReport

    report = session.get(IncidentReport, report_id)
    if report is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"报告不存在（编号 {report_id}）")
    ensure_unit(principal, session.get(Incident, report.incident_id).unit_id)
    return _file(briefings.filed_briefing(session, report_id=report_id, org=org), format)


@router.get("/api/v1/reports/daily", summary="舆情日报", response_class=Response)
def daily_file(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
               request: Request, day: Annotated[date | None, Query(alias="date")] = None,
               format: Annotated[FormatParam, Query()] = "json") -> Response:
    now = briefings.report_time(session, clock.now())
    chosen = day or briefings.latest_day(session, now)
    report = briefings.daily_report(session, day=chosen, org=org, policy=_policy(policy), now=now,
                                    sources=request.app.state.sources or None, unit_ids=principal.unit_ids,
                                    scope_unit=_scope(principal, org))
    return _file(report.briefing, format)


@router.get("/api/v1/reports/weekly", summary="舆情周报", response_class=Response)
def weekly_file(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                request: Request,
                week: Annotated[str | None, Query(pattern=r"^\d{4}-?[Ww]\d{1,2}$", max_length=8)] = None,
                format: Annotated[FormatParam, Query()] = "json") -> Response:
    now = briefings.report_time(session, clock.now())
    try:
        year, number = briefings.parse_week(week) if week else briefings.latest_week(session, now)
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "周次格式应为 YYYY-Www，例如 2026-W48") from None
    report = briefings.weekly_report(session, year=year, week=number, org=org, policy=_policy(policy), now=now,
                                     sources=request.app.state.sources or None, unit_ids=principal.unit_ids,
                                     scope_unit=_scope(principal, org))
    return _file(report.briefing, format)


# --- dashboard -------------------------------------------------------------------------------------------------
@router.get("/incidents/{incident_id}/briefing", response_class=HTMLResponse, include_in_schema=False)
def briefing_page(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                  policy: PolicyDep, incident_id: IdPath, kind: Annotated[KindParam | None, Query()] = None
                  ) -> Response:
    from api.pages import incident_permissions, render

    incident = queries.get_incident(session, incident_id=incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"事件 {incident_id} 不存在")
    ensure_unit(me, incident.unit_id)
    chosen = kind or next_kind(incident, [r.kind for r in briefings.filed_reports(session, incident.id)])
    briefing = _incident_briefing(session, me, org, policy, clock, incident_id, chosen)
    return render(request, "briefing.html", me, "incidents", {
        "incident": incident, "kind": chosen, "kinds": list(KIND_LABELS.items()), "briefing": briefing,
        "draft": briefing.plain_text(), "can": incident_permissions(me, incident),
        "filed": briefings.filed_reports(session, incident.id)})


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(request: Request, me: PageUser, session: SessionDep, clock: ClockDep) -> Response:
    from api.pages import render

    now = briefings.report_time(session, clock.now())
    days = briefings.days_with_data(session, until=now, limit=RECENT_DAYS)
    latest = briefings.latest_day(session, now)
    weeks, seen = [], set()
    for k in range(RECENT_WEEKS):
        iso = (latest - timedelta(weeks=k)).isocalendar()
        if (iso.year, iso.week) not in seen:
            seen.add((iso.year, iso.week))
            weeks.append(f"{iso.year}-W{iso.week:02d}")
    from incidents.briefings import delivery

    branch = next((u for u in request.app.state.org.units if u.kind == "branch"), request.app.state.org.root())
    issues = delivery.recent_issues(session) if me.sees_unit(branch.id) else []
    read = {r.issue_id: r for i in issues for r in delivery.receipts_of(session, i.id) if r.person_id == me.login}
    return render(request, "reports.html", me, "reports", {
        "days": days, "weeks": weeks, "formats": [("html", "网页"), ("pdf", "PDF"), ("docx", "Word")],
        "issues": issues, "read": read, "labels": delivery.PURPOSE_LABELS, "purposes": delivery.PURPOSES})


# --- helpers ---------------------------------------------------------------------------------------------------
def next_kind(incident, filed_kinds: list[str]) -> str:
    """The report the case owes next: 终报 once closed, 初报 until one is filed, 续报 after."""
    if incident.status not in ACTIVE:
        return ReportKind.final.value
    return ReportKind.follow_up.value if ReportKind.initial.value in filed_kinds else ReportKind.initial.value


def _incident_briefing(session, principal: Principal, org, policy, clock, incident_id: int, kind: str):
    incident = queries.get_incident(session, incident_id=incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"事件 {incident_id} 不存在")
    ensure_unit(principal, incident.unit_id)
    try:
        return briefings.incident_briefing(session, incident_id=incident_id, kind=kind, org=org,
                                           policy=_policy(policy), now=briefings.report_time(session, clock.now()))
    except IncidentError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.user_message) from None


def _policy(policy):
    if policy is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "未加载等级与处置清单配置，无法生成报告")
    return policy


def _scope(principal: Principal, org) -> str | None:
    """The unit a report is "of": the caller's own unit when it is narrower than the branch."""
    unit = org.unit(principal.unit_id)
    return unit.id if unit.kind in ("sub_branch", "outlet", "city_branch") else None


def _file(briefing, fmt: str) -> Response:
    if fmt == "json":
        read = BriefingRead(
            kind=briefing.kind, title=briefing.title, number=briefing.number, organisation=briefing.organisation,
            header=[HeaderField(label=k, value=v) for k, v in briefing.header], summary=briefing.summary,
            text=briefing.plain_text(), generated_at=briefing.generated_at, masked=briefing.masked,
            attachments=[SourceRead(number=s.number, title=s.title, url=s.url, source=s.source, channel=s.channel,
                                    published_at=s.published_at, evidence_hash=s.evidence_hash)
                         for s in briefing.attachments])
        return JSONResponse(read.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
    data = briefings.render(briefing, fmt)
    name = f"{briefing.number or briefing.kind}.{fmt}"
    disposition = "inline" if fmt == "html" else "attachment"
    headers = {"Content-Disposition": f'{disposition}; filename="{name}"', "Cache-Control": "no-store"}
    if fmt == "html":  # a standalone document: no script, no remote load, links open outside
        headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return Response(data, media_type=briefings.MEDIA_TYPES[fmt], headers=headers)


# --- issued reports: opened and acknowledged by leadership -------------------------------------------------------
@router.get("/reports/issues/{issue_id}", response_class=HTMLResponse, include_in_schema=False)
def issue_page(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
               issue_id: IdPath) -> Response:
    """An issued 日报 / 周报. Opening it is a receipt; a leader's receipt is their 知悉 of the cases it lists."""
    from api.pages import render
    from incidents.briefings import delivery

    issue = _issue(session, me, org, issue_id)
    delivery.record_receipt(session, issue=issue, person=org.person(me.login), unit_ids=set(me.unit_ids),
                            via="page", acknowledge=False, clock=clock)
    session.commit()
    incidents = [queries.get_incident(session, incident_id=i) for i in issue.incident_ids or []]
    receipts = delivery.receipts_of(session, issue.id)
    mine = next((r for r in receipts if r.person_id == me.login), None)
    flash = "已确认阅知本报告。" if request.query_params.get("done") == "report_ack" else ""
    local = issue.period_start.astimezone(briefings.SHANGHAI)
    query = f"date={local:%Y-%m-%d}" if issue.kind == "daily" else \
        f"week={local.isocalendar().year}-W{local.isocalendar().week:02d}"
    return render(request, "report_issue.html", me, "reports", {
        "issue": issue, "name": delivery.PURPOSE_LABELS[delivery.PURPOSES[issue.kind]],
        "incidents": [i for i in incidents if i is not None and me.sees_unit(i.unit_id)],
        "receipts": receipts, "mine": mine, "people": {p.id: p.name for p in org.people},
        "download": f"/api/v1/reports/{issue.kind}?{query}", "flash_issue": flash})


@router.post("/reports/issues/{issue_id}/ack", include_in_schema=False)
def issue_ack(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, issue_id: IdPath,
              csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
    from fastapi.responses import RedirectResponse

    from api.deps import ensure_csrf
    from incidents.briefings import delivery

    ensure_csrf(me, csrf_token)
    issue = _issue(session, me, org, issue_id)
    delivery.record_receipt(session, issue=issue, person=org.person(me.login), unit_ids=set(me.unit_ids),
                            via="page", acknowledge=True, clock=clock)
    session.commit()
    return RedirectResponse(f"/reports/issues/{issue.id}?done=report_ack", status_code=status.HTTP_303_SEE_OTHER)


def _issue(session, me: Principal, org, issue_id: int):
    """The issued report, for those whose scope covers the whole branch it reports on (a liaison reads the
    reports of their own units through /reports instead)."""
    from incidents.briefings.models import ReportIssue

    issue = session.get(ReportIssue, issue_id)
    if issue is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"报告不存在（编号 {issue_id}）")
    branch = next((u for u in org.units if u.kind == "branch"), org.root())
    ensure_unit(me, branch.id)
    return issue
