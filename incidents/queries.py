"""Reads of incidents: lists, one case, its typed records, and the facts its reporting clocks are computed from.

Clocks are stopped by typed rows only — ``incident_reports`` (初报 / 续报 / 终报), ``leadership_acknowledgements``
(a leader's own act), ``incident_reviews`` (复盘) and ``regulator_reports`` (监管部门 / 人民银行) — never by
free-form timeline JSON, by a message having been sent or by a ticked checklist step.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incidents.clocks import STEP_CLOCKS, IncidentFacts, ReportingClock, compute_clocks
from incidents.models import (
    Incident,
    IncidentReport,
    IncidentReview,
    LeadershipAcknowledgement,
    ReportKind,
    TaskStatus,
)
from incidents.policy import Policy
from incidents.regulators import first_report_times
from yuqing.clock import Clock

# clock key -> report kind that stops it
_REPORT_CLOCKS = {ReportKind.initial: "initial_report", ReportKind.follow_up: "update_report",
                  ReportKind.final: "final_report"}


def list_incidents(session: Session, *, status: str | Iterable[str] | None = None,
                   unit_ids: Iterable[str] | None = None, limit: int = 100) -> list[Incident]:
    """Incidents, newest first, optionally by status (one or several) and restricted to some units."""
    q = select(Incident).order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(limit)
    if isinstance(status, str):
        q = q.where(Incident.status == status)
    elif status is not None:
        q = q.where(Incident.status.in_(list(status)))
    if unit_ids is not None:
        q = q.where(Incident.unit_id.in_(list(unit_ids)))
    return list(session.scalars(q))


def get_incident(session: Session, *, incident_id: int) -> Incident | None:
    """Get a single incident by id."""
    return session.get(Incident, incident_id)


def reports_of(session: Session, incident_id: int) -> list[IncidentReport]:
    """The reports filed on an incident, oldest first."""
    return list(session.scalars(select(IncidentReport).where(IncidentReport.incident_id == incident_id)
                                .order_by(IncidentReport.filed_at, IncidentReport.id)))


def leadership_acks_of(session: Session, incident_id: int) -> list[LeadershipAcknowledgement]:
    return list(session.scalars(select(LeadershipAcknowledgement)
                                .where(LeadershipAcknowledgement.incident_id == incident_id)
                                .order_by(LeadershipAcknowledgement.at, LeadershipAcknowledgement.id)))


def reviews_of(session: Session, incident_id: int) -> list[IncidentReview]:
    return list(session.scalars(select(IncidentReview).where(IncidentReview.incident_id == incident_id)
                                .order_by(IncidentReview.filed_at, IncidentReview.id)))


def first_statement_at(session: Session, incident: Incident) -> datetime | None:
    """When the first statement (口径) of the case was published: the review's "time to first statement".

    The earliest ``statements.published_at`` of the incident (the time the commander recorded it went out, which
    the publish flow keeps between the leader's sign-off and the moment it was recorded); None when none was.
    """
    from incidents.models import Statement

    at = session.scalar(select(func.min(Statement.published_at)).where(Statement.incident_id == incident.id,
                                                                         Statement.published_at.is_not(None)))
    if at is not None and at.tzinfo is None:  # SQLite hands back aggregate datetimes naive (stored in UTC)
        at = at.replace(tzinfo=UTC)
    return at


def incident_clocks(session: Session, *, incident: Incident, policy: Policy, clock: Clock) -> list[ReportingClock]:
    """The incident's reporting clocks as of now."""
    return compute_clocks(incident_facts(session, incident), policy=policy, now=clock.now())


def incident_facts(session: Session, incident: Incident) -> IncidentFacts:
    """Plain values for the clock computation: the level history from the timeline, everything that stops a
    clock from its typed row."""
    history: list[tuple[str, datetime]] = []
    for ev in incident.events:
        if ev.kind == "opened":
            history.append((str(ev.data.get("level", incident.level)), ev.at))
        elif ev.kind == "level_changed" and ev.data.get("to"):
            history.append((str(ev.data["to"]), ev.at))
    if not history:
        history = [(incident.level, incident.opened_at)]
    history.sort(key=lambda h: h[1])
    reports: dict[str, list[datetime]] = {}
    for r in reports_of(session, incident.id):
        reports.setdefault(_REPORT_CLOCKS[ReportKind(r.kind)], []).append(r.filed_at)
    leaders = [a.at for a in leadership_acks_of(session, incident.id)]
    if leaders:
        reports["leadership_notice"] = leaders
    reviews = [r.filed_at for r in reviews_of(session, incident.id)]
    if reviews:
        reports["review"] = reviews
    for kind, at in first_report_times(session, incident.id).items():
        reports[kind] = [at]
    steps = {t.key: t.due_at for t in incident.tasks
             if t.key in STEP_CLOCKS and t.status != TaskStatus.not_applicable and t.due_at is not None}
    return IncidentFacts(opened_at=incident.opened_at, level_history=history,
                         acknowledged_at=incident.acknowledged_at, closed_at=incident.closed_at, reports=reports,
                         step_deadlines=steps)
