"""Reports to authorities outside the bank: the regulator (监管部门) and the central bank (人民银行).

Two kinds, each with a reporting clock that only a recorded report stops:

* ``regulator_report`` — a 重大声誉事件 told to the local 国家金融监督管理总局 office within the level's
  ``regulator_report_minutes`` (levels.yaml; 12 h at levels I and II);
* ``pboc_report`` — a run on the bank or crowds at outlets (挤兑) told to the 中国人民银行 branch within the deadline
  of the checklist step ``pboc_report`` (rumour_bank_run.yaml: 2 h). Its clock runs while the incident's checklist
  holds that step (it can be marked not applicable, with a reason, when there was no run after all).

Who is told is data (``config/regulators.yaml``): per branch one recipient per kind, with the ways it accepts a
report and a Chinese template per kind that :func:`draft_text` fills from what the product knows about the incident
(number, unit, level, what happened, what was done); the person edits it — a text still containing 【待核实…】 is
refused — and records who was told, how, the reference number and the text (:func:`record_report`). The record is a
``regulator_reports`` row, a timeline event and a hash-chained audit entry; the first of a kind completes that
kind's checklist step, which cannot be ticked by hand. Checklist titles containing ``{recipient}`` name the
recipient from config (:func:`step_title`).

Who may record: the commander or a leader (``incidents.lifecycle``: ``Action.regulator_report``), like 初报 —
it is the bank's word to its regulator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from incidents.errors import IncidentError
from incidents.lifecycle import Action
from incidents.messages import CHANNEL_LABELS, check_placeholders, plain_line
from incidents.models import (
    REPORT_KIND_LABELS,
    Incident,
    IncidentReport,
    LeadershipAcknowledgement,
    RegulatorReport,
    ReportKind,
    Statement,
    TaskStatus,
)
from yuqing.categories import LEVELS, category_label
from yuqing.clock import Clock, ensure_utc
from yuqing.errors import ConfigError
from yuqing.org import OrgChart, UnitKind
from yuqing.yamlfile import load_model

if TYPE_CHECKING:  # incidents.policy loads this module's file into the Policy
    from incidents.policy import Policy

REGULATORS_FILE = "regulators.yaml"
ReportKindName = Literal["regulator_report", "pboc_report"]
REPORT_KINDS: dict[str, str] = {"regulator_report": "报告监管部门", "pboc_report": "报告人民银行"}
# What a checklist title says when no recipient is configured for the incident's branch.
GENERIC_RECIPIENTS = {"regulator_report": "监管部门", "pboc_report": "人民银行分支机构"}
PLACEHOLDERS = ("recipient", "department", "bank", "branch", "unit", "unit_short", "number", "level", "level_name",
                "category", "opened_at", "first_published_at", "what_happened", "actions_taken", "reporter", "date")
TEXT_LIMIT = 20000
METHOD_LIMIT = 32

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
UnitId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Method = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=METHOD_LIMIT)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportKindConfig(_Strict):
    """One kind of report: its label on the form and the timeline, and the template its text starts from."""

    label: Name
    template: Annotated[str, StringConstraints(min_length=1, max_length=TEXT_LIMIT)]

    @field_validator("template")
    @classmethod
    def _known_placeholders(cls, v: str) -> str:
        return check_placeholders(v, PLACEHOLDERS)


class Recipient(_Strict):
    """An authority the bank reports to: whom, where to reach them, how they accept a report, what they receive."""

    key: Key
    name: Name = Field(description="as written on the report, e.g. 国家金融监督管理总局江城监管分局")
    department: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    contact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    methods: list[Method] = Field(min_length=1, description="书面报告, 电话, 监管报送系统 …")
    reports: list[ReportKindName] = Field(min_length=1)
    branches: list[UnitId] = Field(default_factory=list, description="org.yaml ids; empty: every branch")

    @field_validator("methods")
    @classmethod
    def _unique_methods(cls, v: list[str]) -> list[str]:
        dup = [m for m, n in Counter(v).items() if n > 1]
        if dup:
            raise ValueError(f"duplicate method(s) {dup}")
        return v


class RegulatorsFile(_Strict):
    """The content of ``config/regulators.yaml``."""

    reports: dict[ReportKindName, ReportKindConfig]
    recipients: list[Recipient] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> RegulatorsFile:
        keys: set[str] = set()
        taken: dict[tuple[str, str], int] = {}  # (kind, branch or "*") -> recipient index
        for i, r in enumerate(self.recipients):
            if r.key in keys:
                raise ValueError(f"recipients[{i}].key: duplicate key {r.key!r}")
            keys.add(r.key)
            for kind in r.reports:
                if kind not in self.reports:
                    raise ValueError(f"recipients[{i}].reports: no entry for {kind!r} under reports "
                                     "(its label and template)")
                for branch in r.branches or ["*"]:
                    if (kind, branch) in taken:
                        where = "every branch" if branch == "*" else f"branch {branch!r}"
                        raise ValueError(f"recipients[{i}]: a second {kind} recipient for {where} (the first is "
                                         f"recipients[{taken[(kind, branch)]}]); each branch reports a kind to one "
                                         "recipient")
                    taken[(kind, branch)] = i
        return self

    def recipient(self, key: str) -> Recipient | None:
        return next((r for r in self.recipients if r.key == key), None)

    def recipient_for(self, branch_id: str, kind: str) -> Recipient | None:
        """The recipient of ``kind`` for ``branch_id``: the one naming the branch, else the one for every branch."""
        named = [r for r in self.recipients if kind in r.reports and branch_id in r.branches]
        return named[0] if named else next((r for r in self.recipients if kind in r.reports and not r.branches),
                                           None)


def load_regulators(path: Path | str) -> RegulatorsFile:
    """Load and validate ``regulators.yaml``; a ``ConfigError`` names the file and the field."""
    return load_model(path, RegulatorsFile)


def required_kinds(policy: Policy) -> list[str]:
    """The kinds some clock demands: ``regulator_report`` when a level has ``regulator_report_minutes``,
    ``pboc_report`` when a playbook has a ``pboc_report`` step."""
    out = []
    if any(lv.regulator_report_minutes for lv in policy.levels_file.levels):
        out.append("regulator_report")
    if any(s.key == "pboc_report" for p in policy.playbooks.values() for s in p.steps):
        out.append("pboc_report")
    return out


def check_regulators_against_org(policy: Policy, org: OrgChart, path: Path | str) -> None:
    """Every branch named must be a 分行 (or the head office) of the org chart, and every branch and the head office
    must have a recipient for each kind a clock demands — otherwise that clock could not be met. Raises a
    ConfigError naming ``regulators.yaml`` and the field. Nothing to check when the file is absent."""
    regs = policy.regulators
    if regs is None:
        return
    problems = []
    kinds = {u.id: u.kind for u in org.units}
    for i, r in enumerate(regs.recipients):
        for j, b in enumerate(r.branches):
            if b not in kinds:
                problems.append((f"recipients[{i}].branches[{j}]", f"no unit {b!r} in the org chart"))
            elif kinds[b] not in (UnitKind.branch, UnitKind.head_office):
                problems.append((f"recipients[{i}].branches[{j}]",
                                 f"{b!r} is a {kinds[b].value}; name the 分行 (or the head office) that reports"))
    reporting = [u for u in org.units if u.kind in (UnitKind.branch, UnitKind.head_office)]
    for kind in required_kinds(policy):
        if kind not in regs.reports:
            problems.append(("reports", f"no entry for {kind!r}: a clock demands it"))
            continue
        for u in reporting:
            if regs.recipient_for(u.id, kind) is None:
                problems.append(("recipients", f"no {kind} recipient for {u.id!r} ({u.name}): its clock could not "
                                               "be met"))
    if problems:
        raise ConfigError(path, problems)


# --- who, for one incident ------------------------------------------------------------------------------------
def branch_of(org: OrgChart, unit_id: str) -> str:
    try:
        return org.owning_branch(unit_id).id
    except KeyError:
        return org.root().id


def recipient_for(regs: RegulatorsFile | None, org: OrgChart, unit_id: str, kind: str) -> Recipient | None:
    """The configured recipient of ``kind`` for an incident of ``unit_id`` (None when none is configured)."""
    return regs.recipient_for(branch_of(org, unit_id), kind) if regs is not None else None


def recipient_label(regs: RegulatorsFile | None, org: OrgChart, unit_id: str, kind: str) -> str:
    r = recipient_for(regs, org, unit_id, kind)
    return r.name if r is not None else GENERIC_RECIPIENTS[kind]


def step_title(title: str, *, key: str, regs: RegulatorsFile | None, org: OrgChart, unit_id: str) -> str:
    """A checklist title with ``{recipient}`` replaced by the configured recipient of the step's kind (the step's
    key, or ``regulator_report`` for other steps)."""
    if "{recipient}" not in title:
        return title
    kind = key if key in REPORT_KINDS else "regulator_report"
    return title.replace("{recipient}", recipient_label(regs, org, unit_id, kind))


def step_note(*, key: str, regs: RegulatorsFile | None, org: OrgChart, unit_id: str) -> str:
    """The note a report step starts with: whom to tell, how to reach them, and that recording the report in the
    product completes the step."""
    if key not in REPORT_KINDS:
        return ""
    r = recipient_for(regs, org, unit_id, key)
    if r is None:
        return f"未配置{GENERIC_RECIPIENTS[key]}报告对象：登记报告时填写报告对象名称；登记后此任务自动完成"
    reach = "，".join(x for x in (r.department, r.contact) if x)
    return (f"报告对象：{r.name}" + (f"（{reach}）" if reach else "") + f"；方式：{'、'.join(r.methods)}；"
            f"在事件页“{REPORT_KINDS[key]}”登记报告后此任务自动完成")


# --- the template ---------------------------------------------------------------------------------------------
def draft_text(session: Session, *, incident: Incident, kind: str, regs: RegulatorsFile | None, org: OrgChart,
               now: datetime, tz: str, reporter: str) -> str:
    """The kind's template filled from the incident, for the person to check and complete before recording it.
    Without a template (no regulators.yaml) a plain outline with the same facts."""
    values = template_values(session, incident=incident, kind=kind, regs=regs, org=org, now=now, tz=tz,
                             reporter=reporter)
    config = regs.reports.get(kind) if regs is not None else None  # type: ignore[call-overload]
    if config is None:
        return (f"关于{values['unit']}有关情况的报告\n\n{values['recipient']}：\n\n"
                f"事件编号{values['number']}，于{values['opened_at']}立案，目前按{values['level']}级（"
                f"{values['level_name']}）处置。\n{values['what_happened']}\n\n已采取的措施：\n"
                f"{values['actions_taken']}\n\n【待核实：影响评估与下一步安排】\n\n{values['branch']}\n{values['date']}")
    return config.template.format_map(values).strip()


def template_values(session: Session, *, incident: Incident, kind: str, regs: RegulatorsFile | None,
                    org: OrgChart, now: datetime, tz: str, reporter: str) -> dict[str, str]:
    """Every placeholder's value: facts the product recorded, in local time; crawled text masked."""
    from crawlers.models import Article
    from incidents.briefings.masking import Masker

    zone = ZoneInfo(tz)

    def local(at: datetime | None) -> str:
        if at is None:
            return "（时间不详）"
        t = ensure_utc(at).astimezone(zone)
        return f"{t.month}月{t.day}日{t:%H:%M}"

    try:
        unit = org.unit(incident.unit_id)
        unit_name, short = unit.name, unit.short_name or unit.name
    except KeyError:
        unit_name = short = incident.unit_id
    branch = org.unit(branch_of(org, incident.unit_id)).name
    r = recipient_for(regs, org, incident.unit_id, kind)
    articles = list(session.scalars(select(Article).where(Article.story_id == incident.story_id)
                                    .order_by(Article.published_at, Article.id))) if incident.story_id else []
    masker = Masker(a.author for a in articles if a.channel == "complaint" and a.author)
    first = min((ensure_utc(a.published_at) for a in articles if a.published_at is not None), default=None)
    today = now.astimezone(zone)
    return {
        "recipient": r.name if r is not None else GENERIC_RECIPIENTS.get(kind, "监管部门"),
        "department": r.department if r is not None else "", "bank": org.bank.name, "branch": branch,
        "unit": unit_name, "unit_short": short, "number": incident.number, "level": incident.level,
        "level_name": LEVELS.get(incident.level, incident.level), "category": category_label(incident.category),
        "opened_at": local(incident.opened_at), "first_published_at": local(first),
        "what_happened": _what_happened(incident, articles, first, masker, local, now),
        "actions_taken": _actions_taken(session, incident, org, local),
        "reporter": _person_name(org, reporter), "date": f"{today.year}年{today.month}月{today.day}日",
    }


