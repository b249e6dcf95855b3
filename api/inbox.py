"""消息: the in-app inbox, its JSON API, one-click acknowledgement links, and the admins' outbox page.

* ``/inbox`` — the signed-in person's own in-app messages, unread first; 标为已读, and 确认 for a message about an
  alert or incident (acknowledging the alert itself when the person may — ``api.actions.acknowledge_alert`` checks
  role and scope — otherwise recording that they have it). The top bar shows the unread count on every page.
* ``GET /api/v1/notifications`` (own only) and ``POST /api/v1/notifications/{id}/read`` (bearer token, like every
  API write). Another person's message answers 404: whose it is is nobody else's business.
* ``/ack/{token}`` — the one-click link in email, SMS and webhook messages. GET shows what is being acknowledged
  and a button; only the POST acknowledges (mail gateways and chat previews fetch links). No login is needed: the
  signed, expiring token is the credential, for one message and one person, and works once. A browser signed in as
  *someone else* is refused, so a forwarded mail cannot be acknowledged in the wrong name by accident. The POST
  carries no CSRF token: a forged cross-site POST would need the token, and then it could only do what the link's
  owner could do with it.
* ``/outbox`` — admins: every message the system sent or tried (subject, recipient, channel, body, status, error),
  for checking delivery; one-click links are never stored, so they are not shown.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from api import actions, users
from api.actions import ALERT_HANDLERS
from api.deps import (
    MAX_ROW_ID,
    ClockDep,
    CurrentUser,
    IdPath,
    OrgDep,
    PageUser,
    Principal,
    SessionDep,
    ensure_csrf,
    ensure_role,
    principal_for,
    read_session_cookie,
)
from api.pages import render
from api.pagination import Page, PageDep, paginate
from incidents import acks, flows, reach
from incidents.briefings.delivery import PURPOSE_LABELS as REPORT_PURPOSE_LABELS
from incidents.briefings.delivery import issue_of_message, record_receipt
from incidents.complaints.scheduled import PURPOSE_LABELS as COMPLAINT_PURPOSE_LABELS
from incidents.errors import IncidentError
from incidents.message_acks import MessageAck
from incidents.models import Alert, Incident, LeadershipAcknowledgement, Notification
from incidents.notify import CHANNEL_LABELS, STATUS_LABELS
from incidents.scheduled import PURPOSE_LABELS as SCHEDULED_PURPOSE_LABELS
from yuqing.org import OrgChart, Person, Role

api_router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
router = APIRouter(tags=["dashboard"], include_in_schema=False)

INBOX_LIMIT = 200
OUTBOX_LIMIT = 200
CsrfField = Annotated[str, Form(max_length=128)]
INBOX_FLASH = {"read": "已标为已读。", "allread": "已全部标为已读。", "ack_alert": "已确认预警，逐级上报已停止。",
               "ack": "已确认收到。"}
PURPOSE_LABELS = {"alert": "预警", "escalation": "逐级上报", "incident_opened": "事件立案", "level_changed": "事件升级",
                  "resurgence": "舆情反弹", "channel_test": "渠道测试",  # api.admin_channels.TEST_PURPOSE
                  reach.PURPOSE: reach.PURPOSE_LABEL,
                  **SCHEDULED_PURPOSE_LABELS, **REPORT_PURPOSE_LABELS, **COMPLAINT_PURPOSE_LABELS}


class NotificationRead(BaseModel):
    id: int
    channel: str
    channel_name: str
    purpose: str
    purpose_name: str
    subject: str
    body: str
    created_at: datetime
    delivered_at: datetime | None
    read_at: datetime | None
    acknowledged_at: datetime | None
    alert_id: int | None
    incident_id: int | None
    link: str | None


class InboxList(Page[NotificationRead]):
    unread: int


def install(app: FastAPI) -> None:
    """Add the routes and the top bar's unread counter (a template global: every page shows it)."""
    app.include_router(api_router)
    app.include_router(router)
    app.state.templates.env.globals["unread_messages"] = lambda me: unread_count_for(app, me)


def unread_count_for(app: FastAPI, me: Principal | None) -> int:
    if me is None:
        return 0
    with app.state.session_factory() as session:
        return unread_count(session, me.login)


# --- queries -----------------------------------------------------------------------------------------------------
def _inbox_query(login: str):
    """A person's in-app messages: stored ones (sent) and those not yet marked delivered (pending) alike."""
    return select(Notification).where(Notification.recipient_id == login, Notification.channel == "in_app",
                                      Notification.status.in_(("pending", "sent")))


def unread_count(session: Session, login: str) -> int:
    q = _inbox_query(login).where(Notification.read_at.is_(None)).subquery()
    return session.scalar(select(func.count()).select_from(q)) or 0


