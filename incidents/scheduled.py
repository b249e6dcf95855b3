"""Scheduled jobs: what the pipeline round runs on its own, without anyone acting.

Each job is a plain function ``(session, *, org, policy, clock) -> int`` (how many things it did) that finds its
work by querying the database, writes its timeline events, audit entries and outbox rows in the caller's
transaction (it flushes, the caller commits), and queues nothing twice when re-run after a crash (outbox
``dedup_key``).

* ``run_escalations`` — an open alert past its acknowledgement deadline moves one step up its escalation chain.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.escalation import next_step
from incidents.models import Alert, Incident
from incidents.notify import queue_notifications
from incidents.policy import Policy
from incidents.service import (
    OPEN,
    SYSTEM,
    _audit,
    _chain,
    _event,
    _local,
    _message,
    _people,
    _role_label,
)
from yuqing.clock import Clock
from yuqing.org import OrgChart


def run_escalations(session: Session, *, org: OrgChart, policy: Policy, clock: Clock) -> int:
    """Escalate every open alert past its acknowledgement deadline one step; returns how many escalated."""
    now = clock.now()
    count = 0
    due = session.scalars(select(Alert).where(Alert.status == OPEN, Alert.ack_due_at.is_not(None),
                                              Alert.ack_due_at <= now).order_by(Alert.id)).all()
    for alert in due:
        chain = _chain(alert, org, policy)
        step = next_step(chain, alert.escalation_step, status=alert.status, ack_due_at=alert.ack_due_at, now=now)
        if step is None:
            continue
        overdue_since = alert.ack_due_at
        alert.escalation_step = step.index
        alert.ack_due_at = now + timedelta(minutes=policy.level(alert.level).ack_minutes)
        people = _people(org, step.people)
        note = (f"该预警自 {_local(overdue_since, policy)} 起超过确认时限仍未确认，现逐级上报给您"
                f"（第{step.index}级：{_role_label(step.role)}）。")
        queued = queue_notifications(session, people=people, policy=policy, now=now, alert=alert,
                                     incident_id=alert.incident_id, purpose="escalation",
                                     key=f"alert:{alert.id}:escalation:{step.index}", level=alert.level,
                                     message=_message(session, alert=alert, org=org, policy=policy,
                                                      purpose="escalation", note=note, deadline=alert.ack_due_at))
        if alert.incident_id:
            incident = session.get(Incident, alert.incident_id)
            if incident is not None:
                _event(session, incident, now, "escalated", SYSTEM,
                       f"预警超时未确认，已上报{_role_label(step.role)}：{'、'.join(p.name for p in people)}",
                       {"step": step.index, "people": list(step.people)})
        _audit(session, now, SYSTEM, "alert.escalate", "alert", alert.id, f"step {step.index}",
               {"people": list(step.people), "queued": queued})
        count += 1
    session.flush()
    return count
