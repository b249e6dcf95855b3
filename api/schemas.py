"""Response and request models of the JSON API (``/api/v1``), also what the dashboard templates render.

Naming ladder: ``XListRead`` is the compact row of a list, ``XRead`` the full object. Lists are returned as
``{"items": [...], "total": n, "next_cursor": "…" | null}`` (``api.pagination.Page``; docs/api.md).
Times are ISO 8601 in UTC; every code (level, status, label, category) comes with
its Chinese name beside it so clients never need their own tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.examples import example


# --- errors: one shape for every refusal of the JSON API (docs/api.md) ---------------------------------------------
class ValidationProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class FieldProblem(BaseModel):
    """The complaints and media-report routes answer one problem, in English, naming the field (or null)."""

    field: str | None
    message: str


class ErrorRead(BaseModel):
    """Every 4xx/5xx of the API: ``detail`` is a message (Chinese) — or, for 422, the list of problems with a
    Chinese summary in ``message``; the complaints and media-report routes answer ``{"field", "message"}``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"detail": "无权访问：该事项不属于您所辖的单位"},
        {"detail": [{"loc": ["query", "limit"], "msg": "Input should be less than or equal to 200",
                     "type": "less_than_equal"}],
         "message": "请求参数无效：limit：Input should be less than or equal to 200"},
    ]})

    detail: str | list[ValidationProblem] | FieldProblem
    message: str | None = None


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorRead, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("请求有误（如翻页游标无效）"), 401: _error("未登录或 API 令牌无效"), 403: _error("无权访问"),
    404: _error("对象不存在"), 409: _error("当前状态下不能执行此操作"), 422: _error("请求参数无效"),
}


class UnitRef(BaseModel):
    id: str
    name: str


class FactorRead(BaseModel):
    key: str
    label: str
    value: Any
    reason: str


class RiskRead(BaseModel):
    score: float
    level: str | None
    level_name: str
    category: str
    category_name: str
    computed_at: datetime
    factors: list[FactorRead]


class ClockRead(BaseModel):
    """One reporting clock of an incident (确认时限, 领导知悉, 初报, 续报…)."""

    key: str
    label: str
    due_at: datetime | None
    done_at: datetime | None = None
    status: str = Field(default="ok", description="ok | due_soon | overdue | done | stopped (by closing)")
    overdue: bool = False
    stopped_at: datetime | None = None
    missed: bool = Field(default=False, description="stopped by closing after its deadline had passed")


class ArticleRead(BaseModel):
    id: int
    title: str
    url: str
    source_id: str
    channel: str
    channel_name: str
    author: str | None
    published_at: datetime | None
    published_local: datetime | None = Field(
        default=None, description="the same instant as published_at, in the zone the page gave it (+08:00 when the "
        "page named none); published_at is stored and given in UTC")
    fetched_at: datetime
    snippet: str
    label: str | None
    label_name: str | None
    negative_prob: float | None
    category: str | None
    category_name: str | None
    is_duplicate: bool


class MentionListRead(BaseModel):
    """One row of the mentions feed: an article, the unit it names and its story's current risk."""

    model_config = ConfigDict(json_schema_extra=example("MentionListRead"))

    article_id: int
    title: str
    url: str
    source_id: str
    channel: str
    channel_name: str
    published_at: datetime | None
    fetched_at: datetime
    unit: UnitRef
    snippet: str
    label: str | None
    label_name: str | None
    negative_prob: float | None
    category: str | None
    category_name: str | None
    story_id: int | None
    risk_score: float | None
    risk_level: str | None
    risk_level_name: str | None


class StoryListRead(BaseModel):
    model_config = ConfigDict(json_schema_extra=example("StoryListRead"))

    id: int
    title: str
    unit: UnitRef | None
    first_seen_at: datetime
    last_seen_at: datetime
    article_count: int
    risk: RiskRead | None


class StoryRead(StoryListRead):
    model_config = ConfigDict(json_schema_extra=None)  # the list row's example lacks this model's fields

    articles: list[ArticleRead]


