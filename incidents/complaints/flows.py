"""Complaint intake and handling steps: one function per change, each a timeline event and a hash-chained audit entry.

Intake (:func:`create_complaint`) validates everything first — unit, category, channel, severity, the received-at
time, the text, every attachment, the idempotency key — and only then adds rows, so a refused complaint leaves
nothing behind; the caller commits (one transaction). A refusal is a :class:`ComplaintError` carrying an English
message for the API, a Chinese one for the dashboard and the CLI, and the field it is about.

Choices worth knowing:

* **Late entry is recorded, not refused.** The entry clock (24 h from receipt) measures exactly that; a complaint
  received last month and typed in today is late, and the record says so. A received-at in the future (beyond
  ``CLOCK_SKEW``) or without a zone is refused: the clocks would be meaningless.
* **Numbers** are ``TS-YYYYMMDD-NNN`` by the local date of *receipt*; a number taken by a concurrent writer makes
  the insert fail on the unique constraint inside a savepoint, and the day's highest number is read again and the
  one after it tried (never "the next but N": concurrent intake leaves no gaps).
* **customer_key** (repeat complaints) is HMAC-SHA256 of the phone's digits, or of the trimmed name when there is
  no phone, keyed with a random per-deployment secret kept in ``deployment_facts``. Not the session-signing key: the
  demo makes a new one each run and an operator may rotate it, and either would silently break repeat counting.
  Never a plain hash: the phone-number space is small enough to enumerate.
* **首问责任制**: the first-contact owner is the entering user when they are a person in the org chart, else the
  duty monitor (值班监测) nearest up the unit's chain; it changes only by :func:`hand_over`, on the record. A given
  owner, a new owner and an assignee must be someone who may handle the complaint (``access.may_handle``: a role
  that works complaints, the unit in their scope) — handling gives step rights and the customer's full details.
* **Acknowledging** receipt by phone, SMS or in person also counts as the first contact with the customer (the
  48 h contact clock): the customer heard from a person. A written acknowledgement (书面) does not.
* **Order**: closing needs a proposed solution the customer did not refuse, or a recorded mediation/arbitration;
  the return visit comes after closing; 不满意 reopens the complaint (status back to 处理中). For 紧急, a full
  solution also counts as the preliminary one. New facts restart the reply clock: the earlier answer no longer
  answers them, so ``proposed_at`` is cleared and the next proposal meets the new clock; the replaced clock's
  outcome (met, late, overdue) stays on the record and in the statistics. Closing tells the customer the outcome:
  with no answer (or contact) standing, it is the answer (the contact), so an ended complaint has no clock running.
* **Extensions are asked for in time**: once the reply deadline has passed it is missed and stays missed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crawlers.models import Article
from incidents.complaints.config import ComplaintsConfig
from incidents.complaints.models import (
    CHANNEL_LABELS,
    OPEN_STATUSES,
    SATISFACTION_LABELS,
    SEVERITY_BY_LABEL,
    SEVERITY_LABELS,
    STATUS_LABELS,
    Complaint,
    ComplaintAttachment,
    ComplaintChannel,
    ComplaintEvent,
    ComplaintStatus,
    Satisfaction,
    Severity,
)
from yuqing import audit_chain
from yuqing.categories import CATEGORIES
from yuqing.clock import Clock, ensure_utc
from yuqing.models import DeploymentFact
from yuqing.org import OrgChart, Role

CLOCK_SKEW = timedelta(minutes=5)  # a received-at this far ahead of our clock is still accepted (clock drift)
TEXT_LIMIT = 20000
NOTE_LIMIT = 4000
SECRET_FACT = "complaints.customer_key_secret"
NUMBER_ATTEMPTS = 20  # each failed attempt means another writer committed a number: progress every time
DEFAULT_TZ = "Asia/Shanghai"  # the policy's timezone when a caller does not pass one

# How receipt was acknowledged (受理告知); the first three reach the customer in person and count as contact.
ACK_METHODS: dict[str, str] = {"phone": "电话", "sms": "短信", "in_person": "当面", "written": "书面"}
ACK_BY_LABEL: dict[str, str] = {label: code for code, label in ACK_METHODS.items()}
CONTACT_METHODS = frozenset({"phone", "sms", "in_person"})
MEDIATION_KINDS: dict[str, str] = {"mediation": "调解", "arbitration": "仲裁"}
SATISFACTION_BY_LABEL: dict[str, str] = {label: code for code, label in SATISFACTION_LABELS.items()}


class ComplaintError(Exception):
    """A refused intake or step: ``en`` for the API, ``zh`` for people, ``field`` the input it is about (or None)."""

    def __init__(self, en: str, zh: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(en)
        self.en = en
        self.zh = zh
        self.field = field
        self.code = code


class ComplaintNotFound(ComplaintError):
    def __init__(self, complaint_id: object):
        super().__init__(f"complaint {complaint_id} not found", f"投诉不存在（编号 {complaint_id}）",
                         field="complaint_id", code="not_found")


class ComplaintInput(BaseModel):
    """What intake needs, from any channel (form, API, CLI, crawled post). Checked by :func:`create_complaint`
    (not here), so every refusal is a bilingual ComplaintError naming its field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: str
    received_at: datetime
    unit_id: str
    category: str
    severity: str = Severity.general
    description: str
    customer_name: str = ""
    customer_phone: str = ""
    account_or_product: str = ""
    handling_unit_id: str | None = None
    lead_department: str = ""
    first_contact_owner_id: str | None = None
    source_system: str = ""
    idempotency_key: str | None = None
    article_id: int | None = None


