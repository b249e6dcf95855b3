"""Delivering the notification outbox: pending rows are sent on their channel, retried with backoff, or failed.

Services write ``Notification`` rows in the same transaction as their cause (``queue_notifications`` here, or the
service's own queueing); this module is the only place that talks to the outside world. A crash between "sent" and
"marked sent" can resend one message, never lose one (the signed webhook carries the notification id so a receiver
can drop the duplicate).

What each outcome means, honestly:

* **in-app** — delivered when stored: the row is in the person's 消息 inbox. It is *read* only when the person
  opens or marks it, and *acknowledged* only when they press 确认 (``incidents.acks``).
* **email** — sent when the SMTP server accepted it (250 for every recipient); not that anyone read it.
* **WeCom / DingTalk / Feishu robots, signed webhook, SMS gateway** — sent when the platform answered 2xx *and*
  its success body (``errcode == 0`` …); see ``incidents.channels``. Robots post one message per batch of rows
  that share a message (everyone it is for, @-mentioned), not one per person.
* **phone** — nobody is called automatically. The row becomes a phone-call task on the incident (number, whom to
  call) and waits (``awaiting_call``); it is sent when a person completes that task ("called, confirmed").

Every outcome of a message about an incident is on its timeline: sent, each failed attempt with its retry time,
the final failure, the phone task and its confirmation.

Senders are asynchronous and never touch the database session. A personal sender has ``async send(notification,
person) -> str | None`` (a confirmation such as ``SMTP 250``, or None), a group sender ``async
send_group(notification, people) -> str | None``; both raise to report failure. Rows for a channel without a
sender fail visibly instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Integer, bindparam, or_, select, update
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session

from incidents.acks import AckLinks, dashboard_path
from incidents.channels import (
    DingTalkRobotSender,
    FeishuBotSender,
    SignedWebhookSender,
    SmsGatewaySender,
    WeComRobotSender,
)
from incidents.models import Alert, Incident, Notification, Task, TimelineEvent
from incidents.policy import EmailChannel, Policy, RetryPolicy, check_http_url
from yuqing.clock import Clock
from yuqing.daemon_thread import in_daemon_thread
from yuqing.errors import ConfigError
from yuqing.org import OrgChart, Person, Role
from yuqing.owed_claims import OwedClaims

log = logging.getLogger(__name__)

CHANNEL_LABELS = {"in_app": "站内消息", "email": "电子邮件", "wecom": "企业微信", "dingtalk": "钉钉",
                  "feishu": "飞书", "webhook": "Webhook", "sms": "短信", "phone": "电话"}
STATUS_LABELS = {"pending": "待发送", "sent": "已发送", "awaiting_call": "待电话确认", "failed": "发送失败",
                 "cancelled": "已取消"}
AWAITING_CALL = "awaiting_call"
CLAIM_MARGIN_SECONDS = 60  # a claimed row is due again this long after the round budget, if nobody settled it
_LINK_RE = re.compile(r"^处理链接：(/\S*)$", re.MULTILINE)


class Sender(Protocol):
    async def send(self, notification: Notification, person: Person) -> str | None:
        """Deliver one message or raise; must not touch the database session."""
        ...


class GroupSender(Protocol):
    group: bool

    async def send_group(self, notification: Notification, people: Sequence[Person]) -> str | None:
        """Deliver one message to a group, mentioning ``people``, or raise."""
        ...


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    awaiting_call: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # channel → messages left pending (breaker, budget)
    timed_out: list[str] = field(default_factory=list)  # channels stopped by the round's time budget
    breakers_opened: list[str] = field(default_factory=list)  # channels whose breaker opened this round
    breakers: dict[str, dict[str, Any]] = field(default_factory=dict)  # ChannelBreakers.snapshot() after it


class InAppSender:
    """In-app delivery is the row itself: stored means it is in the person's inbox. Read and acknowledged are
    recorded later, by the person."""

    async def send(self, notification: Notification, person: Person) -> str | None:
        return "已存入消息箱"


class SmtpSender:
    """Plain-text UTF-8 email over SMTP (optionally STARTTLS or implicit TLS, optionally authenticated).

    With ``links`` each email carries absolute dashboard links and the recipient's own one-click acknowledgement
    link; the stored body never holds the link (it is a credential for one person)."""

    def __init__(self, *, host: str, port: int, from_address: str, from_name: str = "舆情应急系统",
                 username: str | None = None, password: str | None = None, starttls: bool = False,
                 use_ssl: bool = False, timeout: float = 15.0, links: AckLinks | None = None):
        self.host, self.port = host, port
        self.from_address, self.from_name = from_address, from_name
        self.username, self.password = username, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout
        self.links = links

    @classmethod
    def from_config(cls, cfg: EmailChannel, env: Mapping[str, str] | None = None,
                    links: AckLinks | None = None) -> SmtpSender:
        env = os.environ if env is None else env
        password = env.get(cfg.password_env) if cfg.password_env else None
        return cls(host=cfg.smtp_host, port=cfg.smtp_port, from_address=cfg.from_address, from_name=cfg.from_name,
                   username=cfg.username, password=password, starttls=cfg.starttls, use_ssl=cfg.use_ssl,
                   timeout=cfg.timeout_seconds, links=links)

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
        text = (self.links.personal_text(notification.id, person.id, notification.body) if self.links
                else notification.body)
        msg.set_content(text, subtype="plain", charset="utf-8")
        return msg

    async def send(self, notification: Notification, person: Person) -> str | None:
        msg = self.build_message(notification, person)  # on the loop: reads ORM attributes
        return await in_daemon_thread(self._transmit, msg)  # Ctrl-C never waits for a silent SMTP server

    def _transmit(self, msg: EmailMessage) -> str:
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
            refused = smtp.send_message(msg)
        if refused:  # accepted for some recipients only: not delivered to this one
            raise smtplib.SMTPRecipientsRefused(refused)
        return "SMTP 250"


class PersonalHttpSender:
    """A per-person HTTP channel (signed webhook, SMS) with the person's own text and one-click link."""

    def __init__(self, channel: SignedWebhookSender | SmsGatewaySender, links: AckLinks | None = None):
        self.channel, self.links = channel, links

    async def send(self, notification: Notification, person: Person) -> str | None:
        if self.links is None:
            return await self.channel.send_personal(notification, person, notification.body, None)
        url = self.links.url(notification.id, person.id)
        text = self.links.personal_text(notification.id, person.id, notification.body, url=url)
        return await self.channel.send_personal(notification, person, text, url)