def _what_happened(incident: Incident, articles: list, first: datetime | None, masker, local, now) -> str:
    if not articles:
        return f"事件标题：{masker.mask(plain_line(incident.title, 120))}。系统未关联相关报道。"
    by_channel = Counter(a.channel for a in articles)
    parts = "、".join(f"{CHANNEL_LABELS.get(c, c)}{n}条" for c, n in by_channel.most_common())
    opener = min(articles, key=lambda a: (a.published_at is None, a.published_at or a.fetched_at, a.id))
    return (f"首条相关信息{f'于{local(first)}' if first else ''}发布于{CHANNEL_LABELS.get(opener.channel, '网络')}，"
            f"标题为“{masker.mask(plain_line(opener.title or incident.title, 80))}”。截至{local(now)}，"
            f"系统共监测到相关信息{len(articles)}条（{parts}）。")


def _actions_taken(session: Session, incident: Incident, org: OrgChart, local) -> str:
    lines = []
    if incident.acknowledged_at is not None:
        lines.append(f"{local(incident.acknowledged_at)}确认事件并启动处置。")
    done = [t for t in incident.tasks if t.status == TaskStatus.done and t.key not in REPORT_KINDS
            and not t.key.startswith("phone_call_")]
    if done:
        lines.append("已完成处置事项：" + "；".join(plain_line(t.title, 60) for t in done) + "。")
    acks = session.scalars(select(LeadershipAcknowledgement).where(LeadershipAcknowledgement.incident_id ==
                                                                    incident.id)
                           .order_by(LeadershipAcknowledgement.at)).all()
    if acks:
        lines.append("已报告分行领导：" + "、".join(f"{_person_name(org, a.leader_id)}（{local(a.at)}确认知悉）"
                                             for a in acks) + "。")
    for s in session.scalars(select(Statement).where(Statement.incident_id == incident.id,
                                                     Statement.published_at.is_not(None))
                             .order_by(Statement.published_at)):
        lines.append(f"对外回应口径已于{local(s.published_at)}在{plain_line(s.published_where, 60)}发布。")
    reports = session.scalars(select(IncidentReport).where(IncidentReport.incident_id == incident.id)
                              .order_by(IncidentReport.filed_at)).all()
    if reports:
        lines.append("已向分行报送：" + "、".join(
            f"{REPORT_KIND_LABELS[ReportKind(r.kind)]}{f'（第{r.version}次）' if r.kind == 'follow_up' else ''}"
            f"（{local(r.filed_at)}）" for r in reports) + "。")
    told = reports_of(session, incident.id)
    if told:
        lines.append("已报告：" + "、".join(f"{r.recipient_name}（{local(r.reported_at)}，{r.method}）" for r in told)
                     + "。")
    return "\n".join(lines) if lines else "【待核实：已采取的处置措施】"