@dataclass(frozen=True)
class AttachmentInput:
    """A file that came with the complaint; kept byte for byte with its SHA-256."""

    filename: str
    content_type: str
    data: bytes
    size: int | None = None  # the file's real size when ``data`` holds only its start (an upload over the limit)

    @property
    def total_size(self) -> int:
        return max(self.size or 0, len(self.data))


# --- small helpers -------------------------------------------------------------------------------------------
_KEPT_FORMAT = "\n\t\u200d"  # newlines, tabs and the zero-width joiner (emoji sequences: 👨‍👩‍👧 stays one)


def _clean(text: str | None, limit: int) -> str:
    """Trimmed text without control and format characters other than newlines, tabs and the zero-width joiner
    (typed text is hostile: bidi overrides, NULs; a ZWJ only joins emoji)."""
    s = "".join(ch for ch in str(text or "") if ch in _KEPT_FORMAT or unicodedata.category(ch)[0] != "C")
    return s.strip()[:limit]


def normalise_severity(value: str) -> str:
    """A Severity code from a code (general) or a Chinese label (一般); ComplaintError otherwise."""
    v = (value or "").strip()
    code = SEVERITY_BY_LABEL.get(v, v)
    if code not in {s.value for s in Severity}:
        raise ComplaintError(f"unknown severity {v!r}; use one of general, important, urgent (一般, 重要, 紧急)",
                             f"投诉等级无效：{v or '（空）'}；应为 一般、重要 或 紧急", field="severity")
    return code


def normalise_channel(value: str) -> str:
    v = (value or "").strip()
    by_label = {label: code for code, label in CHANNEL_LABELS.items()}
    code = by_label.get(v, v)
    if code not in {c.value for c in ComplaintChannel}:
        raise ComplaintError(f"unknown channel {v!r}; use one of {', '.join(c.value for c in ComplaintChannel)}",
                             f"受理渠道无效：{v or '（空）'}；应为 " + "、".join(CHANNEL_LABELS.values()),
                             field="channel")
    return code


def phone_digits(phone: str) -> str:
    return re.sub(r"\D", "", phone or "")


def customer_secret(session: Session, *, clock: Clock) -> bytes:
    """The deployment's key for ``customer_key``: created at random on first use, then read back (a concurrent
    first use loses the insert race and reads the winner's)."""
    fact = session.get(DeploymentFact, SECRET_FACT)
    if fact is None:
        try:
            with session.begin_nested():
                session.add(DeploymentFact(key=SECRET_FACT, value=secrets.token_hex(32), set_at=clock.now()))
        except IntegrityError:
            pass
        fact = session.get(DeploymentFact, SECRET_FACT)
    assert fact is not None
    return fact.value.encode("ascii")


def customer_key(secret: bytes, *, phone: str, name: str) -> str | None:
    """HMAC-SHA256 of the phone's digits, else of the trimmed name; None when neither is known."""
    digits = phone_digits(phone)
    basis = f"phone:{digits}" if digits else (f"name:{name.strip()}" if name.strip() else "")
    if not basis:
        return None
    return hmac.new(secret, basis.encode("utf-8"), hashlib.sha256).hexdigest()


def _fingerprint(fields: dict, attachments: Sequence[AttachmentInput]) -> str:
    """What a resubmission under the same idempotency key must repeat exactly."""
    content = dict(fields) | {"attachments": sorted(hashlib.sha256(a.data).hexdigest() for a in attachments)}
    return hashlib.sha256(audit_chain.canonical_json(content).encode("utf-8")).hexdigest()


def _event(session: Session, c: Complaint, at: datetime, kind: str, actor: str, text: str,
           data: dict | None = None) -> ComplaintEvent:
    ev = ComplaintEvent(complaint=c, at=at, kind=kind, actor=str(actor)[:64], text=text, data=data or {})
    session.add(ev)
    return ev


def _audit(session: Session, c: Complaint, at: datetime, actor: str, action: str, data: dict | None = None) -> None:
    audit_chain.append(session, at=at, actor=actor, action=f"complaint.{action}", object_type="complaint",
                       object_id=c.id, detail=c.number, data=data or {})


