"""The ``deadline_notices`` table: what the scheduled jobs told whom about a deadline, so each notice goes once.

One row per (incident, item, deadline, step): a reminder before a task or reporting clock is due, each step of its
overdue escalation (owner, commander, leader), and the escalation of a reporting-chain group that missed its
acknowledgement deadline. The deadline is part of the key: a deadline that moves (a level change, a 续报 filed)
is a new deadline and may be reminded of again. Kept apart from ``incidents.models`` because only
``incidents.scheduled`` writes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONType, UTCDateTime


class DeadlineNotice(Base):
    __tablename__ = "deadline_notices"
    __table_args__ = (UniqueConstraint("incident_id", "item", "due_at", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(String(96), doc="task:<id> | clock:<key> | group:<event id>:<group key>")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, doc="the deadline the notice is about")
    step: Mapped[str] = mapped_column(String(32), doc="reminder | overdue:<owner|role> | group_missed")
    at: Mapped[datetime] = mapped_column(UTCDateTime, doc="when it was queued")
    people: Mapped[list] = mapped_column(JSONType, default=list, doc="org-chart ids told")
