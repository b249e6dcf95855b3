"""Public statements (口径): drafted from templates, reviewed by legal, signed off by a leader of the incident's
chain, then recorded as published — with every text kept as a version.

A statement moves ``draft → in_review → legal_approved → approved → published``. ``request_changes`` (legal while
it waits for legal, a chain leader while it waits for them or after signing) sends it back to ``draft`` with a
reason. Every edit writes a new ``statement_versions`` row (nothing is overwritten); an edit after submission
drops the approvals it had (they were of an older text) and puts the statement back to ``draft``. A published
statement is never edited: a correction is a new statement.

Who may do what (decided here, checked by the entry points through :func:`may` and by the flows through
:func:`check_approver`):

* drafting, editing, sending for approval and recording publication: the commander (应急处置负责人) — the
  general office writes the bank's word; the duty monitor reads and comments outside the product, as with reports;
* legal review (通过 or 退回修改): the ``legal`` role (法律合规);
* sign-off (审签): a leader of the incident's chain — a leader whose unit is the incident's unit or one above it
  (a leader of another sub-branch, even one who may see the case, does not sign it); who signed is recorded;
* publishing is impossible without a sign-off of the current version.

Each flow writes its typed row, one timeline event (``statement_*``) and one audit entry (``service._audit``),
flushes, and leaves the commit to the caller; refusals raise ``IncidentError`` with the Chinese message people see.
Templates are data (``config/statements.yaml``), validated with pydantic; errors name the file and the field.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.errors import IncidentError, NotFound
from incidents.lifecycle import IncidentStatus
from incidents.messages import check_placeholders, plain_line
from incidents.models import (
    STATEMENT_KIND_LABELS,
    STATEMENT_STATUS_LABELS,
    Incident,
    Statement,
    StatementDecision,
    StatementKind,
    StatementStatus,
    StatementVersion,
)
from incidents.service import _audit, _event, _get_incident
from yuqing.categories import CATEGORIES
from yuqing.clock import Clock
from yuqing.org import OrgChart, Role
from yuqing.yamlfile import load_model

TEMPLATES_FILE = "statements.yaml"
TEXT_LIMIT = 20000
PENDING = re.compile(r"【待核实[^】]*】")  # 【待核实】 and 【待核实：客服电话】 alike
PLACEHOLDERS = ("bank", "branch", "unit", "unit_short", "event_date", "date")


class StatementAction(StrEnum):
    draft = "draft"
    edit = "edit"
    submit = "submit"
    legal_approve = "legal_approve"
    approve = "approve"
    request_changes = "request_changes"
    publish = "publish"


ACTION_LABELS = {
    StatementAction.draft: "起草口径",
    StatementAction.edit: "修改口径",
    StatementAction.submit: "提交审核",
    StatementAction.legal_approve: "法律合规审核通过",
    StatementAction.approve: "领导审签",
    StatementAction.request_changes: "退回修改",
    StatementAction.publish: "登记发布",
}
ACTION_ROLES: dict[StatementAction, frozenset[Role]] = {
    StatementAction.draft: frozenset({Role.commander}),
    StatementAction.edit: frozenset({Role.commander}),
    StatementAction.submit: frozenset({Role.commander}),
    StatementAction.legal_approve: frozenset({Role.legal}),
    StatementAction.approve: frozenset({Role.leader}),
    StatementAction.request_changes: frozenset({Role.legal, Role.leader}),
    StatementAction.publish: frozenset({Role.commander}),
}
# action -> the statement statuses it may start from
FROM: dict[StatementAction, frozenset[StatementStatus]] = {
    StatementAction.edit: frozenset({StatementStatus.draft, StatementStatus.in_review, StatementStatus.legal_approved,
                                     StatementStatus.approved}),
    StatementAction.submit: frozenset({StatementStatus.draft}),
    StatementAction.legal_approve: frozenset({StatementStatus.in_review}),
    StatementAction.approve: frozenset({StatementStatus.legal_approved}),
    StatementAction.request_changes: frozenset({StatementStatus.in_review, StatementStatus.legal_approved,
                                                StatementStatus.approved}),
    StatementAction.publish: frozenset({StatementStatus.approved}),
}
# Checklist steps a statement's progress completes (by the typed record, like 初报 and the leadership notice).
TASKS_DONE_BY = {StatementAction.legal_approve: ("legal_review",),
                 StatementAction.approve: ("leadership_signoff",),
                 StatementAction.publish: ("holding_statement", "publish_response", "official_clarification")}


def may(roles: tuple[str, ...] | list[str], action: StatementAction) -> bool:
    held = {str(r) for r in roles}
    return any(str(r) in held for r in ACTION_ROLES[action])


def role_names(action: StatementAction) -> str:
    from yuqing.org import ROLE_LABELS

    order = list(Role)
    return "、".join(ROLE_LABELS[r] for r in sorted(ACTION_ROLES[action], key=order.index))


def chain_leaders(org: OrgChart, unit_id: str) -> list[str]:
    """The leaders who may sign off a statement of ``unit_id``: those of the unit and of every unit above it (a
    sub-branch leader never hides the branch's)."""
    try:
        units = {u.id for u in org.ancestors(unit_id)}
    except KeyError:
        units = set()
    return [p.id for p in org.people if Role.leader in p.roles and p.unit in units]


def may_act(roles: tuple[str, ...] | list[str], login: str, action: StatementAction, statement: Statement | None,
            *, org: OrgChart, incident: Incident) -> bool:
    """Whether this person may take ``action`` now (the page shows the form only then): role, the statement's
    status, and for a sign-off (or a leader sending one back) being a leader of the chain."""
    if not may(roles, action) or incident.status == IncidentStatus.reviewed:
        return False
    if statement is None:
        return action == StatementAction.draft
    status = StatementStatus(statement.status)
    if action not in FROM or status not in FROM[action]:
        return False
    if action == StatementAction.request_changes:
        held = {str(r) for r in roles}
        if Role.legal in held and status == StatementStatus.in_review:
            return True
        return Role.leader in held and login in chain_leaders(org, incident.unit_id)
    if action == StatementAction.approve:
        return login in chain_leaders(org, incident.unit_id)
    return True


# --- templates ------------------------------------------------------------------------------------------------
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class StatementTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Key
    category: str = Field(description="a risk category code, or 'default'")
    kind: StatementKind
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    text: Annotated[str, StringConstraints(min_length=1, max_length=TEXT_LIMIT)]

    @field_validator("category")
    @classmethod
    def _known_category(cls, v: str) -> str:
        if v != "default" and v not in CATEGORIES:
            raise ValueError(f"unknown category {v!r}: use 'default' or one of {', '.join(CATEGORIES)}")
        return v

    @field_validator("text")
    @classmethod
    def _known_placeholders(cls, v: str) -> str:
        return check_placeholders(v, PLACEHOLDERS)


class StatementTemplates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    templates: list[StatementTemplate] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> StatementTemplates:
        keys: set[str] = set()
        pairs: dict[tuple[str, str], int] = {}
        for i, t in enumerate(self.templates):
            if t.key in keys:
                raise ValueError(f"templates[{i}].key: duplicate key {t.key!r}")
            keys.add(t.key)
            if (t.category, t.kind) in pairs:
                raise ValueError(f"templates[{i}]: a second template for category {t.category!r} and kind "
                                 f"{t.kind.value!r} (the first is templates[{pairs[(t.category, t.kind)]}])")
            pairs[(t.category, t.kind)] = i
        missing = [k.value for k in StatementKind if ("default", k) not in pairs]
        if missing:
            raise ValueError(f"templates: no 'default' template for kind(s) {', '.join(missing)} "
                             "(used for every category without its own)")
        return self

    def find(self, category: str, kind: StatementKind | str) -> StatementTemplate:
        kind = StatementKind(kind)
        for cat in (category, "default"):
            for t in self.templates:
                if t.category == cat and t.kind == kind:
                    return t
        raise KeyError((category, kind))  # impossible: the validator demands a default per kind


_cache: dict[Path, tuple[int, StatementTemplates]] = {}


def load_templates(path: Path | str) -> StatementTemplates:
    """Load and validate the templates file (re-read when it changes); raises ``ConfigError`` naming file and
    field."""
    p = Path(path)
    try:
        stamp = p.stat().st_mtime_ns
    except OSError:
        stamp = -1
    hit = _cache.get(p)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    loaded = load_model(p, StatementTemplates)
    _cache[p] = (stamp, loaded)
    return loaded


def template_values(org: OrgChart, incident: Incident, *, now: datetime, tz: str) -> dict[str, str]:
    zone = ZoneInfo(tz)
    try:
        unit = org.unit(incident.unit_id)
        unit_name, short = unit.name, unit.short_name or unit.name
        branch = org.owning_branch(unit.id).name
    except KeyError:
        unit_name = short = incident.unit_id
        branch = org.bank.name
    opened, today = incident.opened_at.astimezone(zone), now.astimezone(zone)
    return {"bank": org.bank.name, "branch": branch, "unit": unit_name, "unit_short": short,
            "event_date": f"{opened.month}月{opened.day}日", "date": f"{today.year}年{today.month}月{today.day}日"}


def render_template(template: StatementTemplate, values: dict[str, str]) -> str:
    return template.text.format_map(values).strip()


def pending_marks(text: str) -> list[str]:
    """The 【待核实…】 markers still in a text."""
    return PENDING.findall(text)


# --- the flows ------------------------------------------------------------------------------------------------

def draft_statement(session: Session, *, incident_id: int, kind: str, user_login: str, org: OrgChart,
                    templates: StatementTemplates | None, clock: Clock, text: str | None = None,
                    tz: str = "Asia/Shanghai") -> Statement:
    """起草: a new statement whose first version is ``text`` or, when none is given, the template for the
    incident's category and ``kind`` with its placeholders filled in."""
    now = clock.now()
    incident = _get_incident(session, incident_id)
    _check_incident(incident)
    try:
        skind = StatementKind(kind)
    except ValueError:
        raise IncidentError(f"unknown statement kind {kind!r}", "未知的口径类型（初步回应、澄清说明或致歉声明）",
                            code="bad_request") from None
    template_key = None
    note = ""
    if text is None or not text.strip():
        if templates is None:
            raise IncidentError("no templates loaded", "未加载口径模板，请填写口径正文", code="bad_request")
        template = templates.find(incident.category, skind)
        body = render_template(template, template_values(org, incident, now=now, tz=tz))
        template_key, note = template.key, f"由模板“{template.title}”（{template.key}）生成"
    else:
        body = _clean(text)
    statement = Statement(incident_id=incident.id, kind=skind, status=StatementStatus.draft,
                          template_key=template_key, current_version=1, created_by=user_login, created_at=now,
                          updated_at=now)
    statement.versions = [StatementVersion(number=1, text=body, author=user_login, created_at=now, note=note)]
    session.add(statement)
    session.flush()
    label = STATEMENT_KIND_LABELS[skind]
    _event(session, incident, now, "statement_drafted", user_login,
           f"起草口径（{label}）第1版" + (f"，{note}" if note else ""),
           {"statement_id": statement.id, "kind": skind, "version": 1, "template": template_key})
    _audit(session, now, user_login, "statement.draft", "statement", statement.id, f"{skind} v1",
           {"incident_id": incident.id, "kind": skind, "template": template_key, "chars": len(body)})
    session.flush()
    return statement


def edit_statement(session: Session, *, statement_id: int, text: str, user_login: str, clock: Clock,
                   note: str = "") -> Statement:
    """修改: a new version. After submission the approvals are of an older text, so they are dropped and the
    statement goes back to draft (to be sent for approval again)."""
    now = clock.now()
    statement, incident = _get(session, statement_id)
    _check_incident(incident)
    if statement.status == StatementStatus.published:
        raise IncidentError("published statement edited", "已发布的口径不能修改；如需更正，请起草新的口径")
    body = _clean(text)
    current = _version(statement, statement.current_version)
    if body == current.text:
        raise IncidentError("same text", "口径内容没有变化，未生成新版本", code="bad_request")
    number = max(v.number for v in statement.versions) + 1
    session.add(StatementVersion(statement=statement, number=number, text=body, author=user_login, created_at=now,
                                 note=_clean(note, required=False)[:500]))
    before = StatementStatus(statement.status)
    dropped = []
    if statement.legal_version is not None:
        dropped.append(f"法律合规审核（{_name_or(statement.legal_by)}，第{statement.legal_version}版）")
    if statement.approved_version is not None:
        dropped.append(f"领导审签（{_name_or(statement.approved_by)}，第{statement.approved_version}版）")
    statement.current_version = number
    statement.updated_at = now
    if before != StatementStatus.draft:
        _decide(statement, "approvals_dropped", user_login, now,
                "修改后原审核、审签失效：" + "；".join(dropped) if dropped else "修改后需重新提交审核",
                version=number - 1)
        statement.status = StatementStatus.draft
        statement.legal_by = statement.legal_at = statement.legal_version = None
        statement.approved_by = statement.approved_at = statement.approved_version = None
    text_line = f"修改口径（{STATEMENT_KIND_LABELS[StatementKind(statement.kind)]}）为第{number}版"
    if before != StatementStatus.draft:
        text_line += "，原审核与审签失效，退回草稿，需重新提交" if dropped else "，退回草稿，需重新提交"
    _event(session, incident, now, "statement_edited", user_login, text_line,
           {"statement_id": statement.id, "version": number, "from_status": before, "approvals_dropped": dropped})
    _audit(session, now, user_login, "statement.edit", "statement", statement.id, f"v{number}",
           {"version": number, "from_status": before, "approvals_dropped": dropped, "chars": len(body)})
    session.flush()
    return statement


def submit_statement(session: Session, *, statement_id: int, user_login: str, clock: Clock) -> Statement:
    """提交审核 (draft → in_review): refused while the text still holds a 【待核实】 marker."""
    now = clock.now()
    statement, incident = _get(session, statement_id)
    _check(statement, incident, StatementAction.submit)
    marks = pending_marks(_version(statement, statement.current_version).text)
    if marks:
        shown = "、".join(dict.fromkeys(marks[:3]))
        raise IncidentError("pending markers left", f"口径中还有 {len(marks)} 处【待核实】内容未填写（如 {shown}），"
                            "请核实并修改后再提交审核", code="bad_request")
    return _step(session, statement, incident, StatementStatus.in_review, "submitted", user_login, now,
                 "statement_submitted", "提交口径审核", "statement.submit")


def legal_approve(session: Session, *, statement_id: int, user_login: str, clock: Clock, note: str = "") -> Statement:
    """法律合规审核通过 (in_review → legal_approved)."""
    now = clock.now()
    statement, incident = _get(session, statement_id)
    _check(statement, incident, StatementAction.legal_approve)
    statement.legal_by, statement.legal_at, statement.legal_version = user_login, now, statement.current_version
    _step(session, statement, incident, StatementStatus.legal_approved, "legal_approved", user_login, now,
          "statement_legal_approved", "法律合规审核通过", "statement.legal_approve", note=note)
    _complete_tasks(session, incident, StatementAction.legal_approve, user_login, now)
    session.flush()
    return statement


def approve(session: Session, *, statement_id: int, user_login: str, org: OrgChart, clock: Clock,
            note: str = "") -> Statement:
    """领导审签 (legal_approved → approved), by a leader of the incident's chain; who signed is recorded."""
    now = clock.now()
    statement, incident = _get(session, statement_id)
    _check(statement, incident, StatementAction.approve)
    check_approver(org, incident, user_login)
    if statement.legal_version != statement.current_version:  # cannot happen: an edit drops legal's approval
        raise IncidentError("legal approval of another version", "法律合规审核的不是当前版本，请重新提交审核")
    statement.approved_by, statement.approved_at = user_login, now
    statement.approved_version = statement.current_version
    _step(session, statement, incident, StatementStatus.approved, "approved", user_login, now,
          "statement_approved", "领导审签通过", "statement.approve", note=note)
    _complete_tasks(session, incident, StatementAction.approve, user_login, now)
    session.flush()
    return statement


def check_approver(org: OrgChart, incident: Incident, login: str) -> None:
    leaders = chain_leaders(org, incident.unit_id)
    if login not in leaders:
        names = "、".join(_person_name(org, p) for p in leaders) or "（组织架构中无）"
        raise IncidentError(f"{login} is not a leader of the chain of {incident.unit_id}",
                            f"只有本事件所属单位及上级单位的领导可以审签口径（{names}）", code="forbidden")


def request_changes(session: Session, *, statement_id: int, user_login: str, roles: tuple[str, ...] | list[str],
                    org: OrgChart, reason: str, clock: Clock) -> Statement:
    """退回修改 with a reason: legal while it waits for legal review; a chain leader while it waits for them or
    after signing it (withdrawing the sign-off). The statement goes back to draft; approvals are dropped."""
    now = clock.now()
    statement, incident = _get(session, statement_id)
    _check(statement, incident, StatementAction.request_changes)
    if not reason.strip():
        raise IncidentError("request changes needs a reason", "退回修改必须填写原因", code="reason_required")
    held = {str(r) for r in roles}
    as_legal = Role.legal in held and statement.status == StatementStatus.in_review
    if not as_legal:
        if Role.leader not in held:
            raise IncidentError("legal may only return a statement waiting for legal review",
                                "法律合规审核已通过，此时只能由领导退回修改", code="forbidden")
        check_approver(org, incident, user_login)
    statement.legal_by = statement.legal_at = statement.legal_version = None
    statement.approved_by = statement.approved_at = statement.approved_version = None
    return _step(session, statement, incident, StatementStatus.draft, "changes_requested", user_login, now,
                 "statement_changes_requested", f"退回口径修改：{plain_line(reason, 200)}",
                 "statement.request_changes", note=reason)


def publish(session: Session, *, statement_id: int, user_login: str, where: str, url: str = "",
            published_at: datetime | None = None, clock: Clock) -> Statement:
    """登记发布: where it went out (channel / outlet, URL optional) and when (default now; never in the future,
    never before the sign-off). Impossible without a leader's sign-off of the current version."""
    now = clock.now()
    statement, incident = _get(session, statement_id)
    _check_incident(incident)
    status = StatementStatus(statement.status)
    if status == StatementStatus.published:
        raise IncidentError("already published", "该口径已登记发布")
    if status != StatementStatus.approved or statement.approved_version != statement.current_version:
        raise IncidentError("publishing without approval",
                            f"口径未经领导审签，不能发布（当前状态：{STATEMENT_STATUS_LABELS[status]}）")
    if not where.strip():
        raise IncidentError("publish needs where", "请填写发布渠道（如官方微博、官方网站、媒体名称）",
                            code="reason_required")
    url = url.strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
            raise IncidentError("bad url", "发布链接须为 http:// 或 https:// 开头的网址", code="bad_request")
    at = published_at or now
    if at.tzinfo is None:
        raise IncidentError("naive time", "发布时间须带时区", code="bad_request")
    if at > now:
        raise IncidentError("publication in the future", "发布时间不能晚于当前时间", code="bad_request")
    if statement.approved_at is not None and at < statement.approved_at:
        raise IncidentError("published before approval", "发布时间不能早于领导审签时间", code="bad_request")
    statement.published_by, statement.published_at = user_login, at
    statement.published_where, statement.published_url = plain_line(where, 200), url or None
    statement.published_version = statement.current_version
    _step(session, statement, incident, StatementStatus.published, "published", user_login, now,
          "statement_published", f"口径已发布：{statement.published_where}", "statement.publish",
          note=statement.published_where, data={"where": statement.published_where, "url": url,
                                                 "published_at": at.isoformat()})
    _complete_tasks(session, incident, StatementAction.publish, user_login, now)
    session.flush()
    return statement


# --- reads ----------------------------------------------------------------------------------------------------

def statements_of(session: Session, incident_id: int) -> list[Statement]:
    return list(session.scalars(select(Statement).where(Statement.incident_id == incident_id)
                                .order_by(Statement.created_at, Statement.id)))


def get_statement(session: Session, statement_id: int) -> Statement | None:
    return session.get(Statement, statement_id)


@dataclass(frozen=True)
class DiffRow:
    """One line of a diff: ``op`` is ' ' (same), '-' (removed), '+' (added) or '~' (changed, with inline
    ``segments`` of (op, text), op in equal | delete | insert). Texts are plain: the page escapes them."""

    op: str
    segments: tuple[tuple[str, str], ...]


def diff_texts(old: str, new: str) -> list[DiffRow]:
    """A line diff of two versions (difflib), with changed lines diffed character by character (Chinese has no
    spaces to split words on)."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [DiffRow(" ", (("equal", line),)) for line in a[i1:i2]]
        elif tag == "delete":
            rows += [DiffRow("-", (("delete", line),)) for line in a[i1:i2]]
        elif tag == "insert":
            rows += [DiffRow("+", (("insert", line),)) for line in b[j1:j2]]
        else:
            olds, news = a[i1:i2], b[j1:j2]
            for k in range(max(len(olds), len(news))):
                if k >= len(olds):
                    rows.append(DiffRow("+", (("insert", news[k]),)))
                elif k >= len(news):
                    rows.append(DiffRow("-", (("delete", olds[k]),)))
                else:
                    rows.append(DiffRow("~", _inline(olds[k], news[k])))
    return rows


def diff_versions(statement: Statement, a: int, b: int) -> list[DiffRow]:
    return diff_texts(_version(statement, a).text, _version(statement, b).text)


def unified_diff(statement: Statement, a: int, b: int) -> str:
    """The same comparison as a unified diff (for the API and the CLI)."""
    old, new = _version(statement, a), _version(statement, b)
    return "\n".join(difflib.unified_diff(old.text.splitlines(), new.text.splitlines(), fromfile=f"第{a}版",
                                          tofile=f"第{b}版", lineterm=""))


def _inline(old: str, new: str) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("equal", old[i1:i2]))
        else:
            if i2 > i1:
                out.append(("delete", old[i1:i2]))
            if j2 > j1:
                out.append(("insert", new[j1:j2]))
    return tuple(out)


# --- helpers --------------------------------------------------------------------------------------------------

def _get(session: Session, statement_id: int) -> tuple[Statement, Incident]:
    statement = session.get(Statement, statement_id)
    if statement is None:
        raise NotFound("statement", statement_id, "口径")
    return statement, _get_incident(session, statement.incident_id)


def _check_incident(incident: Incident) -> None:
    if incident.status == IncidentStatus.reviewed:
        raise IncidentError("incident reviewed", f"事件 {incident.number} 已复盘，口径不能再变更")


def _check(statement: Statement, incident: Incident, action: StatementAction) -> None:
    _check_incident(incident)
    status = StatementStatus(statement.status)
    if status not in FROM[action]:
        allowed = "、".join(STATEMENT_STATUS_LABELS[s] for s in StatementStatus if s in FROM[action])
        raise IncidentError(f"{action} not allowed from {status}",
                            f"口径当前状态为“{STATEMENT_STATUS_LABELS[status]}”，不能{ACTION_LABELS[action]}"
                            f"（仅限：{allowed}）")


def _step(session: Session, statement: Statement, incident: Incident, to: StatementStatus, decision: str,
          actor: str, now: datetime, kind: str, text: str, audit_action: str, *, note: str = "",
          data: dict | None = None) -> Statement:
    before = statement.status
    statement.status = to
    statement.updated_at = now
    _decide(statement, decision, actor, now, _clean(note, required=False)[:2000])
    label = STATEMENT_KIND_LABELS[StatementKind(statement.kind)]
    _event(session, incident, now, kind, actor, f"{text}（{label}，第{statement.current_version}版）",
           {"statement_id": statement.id, "version": statement.current_version, "from": before, "to": to,
            **({"note": note.strip()} if note.strip() else {}), **(data or {})})
    _audit(session, now, actor, audit_action, "statement", statement.id, f"v{statement.current_version} {before}->{to}",
           {"incident_id": incident.id, "version": statement.current_version, "from": before, "to": to,
            **({"note": note.strip()[:500]} if note.strip() else {}), **(data or {})})
    session.flush()
    return statement


def _decide(statement: Statement, action: str, actor: str, at: datetime, note: str, version: int | None = None
            ) -> None:
    statement.decisions.append(StatementDecision(version=version or statement.current_version, action=action,
                                                 actor=actor, at=at, note=note))


def _complete_tasks(session: Session, incident: Incident, action: StatementAction, actor: str, now: datetime) -> None:
    from incidents.flows import _complete_by_record  # flows builds on service; imported late like service does

    notes = {StatementAction.legal_approve: "口径已经法律合规审核", StatementAction.approve: "口径已经领导审签",
             StatementAction.publish: "口径已发布"}
    for key in TASKS_DONE_BY[action]:
        _complete_by_record(session, incident, key, actor=actor, now=now, note=notes[action])


def _version(statement: Statement, number: int) -> StatementVersion:
    for v in statement.versions:
        if v.number == number:
            return v
    raise IncidentError(f"statement {statement.id} has no version {number}", f"口径没有第{number}版",
                        code="not_found")


def _clean(text: str, *, required: bool = True) -> str:
    body = text.replace("\r\n", "\n").strip()[:TEXT_LIMIT]
    if required and not body:
        raise IncidentError("empty statement", "口径正文不能为空", code="reason_required")
    return body


def _name_or(login: str | None) -> str:
    return login or "—"


def _person_name(org: OrgChart, login: str) -> str:
    try:
        return org.person(login).name
    except KeyError:
        return login


Decision = Literal["submitted", "legal_approved", "approved", "changes_requested", "approvals_dropped", "published"]
DECISION_LABELS = {"submitted": "提交审核", "legal_approved": "法律合规审核通过", "approved": "领导审签通过",
                   "changes_requested": "退回修改", "approvals_dropped": "修改后审核失效", "published": "登记发布"}
