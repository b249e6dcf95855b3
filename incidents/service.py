"""Incident response service: the only place that changes alerts, incidents, tasks and the notification outbox.

The pipeline calls ``handle_story_risk`` after each risk recomputation; people act through the other functions
(acknowledge, dismiss, open, complete, change level, close); periodic jobs are in ``incidents.scheduled``.
Every function takes keyword arguments, writes its timeline event, audit entry and outbox rows in the caller's
transaction (it flushes, the caller commits), and raises ``IncidentError`` with a Chinese ``user_message`` for
impossible state changes. Re-running any of them after a crash queues nothing twice (outbox ``dedup_key``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.claims import hold
from crawlers.models import Story
from incidents import playbooks
from incidents.clocks import step_due_at
from incidents.errors import IncidentError, NotFound
from incidents.escalation import EscalationStep, build_chain
from incidents.levels import automatic_level, is_higher, level_title
from incidents.lifecycle import ENDED, IncidentStatus
from incidents.messages import compose, local_time, plain_line
from incidents.models import Alert, Incident, Notification, Task, TimelineEvent
from incidents.notify import queue_notifications
from incidents.numbering import next_incident_number
from incidents.policy import PlaybookStep, Policy
from incidents.reach import notify_reached
from incidents.routing import resolve_chain
from sentiment import feedback as sentiment_feedback
from sentiment.models import StoryRisk
from yuqing import audit_chain
from yuqing.clock import Clock
from yuqing.org import ROLE_LABELS, OrgChart, Person, Role

log = logging.getLogger(__name__)

SYSTEM = "system"
OPEN, ACKNOWLEDGED, DISMISSED = "open", "acknowledged", "dismissed"  # alert statuses
CLOSED = IncidentStatus.closed

# Moved while service.py is split into flows (changes), scheduled (periodic jobs) and queries (reads); the old
# names keep working for callers not yet moved. Resolved lazily: incidents.flows imports this module's helpers.
_MOVED = {"complete_task": "incidents.flows", "change_level": "incidents.flows", "close_incident": "incidents.flows",
          "list_incidents": "incidents.queries", "get_incident": "incidents.queries",
          "incident_clocks": "incidents.queries", "incident_facts": "incidents.queries",
          "run_escalations": "incidents.scheduled"}


def __getattr__(name: str) -> object:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class AlertOutcome:
    """What ``handle_story_risk`` did, for the pipeline's log and stats."""

    alert_id: int | None = None
    incident_id: int | None = None
    alert_created: bool = False
    incident_opened: bool = False
    alert_level_change: tuple[str, str] | None = None
    incident_level_change: tuple[str, str] | None = None
    notifications_queued: int = 0


# --- the pipeline's entry point --------------------------------------------------------------------------------

