"""Tables owned by complaint handling (投诉处理).

A complaint is a customer's grievance received through any channel — a hotline ticket, a walk-in, a letter, a 信访
visit, a transfer from a superior bank or the regulator, a crawled complaint-board post. Its clocks count from
``received_at`` (when the bank received it), not from when someone typed it in, which is why both are stored.

Customer details are stored as given and masked on the way out (``incidents.complaints.masking``); ``customer_key``
is a keyed hash of the normalised phone number (or name) so repeat complaints can be counted without unmasking.
Attachments keep their bytes with a SHA-256 so a record shown to a regulator can be checked against the original.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yuqing.db import Base, JSONType, UTCDateTime


class ComplaintChannel(StrEnum):
    """How the complaint reached the bank (seed 001's channels plus the ones a bank sees today)."""

    hotline = "hotline"  # 客服热线受理单
    walk_in = "walk_in"  # 临柜 / 上门
    letter = "letter"  # 信件
    email = "email"  # 电子邮件
    online_form = "online_form"  # 网上投诉表单 / 手机银行
    petition = "petition"  # 信访接待
    superior_bank = "superior_bank"  # 上级行转办
    regulator_transfer = "regulator_transfer"  # 监管转办（12378 等）
    web_post = "web_post"  # 网络公开发帖（投诉平台、论坛）
    comment_book = "comment_book"  # 意见簿


CHANNEL_LABELS: dict[str, str] = {
    ComplaintChannel.hotline: "客服热线",
    ComplaintChannel.walk_in: "临柜/上门",
    ComplaintChannel.letter: "信件",
    ComplaintChannel.email: "电子邮件",
    ComplaintChannel.online_form: "网上表单",
    ComplaintChannel.petition: "信访接待",
    ComplaintChannel.superior_bank: "上级行转办",
    ComplaintChannel.regulator_transfer: "监管转办",
    ComplaintChannel.web_post: "网络发帖",
    ComplaintChannel.comment_book: "意见簿",
}


class Severity(StrEnum):
    """Seed 004's complaint levels: who handles it and how fast."""

    general = "general"  # 一般投诉: front-line staff, 3 working days
    important = "important"  # 重要投诉: middle management, 5 working days
    urgent = "urgent"  # 紧急投诉: senior leadership and an emergency group, preliminary solution within 24 h


SEVERITY_LABELS: dict[str, str] = {Severity.general: "一般", Severity.important: "重要", Severity.urgent: "紧急"}
SEVERITY_BY_LABEL: dict[str, str] = {label: code for code, label in SEVERITY_LABELS.items()}


class ComplaintStatus(StrEnum):
    """Where the complaint is in its handling steps (``incidents.complaints.flows``)."""

    received = "received"  # 已受理: entered, nobody has acted yet
    handling = "handling"  # 处理中: acknowledged / verified / assigned
    proposed = "proposed"  # 已提出解决方案: waiting for the customer's answer
    mediation = "mediation"  # 调解/仲裁中: the customer refused the solution
    closed = "closed"  # 已办结: waiting for the return visit
    visited = "visited"  # 已回访: the customer was satisfied (or basically satisfied); the end


STATUS_LABELS: dict[str, str] = {
    ComplaintStatus.received: "已受理",
    ComplaintStatus.handling: "处理中",
    ComplaintStatus.proposed: "已提出方案",
    ComplaintStatus.mediation: "调解/仲裁中",
    ComplaintStatus.closed: "已办结待回访",
    ComplaintStatus.visited: "已回访",
}
OPEN_STATUSES = frozenset({ComplaintStatus.received, ComplaintStatus.handling, ComplaintStatus.proposed,
                           ComplaintStatus.mediation})


class Satisfaction(StrEnum):
    satisfied = "satisfied"
    basically_satisfied = "basically_satisfied"
    dissatisfied = "dissatisfied"


SATISFACTION_LABELS: dict[str, str] = {Satisfaction.satisfied: "满意", Satisfaction.basically_satisfied: "基本满意",
                                       Satisfaction.dissatisfied: "不满意"}


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True, doc="e.g. TS-20260930-001 (local date of receipt)")
    channel: Mapped[str] = mapped_column(String(32), index=True, doc="a ComplaintChannel")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True, doc="when the bank received it")
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, doc="when it was recorded in yuqing")
    entered_by: Mapped[str] = mapped_column(String(64), doc="login of who entered it, or 'system' / an API client")
    source_system: Mapped[str] = mapped_column(String(64), default="", doc="ticket system that sent it, if any")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True,
                                                        doc="the sender's key: a resubmission returns this record")
    # the customer (masked on the way out)
    customer_name: Mapped[str] = mapped_column(Text, default="")
    customer_phone: Mapped[str] = mapped_column(String(64), default="")
    customer_key: Mapped[str | None] = mapped_column(String(64), index=True,
                                                     doc="keyed hash of the normalised phone (else name): repeats")
    account_or_product: Mapped[str] = mapped_column(Text, default="")
    # what and where
    unit_id: Mapped[str] = mapped_column(String(64), index=True, doc="the unit complained about")
    handling_unit_id: Mapped[str] = mapped_column(String(64), index=True, doc="the unit that handles it")
    lead_department: Mapped[str] = mapped_column(Text, default="", doc="牵头部门 when several are involved")
    category: Mapped[str] = mapped_column(String(32), index=True, doc="a yuqing.categories code")
    severity: Mapped[str] = mapped_column(String(16), index=True, doc="a Severity")
    description: Mapped[str] = mapped_column(Text)
    # people: 首问责任制 — the first receiver owns it until it is handed over on the record
    first_contact_owner_id: Mapped[str] = mapped_column(String(64), index=True)
    assignee_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ComplaintStatus.received, index=True)
    # the handling steps, each the time it was recorded (None: not yet)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="receipt acknowledged to customer")
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="first contact with the customer")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    preliminary_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="紧急: preliminary solution given")
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="solution (答复) given to the customer")
    solution: Mapped[str] = mapped_column(Text, default="")
    customer_accepted: Mapped[bool | None] = mapped_column(Boolean)
    mediation: Mapped[str] = mapped_column(Text, default="", doc="mediation / arbitration when refused")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="closed: accepted or settled")
    closed_by: Mapped[str | None] = mapped_column(String(64))
    return_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[str | None] = mapped_column(String(32), doc="a Satisfaction, from the return visit")
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    # the 15-day reply rule: counts from reply_base_at (receipt, or the last time new facts arrived)
    reply_base_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reply_limit_days: Mapped[int] = mapped_column(Integer, default=15, doc="15, extended to 30 or at most 60")
    # links to the media side
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), unique=True,
                                                   doc="the crawled complaint-board post it was created from")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    events: Mapped[list[ComplaintEvent]] = relationship(back_populates="complaint",
                                                        order_by="ComplaintEvent.id",
                                                        cascade="all, delete-orphan")
    attachments: Mapped[list[ComplaintAttachment]] = relationship(back_populates="complaint",
                                                                  order_by="ComplaintAttachment.id",
                                                                  cascade="all, delete-orphan")


class ComplaintEvent(Base):
    """The complaint's timeline: every step, hand-over, extension, reminder and link, with who and when."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32), doc="received, acknowledged, contacted, verified, assigned, …")
    actor: Mapped[str] = mapped_column(String(64), default="system")
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)

    complaint: Mapped[Complaint] = relationship(back_populates="events")


class ComplaintAttachment(Base):
    """A file that came with the complaint (letter scan, call recording, photo), kept byte for byte."""

    __tablename__ = "complaint_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # deferred: a list or a view names the files; only a download reads the bytes
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str] = mapped_column(String(64))

    complaint: Mapped[Complaint] = relationship(back_populates="attachments")
