"""One function per change of an incident: the lifecycle transitions, level changes, reports, a leader's
acknowledgement, task completion / reassignment / not-applicable, and the review.

Each function checks that the move is allowed from the current status (``incidents.lifecycle.TRANSITIONS``) and that
timestamps stay in order (acknowledged ≥ opened, closed ≥ acknowledged, reviewed ≥ closed), writes the typed row it
stands for, one timeline event and one audit entry (through ``service._audit``, the hash-chained writer), flushes,
and leaves the commit to the caller. A refused change raises ``IncidentError`` with the Chinese message people see.
*Who* may call them is checked by the entry points (``api.actions``, used by the API, the dashboard and the CLI)
against ``incidents.lifecycle.ACTION_ROLES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawlers.models import Article
from incidents import playbooks, queries
from incidents.errors import IncidentError, NotFound
from incidents.levels import check_manual_change, is_higher, level_title
from incidents.lifecycle import (
    ACTION_LABELS,
    ACTIVE,
    ENDED,
    LEADERSHIP_NOTICE_TASK,
    STATUS_LABELS,
    TRANSITIONS,
    Action,
    IncidentStatus,
)
from incidents.messages import plain_line
from incidents.models import (
    REPORT_KIND_LABELS,
    Alert,
    Incident,
    IncidentReport,
    IncidentReview,
    LeadershipAcknowledgement,
    ReportKind,
    ReviewActionItem,
    Task,
    TaskStatus,
    TimelineEvent,
)
from incidents.playbooks import change_text
from incidents.policy import Policy
from incidents.regulators import REPORT_KINDS
from incidents.service import (
    SYSTEM,
    _audit,
    _cancel_pending,
    _event,
    _get_incident,
    _notify_incident,
)
from sentiment import feedback as sentiment_feedback
from yuqing.clock import Clock
from yuqing.org import OrgChart, Role

TEXT_LIMIT = 20000


# --- the status transitions ------------------------------------------------------------------------------------

def acknowledge_incident(session: Session, *, incident_id: int, user_login: str, clock: Clock) -> Incident:
    """确认: someone owns the case. Also acknowledges its alert (stopping the alert's escalation)."""
    now = clock.now()
    incident = _get_incident(session, incident_id)
    _check_transition(incident, Action.acknowledge)
    _check_order(incident.opened_at, now, "确认时间不能早于立案时间")
    alert = session.scalar(select(Alert).where(Alert.incident_id == incident.id, Alert.status == "open"))
    if alert is not None:
        alert.status, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", now, user_login
        _cancel_pending(session, alert_id=alert.id, purposes=("escalation",), reason="事件已确认")
    record_acknowledged(session, incident=incident, actor=user_login, now=now, text=f"{user_login} 确认事件")
    session.flush()
    return incident


def record_acknowledged(session: Session, *, incident: Incident, actor: str, now: datetime, text: str) -> None:
    """The automatic half of 确认: acknowledging the incident's alert (or opening it by hand) acknowledges the
    incident too. Does nothing to a case already past ``open``."""
    incident.acknowledged_at = incident.acknowledged_at or now
    if incident.status == IncidentStatus.open:
        incident.status = IncidentStatus.acknowledged
        _event(session, incident, now, "acknowledged", actor, text,
               {"from": IncidentStatus.open, "to": IncidentStatus.acknowledged})
        _audit(session, now, actor, "incident.acknowledge", "incident", incident.id, incident.number, {})


def start_response(session: Session, *, incident_id: int, user_login: str, clock: Clock) -> Incident:
    """开始处置: the checklist is being worked (acknowledged → responding)."""
    now = clock.now()
    incident = _get_incident(session, incident_id)
    _check_transition(incident, Action.respond)
    _move(session, incident, IncidentStatus.responding, actor=user_login, now=now, text="开始处置")
    incident.responding_at = now
    session.flush()
    return incident


def start_monitoring(session: Session, *, incident_id: int, user_login: str, note: str, clock: Clock) -> Incident:
    """转入持续监测: the response is done, the story is watched until it fades (responding → monitoring)."""
    now = clock.now()
    incident = _get_incident(session, incident_id)
    _check_transition(incident, Action.monitor)
    incident.monitoring_at = now
    _move(session, incident, IncidentStatus.monitoring, actor=user_login, now=now,
          text="转入持续监测" + (f"：{plain_line(note, 200)}" if note.strip() else ""), data={"note": note.strip()})
    session.flush()
    return incident


def close_incident(session: Session, *, incident_id: int, user_login: str, summary: str, clock: Clock) -> Incident:
    """结案 with a summary: every running clock stops; 终报 (24 h) and 复盘 (5 working days) start."""
    now = clock.now()
    incident = _get_incident(session, incident_id)
    if incident.status in ENDED:
        raise IncidentError(f"incident {incident.number} already closed", f"事件 {incident.number} 已结案")
    if not summary.strip():
        raise IncidentError("closing needs a summary", "结案需要填写处置小结", code="reason_required")
    _check_transition(incident, Action.close)
    _check_order(incident.opened_at, now, "结案时间不能早于立案时间")
    _check_order(incident.acknowledged_at, now, "结案时间不能早于确认时间")
    incident.closed_at = now
    incident.summary = summary.strip()
    open_tasks = [t.title for t in incident.tasks if t.status == TaskStatus.todo]
    _move(session, incident, IncidentStatus.closed, actor=user_login, now=now,
          text="事件结案，所有进行中的报告时限停止；终报与复盘开始计时"
               + (f"（{len(open_tasks)}项任务未完成）" if open_tasks else ""),
          data={"summary": incident.summary, "open_tasks": open_tasks}, kind="closed")
    session.flush()
    return incident


def reopen_incident(session: Session, *, incident_id: int, user_login: str, reason: str, clock: Clock) -> Incident:
    """重新打开 (monitoring / closed / reviewed → responding), with a reason; the clocks run again."""
    now = clock.now()
    incident = _get_incident(session, incident_id)
    if not reason.strip():
        raise IncidentError("reopening needs a reason", "重新打开事件必须填写原因", code="reason_required")
    _check_transition(incident, Action.reopen)
    previous = incident.status
    incident.closed_at = None
    incident.reviewed_at = None
    incident.monitoring_at = None
    incident.responding_at = now
    _move(session, incident, IncidentStatus.responding, actor=user_login, now=now,
          text=f"重新打开事件（原状态：{STATUS_LABELS[IncidentStatus(previous)]}）：{plain_line(reason, 200)}",
          data={"reason": reason.strip(), "from": previous}, kind="reopened")
    session.flush()
    return incident


@dataclass(frozen=True)
class ActionItemIn:
    title: str
    owner_id: str
    due_at: datetime | None = None


def review_incident(session: Session, *, incident_id: int, user_login: str, text: str, went_well: str = "",
                    went_badly: str = "", action_items: Sequence[ActionItemIn] = (), org: OrgChart | None = None,
                    clock: Clock) -> IncidentReview:
    """提交复盘 (closed → reviewed): the measured durations, what went well and badly, action items with owners."""
    now = clock.now()
    incident = _get_incident(session, incident_id)
    if not (text.strip() or went_well.strip() or went_badly.strip()):
        raise IncidentError("review needs content", "复盘内容不能为空", code="reason_required")
    _check_transition(incident, Action.review)
    _check_order(incident.closed_at, now, "复盘时间不能早于结案时间")
    for item in action_items:
        if not item.title.strip() or not item.owner_id.strip():
            raise IncidentError("action item without title or owner", "整改事项需要填写内容和负责人",
                                code="bad_request")
        if org is not None:
            try:
                org.person(item.owner_id.strip())
            except KeyError:
                raise IncidentError(f"unknown owner {item.owner_id}", f"整改事项负责人“{item.owner_id}”不在组织架构中",
                                    code="bad_request") from None
    m = review_measures(session, incident)
    review = IncidentReview(incident_id=incident.id, author=user_login, filed_at=now, closed_at=incident.closed_at,
                            first_post_at=m.first_post_at, seconds_to_detect=m.detect, seconds_to_acknowledge=m.ack,
                            seconds_to_leadership=m.leadership, seconds_to_statement=m.statement,
                            seconds_to_close=m.close, text=_text(text), went_well=_text(went_well),
                            went_badly=_text(went_badly))
    review.action_items = [ReviewActionItem(title=plain_line(i.title, 500), owner_id=i.owner_id.strip(),
                                            due_at=i.due_at) for i in action_items]
    session.add(review)
    incident.reviewed_at = now
    _move(session, incident, IncidentStatus.reviewed, actor=user_login, now=now,
          text=f"提交复盘（整改事项 {len(action_items)} 项）", data={"action_items": len(action_items)},
          kind="reviewed")
    session.flush()
    return review


@dataclass(frozen=True)
class ReviewMeasures:
    """Durations in seconds, each None when one of its two moments never happened."""

    first_post_at: datetime | None
    detect: int | None  # first post → alert
    ack: int | None  # alert → acknowledged
    leadership: int | None  # alert → first leader acknowledgement
    statement: int | None  # alert → first statement published (when statements exist)
    close: int | None  # alert → closed


def review_measures(session: Session, incident: Incident) -> ReviewMeasures:
    """What the review record computes; counted from the alert (or the opening, for a case without one)."""
    alert = session.scalar(select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id).limit(1))
    start = alert.created_at if alert is not None else incident.opened_at
    first_post = None
    if incident.story_id is not None:
        first_post = session.scalar(select(func.min(func.coalesce(Article.published_at, Article.fetched_at)))
                                    .where(Article.story_id == incident.story_id))
        if first_post is not None and first_post.tzinfo is None:  # SQLite hands back aggregate datetimes naive
            from datetime import UTC
            first_post = first_post.replace(tzinfo=UTC)
    leader = session.scalar(select(func.min(LeadershipAcknowledgement.at))
                            .where(LeadershipAcknowledgement.incident_id == incident.id))
    if leader is not None and leader.tzinfo is None:
        from datetime import UTC
        leader = leader.replace(tzinfo=UTC)

    def span(a: datetime | None, b: datetime | None) -> int | None:
        return int((b - a).total_seconds()) if a is not None and b is not None else None

    return ReviewMeasures(first_post_at=first_post, detect=span(first_post, start),
                          ack=span(start, incident.acknowledged_at), leadership=span(start, leader),
                          statement=span(start, queries.first_statement_at(session, incident)),
                          close=span(start, incident.closed_at))


