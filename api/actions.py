"""What a person can do to alerts and tasks, shared by the JSON API and the dashboard forms.

Each action checks the caller's role and unit scope, calls the incidents service (which owns the state changes,
timeline and notifications), writes the audit entry and commits, all in one transaction.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from api import audit, queries
from api.deps import Principal, ensure_role, ensure_unit
from incidents.models import Alert, Incident, Task
from yuqing.clock import Clock
from yuqing.org import OrgChart, Role

ALERT_HANDLERS = (Role.monitor, Role.commander, Role.leader, Role.admin)
INCIDENT_OPENERS = (Role.monitor, Role.commander, Role.admin)


def acknowledge_alert(session: Session, principal: Principal, *, alert_id: int, clock: Clock) -> Alert:
    """确认: the alert has been seen and is being handled (stops its escalation)."""
    alert = _visible_alert(session, principal, alert_id)
    ensure_role(principal, *ALERT_HANDLERS)
    service = _service()
    _call(service.acknowledge_alert, session, alert_id=alert.id, user_login=principal.login, clock=clock)
    audit.record(session, clock=clock, actor=principal.login, action="alert.acknowledge", object_type="alert",
                 object_id=alert.id, detail=f"确认预警：{alert.title}", data={"via": principal.via})
    session.commit()
    return _reloaded(session, alert)


def dismiss_alert(session: Session, principal: Principal, *, alert_id: int, reason: str, clock: Clock) -> Alert:
    """误报: the alert is a false positive; the reason is kept for tuning."""
    alert = _visible_alert(session, principal, alert_id)
    ensure_role(principal, *ALERT_HANDLERS)
    service = _service()
    _call(service.dismiss_alert, session, alert_id=alert.id, user_login=principal.login, reason=reason, clock=clock)
    audit.record(session, clock=clock, actor=principal.login, action="alert.dismiss", object_type="alert",
                 object_id=alert.id, detail=f"标记误报：{alert.title}", data={"reason": reason, "via": principal.via})
    session.commit()
    return _reloaded(session, alert)


def open_incident(session: Session, principal: Principal, *, alert_id: int, org: OrgChart, policy: Any,
                  clock: Clock) -> Incident:
    """立案: open (or return the existing) incident for an alert, with its checklist."""
    alert = _visible_alert(session, principal, alert_id)
    ensure_role(principal, *INCIDENT_OPENERS)
    if policy is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "未加载事件分级与处置清单配置，无法立案")
    service = _service()
    incident = _call(service.open_incident_from_alert, session, alert_id=alert.id, user_login=principal.login,
                     org=org, policy=policy, clock=clock)
    audit.record(session, clock=clock, actor=principal.login, action="incident.open", object_type="incident",
                 object_id=incident.id, detail=f"立案：{incident.number} {incident.title}",
                 data={"alert_id": alert.id, "via": principal.via})
    session.commit()
    return incident


def complete_task(session: Session, principal: Principal, *, task_id: int, note: str, clock: Clock) -> Task:
    """完成 one checklist step of an incident the caller's units own."""
    task = queries.get_task(session, task_id=task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"任务 {task_id} 不存在")
    ensure_unit(principal, task.incident.unit_id)
    service = _service()
    _call(service.complete_task, session, task_id=task.id, user_login=principal.login, clock=clock, note=note)
    audit.record(session, clock=clock, actor=principal.login, action="task.complete", object_type="task",
                 object_id=task.id, detail=f"完成任务：{task.title}",
                 data={"incident_id": task.incident_id, "note": note, "via": principal.via})
    session.commit()
    return _reloaded(session, task)


def _visible_alert(session: Session, principal: Principal, alert_id: int) -> Alert:
    alert = queries.get_alert(session, alert_id=alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"预警 {alert_id} 不存在")
    ensure_unit(principal, alert.unit_id)
    return alert


def _service():
    try:
        from incidents import service
    except ImportError:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "事件处置服务尚未启用") from None
    return service


def _call(fn, session: Session, **kwargs):
    """Run a service function; a refused state change (e.g. acknowledging a dismissed alert) becomes 409."""
    try:
        return fn(session, **kwargs)
    except (ValueError, LookupError) as exc:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, f"操作未执行：{exc}") from None


def _reloaded(session: Session, obj):
    session.refresh(obj)
    return obj