# --- intake --------------------------------------------------------------------------------------------------
def _validate(data: ComplaintInput, *, org: OrgChart, cfg: ComplaintsConfig, now: datetime,
              attachments: Sequence[AttachmentInput]) -> dict:
    """Every check before anything is added; the normalised fields of the record."""
    channel = normalise_channel(data.channel)
    severity = normalise_severity(data.severity)
    unit_ids = {u.id for u in org.units}
    if data.unit_id not in unit_ids:
        raise ComplaintError(f"unknown unit {data.unit_id!r} (not in the org chart)",
                             f"机构不存在：{data.unit_id or '（空）'}（不在机构设置中）", field="unit_id")
    handling = data.handling_unit_id or data.unit_id
    if handling not in unit_ids:
        raise ComplaintError(f"unknown handling unit {handling!r} (not in the org chart)",
                             f"处理机构不存在：{handling}", field="handling_unit_id")
    if data.category not in CATEGORIES:
        raise ComplaintError(f"unknown category {data.category!r}; use one of {', '.join(CATEGORIES)}",
                             f"投诉类别无效：{data.category or '（空）'}", field="category")
    if data.received_at.tzinfo is None or data.received_at.utcoffset() is None:
        raise ComplaintError("received_at needs a time zone offset (e.g. 2026-09-30T10:00:00+08:00)",
                             "受理时间必须带时区（例如 2026-09-30T10:00:00+08:00）", field="received_at")
    received = ensure_utc(data.received_at)
    if received > now + CLOCK_SKEW:
        raise ComplaintError("received_at is in the future", "受理时间不能晚于当前时间", field="received_at")
    description = _clean(data.description, TEXT_LIMIT + 1)
    if not description:
        raise ComplaintError("description is empty", "投诉内容不能为空", field="description")
    if len(description) > TEXT_LIMIT:
        raise ComplaintError(f"description longer than {TEXT_LIMIT} characters",
                             f"投诉内容过长（不超过 {TEXT_LIMIT} 字）", field="description")
    if data.first_contact_owner_id is not None and data.first_contact_owner_id not in {p.id for p in org.people}:
        raise ComplaintError(f"unknown person {data.first_contact_owner_id!r} as first-contact owner",
                             f"首问责任人不存在：{data.first_contact_owner_id}", field="first_contact_owner_id")
    if data.first_contact_owner_id is not None:
        _check_handler(org, org.person(data.first_contact_owner_id), unit_id=data.unit_id, handling_unit_id=handling,
                       field="first_contact_owner_id")
    key = (data.idempotency_key or "").strip() or None
    if key is not None and len(key) > 200:
        raise ComplaintError("idempotency_key longer than 200 characters", "幂等键过长（不超过 200 字符）",
                             field="idempotency_key")
    for a in attachments:
        _check_attachment(a, cfg)
    return {
        "channel": channel, "severity": severity, "unit_id": data.unit_id, "handling_unit_id": handling,
        "category": data.category, "received_at": audit_chain.canonical_time(received), "description": description,
        "customer_name": _clean(data.customer_name, 200), "customer_phone": _clean(data.customer_phone, 64),
        "account_or_product": _clean(data.account_or_product, 500),
        "lead_department": _clean(data.lead_department, 200), "source_system": _clean(data.source_system, 64),
        "article_id": data.article_id, "idempotency_key": key,
    }


def _check_attachment(a: AttachmentInput, cfg: ComplaintsConfig) -> None:
    name = _clean(a.filename, 255)
    if not name:
        raise ComplaintError("attachment without a file name", "附件缺少文件名", field="attachments")
    if not a.data:
        raise ComplaintError(f"attachment {name!r} is empty", f"附件为空：{name}", field="attachments")
    size = a.total_size
    if size > cfg.max_attachment_bytes:
        mb = cfg.max_attachment_bytes / (1024 * 1024)
        raise ComplaintError(f"attachment {name!r} is {size} bytes; the limit is {cfg.max_attachment_bytes}",
                             f"附件过大：{name}（{size / (1024 * 1024):.1f} MB），上限 {mb:g} MB",
                             field="attachments")


def first_contact_owner(org: OrgChart, *, actor: str, unit_id: str) -> str:
    """首问责任人: the entering person when they are in the org chart, else the nearest duty monitor up the
    unit's chain (its 综合管理部 watch), else the actor's name as given (a script with nobody configured)."""
    if actor in {p.id for p in org.people}:
        return actor
    monitors = org.nearest_with_role(Role.monitor, unit_id)
    return monitors[0].id if monitors else str(actor)[:64]


def _next_number(session: Session, day: str) -> str:
    """The day's highest number + 1, read afresh on each attempt (a number taken concurrently is committed by the
    time our insert fails on it, so the next read sees it: numbers stay without gaps)."""
    prefix = f"TS-{day}-"
    taken = session.scalars(select(Complaint.number).where(Complaint.number.like(prefix + "%"))).all()
    seqs = [int(n[len(prefix):]) for n in taken if n[len(prefix):].isdigit()]
    return f"{prefix}{(max(seqs, default=0) + 1):03d}"