def inbox(session: Session, login: str, *, unread_only: bool = False, limit: int = INBOX_LIMIT) -> list[Notification]:
    q = _inbox_query(login)
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    q = q.order_by(Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc())
    return list(session.scalars(q.limit(limit)))


def acknowledged_at(session: Session, rows: list[Notification]) -> dict[int, datetime]:
    """When each message was acknowledged by its recipient — on any channel: the same message acknowledged from
    its email link counts for its inbox copy too (same person, subject and moment of queueing)."""
    if not rows:
        return {}
    people = {n.recipient_id for n in rows}
    found = session.execute(
        select(Notification.recipient_id, Notification.subject, Notification.created_at, MessageAck.at)
        .join(MessageAck, MessageAck.notification_id == Notification.id)
        .where(Notification.recipient_id.in_(people))).all()
    by_message = {(r, s, c): at for r, s, c, at in found}
    return {n.id: by_message[(n.recipient_id, n.subject, n.created_at)] for n in rows
            if (n.recipient_id, n.subject, n.created_at) in by_message}


def _link(n: Notification) -> str | None:
    if n.purpose in REPORT_PURPOSE_LABELS:  # a 日报 / 周报 delivered: its page (opening it is a receipt)
        m = re.search(r"^处理链接：(/reports/issues/\d+)$", n.body or "", re.MULTILINE)
        return m.group(1) if m else None
    if n.incident_id:
        return f"/incidents/{n.incident_id}"
    if n.alert_id:
        return "/alerts#alert-" + str(n.alert_id)
    return None


def notification_read(n: Notification, acked: datetime | None) -> NotificationRead:
    return NotificationRead(
        id=n.id, channel=n.channel, channel_name=CHANNEL_LABELS.get(n.channel, n.channel), purpose=n.purpose,
        purpose_name=PURPOSE_LABELS.get(n.purpose, n.purpose), subject=n.subject, body=n.body,
        created_at=n.created_at, delivered_at=n.sent_at, read_at=n.read_at, acknowledged_at=acked,
        alert_id=n.alert_id, incident_id=n.incident_id, link=_link(n))


def _own(session: Session, principal: Principal, notification_id: int) -> Notification:
    n = session.get(Notification, notification_id)
    if n is None or n.recipient_id != principal.login:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"消息不存在（编号 {notification_id}）")
    return n


def mark_read(session: Session, n: Notification, now: datetime) -> None:
    if n.read_at is None:
        n.read_at = now
        session.commit()


# --- acknowledging a message (the inbox button and the one-click link) ---------------------------------------
def acknowledge_message(session: Session, principal: Principal, n: Notification, person: Person, *, via: str,
                        now_clock: Any) -> str:
    """Record the person's acknowledgement of one message; acknowledge its alert too when it is still open and
    the person may (the same action, checks and audit entry as the 确认 button on the alerts page). Returns the
    outcome: ``alert_acknowledged``, ``alert_already`` or ``received``. Commits."""
    alert = session.get(Alert, n.alert_id) if n.alert_id else None
    may_ack_alert = (alert is not None and alert.status == "open" and principal.has_role(*ALERT_HANDLERS)
                     and principal.sees_unit(alert.unit_id))
    outcome = "alert_acknowledged" if may_ack_alert else ("alert_already" if alert is not None and
                                                          alert.status != "open" else "received")
    now = now_clock.now()
    acks.record_acknowledgement(session, notification=n, person=person, via=via, now=now, outcome=outcome)
    _leader_knows(session, principal, n, via=via, clock=now_clock)
    issue = issue_of_message(session, n.purpose, n.body)
    if issue is not None:  # a delivered 日报 / 周报 acknowledged: the report is (a leader: 知悉 of its cases)
        record_receipt(session, issue=issue, person=person, unit_ids=set(principal.unit_ids), via=via,
                       acknowledge=True, clock=now_clock)
    if may_ack_alert and alert is not None:
        actions.acknowledge_alert(session, principal, alert_id=alert.id, clock=now_clock)  # commits both
    else:
        session.commit()
    return outcome


def _leader_knows(session: Session, principal: Principal, n: Notification, *, via: str, clock: Any) -> None:
    """A leader acknowledging a message about an incident of their units has said "I know" (领导确认知悉) — their
    own act, recorded as the lifecycle records it (stops the leadership clock). Once per leader and incident."""
    incident = session.get(Incident, n.incident_id) if n.incident_id else None
    if incident is None or not principal.has_role(Role.leader) or not principal.sees_unit(incident.unit_id):
        return
    if session.scalar(select(LeadershipAcknowledgement.id).where(
            LeadershipAcknowledgement.incident_id == incident.id,
            LeadershipAcknowledgement.leader_id == principal.login)) is not None:
        return
    # A refusal (e.g. a case no longer open to it) undoes only this step: the message is still acknowledged.
    with contextlib.suppress(IncidentError), session.begin_nested():
        flows.acknowledge_as_leader(session, incident_id=incident.id, user_login=principal.login,
                                    note="通过一键确认链接确认知悉" if via == "link" else "在站内消息中确认知悉",
                                    clock=clock)