def handle_story_risk(session: Session, *, story_risk: StoryRisk, org: OrgChart, policy: Policy,
                      clock: Clock) -> AlertOutcome:
    """Create or update the story's alert (and incident) after its risk was recomputed."""
    now = clock.now()
    out = AlertOutcome()
    story = session.get(Story, story_risk.story_id)
    if story is None:
        log.warning("story risk for unknown story ignored", extra={"story_id": story_risk.story_id})
        return out
    alert = session.scalar(select(Alert).where(Alert.story_id == story.id))
    if alert is None and story_risk.level is None:
        return out
    if alert is None:
        alert = _create_alert(session, story=story, risk=story_risk, org=org, policy=policy, now=now)
        out.alert_created = True
    else:
        alert.risk_score = float(story_risk.score)
        alert.factors = dict(story_risk.factors or {})
        alert.category = story_risk.category or alert.category
        alert.title = story.title or alert.title
        alert.updated_at = now
        new_level = automatic_level(alert.level, story_risk.level)
        if new_level is not None and new_level != alert.level:
            out.alert_level_change = (alert.level, new_level)
            alert.level = new_level
            # The escalation chain depends on the level (a level IV alert stops before leaders): re-plan it.
            alert.escalation_chain = [s.to_json() for s in build_chain(
                org, alert.unit_id, policy.levels_file.escalation_roles(new_level))]
            if alert.status == DISMISSED:
                alert.status = OPEN
                alert.escalation_step = 0
                alert.ack_due_at = None
                _audit(session, now, SYSTEM, "alert.reopen", "alert", alert.id,
                       f"误报预警风险升至{level_title(new_level)}，重新打开", {"level": new_level})
            if alert.status == OPEN:
                due = now + timedelta(minutes=policy.level(new_level).ack_minutes)
                alert.ack_due_at = min(alert.ack_due_at, due) if alert.ack_due_at else due
    out.alert_id = alert.id

    incident = session.get(Incident, alert.incident_id) if alert.incident_id else None
    if incident is not None:
        incident.peak_risk = max(incident.peak_risk or 0.0, float(story_risk.score))
        from incidents.resurgence import handle_resurgence  # 舆情反弹: the rule and what it does live there

        resurged = handle_resurgence(session, incident=incident, alert=alert, story_risk=story_risk, org=org,
                                     policy=policy, now=now)
        if resurged is not None:
            out.notifications_queued += resurged.notifications_queued
            out.incident_level_change = resurged.level_change
        elif out.alert_level_change and is_higher(alert.level, incident.level):
            if incident.status in ENDED:
                _event(session, incident, now, "risk_rose_after_close", SYSTEM,
                       f"事件已结案，但风险等级升至{level_title(alert.level)}，请研判是否重新处置",
                       {"level": alert.level, "score": alert.risk_score})
            else:
                from incidents.flows import apply_level  # flows builds on this module's helpers

                old = incident.level
                out.notifications_queued += apply_level(
                    session, incident=incident, new_level=alert.level, reason="风险评分上升，系统自动升级",
                    actor=SYSTEM, alert=alert, org=org, policy=policy, now=now)
                out.incident_level_change = (old, alert.level)
        if incident.status not in ENDED:  # a new channel or category may make another playbook apply
            playbooks.follow_story(session, incident=incident, alert=alert, org=org, policy=policy, now=now)
    elif alert.status != DISMISSED and policy.level(alert.level).auto_open_incident:
        incident, queued = _open_incident(session, alert=alert, story=story, actor=SYSTEM, org=org,
                                          policy=policy, now=now)
        out.incident_opened = True
        out.notifications_queued += queued
    out.incident_id = incident.id if incident is not None else None
    if out.alert_created or out.alert_level_change:
        # After the incident step, so the duty monitors' message links to the incident when there is one.
        out.notifications_queued += _notify_alert(session, alert=alert, org=org, policy=policy, now=now)
    # the branches a head-office post names by place (crawlers.matching rule j), at each level and as they appear
    out.notifications_queued += notify_reached(session, alert=alert, org=org, policy=policy, now=now)
    session.flush()
    return out


def handle_pending_risks(session: Session, *, org: OrgChart, policy: Policy, clock: Clock) -> int:
    """The incident stage: handle every ``story_risks`` row not yet handled; returns how many were handled.

    Work is claimed by story: each story with unhandled risk rows is taken in a short transaction of its own that
    holds the story's row (``crawlers.claims.hold``: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, the
    write lock on SQLite), handles that story's unhandled rows oldest first, marks them handled and commits. A
    second runner at the same time skips a story being handled (and finds its rows handled when it comes back),
    so no risk row raises an alert twice and one story never gets two alerts; a runner that dies mid-story holds
    nothing once its connection is gone (the transaction rolls back, the rows stay unhandled for the next runner).
    Stories are taken in the order of their oldest unhandled row. A failure rolls the story back and raises.
    """
    pending = session.scalars(select(StoryRisk.story_id).where(StoryRisk.handled_at.is_(None))
                              .order_by(StoryRisk.computed_at, StoryRisk.id)).all()
    session.rollback()
    handled = 0
    for story_id in dict.fromkeys(pending):
        try:
            if not hold(session, Story.id, story_id):
                session.rollback()  # another runner is handling this story
                continue
            risks = session.scalars(select(StoryRisk).where(StoryRisk.story_id == story_id,
                                                            StoryRisk.handled_at.is_(None))
                                    .order_by(StoryRisk.computed_at, StoryRisk.id)).all()
            for risk in risks:
                handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
                risk.handled_at = clock.now()
            session.commit()
            handled += len(risks)
        except BaseException:
            session.rollback()
            raise
    return handled


