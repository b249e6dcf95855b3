"""Delivering the notification outbox: pending rows are sent on their channel, retried with backoff, or failed.

Services write ``Notification`` rows in the same transaction as their cause; this module is the only place that
talks to the outside world. A crash between "sent" and "marked sent" can resend one message, never lose one.

Senders are asynchronous: ``async send(notification, person) -> None``, raising any exception to report
failure; ``deliver_pending`` is a coroutine the pipeline awaits. A sender must not touch the database session and
must not block the event loop (``SmtpSender`` runs smtplib in a worker thread). To add a channel (WeCom /
DingTalk signed / Feishu webhooks via httpx — not implemented yet), write a class with that ``send`` method, add
its settings model to ``incidents.policy.Channels`` and register it in ``default_senders``; rows for a channel
without a sender fail visibly instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from incidents.models import Alert, Incident, Notification, TimelineEvent
from incidents.policy import EmailChannel, Policy, RetryPolicy
from yuqing.clock import Clock
from yuqing.org import OrgChart, Person, Role

log = logging.getLogger(__name__)

CHANNEL_LABELS = {"in_app": "站内消息", "email": "电子邮件", "wecom": "企业微信", "dingtalk": "钉钉",
                  "feishu": "飞书", "webhook": "Webhook"}
_LEADERSHIP_PURPOSES = ("incident_opened", "level_changed")


class Sender(Protocol):
    async def send(self, notification: Notification, person: Person) -> None:
        """Deliver one message or raise; must not touch the database session."""
        ...


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class InAppSender:
    """In-app delivery is the row itself: the dashboard shows it, so sending only marks it delivered."""

    async def send(self, notification: Notification, person: Person) -> None:
        return None


class SmtpSender:
    """Plain-text UTF-8 email over SMTP (optionally STARTTLS or implicit TLS, optionally authenticated)."""

    def __init__(self, *, host: str, port: int, from_address: str, from_name: str = "舆情应急系统",
                 username: str | None = None, password: str | None = None, starttls: bool = False,
                 use_ssl: bool = False, timeout: float = 15.0):
        self.host, self.port = host, port
        self.from_address, self.from_name = from_address, from_name
        self.username, self.password = username, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout

    @classmethod
    def from_config(cls, cfg: EmailChannel, env: Mapping[str, str] | None = None) -> SmtpSender:
        env = os.environ if env is None else env
        password = env.get(cfg.password_env) if cfg.password_env else None
        return cls(host=cfg.smtp_host, port=cfg.smtp_port, from_address=cfg.from_address, from_name=cfg.from_name,
                   username=cfg.username, password=password, starttls=cfg.starttls, use_ssl=cfg.use_ssl,
                   timeout=cfg.timeout_seconds)

    def build_message(self, notification: Notification, person: Person) -> EmailMessage:
        """The email for one notification; the subject is RFC 2047-encoded by the email package."""
        if not person.contacts.email:
            raise ValueError(f"person {person.id} has no email address")
        msg = EmailMessage(policy=SMTP)
        msg["Subject"] = notification.subject.replace("\r", " ").replace("\n", " ")
        msg["From"] = formataddr((self.from_name, self.from_address))
        msg["To"] = formataddr((person.name, str(person.contacts.email)))
        msg["Date"] = format_datetime(notification.created_at)
        domain = self.from_address.rsplit("@", 1)[-1] or "localhost"
        msg["Message-ID"] = make_msgid(idstring=f"yuqing-{notification.id}", domain=domain)
        msg["X-Yuqing-Notification"] = str(notification.id)
        msg.set_content(notification.body, subtype="plain", charset="utf-8")
        return msg

    async def send(self, notification: Notification, person: Person) -> None:
        msg = self.build_message(notification, person)  # on the loop: reads ORM attributes
        await asyncio.to_thread(self._transmit, msg)

    def _transmit(self, msg: EmailMessage) -> None:
        if self.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls and not self.use_ssl:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)


def default_senders(policy: Policy, settings: object | None = None,
                    env: Mapping[str, str] | None = None) -> dict[str, Sender]:
    """Senders for every channel the policy enables (secrets such as the SMTP password come from ``env``)."""
    senders: dict[str, Sender] = {"in_app": InAppSender()}
    if policy.channels.channels.email.enabled:
        senders["email"] = SmtpSender.from_config(policy.channels.channels.email, env)
    return senders


async def deliver_pending(session: Session, *, clock: Clock, senders: Mapping[str, Sender], org: OrgChart,
                    retry: RetryPolicy | None = None, limit: int = 200) -> DeliveryReport:
    """Send pending notifications that are due; mark each sent, retrying (with backoff) or failed."""
    now = clock.now()
    retry = retry or RetryPolicy()
    report = DeliveryReport()
    rows = session.scalars(
        select(Notification)
        .where(Notification.status == "pending",
               or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now))
        .order_by(Notification.created_at, Notification.id).limit(limit)
        .with_for_update(skip_locked=True)).all()
    for n in rows:
        try:
            person = org.person(n.recipient_id)
        except KeyError:
            _fail(session, n, now, f"recipient {n.recipient_id} is not in the org chart", report, final=True)
            continue
        sender = senders.get(n.channel)
        if sender is None:
            _fail(session, n, now, f"no sender configured for channel {n.channel}", report, final=True)
            continue
        n.attempts += 1
        try:
            await sender.send(n, person)
        except Exception as exc:  # any failure of the outside world is a retry, not a crash of the job
            final = n.attempts >= retry.max_attempts
            _fail(session, n, now, f"{type(exc).__name__}: {exc}", report, final=final)
            if not final:
                n.next_attempt_at = now + timedelta(seconds=retry.delay_after(n.attempts))
            continue
        n.status = "sent"
        n.sent_at = now
        n.next_attempt_at = None
        n.last_error = None
        report.sent += 1
        _record_sent(session, n, person, now)
    session.flush()
    return report


def _fail(session: Session, n: Notification, now: datetime, error: str, report: DeliveryReport, *, final: bool) -> None:
    n.last_error = error[:1000]
    report.errors.append(f"notification {n.id}: {error}")
    if not final:
        report.retrying += 1
        log.info("notification delivery failed; will retry",
                 extra={"notification_id": n.id, "attempts": n.attempts, "error": error})
        return
    n.status = "failed"
    n.next_attempt_at = None
    report.failed += 1
    log.warning("notification delivery failed for good",
                extra={"notification_id": n.id, "channel": n.channel, "recipient": n.recipient_id, "error": error})
    incident = _incident_of(session, n)
    if incident is not None:
        session.add(TimelineEvent(incident=incident, at=now, kind="notify_failed", actor="system",
                                  text=f"{CHANNEL_LABELS.get(n.channel, n.channel)}通知发送失败（{n.recipient_id}）",
                                  data={"notification_id": n.id, "error": n.last_error, "attempts": n.attempts}))


def _record_sent(session: Session, n: Notification, person: Person, now: datetime) -> None:
    incident = _incident_of(session, n)
    if incident is None:
        return
    session.add(TimelineEvent(incident=incident, at=now, kind="notified", actor="system",
                              text=f"已通过{CHANNEL_LABELS.get(n.channel, n.channel)}通知{person.name}",
                              data={"notification_id": n.id, "recipient": person.id, "channel": n.channel,
                                    "purpose": n.purpose}))
    if Role.leader in person.roles and n.purpose in _LEADERSHIP_PURPOSES:
        already = any(ev.kind == "report" and ev.data.get("report") == "leadership_notice" for ev in incident.events)
        if not already:
            session.add(TimelineEvent(incident=incident, at=now, kind="report", actor="system",
                                      text=f"已告知分行领导{person.name}",
                                      data={"report": "leadership_notice", "recipient": person.id, "auto": True}))


def _incident_of(session: Session, n: Notification) -> Incident | None:
    """The incident a notification belongs to, including alert messages sent before the incident opened."""
    incident_id = n.incident_id
    if incident_id is None and n.alert_id is not None:
        alert = session.get(Alert, n.alert_id)
        incident_id = alert.incident_id if alert else None
    return session.get(Incident, incident_id) if incident_id else None