class TaskRead(BaseModel):
    model_config = ConfigDict(json_schema_extra=example("TaskRead"))

    id: int
    incident_id: int
    position: int
    key: str
    title: str
    owner_role: str
    owner_role_name: str
    owner_id: str | None
    owner_name: str | None
    due_at: datetime | None
    overdue: bool
    status: str
    status_name: str
    done_at: datetime | None
    done_by: str | None
    done_by_name: str | None
    note: str


class TimelineEventRead(BaseModel):
    model_config = ConfigDict(json_schema_extra=example("TimelineEventRead"))

    id: int
    at: datetime
    kind: str
    actor: str
    actor_name: str
    text: str


class ResurgenceRead(BaseModel):
    """A standing 舆情反弹 flag on an ended case (incidents.resurgence): it came back; reopen it or say why not."""

    at: datetime
    level: str
    level_name: str
    score: float
    new_articles: int
    first_source: str
    text: str


class IncidentListRead(BaseModel):
    model_config = ConfigDict(json_schema_extra=example("IncidentListRead"))

    id: int
    number: str
    title: str
    level: str
    level_name: str
    unit: UnitRef
    status: str
    status_name: str
    category: str
    category_name: str
    opened_at: datetime
    tasks_total: int
    tasks_done: int
    clocks: list[ClockRead]
    resurgence: ResurgenceRead | None = None


class ReportRead(BaseModel):
    """A report filed: 初报, 续报 n or 终报."""

    model_config = ConfigDict(json_schema_extra=example("ReportRead"))

    id: int
    kind: str = Field(description="initial | follow_up | final")
    kind_name: str
    version: int
    level: str
    text: str
    author: str
    author_name: str
    filed_at: datetime


class LeaderAckRead(BaseModel):
    leader_id: str
    leader_name: str
    level: str
    note: str
    at: datetime


class ActionItemRead(BaseModel):
    id: int
    title: str
    owner_id: str
    owner_name: str
    due_at: datetime | None
    done_at: datetime | None = None
    overdue: bool = False


class ReviewRead(BaseModel):
    """复盘: measured durations (seconds; None when a moment never happened) and what was learned."""

    id: int
    author: str
    author_name: str
    filed_at: datetime
    closed_at: datetime
    first_post_at: datetime | None
    seconds_to_detect: int | None
    seconds_to_acknowledge: int | None
    seconds_to_leadership: int | None
    seconds_to_statement: int | None
    seconds_to_close: int | None
    text: str
    went_well: str
    went_badly: str
    action_items: list[ActionItemRead]


class RegulatorReportRead(BaseModel):
    """A report to an authority outside the bank (监管部门 / 人民银行), as recorded (incidents.regulators)."""

    model_config = ConfigDict(json_schema_extra=example("RegulatorReportRead"))

    id: int
    incident_id: int
    kind: str = Field(description="regulator_report | pboc_report")
    kind_name: str
    recipient_key: str | None = Field(description="config/regulators.yaml key; null when the name was typed in")
    recipient_name: str
    method: str
    reference: str
    text: str
    level: str
    reported_by: str
    reported_by_name: str
    reported_at: datetime


class AppliedPlaybookRead(BaseModel):
    """A checklist (应急预案) applied to the incident: several may apply at once (incidents.playbooks)."""

    id: str
    name: str
    applied_at: datetime
    level: str
    reason: str


class ComplaintClockRead(BaseModel):
    key: str = Field(description="entry | contact | resolve | reply")
    label: str
    due: datetime
    done_at: datetime | None
    state: str = Field(description="met | late | running | overdue")
    state_label: str


class IncidentComplaintRead(BaseModel):
    """A customer complaint linked to the incident (one case), with its clocks counted from receipt; never the
    customer's details (the complaint's own page masks them and audits a full view)."""

    id: int
    number: str
    severity: str
    severity_label: str
    status: str
    status_label: str
    category: str
    category_label: str
    unit_id: str
    received_at: datetime
    clocks: list[ComplaintClockRead]