# --- people's actions ------------------------------------------------------------------------------------------

def acknowledge_alert(session: Session, *, alert_id: int, user_login: str, clock: Clock) -> Alert:
    """Acknowledge an alert; stops its escalation and cancels escalation messages not yet sent."""
    now = clock.now()
    alert = _get_alert(session, alert_id)
    if alert.status == ACKNOWLEDGED:
        raise IncidentError(f"alert {alert_id} already acknowledged by {alert.acknowledged_by}",
                            f"该预警已由 {alert.acknowledged_by} 确认，无需重复确认")
    if alert.status == DISMISSED:
        raise IncidentError(f"alert {alert_id} was dismissed", "该预警已被标记为误报，不能确认")
    alert.status = ACKNOWLEDGED
    alert.acknowledged_at = now
    alert.acknowledged_by = user_login
    _cancel_pending(session, alert_id=alert.id, purposes=("escalation",), reason="预警已确认")
    if alert.incident_id:
        incident = session.get(Incident, alert.incident_id)
        if incident is not None:
            from incidents.flows import record_acknowledged  # flows builds on this module's helpers

            record_acknowledged(session, incident=incident, actor=user_login, now=now,
                                text=f"{user_login} 确认了预警，事件随之确认")
    _audit(session, now, user_login, "alert.acknowledge", "alert", alert.id, "确认预警", {})
    session.flush()
    return alert


def dismiss_alert(session: Session, *, alert_id: int, user_login: str, reason: str, clock: Clock) -> Alert:
    """Mark an alert as a false positive; the reason is kept so the risk model can learn from it."""
    now = clock.now()
    alert = _get_alert(session, alert_id)
    if not reason.strip():
        raise IncidentError("dismissal needs a reason", "标记误报需要填写原因", code="reason_required")
    if alert.status == DISMISSED:
        raise IncidentError(f"alert {alert_id} already dismissed", "该预警已被标记为误报")
    if alert.incident_id:
        incident = session.get(Incident, alert.incident_id)
        if incident is not None and incident.status not in ENDED:
            raise IncidentError(f"alert {alert_id} has open incident {incident.number}",
                                f"该预警已建立事件 {incident.number}，请在事件中处理或结案")
    alert.status = DISMISSED
    alert.dismissed_reason = reason.strip()
    alert.dismissed_at = now
    alert.dismissed_by = user_login
    _cancel_pending(session, alert_id=alert.id, purposes=("escalation", "alert"), reason="预警已标记为误报")
    sentiment_feedback.record_dismissal(session, story_id=alert.story_id, alert_id=alert.id, user_login=user_login,
                                        reason=alert.dismissed_reason, at=now)
    _audit(session, now, user_login, "alert.dismiss", "alert", alert.id, reason.strip(),
           {"story_id": alert.story_id, "level": alert.level, "category": alert.category,
            "risk_score": alert.risk_score, "factors": alert.factors})
    session.flush()
    return alert


def open_incident_from_alert(session: Session, *, alert_id: int, user_login: str, org: OrgChart, policy: Policy,
                             clock: Clock) -> Incident:
    """Open an incident by hand for an alert the policy left as alert-only (e.g. level IV)."""
    now = clock.now()
    alert = _get_alert(session, alert_id)
    if alert.incident_id:
        existing = session.get(Incident, alert.incident_id)
        number = existing.number if existing else alert.incident_id
        raise IncidentError(f"alert {alert_id} already has incident {number}", f"该预警已建立事件 {number}")
    if alert.status == DISMISSED:
        raise IncidentError(f"alert {alert_id} was dismissed", "已标记为误报的预警不能建立事件")
    story = session.get(Story, alert.story_id)
    if alert.status == OPEN:
        alert.status = ACKNOWLEDGED
        alert.acknowledged_at = now
        alert.acknowledged_by = user_login
        _cancel_pending(session, alert_id=alert.id, purposes=("escalation",), reason="已建立事件")
    incident, _ = _open_incident(session, alert=alert, story=story, actor=user_login, org=org, policy=policy,
                                 now=now)
    from incidents.flows import record_acknowledged  # flows builds on this module's helpers

    record_acknowledged(session, incident=incident, actor=user_login, now=now, text=f"{user_login} 人工立案并确认")
    sentiment_feedback.record_manual_raise(session, story_id=alert.story_id, alert_id=alert.id, user_login=user_login,
                                           reason=f"人工立案：{level_title(alert.level)}", at=now)
    session.flush()
    return incident


