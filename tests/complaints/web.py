"""Helpers of the complaint API and dashboard tests (the fixtures are in this directory's conftest.py)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incidents.complaints.models import Complaint, ComplaintAttachment, ComplaintEvent
from yuqing.models import AuditEntry

WALK_IN = {"channel": "walk_in", "received_at": "2026-11-23T08:30:00+08:00", "unit_id": "xinhualu",
           "category": "service_attitude", "severity": "一般", "description": "柜员态度恶劣，拒绝办理挂失",
           "customer_name": "张三丰", "customer_phone": "13912345678", "account_or_product": "6222 0212 3456 7890"}


def counts(session: Session) -> dict[str, int]:
    """Rows a complaint writes: nothing of it may be left by a refused one."""
    session.rollback()  # a fresh read: see what the app committed
    return {"complaints": session.scalar(select(func.count(Complaint.id))),
            "events": session.scalar(select(func.count(ComplaintEvent.id))),
            "attachments": session.scalar(select(func.count(ComplaintAttachment.id))),
            "audit": session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.object_type == "complaint"))}
