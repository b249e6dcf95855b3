"""The Chinese web dashboard: 舆情总览, 预警, 事件, 信息源, and the forms that act on alerts and tasks.

Server-rendered and usable without JavaScript (the overview's live region refreshes itself when JS runs). Pages
render the same read models as the JSON API. Every form POST carries the session's CSRF token.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from api import actions, present, queries, views
from api.actions import ALERT_HANDLERS, INCIDENT_OPENERS
from api.deps import ClockDep, IdPath, OrgDep, PageUser, PolicyDep, Principal, SessionDep, ensure_csrf, ensure_unit
from api.regulators import forms as regulator_forms
from api.templating import calendar_notice
from incidents.merge import MERGED_IN, merged_into
from yuqing.categories import LEVEL_ORDER

router = APIRouter(tags=["dashboard"], include_in_schema=False)

FLASH_MESSAGES = {"ack": "已确认预警。", "dismiss": "已标记为误报。", "incident": "已立案。", "task": "任务已完成。",
                  "inc_ack": "已确认事件。", "respond": "已开始处置。", "monitor": "已转入持续监测。",
                  "level": "已调整等级，处置清单与报告时限已重新计算。", "report": "报告已报送。",
                  "leader_ack": "已确认知悉。", "close": "已结案：终报与复盘开始计时。", "reopen": "事件已重新打开。",
                  "review": "复盘已提交。", "reassign": "任务已改派。", "na": "任务已标记为不适用。",
                  "action_item": "整改事项已标记完成。", "resurgence": "已记录研判：暂不重新打开事件。",
                  "regulator": "报告已登记，对应的报告时限已停止。",
                  "merged": "已合并：另一事件已并入本事件，等级取两者中较高者。"}
OVERVIEW_INCIDENTS = 20
OVERVIEW_MENTIONS = 20
EVIDENCE_PAGE_SIZE = 20  # articles per page of an incident's evidence (?evidence_page=N)
INCIDENT_PAGE_SIZE = 50  # incidents per page of the incident list (?cursor=…)
ALERT_CARDS = 50  # open alerts shown as cards on the alert page, most urgent first
MAX_CURSOR_CHARS = 1024

CsrfField = Annotated[str, Form(max_length=128)]


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
             policy: PolicyDep) -> Response:
    return render(request, "overview.html", me, "overview",
                  overview_context(session, me, org=org, clock=clock, policy=policy,
                                   sources=request.app.state.sources))


@router.get("/partials/overview", response_class=HTMLResponse)
def overview_partial(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                     policy: PolicyDep) -> Response:
    return render(request, "_overview_live.html", me, "overview",
                  overview_context(session, me, org=org, clock=clock, policy=policy,
                                   sources=request.app.state.sources))


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                policy: PolicyDep) -> Response:
    from api.alert_history import escalation_histories

    now = clock.now()
    # the most urgent open alerts as cards (each with its escalation history), and how many are open in all: a
    # page of hundreds of cards is read by nobody and cost a tenth of a second of CPU to render
    open_rows = queries.list_alerts(session, unit_ids=me.unit_ids, status="open", limit=ALERT_CARDS,
                                    above_ids=me.above_ids)
    open_total = len(open_rows) if len(open_rows) < ALERT_CARDS else \
        queries.count_alerts(session, unit_ids=me.unit_ids, status="open", above_ids=me.above_ids)
    handled = queries.list_handled_alerts(session, unit_ids=me.unit_ids, limit=50, above_ids=me.above_ids)
    return render(request, "alerts.html", me, "alerts", {
        "open_alerts": [views.alert_read(org, a, now) for a in open_rows], "open_total": open_total,
        "handled_alerts": [views.alert_read(org, a, now) for a in handled],
        "escalations": escalation_histories(session, org, policy, [*open_rows, *handled]),
        "can_handle": me.has_role(*ALERT_HANDLERS), "can_open": me.has_role(*INCIDENT_OPENERS)})


@router.post("/alerts/{alert_id}/ack")
def alert_ack(me: PageUser, session: SessionDep, clock: ClockDep, alert_id: IdPath,
              csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    actions.acknowledge_alert(session, me, alert_id=alert_id, clock=clock)
    return _back("/alerts", "ack")


@router.post("/alerts/{alert_id}/dismiss")
def alert_dismiss(me: PageUser, session: SessionDep, clock: ClockDep, alert_id: IdPath,
                  csrf_token: CsrfField = "", reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    actions.dismiss_alert(session, me, alert_id=alert_id, reason=reason.strip() or "误报", clock=clock)
    return _back("/alerts", "dismiss")


@router.post("/alerts/{alert_id}/incident")
def alert_open_incident(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                        alert_id: IdPath, csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    incident = actions.open_incident(session, me, alert_id=alert_id, org=org, policy=policy, clock=clock)
    return _back(f"/incidents/{incident.id}", "incident")


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                   policy: PolicyDep,
                   status_: Annotated[Literal["active", "ended", "open", "acknowledged", "responding", "monitoring",
                                              "closed", "reviewed", "merged"] | None, Query(alias="status")] = None,
                   cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None) -> Response:
    """The incident list, most severe first, a page of :data:`INCIDENT_PAGE_SIZE` at a time (keyset pages, as the
    API's): each row's clocks are computed in Python, so 200 rows on one page cost a tenth of a second of CPU."""
    from urllib.parse import urlencode

    from itsdangerous import URLSafeSerializer

    from api import listings
    from api.pagination import CURSOR_SALT, PageRequest, paginate

    stmt, order = listings.incidents(unit_ids=me.unit_ids,
                                     statuses=queries.incident_statuses(status_) if status_ else None)
    page = PageRequest(cursor=cursor or None, limit=INCIDENT_PAGE_SIZE,
                       serializer=URLSafeSerializer(request.app.state.settings.secret_key, salt=CURSOR_SALT))
    got = paginate(session, stmt, order=order, page=page, scope=page.scope("incidents-page", status=status_))
    rows = [i for (i,) in got.rows]
    next_link = ("/incidents?" + urlencode({k: v for k, v in (("status", status_), ("cursor", got.next_cursor)) if v})
                 if got.next_cursor else "")
    return render(request, "incidents.html", me, "incidents", {
        "incidents": views.incident_list_reads(session, org, rows, policy=policy, clock=clock), "status": status_,
        "total": got.total, "next_link": next_link, "paged": bool(cursor)})


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep,
                  policy: PolicyDep, incident_id: IdPath,
                  evidence_page: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    incident = queries.get_incident(session, incident_id=incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"事件 {incident_id} 不存在")
    ensure_unit(me, incident.unit_id)
    read = views.incident_read(session, org, incident, policy=policy, clock=clock)
    from incidents.action_items import may_mark_done
    from incidents.resurgence import DECIDE_ROLES

    return render(request, "incident.html", me, "incidents", {
        "incident": read, "can": incident_permissions(me, incident), "people": org.people,
        "item_can": {i.id: may_mark_done(roles=me.roles, login=me.login, owner_id=i.owner_id)
                     for r in read.reviews for i in r.action_items},
        "can_decide_resurgence": me.has_role(*DECIDE_ROLES),
        "task_can": {t.id: actions.may_tick(me, t, org) for t in incident.tasks},
        "report_kinds": [("initial", "初报"), ("follow_up", "续报"), ("final", "终报")],
        "duration": present.duration_text, "statements": _statement_reads(session, org, incident.id),
        "deleted_articles": _deleted_articles(session, read),
        "evidence": evidence_slice(read.story.articles if read.story else [], evidence_page),
        "regulator_forms": regulator_forms(session, me, incident, org=org, policy=policy, clock=clock,
                                           tz=request.app.state.settings.timezone),
        "merged_into": merged_into(incident),
        "merged_in": [(e.data.get("merged"), e.data.get("merged_number")) for e in incident.events
                      if e.kind == MERGED_IN]})


def evidence_slice(articles: list, raw_page: str | None) -> dict[str, Any]:
    """One page of the incident's evidence (EVIDENCE_PAGE_SIZE articles, in publication order).

    A crisis story gathers hundreds of reposts; listed in full they made the page ~17,000 px tall and pushed the
    timeline out of reach, so the page shows them collapsed, a page at a time. A page number that is not a whole
    number, or is below 1, means page 1 and one past the end means the last page: a stale or hand-edited link still
    shows evidence instead of an error (the route refuses a value over 100 characters with 422). The list opens
    (``open``) only when a page was asked for. Only rendering is paged: ``views.incident_read`` still reads every
    article of the story, as the JSON API returns them all.
    """
    total = len(articles)
    pages = max(1, -(-total // EVIDENCE_PAGE_SIZE))
    digits = (raw_page or "").strip()
    # ASCII digits only (str.isdigit() also accepts "²", which int() refuses); a huge number is past the end.
    whole = re.fullmatch(r"[0-9]+", digits) is not None
    page = (int(digits) if len(digits) <= 9 else pages) if whole else 1
    page = min(max(page, 1), pages)
    start = (page - 1) * EVIDENCE_PAGE_SIZE
    return {"articles": articles[start:start + EVIDENCE_PAGE_SIZE], "total": total, "page": page, "pages": pages,
            "start": start, "size": EVIDENCE_PAGE_SIZE, "open": raw_page is not None}


def _deleted_articles(session, read) -> dict:
    """Article id → when the deletion watch found it taken down, for the page's evidence list (已删除)."""
    from incidents.deletion_watch import deleted_marks

    return deleted_marks(session, [a.id for a in read.story.articles] if read.story else [])


def _statement_reads(session, org, incident_id: int) -> list:
    """The incident's statements (口径) for the page's summary; the work is on /incidents/{id}/statements."""
    from api.statements import statement_read
    from incidents.statements import statements_of

    return [statement_read(org, s) for s in statements_of(session, incident_id)]


@router.post("/tasks/{task_id}/complete")
def task_complete(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, task_id: IdPath,
                  csrf_token: CsrfField = "", note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    task = actions.complete_task(session, me, task_id=task_id, note=note.strip(), org=org, clock=clock)
    return _back(f"/incidents/{task.incident_id}", "task", anchor=f"task-{task.id}")


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, me: PageUser, session: SessionDep, clock: ClockDep) -> Response:
    from incidents.source_alerts import STATE_LABELS, source_alert_notes  # what the admins were last told

    return render(request, "sources.html", me, "sources",
                  {"sources": views.source_reads(session, request.app.state.sources, clock.now()),
                   "told": source_alert_notes(session, request.app.state.sources), "told_labels": STATE_LABELS})


# --- helpers -------------------------------------------------------------------------------------------------
def overview_context(session, me: Principal, *, org, clock, policy, sources) -> dict[str, Any]:
    now = clock.now()
    by_level = queries.incident_level_counts(session, unit_ids=me.unit_ids, status="active")
    incidents = queries.list_incidents(session, unit_ids=me.unit_ids, status="active", limit=OVERVIEW_INCIDENTS)
    open_alerts = queries.list_alerts(session, unit_ids=me.unit_ids, status="open", limit=50,
                                      above_ids=me.above_ids)
    health = views.source_reads(session, sources, now)
    return {
        "incidents_by_level": {lv: by_level.get(lv, 0) for lv in LEVEL_ORDER},
        "open_incidents": views.incident_list_reads(session, org, incidents[:OVERVIEW_INCIDENTS], policy=policy,
                                                    clock=clock),
        "open_alerts": [views.alert_read(org, a, now) for a in open_alerts],
        "mentions": views.mention_reads(org, queries.mention_feed(session, unit_ids=me.unit_ids, sort="time",
                                                                  limit=OVERVIEW_MENTIONS)),
        "source_counts": Counter(s.health for s in health),
        "problem_sources": [s for s in health if s.health in {"failing", "silent", "never_run"}],
    }


def render(request: Request, template: str, me: Principal, nav: str, context: dict[str, Any],
           status_code: int = 200) -> Response:
    state = request.app.state
    flash = FLASH_MESSAGES.get(request.query_params.get("done", ""), "")
    now = state.clock.now()
    base = {"me": me, "nav": nav, "flash": flash, "bank_name": state.org.bank.name, "now": now,
            "calendar_notice": calendar_notice(state.settings, now, me),
            "demo_notice": getattr(state, "demo_notice", "")}  # yuqing demo: its script is over (runner.demo)
    return state.templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code,
                                            headers={"Cache-Control": "no-store"})