def _person_name(org: OrgChart, login: str) -> str:
    try:
        return org.person(login).name
    except KeyError:
        return login


# --- reads and the flow ---------------------------------------------------------------------------------------
def reports_of(session: Session, incident_id: int) -> list[RegulatorReport]:
    """The reports to authorities recorded on an incident, oldest first."""
    return list(session.scalars(_REPORTS_OF, {"incident_id": incident_id}))


# built once, the incident bound per call (the incident page reads it: see incidents.queries._fact_rows)
_REPORTS_OF = (select(RegulatorReport).where(RegulatorReport.incident_id == bindparam("incident_id"))
               .order_by(RegulatorReport.reported_at, RegulatorReport.id))


def first_report_times(reports: Iterable[RegulatorReport]) -> dict[str, datetime]:
    """kind -> when the first report of that kind was recorded, of one incident's reports already read (what
    :func:`first_report_times_of` asks the database for several incidents)."""
    out: dict[str, datetime] = {}
    for r in reports:
        at = ensure_utc(r.reported_at)
        if r.kind not in out or at < out[r.kind]:
            out[r.kind] = at
    return out


# Built once, the ids bound per call (expanding): ``queries.incidents_facts`` runs it on every pipeline round (the
# deadline notices), and building a statement and working out its cache key cost more than running it.
_FIRST_REPORT_TIMES = (select(RegulatorReport.incident_id, RegulatorReport.kind, func.min(RegulatorReport.reported_at))
                       .where(RegulatorReport.incident_id.in_(bindparam("ids", expanding=True)))
                       .group_by(RegulatorReport.incident_id, RegulatorReport.kind))


