"""Tables owned by incident response.

An alert belongs to a story (one alert per story, updated as it spreads, never one per repost). An incident is
the case the general office runs: level, checklist tasks with owners and deadlines, a timeline of everything
done, and an outbox of notifications so nothing is lost if the process dies mid-send.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, literal_column
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


# The alert queue's order (api.listings.alert_queue_order) and the incident list's: pages walk these (migration 0020).
# The queue's index is PostgreSQL's only (the embedded SQLite database holds a few thousand alerts at most, which it
# sorts in no time); alembic cannot compare its CASE expression with the one PostgreSQL prints back, so the
# model/migration check (tests/core/test_db.py) leaves this one index out.
ALERT_QUEUE_INDEX = "ix_alerts_queue"
Index(ALERT_QUEUE_INDEX,  # an expression index needs its expression in parentheses: written as the migration does
      literal_column("(CASE WHEN status = 'open' THEN 1 ELSE 0 END)").desc(),
      func.coalesce(Alert.ack_due_at, Alert.created_at), Alert.created_at.desc(), Alert.id.desc()
      ).ddl_if(dialect="postgresql")


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True, doc="e.g. YQ-20261123-001")
    title: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(4), index=True)
    category: Mapped[str] = mapped_column(String(32))
    playbook: Mapped[str] = mapped_column(String(64), doc="checklist template used")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True,
                                        doc="an incidents.lifecycle.IncidentStatus: open → acknowledged → responding "
                                            "→ monitoring → closed → reviewed")
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responding_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    monitoring_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    commander_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    peak_risk: Mapped[float] = mapped_column(Float, default=0.0)

    tasks: Mapped[list[Task]] = relationship(back_populates="incident", order_by="Task.position",
                                             cascade="all, delete-orphan")
    events: Mapped[list[TimelineEvent]] = relationship(back_populates="incident", order_by="TimelineEvent.at",
                                                       cascade="all, delete-orphan")


Index("ix_incidents_queue", Incident.level, Incident.opened_at.desc(), Incident.id.desc())


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
    status: Mapped[str] = mapped_column(String(16), default="todo", doc="a TaskStatus: todo | done | not_applicable")
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


# --- the incident lifecycle's typed records (incidents.flows writes them; clocks read them) ----------------------

class TaskStatus(StrEnum):
    todo = "todo"
    done = "done"
    not_applicable = "not_applicable"  # marked so by the commander or a leader, with a reason (or by a lowered level)


class ReportKind(StrEnum):
    """The written reports to leadership: 初报 once, 续报 numbered at the level's cadence, 终报 after closing."""

    initial = "initial"
    follow_up = "follow_up"
    final = "final"


REPORT_KIND_LABELS = {ReportKind.initial: "初报", ReportKind.follow_up: "续报", ReportKind.final: "终报"}