# --- level -----------------------------------------------------------------------------------------------------

def change_level(session: Session, *, incident_id: int, new_level: str, reason: str, user_login: str,
                 org: OrgChart, policy: Policy, clock: Clock) -> Incident:
    """调整等级 by hand, with a reason (required both ways: the timeline must say why)."""
    now = clock.now()
    incident = _get_incident(session, incident_id)
    if incident.status not in ACTIVE:
        raise IncidentError(f"incident {incident.number} is {incident.status}", "事件已结案，不能调整等级")
    if not reason.strip():
        raise IncidentError("level change needs a reason", "调整事件等级必须填写原因", code="reason_required")
    try:
        check_manual_change(incident.level, new_level, reason)
    except ValueError as exc:
        user = f"事件已是{level_title(incident.level)}" if "already" in str(exc) else "无效的事件等级"
        raise IncidentError(f"incident {incident.number}: {exc}", user, code="bad_request") from None
    alert = session.scalar(select(Alert).where(Alert.incident_id == incident.id))
    raised = is_higher(new_level, incident.level)
    apply_level(session, incident=incident, new_level=new_level, reason=reason.strip(), actor=user_login,
                alert=alert, org=org, policy=policy, now=now)
    if raised and incident.story_id is not None:
        sentiment_feedback.record_manual_raise(session, story_id=incident.story_id,
                                               alert_id=alert.id if alert else None, user_login=user_login,
                                               reason=reason.strip(), at=now)
    session.flush()
    return incident


