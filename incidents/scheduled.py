"""Scheduled jobs: what the pipeline round runs on its own, without anyone acting.

Each job is a plain function ``(session, *, org, policy, clock) -> int`` (how many things it did) that finds its
work by querying the database, writes timeline events, audit entries and outbox rows in the caller's transaction
(it flushes, the caller commits), and does nothing twice when re-run after a crash or a restart (the outbox's
``dedup_key`` and the ``deadline_notices`` rows). ``run_scheduled`` runs them all, once per pipeline round.

* ``run_escalations`` — an open alert past its acknowledgement deadline moves one step up its escalation chain.
* ``run_deadline_notices`` — a task (checklist step) or a reporting clock (初报 / 续报 / 终报, leadership,
  regulator, 复盘) is reminded of once before it is due; once overdue its owner is told, then, each
  ``escalate_after_minutes`` later, the commander and the branch leader in charge (``reminders`` in
  ``config/levels.yaml``; level IV never reaches a leader). Who owns what: a task's owner (or, unassigned, the
  holders of its owner role nearest the incident's unit); a clock's owner is the incident's commander. A clock
  whose checklist step exists (初报, 报告分行领导, 报告监管部门) is followed through that task only, and the
  acknowledgement clock is left to ``run_escalations``. Done or not-applicable tasks and met or stopped clocks are
  never reminded of; a closed incident keeps only its 终报 and 复盘 clocks; a reviewed one has none.
* ``run_group_escalations`` — a group of the reporting chain that was told about an incident and in which nobody
  acknowledged (a message acknowledged by link or inbox, a leader's 知悉, the incident or its alert acknowledged)
  by the group's deadline is reminded again, and the group's ``escalate_to`` is told; once per telling.
* ``run_complaint_jobs`` — the complaint clocks' reminders and escalation, 重要 / 紧急 complaints told to
  leadership, complaint-board complaints linked to their story's incident (``incidents.complaints.scheduled``).

Quiet hours (``quiet_hours`` in ``config/levels.yaml``, local time) hold back every reminder and escalation of a
level III–IV incident or alert until they end — deferred, never dropped; levels I–II ignore them. A reminder held
back past its deadline gives way to the overdue notice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from incidents import queries
from incidents.clocks import CLOCK_LABELS, IncidentFacts, compute_clocks
from incidents.deadline_notices import DeadlineNotice
from incidents.escalation import next_step
from incidents.levels import level_title
from incidents.lifecycle import ACTIVE, IncidentStatus
from incidents.message_acks import MessageAck
from incidents.messages import plain_line
from incidents.models import (
    Alert,
    Incident,
    LeadershipAcknowledgement,
    Notification,
    Task,
    TaskStatus,
    TimelineEvent,
)
from incidents.notify import queue_notifications
from incidents.policy import LevelsFile, Policy, RecipientGroup
from incidents.round_skips import earliest, not_before
from incidents.routing import escalation_holders, group_people
from incidents.service import (
    OPEN,
    SYSTEM,
    _audit,
    _chain,
    _event,
    _local,
    _message,
    _people,
    _role_label,
)
from yuqing.clock import Clock
from yuqing.org import OrgChart, Person, Role

# The outbox purposes these jobs write (the inbox shows PURPOSE_LABELS).
REMINDER, OVERDUE, GROUP_UNACKNOWLEDGED = "reminder", "overdue", "group_unacknowledged"
PURPOSE_LABELS = {REMINDER: "到期提醒", OVERDUE: "超时上报", GROUP_UNACKNOWLEDGED: "报告链未确认",
                  "source_health": "信息源状态",  # incidents.source_alerts (run by the pipeline round)
                  "system_health": "系统状态"}  # incidents.system_alerts (database and Redis outages)
# Timeline events that say a person acknowledged the incident (the typed rows are read as well).
_ACK_EVENTS = ("acknowledged",)
# Incidents that can still owe something: a closed one owes 终报 and 复盘; a reviewed one nothing.
_WATCHED = (*ACTIVE, IncidentStatus.closed)

# The jobs' per-round statements, built once with the values bound per call (``now``; ``ids``, expanding): every
# job runs on every pipeline round, and building a statement and working out its cache key cost more CPU than
# running these short ones. Same SQL as built per call; a statement is immutable, so one is shared by every session.
_DUE_ALERTS = (select(Alert).where(Alert.status == OPEN, Alert.ack_due_at.is_not(None),
                                   Alert.ack_due_at <= bindparam("now")).order_by(Alert.id))
# run_deadline_notices reads every watched case's timing as plain rows (``_TIMING_COLUMNS``, ``_TASK_TIMING_COLUMNS``)
# and loads as ORM objects, with their tasks, only the cases it does not pass over.
# ``_TIMING_COLUMNS``: what of a case the deadline notices' *timing* reads (``incidents.round_skips``): whether it
# is watched and running, its level (reminder lead, escalation delay and roles, quiet hours), its unit and commander
# (who is told: nobody means no notice), when it opened (the tasks' start) — with the id and the opening time a
# record with a reused id reads differently. Its clocks' facts are compared beside it; a change to anything else
# (the summary, the peak risk as the story grows, the title) cannot bring a notice forward.
# ``_TASK_TIMING_COLUMNS``: what of a task it reads: whether it is open, its deadline and who owns it (compared in
# id order).
_TIMING_COLUMNS = (Incident.id, Incident.opened_at, Incident.status, Incident.level, Incident.unit_id,
                   Incident.commander_id, Incident.acknowledged_at, Incident.closed_at)
_TASK_TIMING_COLUMNS = (Task.id, Task.key, Task.status, Task.due_at, Task.owner_role, Task.owner_id)
_WATCHED_TIMINGS = select(*_TIMING_COLUMNS).where(Incident.status.in_(_WATCHED)).order_by(Incident.id)
# in checklist order (``Incident.tasks`` is ordered by position): the clock facts take the step deadlines from it
_WATCHED_TASK_TIMINGS = (select(Task.incident_id, *_TASK_TIMING_COLUMNS)
                         .where(Task.incident_id.in_(bindparam("ids", expanding=True)))
                         .order_by(Task.incident_id, Task.position, Task.id))
_SENT_NOTICES = (select(DeadlineNotice.incident_id, DeadlineNotice.item, DeadlineNotice.due_at, DeadlineNotice.step,
                        DeadlineNotice.at).where(DeadlineNotice.incident_id.in_(bindparam("ids", expanding=True))))
_TELLINGS = (select(TimelineEvent).join(Incident, Incident.id == TimelineEvent.incident_id)
             .where(Incident.status.in_(ACTIVE), TimelineEvent.kind == "reporting_chain")
             .order_by(TimelineEvent.at, TimelineEvent.id))
_GROUPS_MISSED = (select(DeadlineNotice.incident_id, DeadlineNotice.item)
                  .where(DeadlineNotice.incident_id.in_(bindparam("ids", expanding=True)),
                         DeadlineNotice.step == "group_missed"))


def run_scheduled(session: Session, *, org: OrgChart, policy: Policy, clock: Clock) -> int:
    """Run every scheduled job once, in order; returns how much they did in all (alerts escalated, reminders and
    overdue steps sent, groups escalated)."""
    return sum(job(session, org=org, policy=policy, clock=clock) for job in JOBS)


def run_escalations(session: Session, *, org: OrgChart, policy: Policy, clock: Clock) -> int:
    """Escalate every open alert past its acknowledgement deadline one step; returns how many escalated."""
    now = clock.now()
    count = 0
    due = session.scalars(_DUE_ALERTS, {"now": now}).all()
    for alert in due:
        chain = _chain(alert, org, policy)
        step = next_step(chain, alert.escalation_step, status=alert.status, ack_due_at=alert.ack_due_at, now=now)
        if step is None or policy.levels_file.quiet_until(alert.level, now) is not None:
            continue  # in quiet hours a level III–IV alert escalates when they end (it is still overdue then)
        overdue_since = alert.ack_due_at
        alert.escalation_step = step.index
        alert.ack_due_at = now + timedelta(minutes=policy.level(alert.level).ack_minutes)
        people = _people(org, step.people)
        note = (f"该预警自 {_local(overdue_since, policy)} 起超过确认时限仍未确认，现逐级上报给您"
                f"（第{step.index}级：{_role_label(step.role)}）。")
        queued = queue_notifications(session, people=people, policy=policy, now=now, alert=alert,
                                     incident_id=alert.incident_id, purpose="escalation",
                                     key=f"alert:{alert.id}:escalation:{step.index}", level=alert.level,
                                     message=_message(session, alert=alert, org=org, policy=policy,
                                                      purpose="escalation", note=note, deadline=alert.ack_due_at))
        if alert.incident_id:
            incident = session.get(Incident, alert.incident_id)
            if incident is not None:
                _event(session, incident, now, "escalated", SYSTEM,
                       f"预警超时未确认，已上报{_role_label(step.role)}：{'、'.join(p.name for p in people)}",
                       {"step": step.index, "people": list(step.people)})
        # overdue_since: the deadline that was missed (ack_due_at now holds the next step's), so the alert queue
        # can show the original acknowledgement deadline after the chain has moved on (api.alert_history).
        _audit(session, now, SYSTEM, "alert.escalate", "alert", alert.id, f"step {step.index}",
               {"people": list(step.people), "queued": queued, "role": step.role,
                "overdue_since": overdue_since.isoformat()})
        count += 1
    session.flush()
    return count


def run_deadline_notices(session: Session, *, org: OrgChart, policy: Policy, clock: Clock) -> int:
    """Remind the owners of tasks and clocks about to fall due, and escalate overdue ones one step at a time;
    returns how many notices were queued.

    Runs every pipeline round over every case that can still owe something, so it reads in bulk: what the timing
    of every case reads (its columns and its tasks', as plain rows), the facts its clocks are computed from
    (``queries.incidents_facts``), then the cases not passed over (``incidents.round_skips``) with their tasks and
    their notices already sent, each in a fixed number of queries whatever the number of cases. A case only writes
    its own notices, so reading them all first gives what reading each case in turn would."""
    now = clock.now()
    count = 0
    # what the timing reads, as plain rows: building every watched case and its tasks as ORM objects on every
    # round was most of this job's CPU, and on most rounds every case is passed over
    cases = session.execute(_WATCHED_TIMINGS).all()
    tasks: dict[int, list[tuple]] = {c.id: [] for c in cases}
    if cases:
        for row in session.execute(_WATCHED_TASK_TIMINGS, {"ids": list(tasks)}):
            tasks[row[0]].append(tuple(row[1:]))
    # the clock facts from the same rows (a row has the case's level, times and status, as the case would)
    facts = queries.incidents_facts(session, cases, {i: [(key, status, due_at) for _, key, status, due_at, *_ in ts]
                                                     for i, ts in tasks.items()})
    # a case whose next possible notice is later, and which reads the same, is passed over (incidents.round_skips)
    skips = not_before(session, "deadline_notices", org=org, policy=policy)
    read = {c.id: (tuple(c), sorted(tasks[c.id]), facts[c.id]) for c in cases}
    looked = [c.id for c in cases if not skips.nothing_due(c.id, read[c.id], now)]
    incidents = session.scalars(queries.INCIDENTS_WITH_TASKS, {"ids": looked}).all() if looked else []
    sent_by: dict[int, Sent] = {i.id: {} for i in incidents}
    if incidents:  # plain rows, not ORM objects: a case keeps every notice it was ever sent
        for n in session.execute(_SENT_NOTICES, {"ids": list(sent_by)}):
            sent_by[n.incident_id][(n.item, n.due_at, n.step)] = n
    for incident in incidents:
        sent = sent_by[incident.id]
        chains: dict[tuple, list[tuple[str, str, list[Person]]]] = {}  # the case's overdue chains, by owners
        items = _deadline_items(session, incident, org=org, policy=policy, now=now, facts=facts[incident.id])
        for item in items:
            if now < item.due_at:
                count += _remind(session, incident, item, sent, org=org, policy=policy, now=now)
            else:
                count += _escalate_overdue(session, incident, item, sent, org=org, policy=policy, now=now,
                                           chains=chains)
        skips.remember(incident.id, read[incident.id],
                       _next_due(incident, items, sent, org=org, policy=policy, now=now, chains=chains))
    skips.keep_only(read)
    session.flush()
    return count


def _next_due(incident: Incident, items: list[DeadlineItem], sent: Sent, *, org: OrgChart, policy: Policy,
              now: datetime, chains: dict[tuple, list[tuple[str, str, list[Person]]]]) -> datetime | None:
    """The earliest time after ``now`` at which ``_remind`` or ``_escalate_overdue`` could queue a notice for one of
    the case's ``items`` as they stand, given ``sent`` (this round's notices included); None when one could be
    due already. The times are the ones those functions compare ``now`` with, before quiet hours or anything else
    that makes them wait longer: early, never late."""
    lf = policy.levels_file
    times: list[datetime] = []
    for item in items:
        if now < item.due_at:
            times.append(item.due_at)  # overdue from then on
            if (item.key, item.due_at, "reminder") not in sent:
                lead = timedelta(minutes=lf.reminders.before_minutes_by_level[incident.level])  # type: ignore[index]
                times.append(max(item.due_at - lead, item.started_at + (item.due_at - item.started_at) / 2))
            continue
        delay = timedelta(minutes=lf.reminders.escalate_after_minutes_by_level[incident.level])  # type: ignore[index]
        who = (item.owner_label, tuple(p.id for p in item.owners))
        chain = chains.get(who)
        if chain is None:
            chain = chains[who] = _overdue_chain(org, incident, item, policy)
        due_at = item.due_at
        for step, _label, _whom in chain:
            done = sent.get((item.key, item.due_at, f"overdue:{step}"))
            if done is None:
                times.append(due_at)  # the first step not told yet
                break
            due_at = done.at + delay
    return earliest(times, now)


def run_group_escalations(session: Session, *, org: OrgChart, policy: Policy, clock: Clock) -> int:
    """Escalate the reporting-chain groups of an incident's latest telling in which nobody acknowledged by the
    group's deadline: each group is reminded once, and the people its ``escalate_to`` names get one message per
    round listing the groups they are told about; returns how many groups were escalated."""
    now = clock.now()
    count = 0
    # the latest telling of each running case, read in one query (not each case's whole timeline)
    latest: dict[int, TimelineEvent] = {}
    for ev in session.scalars(_TELLINGS):
        latest[ev.incident_id] = ev
    # a case whose telling is the same and none of whose groups can fall due before a remembered time is passed
    # over (incidents.round_skips); the others' groups already escalated, in one query (not one per case and round)
    skips = not_before(session, "group_escalations", org=org, policy=policy)
    read = {incident_id: (ev.id, ev.at) for incident_id, ev in latest.items()}
    looked = [incident_id for incident_id in sorted(latest) if not skips.nothing_due(incident_id, read[incident_id],
                                                                                      now)]
    escalated: dict[int, set[str]] = {}
    if looked:
        for incident_id, item in session.execute(_GROUPS_MISSED, {"ids": looked}):
            escalated.setdefault(incident_id, set()).add(item)
    for incident_id in looked:
        told = latest[incident_id]
        done = escalated.setdefault(incident_id, set())
        incident = told.incident
        level = str(told.data.get("level", incident.level))
        if policy.levels_file.quiet_until(level, now) is not None:  # held back, not dropped: due as before
            skips.remember(incident_id, read[incident_id], _groups_next_due(told, done, now))
            continue
        due_groups = [g for g in told.data.get("groups", [])
                      if g.get("people") and now >= datetime.fromisoformat(g["ack_due_at"])]
        missed = []
        for group in due_groups:
            due = datetime.fromisoformat(group["ack_due_at"])
            item = f"group:{told.id}:{group['group']}"
            if item not in done:
                label = plain_line(group.get("label") or group["group"], 40)
                missed.append(MissedGroup(item, str(group["group"]), label, due, tuple(_people(org, group["people"]))))
        if missed:
            acknowledged = _acknowledgers(session, incident, since=told.at)
            missed = [g for g in missed if not acknowledged & {p.id for p in g.members}]
        if missed:
            _escalate_groups(session, incident, missed, level=level, told=told, org=org, policy=policy, now=now)
            count += len(missed)
            done.update(g.item for g in missed)
        skips.remember(incident_id, read[incident_id], _groups_next_due(told, done, now))
    skips.keep_only(latest)
    session.flush()
    return count


def _groups_next_due(told: TimelineEvent, done: set[str], now: datetime) -> datetime | None:
    """The earliest time after ``now`` at which a group of the telling ``told`` not escalated yet (``done``: its
    items escalated, this round's included) reaches its deadline; None when one has (held back by quiet hours or
    acknowledged: looked at every round, as without the skip). A telling's groups and deadlines never change (a
    new telling is a new event, read differently), and a group escalated by another process only removes work."""
    times = [datetime.fromisoformat(g["ack_due_at"]) for g in told.data.get("groups", [])
             if g.get("people") and f"group:{told.id}:{g['group']}" not in done]
    return earliest(times, now)


def run_complaint_jobs(session: Session, *, org: OrgChart, policy: Policy, clock: Clock) -> int:
    """The complaint clocks' reminders and escalation, leadership told, links to incidents
    (``incidents.complaints.scheduled``; imported here so the complaints package can build on incidents)."""
    from incidents.complaints.scheduled import run_complaint_scheduled

    return run_complaint_scheduled(session, org=org, policy=policy, clock=clock)


JOBS = (run_escalations, run_deadline_notices, run_group_escalations, run_complaint_jobs)


# --- tasks and clocks -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeadlineItem:
    """Something with a deadline and an owner: a checklist task or a reporting clock."""

    key: str  # task:<id> | clock:<key>
    label: str  # 任务“…” | “书面初报”时限
    started_at: datetime
    due_at: datetime
    owners: tuple[Person, ...]
    owner_label: str


# (item, deadline, step) -> the notice already sent (a DeadlineNotice or a row of its columns: ``.at`` is read)
Sent = dict[tuple[str, datetime, str], Any]


def _deadline_items(session: Session, incident: Incident, *, org: OrgChart, policy: Policy, now: datetime,
                    facts: IncidentFacts | None = None) -> list[DeadlineItem]:
    """The open tasks with a deadline (while the case runs) and the running clocks no task stands for (``facts``:
    the case's clock facts when the caller read them in bulk)."""
    items = []
    reach_leaders = Role.leader in policy.levels_file.overdue_roles(incident.level)
    if incident.status in ACTIVE:
        owners_of: dict[tuple[str, str | None], list[Person]] = {}  # the case's tasks share a few owner roles
        for task in incident.tasks:
            if task.status != TaskStatus.todo or task.due_at is None:
                continue
            owners = owners_of.get((task.owner_role, task.owner_id))
            if owners is None:
                owners = _task_owners(org, incident, task.owner_role, task.owner_id)
                if not reach_leaders:  # level IV: a leader's step is brought to the leader by the commander
                    owners = [p for p in owners if Role.leader not in p.roles] or _commanders(org, incident)
                owners_of[(task.owner_role, task.owner_id)] = owners
            items.append(DeadlineItem(f"task:{task.id}", f"任务“{plain_line(task.title, 60)}”", incident.opened_at,
                                      task.due_at, tuple(owners), "负责人"))
    task_keys = {t.key for t in incident.tasks}
    if facts is None:
        facts = queries.incident_facts(session, incident)
    for c in compute_clocks(facts, policy=policy, now=now):
        if c.key == "ack" or c.key in task_keys or not c.is_open:
            continue
        items.append(DeadlineItem(f"clock:{c.key}", f"“{CLOCK_LABELS[c.key]}”时限", c.started_at, c.due_at,
                                  tuple(_commanders(org, incident)), _role_label(Role.commander)))
    return items


def _remind(session: Session, incident: Incident, item: DeadlineItem, sent: Sent, *, org: OrgChart,
            policy: Policy, now: datetime) -> int:
    """Remind the owners once, ``before_minutes`` before the deadline (at most half the item's span before it)."""
    lf = policy.levels_file
    lead = timedelta(minutes=lf.reminders.before_minutes_by_level[incident.level])  # type: ignore[index]
    remind_at = max(item.due_at - lead, item.started_at + (item.due_at - item.started_at) / 2)
    if now < remind_at or (item.key, item.due_at, "reminder") in sent or not item.owners:
        return 0
    if lf.quiet_until(incident.level, now) is not None:
        return 0
    left = max(1, int((item.due_at - now).total_seconds() // 60))
    deadline = _local(item.due_at, policy)
    note = (f"到期提醒：{item.label}将于 {deadline}（北京时间）到期，还有约{_duration(left)}。"
            "请按时完成；已完成的请在系统中标记。")
    names = _names(item.owners)
    _send(session, incident, item.key, item.due_at, "reminder", list(item.owners), org=org, policy=policy, now=now,
          purpose=REMINDER, subject=f"即将到期：{item.label}", note=note,
          event=("deadline_reminder", f"到期提醒：{item.label}将于 {deadline} 到期，已提醒{item.owner_label}：{names}"
                 + _deferred(lf, incident.level, remind_at, now)),
          audit=("deadline.remind", item.label))
    return 1


def _escalate_overdue(session: Session, incident: Incident, item: DeadlineItem, sent: Sent, *, org: OrgChart,
                      policy: Policy, now: datetime,
                      chains: dict[tuple, list[tuple[str, str, list[Person]]]] | None = None) -> int:
    """Tell the next step of the overdue chain (owner, then each role up) once it is due; one step per run.
    ``chains``: the chains already worked out for this case in this run, by owners (the same owners of the same
    case give the same chain)."""
    lf = policy.levels_file
    delay = timedelta(minutes=lf.reminders.escalate_after_minutes_by_level[incident.level])  # type: ignore[index]
    deadline = _local(item.due_at, policy)
    minutes_late = int((now - item.due_at).total_seconds() // 60)
    told: list[str] = []  # the steps already taken, e.g. 负责人（王敏、赵磊）
    due_at = item.due_at
    if chains is None:
        chain = _overdue_chain(org, incident, item, policy)
    else:
        who = (item.owner_label, tuple(p.id for p in item.owners))
        chain = chains.get(who)
        if chain is None:
            chain = chains[who] = _overdue_chain(org, incident, item, policy)
    if all((item.key, item.due_at, f"overdue:{step}") in sent for step, _label, _people in chain):
        return 0  # every step told already (checked first: an overdue item is looked at on every round)
    for step, label, people in chain:
        done = sent.get((item.key, item.due_at, f"overdue:{step}"))
        if done is not None:
            told.append(f"{label}（{_names(people)}）")
            due_at = done.at + delay
            continue
        if now < due_at or lf.quiet_until(incident.level, now) is not None:
            return 0
        names = _names(people)
        if not told:
            note = (f"已超时：{item.label}应于 {deadline}（北京时间）前完成，{_late(minutes_late)}，"
                    "请尽快处理；已完成的请在系统中标记。")
            text = f"已超时：{item.label}（截止 {deadline}）未完成，已提醒{label}：{names}"
        else:
            note = (f"已超时：{item.label}应于 {deadline}（北京时间）前完成，{_late(minutes_late)}，"
                    f"已告知{'、'.join(told)}，仍未完成，现上报给您（{label}），请督促处理。")
            text = f"已超时：{item.label}（截止 {deadline}）仍未完成，已上报{label}：{names}"
        _send(session, incident, item.key, item.due_at, f"overdue:{step}", list(people), org=org, policy=policy,
              now=now, purpose=OVERDUE, subject=f"已超时：{item.label}", note=note,
              event=("deadline_overdue", text + _deferred(lf, incident.level, due_at, now)),
              audit=("deadline.escalate", f"{item.label} → {step}"))
        return 1
    return 0


def _overdue_chain(org: OrgChart, incident: Incident, item: DeadlineItem,
                   policy: Policy) -> list[tuple[str, str, list[Person]]]:
    """(step, label, people): the owner, then each role of ``reminders.escalate_to`` the level allows; a step
    with nobody new is left out (an item the commander owns goes from the commander straight to the leader)."""
    steps = [("owner", item.owner_label, list(item.owners))] if item.owners else []
    seen = {p.id for p in item.owners}
    for role in policy.levels_file.overdue_roles(incident.level):
        people = [p for p in _holders(org, incident, role, policy) if p.id not in seen]
        if people:
            seen.update(p.id for p in people)
            label = "分管行领导" if role == Role.leader and "分管" in policy.levels_file.reminders.leader_titles \
                else _role_label(role)
            steps.append((str(role), label, people))
    return steps


def _task_owners(org: OrgChart, incident: Incident, owner_role: str, owner_id: str | None) -> list[Person]:
    """The task's owner first, with the other holders of its role at the same place (the whole duty desk); a
    person the task was reassigned to outside those holders alone; nobody assigned: the role's holders."""
    try:
        holders = escalation_holders(org, Role(owner_role), incident.unit_id)
    except (ValueError, KeyError):
        holders = []
    owner = org.find_person(owner_id)
    if owner is None:
        return holders
    if owner not in holders:
        return [owner]
    return [owner, *(p for p in holders if p != owner)]


def _commanders(org: OrgChart, incident: Incident) -> list[Person]:
    commander = org.find_person(incident.commander_id)
    return [commander] if commander is not None else escalation_holders(org, Role.commander, incident.unit_id)


def _holders(org: OrgChart, incident: Incident, role: Role, policy: Policy) -> list[Person]:
    """Who holds ``role`` for an escalation about the incident: its own commander; the owning branch's leader in
    charge (``reminders.leader_titles``); the nearest holders of any other role."""
    if role == Role.commander:
        return _commanders(org, incident)
    if role == Role.leader:
        in_charge = RecipientGroup(key="leader_in_charge", scope="branch", roles=[Role.leader],
                                   titles=policy.levels_file.reminders.leader_titles)
        return group_people(org, incident.unit_id, in_charge)
    return escalation_holders(org, role, incident.unit_id)


# --- reporting-chain groups -------------------------------------------------------------------------------------

def _acknowledgers(session: Session, incident: Incident, *, since: datetime) -> set[str]:
    """Everyone who acknowledged something of the incident at or after ``since``: a message about it (link or
    inbox), a leader's 知悉, the incident itself or its alert."""
    alerts = list(session.scalars(select(Alert).where(Alert.incident_id == incident.id)))
    about = Notification.incident_id == incident.id
    if alerts:
        about = or_(about, Notification.alert_id.in_([a.id for a in alerts]))
    people = set(session.scalars(select(MessageAck.person_id).join(Notification,
                                                                  Notification.id == MessageAck.notification_id)
                                 .where(about, MessageAck.at >= since)))
    people |= set(session.scalars(select(LeadershipAcknowledgement.leader_id).where(
        LeadershipAcknowledgement.incident_id == incident.id, LeadershipAcknowledgement.at >= since)))
    people |= {e.actor for e in incident.events if e.kind in _ACK_EVENTS and e.at >= since}
    people |= {a.acknowledged_by for a in alerts
               if a.acknowledged_by and a.acknowledged_at is not None and a.acknowledged_at >= since}
    return people


@dataclass(frozen=True)
class MissedGroup:
    """A group of the reporting chain that was told and acknowledged nothing by its deadline."""

    item: str  # group:<reporting_chain event id>:<group key>
    key: str
    label: str
    due_at: datetime
    members: tuple[Person, ...]


def _escalate_groups(session: Session, incident: Incident, missed: Sequence[MissedGroup], *, level: str,
                     told: TimelineEvent, org: OrgChart, policy: Policy, now: datetime) -> None:
    """Remind each missed group, tell each group's escalation once (one message per set of groups a person is
    told about), and write one timeline event and one audit entry for the lot."""
    lt = level_title(level)
    up: dict[str, tuple[Person, list[MissedGroup]]] = {}
    for g in missed:
        deadline = _local(g.due_at, policy)
        _send(session, incident, g.item, g.due_at, "group_missed", list(g.members), org=org, policy=policy, now=now,
              purpose=GROUP_UNACKNOWLEDGED, subject=f"请确认：{g.label}",
              note=f"请确认：您所在的“{g.label}”应于 {deadline}（北京时间）前确认收到{lt}事件通知，至今无人确认。"
                   "请在系统“消息”中点“确认”，或打开事件页处理。")
        for person in _group_escalation(org, incident, g, level, policy):
            up.setdefault(person.id, (person, []))[1].append(g)
    by_groups: dict[tuple[str, ...], list[Person]] = {}
    for person, groups in up.values():
        by_groups.setdefault(tuple(g.item for g in groups), []).append(person)
    for items, people in by_groups.items():
        groups = [g for g in missed if g.item in items]
        listed = "；".join(f"“{g.label}”（{_names(g.members)}，应于 {_local(g.due_at, policy)} 前确认）"
                          for g in groups)
        digest = hashlib.sha1("+".join(items).encode()).hexdigest()[:12]  # keeps the outbox key short
        _send(session, incident, f"group:{told.id}:up", groups[0].due_at, f"up:{digest}",
              people, org=org, policy=policy, now=now, purpose=GROUP_UNACKNOWLEDGED,
              subject="报告链超时未确认：" + "、".join(g.label for g in groups),
              note=f"已超时未确认：{listed}，至今无人确认收到{lt}事件通知，现上报给您，请联系督促。", record=False)
    names = "；".join(f"{g.label}（{_names(g.members)}，截止 {_local(g.due_at, policy)}）" for g in missed)
    ups = [person for person, _ in up.values()]
    text = f"报告链超时未确认：{names}无人确认，已再次提醒" + (f"，并上报{_names(ups)}" if ups else "")
    first_due = min(g.due_at for g in missed)
    _event(session, incident, now, "group_unacknowledged", SYSTEM, text + _deferred(policy.levels_file, level,
                                                                                     first_due, now),
           {"level": level, "told_at": told.at.isoformat(), "escalated_to": [p.id for p in ups],
            "groups": [{"group": g.key, "ack_due_at": g.due_at.isoformat(), "reminded": [p.id for p in g.members],
                        "escalated_to": [pid for pid, (_, gs) in up.items() if g in gs]} for g in missed]})
    _audit(session, now, SYSTEM, "reporting_group.escalate", "incident", incident.id,
           f"{level} " + ",".join(g.key for g in missed),
           {"groups": [g.key for g in missed], "escalated_to": [p.id for p in ups]})


def _group_escalation(org: OrgChart, incident: Incident, group: MissedGroup, level: str,
                      policy: Policy) -> list[Person]:
    """Who is told when ``group`` misses its deadline: the holders of its ``escalate_to`` roles outside it, or by
    default the first role of ``reminders.escalate_to`` that reaches someone outside it; never a leader where
    the level's escalation stops before leaders (level IV)."""
    try:
        config = next((g for g in policy.level(level).reporting_chain if g.key == group.key), None)
    except KeyError:
        config = None
    allowed = policy.levels_file.overdue_roles(level)
    inside = {p.id for p in group.members}
    if config is not None and config.escalate_to is not None:
        people: list[Person] = []
        for role in config.escalate_to:
            if role != Role.leader or Role.leader in allowed:
                people += [p for p in _holders(org, incident, role, policy) if p.id not in inside and p not in people]
        return people
    for role in allowed:
        people = [p for p in _holders(org, incident, role, policy) if p.id not in inside]
        if people:
            return people
    return []


# --- helpers ----------------------------------------------------------------------------------------------------

def _send(session: Session, incident: Incident, item: str, due: datetime, step: str, people: list[Person], *,
          org: OrgChart, policy: Policy, now: datetime, purpose: str, subject: str, note: str,
          event: tuple[str, str] | None = None, audit: tuple[str, str] | None = None, key_suffix: str = "",
          record: bool = True) -> int:
    """Queue one notice, record it (``deadline_notices``), and write its timeline event and audit entry."""
    number = incident.number
    lines = [plain_line(note, 300), "", f"事件编号：{number}", f"事件等级：{level_title(incident.level)}",
             f"事件标题：{plain_line(incident.title, 200)}", f"截止时间：{_local(due, policy)}（北京时间）",
             f"处理链接：/incidents/{incident.id}", "", "本消息由舆情应急系统自动发送，请勿直接回复。"]
    key = f"deadline:{incident.id}:{item}:{int(due.timestamp())}:{step}" + (f":{key_suffix}" if key_suffix else "")
    queued = queue_notifications(session, people=people, policy=policy, now=now, alert=None,
                                 incident_id=incident.id, purpose=purpose, key=key, level=incident.level,
                                 message=(plain_line(f"【事件{number}·{level_title(incident.level)}】{subject}", 160),
                                          "\n".join(lines)))
    if record:
        session.add(DeadlineNotice(incident_id=incident.id, item=item, due_at=due, step=step, at=now,
                                   people=[p.id for p in people]))
    if event is not None:
        _event(session, incident, now, event[0], SYSTEM, event[1],
               {"item": item, "due_at": due.isoformat(), "step": step, "people": [p.id for p in people]})
    if audit is not None:
        _audit(session, now, SYSTEM, audit[0], "incident", incident.id, audit[1],
               {"item": item, "due_at": due.isoformat(), "step": step, "people": [p.id for p in people],
                "queued": queued})
    session.flush()
    return queued


def _deferred(lf: LevelsFile, level: str, meant_at: datetime, now: datetime) -> str:
    """A note for a notice that waited for the end of quiet hours."""
    until = lf.quiet_until(level, meant_at)
    return "（夜间安静时段顺延）" if until is not None and until <= now else ""


def _names(people: Sequence[Person]) -> str:
    return "、".join(p.name for p in people) or "（无人）"


def _late(minutes: int) -> str:
    return f"现已超时{_duration(minutes)}" if minutes > 0 else "现已到期"


def _duration(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes}分钟"
    hours, rest = divmod(minutes, 60)
    return f"{hours}小时{rest}分钟" if rest else f"{hours}小时"

