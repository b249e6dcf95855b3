"""Checklist steps that a typed record completes, and which of those records an incident already holds.

初报, the leaders' 知悉, reports to the regulator and the central bank, and a statement's legal review, sign-off and
publication each complete a checklist step when they are recorded (``flows._complete_by_record``). A step can
also appear *after* its record: a playbook joins at a higher level once legal has already approved the statement.
Such a task must not stay open for a person to tick: :func:`done_by_records` says which steps the records already
satisfy, so re-planning adds them done, citing the record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.lifecycle import LEADERSHIP_NOTICE_TASK
from incidents.models import (
    Incident,
    IncidentReport,
    LeadershipAcknowledgement,
    RegulatorReport,
    Statement,
    StatementStatus,
)

# What the task note says when a step is added already done (the record is older than the step).
# Keyed by the StatementAction values (a StrEnum member looks up as its string): incidents.statements imports the
# service, which imports the playbooks and so this module, so statements is imported where it is used.
_NOTES = {"legal_approve": "口径已经法律合规审核", "approve": "口径已经领导审签", "publish": "口径已发布"}
_APPROVED = {StatementStatus.approved, StatementStatus.published}
_LEGAL_DONE = {StatementStatus.legal_approved, *_APPROVED}


def done_by_records(session: Session, incident: Incident) -> dict[str, tuple[datetime, str, str]]:
    """``{step key: (when, who, note)}`` for every step the incident's records already complete (earliest)."""
    from incidents.statements import TASKS_DONE_BY, StatementAction

    found: dict[str, tuple[datetime, str, str]] = {}

    def keep(key: str, at: datetime, who: str, note: str) -> None:
        if key not in found or at < found[key][0]:
            found[key] = (at, who, note)

    for r in session.scalars(select(IncidentReport).where(IncidentReport.incident_id == incident.id,
                                                          IncidentReport.kind == "initial")):
        keep("initial_report", r.filed_at, r.author, "已报送初报")
    for a in session.scalars(select(LeadershipAcknowledgement)
                             .where(LeadershipAcknowledgement.incident_id == incident.id)):
        keep(LEADERSHIP_NOTICE_TASK, a.at, a.leader_id, "领导已确认知悉")
    for g in session.scalars(select(RegulatorReport).where(RegulatorReport.incident_id == incident.id)):
        keep(g.kind, g.reported_at, g.reported_by, f"已向{g.recipient_name}报告（{g.method}）")
    # A statement counts for the steps its *current* state completes: one sent back for changes after legal's
    # approval no longer stands as reviewed.
    for stmt in session.scalars(select(Statement).where(Statement.incident_id == incident.id)):
        status = StatementStatus(stmt.status)
        done = [(StatementAction.legal_approve, stmt.legal_at, stmt.legal_by, _LEGAL_DONE),
                (StatementAction.approve, stmt.approved_at, stmt.approved_by, _APPROVED),
                (StatementAction.publish, stmt.published_at, stmt.published_by, {StatementStatus.published})]
        for action, at, who, states in done:
            if at is not None and who and status in states:
                for key in TASKS_DONE_BY[action]:
                    keep(key, at, who, _NOTES[action])
    return found