class IncidentRead(IncidentListRead):
    model_config = ConfigDict(json_schema_extra=None)  # the list row's example lacks this model's fields

    summary: str
    playbook: str
    acknowledged_at: datetime | None
    closed_at: datetime | None
    commander_id: str | None
    peak_risk: float
    alert_id: int | None
    tasks: list[TaskRead]
    timeline: list[TimelineEventRead]
    story: StoryRead | None
    factors: list[FactorRead]
    reports: list[ReportRead] = Field(default_factory=list)
    leadership_acknowledgements: list[LeaderAckRead] = Field(default_factory=list)
    reviews: list[ReviewRead] = Field(default_factory=list)
    reviewed_at: datetime | None = None
    playbooks: list[AppliedPlaybookRead] = Field(default_factory=list, description="every checklist applied")
    regulator_reports: list[RegulatorReportRead] = Field(default_factory=list,
                                                         description="reports to the regulator / central bank")
    complaints: list[IncidentComplaintRead] = Field(default_factory=list,
                                                    description="linked customer complaints with their clocks")


class AlertRead(BaseModel):
    model_config = ConfigDict(json_schema_extra=example("AlertRead"))

    id: int
    story_id: int
    unit: UnitRef
    level: str
    level_name: str
    risk_score: float
    category: str
    category_name: str
    title: str
    status: str
    status_name: str
    created_at: datetime
    updated_at: datetime
    ack_due_at: datetime | None = Field(description="when the next escalation step is due if nobody acknowledges; "
                                        "moved on at each escalation (see escalation_step)")
    ack_overdue: bool = Field(description="open and its first acknowledgement deadline has passed: true once "
                              "escalated, even though ack_due_at has moved on")
    escalation_step: int = Field(default=0, description="how many escalation steps were taken (0: none)")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_by_name: str | None
    dismissed_reason: str | None
    dismissed_at: datetime | None
    dismissed_by: str | None
    dismissed_by_name: str | None
    incident_id: int | None
    factors: list[FactorRead]


class SourceRead(BaseModel):
    model_config = ConfigDict(json_schema_extra=example("SourceRead"))

    source_id: str
    name: str
    health: str = Field(description="ok | failing | silent | never_run | disabled")
    health_name: str
    reason: str = Field(description="why, in Chinese: 'nothing found' and 'nothing crawled' read differently")
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    runs: int
    items_last_run: int
    items_total: int
    next_poll_at: datetime | None


class DismissRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "广告营销帖，与我行无关"}]})

    reason: str = Field(min_length=1, max_length=500, description="why this alert is a false positive")


class TaskCompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "已电话核实，网点排队已疏导"}]})

    note: str = Field(default="", max_length=2000)


class TokenRead(BaseModel):
    model_config = ConfigDict(json_schema_extra=example("TokenRead"))

    id: int
    user: str = Field(description="owner's login")
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: Literal["active", "expired", "revoked"]


class TokenCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "值班脚本", "days": 30}]})

    name: str = Field(min_length=1, max_length=64, description="what the token is for")
    days: int = Field(default=90, ge=1, le=365, description="lifetime in days")


class TokenCreated(TokenRead):
    model_config = ConfigDict(json_schema_extra=None)  # the list row's example lacks this model's fields

    token: str = Field(description="the bearer token itself; shown only in this response")


# --- incident lifecycle requests (POST /api/v1/incidents/{id}/…, /api/v1/tasks/{id}/…) ---------------------------
class LevelChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"level": "I", "reason": "视频转发量一小时内过万，多家媒体跟进"}]})

    level: Literal["I", "II", "III", "IV"]
    reason: str = Field(min_length=1, max_length=500, description="why: it goes on the timeline")


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "initial", "text": "【初报】11月23日09时，网传新华路网点储户取不出钱……经核实，系现金调拨延误。"}]})

    kind: Literal["initial", "follow_up", "final"]
    text: str = Field(min_length=1, max_length=20000, description="the report as sent")


class CloseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"summary": "已发布说明并逐一回复客户，舆情平息，24小时无新增负面"}]})

    summary: str = Field(min_length=1, max_length=2000)


class ReasonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "核实后不适用于本网点"}]})

    reason: str = Field(min_length=1, max_length=500)


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "已知悉，请按预案处置"}]})

    note: str = Field(default="", max_length=2000)


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"into": "YQ-20261123-001", "reason": "同一事件：网点拒付后客户家属发帖"}]})

    into: int | str = Field(description="the incident to merge into: its id or its number (YQ-…)")
    reason: str = Field(default="", max_length=500)

    @field_validator("into")
    @classmethod
    def _into(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("incident id must be positive")
            return value
        text = value.strip()
        if not text or len(text) > 40:
            raise ValueError("give the incident's id or number (YQ-…)")
        return text


class ActionItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    owner_id: str = Field(min_length=1, max_length=64, description="an org-chart person id")
    due_at: datetime | None = None


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", max_length=20000)
    went_well: str = Field(default="", max_length=5000)
    went_badly: str = Field(default="", max_length=5000)
    action_items: list[ActionItemIn] = Field(default_factory=list, max_length=50)


class TaskReassignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"owner_id": "huangwei", "reason": "网点负责人休假，由联络人接手"}]})

    owner_id: str = Field(min_length=1, max_length=64, description="an org-chart person id")
    reason: str = Field(default="", max_length=500)


# --- reads added with the complete API (mentions, outbox, configuration, users, health) --------------------------
class MentionRead(BaseModel):
    """One mention: an article naming a unit (the matcher's terms and snippet), with the article's basics."""

    model_config = ConfigDict(json_schema_extra=example("MentionRead"))

    id: int
    article_id: int
    unit: UnitRef
    is_primary: bool = Field(description="the most specific unit the article names")
    terms: list[str] = Field(description="the names or aliases found")
    snippet: str
    score: float
    title: str
    url: str
    source_id: str
    channel: str
    channel_name: str
    published_at: datetime | None
    fetched_at: datetime
    story_id: int | None


class OutboxRead(BaseModel):
    """A message the system sent or tried (发送记录, admins only): what the 发送记录 page shows, one-click links
    excluded (they are never stored)."""

    model_config = ConfigDict(json_schema_extra=example("OutboxRead"))

    id: int
    channel: str
    channel_name: str
    purpose: str
    recipient_id: str = Field(description="the org-chart person id (login) it was addressed to")
    recipient_name: str | None
    subject: str
    body: str
    status: str = Field(description="pending | sent | failed | …")
    status_name: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    read_at: datetime | None
    alert_id: int | None
    incident_id: int | None


class KeywordPlanRead(BaseModel):
    """A keyword plan (监测方案) as configured in keywords.yaml."""

    model_config = ConfigDict(json_schema_extra=example("KeywordPlanRead"))

    name: str
    role: Literal["topic", "filter"]
    category: str | None
    category_name: str | None
    must: list[list[str]]
    any: list[str]
    exclude: list[str]


class OrgUnitRead(BaseModel):
    id: str
    kind: str
    kind_name: str
    name: str
    short_name: str | None
    parent: str | None
    aliases: list[str]
    regions: list[str]


class OrgPersonRead(BaseModel):
    """A person of the org chart: who holds which role where (contact details are not served)."""

    id: str
    name: str
    title: str | None
    unit: str
    roles: list[str]
    role_names: list[str]


class OrgChartRead(BaseModel):
    model_config = ConfigDict(json_schema_extra=example("OrgChartRead"))

    bank: str
    root: str = Field(description="id of the top unit")
    units: list[OrgUnitRead]
    people: list[OrgPersonRead]


class UserRead(BaseModel):
    """A sign-in account (admins only); never the password hash."""

    model_config = ConfigDict(json_schema_extra=example("UserRead"))

    id: int
    login: str
    name: str
    roles: list[str]
    role_names: list[str]
    unit_id: str
    active: bool
    must_change_password: bool
    created_at: datetime
    password_changed_at: datetime | None
    deactivated_at: datetime | None
    deactivated_reason: str | None


class HealthRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok", "unavailable"]
    detail: str | None = None
