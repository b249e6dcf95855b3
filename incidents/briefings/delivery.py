"""Delivering the 舆情日报 / 舆情周报 to leadership on a schedule, and what opening or acknowledging one records.

``issue_due_reports`` is a scheduled job (run every pipeline round): from ``daily_report_time`` (levels.yaml, local
time) on, the report of the day before is issued once — a ``ReportIssue`` row (unique per kind and period, so a
re-run issues nothing twice) — and queued through ``notify.queue_notifications`` to the recipients of
``config/reports.yaml``: in-app and every channel each person is reached on (email at least, when the org chart
has their address), dedup key ``report:<issue>:<person>:<channel>``. The weekly report goes out on the configured
weekday for the ISO week before.

The report lists the cases whose level tells leadership through it (``leadership_notify_minutes: daily`` — level
III by default — for the daily report, ``weekly`` for the weekly one): running cases, or closed ones not yet
reviewed, opened before the moment of issue. ``record_receipt`` — a leader opening the issue's page, or
acknowledging it there, in the inbox or by the one-click link — is that leader's 知悉 of each listed case
(``flows.acknowledge_as_leader``: a ``LeadershipAcknowledgement`` row, which stops the leadership clock), once per
leader and case; a case the leader may not see is left alone (the caller passes the leader's units).
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents import flows
from incidents.briefings import gather
from incidents.briefings.document import SHANGHAI
from incidents.briefings.models import ReportIssue, ReportReceipt
from incidents.briefings.periodic import day_window, draft_period_report, week_window
from incidents.errors import IncidentError
from incidents.models import Incident, LeadershipAcknowledgement
from incidents.notify import queue_notifications
from incidents.policy import Policy
from yuqing import audit_chain
from yuqing.clock import Clock
from yuqing.org import OrgChart, Person, Role
from yuqing.yamlfile import load_model

REPORTS_FILE = "reports.yaml"
PURPOSES = {"daily": "daily_report", "weekly": "weekly_report"}
PURPOSE_LABELS = {"daily_report": "舆情日报", "weekly_report": "舆情周报"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Delivery(_Strict):
    enabled: bool = True
    roles: list[Role] = Field(default_factory=lambda: [Role.leader, Role.commander])
    people: list[str] = Field(default_factory=list)


class WeeklyDelivery(Delivery):
    weekday: int = Field(default=1, ge=1, le=7, description="ISO weekday it goes out (1 = Monday)")


class ReportsConfig(_Strict):
    """The content of ``config/reports.yaml``."""

    daily: Delivery = Field(default_factory=Delivery)
    weekly: WeeklyDelivery = Field(default_factory=WeeklyDelivery)


def load_reports_config(path: Path | str) -> ReportsConfig:
    """Load ``config/reports.yaml``; errors name the file and the field. A missing file means the defaults."""
    return load_model(path, ReportsConfig) if Path(path).exists() else ReportsConfig()


def issue_due_reports(session: Session, *, org: OrgChart, policy: Policy, clock: Clock,
                      config: ReportsConfig | None = None) -> int:
    """Issue the daily (and, on its weekday, the weekly) report once it is due; returns messages queued."""
    config = config or ReportsConfig()
    now = clock.now()
    local = now.astimezone(SHANGHAI)
    hh, mm = (int(x) for x in policy.levels_file.daily_report_time.split(":"))
    if local.time() < time(hh, mm):
        return 0
    queued = 0
    if config.daily.enabled:
        start, end = day_window(local.date() - timedelta(days=1))
        queued += _issue(session, kind="daily", start=start, end=end, number=f"RB-{start:%Y%m%d}",
                         delivery=config.daily, org=org, policy=policy, now=now)
    if config.weekly.enabled and local.isoweekday() == config.weekly.weekday:
        iso = (local.date() - timedelta(days=7)).isocalendar()
        start, end = week_window(iso.year, iso.week)
        queued += _issue(session, kind="weekly", start=start, end=end, number=f"ZB-{iso.year}W{iso.week:02d}",
                         delivery=config.weekly, org=org, policy=policy, now=now)
    return queued


def issue_report(session: Session, *, kind: str, day: date, org: OrgChart, policy: Policy, clock: Clock,
                 config: ReportsConfig | None = None) -> ReportIssue:
    """Issue the report of ``day`` (daily) or of the ISO week containing it (weekly) now, whatever the time;
    the one already issued for that period is returned as it is."""
    config = config or ReportsConfig()
    if kind == "daily":
        start, end = day_window(day)
        number, delivery = f"RB-{day:%Y%m%d}", config.daily
    else:
        iso = day.isocalendar()
        start, end = week_window(iso.year, iso.week)
        number, delivery = f"ZB-{iso.year}W{iso.week:02d}", config.weekly
    _issue(session, kind=kind, start=start, end=end, number=number, delivery=delivery, org=org, policy=policy,
           now=clock.now())
    return session.scalar(select(ReportIssue).where(ReportIssue.kind == kind, ReportIssue.period_start == start))


def record_receipt(session: Session, *, issue: ReportIssue, person: Person, unit_ids: set[str], via: str,
                   acknowledge: bool, clock: Clock) -> list[int]:
    """``person`` opened (``acknowledge`` False) or acknowledged the issued report. A leader's receipt is their
    知悉 of every listed case in ``unit_ids`` not yet acknowledged by them; returns the incident ids so recorded."""
    now = clock.now()
    receipt = session.scalar(select(ReportReceipt).where(ReportReceipt.issue_id == issue.id,
                                                         ReportReceipt.person_id == person.id))
    if receipt is None:
        receipt = ReportReceipt(issue_id=issue.id, person_id=person.id, opened_at=now, via=via)
        session.add(receipt)
    receipt.opened_at = receipt.opened_at or now
    if acknowledge and receipt.acknowledged_at is None:
        receipt.acknowledged_at, receipt.via = now, via
        audit_chain.append(session, at=now, actor=person.id, action="report.acknowledge", object_type="report_issue",
                           object_id=issue.id, detail=issue.number, data={"via": via})
    session.flush()
    if Role.leader not in person.roles:
        return []
    done = []
    how = "确认" if acknowledge else "阅知"
    for incident_id in issue.incident_ids or []:
        incident = session.get(Incident, incident_id)
        if incident is None or incident.unit_id not in unit_ids:
            continue
        if session.scalar(select(LeadershipAcknowledgement.id).where(
                LeadershipAcknowledgement.incident_id == incident_id,
                LeadershipAcknowledgement.leader_id == person.id)) is not None:
            continue
        with contextlib.suppress(IncidentError), session.begin_nested():
            flows.acknowledge_as_leader(session, incident_id=incident_id, user_login=person.id,
                                        note=f"{how}{PURPOSE_LABELS[PURPOSES[issue.kind]]} {issue.number}",
                                        clock=clock)
            done.append(incident_id)
    return done


def receipts_of(session: Session, issue_id: int) -> list[ReportReceipt]:
    return list(session.scalars(select(ReportReceipt).where(ReportReceipt.issue_id == issue_id)
                                .order_by(ReportReceipt.id)))


def recent_issues(session: Session, limit: int = 20) -> list[ReportIssue]:
    return list(session.scalars(select(ReportIssue).order_by(ReportIssue.period_start.desc(), ReportIssue.id.desc())
                                .limit(limit)))


def issue_link(issue_id: int) -> str:
    return f"/reports/issues/{issue_id}"


def issue_of_message(session: Session, purpose: str, body: str) -> ReportIssue | None:
    """The issued report a delivered message is about (its ``处理链接`` line), or None."""
    if purpose not in PURPOSES.values():
        return None
    m = re.search(r"^处理链接：/reports/issues/(\d+)$", body or "", re.MULTILINE)
    return session.get(ReportIssue, int(m.group(1))) if m else None


# --- helpers ---------------------------------------------------------------------------------------------------

def _issue(session: Session, *, kind: Literal["daily", "weekly"] | str, start: datetime, end: datetime, number: str,
           delivery: Delivery, org: OrgChart, policy: Policy, now: datetime) -> int:
    if session.scalar(select(ReportIssue.id).where(ReportIssue.kind == kind, ReportIssue.period_start == start)):
        return 0
    material = gather.period_material(session, start=start, end=end, previous_start=start - (end - start),
                                      policy=policy, now=now, kind=kind)
    briefing = draft_period_report(material, kind=kind, org=org, number=number)
    listed = gather.listed_incidents(session, policy=policy, kind=kind, at=now)
    people = _recipients(org, delivery)
    issue = ReportIssue(kind=kind, period_start=start, period_end=end, number=number, issued_at=now,
                        summary=briefing.summary[:400], incident_ids=[i.id for i in listed],
                        recipients=[p.id for p in people])
    session.add(issue)
    session.flush()
    name = PURPOSE_LABELS[PURPOSES[kind]]
    lines = [briefing.summary, ""]
    if listed:
        lines.append("提请领导知悉的事件（阅知或确认本报告即视为确认知悉）：")
        lines += [f"  · {i.number} {i.title[:60]}（{i.level}级）" for i in listed]
        lines.append("")
    lines.append(f"处理链接：{issue_link(issue.id)}")
    subject = f"【{name}】{briefing.organisation} {number}"
    return queue_notifications(session, people=people, policy=policy, now=now, alert=None, incident_id=None,
                               purpose=PURPOSES[kind], key=f"report:{issue.id}", message=(subject, "\n".join(lines)))


def _recipients(org: OrgChart, delivery: Delivery) -> list[Person]:
    branches = {u.id for u in org.units if u.kind == "branch"} or {org.root().id}
    found: dict[str, Person] = {}
    for p in org.people:
        if any(r in p.roles for r in delivery.roles) and (p.unit in branches or org.owning_branch(p.unit).id in
                                                          branches):
            found[p.id] = p
    for pid in delivery.people:
        try:
            found[pid] = org.person(pid)
        except KeyError:
            continue
    return sorted(found.values(), key=lambda p: p.id)
