"""Reads of incidents: lists, one case, its typed records, and the facts its reporting clocks are computed from.

Clocks are stopped by typed rows only — ``incident_reports`` (初报 / 续报 / 终报), ``leadership_acknowledgements``
(a leader's own act), ``incident_reviews`` (复盘) and ``regulator_reports`` (监管部门 / 人民银行) — never by
free-form timeline JSON, by a message having been sent or by a ticked checklist step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, null, select, union_all
from sqlalchemy.orm import Session, selectinload

from incidents.clocks import STEP_CLOCKS, IncidentFacts, ReportingClock, compute_clocks
from incidents.models import (
    Incident,
    IncidentReport,
    IncidentReview,
    LeadershipAcknowledgement,
    RegulatorReport,
    ReportKind,
    Task,
    TaskStatus,
    TimelineEvent,
)
from incidents.policy import Policy
from incidents.regulators import first_report_times, first_report_times_of
from yuqing.clock import Clock
from yuqing.db import plain_rows

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
    return list(session.scalars(_REPORTS_OF, {"incident_id": incident_id}))


def leadership_acks_of(session: Session, incident_id: int) -> list[LeadershipAcknowledgement]:
    return list(session.scalars(_ACKS_OF, {"incident_id": incident_id}))


def reviews_of(session: Session, incident_id: int) -> list[IncidentReview]:
    return list(session.scalars(_REVIEWS_OF, {"incident_id": incident_id}))


# incidents by id with their checklists loaded in one more query, in id order; built once (the scheduled round and
# the complaint-link sync run it every pipeline round), the ids bound per call as ``ids``
INCIDENTS_WITH_TASKS = (select(Incident).where(Incident.id.in_(bindparam("ids", expanding=True)))
                        .options(selectinload(Incident.tasks)).order_by(Incident.id))
# built once, the incident bound per call (see _fact_rows): the incident page reads each of these
_REPORTS_OF = (select(IncidentReport).where(IncidentReport.incident_id == bindparam("incident_id"))
               .order_by(IncidentReport.filed_at, IncidentReport.id))
_ACKS_OF = (select(LeadershipAcknowledgement).where(LeadershipAcknowledgement.incident_id == bindparam("incident_id"))
            .order_by(LeadershipAcknowledgement.at, LeadershipAcknowledgement.id))
_REVIEWS_OF = (select(IncidentReview).where(IncidentReview.incident_id == bindparam("incident_id"))
               .order_by(IncidentReview.filed_at, IncidentReview.id))


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
    return incidents_facts(session, [incident])[incident.id]


TaskFact = tuple[str, str, datetime | None]  # a checklist task's (key, status, due_at)


def task_facts(session: Session, incident_ids: Sequence[int]) -> dict[int, list[TaskFact]]:
    """Incident id → its tasks' ``(key, status, due_at)`` in checklist order, in one query: all a list of incidents
    reads of their checklists (counts, step deadlines). Plain rows instead of ``Incident.tasks``: a page of 50
    incidents has some 400 tasks, and building them as ORM objects was a third of the incident page's CPU."""
    out: dict[int, list[TaskFact]] = {i: [] for i in incident_ids}
    if not out:
        return out
    for incident_id, key, status, due_at in plain_rows(session, _TASK_FACTS, {"ids": list(out)}):
        out[incident_id].append((key, status, due_at))
    return out


_TASK_FACTS = (select(Task.incident_id, Task.key, Task.status, Task.due_at)  # built once (see _fact_rows)
               .where(Task.incident_id.in_(bindparam("ids", expanding=True))).order_by(Task.incident_id, Task.position))


def incidents_facts(session: Session, incidents: Sequence[Incident],
                    tasks: dict[int, list[TaskFact]] | None = None) -> dict[int, IncidentFacts]:
    """``incident_facts`` of several incidents in a fixed number of queries (one per kind of record, whatever the
    number of incidents): what the scheduled jobs read for every running case on every pipeline round. Reads only
    the timeline events the level history needs (``opened``, ``level_changed``), not the whole timeline.
    ``tasks``: the incidents' :func:`task_facts` when the caller read them (then ``Incident.tasks`` is not read)."""
    by_id = {i.id: i for i in incidents}
    if not by_id:
        return {}
    ids = list(by_id)
    # the level history, reports, acknowledgements and reviews in one round trip (``_FACT_ROWS``)
    rows = plain_rows(session, _FACT_ROWS, {"ids": ids}).all()  # plain columns: on the connection
    history = [(i, kind, at, data) for part, i, kind, at, data in rows if part == _HISTORY]
    reports = [(i, kind, at) for part, i, kind, at, _ in rows if part == _REPORTS]
    acks = [(i, at) for part, i, _, at, _ in rows if part == _ACKS]
    reviews = [(i, at) for part, i, _, at, _ in rows if part == _REVIEWS]
    return _facts(by_id, history, reports, acks, reviews, first_report_times_of(session, ids), tasks)


_HISTORY, _REPORTS, _ACKS, _REVIEWS = 1, 2, 3, 4  # the parts of incidents_facts' one query, in its order
_HISTORY_KINDS = ("opened", "level_changed")  # the timeline events a level history is read from