def scoped_key(actor: str, key: str | None) -> str | None:
    """The stored form of a submitter's idempotency key: keys are the submitter's own (a login, a ticket system's
    account, ``system``), so another submitter's identical key is another complaint and never finds, or names,
    this one. A digest of (actor, key): fits the column whatever their lengths."""
    if key is None:
        return None
    return "sha256:" + hashlib.sha256(f"{actor}\n{key}".encode()).hexdigest()


def _existing_for_key(session: Session, key: str, fingerprint: str) -> Complaint | None:
    """The complaint already stored under the scoped ``key`` when its content is the same; ComplaintError when it
    differs."""
    existing = session.scalar(select(Complaint).where(Complaint.idempotency_key == key))
    if existing is None:
        return None
    received = next((e for e in existing.events if e.kind == "received"), None)
    if received is None or (received.data or {}).get("fingerprint") != fingerprint:
        raise ComplaintError(f"this idempotency key was already used for your complaint {existing.number} with "
                             "different content", f"幂等键已用于另一条内容不同的投诉（{existing.number}）",
                             field="idempotency_key", code="conflict")
    return existing


def create_complaint(session: Session, data: ComplaintInput, *, actor: str, org: OrgChart, cfg: ComplaintsConfig,
                     clock: Clock, tz: str | ZoneInfo, attachments: Sequence[AttachmentInput] = ()
                     ) -> tuple[Complaint, bool]:
    """Record a complaint; ``(complaint, True)``, or ``(existing, False)`` when the idempotency key was already
    used with the same content. Flushes; the caller commits (or rolls back on a ComplaintError)."""
    now = clock.now()
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    fields = _validate(data, org=org, cfg=cfg, now=now, attachments=attachments)
    fingerprint = _fingerprint(fields, attachments)
    key = scoped_key(actor, fields["idempotency_key"])
    if key is not None:
        existing = _existing_for_key(session, key, fingerprint)
        if existing is not None:
            return existing, False
    if fields["article_id"] is not None:
        _check_article(session, fields["article_id"])
    received = ensure_utc(data.received_at)
    owner = data.first_contact_owner_id or first_contact_owner(org, actor=actor, unit_id=fields["unit_id"])
    ckey = customer_key(customer_secret(session, clock=clock), phone=fields["customer_phone"],
                        name=fields["customer_name"])
    day = received.astimezone(zone).strftime("%Y%m%d")
    complaint: Complaint | None = None
    for _attempt in range(NUMBER_ATTEMPTS):
        candidate = Complaint(
            number=_next_number(session, day), channel=fields["channel"], received_at=received,
            entered_at=now, entered_by=str(actor)[:64], source_system=fields["source_system"],
            idempotency_key=key, customer_name=fields["customer_name"], customer_phone=fields["customer_phone"],
            customer_key=ckey, account_or_product=fields["account_or_product"], unit_id=fields["unit_id"],
            handling_unit_id=fields["handling_unit_id"], lead_department=fields["lead_department"],
            category=fields["category"], severity=fields["severity"], description=fields["description"],
            first_contact_owner_id=owner, status=ComplaintStatus.received, reply_base_at=received,
            reply_limit_days=cfg.reply_days, article_id=fields["article_id"], reopened_count=0,
            created_at=now, updated_at=now)
        try:
            with session.begin_nested():
                session.add(candidate)
                session.flush()
            complaint = candidate
            break
        except IntegrityError:
            # a concurrent writer took the number, the key or the article: the key decides, else try the next number
            if key is not None:
                existing = _existing_for_key(session, key, fingerprint)
                if existing is not None:
                    return existing, False
            if fields["article_id"] is not None and session.scalar(
                    select(Complaint.id).where(Complaint.article_id == fields["article_id"])) is not None:
                raise ComplaintError(f"article {fields['article_id']} already has a complaint",
                                     "该帖子已登记为投诉", field="article_id", code="conflict") from None
    if complaint is None:
        raise ComplaintError("could not allocate a complaint number; try again", "投诉编号分配失败，请重试",
                             code="conflict")
    who = {"system": "系统", "cli": "命令行脚本"}.get(actor, actor)
    _event(session, complaint, now, "received", actor,
           f"{CHANNEL_LABELS[complaint.channel]}受理，{SEVERITY_LABELS[complaint.severity]}投诉，由 {who} 录入"
           + (f"（受理于 {received.astimezone(zone):%Y-%m-%d %H:%M}）" if now - received > timedelta(hours=1) else ""),
           {"channel": complaint.channel, "entered_by": actor, "first_contact_owner_id": owner,
            "fingerprint": fingerprint, "source_system": complaint.source_system})
    for a in attachments:
        _store_attachment(session, complaint, a, actor=actor, now=now)
    _audit(session, complaint, now, actor, "create",
           {"channel": complaint.channel, "unit_id": complaint.unit_id, "severity": complaint.severity,
            "category": complaint.category, "attachments": len(attachments),
            "idempotency_key": fields["idempotency_key"]})
    session.flush()
    return complaint, True


