"""The complaint clocks' reminders and escalation, and leadership told of a 重要 / 紧急 complaint.

Run from the pipeline's scheduled round beside the incident reminders (``incidents.scheduled.run_scheduled``), with
the same contract: it finds its work by querying, writes timeline events, audit entries and outbox rows in the
caller's transaction, and does nothing twice when re-run after a crash or a restart (``complaint_notices`` rows and
the outbox's ``dedup_key``).

For every open complaint:

* **leadership** — a complaint whose severity is in ``leadership_severities`` (重要, 紧急) is reported to the
  handling unit's leadership once — at entry (:func:`tell_leadership_on_entry`, called by every way in), else by
  the round, which catches any not yet told: its nearest commander and the branch's leader in charge (``reminders.
  leader_titles``); a 紧急 complaint reaches every leader of the branch (senior leadership, as the rules say).
  A complaint raised to 紧急 later is reported again at the new severity. The timeline says the message was
  queued (已生成通知，排队发送) — not that it was delivered or read: the outbox records delivery, the inbox and the
  acknowledgement links reading.
* **clocks** — each running clock (``clocks.clocks``: entry, contact, resolve or the 紧急 preliminary solution,
  reply) is reminded of once ``reminders.before_minutes`` before its deadline (at most half its span before it);
  once overdue its owner (the assignee, else the 首问 owner) is told, then, each
  ``escalate_after_minutes_by_severity`` later, the handling unit's commander, then the branch's leader in charge.
  The deadline is part of the key: an extension or new facts move the reply deadline, which is reminded of again.
* **紧急 follow-up** — after the preliminary solution the owner and the commander are reminded every
  ``urgent_follow_up_hours`` until the complaint is resolved (followed until solved).

Severities in ``reminders.quiet_severities`` (一般) wait for the end of the quiet hours of levels.yaml — deferred,
never dropped. Messages go to the complaint's incident when it has one (so they show on the incident's timeline).

The same round links complaint-board complaints to the incident their story opened, and keeps the complaint steps
of linked incidents in line with the complaint (``incidents.complaints.links``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from incidents.clocks import policy_calendar
from incidents.complaints.clocks import ComplaintClock, clocks
from incidents.complaints.config import ComplaintsConfig
from incidents.complaints.masking import mask_complaint_text
from incidents.complaints.models import (
    OPEN_STATUSES,
    SEVERITY_LABELS,
    Complaint,
    ComplaintEvent,
    Severity,
)
from incidents.complaints.notices import ComplaintNotice
from incidents.messages import local_time, plain_line
from incidents.notify import queue_notifications
from incidents.policy import Policy, RecipientGroup
from incidents.round_skips import earliest, not_before
from incidents.routing import escalation_holders, group_people
from yuqing import audit_chain
from yuqing.categories import category_label
from yuqing.clock import Clock, ensure_utc
from yuqing.org import OrgChart, Person, Role

log = logging.getLogger(__name__)

SYSTEM = "system"
# The outbox purposes these jobs write.
REMINDER, OVERDUE, FOLLOW_UP, LEADERSHIP = ("complaint_reminder", "complaint_overdue", "complaint_follow_up",
                                            "complaint_leadership")
PURPOSE_LABELS = {REMINDER: "投诉到期提醒", OVERDUE: "投诉超时上报", FOLLOW_UP: "紧急投诉跟进",
                  LEADERSHIP: "重要/紧急投诉报告"}
CLOCK_ITEM_LABELS = {"entry": "录入", "contact": "联系客户", "resolve": "办结", "reply": "答复客户"}

# (item, deadline, step) -> the notice already sent: a ComplaintNotice, or a row of its columns (only ``.at`` is read)
Sent = dict[tuple[str, datetime, str], Any]


def run_complaint_scheduled(session: Session, *, org: OrgChart, policy: Policy, clock: Clock) -> int:
    """Every complaint job once: links to incidents, leadership, clock reminders and escalation, 紧急 follow-up;
    returns how many notices were queued (and links made)."""
    from incidents.complaints.links import link_board_complaints, sync_linked_incidents

    now = clock.now()
    count = link_board_complaints(session, org=org, policy=policy, now=now)
    count += run_complaint_reminders(session, org=org, policy=policy, clock=clock)
    sync_linked_incidents(session, policy=policy, now=now)
    session.flush()
    return count


def run_complaint_reminders(session: Session, *, org: OrgChart, policy: Policy, clock: Clock) -> int:
    """Leadership, reminders, overdue escalation and 紧急 follow-up for every open complaint; returns how many
    notices were queued.

    Runs every round over every open complaint, and most rounds have nothing due for most of them, so after a
    complaint is looked at the earliest time it can next need a notice is remembered (``incidents.round_skips``);
    until then, and while its row reads the same, it is passed over without working out its clocks or reading its
    notices."""
    now = clock.now()
    cfg = policy.complaints
    calendar = policy_calendar(policy)
    count = 0
    skips = not_before(session, "complaint_reminders", org=org, policy=policy)
    # what the notices' times depend on, of every open complaint, as plain rows; the complaints themselves are
    # loaded only for those not passed over (a replay that never closes one has thousands open on every round)
    facts = {row[0]: tuple(row) for row in session.execute(_OPEN_TIMINGS)}
    due_ids = [cid for cid, read in facts.items() if not skips.nothing_due(cid, read, now)]
    complaints: list[Complaint] = []
    for start in range(0, len(due_ids), 500):
        complaints += session.scalars(_COMPLAINTS, {"ids": due_ids[start:start + 500]})
    # the notices of the complaints looked at in one query (not one per complaint), as plain rows (only ``.at`` is
    # read of a notice already sent; an open complaint keeps every notice it was ever sent)
    by_complaint: dict[int, Sent] = {c.id: {} for c in complaints}
    for start in range(0, len(complaints), 500):
        ids = [c.id for c in complaints[start:start + 500]]
        for n in session.execute(_SENT_NOTICES, {"ids": ids}):
            by_complaint[n.complaint_id][(n.item, ensure_utc(n.due_at), n.step)] = n
    chains: dict[tuple, list[tuple[str, str, list[Person]]]] = {}  # the overdue chains of this round, by who
    for c in complaints:
        sent = by_complaint[c.id]
        count += tell_leadership(session, c, sent, org=org, policy=policy, now=now)
        owners = _owners(org, c)
        running = [clk for clk in clocks(c, cfg, tz=policy.timezone, calendar=calendar) if clk.done_at is None]
        for clk in running:
            if now < clk.due:
                count += _remind(session, c, clk, owners, sent, org=org, policy=policy, now=now)
            else:
                count += _escalate_overdue(session, c, clk, owners, sent, org=org, policy=policy, now=now,
                                           chains=chains)
        count += _follow_up(session, c, owners, sent, org=org, policy=policy, now=now)
        skips.remember(c.id, facts[c.id], _next_due(c, running, owners, sent, org=org, policy=policy, now=now,
                                                    chains=chains))
    skips.keep_only(facts)
    session.flush()
    return count


# --- rounds with nothing due (incidents.round_skips) --------------------------------------------------------

# Everything of a complaint the reminders' *timing* reads — whether and when a notice can fall due: its clocks'
# times and limits (``clocks.ComplaintTimes``), its severity (leadership, quiet hours, follow-up), who owns it
# (``_owners``) and the unit whose chain is told — and ``created_at`` with the id, so that a record with a reused
# id reads differently. A change to anything else (a note, the description, the status among the open ones, the
# linked incident) cannot bring a notice forward, so the complaint stays passed over until its remembered time;
# what the notices say is read from the complaint when one is due.
TIMING_COLUMNS = (Complaint.id, Complaint.created_at, Complaint.severity, Complaint.received_at,
                  Complaint.entered_at, Complaint.contacted_at, Complaint.preliminary_at, Complaint.resolved_at,
                  Complaint.proposed_at, Complaint.reply_base_at, Complaint.reply_limit_days, Complaint.assignee_id,
                  Complaint.first_contact_owner_id, Complaint.handling_unit_id)

# The reminders' per-round statements, built once with the values bound per call (``ids``, expanding): the job runs
# on every pipeline round, and building a statement and working out its cache key cost more CPU than running these
# short ones. Same SQL as built per call; a statement is immutable, so one is shared by every session.
_OPEN_TIMINGS = select(*TIMING_COLUMNS).where(Complaint.status.in_(list(OPEN_STATUSES))).order_by(Complaint.id)
_COMPLAINTS = select(Complaint).where(Complaint.id.in_(bindparam("ids", expanding=True))).order_by(Complaint.id)
_SENT_NOTICES = (select(ComplaintNotice.complaint_id, ComplaintNotice.item, ComplaintNotice.due_at,
                        ComplaintNotice.step, ComplaintNotice.at)
                 .where(ComplaintNotice.complaint_id.in_(bindparam("ids", expanding=True))))
_LEADERSHIP_NOTICES = select(ComplaintNotice).where(ComplaintNotice.complaint_id == bindparam("complaint_id"),
                                                    ComplaintNotice.item == "leadership")

def _next_due(c: Complaint, running: list[ComplaintClock], owners: list[Person], sent: Sent, *, org: OrgChart,
              policy: Policy, now: datetime, chains: dict[tuple, list[tuple[str, str, list[Person]]]]
              ) -> datetime | None:
    """The earliest time after ``now`` at which this round's steps (``tell_leadership``, ``_remind``,
    ``_escalate_overdue``, ``_follow_up``) could queue a notice for ``c`` as it stands, given ``sent`` (this round's
    notices included); None when one could be due already (a notice held back by quiet hours, nobody to tell: the
    complaint is simply looked at every round). Errs early, never late: each time is the one those steps compare
    ``now`` with, before any reason they have to wait longer."""
    cfg = policy.complaints
    if c.severity in cfg.leadership_severities and (
            "leadership", ensure_utc(c.received_at), f"told:{c.severity}") not in sent:
        return None
    times: list[datetime] = []
    for clk in running:
        item = f"clock:{clk.key}"
        if now < clk.due:
            times.append(clk.due)  # overdue from then on
            if (item, clk.due, "reminder") not in sent:
                start = _clock_start(c, clk)
                lead = timedelta(minutes=cfg.reminders.before_minutes.get(clk.key, 240))
                times.append(max(clk.due - lead, start + (clk.due - start) / 2))
            continue
        delay = timedelta(minutes=cfg.reminders.escalate_after_minutes_by_severity[Severity(c.severity)])
        who = (c.handling_unit_id, bool(c.assignee_id), tuple(p.id for p in owners))
        chain = chains.get(who)
        if chain is None:
            chain = chains[who] = overdue_chain(org, c, owners, cfg)
        due_at = clk.due
        for step, _label, _people in chain:
            done = sent.get((item, clk.due, f"overdue:{step}"))
            if done is None:
                times.append(due_at)  # the first step not told yet
                break
            due_at = ensure_utc(done.at) + delay
    if c.severity == Severity.urgent and c.preliminary_at is not None and c.resolved_at is None:
        hours = cfg.reminders.urgent_follow_up_hours
        base = ensure_utc(c.preliminary_at)
        n = int((now - base).total_seconds() // (hours * 3600))
        if n >= 1 and ("follow_up", base, f"follow_up:{n}") not in sent:
            return None
        times.append(base + timedelta(hours=hours * (max(n, 0) + 1)))
    return earliest(times, now)


# --- leadership -------------------------------------------------------------------------------------------------

def leadership_people(org: OrgChart, c: Complaint, cfg: ComplaintsConfig) -> list[Person]:
    """The handling unit's leadership for a 重要 / 紧急 complaint: its nearest commander and the branch's leader in
    charge; for 紧急 every leader of the branch."""
    titles = [] if c.severity == Severity.urgent else list(cfg.reminders.leader_titles)
    people = list(escalation_holders(org, Role.commander, c.handling_unit_id))
    group = RecipientGroup(key="complaint_leadership", scope="branch", roles=[Role.leader], titles=titles)
    people += [p for p in group_people(org, c.handling_unit_id, group) if p not in people]
    return people


def tell_leadership(session: Session, c: Complaint, sent: Sent | None = None, *, org: OrgChart, policy: Policy,
                    now: datetime) -> int:
    """Report a 重要 / 紧急 complaint to the unit's leadership once per severity; 0 when not needed or done.
    Callable at entry (the API / CLI) and from the scheduled round, which catches any not yet told."""
    cfg = policy.complaints
    if c.severity not in cfg.leadership_severities:
        return 0
    if sent is None:
        sent = {(n.item, ensure_utc(n.due_at), n.step): n for n in session.scalars(_LEADERSHIP_NOTICES,
                                                                                     {"complaint_id": c.id})}
    received = ensure_utc(c.received_at)
    step = f"told:{c.severity}"
    if ("leadership", received, step) in sent:
        return 0
    people = leadership_people(org, c, cfg)
    if not people:
        return 0
    label = SEVERITY_LABELS.get(c.severity, c.severity)
    note = (f"收到{label}投诉，按规定报告单位领导：请督促在时限内处理"
            + ("（紧急投诉：成立工作小组，24小时内提出初步解决方案）。" if c.severity == Severity.urgent else "。"))
    names = _names(people)
    # the deadline leadership is asked to watch: the resolve clock (紧急: the preliminary solution's 24 h)
    resolve = next(k for k in clocks(c, cfg, tz=policy.timezone, calendar=policy_calendar(policy))
                   if k.key == "resolve")
    _send(session, c, "leadership", received, step, people, org=org, policy=policy, now=now, purpose=LEADERSHIP,
          subject=f"{label}投诉报告", note=note, deadline=(f"{resolve.label}时限", resolve.due),
          event=("leadership_told", f"{label}投诉报告单位领导：已生成通知，排队发送给{names}"
                                    "（送达与阅读情况以消息记录为准）"),
          audit="complaint.leadership", sent=sent)
    return 1


def tell_leadership_on_entry(session: Session, c: Complaint, *, created: bool, org: OrgChart, policy: Policy,
                             clock: Clock) -> int:
    """Right after a complaint is entered and committed (the CLI, the API, the dashboard form): a 重要 / 紧急 one is
    reported to leadership at once instead of at the next scheduled round, in a transaction of its own. A replay
    (``created`` false: an idempotency key that returned the record made first) tells nobody — that record was
    reported when it was made. :func:`tell_leadership` is once only (``complaint_notices``), so the round that runs
    later never tells again; and if telling fails here, the complaint stays entered and the round reports it."""
    if not created:
        return 0
    try:
        told = tell_leadership(session, c, org=org, policy=policy, now=clock.now())
        session.commit()
    except Exception:
        session.rollback()
        log.exception("complaint leadership notice failed at entry; the scheduled round will send it",
                      extra={"complaint_id": c.id})
        return 0
    return told


# --- clocks -----------------------------------------------------------------------------------------------------

def _clock_start(c: Complaint, clk: ComplaintClock) -> datetime:
    return ensure_utc(c.reply_base_at if clk.key == "reply" else c.received_at)


def _remind(session: Session, c: Complaint, clk: ComplaintClock, owners: list[Person], sent: Sent, *,
            org: OrgChart, policy: Policy, now: datetime) -> int:
    """Remind the owners once, ``before_minutes`` before the deadline (at most half the clock's span before it)."""
    cfg = policy.complaints
    item = f"clock:{clk.key}"
    if (item, clk.due, "reminder") in sent:
        return 0
    start = _clock_start(c, clk)
    lead = timedelta(minutes=cfg.reminders.before_minutes.get(clk.key, 240))
    remind_at = max(clk.due - lead, start + (clk.due - start) / 2)
    people = owners or _commanders(org, c)
    if now < remind_at or not people or _quiet(policy, c, now):
        return 0
    left = max(1, int((clk.due - now).total_seconds() // 60))
    deadline = local_time(clk.due, policy.timezone)
    what = f"“{clk.label}”时限"
    note = (f"到期提醒：投诉{c.number}的{what}将于 {deadline}（北京时间）到期，还有约{_duration(left)}。"
            "请按时处理；已完成的请在系统中记录。")
    _send(session, c, item, clk.due, "reminder", people, org=org, policy=policy, now=now, purpose=REMINDER,
          subject=f"即将到期：{clk.label}", note=note,
          event=("deadline_reminder", f"到期提醒：{what}将于 {deadline} 到期，已生成提醒，排队发送给{_names(people)}"),
          audit="complaint.remind", sent=sent)
    return 1


def _escalate_overdue(session: Session, c: Complaint, clk: ComplaintClock, owners: list[Person], sent: Sent, *,
                      org: OrgChart, policy: Policy, now: datetime,
                      chains: dict[tuple, list[tuple[str, str, list[Person]]]] | None = None) -> int:
    """Tell the next step of the overdue chain (owner, commander, leader in charge) once it is due; one step per
    run, each ``escalate_after_minutes_by_severity`` after the previous one. ``chains``: the round's chains by
    (handling unit, assignee or not, owners) — the same org chart gives the same chain, so a round with many
    overdue complaints of one unit looks it up once."""
    cfg = policy.complaints
    item = f"clock:{clk.key}"
    delay = timedelta(minutes=cfg.reminders.escalate_after_minutes_by_severity[Severity(c.severity)])
    deadline = local_time(clk.due, policy.timezone)
    minutes_late = int((now - clk.due).total_seconds() // 60)
    told: list[str] = []
    due_at = clk.due
    what = f"“{clk.label}”时限"
    if chains is None:
        chain = overdue_chain(org, c, owners, cfg)
    else:
        who = (c.handling_unit_id, bool(c.assignee_id), tuple(p.id for p in owners))
        chain = chains.get(who)
        if chain is None:
            chain = chains[who] = overdue_chain(org, c, owners, cfg)
    if all((item, clk.due, f"overdue:{step}") in sent for step, _label, _people in chain):
        return 0  # every step told already (checked first: an open complaint is looked at on every round)
    for step, label, people in chain:
        done = sent.get((item, clk.due, f"overdue:{step}"))
        if done is not None:
            told.append(f"{label}（{_names(people)}）")
            due_at = ensure_utc(done.at) + delay
            continue
        if now < due_at or _quiet(policy, c, now):
            return 0
        late = f"现已超时{_duration(minutes_late)}" if minutes_late > 0 else "现已到期"
        if not told:
            note = (f"已超时：投诉{c.number}的{what}应于 {deadline}（北京时间）前完成，{late}，请尽快处理；"
                    "已完成的请在系统中记录。")
            text = f"已超时：{what}（截止 {deadline}）未完成，已生成通知，排队发送给{label}：{_names(people)}"
        else:
            note = (f"已超时：投诉{c.number}的{what}应于 {deadline}（北京时间）前完成，{late}，"
                    f"已告知{'、'.join(told)}，仍未完成，现上报给您（{label}），请督促处理。")
            text = f"已超时：{what}（截止 {deadline}）仍未完成，上报{label}：已生成通知，排队发送给{_names(people)}"
        _send(session, c, item, clk.due, f"overdue:{step}", people, org=org, policy=policy, now=now,
              purpose=OVERDUE, subject=f"已超时：{clk.label}", note=note, event=("deadline_overdue", text),
              audit="complaint.escalate", sent=sent)
        return 1
    return 0


def overdue_chain(org: OrgChart, c: Complaint, owners: list[Person],
                  cfg: ComplaintsConfig) -> list[tuple[str, str, list[Person]]]:
    """(step, label, people): the owner, then each role of ``reminders.escalate_to`` for the handling unit; a step
    with nobody new is left out."""
    steps = [("owner", "承办人" if c.assignee_id else "首问责任人", list(owners))] if owners else []
    seen = {p.id for p in owners}
    for role in cfg.reminders.escalate_to:
        if role == Role.leader:
            group = RecipientGroup(key="leader_in_charge", scope="branch", roles=[Role.leader],
                                   titles=list(cfg.reminders.leader_titles))
            holders, label = group_people(org, c.handling_unit_id, group), "分管行领导"
        else:
            holders, label = escalation_holders(org, role, c.handling_unit_id), _role_label(role)
        people = [p for p in holders if p.id not in seen]
        if people:
            seen.update(p.id for p in people)
            steps.append((str(role), label, people))
    return steps


def _follow_up(session: Session, c: Complaint, owners: list[Person], sent: Sent, *, org: OrgChart, policy: Policy,
               now: datetime) -> int:
    """紧急: after the preliminary solution, remind the owner and the commander every N hours until resolved (the
    latest period only: a round that was down for a day sends one reminder, not three)."""
    if c.severity != Severity.urgent or c.preliminary_at is None or c.resolved_at is not None:
        return 0
    hours = policy.complaints.reminders.urgent_follow_up_hours
    base = ensure_utc(c.preliminary_at)
    n = int((now - base).total_seconds() // (hours * 3600))
    if n < 1 or ("follow_up", base, f"follow_up:{n}") in sent:
        return 0
    people = list(owners)
    people += [p for p in _commanders(org, c) if p not in people]
    if not people:
        return 0
    since = local_time(base, policy.timezone)
    note = (f"紧急投诉{c.number}已于 {since}（北京时间）提出初步解决方案，至今尚未办结。"
            f"请跟进处理进展（每{hours}小时提醒一次，直至办结）。")
    _send(session, c, "follow_up", base, f"follow_up:{n}", people, org=org, policy=policy, now=now,
          purpose=FOLLOW_UP, subject="紧急投诉跟进提醒", note=note,
          event=("follow_up", f"紧急投诉跟进提醒（第{n}次）：已生成提醒，排队发送给{_names(people)}"),
          audit="complaint.follow_up", sent=sent)
    return 1


# --- helpers ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Msg:
    subject: str
    body: str


def _message(c: Complaint, *, org: OrgChart, policy: Policy, subject: str, note: str, due: datetime,
             due_label: str = "截止时间") -> _Msg:
    """The notice's text: what the complaint is, never the customer's details (a message is not a masked page: the
    summary of the description is masked — numbers, the customer's name — before it is cut short)."""
    label = SEVERITY_LABELS.get(c.severity, c.severity)
    lines = [plain_line(note, 300), "", f"投诉编号：{c.number}", f"投诉等级：{label}",
             f"涉及单位：{plain_line(_unit_name(org, c.unit_id), 80)}",
             f"投诉类别：{category_label(c.category)}",
             f"受理时间：{local_time(c.received_at, policy.timezone)}（北京时间）",
             f"内容摘要：{plain_line(mask_complaint_text(c, c.description), 120)}",
             f"{due_label}：{local_time(due, policy.timezone)}（北京时间）",
             f"处理链接：/complaints/{c.id}", "", "本消息由舆情应急系统自动发送，请勿直接回复。"]
    head = plain_line(f"【投诉{c.number}·{label}】{subject}", 160)
    return _Msg(head, "\n".join(lines))


def _send(session: Session, c: Complaint, item: str, due: datetime, step: str, people: Sequence[Person], *,
          org: OrgChart, policy: Policy, now: datetime, purpose: str, subject: str, note: str,
          event: tuple[str, str], audit: str, sent: Sent, deadline: tuple[str, datetime] | None = None) -> int:
    """Queue one notice, record it (``complaint_notices``), and write its timeline event and audit entry.
    ``due`` is part of the notice's key; the message shows it as 截止时间 unless ``deadline`` (label, time) says
    which deadline to show instead."""
    label, shown = deadline or ("截止时间", due)
    msg = _message(c, org=org, policy=policy, subject=subject, note=note, due=shown, due_label=label)
    key = f"complaint:{c.id}:{item}:{int(due.timestamp())}:{step}"
    queued = queue_notifications(session, people=list(people), policy=policy, now=now, alert=None,
                                 incident_id=c.incident_id, purpose=purpose, key=key,
                                 message=(msg.subject, msg.body))
    row = ComplaintNotice(complaint_id=c.id, item=item, due_at=due, step=step, at=now, people=[p.id for p in people])
    session.add(row)
    sent[(item, due, step)] = row
    data = {"item": item, "due_at": due.isoformat(), "step": step, "people": [p.id for p in people],
            "purpose": purpose}
    session.add(ComplaintEvent(complaint=c, at=now, kind=event[0], actor=SYSTEM, text=event[1], data=data))
    audit_chain.append(session, at=now, actor=SYSTEM, action=audit, object_type="complaint", object_id=c.id,
                       detail=f"{c.number} {item} {step}", data=data | {"queued": queued})
    session.flush()
    return queued


def _owners(org: OrgChart, c: Complaint) -> list[Person]:
    """The assignee, else the 首问 owner (a person in the org chart)."""
    person = org.find_person(c.assignee_id) or org.find_person(c.first_contact_owner_id)
    return [person] if person is not None else []


def _commanders(org: OrgChart, c: Complaint) -> list[Person]:
    return list(escalation_holders(org, Role.commander, c.handling_unit_id))


def _quiet(policy: Policy, c: Complaint, now: datetime) -> bool:
    """A severity that waits for the end of quiet hours, during them."""
    qh = policy.levels_file.quiet_hours
    return (c.severity in policy.complaints.reminders.quiet_severities and qh is not None
            and qh.ends_after(now, policy.timezone) is not None)


def _unit_name(org: OrgChart, unit_id: str) -> str:
    try:
        return org.unit(unit_id).name
    except KeyError:
        return unit_id


def _role_label(role: Role) -> str:
    from yuqing.org import ROLE_LABELS

    return ROLE_LABELS.get(role, str(role))


def _names(people: Sequence[Person]) -> str:
    return "、".join(p.name for p in people) or "（无人）"


def _duration(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes}分钟"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24}天{hours % 24}小时" if hours % 24 else f"{hours // 24}天"
    return f"{hours}小时{rest}分钟" if rest else f"{hours}小时"
