"""Writes the audit log (``audit_log``) for every action a person takes through the API or the dashboard."""

from __future__ import annotations

from sqlalchemy.orm import Session

from yuqing.clock import Clock
from yuqing.models import AuditEntry


def record(session: Session, *, clock: Clock, actor: str, action: str, object_type: str, object_id: object,
           detail: str = "", data: dict | None = None) -> AuditEntry:
    """Append one audit entry in the caller's transaction (so it commits or rolls back with the action)."""
    entry = AuditEntry(at=clock.now(), actor=actor[:64], action=action[:64], object_type=object_type[:32],
                       object_id=str(object_id)[:64], detail=detail, data=data or {})
    session.add(entry)
    return entry
