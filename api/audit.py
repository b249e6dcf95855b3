"""Writes the audit log (``audit_log``) for every action a person takes through the API or the dashboard."""

from __future__ import annotations

from sqlalchemy.orm import Session

from yuqing import audit_chain
from yuqing.clock import Clock
from yuqing.models import AuditEntry


def record(session: Session, *, clock: Clock, actor: str, action: str, object_type: str, object_id: object,
           detail: str = "", data: dict | None = None) -> AuditEntry:
    """Append one audit entry in the caller's transaction (so it commits or rolls back with the action).

    Goes through ``yuqing.audit_chain.append``, the one writer every layer uses, so the entry is hash-chained.
    """
    return audit_chain.append(session, at=clock.now(), actor=actor, action=action, object_type=object_type,
                              object_id=object_id, detail=detail, data=data)