def _check_article(session: Session, article_id: int) -> None:
    """A complaint made from a crawled post names a stored post, and one post makes at most one complaint."""
    if session.get(Article, article_id) is None:
        raise ComplaintError(f"article {article_id} not found", f"帖子不存在（编号 {article_id}）",
                             field="article_id")
    taken = session.scalar(select(Complaint.number).where(Complaint.article_id == article_id))
    if taken is not None:
        raise ComplaintError(f"article {article_id} already has complaint {taken}",
                             f"该帖子已登记为投诉 {taken}", field="article_id", code="conflict")


def _store_attachment(session: Session, c: Complaint, a: AttachmentInput, *, actor: str,
                      now: datetime) -> ComplaintAttachment:
    row = ComplaintAttachment(complaint=c, filename=_clean(a.filename, 255),
                              content_type=_clean(a.content_type, 128) or "application/octet-stream",
                              size=len(a.data), sha256=hashlib.sha256(a.data).hexdigest(), data=a.data,
                              added_at=now, added_by=str(actor)[:64])
    session.add(row)
    _event(session, c, now, "attachment", actor, f"附件：{row.filename}（{row.size} 字节）",
           {"filename": row.filename, "size": row.size, "sha256": row.sha256})
    return row


# --- the steps -----------------------------------------------------------------------------------------------
def get_complaint(session: Session, complaint_id: int) -> Complaint:
    c = session.get(Complaint, complaint_id)
    if c is None:
        raise ComplaintNotFound(complaint_id)
    return c


def _open(c: Complaint, what_en: str, what_zh: str) -> None:
    if c.status not in OPEN_STATUSES:
        raise ComplaintError(f"cannot {what_en}: complaint {c.number} is {c.status}",
                             f"投诉 {c.number} {STATUS_LABELS[c.status]}，不能{what_zh}", code="invalid_state")


def _required(text: str, field: str, zh: str) -> str:
    s = _clean(text, NOTE_LIMIT)
    if not s:
        raise ComplaintError(f"{field} is required", f"请填写{zh}", field=field)
    return s


def _step(session: Session, c: Complaint, now: datetime, actor: str, kind: str, text: str,
          data: dict | None = None) -> Complaint:
    c.updated_at = now
    _event(session, c, now, kind, actor, text, data)
    _audit(session, c, now, actor, kind, data)
    session.flush()
    return c


def _start_handling(c: Complaint) -> None:
    if c.status == ComplaintStatus.received:
        c.status = ComplaintStatus.handling


def acknowledge(session: Session, complaint_id: int, *, actor: str, clock: Clock, how: str,
                note: str = "") -> Complaint:
    """受理告知: the customer was told the complaint was received, and how (电话/短信/当面/书面). By phone, SMS or
    in person it is also the first contact (see the module docstring)."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    _open(c, "acknowledge", "确认受理")
    method = ACK_BY_LABEL.get((how or "").strip(), (how or "").strip())
    if method not in ACK_METHODS:
        raise ComplaintError(f"unknown acknowledgement method {how!r}; use phone, sms, in_person or written",
                             "告知方式无效；应为 电话、短信、当面 或 书面", field="how")
    if c.acknowledged_at is not None:
        raise ComplaintError(f"complaint {c.number} was already acknowledged", f"投诉 {c.number} 已告知受理",
                             code="invalid_state")
    c.acknowledged_at = now
    contact = method in CONTACT_METHODS and c.contacted_at is None
    if contact:
        c.contacted_at = now
    _start_handling(c)
    note = _clean(note, NOTE_LIMIT)
    return _step(session, c, now, actor, "acknowledged",
                 f"已{ACK_METHODS[method]}告知客户受理" + ("（计为首次联系客户）" if contact else "")
                 + (f"：{note}" if note else ""), {"how": method, "counts_as_contact": contact, "note": note})


def record_contact(session: Session, complaint_id: int, *, actor: str, clock: Clock, how: str = "",
                   note: str = "") -> Complaint:
    """联系客户: the first one stops the 48 h contact clock; later ones are kept on the timeline."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    _open(c, "record a contact", "登记联系")
    first = c.contacted_at is None
    c.contacted_at = c.contacted_at or now
    _start_handling(c)
    how, note = _clean(how, 32), _clean(note, NOTE_LIMIT)
    return _step(session, c, now, actor, "contacted",
                 ("首次联系客户" if first else "再次联系客户") + (f"（{how}）" if how else "")
                 + (f"：{note}" if note else ""), {"how": how, "note": note, "first": first})