def _fact_rows() -> Select:
    """``incidents_facts``' one query: a tagged UNION ALL, each part kept in its own (time, id) order. Four queries
    were four round trips and four statements' worth of CPU on every incident list (docs/benchmarks.md, API
    throughput, fifth round). Built once, the incident ids bound per call (``ids``, expanding)."""
    def ids(column: Any) -> Any:
        return column.in_(bindparam("ids", expanding=True))

    parts = union_all(
        select(literal(_HISTORY).label("part"), TimelineEvent.incident_id, TimelineEvent.kind,
               TimelineEvent.at, TimelineEvent.id, TimelineEvent.data)
        .where(ids(TimelineEvent.incident_id), TimelineEvent.kind.in_(_HISTORY_KINDS)),
        select(literal(_REPORTS), IncidentReport.incident_id, IncidentReport.kind, IncidentReport.filed_at,
               IncidentReport.id, null()).where(ids(IncidentReport.incident_id)),
        select(literal(_ACKS), LeadershipAcknowledgement.incident_id, null(), LeadershipAcknowledgement.at,
               LeadershipAcknowledgement.id, null()).where(ids(LeadershipAcknowledgement.incident_id)),
        select(literal(_REVIEWS), IncidentReview.incident_id, null(), IncidentReview.filed_at, IncidentReview.id,
               null()).where(ids(IncidentReview.incident_id))).subquery()
    c = parts.c
    return select(c.part, c.incident_id, c.kind, c.at, c.data).order_by(c.part, c.at, c.id)


_FACT_ROWS = _fact_rows()


def incident_facts_from(incident: Incident, *, reports: Sequence[IncidentReport],
                        acks: Sequence[LeadershipAcknowledgement], reviews: Sequence[IncidentReview],
                        regulator_reports: Sequence[RegulatorReport]) -> IncidentFacts:
    """:func:`incident_facts` of one incident from records its page reads anyway, without querying again: its
    loaded timeline (``incident.events``) and checklist (``incident.tasks``), its reports, leadership
    acknowledgements and reviews as :func:`reports_of`, :func:`leadership_acks_of` and :func:`reviews_of` return
    them, and its reports to authorities (``incidents.regulators.reports_of``). Same facts, five queries fewer
    on the incident page (``api.views.incident_read``)."""
    i = incident.id
    history = [(i, e.kind, e.at, e.data) for e in sorted(incident.events, key=lambda e: (e.at, e.id))
               if e.kind in _HISTORY_KINDS]
    firsts = first_report_times(regulator_reports)
    return _facts({i: incident}, history, [(i, r.kind, r.filed_at) for r in reports], [(i, a.at) for a in acks],
                  [(i, r.filed_at) for r in reviews], {i: firsts} if firsts else {}, None)[i]


def _facts(by_id: dict[int, Incident], history_rows: Iterable[Sequence[Any]], report_rows: Iterable[Sequence[Any]],
           ack_rows: Iterable[Sequence[Any]], review_rows: Iterable[Sequence[Any]],
           regulator_firsts: dict[int, dict[str, datetime]],
           tasks: dict[int, list[TaskFact]] | None) -> dict[int, IncidentFacts]:
    """The clock facts from the rows of :func:`incidents_facts`' queries, each kind in its own order."""
    ids = list(by_id)
    history: dict[int, list[tuple[str, datetime]]] = {i: [] for i in ids}
    for incident_id, kind, at, data in history_rows:
        data = data or {}
        if kind == "opened":
            history[incident_id].append((str(data.get("level", by_id[incident_id].level)), at))
        elif data.get("to"):
            history[incident_id].append((str(data["to"]), at))
    reports: dict[int, dict[str, list[datetime]]] = {i: {} for i in ids}
    for incident_id, kind, filed_at in report_rows:
        reports[incident_id].setdefault(_REPORT_CLOCKS[ReportKind(kind)], []).append(filed_at)
    for incident_id, at in ack_rows:
        reports[incident_id].setdefault("leadership_notice", []).append(at)
    for incident_id, filed_at in review_rows:
        reports[incident_id].setdefault("review", []).append(filed_at)
    for incident_id, times in regulator_firsts.items():
        for kind, at in times.items():
            reports[incident_id][kind] = [at]
    out = {}
    for incident_id, incident in by_id.items():
        hist = history[incident_id] or [(incident.level, incident.opened_at)]
        hist.sort(key=lambda h: h[1])
        checklist = tasks[incident_id] if tasks is not None else [(t.key, t.status, t.due_at) for t in incident.tasks]
        steps = {key: due_at for key, status, due_at in checklist
                 if key in STEP_CLOCKS and status != TaskStatus.not_applicable and due_at is not None}
        out[incident_id] = IncidentFacts(opened_at=incident.opened_at, level_history=hist,
                                         acknowledged_at=incident.acknowledged_at, closed_at=incident.closed_at,
                                         reports=reports[incident_id], step_deadlines=steps,
                                         merged=incident.status == "merged")
    return out