def apply_level(session: Session, *, incident: Incident, new_level: str, reason: str, actor: str,
                alert: Alert | None, org: OrgChart, policy: Policy, now: datetime, notify: bool = True) -> int:
    """Set the level and re-plan (``incidents.playbooks.replan``): on a rise the new level's steps of every applied
    playbook — and of any playbook the new level makes match — are added (never twice) and each open task takes the
    earlier of its deadline and the new level's; on a fall, open steps no applied playbook has at the new level
    become not applicable. Deadlines already incurred never move out. Clocks follow from the level history the
    ``level_changed`` event records. Returns how many notifications were queued (a rise tells the new roles;
    ``notify=False`` when the caller tells them in its own message, e.g. ``incidents.resurgence``)."""
    old = incident.level
    up = is_higher(new_level, old)
    incident.level = new_level
    r = playbooks.replan(session, incident=incident, level=new_level, up=up, org=org, policy=policy, now=now,
                         actor=actor, alert=alert)
    notes = [f"追加处置清单“{p.name}”（{r.why[p.id]}）" for p in r.joined] + [x for x in (change_text(r),) if x]
    _event(session, incident, now, "level_changed", actor,
           f"等级由{level_title(old)}调整为{level_title(new_level)}：{plain_line(reason, 200)}"
           f"（{'；'.join([*notes, '报告时限按新等级重新计算'])}）",
           {"from": old, "to": new_level, "reason": reason, "direction": "up" if up else "down",
            "playbooks_added": [p.id for p in r.joined], "tasks_added": r.added, "tasks_tightened": r.tightened,
            "tasks_not_applicable": r.dropped})
    _audit(session, now, actor, "incident.level", "incident", incident.id, f"{old}->{new_level}", {"reason": reason})
    if not up or not notify:
        return 0
    return _notify_incident(session, incident=incident, alert=alert, purpose="level_changed", org=org,
                            policy=policy, now=now, previous_level=old)