def _back(path: str, done: str, anchor: str = "") -> Response:
    """Post/redirect/get back to a page, with a fixed flash code (never user text) in the query."""
    return RedirectResponse(f"{path}?done={done}" + (f"#{anchor}" if anchor else ""),
                            status_code=status.HTTP_303_SEE_OTHER)


# --- 审计日志 (admins only) --------------------------------------------------------------------------------------
@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request, me: PageUser, session: SessionDep, actor: str = "", action: str = "",
               object_type: str = "", object_id: str = "", since: str = "", until: str = "", before_id: str = "",
               after_id: str = "") -> Response:
    """The audit log, newest first, filtered and paged by id, with the hash chain's verdict on top.

    Parameters are plain strings checked here, after the role check, so only an admin ever learns whether a
    query was well-formed (everyone else gets 403), and an empty form field means "no filter", not an error.
    """
    # Imported here so this page stays a self-contained addition to the module.
    import json
    from datetime import UTC, datetime
    from urllib.parse import urlencode

    from api.deps import MAX_ROW_ID, ensure_role
    from api.routers import audit as audit_api
    from yuqing import audit_chain
    from yuqing.org import Role

    ensure_role(me, Role.admin)
    tz = request.app.state.settings.tz
    raw = {"actor": actor, "action": action, "object_type": object_type, "object_id": object_id, "since": since,
           "until": until}
    raw = {k: v.strip() for k, v in raw.items()}
    if any(len(v) > 64 for v in raw.values()):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "筛选条件过长（每项最多 64 个字符）")

    def local_time(name: str, label: str) -> datetime | None:
        if not raw[name]:
            return None
        try:
            value = datetime.fromisoformat(raw[name])
            return (value.replace(tzinfo=tz) if value.tzinfo is None else value).astimezone(UTC)
        except (ValueError, OverflowError):  # not a time, or one that leaves the calendar in UTC
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"{label}时间格式无效：请使用 2026-11-23 09:30 这样的格式") from None

    def row_id(value: str, label: str) -> int | None:
        if not value.strip():
            return None
        if not (value.strip().isascii() and value.strip().isdigit()) or not 1 <= int(value) <= MAX_ROW_ID:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{label}无效")
        return int(value)

    filters = audit_api.AuditFilters(actor=raw["actor"] or None, action=raw["action"] or None,
                                     object_type=raw["object_type"] or None, object_id=raw["object_id"] or None,
                                     since=local_time("since", "起始"), until=local_time("until", "截止"))
    before, after = row_id(before_id, "翻页位置"), row_id(after_id, "翻页位置")
    page = audit_api.search(session, filters, before_id=before, after_id=None if before is not None else after)
    kept = {k: v for k, v in raw.items() if v}
    entries = [{
        "id": e.id, "at": e.at, "at_local": e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), "actor": e.actor,
        "action": e.action, "action_name": audit_api.ACTION_NAMES.get(e.action, ""), "object_type": e.object_type,
        "object_type_name": audit_api.OBJECT_TYPE_NAMES.get(e.object_type, ""), "object_id": e.object_id,
        "detail": e.detail, "data": json.dumps(e.data, ensure_ascii=False, sort_keys=True) if e.data else "",
        "row_hash": e.row_hash, "prev_hash": e.prev_hash} for e in page.entries]
    return render(request, "audit.html", me, "audit", {
        "entries": entries, "total": page.total, "filters": raw, "filtered": bool(kept),
        "newer_query": urlencode({**kept, "after_id": page.newer_after_id}) if page.newer_after_id else "",
        "older_query": urlencode({**kept, "before_id": page.older_before_id}) if page.older_before_id else "",
        "newest_query": urlencode(kept), "paged": before is not None or after is not None,
        "chain": audit_chain.verify(session), "suggestions": audit_api.distinct_values(session),
        "timezone": request.app.state.settings.timezone})


