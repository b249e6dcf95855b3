"""The ``complaint_notices`` table: what the scheduled complaint job told whom about a clock, so each notice goes
once across restarts.

One row per (complaint, item, deadline, step) — the same key as ``deadline_notices`` for incident tasks, which
cannot hold complaints (a complaint need not have an incident). ``item`` is ``clock:<key>`` for a complaint clock,
``follow_up`` for a 紧急 complaint's follow-up after its preliminary solution, or ``leadership`` for the message to
the unit's leadership on entry; the deadline is part of the key, so a deadline that moves (an extension, new facts
restarting the reply clock) is reminded of again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONType, UTCDateTime


class ComplaintNotice(Base):
    __tablename__ = "complaint_notices"
    __table_args__ = (UniqueConstraint("complaint_id", "item", "due_at", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(String(96), doc="clock:<key> | follow_up | leadership")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, doc="the deadline the notice is about")
    step: Mapped[str] = mapped_column(String(32), doc="reminder | overdue:<owner|role> | follow_up:<n> | told")
    at: Mapped[datetime] = mapped_column(UTCDateTime, doc="when it was queued")
    people: Mapped[list] = mapped_column(JSONType, default=list, doc="org-chart ids told")
