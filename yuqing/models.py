"""Core tables: the audit log every layer writes to (who did what, when, to which object), and facts about the
deployment itself (``deployment_facts``: e.g. that a database was created by ``yuqing demo``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONType, UTCDateTime


class AuditEntry(Base):
    """One action by a person or by the system; append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), doc="user login, or 'system'")
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSONType, default=dict)


class DeploymentFact(Base):
    """One key/value fact about the database as a whole, such as ``kind = demo``."""

    __tablename__ = "deployment_facts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
