"""Reading complaints: the one JSON shape the CLI and the API print, and the list with its filters.

:func:`complaint_view` is a plain dict (JSON-ready: times ISO 8601 with the local offset) so the CLI's ``--json``,
the API and the dashboard page cannot drift apart. It masks the customer unless ``reveal`` — and a caller that
passes ``reveal=True`` must also write the audit entry (``masking.reveal_audited``).
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from incidents.complaints import masking
from incidents.complaints.clocks import CLOCK_STATE_LABELS, as_local_iso, clocks
from incidents.complaints.config import ComplaintsConfig
from incidents.complaints.models import (
    CHANNEL_LABELS,
    OPEN_STATUSES,
    SATISFACTION_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    Complaint,
)
from incidents.workdays import WorkingCalendar
from yuqing.categories import category_label
from yuqing.clock import ensure_utc
from yuqing.org import OrgChart


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _iso(at: datetime | None, tz: str | ZoneInfo) -> str | None:
    return as_local_iso(at, tz) if at is not None else None


def _unit_name(org: OrgChart | None, unit_id: str) -> str:
    if org is None:
        return unit_id
    try:
        u = org.unit(unit_id)
    except KeyError:
        return unit_id
    return u.short_name or u.name


def _person(org: OrgChart | None, person_id: str | None) -> dict | None:
    if not person_id:
        return None
    name = person_id
    if org is not None:
        with contextlib.suppress(KeyError):
            name = org.person(person_id).name
    return {"id": person_id, "name": name}


def complaint_view(c: Complaint, *, cfg: ComplaintsConfig, tz: str | ZoneInfo, calendar: WorkingCalendar | None,
                   now: datetime, reveal: bool, org: OrgChart | None = None, events: bool = True) -> dict:
    """The complaint as the CLI and the API print it (customer masked unless ``reveal``: the customer block, and
    the free text — description, solution, mediation, timeline — through ``masking.mask_complaint_text``)."""
    zone = _zone(tz)
    cks = clocks(c, cfg, tz=zone, calendar=calendar)
    # typed free text may quote the customer (a phone, a card number, the name): masked like the customer block
    text = (lambda s: s) if reveal else (lambda s: masking.mask_complaint_text(c, s) if s else s)
    state = {k.key: k.state(now) for k in cks}
    view: dict = {
        "id": c.id,
        "number": c.number,
        "channel": c.channel,
        "channel_label": CHANNEL_LABELS.get(c.channel, c.channel),
        "received_at": _iso(c.received_at, zone),
        "entered_at": _iso(c.entered_at, zone),
        "entered_by": c.entered_by,
        "source_system": c.source_system,
        "severity": c.severity,
        "severity_label": SEVERITY_LABELS.get(c.severity, c.severity),
        "category": c.category,
        "category_label": category_label(c.category),
        "unit_id": c.unit_id,
        "unit_name": _unit_name(org, c.unit_id),
        "handling_unit_id": c.handling_unit_id,
        "handling_unit_name": _unit_name(org, c.handling_unit_id),
        "lead_department": c.lead_department,
        "status": c.status,
        "status_label": STATUS_LABELS.get(c.status, c.status),
        "open": c.status in OPEN_STATUSES,
        "description": text(c.description),
        "customer": masking.customer(c, reveal=reveal),
        "customer_revealed": reveal,
        "customer_key": c.customer_key,
        "deadlines": {k.key: as_local_iso(k.due, zone) for k in cks},
        "clocks": [{"key": k.key, "label": k.label, "due": as_local_iso(k.due, zone),
                    "done_at": _iso(k.done_at, zone), "state": state[k.key],
                    "state_label": CLOCK_STATE_LABELS[state[k.key]]} for k in cks],
        "first_contact_owner": _person(org, c.first_contact_owner_id),
        "assignee": _person(org, c.assignee_id),
        "steps": {"acknowledged_at": _iso(c.acknowledged_at, zone), "contacted_at": _iso(c.contacted_at, zone),
                  "verified_at": _iso(c.verified_at, zone), "assigned_at": _iso(c.assigned_at, zone),
                  "preliminary_at": _iso(c.preliminary_at, zone), "proposed_at": _iso(c.proposed_at, zone),
                  "resolved_at": _iso(c.resolved_at, zone), "return_visit_at": _iso(c.return_visit_at, zone)},
        "solution": text(c.solution),
        "customer_accepted": c.customer_accepted,
        "mediation": text(c.mediation),
        "closed_by": c.closed_by,
        "satisfaction": c.satisfaction,
        "satisfaction_label": SATISFACTION_LABELS.get(c.satisfaction or "", None),
        "reopened_count": c.reopened_count or 0,
        "reply_base_at": _iso(c.reply_base_at, zone),
        "reply_limit_days": c.reply_limit_days,
        "incident_id": c.incident_id,
        "article_id": c.article_id,
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "sha256": a.sha256, "added_at": _iso(a.added_at, zone), "added_by": a.added_by}
                        for a in c.attachments],
    }
    if events:
        view["events"] = [{"id": e.id, "at": _iso(e.at, zone), "kind": e.kind, "actor": e.actor,
                           "text": text(e.text)}
                          for e in c.events]
    return view


def month_bounds(month: str, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
    """``YYYY-MM`` as [start, end) in UTC, the month taken in local time. ValueError for a malformed month."""
    year, sep, mon = month.partition("-")
    if not sep or len(year) != 4 or len(mon) != 2 or not year.isdigit() or not mon.isdigit():
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    first = date(int(year), int(mon), 1)
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    zone = _zone(tz)
    return (ensure_utc(datetime.combine(first, time(), tzinfo=zone)),
            ensure_utc(datetime.combine(nxt, time(), tzinfo=zone)))


def complaints_query(*, unit_ids: set[str] | frozenset[str] | None = None, status: str | None = None,
                     channel: str | None = None, severity: str | None = None, category: str | None = None,
                     month: str | None = None, tz: str | ZoneInfo = "Asia/Shanghai",
                     incident_id: int | None = None) -> Select[tuple[Complaint]]:
    """The filtered select, newest receipt first. ``status`` is one status, ``open`` or ``ended``; ``unit_ids``
    limits to complaints about, or handled by, those units (a user's scope)."""
    q = select(Complaint)
    if unit_ids is not None:
        ids = sorted(unit_ids)
        q = q.where(Complaint.unit_id.in_(ids) | Complaint.handling_unit_id.in_(ids))
    if status == "open":
        q = q.where(Complaint.status.in_([str(s) for s in OPEN_STATUSES]))
    elif status == "ended":
        q = q.where(Complaint.status.not_in([str(s) for s in OPEN_STATUSES]))
    elif status:
        q = q.where(Complaint.status == status)
    if channel:
        q = q.where(Complaint.channel == channel)
    if severity:
        q = q.where(Complaint.severity == severity)
    if category:
        q = q.where(Complaint.category == category)
    if incident_id is not None:
        q = q.where(Complaint.incident_id == incident_id)
    if month:
        start, end = month_bounds(month, tz)
        q = q.where(Complaint.received_at >= start, Complaint.received_at < end)
    return q.order_by(Complaint.received_at.desc(), Complaint.id.desc())


def list_complaints(session: Session, *, unit_ids: set[str] | frozenset[str] | None = None,
                    status: str | None = None, channel: str | None = None, severity: str | None = None,
                    category: str | None = None, month: str | None = None, tz: str | ZoneInfo = "Asia/Shanghai",
                    incident_id: int | None = None, limit: int = 500, offset: int = 0) -> list[Complaint]:
    """Complaints matching the filters (see :func:`complaints_query`), newest receipt first."""
    q = complaints_query(unit_ids=unit_ids, status=status, channel=channel, severity=severity, category=category,
                         month=month, tz=tz, incident_id=incident_id)
    # the view names each complaint's files: one query for all of them (their bytes stay deferred)
    return list(session.scalars(q.options(selectinload(Complaint.attachments)).limit(limit).offset(offset)).all())


def get_by_number(session: Session, number: str) -> Complaint | None:
    return session.scalar(select(Complaint).where(Complaint.number == number))