def verify(session: Session, complaint_id: int, *, actor: str, clock: Clock, note: str = "") -> Complaint:
    """核实: the facts were checked (records, recordings, staff heard)."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    _open(c, "verify", "核实")
    if c.verified_at is not None:
        raise ComplaintError(f"complaint {c.number} was already verified", f"投诉 {c.number} 已核实",
                             code="invalid_state")
    c.verified_at = now
    _start_handling(c)
    note = _clean(note, NOTE_LIMIT)
    return _step(session, c, now, actor, "verified", "已核实情况" + (f"：{note}" if note else ""), {"note": note})


def _person(org: OrgChart | None, person_id: str, field: str, c: Complaint | None = None) -> str:
    """The name of the person ``person_id``; with ``c``, refused unless they may handle it (``access.may_handle``:
    handling gives step rights and the customer's full details)."""
    pid = (person_id or "").strip()
    if not pid:
        raise ComplaintError(f"{field} is required", "请指定人员", field=field)
    if org is not None:
        try:
            person = org.person(pid)
        except KeyError:
            raise ComplaintError(f"unknown person {pid!r}", f"人员不存在：{pid}", field=field) from None
        if c is not None:
            _check_handler(org, person, unit_id=c.unit_id, handling_unit_id=c.handling_unit_id, field=field)
        return person.name
    return pid


def _check_handler(org: OrgChart, person, *, unit_id: str, handling_unit_id: str | None, field: str) -> None:
    from incidents.complaints.access import ENTER_ROLES, may_handle, role_names

    if not may_handle(org, person, unit_id=unit_id, handling_unit_id=handling_unit_id):
        raise ComplaintError(
            f"{person.id} may not handle this complaint: it needs one of the roles "
            f"{', '.join(r.value for r in ENTER_ROLES)} with the complaint's unit in their scope",
            f"{person.name}不能处理该投诉：需为{role_names(ENTER_ROLES)}，且投诉机构在其管辖范围内", field=field)


def assign(session: Session, complaint_id: int, *, actor: str, clock: Clock, assignee_id: str,
           org: OrgChart | None = None, note: str = "") -> Complaint:
    """分派: who handles it now (the first-contact owner stays accountable)."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    _open(c, "assign", "分派")
    name = _person(org, assignee_id, "assignee_id", c)
    previous, c.assignee_id = c.assignee_id, assignee_id.strip()
    c.assigned_at = now
    _start_handling(c)
    note = _clean(note, NOTE_LIMIT)
    return _step(session, c, now, actor, "assigned", f"分派给 {name}" + (f"：{note}" if note else ""),
                 {"assignee_id": c.assignee_id, "previous": previous, "note": note})


def propose_solution(session: Session, complaint_id: int, *, actor: str, clock: Clock, text: str,
                     preliminary: bool = False) -> Complaint:
    """提出解决方案 (答复客户; stops the reply clock), or with ``preliminary`` the 紧急 initial solution (stops
    the 24 h clock and keeps the complaint in handling)."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    _open(c, "propose a solution", "提出解决方案")
    solution = _required(text, "text", "解决方案")
    if preliminary:
        first = c.preliminary_at is None
        c.preliminary_at = c.preliminary_at or now
        _start_handling(c)
        return _step(session, c, now, actor, "preliminary", f"提出初步解决方案：{solution}",
                     {"text": solution, "first": first})
    if c.status == ComplaintStatus.mediation:
        raise ComplaintError(f"complaint {c.number} is in mediation; close it with the outcome",
                             f"投诉 {c.number} 调解/仲裁中，请以结果办结", code="invalid_state")
    c.solution = solution
    c.proposed_at = c.proposed_at or now
    c.preliminary_at = c.preliminary_at or now  # a full solution is at least the preliminary one
    c.customer_accepted = None
    c.status = ComplaintStatus.proposed
    return _step(session, c, now, actor, "proposed", f"提出解决方案：{solution}", {"text": solution})


def record_acceptance(session: Session, complaint_id: int, *, actor: str, clock: Clock, accepted: bool,
                      note: str = "") -> Complaint:
    """客户是否接受方案: accepted → it can be closed; refused → a new proposal, or mediation/arbitration."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    if c.status != ComplaintStatus.proposed:
        raise ComplaintError(f"no solution awaits the customer's answer on complaint {c.number}",
                             f"投诉 {c.number} 尚无待客户答复的解决方案", code="invalid_state")
    c.customer_accepted = bool(accepted)
    note = _clean(note, NOTE_LIMIT)
    return _step(session, c, now, actor, "accepted" if accepted else "refused",
                 ("客户接受解决方案" if accepted else "客户不接受解决方案") + (f"：{note}" if note else ""),
                 {"accepted": bool(accepted), "note": note})


def record_mediation(session: Session, complaint_id: int, *, actor: str, clock: Clock, kind: str,
                     note: str) -> Complaint:
    """调解 / 仲裁 after the customer refused the solution."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    if kind not in MEDIATION_KINDS:
        raise ComplaintError("kind must be mediation or arbitration", "方式应为 调解 或 仲裁", field="kind")
    if c.status != ComplaintStatus.proposed or c.customer_accepted is not False:
        raise ComplaintError(f"mediation needs a refused solution on complaint {c.number}",
                             f"客户拒绝解决方案后才能登记{MEDIATION_KINDS[kind]}", code="invalid_state")
    note = _required(note, "note", f"{MEDIATION_KINDS[kind]}情况")
    c.mediation = f"{MEDIATION_KINDS[kind]}：{note}"
    c.status = ComplaintStatus.mediation
    return _step(session, c, now, actor, "mediation", f"转入{MEDIATION_KINDS[kind]}：{note}",
                 {"kind": kind, "note": note})


def close(session: Session, complaint_id: int, *, actor: str, clock: Clock, note: str) -> Complaint:
    """办结: after a solution the customer did not refuse, or after mediation/arbitration. Stops the resolve clock
    (一般 / 重要) and waits for the return visit."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    _open(c, "close", "办结")
    ready = c.status == ComplaintStatus.mediation or (
        c.status == ComplaintStatus.proposed and c.customer_accepted is not False)
    if not ready:
        if c.customer_accepted is False:
            en = "the customer refused the solution; propose a new one or record mediation or arbitration first"
            why = "客户不接受解决方案，请重新提出方案或登记调解/仲裁"
        else:
            en, why = "no solution has been proposed yet", "请先提出解决方案"
        raise ComplaintError(f"complaint {c.number} cannot be closed: {en}", f"投诉 {c.number} 不能办结：{why}",
                             code="invalid_state")
    note = _required(note, "note", "办结说明")
    c.resolved_at, c.closed_by = now, str(actor)[:64]
    c.status = ComplaintStatus.closed
    # Closing tells the customer the outcome (of mediation too): when no answer stands — new facts after the last
    # proposal — the closing is the answer, and when no contact was recorded it is the contact, so an ended
    # complaint has no clock left running (each is met or late by the closing time).
    answers, contacts = c.proposed_at is None, c.contacted_at is None
    c.proposed_at = c.proposed_at or now
    c.contacted_at = c.contacted_at or now
    c.preliminary_at = c.preliminary_at or now
    counted = "、".join(w for w, yes in (("答复客户", answers), ("联系客户", contacts)) if yes)
    return _step(session, c, now, actor, "closed", f"办结：{note}" + (f"（计为{counted}）" if counted else ""),
                 {"note": note, "counts_as_answer": answers, "counts_as_contact": contacts})


def return_visit(session: Session, complaint_id: int, *, actor: str, clock: Clock, satisfaction: str,
                 note: str = "") -> Complaint:
    """回访 after closing: 满意 / 基本满意 end it; 不满意 reopens it (处理中, reopened_count + 1)."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    level = SATISFACTION_BY_LABEL.get((satisfaction or "").strip(), (satisfaction or "").strip())
    if level not in {s.value for s in Satisfaction}:
        raise ComplaintError("satisfaction must be satisfied, basically_satisfied or dissatisfied",
                             "满意度应为 满意、基本满意 或 不满意", field="satisfaction")
    if c.status == ComplaintStatus.visited:
        done = SATISFACTION_LABELS.get(c.satisfaction or "", "")
        raise ComplaintError(f"complaint {c.number} already had its return visit ({c.satisfaction})",
                             f"投诉 {c.number} 已回访（客户{done}），不能再次回访", code="invalid_state")
    if c.status != ComplaintStatus.closed:
        raise ComplaintError(f"complaint {c.number} is not closed; the return visit comes after closing",
                             f"投诉 {c.number} 尚未办结，办结后才能回访", code="invalid_state")
    note = _clean(note, NOTE_LIMIT)
    c.return_visit_at, c.satisfaction = now, level
    text = f"回访：客户{SATISFACTION_LABELS[level]}" + (f"：{note}" if note else "")
    if level != Satisfaction.dissatisfied:
        c.status = ComplaintStatus.visited
        return _step(session, c, now, actor, "return_visit", text, {"satisfaction": level, "note": note})
    previous = {"resolved_at": audit_chain.canonical_time(c.resolved_at) if c.resolved_at else None,
                "closed_by": c.closed_by}
    c.status = ComplaintStatus.handling
    c.reopened_count = (c.reopened_count or 0) + 1
    c.resolved_at, c.closed_by, c.customer_accepted = None, None, None
    _event(session, c, now, "return_visit", actor, text, {"satisfaction": level, "note": note})
    return _step(session, c, now, actor, "reopened", f"客户不满意，投诉重新打开（第 {c.reopened_count} 次）",
                 {"reopened_count": c.reopened_count, "previous": previous})


def reply_due(c: Complaint, cfg: ComplaintsConfig, tz: str | ZoneInfo) -> datetime:
    """The current reply deadline (UTC): ``reply_limit_days`` after ``reply_base_at``."""
    from incidents.complaints.clocks import deadlines

    return deadlines(c.received_at, c.severity, cfg, tz=tz, reply_base_at=c.reply_base_at,
                     reply_limit_days=c.reply_limit_days)["reply"]


def extend_reply(session: Session, complaint_id: int, *, actor: str, clock: Clock, days: int, reason: str,
                 cfg: ComplaintsConfig, tz: str | ZoneInfo = DEFAULT_TZ) -> Complaint:
    """延长答复期限 to the next allowed limit only (15 → 30 → 60), with a reason, while the answer is pending and
    before the current limit has passed: a missed deadline stays missed (an extension is asked for in time)."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    _open(c, "extend the reply limit", "延长答复期限")
    if c.proposed_at is not None:
        raise ComplaintError(f"complaint {c.number} was already answered", f"投诉 {c.number} 已答复客户，无需延期",
                             code="invalid_state")
    due = reply_due(c, cfg, tz)
    if ensure_utc(now) > due:
        local = due.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz).strftime("%Y-%m-%d %H:%M")
        raise ComplaintError(f"the reply deadline {due.isoformat()} has already passed; it can no longer be extended",
                             f"答复期限已于 {local} 届满，不能再延期（超时记录保留），请尽快答复客户",
                             field="days", code="invalid_state")
    limits = cfg.reply_limits()
    following = [d for d in limits if d > c.reply_limit_days]
    if not following:
        raise ComplaintError(f"the reply limit is already the longest allowed ({c.reply_limit_days} days)",
                             f"答复期限已为最长（{c.reply_limit_days} 天），不能再延长", field="days")
    if days != following[0]:
        raise ComplaintError(f"the reply limit can only be extended to {following[0]} days next",
                             f"答复期限只能延长至 {following[0]} 天", field="days")
    why = _required(reason, "reason", "延期理由")
    previous, c.reply_limit_days = c.reply_limit_days, days
    return _step(session, c, now, actor, "reply_extended", f"答复期限由 {previous} 天延长至 {days} 天：{why}",
                 {"from": previous, "to": days, "reason": why})


def new_facts(session: Session, complaint_id: int, *, actor: str, clock: Clock, note: str,
              cfg: ComplaintsConfig | None = None, tz: str | ZoneInfo = DEFAULT_TZ) -> Complaint:
    """客户提出新事实: the reply clock restarts now with the normal limit; an earlier answer no longer counts for the
    new clock. The clock it replaces is kept on the record — its deadline and outcome (met, late, or overdue: no
    answer by then) in the event's ``previous.reply_clock`` — and counted by the statistics (``stats``): new facts
    never turn a missed deadline back into a running one. A clock still running (not yet due, not answered) is
    simply replaced."""
    from incidents.complaints.clocks import ClockState, ComplaintClock

    now = clock.now()
    cfg = cfg or ComplaintsConfig()
    c = get_complaint(session, complaint_id)
    _open(c, "record new facts", "登记新情况")
    what = _required(note, "note", "新的事实和理由")
    due = reply_due(c, cfg, tz)
    state = ComplaintClock(key="reply", label="", due=due, done_at=c.proposed_at).state(now)
    previous = {"reply_base_at": audit_chain.canonical_time(ensure_utc(c.reply_base_at)),
                "reply_limit_days": c.reply_limit_days,
                "proposed_at": audit_chain.canonical_time(ensure_utc(c.proposed_at)) if c.proposed_at else None,
                "reply_clock": {"due": audit_chain.canonical_time(due), "state": str(state)}}
    c.reply_base_at = now
    c.reply_limit_days = cfg.reply_days
    c.proposed_at = None
    if c.status == ComplaintStatus.proposed:
        c.status, c.customer_accepted = ComplaintStatus.handling, None
    missed = ("；此前答复期限（" + due.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz)
              .strftime("%Y-%m-%d %H:%M") + "）已超时未答复，超时记录保留") if state == ClockState.overdue else ""
    return _step(session, c, now, actor, "new_facts", f"客户提出新的事实和理由，答复期限重新计算{missed}：{what}",
                 {"note": what, "previous": previous})


def add_attachment(session: Session, complaint_id: int, *, actor: str, clock: Clock, attachment: AttachmentInput,
                   cfg: ComplaintsConfig) -> Complaint:
    """A file added later (a recording, the signed settlement); refused whole when too large."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    _check_attachment(attachment, cfg)
    row = _store_attachment(session, c, attachment, actor=actor, now=now)
    c.updated_at = now
    _audit(session, c, now, actor, "attachment", {"filename": row.filename, "size": row.size, "sha256": row.sha256})
    session.flush()
    return c


def hand_over(session: Session, complaint_id: int, *, actor: str, clock: Clock, owner_id: str, reason: str,
              org: OrgChart | None = None) -> Complaint:
    """首问责任移交: the first-contact owner changes only on the record, with a reason."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    _open(c, "hand over", "移交首问责任")
    name = _person(org, owner_id, "owner_id", c)
    why = _required(reason, "reason", "移交理由")
    previous, c.first_contact_owner_id = c.first_contact_owner_id, owner_id.strip()
    return _step(session, c, now, actor, "handed_over", f"首问责任移交给 {name}：{why}",
                 {"from": previous, "to": c.first_contact_owner_id, "reason": why})