class GroupRobotSender:
    """A group robot, given the dashboard address so its message links to the page (not a one-click link)."""

    group = True

    def __init__(self, robot: WeComRobotSender | DingTalkRobotSender | FeishuBotSender, base_url: str | None):
        self.robot, self.base_url = robot, base_url

    async def send_group(self, notification: Notification, people: Sequence[Person]) -> str | None:
        match = _LINK_RE.search(notification.body)
        url = f"{self.base_url}{dashboard_path(match.group(1))}" if match and self.base_url else None
        return await self.robot.send_group(notification, people, url)


class PhoneCallTasks:
    """The phone channel: turns a row into a phone-call task for the incident's commander (not a sender)."""

    def __init__(self, due_minutes: int = 30):
        self.due_minutes = due_minutes


def links_for(policy: Policy, settings: Any | None) -> AckLinks | None:
    """One-click links need the app's secret key (from settings); without it messages carry none."""
    secret = getattr(settings, "secret_key", None) if settings is not None else None
    if not secret:
        return None
    base = policy.channels.links.base_url
    if base is None:
        host = getattr(settings, "api_host", "127.0.0.1")
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{getattr(settings, 'api_port', 8000)}"
    return AckLinks(secret, base_url=base, expiry_hours=policy.channels.links.ack_expiry_hours)


