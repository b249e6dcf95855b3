"""Helpers for the complaint reminder and link tests: the real policy (levels, playbooks, complaints.yaml), a
complaint entered through the intake code, and the outbox rows a job queued."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from incidents.complaints.flows import ComplaintInput, create_complaint
from incidents.models import Notification
from incidents.policy import Policy, load_policy
from yuqing.settings import PROJECT_ROOT

SH = ZoneInfo("Asia/Shanghai")


def real_policy() -> Policy:
    config = PROJECT_ROOT / "config"
    return load_policy(config / "levels.yaml", config / "checklists")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def enter(session, *, org, policy, clock, severity: str = "一般", received: datetime, unit: str = "xinhualu",
          actor: str = "huangwei", category: str = "service_attitude", text: str = "柜员态度恶劣，拒绝办理挂失"):
    """A walk-in complaint entered by the outlet head (so he is its 首问 owner)."""
    data = ComplaintInput(channel="walk_in", received_at=received, unit_id=unit, category=category,
                          severity=severity, description=text, customer_name="张三", customer_phone="13912345678")
    c, created = create_complaint(session, data, actor=actor, org=org, cfg=policy.complaints, clock=clock,
                                  tz=policy.timezone)
    assert created
    session.commit()
    return c


def outbox(session, *, purpose: str | None = None, channel: str = "in_app") -> list[tuple[str, str]]:
    """(recipient, purpose) of every queued message on one channel, in order."""
    q = select(Notification).where(Notification.channel == channel).order_by(Notification.id)
    if purpose is not None:
        q = q.where(Notification.purpose == purpose)
    return [(n.recipient_id, n.purpose) for n in session.scalars(q)]