# --- queries for the dashboard and the API ---------------------------------------------------------------------

def list_alerts(session: Session, *, status: str | None = None, unit_ids: Iterable[str] | None = None,
                limit: int = 100) -> list[Alert]:
    """Alerts, most recently updated first, optionally by status and restricted to some units."""
    q = select(Alert).order_by(Alert.updated_at.desc(), Alert.id.desc()).limit(limit)
    if status:
        q = q.where(Alert.status == status)
    if unit_ids is not None:
        q = q.where(Alert.unit_id.in_(list(unit_ids)))
    return list(session.scalars(q))


def list_notifications(session: Session, *, recipient_id: str, channel: str = "in_app", unread_only: bool = False,
                       limit: int = 50) -> list[Notification]:
    """A person's notifications on one channel (the in-app inbox), newest first."""
    q = (select(Notification).where(Notification.recipient_id == recipient_id, Notification.channel == channel,
                                    Notification.status.in_(("pending", "sent")))
         .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    return list(session.scalars(q))


def mark_notification_read(session: Session, *, notification_id: int, recipient_id: str, clock: Clock) -> None:
    """Mark one of the person's own notifications as read."""
    n = session.get(Notification, notification_id)
    if n is None or n.recipient_id != recipient_id:
        raise NotFound("notification", notification_id, "通知")
    n.read_at = n.read_at or clock.now()
    session.flush()


# --- helpers ---------------------------------------------------------------------------------------------------

def _create_alert(session: Session, *, story: Story, risk: StoryRisk, org: OrgChart, policy: Policy,
                  now: datetime) -> Alert:
    unit_id = _unit_for(org, story.unit_id)
    level = str(risk.level)
    chain = build_chain(org, unit_id, policy.levels_file.escalation_roles(level))
    alert = Alert(story_id=story.id, unit_id=unit_id, level=level, risk_score=float(risk.score),
                  category=risk.category or "other", title=story.title or "（无标题）",
                  factors=dict(risk.factors or {}), status=OPEN, created_at=now, updated_at=now,
                  ack_due_at=now + timedelta(minutes=policy.level(level).ack_minutes), escalation_step=0,
                  escalation_chain=[s.to_json() for s in chain])
    session.add(alert)
    session.flush()
    _audit(session, now, SYSTEM, "alert.create", "alert", alert.id, f"{level_title(level)} {alert.title}",
           {"story_id": story.id, "score": alert.risk_score})
    return alert


def _notify_alert(session: Session, *, alert: Alert, org: OrgChart, policy: Policy, now: datetime) -> int:
    """Tell the first step of the chain (the duty monitors) about a new alert or a higher level."""
    chain = _chain(alert, org, policy)
    if not chain:
        log.warning("alert has nobody to notify", extra={"alert_id": alert.id, "unit_id": alert.unit_id})
        return 0
    return queue_notifications(session, people=_people(org, chain[0].people), policy=policy, now=now, alert=alert,
                               incident_id=alert.incident_id, purpose="alert", level=alert.level,
                               key=f"alert:{alert.id}:level:{alert.level}",
                               message=_message(session, alert=alert, org=org, policy=policy, purpose="alert",
                                                deadline=alert.ack_due_at))


def _open_incident(session: Session, *, alert: Alert, story: Story | None, actor: str, org: OrgChart,
                   policy: Policy, now: datetime) -> tuple[Incident, int]:
    level = alert.level
    context = playbooks.story_context(session, story_id=alert.story_id, categories=[alert.category])
    applied = playbooks.matching(policy, categories=context.categories, level=level, channels=context.channels)
    commanders = org.nearest_with_role(Role.commander, alert.unit_id)
    incident = Incident(number=_next_number(session, now, policy), title=alert.title, unit_id=alert.unit_id,
                        level=level, category=alert.category, playbook=applied[0].id, status=IncidentStatus.open,
                        story_id=alert.story_id, opened_at=now, commander_id=commanders[0].id if commanders else None,
                        summary="", peak_risk=alert.risk_score)
    session.add(incident)
    session.flush()
    alert.incident_id = incident.id
    playbooks.open_checklist(session, incident=incident, playbooks=applied, context=context, org=org, policy=policy,
                             now=now)
    who = "系统自动" if actor == SYSTEM else actor
    _event(session, incident, now, "opened", actor,
           f"{who}立案：{level_title(level)}，处置清单“{'”“'.join(p.name for p in applied)}”，"
           f"风险分值 {alert.risk_score:.1f}",
           {"level": level, "score": alert.risk_score, "factors": alert.factors, "playbook": applied[0].id,
            "playbooks": [p.id for p in applied], "alert_id": alert.id, "channels": list(context.channels)})
    _audit(session, now, actor, "incident.open", "incident", incident.id, incident.number,
           {"level": level, "alert_id": alert.id, "playbook": applied[0].id, "playbooks": [p.id for p in applied]})
    queued = _notify_incident(session, incident=incident, alert=alert, purpose="incident_opened", org=org,
                              policy=policy, now=now)
    return incident, queued


def _notify_incident(session: Session, *, incident: Incident, alert: Alert | None, purpose: str, org: OrgChart,
                     policy: Policy, now: datetime, previous_level: str | None = None) -> int:
    """Tell the level's reporting chain (config ``reporting_chain``), each group with its own acknowledgement
    deadline, in one message per level (group robots post it once); once per (incident, level, person, channel)
    however often this runs."""
    lv = policy.level(incident.level)
    groups = resolve_chain(org, incident.unit_id, lv.reporting_chain, default_ack_minutes=lv.ack_minutes)
    told = [{"group": g.key, "label": g.label, "people": [p.id for p in g.people],
             "ack_due_at": (now + timedelta(minutes=g.ack_minutes)).isoformat()} for g in groups]
    subject, body = compose(
        purpose=purpose, level=incident.level, unit_name=_unit_name(org, incident.unit_id), title=incident.title,
        score=alert.risk_score if alert else incident.peak_risk, category=incident.category,
        factors=alert.factors if alert else {}, link=f"/incidents/{incident.id}", number=incident.number,
        previous_level=previous_level, tz=policy.timezone)
    block = [f"{level_title(incident.level)}报告链（各组请在时限内确认）："] + [
        f"  · {plain_line(g.label, 40)}：{'、'.join(p.name for p in g.people)}，"
        f"请于 {_local(now + timedelta(minutes=g.ack_minutes), policy)}（北京时间）前确认"
        for g in groups if g.people]
    cut = body.rfind("\n处理链接：")
    body = body[:cut] + "\n" + "\n".join(block) + body[cut:]
    queued = 0
    for group in groups:
        if not group.people:
            log.warning("reporting group has nobody to tell", extra={"incident_id": incident.id, "group": group.key})
            continue
        queued += queue_notifications(session, people=list(group.people), policy=policy, now=now, alert=alert,
                                      incident_id=incident.id, purpose=purpose,
                                      key=f"incident:{incident.id}:level:{incident.level}",
                                      message=(subject, body), level=incident.level)
    if queued:
        missing = [g["label"] for g in told if not g["people"]]
        _event(session, incident, now, "reporting_chain", SYSTEM,
               f"按{level_title(incident.level)}报告链通知："
               + "；".join(f"{g['label']}（{len(g['people'])}人）" for g in told if g["people"])
               + (f"。无人可通知：{'、'.join(missing)}" if missing else ""),
               {"level": incident.level, "groups": told})
    return queued


def _message(session: Session, *, alert: Alert, org: OrgChart, policy: Policy, purpose: str,
             note: str = "", deadline: datetime | None = None) -> tuple[str, str]:
    number = None
    link = f"/alerts#alert-{alert.id}"  # the alerts page anchors each alert; there is no page per alert
    if alert.incident_id:
        incident = session.get(Incident, alert.incident_id)
        number = incident.number if incident else None
        link = f"/incidents/{alert.incident_id}"
    return compose(purpose=purpose, level=alert.level, unit_name=_unit_name(org, alert.unit_id), title=alert.title,
                   score=alert.risk_score, category=alert.category, factors=alert.factors, link=link,
                   number=number, deadline=deadline, tz=policy.timezone, note=note)


def _cancel_pending(session: Session, *, alert_id: int, purposes: Sequence[str], reason: str) -> int:
    rows = session.scalars(select(Notification).where(Notification.alert_id == alert_id,
                                                      Notification.status == "pending",
                                                      Notification.purpose.in_(list(purposes)))).all()
    for n in rows:
        n.status = "cancelled"
        n.last_error = reason
    return len(rows)


def _add_task(session: Session, *, incident: Incident, step: PlaybookStep, level: str, start: datetime,
              org: OrgChart, policy: Policy) -> Task:
    owners = org.nearest_with_role(step.owner_role, incident.unit_id)
    task = Task(incident=incident, position=len(incident.tasks), key=step.key, title=step.title,
                owner_role=str(step.owner_role), owner_id=owners[0].id if owners else None,
                due_at=step_due_at(step, level=level, start=start, policy=policy), status="todo", note="")
    session.add(task)
    return task


def _chain(alert: Alert, org: OrgChart, policy: Policy) -> list[EscalationStep]:
    if alert.escalation_chain:
        return [EscalationStep.from_json(s) for s in alert.escalation_chain]
    return build_chain(org, alert.unit_id, policy.levels_file.escalation_roles(alert.level))


def _next_number(session: Session, now: datetime, policy: Policy) -> str:
    """YQ-YYYYMMDD-NNN by the local (Asia/Shanghai) date from the day's counter (``incidents.numbering``)."""
    return next_incident_number(session, now, policy.timezone)


def _event(session: Session, incident: Incident, at: datetime, kind: str, actor: str, text: str,
           data: dict) -> TimelineEvent:
    ev = TimelineEvent(incident=incident, at=at, kind=kind, actor=actor, text=text, data=data)
    session.add(ev)
    return ev


def _audit(session: Session, at: datetime, actor: str, action: str, object_type: str, object_id: object,
           detail: str, data: dict) -> None:
    """Through ``audit_chain.append``, the one writer of the audit log, so the entry is hash-chained."""
    audit_chain.append(session, at=at, actor=actor, action=action, object_type=object_type, object_id=object_id,
                       detail=detail, data=data)


def _get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("alert", alert_id, "预警")
    return alert


def _get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("incident", incident_id, "事件")
    return incident


def _unit_for(org: OrgChart, unit_id: str | None) -> str:
    if unit_id:
        try:
            return org.unit(unit_id).id
        except KeyError:
            log.warning("story names a unit missing from the org chart; using head office",
                        extra={"unit_id": unit_id})
    return org.root().id


def _unit_name(org: OrgChart, unit_id: str) -> str:
    try:
        return org.unit(unit_id).name
    except KeyError:
        return unit_id


def _people(org: OrgChart, ids: Iterable[str]) -> list[Person]:
    out = []
    for pid in ids:
        try:
            out.append(org.person(pid))
        except KeyError:
            log.warning("escalation chain names a person no longer in the org chart", extra={"person": pid})
    return out


def _role_label(role: str) -> str:
    try:
        return ROLE_LABELS[Role(role)]
    except ValueError:
        return role


def _local(when: datetime | None, policy: Policy) -> str:
    return local_time(when, policy.timezone)
