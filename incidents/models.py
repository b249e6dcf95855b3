"""Tables owned by incident response.

An alert belongs to a story (one alert per story, updated as it spreads, never one per repost). An incident is
the case the general office runs: level, checklist tasks with owners and deadlines, a timeline of everything
done, and an outbox of notifications so nothing is lost if the process dies mid-send.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yuqing.db import Base, JSONType, UTCDateTime


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), unique=True)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(4))
    risk_score: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    factors: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True,
                                        doc="open | acknowledged | dismissed")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    dismissed_reason: Mapped[str | None] = mapped_column(Text)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dismissed_by: Mapped[str | None] = mapped_column(String(64))
    escalation_chain: Mapped[list] = mapped_column(JSONType, default=list,
                                                   doc="snapshot of the chain when the alert was raised")
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True, doc="e.g. YQ-20261123-001")
    title: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(4), index=True)
    category: Mapped[str] = mapped_column(String(32))
    playbook: Mapped[str] = mapped_column(String(64), doc="checklist template used")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True, doc="open | closed")
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    commander_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    peak_risk: Mapped[float] = mapped_column(Float, default=0.0)

    tasks: Mapped[list[Task]] = relationship(back_populates="incident", order_by="Task.position",
                                             cascade="all, delete-orphan")
    events: Mapped[list[TimelineEvent]] = relationship(back_populates="incident", order_by="TimelineEvent.at",
                                                       cascade="all, delete-orphan")


class Task(Base):
    """One checklist step with an owner and a deadline relative to the incident's opening."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64), doc="template step key, stable across levels")
    title: Mapped[str] = mapped_column(Text)
    owner_role: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), default="todo", doc="todo | done | skipped")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")

    incident: Mapped[Incident] = relationship(back_populates="tasks")


class TimelineEvent(Base):
    """Everything that happened on an incident, system or human: the record to archive (记录归档)."""

    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32), doc="opened, level_changed, article_added, notified, task_done…")
    actor: Mapped[str] = mapped_column(String(64), default="system")
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="events")


class Notification(Base):
    """The outbox: a message to one person on one channel; written in the same transaction as its cause."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True,
                                           doc="makes re-running a step after a crash send nothing twice")
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    recipient_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16), doc="in_app | email | wecom | dingtalk | feishu | webhook")
    purpose: Mapped[str] = mapped_column(String(32), doc="alert | incident_opened | escalation | …")
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True,
                                        doc="pending | sent | failed | cancelled")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
