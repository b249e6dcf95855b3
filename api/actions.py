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
from incidents import service as incident_service
from incidents.errors import IncidentError
from incidents.models import Alert, Incident, Task
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


def complete_task(session: Session, principal: Principal, *, task_id: int, note: str, clock: Clock) -> Task:
    """完成 one checklist step of an incident the caller's units own."""
    task = queries.get_task(session, task_id=task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"任务不存在（编号 {task_id}）")
    ensure_unit(principal, task.incident.unit_id)
    _call(incident_service.complete_task, session, task_id=task.id, user_login=principal.login, clock=clock,
          note=repair_text(note).strip())
    session.commit()
    return _reloaded(session, task)


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
