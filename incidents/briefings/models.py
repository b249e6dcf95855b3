"""Tables of delivered reports: each 舆情日报 / 舆情周报 issued to leadership, and who opened or acknowledged it.

An issue is written once per (kind, period) — re-running the scheduled job after a crash issues nothing twice —
and remembers the incidents it told leadership about, so opening or acknowledging it can be recorded as the
leader's 知悉 of exactly those cases (the leadership clock of level III is "the daily report").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONType, UTCDateTime


class ReportIssue(Base):
    """One daily or weekly report as delivered: its period, number and the incidents it listed for leadership."""

    __tablename__ = "report_issues"
    __table_args__ = (UniqueConstraint("kind", "period_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), doc="daily | weekly")
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    number: Mapped[str] = mapped_column(String(32), doc="RB-20261123 / ZB-2026W48")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(String(400), default="")
    incident_ids: Mapped[list] = mapped_column(JSONType, default=list,
                                               doc="incidents the report told leadership about (level III)")
    recipients: Mapped[list] = mapped_column(JSONType, default=list, doc="person ids it was sent to")


class ReportReceipt(Base):
    """A person opening (and, separately, acknowledging) an issued report."""

    __tablename__ = "report_receipts"
    __table_args__ = (UniqueConstraint("issue_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("report_issues.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    via: Mapped[str] = mapped_column(String(16), default="page", doc="page | inbox | link")
