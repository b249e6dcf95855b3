"""合并事件: two incidents turned out to be one event; merge the later (or smaller) one into the other.

``merge_incident`` merges incident B into incident A, in the caller's transaction (it flushes, the caller commits):

* both must be open cases (``incidents.lifecycle.ACTIVE``) of this bank's org chart, and different;
* B's alerts move to A (``alerts.incident_id``): its story goes on feeding A — a later rise in B's story's risk
  raises A, not a case nobody runs any more. An alert of B nobody had acknowledged is acknowledged by the person
  merging (they have seen it: they judged it part of A) and its pending escalation messages are cancelled;
* everything else of B stays where it is and stays readable on B's page: its story, timeline, tasks (and the
  evidence they reference), complaints, statements and reports;
* B ends with status ``merged`` (已合并, final: no action is allowed on it any more), ``closed_at`` the merge time
  and a summary naming A; it owes no 终报 or 复盘 (A does: ``incidents.clocks`` leaves them off a merged case);
* A's level becomes the higher of the two through ``incidents.flows.apply_level`` — the same re-planning,
  reporting clocks, notifications and ``level_changed`` timeline event as any other level change;
* both timelines get an entry (``merged_into`` on B, ``merged_in`` on A, each naming the other) and the audit
  log gets ``incident.merge`` with the actor.

*Who* may merge (a commander or a leader, with both cases in their units) is checked by the entry point
(``api.actions.merge_incident``), like every other lifecycle action.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.errors import IncidentError, NotFound
from incidents.flows import apply_level
from incidents.levels import is_higher, level_title
from incidents.lifecycle import ACTIVE, STATUS_LABELS, IncidentStatus
from incidents.messages import plain_line
from incidents.models import Alert, Incident
from incidents.policy import Policy
from incidents.service import OPEN, _audit, _cancel_pending, _event
from yuqing.clock import Clock
from yuqing.org import OrgChart

MERGED_INTO, MERGED_IN = "merged_into", "merged_in"  # timeline kinds on B and on A


def find_incident(session: Session, ref: str | int) -> Incident | None:
    """An incident by id (``12``) or by number (``YQ-20261123-001``, case-insensitive)."""
    text = str(ref).strip()
    if text.isdigit():
        return session.get(Incident, int(text))
    if not text:
        return None
    return session.scalar(select(Incident).where(Incident.number == text.upper()))


def merge_incident(session: Session, *, incident_id: int, into_id: int, user_login: str, reason: str,
                   org: OrgChart, policy: Policy, clock: Clock) -> Incident:
    """Merge incident ``incident_id`` (B) into ``into_id`` (A); returns A. Raises ``IncidentError`` with the
    Chinese message people see when the merge is not allowed."""
    now = clock.now()
    source = session.get(Incident, incident_id)
    if source is None:
        raise NotFound("incident", incident_id, "事件")
    target = session.get(Incident, into_id)
    if target is None:
        raise NotFound("incident", into_id, "目标事件")
    if source.id == target.id:
        raise IncidentError("cannot merge an incident into itself", "不能把事件合并到它自己", code="bad_request")
    if source.status not in ACTIVE:
        raise IncidentError(f"incident {source.number} is {source.status}",
                            f"事件 {source.number} 当前状态为“{_status(source)}”，不能再合并")
    if target.status not in ACTIVE:
        raise IncidentError(f"target incident {target.number} is {target.status}",
                            f"目标事件 {target.number} 当前状态为“{_status(target)}”，只能合并到进行中的事件")
    for inc in (source, target):
        try:
            org.unit(inc.unit_id)
        except KeyError:
            raise IncidentError(f"incident {inc.number}: unit {inc.unit_id} not in the org chart",
                                f"事件 {inc.number} 所属单位不在本行组织架构中，不能合并") from None
    note = plain_line(reason, 200) if reason.strip() else ""

    moved = []
    for alert in session.scalars(select(Alert).where(Alert.incident_id == source.id).order_by(Alert.id)):
        if alert.status == OPEN:
            alert.status, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", now, user_login
            _cancel_pending(session, alert_id=alert.id, purposes=("escalation",),
                            reason=f"事件已合并到 {target.number}")
        alert.incident_id = target.id
        moved.append(alert.id)

    before = source.status
    source.status = IncidentStatus.merged
    source.closed_at = now
    source.summary = f"已合并到事件 {target.number}" + (f"：{note}" if note else "")
    target.peak_risk = max(target.peak_risk or 0.0, source.peak_risk or 0.0)
    _event(session, source, now, MERGED_INTO, user_login,
           f"事件已合并到 {target.number}（{plain_line(target.title, 80)}），后续处置在该事件中进行"
           + (f"：{note}" if note else ""),
           {"from": before, "to": IncidentStatus.merged, "into": target.id, "into_number": target.number,
            "alerts_moved": moved, "reason": reason.strip()})
    _event(session, target, now, MERGED_IN, user_login,
           f"并入事件 {source.number}（{plain_line(source.title, 80)}，{level_title(source.level)}）"
           + (f"：{note}" if note else ""),
           {"merged": source.id, "merged_number": source.number, "merged_level": source.level,
            "alerts_moved": moved, "reason": reason.strip()})
    _audit(session, now, user_login, "incident.merge", "incident", source.id, f"{source.number}->{target.number}",
           {"into": target.id, "into_number": target.number, "alerts_moved": moved, "reason": reason.strip()})
    if is_higher(source.level, target.level):
        alert = session.scalar(select(Alert).where(Alert.incident_id == target.id, Alert.id.not_in(moved or [0]))
                               .order_by(Alert.id)) or session.scalar(
            select(Alert).where(Alert.incident_id == target.id).order_by(Alert.id))
        apply_level(session, incident=target, new_level=source.level,
                    reason=f"并入事件 {source.number}（{level_title(source.level)}），按两者中较高等级处置",
                    actor=user_login, alert=alert, org=org, policy=policy, now=now)
    session.flush()
    return target


def merged_into(incident: Incident) -> tuple[int, str] | None:
    """(id, number) of the incident a merged one was merged into, from its timeline; None when not merged."""
    if incident.status != IncidentStatus.merged:
        return None
    ev = max((e for e in incident.events if e.kind == MERGED_INTO), key=lambda e: (e.at, e.id or 0), default=None)
    if ev is None:
        return None
    return int(ev.data["into"]), str(ev.data.get("into_number") or ev.data["into"])


def _status(incident: Incident) -> str:
    try:
        return STATUS_LABELS[IncidentStatus(incident.status)]
    except ValueError:
        return incident.status
