"""The alert queue's escalation history (预警上报记录): who each step told, when, and whether they acknowledged.

Read only from what the escalation job records (``incidents.scheduled.run_escalations``): one ``alert.escalate``
audit entry per step (time, role, people, and — since it was added — the deadline that was missed), the
``escalation`` notifications it queued per person (``dedup_key`` ``alert:{id}:escalation:{step}:{person}:…``) and
the ``message_acks`` a person recorded on one of them. The job moves ``Alert.ack_due_at`` on to the next step's
deadline at each escalation, so the card's *original* deadline is the one the first step says was missed; an entry
written before that field existed says nothing about it, and the page then says so instead of guessing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.escalation import EscalationStep, build_chain
from incidents.message_acks import MessageAck
from incidents.models import Alert, Notification
from incidents.policy import Policy
from yuqing.models import AuditEntry
from yuqing.org import ROLE_LABELS, OrgChart, Role


@dataclass(frozen=True)
class EscalatedPerson:
    id: str
    name: str
    notified: bool          # an escalation message to them is in the outbox (any channel)
    read_at: datetime | None
    acknowledged_at: datetime | None  # their own act: the message's ack, or acknowledging the alert itself


@dataclass(frozen=True)
class EscalationStepRead:
    index: int
    at: datetime
    role_name: str
    people: list[EscalatedPerson]
    overdue_since: datetime | None


@dataclass(frozen=True)
class AlertEscalation:
    steps: list[EscalationStepRead] = field(default_factory=list)
    original_due_at: datetime | None = None   # the first acknowledgement deadline (None: not recorded)
    original_unrecorded: bool = False         # escalated before the missed deadline was recorded
    next_at: datetime | None = None           # when the next step is told if nobody acknowledges first
    next_role_name: str = ""
    next_people: list[str] = field(default_factory=list)
    chain_end: bool = False                   # open, escalated to the last step: nobody further to tell


def role_name(role: str) -> str:
    try:
        return ROLE_LABELS[Role(role)]
    except ValueError:
        return role


def _name(org: OrgChart, person_id: str) -> str:
    person = org.find_person(person_id)
    return person.name if person is not None else person_id


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a and b else a or b


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def escalation_histories(session: Session, org: OrgChart, policy: Policy,
                         alerts: Sequence[Alert]) -> dict[int, AlertEscalation]:
    """Alert id → its escalation history, in three queries for the whole page (not three per alert)."""
    if not alerts:
        return {}
    ids = [a.id for a in alerts]
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "alert.escalate", AuditEntry.object_type == "alert",
        AuditEntry.object_id.in_([str(i) for i in ids])).order_by(AuditEntry.id)).all()
    notes = session.execute(select(Notification.alert_id, Notification.dedup_key, Notification.recipient_id,
                                   Notification.read_at, MessageAck.at)
                            .outerjoin(MessageAck, MessageAck.notification_id == Notification.id)
                            .where(Notification.alert_id.in_(ids), Notification.purpose == "escalation")).all()
    # (alert, step, person) → (notified, first read, first acknowledgement)
    seen: dict[tuple[int, int, str], list] = {}
    for alert_id, key, person, read_at, ack_at in notes:
        parts = key.split(":")
        if len(parts) < 4 or not parts[3].isdigit():
            continue
        slot = seen.setdefault((alert_id, int(parts[3]), person), [None, None])
        slot[0], slot[1] = _earliest(slot[0], read_at), _earliest(slot[1], ack_at)
    by_alert: dict[int, list[AuditEntry]] = defaultdict(list)
    for e in entries:
        by_alert[int(e.object_id)].append(e)
    chains: dict[tuple[str, str], list[EscalationStep]] = {}  # (unit, level) → chain, built once per page
    return {a.id: _history(org, policy, a, by_alert.get(a.id, []), seen, chains) for a in alerts}


def _history(org: OrgChart, policy: Policy, alert: Alert, entries: list[AuditEntry],
             seen: dict[tuple[int, int, str], list],
             chains: dict[tuple[str, str], list[EscalationStep]] | None = None) -> AlertEscalation:
    if alert.escalation_chain:
        chain = [EscalationStep.from_json(s) for s in alert.escalation_chain]
    else:  # an alert raised before chains were recorded: the chain its unit and level would have now
        key = (alert.unit_id, alert.level)
        chains = {} if chains is None else chains
        if key not in chains:
            chains[key] = build_chain(org, alert.unit_id, policy.levels_file.escalation_roles(alert.level))
        chain = chains[key]
    roles = {s.index: s.role for s in chain}
    steps = []
    for e in entries:
        data = e.data or {}
        index = int(e.detail.removeprefix("step ")) if e.detail.removeprefix("step ").isdigit() else 0
        people = []
        for pid in data.get("people", []):
            read_at, ack_at = seen.get((alert.id, index, pid), [None, None])
            if alert.acknowledged_by == pid:
                ack_at = _earliest(ack_at, alert.acknowledged_at)
            people.append(EscalatedPerson(id=pid, name=_name(org, pid), notified=(alert.id, index, pid) in seen,
                                          read_at=read_at, acknowledged_at=ack_at))
        steps.append(EscalationStepRead(index=index, at=e.at, role_name=role_name(data.get("role") or
                                                                                  roles.get(index, "")),
                                        people=people, overdue_since=_parse(data.get("overdue_since"))))
    if steps:
        original, unrecorded = steps[0].overdue_since, steps[0].overdue_since is None
    else:
        original, unrecorded = alert.ack_due_at, False
    current = steps[-1].index if steps else alert.escalation_step
    nxt = next((s for s in chain if s.index == current + 1), None)
    is_open = alert.status == "open"
    return AlertEscalation(
        steps=steps, original_due_at=original, original_unrecorded=unrecorded,
        next_at=alert.ack_due_at if is_open and nxt is not None else None,
        next_role_name=role_name(nxt.role) if is_open and nxt is not None else "",
        next_people=[_name(org, p) for p in nxt.people] if is_open and nxt is not None else [],
        chain_end=is_open and nxt is None and bool(steps))