# --- reports and the leadership ---------------------------------------------------------------------------------

def file_report(session: Session, *, incident_id: int, kind: str, text: str, user_login: str,
                clock: Clock) -> IncidentReport:
    """报送 初报 (once, while the case runs), 续报 (numbered, after 初报, until closing) or 终报 (after closing,
    once per closing). The row stops the matching clock; 初报 also completes the checklist's 初报 task."""
    now = clock.now()
    incident = _get_incident(session, incident_id)
    try:
        report_kind = ReportKind(kind)
    except ValueError:
        raise IncidentError(f"unknown report kind {kind!r}", "未知的报告类型（初报、续报或终报）",
                            code="bad_request") from None
    if not text.strip():
        raise IncidentError("report without text", "报告正文不能为空", code="reason_required")
    filed = queries.reports_of(session, incident.id)
    label = REPORT_KIND_LABELS[report_kind]
    if report_kind in (ReportKind.initial, ReportKind.follow_up) and incident.status not in ACTIVE:
        raise IncidentError(f"{kind} on ended incident", f"事件已结案，不能再报送{label}；请报送终报")
    if report_kind == ReportKind.initial and any(r.kind == ReportKind.initial for r in filed):
        raise IncidentError("initial report already filed", "初报已报送，后续请报送续报")
    if report_kind == ReportKind.follow_up and not any(r.kind == ReportKind.initial for r in filed):
        raise IncidentError("follow-up before initial", "请先报送初报，再报送续报")
    if report_kind == ReportKind.final:
        if incident.status != IncidentStatus.closed:
            raise IncidentError("final report before closing", "终报须在事件结案后、复盘前报送")
        if any(r.kind == ReportKind.final and r.filed_at >= incident.closed_at for r in filed):
            raise IncidentError("final report already filed", "本次结案的终报已报送")
    version = sum(1 for r in filed if r.kind == report_kind) + 1
    report = IncidentReport(incident_id=incident.id, kind=report_kind, version=version, level=incident.level,
                            text=_text(text), author=user_login, filed_at=now)
    session.add(report)
    name = f"第{version}次续报" if report_kind == ReportKind.follow_up else label
    _event(session, incident, now, "report_filed", user_login, f"报送{name}：{plain_line(text, 120)}",
           {"kind": report_kind, "version": version})
    _audit(session, now, user_login, "incident.report", "incident", incident.id, f"{report_kind} {version}",
           {"kind": report_kind, "version": version, "chars": len(report.text)})
    if report_kind == ReportKind.initial:
        _complete_by_record(session, incident, "initial_report", actor=user_login, now=now, note="已报送初报")
    _auto_respond(session, incident, now)
    session.flush()
    return report