def default_senders(policy: Policy, settings: Any | None = None, env: Mapping[str, str] | None = None, *,
                    config_path: Path | str | None = None) -> dict[str, Any]:
    """Senders for every channel the policy enables; secrets come from the environment variables the channels
    file names. A missing or unusable variable is a ``ConfigError`` naming the file and the field."""
    env = os.environ if env is None else env
    path = Path(config_path) if config_path else (
        Path(settings.config_dir) / "channels.yaml" if settings is not None and hasattr(settings, "config_dir")
        else Path("channels.yaml"))
    c = policy.channels.channels
    links = links_for(policy, settings)
    base = links.base_url if links else policy.channels.links.base_url

    def secret(name: str | None, field_path: str, *, url: bool = False) -> str | None:
        if name is None:
            return None
        value = env.get(name, "").strip()
        if not value:
            raise ConfigError(path, [(field_path, f"environment variable {name} is not set")])
        if url:
            try:
                check_http_url(value)
            except ValueError as exc:
                raise ConfigError(path, [(field_path, f"environment variable {name}: {exc}")]) from None
        return value

    senders: dict[str, Any] = {"in_app": InAppSender()}
    if c.email.enabled:
        senders["email"] = SmtpSender.from_config(c.email, env, links=links)
    if c.wecom.enabled:
        senders["wecom"] = GroupRobotSender(WeComRobotSender(
            secret(c.wecom.url_env, "channels.wecom.url_env", url=True) or "", timeout=c.wecom.timeout_seconds), base)
    if c.dingtalk.enabled:
        senders["dingtalk"] = GroupRobotSender(DingTalkRobotSender(
            secret(c.dingtalk.url_env, "channels.dingtalk.url_env", url=True) or "",
            secret=secret(c.dingtalk.secret_env, "channels.dingtalk.secret_env"),
            timeout=c.dingtalk.timeout_seconds), base)
    if c.feishu.enabled:
        senders["feishu"] = GroupRobotSender(FeishuBotSender(
            secret(c.feishu.url_env, "channels.feishu.url_env", url=True) or "",
            secret=secret(c.feishu.secret_env, "channels.feishu.secret_env"),
            timeout=c.feishu.timeout_seconds), base)
    if c.webhook.enabled:
        senders["webhook"] = PersonalHttpSender(SignedWebhookSender(
            c.webhook.url or "", secret=secret(c.webhook.secret_env, "channels.webhook.secret_env") or "",
            signature_header=c.webhook.signature_header, timestamp_header=c.webhook.timestamp_header,
            timeout=c.webhook.timeout_seconds), links)
    if c.sms.enabled:
        credential = secret(c.sms.auth_env, "channels.sms.auth_env")
        auth_value = f"{c.sms.auth_scheme} {credential}".strip() if credential else None
        senders["sms"] = PersonalHttpSender(SmsGatewaySender(
            c.sms.url or "", method=c.sms.method, json_body=c.sms.json_body, auth_header=c.sms.auth_header,
            auth_value=auth_value, success_field=c.sms.success_field, success_value=c.sms.success_value,
            max_chars=c.sms.max_chars, timeout=c.sms.timeout_seconds), links)
    if c.phone.enabled:
        senders["phone"] = PhoneCallTasks()
    return senders


# --- queueing (for the service side) ---------------------------------------------------------------------------

def queue_notifications(session: Session, *, people: Sequence[Person], policy: Policy, now: datetime,
                        alert: Alert | None, incident_id: int | None, purpose: str, key: str,
                        message: tuple[str, str], level: str | None = None) -> int:
    """Queue one message for ``people`` on every channel each is reached on; returns how many rows were added.

    The same contract as the service's own queueing (dedup key ``{key}:{person}:{channel}``: re-running after a
    crash adds nothing twice), plus the person-dependent channels it cannot know about: SMS (needs a mobile
    number) and, for incident messages (``incident_opened``, ``level_changed``) at a level whose policy says
    ``leadership_by_phone``, a phone-call row for each leader with a number.
    """
    subject, body = message
    by_phone = (level is not None and incident_id is not None and purpose in ("incident_opened", "level_changed")
                and policy.level(level).leadership_by_phone and policy.channels.channels.phone.enabled)
    queued = 0
    for person in people:
        channels = policy.channels.person_channels(has_email=bool(person.contacts.email),
                                                   has_phone=bool(person.contacts.phone))
        if by_phone and Role.leader in person.roles and person.contacts.phone:
            channels.append("phone")
        for channel in channels:
            dedup = f"{key}:{person.id}:{channel}"
            if session.scalar(select(Notification.id).where(Notification.dedup_key == dedup)) is not None:
                continue
            session.add(Notification(dedup_key=dedup, alert_id=alert.id if alert else None, incident_id=incident_id,
                                     recipient_id=person.id, channel=channel, purpose=purpose, subject=subject,
                                     body=body, status="pending", attempts=0, created_at=now, next_attempt_at=now))
            queued += 1
    session.flush()
    return queued


# --- delivery --------------------------------------------------------------------------------------------------

