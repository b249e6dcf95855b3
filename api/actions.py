"""What a person can do to alerts and tasks, shared by the JSON API and the dashboard forms.

Each action checks the caller's role and unit scope, then calls the incidents service, which owns the state
change, its timeline event, its audit entry and its notifications; the action commits them as one transaction.
A refused change (``IncidentError``) becomes 409 (or 404 / 422) with the service's Chinese message. Free text a
person typed (reasons, notes) is repaired here (``yuqing.text``): a NUL or a lone surrogate would otherwise be
refused by PostgreSQL and turn a valid action into a server error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from api import queries
from api.deps import Principal, ensure_role, ensure_unit
from incidents import flows
from incidents import service as incident_service
from incidents.errors import IncidentError
from incidents.lifecycle import Action, may, may_complete_task, role_names
from incidents.models import Alert, Incident, IncidentReport, IncidentReview, LeadershipAcknowledgement, Task
from incidents.policy import Policy
from yuqing.clock import Clock
from yuqing.org import OrgChart, Role
from yuqing.text import repair_text

R = TypeVar("R")

ALERT_HANDLERS = (Role.monitor, Role.commander, Role.leader, Role.admin)
INCIDENT_OPENERS = (Role.monitor, Role.commander, Role.admin)
ERROR_STATUS = {"not_found": status.HTTP_404_NOT_FOUND, "bad_request": status.HTTP_422_UNPROCESSABLE_CONTENT,
                "reason_required": status.HTTP_422_UNPROCESSABLE_CONTENT}


def acknowledge_alert(session: Session, principal: Principal, *, alert_id: int, clock: Clock) -> Alert:
    """确认: the alert has been seen and is being handled (stops its escalation)."""
    alert = _visible_alert(session, principal, alert_id)
    ensure_role(principal, *ALERT_HANDLERS)
    _call(incident_service.acknowledge_alert, session, alert_id=alert.id, user_login=principal.login, clock=clock)
    session.commit()
    return _reloaded(session, alert)


def dismiss_alert(session: Session, principal: Principal, *, alert_id: int, reason: str, clock: Clock) -> Alert:
    """误报: the alert is a false positive; the reason is kept for tuning."""
    alert = _visible_alert(session, principal, alert_id)
    ensure_role(principal, *ALERT_HANDLERS)
    _call(incident_service.dismiss_alert, session, alert_id=alert.id, user_login=principal.login,
          reason=repair_text(reason).strip() or "误报", clock=clock)
    session.commit()
    return _reloaded(session, alert)


def open_incident(session: Session, principal: Principal, *, alert_id: int, org: OrgChart, policy: Policy | None,
                  clock: Clock) -> Incident:
    """立案: open an incident with its checklist for an alert that has none yet."""
    alert = _visible_alert(session, principal, alert_id)
    ensure_role(principal, *INCIDENT_OPENERS)
    if policy is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "未加载事件分级与处置清单配置，暂时无法立案")
    incident = _call(incident_service.open_incident_from_alert, session, alert_id=alert.id,
                     user_login=principal.login, org=org, policy=policy, clock=clock)
    session.commit()
    return incident


def complete_task(session: Session, principal: Principal, *, task_id: int, note: str, org: OrgChart,
                  clock: Clock) -> Task:
    """完成 one checklist step of an incident the caller's units own, if the step is the caller's to tick
    (``incidents.lifecycle.may_complete_task``: a liaison only its own unit's liaison steps, a sign-off only a
    leader …)."""
    task = _visible_task(session, principal, task_id)
    if not may_tick(principal, task, org):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"无权完成此任务：“{task.title}”由{_owner_text(org, task)}负责")
    _call(flows.complete_task, session, task_id=task.id, user_login=principal.login, clock=clock,
          note=repair_text(note).strip())
    session.commit()
    return _reloaded(session, task)


def may_tick(principal: Principal, task: Task, org: OrgChart) -> bool:
    """Whether this caller may complete this task (the page shows the button only then)."""
    return may_complete_task(roles=principal.roles, unit_id=principal.unit_id, login=principal.login,
                             task_key=task.key, owner_role=task.owner_role, owner_id=task.owner_id,
                             owner_unit_id=_unit_of(org, task.owner_id), incident_unit_id=task.incident.unit_id)


def reassign_task(session: Session, principal: Principal, *, task_id: int, owner_id: str, reason: str,
                  org: OrgChart, clock: Clock) -> Task:
    """改派: the commander or a leader gives a step to someone else."""
    task = _visible_task(session, principal, task_id)
    _ensure_may(principal, Action.reassign_task)
    _call(flows.reassign_task, session, task_id=task.id, user_login=principal.login, owner_id=owner_id.strip(),
          reason=repair_text(reason).strip(), org=org, clock=clock)
    session.commit()
    return _reloaded(session, task)


def task_not_applicable(session: Session, principal: Principal, *, task_id: int, reason: str, clock: Clock) -> Task:
    """不适用: the commander or a leader takes a step off the list, with a reason."""
    task = _visible_task(session, principal, task_id)
    _ensure_may(principal, Action.task_not_applicable)
    _call(flows.mark_task_not_applicable, session, task_id=task.id, user_login=principal.login,
          reason=repair_text(reason).strip(), clock=clock)
    session.commit()
    return _reloaded(session, task)


# --- the incident lifecycle (who may: incidents.lifecycle.ACTION_ROLES) -----------------------------------------

def acknowledge_incident(session: Session, principal: Principal, *, incident_id: int, clock: Clock) -> Incident:
    incident = _visible_incident(session, principal, incident_id)
    _ensure_may(principal, Action.acknowledge)
    _call(flows.acknowledge_incident, session, incident_id=incident.id, user_login=principal.login, clock=clock)
    session.commit()
    return incident


def start_response(session: Session, principal: Principal, *, incident_id: int, clock: Clock) -> Incident:
    incident = _visible_incident(session, principal, incident_id)
    _ensure_may(principal, Action.respond)
    _call(flows.start_response, session, incident_id=incident.id, user_login=principal.login, clock=clock)
    session.commit()
    return incident


def start_monitoring(session: Session, principal: Principal, *, incident_id: int, note: str,
                     clock: Clock) -> Incident:
    incident = _visible_incident(session, principal, incident_id)
    _ensure_may(principal, Action.monitor)
    _call(flows.start_monitoring, session, incident_id=incident.id, user_login=principal.login,
          note=repair_text(note), clock=clock)
    session.commit()
    return incident


def change_level(session: Session, principal: Principal, *, incident_id: int, level: str, reason: str,
                 org: OrgChart, policy: Policy | None, clock: Clock) -> Incident:
    incident = _visible_incident(session, principal, incident_id)
    _ensure_may(principal, Action.change_level)
    _call(flows.change_level, session, incident_id=incident.id, new_level=level, reason=repair_text(reason),
          user_login=principal.login, org=org, policy=_need_policy(policy), clock=clock)
    session.commit()
    return incident


def file_report(session: Session, principal: Principal, *, incident_id: int, kind: str, text: str,
                clock: Clock) -> IncidentReport:
    incident = _visible_incident(session, principal, incident_id)
    _ensure_may(principal, Action.file_report)
    report = _call(flows.file_report, session, incident_id=incident.id, kind=kind, text=repair_text(text),
                   user_login=principal.login, clock=clock)
    session.commit()
    return report


def close_incident(session: Session, principal: Principal, *, incident_id: int, summary: str,
                   clock: Clock) -> Incident:
    incident = _visible_incident(session, principal, incident_id)
    _ensure_may(principal, Action.close)
    _call(flows.close_incident, session, incident_id=incident.id, user_login=principal.login,
          summary=repair_text(summary), clock=clock)
    session.commit()
    return incident


def reopen_incident(session: Session, principal: Principal, *, incident_id: int, reason: str,
                    clock: Clock) -> Incident:
    incident = _visible_incident(session, principal, incident_id)
    _ensure_may(principal, Action.reopen)
    _call(flows.reopen_incident, session, incident_id=incident.id, user_login=principal.login,
          reason=repair_text(reason), clock=clock)
    session.commit()
    return incident


def review_incident(session: Session, principal: Principal, *, incident_id: int, text: str, went_well: str,
                    went_badly: str, action_items: list[flows.ActionItemIn], org: OrgChart,
                    clock: Clock) -> IncidentReview:
    incident = _visible_incident(session, principal, incident_id)
    _ensure_may(principal, Action.review)
    items = [flows.ActionItemIn(repair_text(i.title), i.owner_id, i.due_at) for i in action_items]
    review = _call(flows.review_incident, session, incident_id=incident.id, user_login=principal.login,
                   text=repair_text(text), went_well=repair_text(went_well), went_badly=repair_text(went_badly),
                   action_items=items, org=org, clock=clock)
    session.commit()
    return review


def leader_acknowledge(session: Session, principal: Principal, *, incident_id: int, note: str,
                       clock: Clock) -> LeadershipAcknowledgement:
    incident = _visible_incident(session, principal, incident_id)
    _ensure_may(principal, Action.leader_ack)
    ack = _call(flows.acknowledge_as_leader, session, incident_id=incident.id, user_login=principal.login,
                note=repair_text(note), clock=clock)
    session.commit()
    return ack


def merge_incident(session: Session, principal: Principal, *, incident_id: int, into: str | int, reason: str,
                   org: OrgChart, policy: Policy | None, clock: Clock) -> Incident:
    """合并: a commander or a leader merges this case into another about the same event (``incidents.merge``);
    both cases must be in the caller's units. ``into`` is the other case's id or number (YQ-…). Returns the case
    merged into."""
    from incidents import merge

    incident = _visible_incident(session, principal, incident_id)
    _ensure_may(principal, Action.merge)
    target = merge.find_incident(session, into)
    if target is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"目标事件不存在（{str(into).strip()[:40]}）")
    ensure_unit(principal, target.unit_id)
    merged = _call(merge.merge_incident, session, incident_id=incident.id, into_id=target.id,
                   user_login=principal.login, reason=repair_text(reason).strip(), org=org,
                   policy=_need_policy(policy), clock=clock)
    session.commit()
    return merged


def _visible_incident(session: Session, principal: Principal, incident_id: int) -> Incident:
    incident = queries.get_incident(session, incident_id=incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"事件不存在（编号 {incident_id}）")
    ensure_unit(principal, incident.unit_id)
    return incident


def _visible_task(session: Session, principal: Principal, task_id: int) -> Task:
    task = queries.get_task(session, task_id=task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"任务不存在（编号 {task_id}）")
    ensure_unit(principal, task.incident.unit_id)
    return task


def _ensure_may(principal: Principal, action: Action) -> None:
    if not may(principal.roles, action):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"无权执行此操作：需要以下角色之一：{role_names(action)}")


def _need_policy(policy: Policy | None) -> Policy:
    if policy is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "未加载事件分级与处置清单配置，暂时无法调整等级")
    return policy


def _unit_of(org: OrgChart, person_id: str | None) -> str | None:
    if not person_id:
        return None
    try:
        return org.person(person_id).unit
    except KeyError:
        return None


def _owner_text(org: OrgChart, task: Task) -> str:
    from yuqing.org import ROLE_LABELS

    try:
        role = ROLE_LABELS[Role(task.owner_role)]
    except ValueError:
        role = task.owner_role
    if task.owner_id:
        try:
            return f"{org.person(task.owner_id).name}（{role}）"
        except KeyError:
            pass
    return role


def _visible_alert(session: Session, principal: Principal, alert_id: int) -> Alert:
    alert = queries.get_alert(session, alert_id=alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"预警不存在（编号 {alert_id}）")
    ensure_unit(principal, alert.unit_id)
    return alert


def _call(fn: Callable[..., R], session: Session, **kwargs: Any) -> R:
    """Run a service function, turning a refused state change into an HTTP error with the service's message."""
    try:
        return fn(session, **kwargs)
    except IncidentError as exc:
        session.rollback()
        raise HTTPException(ERROR_STATUS.get(exc.code, status.HTTP_409_CONFLICT), exc.user_message) from None


def _reloaded(session: Session, obj: R) -> R:
    session.refresh(obj)
    return obj
