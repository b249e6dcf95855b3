"""The incident lifecycle as data: statuses, the transitions between them, and who may do what.

A case moves ``open → acknowledged → responding → monitoring → closed → reviewed``; ``reopen`` takes a monitoring,
closed or reviewed case back to ``responding`` (a story came back, or the close was premature) and needs a reason.
The table below is the only place that says which move is allowed from where, so the dashboard's buttons, the API,
the CLI and the flows (``incidents.flows``) can never disagree. Who may act is also data here (``ACTION_ROLES``),
checked by every entry point through :func:`may` / :func:`may_complete_task`.

Decisions (also in docs/architecture.md):

* acknowledging (确认) is for the duty desk and above: monitor, commander, leader, admin;
* changing the level, closing, reopening, moving the case on (开始处置 / 转入监测) and reassigning tasks or marking
  them not applicable are for the commander or a leader;
* reports (初报 / 续报 / 终报), reports to the regulator and the central bank (``incidents.regulators``) and the
  review (复盘) are filed by the commander or a leader — they are the office's written word to leadership and the
  regulator, so the duty monitor drafts them outside and does not file;
* merging a case into another about the same event (合并, ``incidents.merge``) is for the commander or a leader; the
  merged case ends as ``merged`` (已合并): nothing more is done on it, the case it joined carries the event on;
* a leader's acknowledgement (领导知悉) is a leader's own act, and so is a leader sign-off task (审签);
* a liaison completes only tasks owned by the liaison role of its own unit; monitors complete monitor tasks;
  the commander and leaders complete any task except a leader's; admins run the system, not the case.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from yuqing.org import Role


class IncidentStatus(StrEnum):
    open = "open"  # opened (by the pipeline or a person), nobody has taken it yet
    acknowledged = "acknowledged"  # the office has seen it and owns it
    responding = "responding"  # the checklist is being worked
    monitoring = "monitoring"  # the response is done; the story is being watched until it fades
    closed = "closed"  # over; 终报 and 复盘 are owed
    reviewed = "reviewed"  # 复盘 filed
    merged = "merged"  # merged into another incident about the same event (incidents.merge); final


STATUS_LABELS = {
    IncidentStatus.open: "待确认",
    IncidentStatus.acknowledged: "已确认",
    IncidentStatus.responding: "处置中",
    IncidentStatus.monitoring: "持续监测",
    IncidentStatus.closed: "已结案",
    IncidentStatus.reviewed: "已复盘",
    IncidentStatus.merged: "已合并",
}
ACTIVE = frozenset({IncidentStatus.open, IncidentStatus.acknowledged, IncidentStatus.responding,
                    IncidentStatus.monitoring})
# Over: closed (终报 and 复盘 owed), reviewed, or merged into another case (which owes them instead).
CLOSED = frozenset({IncidentStatus.closed, IncidentStatus.reviewed})
ENDED = CLOSED | {IncidentStatus.merged}


class Action(StrEnum):
    acknowledge = "acknowledge"
    respond = "respond"
    monitor = "monitor"
    close = "close"
    review = "review"
    reopen = "reopen"
    # actions that do not move the status but are allowed only in some statuses
    change_level = "change_level"
    file_report = "file_report"
    regulator_report = "regulator_report"  # 报告监管部门 / 报告人民银行 (incidents.regulators)
    leader_ack = "leader_ack"
    reassign_task = "reassign_task"
    task_not_applicable = "task_not_applicable"
    merge = "merge"  # merge this case into another (incidents.merge)


ACTION_LABELS = {
    Action.acknowledge: "确认事件", Action.respond: "开始处置", Action.monitor: "转入持续监测", Action.close: "结案",
    Action.review: "提交复盘", Action.reopen: "重新打开", Action.change_level: "调整等级",
    Action.file_report: "报送报告", Action.regulator_report: "登记监管报告",
    Action.leader_ack: "领导确认知悉", Action.reassign_task: "改派任务", Action.task_not_applicable: "标记任务不适用",
    Action.merge: "合并事件",
}

# action -> (statuses it may start from, status it leads to; None = the status does not change)
TRANSITIONS: dict[Action, tuple[frozenset[IncidentStatus], IncidentStatus | None]] = {
    Action.acknowledge: (frozenset({IncidentStatus.open}), IncidentStatus.acknowledged),
    Action.respond: (frozenset({IncidentStatus.acknowledged}), IncidentStatus.responding),
    Action.monitor: (frozenset({IncidentStatus.responding}), IncidentStatus.monitoring),
    Action.close: (frozenset({IncidentStatus.acknowledged, IncidentStatus.responding, IncidentStatus.monitoring}),
                   IncidentStatus.closed),
    Action.review: (frozenset({IncidentStatus.closed}), IncidentStatus.reviewed),
    Action.reopen: (frozenset({IncidentStatus.monitoring, IncidentStatus.closed, IncidentStatus.reviewed}),
                    IncidentStatus.responding),
    Action.change_level: (ACTIVE, None),
    Action.file_report: (ACTIVE | CLOSED, None),  # which kind when: see incidents.flows.file_report
    Action.regulator_report: (ACTIVE | CLOSED, None),  # a late report is still recorded
    Action.leader_ack: (ACTIVE | CLOSED, None),
    Action.reassign_task: (ACTIVE, None),
    Action.task_not_applicable: (ACTIVE, None),
    Action.merge: (ACTIVE, IncidentStatus.merged),
}

_CASE_RUNNERS = frozenset({Role.commander, Role.leader})
ACTION_ROLES: dict[Action, frozenset[Role]] = {
    Action.acknowledge: frozenset({Role.monitor, Role.commander, Role.leader, Role.admin}),
    Action.respond: _CASE_RUNNERS,
    Action.monitor: _CASE_RUNNERS,
    Action.close: _CASE_RUNNERS,
    Action.review: _CASE_RUNNERS,
    Action.reopen: _CASE_RUNNERS,
    Action.change_level: _CASE_RUNNERS,
    Action.file_report: _CASE_RUNNERS,
    Action.regulator_report: _CASE_RUNNERS,
    Action.leader_ack: frozenset({Role.leader}),
    Action.reassign_task: _CASE_RUNNERS,
    Action.task_not_applicable: _CASE_RUNNERS,
    Action.merge: _CASE_RUNNERS,
}
# Tasks whose completion is a leader's own act: sign-offs, and the leadership notice (= a leader's acknowledgement).
LEADERSHIP_NOTICE_TASK = "leadership_notice"
# What the system itself (actor ``system``) may do without a person, and from which statuses: reopen a case that
# was only being watched when its story comes back (incidents.resurgence). A closed or reviewed case is never
# reopened by the system: it is flagged and the commander decides.
SYSTEM_ACTIONS: dict[Action, frozenset[IncidentStatus]] = {Action.reopen: frozenset({IncidentStatus.monitoring})}


def status_of(value: str) -> IncidentStatus:
    """The enum for a stored status; raises ValueError on anything unknown."""
    return IncidentStatus(value)


def system_may(action: Action, status: str) -> bool:
    """Whether the system itself may take ``action`` on a case in ``status`` (``SYSTEM_ACTIONS``)."""
    return IncidentStatus(status) in SYSTEM_ACTIONS.get(action, frozenset()) and allowed_from(action, status)


def allowed_from(action: Action, status: str) -> bool:
    """Whether ``action`` may be taken on a case in ``status``."""
    return IncidentStatus(status) in TRANSITIONS[action][0]


def may(roles: Iterable[str], action: Action) -> bool:
    """Whether someone holding ``roles`` may take ``action`` (unit scope is checked separately)."""
    held = {str(r) for r in roles}
    return any(str(r) in held for r in ACTION_ROLES[action])


def role_names(action: Action) -> str:
    """The roles allowed to take ``action``, in Chinese, for refusal messages."""
    from yuqing.org import ROLE_LABELS

    order = list(Role)
    return "、".join(ROLE_LABELS[r] for r in sorted(ACTION_ROLES[action], key=order.index))


def may_complete_task(*, roles: Iterable[str], unit_id: str, login: str, task_key: str, owner_role: str,
                      owner_id: str | None, owner_unit_id: str | None, incident_unit_id: str) -> bool:
    """Whether someone may tick a task: see the module docstring for the rules.

    ``owner_unit_id`` is the unit of the task's owner (None when nobody was resolved or they left the org chart);
    a liaison then completes it only when the incident is about their own unit.
    """
    held = {str(r) for r in roles}
    if owner_role == Role.leader or task_key == LEADERSHIP_NOTICE_TASK:
        return Role.leader in held
    if held & {Role.commander, Role.leader}:
        return True
    if owner_role == Role.monitor:
        return Role.monitor in held
    if owner_role == Role.liaison and Role.liaison in held:
        if owner_id is not None and owner_id == login:
            return True
        return (owner_unit_id or incident_unit_id) == unit_id
    return False
