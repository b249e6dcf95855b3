"""Response policy as data: levels, their clocks, checklist templates (playbooks) and notification channels.

Deadlines differ between banks and change when regulators or internal rules change, so none of them live in code.
``config/levels.yaml`` holds one entry per level (I 特别重大 … IV 一般) with its acknowledgement, leadership,
初报 and 续报 clocks; ``config/checklists/*.yaml`` hold one playbook each (steps with an owner role and a deadline
relative to the incident's opening, in minutes or in Chinese working days); ``config/channels.yaml`` says which
notification channels are on and how delivery retries. Every validation error names the file and the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from incidents.complaints.config import COMPLAINTS_FILE, ComplaintsConfig, load_complaints_config
from incidents.regulators import REGULATORS_FILE, RegulatorsFile, load_regulators
from yuqing.categories import CATEGORIES, LEVEL_ORDER
from yuqing.errors import ConfigError
from yuqing.org import Role
from yuqing.yamlfile import load_model

LevelCode = Literal["I", "II", "III", "IV"]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ChineseText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ClockName = Literal["ack", "leadership_notice", "initial_report", "regulator_report"]
LEVEL_COLOURS = ("red", "orange", "yellow", "blue")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


OrgScope = Literal["owning_unit", "intermediate", "branch", "head_office"]
PersonId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class RecipientGroup(_Strict):
    """One group of the reporting chain: the holders of some roles at one place of the org chart, told when an
    incident opens at or rises to the level, and given their own acknowledgement deadline.

    ``scope`` says where, counted from the incident's unit: ``owning_unit`` (the unit itself, e.g. the outlet),
    ``intermediate`` (each unit between it and its branch: sub-branch, city branch), ``branch`` (the owning 分行,
    found by walking up the tree, so a leader at a sub-branch never stands in for the branch's leaders) and
    ``head_office``."""

    key: Key
    label: ChineseText | None = Field(default=None, description="shown on the timeline, e.g. 分行领导")
    scope: OrgScope
    roles: list[Role] = Field(default_factory=list)
    titles: list[ChineseText] = Field(
        default_factory=list, description="only role holders whose title contains one of these (e.g. 分管, 分行行长); "
                                          "when nobody's title matches, every holder of the role there is told")
    people: list[PersonId] = Field(default_factory=list, description="named people (org.yaml ids), told as well")
    ack_minutes: int | None = Field(default=None, gt=0, description="acknowledgement clock; default the level's")
    escalate_to: list[Role] | None = Field(
        default=None, description="who is told when nobody in the group acknowledges by its deadline (the group "
                                  "is reminded too); default: the first step of reminders.escalate_to with someone "
                                  "outside the group; [] reminds the group only")

    @model_validator(mode="after")
    def _someone(self) -> RecipientGroup:
        if not self.roles and not self.people:
            raise ValueError("give roles, people or both (a group naming nobody tells nobody)")
        if self.titles and not self.roles:
            raise ValueError("titles filter role holders; give roles too")
        return self


class LevelPolicy(_Strict):
    """What one level demands: who is told, how fast, and whether an incident opens by itself."""

    code: LevelCode
    name: ChineseText = Field(description="特别重大 / 重大 / 较大 / 一般")
    colour: Literal["red", "orange", "yellow", "blue"]
    ack_minutes: int = Field(gt=0, description="the general office must acknowledge the alert within this")
    leadership_notify_minutes: int | Literal["daily", "weekly"] = Field(
        description="minutes to tell branch leadership, or 'daily'/'weekly' when the routine report suffices")
    leadership_by_phone: bool = Field(default=False, description="leadership must also be phoned (level I)")
    initial_report_minutes: int | None = Field(default=None, gt=0, description="written 初报; none for level IV")
    update_report_minutes: int | None = Field(default=None, gt=0, description="续报 cadence; none for level IV")
    regulator_report_minutes: int | None = Field(default=None, gt=0,
                                                 description="report to the regulator (12 h for major events)")
    auto_open_incident: bool = Field(description="open an incident automatically; false means alert only")
    reporting_chain: list[RecipientGroup] = Field(
        default_factory=list, description="who is told when an incident opens or rises to this level")
    escalate_to: list[Role] | None = Field(
        default=None, min_length=1,
        description="who an unacknowledged alert of this level goes to next, in order (default: escalation_chain)")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        if isinstance(data, dict) and "notify_roles" in data:
            raise ValueError("notify_roles was replaced by reporting_chain (groups of roles per org level, each with "
                             "its own acknowledgement clock); see the shipped config/levels.yaml")
        return data

    @field_validator("reporting_chain")
    @classmethod
    def _unique_groups(cls, v: list[RecipientGroup]) -> list[RecipientGroup]:
        seen: set[str] = set()
        for i, g in enumerate(v):
            if g.key in seen:
                raise ValueError(f"reporting_chain[{i}].key: duplicate group key {g.key!r}")
            seen.add(g.key)
        return v

    def group_ack_minutes(self, group: RecipientGroup) -> int:
        return group.ack_minutes or self.ack_minutes

    @field_validator("leadership_notify_minutes")
    @classmethod
    def _positive(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v <= 0:
            raise ValueError("must be a positive number of minutes, 'daily' or 'weekly'")
        return v


class CalendarOverrides(_Strict):
    """Dates the bundled holiday calendar does not know yet (next year's 国务院 notice), so admins can update it."""

    extra_holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list, description="调休 make-up working days")

    @model_validator(mode="after")
    def _disjoint(self) -> CalendarOverrides:
        both = set(self.extra_holidays) & set(self.extra_workdays)
        if both:
            raise ValueError(f"dates listed as both holiday and workday: {sorted(str(d) for d in both)}")
        return self


HourMinute = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
PositiveMinutes = Annotated[int, Field(gt=0)]


def _every_level(v: dict[str, int]) -> dict[str, int]:
    missing = [code for code in LEVEL_ORDER if code not in v]
    if missing:
        raise ValueError(f"give minutes for every level; missing {', '.join(missing)}")
    return v


class Reminders(_Strict):
    """Reminders before a task or a reporting clock is due, and escalation once it is overdue
    (``incidents.scheduled.run_deadline_notices``).

    The owner is reminded ``before_minutes_by_level`` before the deadline (at most half the item's span before it,
    so a short item is not reminded the moment it is set). Once overdue the owner is told first, then — each
    ``escalate_after_minutes_by_level`` after the previous step — each role of ``escalate_to`` in turn (a role
    whose holders were all told already is skipped). Leaders are the owning branch's leaders whose title contains
    one of ``leader_titles`` (all of them if nobody's does); a level whose alert escalation stops before leaders
    (level IV) stops these before leaders too."""

    before_minutes_by_level: dict[LevelCode, PositiveMinutes] = Field(
        default_factory=lambda: {"I": 10, "II": 30, "III": 120, "IV": 240})
    escalate_after_minutes_by_level: dict[LevelCode, PositiveMinutes] = Field(
        default_factory=lambda: {"I": 15, "II": 30, "III": 120, "IV": 240})
    escalate_to: list[Role] = Field(default_factory=lambda: [Role.commander, Role.leader])
    leader_titles: list[ChineseText] = Field(default_factory=lambda: ["分管"])

    _levels_before = field_validator("before_minutes_by_level")(_every_level)
    _levels_after = field_validator("escalate_after_minutes_by_level")(_every_level)


class QuietHours(_Strict):
    """A nightly quiet period in local time (may cross midnight): reminders and escalations of level III–IV
    incidents and alerts wait until it ends; levels I–II ignore it."""

    start: HourMinute
    end: HourMinute

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are the same time; leave quiet_hours out for none")
        return self

    def ends_after(self, now: datetime, tz: str) -> datetime | None:
        """The end of the quiet period ``now`` falls in (UTC), or None when ``now`` is not in quiet hours."""
        zone = ZoneInfo(tz)
        local = now.astimezone(zone)
        start, end = _hm(self.start), _hm(self.end)
        t = local.time().replace(tzinfo=None)
        # A period that crosses midnight (22:00–07:30) is quiet after its start or before its end.
        quiet = start <= t < end if start < end else (t >= start or t < end)
        if not quiet:
            return None
        day = local.date() if t < end else local.date() + timedelta(days=1)
        return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


QUIET_HOURS_LEVELS = ("III", "IV")  # levels I–II ignore quiet hours


def _hm(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


class LevelsFile(_Strict):
    """The content of ``config/levels.yaml``."""

    timezone: str = "Asia/Shanghai"
    levels: list[LevelPolicy] = Field(min_length=4, max_length=4)
    final_report_minutes_after_close: int = Field(default=24 * 60, gt=0, description="终报 after closing")
    review_working_days: int = Field(default=5, gt=0, description="复盘 after closing, in working days")
    daily_report_time: HourMinute = "09:00"
    due_soon_fraction: float = Field(default=0.25, gt=0, lt=1,
                                     description="a clock is 'due soon' in the last fraction of its span")
    escalation_chain: list[Role] = Field(default_factory=lambda: [Role.monitor, Role.commander, Role.leader],
                                         min_length=1)
    calendar: CalendarOverrides = Field(default_factory=CalendarOverrides)
    reminders: Reminders = Field(default_factory=Reminders)
    quiet_hours: QuietHours | None = Field(default=None, description="local quiet period for levels III–IV")

    @field_validator("levels")
    @classmethod
    def _all_levels_once(cls, v: list[LevelPolicy]) -> list[LevelPolicy]:
        codes = [lv.code for lv in v]
        if sorted(codes, key=LEVEL_ORDER.index) != list(LEVEL_ORDER):
            raise ValueError(f"must define each of I, II, III, IV exactly once (got {codes})")
        return v

    @model_validator(mode="after")
    def _level_iv_reaches_no_leader(self) -> LevelsFile:
        # A level IV alert is often a false positive: it must never page a branch leader, neither when it is
        # raised nor after hours unacknowledged.
        i = next(i for i, lv in enumerate(self.levels) if lv.code == "IV")
        lv = self.levels[i]
        for j, g in enumerate(lv.reporting_chain):
            if Role.leader in g.roles:
                raise ValueError(f"levels[{i}].reporting_chain[{j}].roles: level IV reaches no leader directly")
        if Role.leader in (lv.escalate_to or self.escalation_chain):
            field = f"levels[{i}].escalate_to" if lv.escalate_to else f"levels[{i}].escalate_to (missing; " \
                                                                      "escalation_chain applies)"
            raise ValueError(f"{field}: a level IV alert may not escalate to leaders; stop the chain before them")
        for j, g in enumerate(lv.reporting_chain):
            if g.escalate_to and Role.leader in g.escalate_to:
                raise ValueError(f"levels[{i}].reporting_chain[{j}].escalate_to: level IV reaches no leader, "
                                 "not even when a group misses its deadline")
        return self

    def overdue_roles(self, code: str) -> list[Role]:
        """Who an overdue item of level ``code`` goes to after its owner, in order: ``reminders.escalate_to``
        without leaders at a level whose alerts never reach a leader (level IV)."""
        reach_leaders = Role.leader in self.escalation_roles(code)
        return [r for r in self.reminders.escalate_to if r != Role.leader or reach_leaders]

    def quiet_until(self, level: str, now: datetime) -> datetime | None:
        """When a reminder or escalation at ``level`` held back by quiet hours may go; None when it may go now."""
        if self.quiet_hours is None or level not in QUIET_HOURS_LEVELS:
            return None
        return self.quiet_hours.ends_after(now, self.timezone)

    def escalation_roles(self, code: str) -> list[Role]:
        """The escalation chain of an alert at level ``code``."""
        lv = next(lv for lv in self.levels if lv.code == code)
        return list(lv.escalate_to or self.escalation_chain)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(v)
        except Exception as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


class PlaybookStep(_Strict):
    """One checklist step: what, who (a role resolved against the org chart), and by when."""

    key: Key
    title: ChineseText
    owner_role: Role
    due_minutes: int | None = Field(default=None, gt=0, description="minutes after the incident opens")
    due_minutes_by_level: dict[LevelCode, Annotated[int, Field(gt=0)]] = Field(default_factory=dict)
    working_days: int | None = Field(default=None, gt=0, description="Chinese working days after opening")
    working_days_by_level: dict[LevelCode, Annotated[int, Field(gt=0)]] = Field(default_factory=dict)
    due_clock: ClockName | None = Field(default=None, description="take the deadline from the level's clock")
    min_level: LevelCode = Field(default="IV", description="only from this level up (I is the highest)")
    due_from: Literal["planned", "first_published"] = Field(
        default="planned", description="count the deadline from when the step is planned (the opening, a level rise "
                                       "or another playbook joining), or from the first post's publication "
                                       "(complaint time limits; the opening when that time is unknown)")

    @model_validator(mode="after")
    def _one_kind_of_deadline(self) -> PlaybookStep:
        kinds = [bool(self.due_minutes or self.due_minutes_by_level),
                 bool(self.working_days or self.working_days_by_level), self.due_clock is not None]
        if sum(kinds) > 1:
            raise ValueError("give only one of due_minutes(_by_level), working_days(_by_level) or due_clock")
        return self

    def applies_at(self, level: str) -> bool:
        return LEVEL_ORDER.index(level) <= LEVEL_ORDER.index(self.min_level)


ChannelName = Literal["news", "social", "complaint", "regulator", "trending"]


class PlaybookRule(_Strict):
    """When a playbook applies; an empty list means 'any'. Every matching playbook applies (incidents.playbooks
    merges them); where two have the same step, ``priority`` decides whose owner it keeps."""

    categories: list[str] = Field(default_factory=list)
    levels: list[LevelCode] = Field(default_factory=list)
    channels: list[ChannelName] = Field(default_factory=list)
    any_category_on: list[ChannelName] = Field(
        default_factory=list, description="on these channels the playbook applies whatever the category "
                                          "(e.g. anything on a complaint platform is a complaint)")
    priority: int = 0

    @field_validator("categories")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [c for c in v if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown category codes {unknown}; known: {sorted(CATEGORIES)}")
        return v

    def matches(self, *, category: str, level: str, channels: Iterable[str]) -> bool:
        channels = set(channels)
        if self.categories and category not in self.categories and not set(self.any_category_on) & channels:
            return False
        if self.levels and level not in self.levels:
            return False
        return not (self.channels and not set(self.channels) & set(channels))


class Playbook(_Strict):
    """A checklist template (应急预案 → 处置清单)."""

    id: Key
    name: ChineseText
    description: str = ""
    applies_to: PlaybookRule = Field(default_factory=PlaybookRule)
    steps: list[PlaybookStep] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _unique_keys(cls, v: list[PlaybookStep]) -> list[PlaybookStep]:
        seen: set[str] = set()
        for i, s in enumerate(v):
            if s.key in seen:
                raise ValueError(f"steps[{i}].key: duplicate step key {s.key!r}")
            seen.add(s.key)
        return v

    def steps_for(self, level: str) -> list[PlaybookStep]:
        return [s for s in self.steps if s.applies_at(level)]


class InAppChannel(_Strict):
    enabled: Literal[True] = True


EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


def check_http_url(value: str, *, templated: bool = False) -> str:
    """An admin-configured endpoint: absolute http(s), a host, no credentials in the URL.

    Delivery endpoints are internal or vendor hosts an admin chose, so they are not put through the crawler's
    public-address (SSRF) rules; but a typo such as ``file:`` or ``ftp:`` must fail at start, and credentials
    belong in environment variables, not in a file that is copied around.
    """
    from urllib.parse import urlsplit

    probe = value.replace("{phone}", "0").replace("{text}", "x") if templated else value
    try:
        parts = urlsplit(probe)
        parts.port  # noqa: B018 — raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL (got scheme {parts.scheme!r})")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username or parts.password:
        raise ValueError("credentials may not be written into the URL; use an environment variable")
    return value


class EmailChannel(_Strict):
    enabled: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    from_address: str = "yuqing@localhost"
    from_name: str = "舆情应急系统"
    starttls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password_env: str | None = Field(default=None, description="name of the environment variable with the password")
    timeout_seconds: float = Field(default=15, gt=0)


class RobotChannel(_Strict):
    """A group-chat robot (WeCom / DingTalk / Feishu). Its webhook URL carries the robot's token, so the URL itself
    is a secret: the file names the environment variable that holds it, never the URL."""

    enabled: bool = False
    url_env: EnvName | None = Field(default=None, description="environment variable holding the robot's webhook URL")
    secret_env: EnvName | None = Field(default=None, description="environment variable with the signing secret")
    timeout_seconds: float = Field(default=10, gt=0, le=120)

    @model_validator(mode="after")
    def _url_when_enabled(self) -> RobotChannel:
        if self.enabled and not self.url_env:
            raise ValueError("url_env is required when the channel is enabled")
        return self


class WebhookChannel(_Strict):
    """A generic JSON webhook, signed with HMAC-SHA256 over ``timestamp + "." + body``."""

    enabled: bool = False
    url: str | None = None
    secret_env: EnvName | None = Field(default=None, description="environment variable with the HMAC secret")
    signature_header: str = "X-Yuqing-Signature"
    timestamp_header: str = "X-Yuqing-Timestamp"
    timeout_seconds: float = Field(default=10, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else check_http_url(v)

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> WebhookChannel:
        if self.enabled and (not self.url or not self.secret_env):
            raise ValueError("url and secret_env are required when the webhook is enabled")
        return self


class SmsChannel(_Strict):
    """SMS through the bank's HTTP gateway. ``url`` and the values of ``json_body`` may contain ``{phone}`` and
    ``{text}`` (URL-encoded in the URL, plain in the JSON body)."""

    enabled: bool = False
    url: str | None = None
    method: Literal["POST", "GET"] = "POST"
    json_body: dict[str, str] = Field(default_factory=lambda: {"mobile": "{phone}", "content": "{text}"})
    auth_header: str | None = Field(default="Authorization", description="header that carries the credential")
    auth_scheme: str = Field(default="Bearer", description="prefix before the credential ('' for none)")
    auth_env: EnvName | None = Field(default=None, description="environment variable with the credential")
    success_field: str | None = Field(default=None, description="JSON field of the answer that says success")
    success_value: str = "0"
    max_chars: int = Field(default=300, ge=20, le=2000)
    timeout_seconds: float = Field(default=10, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else check_http_url(v, templated=True)

    @model_validator(mode="after")
    def _url_when_enabled(self) -> SmsChannel:
        if self.enabled and not self.url:
            raise ValueError("url is required when SMS is enabled")
        return self


class PhoneChannel(_Strict):
    """Levels with ``leadership_by_phone`` give the duty officer a phone-call task (number, whom to call, and a
    "called, confirmed" action). Nobody is called automatically: the call and its confirmation are a person's acts."""

    enabled: bool = True


class LinkSettings(_Strict):
    """Links in messages: the dashboard address people open from mail and chat, and one-click acknowledgement."""

    base_url: str | None = Field(default=None, description="e.g. https://yuqing.jc.bank.internal; default: the API "
                                                           "host and port of this process")
    ack_expiry_hours: int = Field(default=24, ge=1, le=168)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else check_http_url(v).rstrip("/")


class Channels(_Strict):
    """Every channel the outbox can deliver on; each has a sender in ``incidents.notify.default_senders``."""

    in_app: InAppChannel = Field(default_factory=InAppChannel)
    email: EmailChannel = Field(default_factory=EmailChannel)
    wecom: RobotChannel = Field(default_factory=RobotChannel)
    dingtalk: RobotChannel = Field(default_factory=RobotChannel)
    feishu: RobotChannel = Field(default_factory=RobotChannel)
    webhook: WebhookChannel = Field(default_factory=WebhookChannel)
    sms: SmsChannel = Field(default_factory=SmsChannel)
    phone: PhoneChannel = Field(default_factory=PhoneChannel)


GROUP_CHANNELS = ("wecom", "dingtalk", "feishu")


class RetryPolicy(_Strict):
    """``delivery:`` in channels.yaml: retries with backoff, and how one delivery round is isolated per channel
    (``incidents.notify.deliver_pending``): each channel runs on its own with at most ``concurrency_per_channel``
    sends in flight, the whole round stops after ``round_budget_seconds`` (unsent messages stay pending), and a
    channel that failed or timed out ``breaker_failures`` times in a row is skipped for ``breaker_cooldown_seconds``
    (its messages wait; the other channels are not affected)."""

    max_attempts: int = Field(default=5, ge=1)
    backoff_seconds: list[Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: [60, 300, 900, 3600],
                                                                min_length=1)
    concurrency_per_channel: int = Field(default=4, ge=1, le=64)
    round_budget_seconds: float = Field(default=30, gt=0, le=600)
    breaker_failures: int = Field(default=3, ge=1, le=100)
    breaker_cooldown_seconds: float = Field(default=300, gt=0, le=86400)

    def delay_after(self, attempts: int) -> int:
        """Seconds to wait after the ``attempts``-th failed attempt (1-based)."""
        return self.backoff_seconds[min(attempts, len(self.backoff_seconds)) - 1]


class ChannelsFile(_Strict):
    """The content of ``config/channels.yaml``."""

    channels: Channels = Field(default_factory=Channels)
    delivery: RetryPolicy = Field(default_factory=RetryPolicy)
    links: LinkSettings = Field(default_factory=LinkSettings)

    @model_validator(mode="after")
    def _sends_fit_the_round(self) -> ChannelsFile:
        """A single send that may take longer than a whole delivery round could never finish inside it."""
        budget = self.delivery.round_budget_seconds
        for name in Channels.model_fields:
            channel = getattr(self.channels, name)
            timeout = getattr(channel, "timeout_seconds", None)
            if channel.enabled and timeout is not None and timeout > budget:
                raise ValueError(f"channels.{name}.timeout_seconds ({timeout:g}) is longer than "
                                 f"delivery.round_budget_seconds ({budget:g})")
        return self

    def person_channels(self, *, has_email: bool, has_phone: bool = False) -> list[str]:
        """Channels one person is reached on: in-app always; email and SMS when enabled and the person has an
        address / a mobile number; every enabled group robot and webhook (the person is @-mentioned there).
        The phone channel is not listed: a phone-call task depends on the level (``leadership_by_phone``)."""
        c = self.channels
        out = ["in_app"]
        if c.email.enabled and has_email:
            out.append("email")
        if c.sms.enabled and has_phone:
            out.append("sms")
        out += [name for name in (*GROUP_CHANNELS, "webhook") if getattr(c, name).enabled]
        return out


class Policy(BaseModel):
    """Everything incident response is configured by, loaded once and passed around."""

    model_config = ConfigDict(frozen=True)

    levels_file: LevelsFile
    playbooks: dict[str, Playbook]
    channels: ChannelsFile = Field(default_factory=ChannelsFile)
    regulators: RegulatorsFile | None = Field(default=None, description="regulators.yaml; None when absent")
    complaints: ComplaintsConfig = Field(default_factory=ComplaintsConfig,
                                         description="complaints.yaml beside levels.yaml; its defaults when absent")

    def level(self, code: str) -> LevelPolicy:
        for lv in self.levels_file.levels:
            if lv.code == code:
                return lv
        raise KeyError(code)

    @property
    def timezone(self) -> str:
        return self.levels_file.timezone

    def choose_playbook(self, *, category: str, level: str, channels: Iterable[str] = ()) -> Playbook:
        """The matching playbook with the highest priority (ties: file name order): the incident's first one.
        ``incidents.playbooks`` applies every matching playbook."""
        chans = list(channels)
        matching = [p for p in self.playbooks.values()
                    if p.applies_to.matches(category=category, level=level, channels=chans)]
        if not matching:
            raise LookupError(f"no playbook applies to category={category} level={level}")
        return max(matching, key=lambda p: p.applies_to.priority)


def load_policy(levels_path: Path | str, checklists_dir: Path | str,
                channels_path: Path | str | None = None, regulators_path: Path | str | None = None) -> Policy:
    """Load levels, every ``*.yaml`` playbook, the channels file and the regulators file (default: ``channels.yaml``
    and ``regulators.yaml`` beside levels; either may be absent there)."""
    levels = load_model(levels_path, LevelsFile)
    cdir = Path(checklists_dir)
    files = sorted(cdir.glob("*.yaml")) if cdir.is_dir() else []
    if not files:
        raise ConfigError(cdir, [("", "no checklist templates (*.yaml) found")])
    playbooks: dict[str, Playbook] = {}
    for f in files:
        pb = load_model(f, Playbook)
        if pb.id in playbooks:
            raise ConfigError(f, [("id", f"playbook id {pb.id!r} is already used by another file")])
        playbooks[pb.id] = pb
    if not any(not p.applies_to.categories and not p.applies_to.levels and not p.applies_to.channels
               for p in playbooks.values()):
        raise ConfigError(cdir, [("applies_to", "one playbook must apply to everything (a generic fallback)")])
    cpath = Path(channels_path) if channels_path is not None else Path(levels_path).parent / "channels.yaml"
    missing_default = channels_path is None and not cpath.exists()
    channels = ChannelsFile() if missing_default else load_model(cpath, ChannelsFile)
    rpath = Path(regulators_path) if regulators_path is not None else Path(levels_path).parent / REGULATORS_FILE
    regulators = None if regulators_path is None and not rpath.exists() else load_regulators(rpath)
    complaints = load_complaints_config(Path(levels_path).parent / COMPLAINTS_FILE)
    return Policy(levels_file=levels, playbooks=playbooks, channels=channels, regulators=regulators,
                  complaints=complaints)