def first_report_times_of(session: Session, incident_ids: list[int]) -> dict[int, dict[str, datetime]]:
    """incident -> kind -> when the first report of that kind was recorded (what stops its clock), for several
    incidents in one query (incidents without a report are left out)."""
    out: dict[int, dict[str, datetime]] = {}
    rows = session.execute(_FIRST_REPORT_TIMES, {"ids": list(incident_ids)})
    for incident_id, kind, at in rows:
        out.setdefault(incident_id, {})[kind] = ensure_utc(at)
    return out


def record_report(session: Session, *, incident_id: int, method: str, text: str, user_login: str, org: OrgChart,
                  regs: RegulatorsFile | None, clock: Clock, kind: str | None = None, to: str = "",
                  reference: str = "") -> RegulatorReport:
    """登记报告: ``to`` is a recipient key from regulators.yaml (the one configured for the incident's branch; left
    empty, that one), or — only when no recipient of the kind is configured there — the recipient's name as told.
    ``kind`` may be left out when ``to`` receives one kind only. The first report of a kind stops its clock and
    completes its checklist step."""
    from incidents.flows import _auto_respond, _check_transition, _complete_by_record  # flows imports policy,
    from incidents.service import _audit, _event, _get_incident  # which imports this module: resolved at call time
    from incidents.statements import pending_marks

    now = clock.now()
    incident = _get_incident(session, incident_id)
    _check_transition(incident, Action.regulator_report)
    to, method, reference = to.strip(), method.strip(), reference.strip()
    configured = regs.recipient(to) if regs is not None else None
    if kind is None and configured is not None and len(configured.reports) == 1:
        kind = configured.reports[0]
    if kind not in REPORT_KINDS:
        raise IncidentError(f"unknown regulator report kind {kind!r}",
                            "请选择报告类型（报告监管部门或报告人民银行）", code="bad_request")
    expected = recipient_for(regs, org, incident.unit_id, kind)
    if not to and expected is not None:
        configured = expected
    if configured is not None:
        if kind not in configured.reports:
            raise IncidentError(f"{to} does not receive {kind}",
                                f"{configured.name}不接收“{REPORT_KINDS[kind]}”", code="bad_request")
        if expected is None or expected.key != configured.key:
            raise IncidentError(f"{to} is not the {kind} recipient of {incident.unit_id}",
                                f"本事件的“{REPORT_KINDS[kind]}”应报告"
                                f"{expected.name if expected else GENERIC_RECIPIENTS[kind]}，而不是{configured.name}",
                                code="bad_request")
        if method not in configured.methods:
            raise IncidentError(f"method {method!r} not accepted by {to}",
                                f"{configured.name}接受的报告方式为：{'、'.join(configured.methods)}",
                                code="bad_request")
        name = configured.name
    elif expected is not None:
        raise IncidentError(f"unknown recipient {to!r}", f"报告对象应为{expected.name}（{expected.key}）",
                            code="bad_request")
    else:  # nobody configured for this branch and kind: the person names the recipient
        name = plain_line(to, 200)
        if not name or not method:
            raise IncidentError("recipient or method missing", "请填写报告对象和报告方式", code="reason_required")
        if len(method) > METHOD_LIMIT:
            raise IncidentError("method too long", f"报告方式最多 {METHOD_LIMIT} 个字", code="bad_request")
    body = text.strip()[:TEXT_LIMIT]
    if not body:
        raise IncidentError("report without text", "报告正文不能为空", code="reason_required")
    left = pending_marks(body)
    if left:
        raise IncidentError("pending marks left", f"报告正文仍有待核实内容：{'、'.join(left[:3])}"
                            f"{' 等' if len(left) > 3 else ''}；请核实后替换", code="bad_request")
    row = RegulatorReport(incident_id=incident.id, kind=kind, recipient_key=configured.key if configured else None,
                          recipient_name=name, method=method, reference=plain_line(reference, 200), text=body,
                          level=incident.level, reported_by=user_login, reported_at=now)
    session.add(row)
    session.flush()
    how = method + (f"，文号/回执 {row.reference}" if row.reference else "")
    _event(session, incident, now, "regulator_reported", user_login,
           f"{REPORT_KINDS[kind]}：已向{name}报告（{how}）：{plain_line(body, 120)}",
           {"report_id": row.id, "kind": kind, "recipient": row.recipient_key, "method": method})
    _audit(session, now, user_login, "incident.regulator_report", "incident", incident.id, f"{kind} {name}",
           {"report_id": row.id, "kind": kind, "recipient": row.recipient_key, "recipient_name": name,
            "method": method, "reference": row.reference, "chars": len(body)})
    _complete_by_record(session, incident, kind, actor=user_login, now=now, note=f"已向{name}报告（{how}）")
    _auto_respond(session, incident, now)
    session.flush()
    return row