# --- JSON API ----------------------------------------------------------------------------------------------------
@api_router.get("", response_model=InboxList, summary="我的站内消息")
def list_notifications(principal: CurrentUser, session: SessionDep, page: PageDep,
                       unread: Annotated[bool, Query(description="只看未读")] = False) -> InboxList:
    """Unread first, then newest first (as the 消息 page), paged by the shared cursor."""
    q = _inbox_query(principal.login)
    if unread:
        q = q.where(Notification.read_at.is_(None))
    is_read = case((Notification.read_at.is_(None), 0), else_=1)
    got = paginate(session, q, order=[(is_read, False), (Notification.created_at, True), (Notification.id, True)],
                   page=page, scope=page.scope("notifications", unread=unread))
    rows = [n for (n,) in got.rows]
    acked = acknowledged_at(session, rows)
    return InboxList(items=[notification_read(n, acked.get(n.id)) for n in rows], total=got.total,
                     next_cursor=got.next_cursor, unread=unread_count(session, principal.login))


@api_router.post("/{notification_id}/read", response_model=NotificationRead, summary="标为已读")
def read_notification(principal: CurrentUser, session: SessionDep, clock: ClockDep,
                      notification_id: IdPath) -> NotificationRead:
    n = _own(session, principal, notification_id)
    mark_read(session, n, clock.now())
    return notification_read(n, acknowledged_at(session, [n]).get(n.id))


# --- dashboard: 消息 ---------------------------------------------------------------------------------------------
@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(request: Request, me: PageUser, session: SessionDep,
               show: Annotated[Literal["all", "unread"], Query()] = "all") -> Response:
    rows = inbox(session, me.login, unread_only=show == "unread")
    acked = acknowledged_at(session, rows)
    messages = [notification_read(n, acked.get(n.id)) for n in rows]
    return render(request, "inbox.html", me, "inbox", {
        "messages": messages, "show": show, "unread": sum(1 for m in messages if m.read_at is None),
        "flash": INBOX_FLASH.get(request.query_params.get("done", ""), "")})


@router.post("/inbox/{notification_id}/read")
def inbox_read(me: PageUser, session: SessionDep, clock: ClockDep, notification_id: IdPath,
               csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    mark_read(session, _own(session, me, notification_id), clock.now())
    return RedirectResponse(f"/inbox?done=read#msg-{notification_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/inbox/{notification_id}/ack")
def inbox_ack(me: PageUser, session: SessionDep, clock: ClockDep, org: OrgDep, notification_id: IdPath,
              csrf_token: CsrfField = "") -> Response:
    ensure_csrf(me, csrf_token)
    n = _own(session, me, notification_id)
    person = _person(org, me.login)
    try:
        outcome = acknowledge_message(session, me, n, person, via="inbox", now_clock=clock)
    except acks.AckLinkError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, "该消息已确认，无需重复确认") from None
    done = "ack_alert" if outcome == "alert_acknowledged" else "ack"
    return RedirectResponse(f"/inbox?done={done}#msg-{notification_id}", status_code=status.HTTP_303_SEE_OTHER)


# --- one-click acknowledgement ------------------------------------------------------------------------------------
def _links(request: Request) -> acks.AckLinks:
    policy = request.app.state.policy_provider()
    hours = policy.channels.links.ack_expiry_hours if policy is not None else acks.DEFAULT_EXPIRY_HOURS
    return acks.AckLinks(request.app.state.settings.secret_key, base_url="", expiry_hours=hours)


def _person(org: OrgChart, login: str) -> Person:
    try:
        return org.person(login)
    except KeyError:
        raise acks.AckLinkError("gone") from None


def _resolve(request: Request, session: Session, token: str) -> tuple[Notification, Person, Principal]:
    """The message, its recipient and their principal for a usable token; ``AckLinkError`` otherwise."""
    claim = _links(request).read(token)
    n = acks.claim_notification(session, claim)
    org: OrgChart = request.app.state.org
    person = _person(org, claim.person_id)
    user = users.get_user_by_login(session, login=claim.person_id)
    if user is None:
        raise acks.AckLinkError("gone")
    cookie = read_session_cookie(request)
    if cookie is not None and cookie.user_id is not None and cookie.user_id != user.id:
        signed_in = users.get_user(session, user_id=cookie.user_id)
        if signed_in is not None and (signed_in.session_epoch or 0) == cookie.epoch:
            raise acks.AckLinkError("wrong_person")
    return n, person, principal_for(user, org, csrf=None, via="ack_link")