# --- incident lifecycle forms (who may: incidents.lifecycle; the buttons show only to them) ---------------------
Text = Annotated[str, Form(max_length=20000)]
Reason = Annotated[str, Form(max_length=2000)]


def incident_permissions(me: Principal, incident: Any) -> dict[str, bool]:
    """Which lifecycle forms the page shows this user: role allowed and the status admits the action."""
    from incidents.lifecycle import TRANSITIONS, Action, IncidentStatus, may

    status = IncidentStatus(incident.status)
    return {a.value: may(me.roles, a) and status in TRANSITIONS[a][0] for a in Action}


@router.post("/incidents/{incident_id}/ack")
def incident_ack(me: PageUser, session: SessionDep, clock: ClockDep, incident_id: IdPath,
                 csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    actions.acknowledge_incident(session, me, incident_id=incident_id, clock=clock)
    return _back(f"/incidents/{incident_id}", "inc_ack")


@router.post("/incidents/{incident_id}/respond")
def incident_respond(me: PageUser, session: SessionDep, clock: ClockDep, incident_id: IdPath,
                     csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    actions.start_response(session, me, incident_id=incident_id, clock=clock)
    return _back(f"/incidents/{incident_id}", "respond")


@router.post("/incidents/{incident_id}/monitor")
def incident_monitor(me: PageUser, session: SessionDep, clock: ClockDep, incident_id: IdPath,
                     csrf_token: CsrfField = "", note: Reason = "") -> Response:
    ensure_csrf(me, csrf_token)
    actions.start_monitoring(session, me, incident_id=incident_id, note=note, clock=clock)
    return _back(f"/incidents/{incident_id}", "monitor")


@router.post("/incidents/{incident_id}/level")
def incident_level(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                   incident_id: IdPath, csrf_token: CsrfField = "",
                   level: Annotated[Literal["I", "II", "III", "IV"], Form()] = "IV", reason: Reason = "") -> Response:
    ensure_csrf(me, csrf_token)
    actions.change_level(session, me, incident_id=incident_id, level=level, reason=reason, org=org, policy=policy,
                         clock=clock)
    return _back(f"/incidents/{incident_id}", "level")


@router.post("/incidents/{incident_id}/reports")
def incident_report(me: PageUser, session: SessionDep, clock: ClockDep, incident_id: IdPath,
                    csrf_token: CsrfField = "", kind: Annotated[Literal["initial", "follow_up", "final"], Form()]
                    = "initial", text: Text = "") -> Response:
    ensure_csrf(me, csrf_token)
    actions.file_report(session, me, incident_id=incident_id, kind=kind, text=text, clock=clock)
    return _back(f"/incidents/{incident_id}", "report", anchor="reports")


@router.post("/incidents/{incident_id}/leader-ack")
def incident_leader_ack(me: PageUser, session: SessionDep, clock: ClockDep, incident_id: IdPath,
                        csrf_token: CsrfField = "", note: Reason = "") -> Response:
    ensure_csrf(me, csrf_token)
    actions.leader_acknowledge(session, me, incident_id=incident_id, note=note, clock=clock)
    return _back(f"/incidents/{incident_id}", "leader_ack")


@router.post("/incidents/{incident_id}/close")
def incident_close(me: PageUser, session: SessionDep, clock: ClockDep, incident_id: IdPath,
                   csrf_token: CsrfField = "", summary: Reason = "") -> Response:
    ensure_csrf(me, csrf_token)
    actions.close_incident(session, me, incident_id=incident_id, summary=summary, clock=clock)
    return _back(f"/incidents/{incident_id}", "close")


@router.post("/incidents/{incident_id}/merge")
def incident_merge(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, policy: PolicyDep,
                   incident_id: IdPath, csrf_token: CsrfField = "",
                   into: Annotated[str, Form(max_length=40)] = "", reason: Reason = "") -> Response:
    """合并到…: this case into the one named by number (YQ-…) or id; back on the case merged into."""
    ensure_csrf(me, csrf_token)
    if not into.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "请填写要合并到的事件编号（如 YQ-20261123-001）")
    target = actions.merge_incident(session, me, incident_id=incident_id, into=into, reason=reason, org=org,
                                    policy=policy, clock=clock)
    return _back(f"/incidents/{target.id}", "merged")


@router.post("/incidents/{incident_id}/reopen")
def incident_reopen(me: PageUser, session: SessionDep, clock: ClockDep, incident_id: IdPath,
                    csrf_token: CsrfField = "", reason: Reason = "") -> Response:
    ensure_csrf(me, csrf_token)
    actions.reopen_incident(session, me, incident_id=incident_id, reason=reason, clock=clock)
    return _back(f"/incidents/{incident_id}", "reopen")


@router.post("/incidents/{incident_id}/review")
def incident_review(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, incident_id: IdPath,
                    csrf_token: CsrfField = "", text: Text = "", went_well: Text = "", went_badly: Text = "",
                    item_title: Annotated[list[str] | None, Form(max_length=500)] = None,
                    item_owner: Annotated[list[str] | None, Form(max_length=64)] = None) -> Response:
    """The form sends action items as parallel ``item_title`` / ``item_owner`` fields; empty rows are ignored."""
    from incidents.flows import ActionItemIn

    ensure_csrf(me, csrf_token)
    titles, owners = item_title or [], item_owner or []
    if len(titles) != len(owners) or len(titles) > 50:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "整改事项填写不完整")
    items = [ActionItemIn(t, o) for t, o in zip(titles, owners, strict=True) if t.strip() or o.strip()]
    actions.review_incident(session, me, incident_id=incident_id, text=text, went_well=went_well,
                            went_badly=went_badly, action_items=items, org=org, clock=clock)
    return _back(f"/incidents/{incident_id}", "review", anchor="review")


@router.post("/tasks/{task_id}/reassign")
def task_reassign(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, task_id: IdPath,
                  csrf_token: CsrfField = "", owner_id: Annotated[str, Form(max_length=64)] = "",
                  reason: Reason = "") -> Response:
    ensure_csrf(me, csrf_token)
    task = actions.reassign_task(session, me, task_id=task_id, owner_id=owner_id, reason=reason, org=org,
                                 clock=clock)
    return _back(f"/incidents/{task.incident_id}", "reassign", anchor=f"task-{task.id}")


@router.post("/tasks/{task_id}/not-applicable")
def task_not_applicable(me: PageUser, session: SessionDep, clock: ClockDep, task_id: IdPath,
                        csrf_token: CsrfField = "", reason: Reason = "") -> Response:
    ensure_csrf(me, csrf_token)
    task = actions.task_not_applicable(session, me, task_id=task_id, reason=reason, clock=clock)
    return _back(f"/incidents/{task.incident_id}", "na", anchor=f"task-{task.id}")