class IncidentReport(Base):
    """A report filed (初报 / 续报 n / 终报): its text, who filed it and when. Stops the matching clock."""

    __tablename__ = "incident_reports"
    __table_args__ = (UniqueConstraint("incident_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), doc="a ReportKind")
    version: Mapped[int] = mapped_column(Integer, doc="1 for 初报 and the first 终报; 续报 are numbered 1, 2, …")
    level: Mapped[str] = mapped_column(String(4), doc="the incident's level when it was filed")
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LeadershipAcknowledgement(Base):
    """A leader saying "I know" (领导知悉) in the product: a person's act, not a message row. Stops the
    leadership clock and completes the ``leadership_notice`` task."""

    __tablename__ = "leadership_acknowledgements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    leader_id: Mapped[str] = mapped_column(String(64), doc="the leader's login (org-chart person id)")
    level: Mapped[str] = mapped_column(String(4))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IncidentReview(Base):
    """复盘: the durations the product measured (seconds, None when the moment never happened) and what people
    learned. One per closing: a reopened and closed-again case is reviewed again."""

    __tablename__ = "incident_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, doc="the closing this review is of")
    first_post_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seconds_to_detect: Mapped[int | None] = mapped_column(Integer, doc="first post → alert")
    seconds_to_acknowledge: Mapped[int | None] = mapped_column(Integer, doc="alert → incident acknowledged")
    seconds_to_leadership: Mapped[int | None] = mapped_column(Integer, doc="alert → first leader acknowledgement")
    seconds_to_statement: Mapped[int | None] = mapped_column(Integer, doc="alert → first statement published")
    seconds_to_close: Mapped[int | None] = mapped_column(Integer, doc="alert → closed")
    text: Mapped[str] = mapped_column(Text, default="", doc="the review as filed (free text)")
    went_well: Mapped[str] = mapped_column(Text, default="")
    went_badly: Mapped[str] = mapped_column(Text, default="")

    action_items: Mapped[list[ReviewActionItem]] = relationship(back_populates="review", order_by="ReviewActionItem.id",
                                                                cascade="all, delete-orphan")


class ReviewActionItem(Base):
    """One improvement the review decided on, with an owner and a due date."""

    __tablename__ = "review_action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("incident_reviews.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    review: Mapped[IncidentReview] = relationship(back_populates="action_items")


class RegulatorReport(Base):
    """A report to an authority outside the bank (监管部门 / 人民银行), recorded by the person who made it: whom they
    told (the name as told, and the ``config/regulators.yaml`` key), how, the reference number the recipient gave,
    and the text sent. The first of a kind stops that kind's clock and completes its checklist step
    (``incidents.regulators``)."""

    __tablename__ = "regulator_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32), doc="regulator_report | pboc_report (incidents.regulators)")
    recipient_key: Mapped[str | None] = mapped_column(String(64), doc="regulators.yaml key; None if typed in")
    recipient_name: Mapped[str] = mapped_column(Text, doc="the recipient as told (name at the time)")
    method: Mapped[str] = mapped_column(String(32), doc="how: 书面报告, 电话, 监管报送系统 …")
    reference: Mapped[str] = mapped_column(Text, default="", doc="the recipient's reference number, if any")
    text: Mapped[str] = mapped_column(Text, doc="the report as sent")
    level: Mapped[str] = mapped_column(String(4), doc="the incident's level when it was reported")
    reported_by: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)



# --- statements (口径): drafted, reviewed by legal, approved by a leader of the chain, published ---------------------

class StatementKind(StrEnum):
    holding = "holding"  # 初步回应 / 等待声明: we know, we are verifying, we will say more
    clarification = "clarification"  # 澄清说明: the facts, against a rumour or a wrong report
    apology = "apology"  # 致歉声明: we got it wrong, what we are doing about it


STATEMENT_KIND_LABELS = {StatementKind.holding: "初步回应（等待声明）", StatementKind.clarification: "澄清说明",
                         StatementKind.apology: "致歉声明"}


class StatementStatus(StrEnum):
    draft = "draft"
    in_review = "in_review"  # sent for approval: waiting for legal review
    legal_approved = "legal_approved"  # legal has passed it: waiting for the leader
    approved = "approved"  # the leader signed it off: may be published
    published = "published"


STATEMENT_STATUS_LABELS = {StatementStatus.draft: "草稿", StatementStatus.in_review: "待法律合规审核",
                           StatementStatus.legal_approved: "待领导审签", StatementStatus.approved: "已审签待发布",
                           StatementStatus.published: "已发布"}


class Statement(Base):
    """A public statement (口径) of an incident. Its text lives in ``statement_versions`` (every edit a new row);
    the approvals name the version they are of, and an edit drops them."""

    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), doc="a StatementKind")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True, doc="a StatementStatus")
    template_key: Mapped[str | None] = mapped_column(String(64), doc="the template the first version came from")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    legal_by: Mapped[str | None] = mapped_column(String(64))
    legal_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    legal_version: Mapped[int | None] = mapped_column(Integer, doc="the version legal passed")
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_version: Mapped[int | None] = mapped_column(Integer, doc="the version the leader signed off")
    published_by: Mapped[str | None] = mapped_column(String(64), doc="who recorded the publication")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True, doc="when it went out")
    published_where: Mapped[str | None] = mapped_column(Text, doc="channel / outlet, e.g. 江城分行官方微博")
    published_url: Mapped[str | None] = mapped_column(Text)
    published_version: Mapped[int | None] = mapped_column(Integer)

    versions: Mapped[list[StatementVersion]] = relationship(back_populates="statement",
                                                            order_by="StatementVersion.number",
                                                            cascade="all, delete-orphan")
    decisions: Mapped[list[StatementDecision]] = relationship(back_populates="statement",
                                                              order_by="StatementDecision.id",
                                                              cascade="all, delete-orphan")


class StatementVersion(Base):
    """One text of a statement; never changed once written."""

    __tablename__ = "statement_versions"
    __table_args__ = (UniqueConstraint("statement_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="", doc="e.g. 由模板生成, or what the edit changed")

    statement: Mapped[Statement] = relationship(back_populates="versions")


class StatementDecision(Base):
    """Each step of the review: submitted, legal_approved, approved, changes_requested, approvals_dropped,
    published — who, when, on which version, and the reason or note."""

    __tablename__ = "statement_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")

    statement: Mapped[Statement] = relationship(back_populates="decisions")