ACK_STATUS = {"invalid": 404, "gone": 404, "expired": 410, "used": 409, "wrong_person": 403}


def _ack_page(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    state = request.app.state
    return state.templates.TemplateResponse(request, "ack.html", {
        "me": None, "nav": "", "flash": "", "bank_name": state.org.bank.name, "now": state.clock.now(),
        "calendar_notice": None, **context}, status_code=status_code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"})


def _refused(request: Request, exc: acks.AckLinkError) -> Response:
    return _ack_page(request, {"state": "refused", "message": exc.user_message},
                     status_code=ACK_STATUS.get(exc.reason, 400))


def _describe(session: Session, n: Notification) -> dict[str, Any]:
    alert = session.get(Alert, n.alert_id) if n.alert_id else None
    incident = session.get(Incident, n.incident_id) if n.incident_id else None
    return {"subject": n.subject, "purpose_name": PURPOSE_LABELS.get(n.purpose, n.purpose),
            "channel_name": CHANNEL_LABELS.get(n.channel, n.channel), "created_at": n.created_at,
            "alert": alert, "incident": incident, "link": _link(n)}


@router.get("/ack/{token}", response_class=HTMLResponse)
def ack_link_page(request: Request, session: SessionDep, token: str) -> Response:
    """Shows what the link acknowledges and a button; never acknowledges (link scanners fetch GETs)."""
    try:
        n, person, _ = _resolve(request, session, token[:1000])
    except acks.AckLinkError as exc:
        return _refused(request, exc)
    done = acks.existing_ack(session, n.id)
    if done is not None:
        return _refused(request, acks.AckLinkError("used"))
    return _ack_page(request, {"state": "confirm", "person": person, "token": token, **_describe(session, n)})


@router.post("/ack/{token}", response_class=HTMLResponse)
def ack_link_confirm(request: Request, session: SessionDep, clock: ClockDep, token: str) -> Response:
    """Records the acknowledgement of the link's person, once."""
    try:
        n, person, principal = _resolve(request, session, token[:1000])
        outcome = acknowledge_message(session, principal, n, person, via="link", now_clock=clock)
    except acks.AckLinkError as exc:
        session.rollback()
        return _refused(request, exc)
    return _ack_page(request, {"state": "done", "person": person, "outcome": outcome, **_describe(session, n)})


# --- dashboard: 发送记录 (admins) --------------------------------------------------------------------------------
@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(request: Request, me: PageUser, session: SessionDep, org: OrgDep, channel: str = "",
                status_: Annotated[str, Query(alias="status", max_length=32)] = "", before_id: str = "") -> Response:
    """Every outbox row, newest first: what was sent to whom, on which channel, and what the channel said."""
    ensure_role(me, Role.admin)
    q = select(Notification).order_by(Notification.id.desc()).limit(OUTBOX_LIMIT)
    if channel in CHANNEL_LABELS:
        q = q.where(Notification.channel == channel)
    if status_ in STATUS_LABELS:
        q = q.where(Notification.status == status_)
    if before_id.strip():
        if not before_id.strip().isdigit() or not 1 <= int(before_id) <= MAX_ROW_ID:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "翻页位置无效")
        q = q.where(Notification.id < int(before_id))
    rows = list(session.scalars(q))
    names = {p.id: p.name for p in org.people}
    counts = dict(session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
    return render(request, "outbox.html", me, "outbox", {
        "rows": rows, "names": names, "channel": channel, "status": status_, "channel_labels": CHANNEL_LABELS,
        "status_labels": STATUS_LABELS, "counts": counts,
        "older": rows[-1].id if len(rows) == OUTBOX_LIMIT else None,
        "robots": _robots_received(request.app.state)})


ROBOTS_SHOWN = 30


def _robots_received(state: Any) -> list[dict[str, Any]]:
    """What each group robot received, newest first, when the app runs beside chat platforms it can read (the
    demo hands over the sim's ``robot_received``); empty otherwise — a real platform's side is not ours to show."""
    received = getattr(state, "robot_received", None)
    if not received:
        return []
    out = []
    for key in ("wecom", "dingtalk", "feishu"):
        messages = list(received.get(key) or [])
        shown = []
        for m in reversed(messages[-ROBOTS_SHOWN:]):
            try:
                at = datetime.fromisoformat(str(m.get("at")))
            except ValueError:
                at = None
            shown.append({"at": at, "title": str(m.get("title") or ""), "content": str(m.get("content") or ""),
                          "msgtype": str(m.get("msgtype") or ""), "signed": bool(m.get("signed")),
                          "mentions": [str(x) for x in m.get("mentions") or []]})
        out.append({"key": key, "label": CHANNEL_LABELS.get(key, key), "total": len(messages), "messages": shown})
    return out