def acknowledge_as_leader(session: Session, *, incident_id: int, user_login: str, note: str = "",
                          clock: Clock) -> LeadershipAcknowledgement:
    """领导确认知悉: a leader's own act in the product. Stops the leadership clock (at every level, including the
    daily/weekly report of III/IV until those reports exist) and completes the ``leadership_notice`` task."""
    now = clock.now()
    incident = _get_incident(session, incident_id)
    if session.scalar(select(LeadershipAcknowledgement.id).where(
            LeadershipAcknowledgement.incident_id == incident.id,
            LeadershipAcknowledgement.leader_id == user_login)) is not None:
        raise IncidentError("leader already acknowledged", "您已确认知悉该事件")
    ack = LeadershipAcknowledgement(incident_id=incident.id, leader_id=user_login, level=incident.level,
                                    note=_text(note), at=now)
    session.add(ack)
    _event(session, incident, now, "leader_acknowledged", user_login,
           "分行领导确认知悉" + (f"：{plain_line(note, 200)}" if note.strip() else ""), {"level": incident.level})
    _audit(session, now, user_login, "incident.leader_ack", "incident", incident.id, incident.number,
           {"level": incident.level})
    _complete_by_record(session, incident, LEADERSHIP_NOTICE_TASK, actor=user_login, now=now, note="领导已确认知悉")
    session.flush()
    return ack


# --- tasks -----------------------------------------------------------------------------------------------------

def complete_task(session: Session, *, task_id: int, user_login: str, clock: Clock, note: str = "") -> Task:
    """Tick a checklist task. The leadership-notice task is a leader's acknowledgement (recorded as one); the
    初报 task is completed by filing the 初报 itself and the 监管部门 / 人民银行 tasks by recording the report
    (``incidents.regulators``), so a clock and its task can never disagree."""
    now = clock.now()
    task = _get_task(session, task_id)
    incident = task.incident
    if task.status != TaskStatus.todo:
        raise IncidentError(f"task {task_id} is already {task.status}",
                            f"任务“{task.title}”已完成，不能重复完成" if task.status == TaskStatus.done
                            else f"任务“{task.title}”已标记为不适用")
    if incident.status == IncidentStatus.reviewed:
        raise IncidentError("task on reviewed incident", "事件已复盘，不能再完成任务")
    if task.key == "initial_report":
        raise IncidentError("initial report task", "请通过“报送报告”提交初报正文，提交后此任务自动完成",
                            code="bad_request")
    if task.key in REPORT_KINDS:
        raise IncidentError(f"{task.key} task", f"请通过“{REPORT_KINDS[task.key]}”登记报告（报告对象、方式、"
                            "文号与报告正文），登记后此任务自动完成", code="bad_request")
    if task.key == LEADERSHIP_NOTICE_TASK:
        acknowledge_as_leader(session, incident_id=incident.id, user_login=user_login, note=note, clock=clock)
        return task
    task.status, task.done_at, task.done_by, task.note = TaskStatus.done, now, user_login, note
    late = task.due_at is not None and now > task.due_at
    _event(session, incident, now, "task_done", user_login, f"完成任务：{task.title}" + ("（已超时）" if late else ""),
           {"task_id": task.id, "key": task.key, "late": late, "note": note})
    _audit(session, now, user_login, "task.complete", "task", task.id, task.title, {"note": note})
    _auto_respond(session, incident, now)
    session.flush()
    return task


def mark_task_not_applicable(session: Session, *, task_id: int, user_login: str, reason: str,
                             clock: Clock) -> Task:
    """标记不适用, with a reason (e.g. no customer to contact in a rumour)."""
    now = clock.now()
    task = _get_task(session, task_id)
    _check_transition(task.incident, Action.task_not_applicable)
    if not reason.strip():
        raise IncidentError("not applicable needs a reason", "标记任务不适用必须填写原因", code="reason_required")
    if task.status != TaskStatus.todo:
        raise IncidentError(f"task {task_id} is {task.status}", f"任务“{task.title}”已处理，不能标记为不适用")
    if task.key in ("initial_report", "regulator_report", LEADERSHIP_NOTICE_TASK):
        raise IncidentError("report task cannot be skipped", f"“{task.title}”是报告时限，不能标记为不适用；"
                            "如确无必要，请调整事件等级")
    task.status, task.done_at, task.done_by, task.note = TaskStatus.not_applicable, now, user_login, reason.strip()
    _event(session, task.incident, now, "task_not_applicable", user_login,
           f"任务不适用：{task.title}：{plain_line(reason, 200)}", {"task_id": task.id, "reason": reason.strip()})
    _audit(session, now, user_login, "task.not_applicable", "task", task.id, task.title, {"reason": reason.strip()})
    session.flush()
    return task