class ChannelBreakers:
    """One circuit breaker per channel, kept by the process between delivery rounds.

    ``failures`` consecutive failed or timed-out sends open a channel's breaker: for ``cooldown_seconds`` (real
    time, since it is about the outside world) the channel is skipped and its messages stay pending, untouched.
    After the cool-down the breaker is half-open: one message at a time is tried; a success closes it, a failure
    opens it again for another cool-down."""

    def __init__(self, failures: int = 3, cooldown_seconds: float = 300.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self.failures, self.cooldown_seconds, self._now = failures, cooldown_seconds, monotonic
        self._streak: dict[str, int] = {}
        self._opened_at: dict[str, float] = {}
        self.opened_count: dict[str, int] = {}

    @classmethod
    def from_policy(cls, retry: RetryPolicy) -> ChannelBreakers:
        return cls(retry.breaker_failures, retry.breaker_cooldown_seconds)

    def reconfigured(self, retry: RetryPolicy) -> ChannelBreakers:
        """The same breakers under new delivery settings (a configuration reload).

        Failure streaks and open breakers carry over, so a reload while the mail relay is down neither sends a
        burst of mail into it nor makes the outage look over (the admins' "恢复" message follows the breaker
        closing); the new threshold and cool-down apply from now on."""
        fresh = ChannelBreakers(retry.breaker_failures, retry.breaker_cooldown_seconds, self._now)
        fresh._streak, fresh._opened_at = dict(self._streak), dict(self._opened_at)
        fresh.opened_count = dict(self.opened_count)
        return fresh

    def state(self, channel: str) -> str:
        """``closed`` (sending), ``open`` (skipped until the cool-down ends) or ``half_open`` (one trial at a time)."""
        opened = self._opened_at.get(channel)
        if opened is None:
            return "closed"
        return "open" if self._now() - opened < self.cooldown_seconds else "half_open"

    def retry_in(self, channel: str) -> float:
        opened = self._opened_at.get(channel)
        return 0.0 if opened is None else max(0.0, self.cooldown_seconds - (self._now() - opened))

    def success(self, channel: str) -> None:
        if self._opened_at.pop(channel, None) is not None:
            log.warning("delivery channel circuit closed", extra={"channel": channel})
        self._streak[channel] = 0

    def failure(self, channel: str) -> bool:
        """Record a failed send; True when this failure opened (or re-opened) the breaker."""
        self._streak[channel] = self._streak.get(channel, 0) + 1
        if self._streak[channel] < self.failures or self.state(channel) == "open":
            return False
        self._opened_at[channel] = self._now()
        self.opened_count[channel] = self.opened_count.get(channel, 0) + 1
        log.warning("delivery channel circuit opened: channel skipped during the cool-down",
                    extra={"channel": channel, "consecutive_failures": self._streak[channel],
                           "cooldown_seconds": self.cooldown_seconds})
        return True

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every channel that has failed lately: its state, failure streak and seconds until the next trial."""
        return {ch: {"state": self.state(ch), "consecutive_failures": n, "retry_in_seconds": round(self.retry_in(ch))}
                for ch, n in self._streak.items() if n or ch in self._opened_at}


@dataclass
class _Job:
    """One send: a personal message (one row) or a group robot batch (several rows, one post)."""

    channel: str
    rows: list[tuple[Notification, Person]]
    due: list[datetime | None]  # each row's next_attempt_at before the claim, restored when the job is not run
    started: bool = False


# The round's two outbox reads, built once with the values bound per call (``now``, the channels whose breaker is
# open, the batch size): building a statement and its cache key cost more than running it on every round of a
# replay or a quiet service. ``_DUE`` (pending, and no retry time or one reached by ``now``) is also what the
# rows of a channel with an open breaker are found by (``_note_skipped``). An empty ``blocked`` excludes nothing.
_DUE = (Notification.status == "pending",
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= bindparam("now")))
_DUE_ROWS = (
    select(Notification)
    .where(*_DUE, Notification.channel.not_in(bindparam("blocked", expanding=True)))
    .order_by(Notification.created_at, Notification.id).limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True))
_AWAITING_CALLS = select(Notification).where(Notification.status == AWAITING_CALL)


# Claims a round of this process could not settle nor give back because the database went away mid-round: each
# row's next_attempt_at stayed at the round's lease (budget + CLAIM_MARGIN_SECONDS ahead), as if this process had
# died, so the messages - the admins' outage message among those that follow - waited a minute and a half after a
# few seconds' outage. The next round of this process gives them back first (to when each was due before the claim;
# only rows still pending at that very lease, so nothing another deliverer took over is touched). A message whose
# send went out before its outcome could be recorded goes out again, with the same delivery id, as after a crash -
# only sooner. Kept per database (its URL): one process may use more than one (the tests do).
_OWED_CLAIMS: OwedClaims[tuple[datetime, list[tuple[int, datetime | None]]]] = OwedClaims()
_GIVE_BACK = (update(Notification)
              .where(Notification.id == bindparam("row_id"), Notification.status == "pending",
                     Notification.next_attempt_at == bindparam("lease"))
              .values(next_attempt_at=bindparam("was_due")))


def _give_back(session: Session, lease: datetime, rows: Sequence[tuple[int, datetime | None]]) -> None:
    """Undo this process's claim on ``rows`` (id, due before the claim) and commit."""
    for row_id, was_due in rows:
        session.execute(_GIVE_BACK, {"row_id": row_id, "lease": lease, "was_due": was_due},
                        execution_options={"synchronize_session": False})
    session.commit()


def _give_back_owed_claims(session: Session) -> None:
    """Give back the claims an earlier round could not (see ``_OWED_CLAIMS``); raises, keeping them, while the
    database is still away."""

    def give(session: Session, owed: list[tuple[datetime, list[tuple[int, datetime | None]]]]) -> int:
        for lease, rows in owed:
            _give_back(session, lease, rows)
        return sum(len(rows) for _, rows in owed)

    if given := _OWED_CLAIMS.give_back(session, give):
        log.warning("claims of a round cut short by the database given back", extra={"rows": given})


async def deliver_pending(session: Session, *, clock: Clock, senders: Mapping[str, Any], org: OrgChart,
                          retry: RetryPolicy | None = None, limit: int = 200,
                          breakers: ChannelBreakers | None = None) -> DeliveryReport:
    """Send pending notifications that are due; mark each sent, retrying (with backoff) or failed; turn phone
    rows into call tasks and confirm those whose task a person has completed.

    Commits as it goes: the claim first (each due row's ``next_attempt_at`` is pushed a lease ahead, so a second
    deliverer skips it and a crashed one's rows come back after the lease), then every send's outcome on its own,
    right after the channel answered. A crash after the k-th send therefore re-sends at most the one message that
    was in flight, never messages 1..k. Channels run side by side, each with at most
    ``retry.concurrency_per_channel`` sends in flight and its own circuit breaker; the round stops after
    ``retry.round_budget_seconds`` (sends still in flight count as timed out, messages not started stay pending
    as they were), so a stalled mail server delays only mail."""
    _give_back_owed_claims(session)
    now = clock.now()
    retry = retry or RetryPolicy()
    breakers = breakers if breakers is not None else ChannelBreakers.from_policy(retry)
    report = DeliveryReport()
    _confirm_calls(session, org, now, report)
    session.commit()
    blocked = sorted(ch for ch in senders if breakers.state(ch) == "open")
    if blocked:
        _note_skipped(session, blocked, now, breakers, report)
    rows = session.scalars(_DUE_ROWS, {"now": now, "blocked": blocked, "limit": limit}).all()
    jobs: dict[str, list[_Job]] = {}
    groups: dict[tuple, _Job] = {}
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
        if isinstance(sender, PhoneCallTasks):
            _open_call_task(session, n, person, sender, now, report)
            continue
        if getattr(sender, "group", False):
            key = (n.channel, n.purpose, n.subject, n.body, n.alert_id, n.incident_id, n.created_at, n.attempts)
            job = groups.get(key)
            if job is None:
                job = groups[key] = _Job(n.channel, [], [])
                jobs.setdefault(n.channel, []).append(job)
            job.rows.append((n, person))
            job.due.append(n.next_attempt_at)
        else:
            jobs.setdefault(n.channel, []).append(_Job(n.channel, [(n, person)], [n.next_attempt_at]))
    lease = now + timedelta(seconds=retry.round_budget_seconds + CLAIM_MARGIN_SECONDS)
    claimed: dict[int, datetime | None] = {}  # row id → due before the claim, until its outcome is committed
    for channel_jobs in jobs.values():
        for job in channel_jobs:
            for (n, _), was_due in zip(job.rows, job.due, strict=True):
                claimed[n.id] = was_due
                n.next_attempt_at = lease
    session.commit()  # the claim, and the final failures and phone tasks above
    try:
        return await _send_claimed(session, jobs, claimed, now=now, senders=senders, retry=retry,
                                   breakers=breakers, report=report)
    except (DBAPIError, DisconnectionError):  # the database went away mid-round: not a dead process
        with contextlib.suppress(Exception):
            session.rollback()
        left = sorted(claimed.items())
        try:
            _give_back(session, lease, left)
        except Exception:
            with contextlib.suppress(Exception):
                session.rollback()
            _OWED_CLAIMS.owe(session, (lease, left))
        raise


async def _send_claimed(session: Session, jobs: dict[str, list[_Job]], claimed: dict[int, datetime | None], *,
                        now: datetime, senders: Mapping[str, Any], retry: RetryPolicy, breakers: ChannelBreakers,
                        report: DeliveryReport) -> DeliveryReport:
    """The sends of a round whose rows are claimed (``deliver_pending``); each outcome committed at once, and its
    rows taken out of ``claimed``."""

    def settle(job: _Job, confirmation: str | None, error: str | None) -> None:
        """Record one send's outcome and commit it at once (runs on the loop, between awaits: never interleaved)."""
        ids = [n.id for n, _ in job.rows]
        for n, person in job.rows:
            if error is None:
                _mark_sent(session, n, [person], now, confirmation, report)
            else:
                _attempt_failed(session, n, now, error, report, retry)
        session.commit()
        for row_id in ids:
            claimed.pop(row_id, None)
        if error is None:
            breakers.success(job.channel)
        elif breakers.failure(job.channel):
            report.breakers_opened.append(job.channel)

    async def run_channel(channel: str, channel_jobs: list[_Job]) -> None:
        sender = senders[channel]
        gate = asyncio.Semaphore(1 if breakers.state(channel) == "half_open" else retry.concurrency_per_channel)

        async def one(job: _Job) -> None:
            async with gate:
                if breakers.state(channel) == "open":
                    return  # opened by an earlier send this round: left pending for after the cool-down
                job.started = True
                for n, _ in job.rows:
                    n.attempts += 1
                first, person = job.rows[0]
                try:
                    if getattr(sender, "group", False):
                        confirmation = await sender.send_group(first, [p for _, p in job.rows])
                    else:
                        confirmation = await sender.send(first, person)
                except asyncio.CancelledError:
                    settle(job, None, f"本轮投递时限（{retry.round_budget_seconds:g} 秒）已到，渠道未答复")
                    raise
                except Exception as exc:  # any failure of the outside world is a retry, not a crash of the job
                    settle(job, None, f"{type(exc).__name__}: {exc}")
                    return
                settle(job, confirmation, None)

        await asyncio.gather(*(one(job) for job in channel_jobs))

    tasks = {asyncio.create_task(run_channel(ch, js), name=f"deliver-{ch}"): ch for ch, js in jobs.items()}
    if tasks:
        done, late = await asyncio.wait(tasks, timeout=retry.round_budget_seconds)
        for task in late:
            task.cancel()
            report.timed_out.append(tasks[task])
        if late:
            log.warning("delivery round budget used up; channels still sending were stopped",
                        extra={"channels": sorted(tasks[t] for t in late),
                               "budget_seconds": retry.round_budget_seconds})
            await asyncio.wait(late)
        # every channel's exception retrieved (not just the first: asyncio would log the others as never retrieved)
        crashes = [t.exception() for t in done if not t.cancelled()]
        crash = next((exc for exc in crashes if exc is not None), None)
        if crash is not None:
            raise crash
    left = 0
    for channel_jobs in jobs.values():
        for job in channel_jobs:
            if not job.started:  # not tried this round (budget, or the breaker opened): due again as before
                for (n, _), was_due in zip(job.rows, job.due, strict=True):
                    n.next_attempt_at = was_due
                    left += 1
                report.skipped[job.channel] = report.skipped.get(job.channel, 0) + len(job.rows)
    if left:
        log.warning("notifications left pending for the next round", extra={"skipped": dict(report.skipped)})
    report.breakers = breakers.snapshot()
    session.commit()
    claimed.clear()  # every row settled or put back as it was
    return report


def _note_skipped(session: Session, blocked: Sequence[str], now: datetime, breakers: ChannelBreakers,
                  report: DeliveryReport) -> None:
    """Due rows of a channel whose breaker is open stay pending, untouched but for a note the outbox page shows."""
    for channel in blocked:
        wait = round(breakers.retry_in(channel))
        note = f"{CHANNEL_LABELS.get(channel, channel)}通道连续失败，已暂停发送（熔断），约{wait}秒后重试"
        result = session.execute(update(Notification).where(*_DUE, Notification.channel == channel)
                                 .values(last_error=note).execution_options(synchronize_session="fetch"),
                                 {"now": now})
        count = result.rowcount or 0  # type: ignore[attr-defined]
        if count:
            report.skipped[channel] = report.skipped.get(channel, 0) + count
            log.warning("delivery channel skipped: circuit open",
                        extra={"channel": channel, "pending": count, "retry_in_seconds": wait})
    session.commit()


def _attempt_failed(session: Session, n: Notification, now: datetime, error: str, report: DeliveryReport,
                    retry: RetryPolicy) -> None:
    final = n.attempts >= retry.max_attempts
    if not final:
        n.next_attempt_at = now + timedelta(seconds=retry.delay_after(n.attempts))
    _fail(session, n, now, error, report, final=final)


def _mark_sent(session: Session, n: Notification, people: list[Person], now: datetime, confirmation: str | None,
               report: DeliveryReport) -> None:
    n.status = "sent"
    n.sent_at = now
    n.next_attempt_at = None
    n.last_error = None
    report.sent += 1
    _record_sent(session, n, people[0], now, confirmation)


def _fail(session: Session, n: Notification, now: datetime, error: str, report: DeliveryReport, *, final: bool) -> None:
    n.last_error = error[:1000]
    report.errors.append(f"notification {n.id}: {error}")
    label = CHANNEL_LABELS.get(n.channel, n.channel)
    incident = _incident_of(session, n)
    if not final:
        report.retrying += 1
        log.info("notification delivery failed; will retry",
                 extra={"notification_id": n.id, "attempts": n.attempts, "error": error})
        if incident is not None:
            session.add(TimelineEvent(
                incident=incident, at=now, kind="notify_retry", actor="system",
                text=f"{label}通知第{n.attempts}次发送失败（{n.recipient_id}），将自动重试",
                data={"notification_id": n.id, "error": n.last_error, "attempts": n.attempts,
                      "next_attempt_at": n.next_attempt_at.isoformat() if n.next_attempt_at else None}))
        return
    n.status = "failed"
    n.next_attempt_at = None
    report.failed += 1
    log.warning("notification delivery failed for good",
                extra={"notification_id": n.id, "channel": n.channel, "recipient": n.recipient_id, "error": error})
    if incident is not None:
        session.add(TimelineEvent(incident=incident, at=now, kind="notify_failed", actor="system",
                                  text=f"{label}通知发送失败（{n.recipient_id}）",
                                  data={"notification_id": n.id, "error": n.last_error, "attempts": n.attempts}))
    else:
        _complaint_event(session, n, now, "notify_failed", f"{label}通知发送失败（{n.recipient_id}）",
                         {"error": n.last_error, "attempts": n.attempts})


def _sent_text(n: Notification, person: Person, confirmation: str | None) -> str:
    """What a delivered message is, no more: a stored in-app row is in the inbox, not read."""
    if n.channel == "in_app":
        return f"站内消息已送达{person.name}的消息箱（待阅读）"
    label = CHANNEL_LABELS.get(n.channel, n.channel)
    return f"已通过{label}通知{person.name}" + (f"（{confirmation}）" if confirmation else "")


def _complaint_event(session: Session, n: Notification, now: datetime, kind: str, text: str, data: dict) -> None:
    """A message about a complaint with no incident (``incidents.complaints.scheduled`` keys them
    ``complaint:<id>:…``): its delivery outcome goes on the complaint's timeline."""
    head, _, rest = n.dedup_key.partition(":")
    number = rest.split(":", 1)[0]
    if head != "complaint" or not number.isdigit():
        return
    from incidents.complaints.models import Complaint, ComplaintEvent  # complaints build on this module

    complaint = session.get(Complaint, int(number))
    if complaint is not None:
        session.add(ComplaintEvent(complaint=complaint, at=now, kind=kind, actor="system", text=text,
                                   data={"notification_id": n.id, "channel": n.channel, "purpose": n.purpose} | data))


def _record_sent(session: Session, n: Notification, person: Person, now: datetime,
                 confirmation: str | None = None) -> None:
    """The timeline says what happened and no more: a stored in-app row is "in the inbox", not "told"."""
    incident = _incident_of(session, n)
    if incident is None:
        _complaint_event(session, n, now, "notified", _sent_text(n, person, confirmation),
                         {"recipient": person.id, "confirmation": confirmation})
        return
    label = CHANNEL_LABELS.get(n.channel, n.channel)
    if n.channel == "in_app":
        text = f"站内消息已送达{person.name}的消息箱（待阅读）"
    elif n.channel == "phone":
        text = f"已电话告知{person.name}（{confirmation or '已确认'}）"
    else:
        text = f"已通过{label}通知{person.name}" + (f"（{confirmation}）" if confirmation else "")
    session.add(TimelineEvent(incident=incident, at=now, kind="notified", actor="system", text=text,
                              data={"notification_id": n.id, "recipient": person.id, "channel": n.channel,
                                    "purpose": n.purpose, "confirmation": confirmation}))


# --- phone: a task for a person, confirmed by a person ---------------------------------------------------------

def _call_task_key(n: Notification) -> str:
    return f"phone_call_{n.id}"


def _open_call_task(session: Session, n: Notification, person: Person, phone: PhoneCallTasks, now: datetime,
                    report: DeliveryReport) -> None:
    incident = session.get(Incident, n.incident_id) if n.incident_id else _incident_of(session, n)
    if incident is None or not person.contacts.phone:
        why = "no incident to attach a phone-call task to" if incident is None else f"{person.id} has no phone"
        _fail(session, n, now, why, report, final=True)
        return
    key = _call_task_key(n)
    if not any(t.key == key for t in incident.tasks):
        who = person.title or "、".join(str(r) for r in person.roles)
        session.add(Task(incident=incident, position=len(incident.tasks), key=key,
                         title=f"电话告知{person.name}（{who}，{person.contacts.phone}）：{n.subject[:60]}——接通并确认对方知悉后点“完成”",
                         owner_role=str(Role.commander), owner_id=incident.commander_id,
                         due_at=now + timedelta(minutes=phone.due_minutes), status="todo", note=""))
    n.attempts += 1
    n.status = AWAITING_CALL
    n.next_attempt_at = None
    report.awaiting_call += 1
    session.add(TimelineEvent(incident=incident, at=now, kind="phone_task", actor="system",
                              text=f"需电话告知{person.name}（{person.contacts.phone}）：已生成电话任务，待致电确认",
                              data={"notification_id": n.id, "recipient": person.id, "task_key": key}))


def _confirm_calls(session: Session, org: OrgChart, now: datetime, report: DeliveryReport) -> None:
    """Phone rows whose task a person completed are sent (at the moment they confirmed); dropped tasks cancel."""
    waiting = session.scalars(_AWAITING_CALLS).all()
    for n in waiting:
        incident = session.get(Incident, n.incident_id) if n.incident_id else None
        task = next((t for t in incident.tasks if t.key == _call_task_key(n)), None) if incident else None
        if task is None or task.status == "todo":
            continue
        if task.status != "done":
            n.status, n.last_error = "cancelled", f"电话任务未执行（{task.status}）"
            continue
        try:
            person = org.person(n.recipient_id)
        except KeyError:
            n.status, n.last_error = "failed", f"recipient {n.recipient_id} is not in the org chart"
            continue
        n.status, n.sent_at = "sent", task.done_at or now
        report.sent += 1
        _record_sent(session, n, person, task.done_at or now, f"{task.done_by or '值班人员'}致电并确认")


def _incident_of(session: Session, n: Notification) -> Incident | None:
    """The incident a notification belongs to, including alert messages sent before the incident opened."""
    incident_id = n.incident_id
    if incident_id is None and n.alert_id is not None:
        alert = session.get(Alert, n.alert_id)
        incident_id = alert.incident_id if alert else None
    return session.get(Incident, incident_id) if incident_id else None


def with_email_relay(policy: Policy, host: str, port: int) -> Policy:
    """The policy with email on and sent, in plain SMTP, to ``host:port`` — the demo's local mail sink."""
    c = policy.channels.channels
    email = c.email.model_copy(update={"enabled": True, "smtp_host": host, "smtp_port": port, "starttls": False,
                                       "use_ssl": False, "username": None})
    channels = policy.channels.model_copy(update={"channels": c.model_copy(update={"email": email})})
    return policy.model_copy(update={"channels": channels})


def with_wecom_robot(policy: Policy, url_env: str = "YUQING_WECOM_WEBHOOK_URL") -> Policy:
    """The policy with the WeCom group robot on, its URL read from ``url_env`` (the demo points it at the sim)."""
    c = policy.channels.channels
    wecom = c.wecom.model_copy(update={"enabled": True, "url_env": c.wecom.url_env or url_env})
    channels = policy.channels.model_copy(update={"channels": c.model_copy(update={"wecom": wecom})})
    return policy.model_copy(update={"channels": channels})
