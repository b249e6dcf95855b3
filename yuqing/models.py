"""Core tables: the audit log every layer writes to (who did what, when, to which object), and facts about the
deployment itself (``deployment_facts``: e.g. that a database was created by ``yuqing demo``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, event, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from yuqing.db import Base, JSONType, UTCDateTime


class AuditEntry(Base):
    """One action by a person or by the system; append-only and hash-chained (``yuqing.audit_chain``).

    Write entries with ``yuqing.audit_chain.append`` (or ``api.audit.record``). Whatever way one is added, the
    ``before_flush`` hook below numbers it after the newest row and fills ``prev_hash`` / ``row_hash``, so id order
    is chain order; changing or deleting an entry through the ORM raises, and on PostgreSQL a trigger refuses
    UPDATE, DELETE and TRUNCATE of the table.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    doc="assigned by the chain: the newest id + 1")
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), doc="user login, or 'system'")
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True,
                                           doc="row_hash of the row before (64 zeros for the first); unique: no forks")
    row_hash: Mapped[str] = mapped_column(String(64), doc="SHA-256 of this row's content and prev_hash")


@event.listens_for(Session, "before_flush")
def _chain_audit_entries(session: Session, flush_context: Any, instances: Any) -> None:
    """Every flush of every session: chain new audit entries, refuse changed or deleted ones (cheap otherwise)."""
    from yuqing.audit_chain import chain_pending  # imported here: audit_chain imports this module

    chain_pending(session)


def _install_pg_guard(target: Any, connection: Any, **kw: Any) -> None:
    """Tables made by ``create_all`` (tests, tools) get the same PostgreSQL guard as the migration installs."""
    from yuqing.audit_chain import PG_GUARD_DDL

    if connection.dialect.name == "postgresql":
        for statement in PG_GUARD_DDL:
            connection.execute(text(statement))


event.listen(AuditEntry.__table__, "after_create", _install_pg_guard)


class DeploymentFact(Base):
    """One key/value fact about the database as a whole, such as ``kind = demo``."""

    __tablename__ = "deployment_facts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