def reassign_task(session: Session, *, task_id: int, user_login: str, owner_id: str, reason: str, org: OrgChart,
                  clock: Clock) -> Task:
    """改派 a task to another person of the org chart; the owner role follows the person when they lack it."""
    now = clock.now()
    task = _get_task(session, task_id)
    _check_transition(task.incident, Action.reassign_task)
    if task.status != TaskStatus.todo:
        raise IncidentError(f"task {task_id} is {task.status}", f"任务“{task.title}”已处理，不能改派")
    try:
        person = org.person(owner_id.strip())
    except KeyError:
        raise IncidentError(f"unknown person {owner_id}", f"“{owner_id}”不在组织架构中", code="bad_request") from None
    if person.id == task.owner_id:
        raise IncidentError("same owner", f"任务已由{person.name}负责", code="bad_request")
    before = task.owner_id
    task.owner_id = person.id
    if task.owner_role not in {str(r) for r in person.roles}:
        task.owner_role = str(sorted(person.roles, key=list(Role).index)[0])
    _event(session, task.incident, now, "task_reassigned", user_login,
           f"改派任务：{task.title} → {person.name}" + (f"：{plain_line(reason, 200)}" if reason.strip() else ""),
           {"task_id": task.id, "from": before, "to": person.id, "reason": reason.strip()})
    _audit(session, now, user_login, "task.reassign", "task", task.id, f"{before}->{person.id}",
           {"reason": reason.strip()})
    session.flush()
    return task


# --- helpers ---------------------------------------------------------------------------------------------------

def _check_transition(incident: Incident, action: Action) -> None:
    starts, _ = TRANSITIONS[action]
    status = IncidentStatus(incident.status)
    if status not in starts:
        allowed = "、".join(STATUS_LABELS[s] for s in IncidentStatus if s in starts)
        raise IncidentError(f"{action} not allowed from {status}",
                            f"事件当前状态为“{STATUS_LABELS[status]}”，不能{ACTION_LABELS[action]}"
                            f"（仅限：{allowed}）")


def _check_order(earlier: datetime | None, later: datetime, message: str) -> None:
    if earlier is not None and later < earlier:
        raise IncidentError("timestamps out of order", message)


_AUDIT_ACTIONS = {IncidentStatus.responding: "incident.respond", IncidentStatus.monitoring: "incident.monitor",
                  IncidentStatus.closed: "incident.close", IncidentStatus.reviewed: "incident.review"}


def _move(session: Session, incident: Incident, to: IncidentStatus, *, actor: str, now: datetime, text: str,
          data: dict | None = None, kind: str = "status_changed") -> TimelineEvent:
    before = incident.status
    incident.status = to
    ev = _event(session, incident, now, kind, actor, text, {"from": before, "to": to, **(data or {})})
    action = "incident.reopen" if kind == "reopened" else _AUDIT_ACTIONS[to]
    _audit(session, now, actor, action, "incident", incident.id, f"{before}->{to}", data or {})
    return ev


def _auto_respond(session: Session, incident: Incident, now: datetime) -> None:
    """The first piece of work on an acknowledged case (a task, a report) starts the response by itself."""
    if incident.status == IncidentStatus.acknowledged:
        incident.responding_at = now
        _move(session, incident, IncidentStatus.responding, actor=SYSTEM, now=now,
              text="首项处置工作完成，自动转入处置中")


def _complete_by_record(session: Session, incident: Incident, key: str, *, actor: str, now: datetime,
                        note: str) -> None:
    for task in incident.tasks:
        if task.key == key and task.status == TaskStatus.todo:
            task.status, task.done_at, task.done_by, task.note = TaskStatus.done, now, actor, note
            _event(session, incident, now, "task_done", actor, f"完成任务：{task.title}（{note}）",
                   {"task_id": task.id, "key": task.key, "by_record": True})


def _get_task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("task", task_id, "任务")
    return task


def _text(value: str) -> str:
    return value.strip()[:TEXT_LIMIT]
