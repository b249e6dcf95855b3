"""The ``message_acks`` table: a person acknowledged one message (its one-click link or the inbox button).

Kept apart from ``incidents.models`` because only delivery and acknowledgement (``incidents.acks``) write it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, UTCDateTime


class MessageAck(Base):
    """A person's act, never a delivery receipt. One row per notification (unique), so a one-click link works
    once even when two requests race: the database, not a read-then-write check, decides."""

    __tablename__ = "message_acks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), unique=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    via: Mapped[str] = mapped_column(String(16), doc="link | inbox")
    outcome: Mapped[str] = mapped_column(String(32), doc="alert_acknowledged | alert_already | received")
