"""``config/complaints.yaml``: the complaint time limits, who sees customer details, and the 考核 goals.

Limits differ between banks and change with the rules, so none live in code. Validation errors name the file and
the field (``yuqing.yamlfile.load_model``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from incidents.complaints.models import Severity
from yuqing.org import Role
from yuqing.yamlfile import load_model

COMPLAINTS_FILE = "complaints.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResolveRule(_Strict):
    """One severity's resolution limit: either working days (same local time on the N-th working day after the day
    of receipt) or clock hours."""

    working_days: int | None = Field(default=None, ge=1, le=60)
    hours: int | None = Field(default=None, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _exactly_one(self) -> ResolveRule:
        if (self.working_days is None) == (self.hours is None):
            raise ValueError("give exactly one of working_days or hours")
        return self


class Goals(_Strict):
    """The 考核 targets shown beside the statistics (they are goals, never used to compute a figure)."""

    average_resolution_days: float = Field(default=7, gt=0)
    satisfaction_rate: float = Field(default=0.8, ge=0, le=1)
    satisfaction_baseline: float = Field(default=0.65, ge=0, le=1)
    quarterly_change: float = Field(default=-0.1, ge=-1, le=1, description="-0.10: ten per cent fewer a quarter")


class ComplaintReminders(_Strict):
    """Reminders before a complaint clock is due and escalation once it is overdue (the same shape as the incident
    tasks' ``reminders`` in levels.yaml; ``incidents.complaints.scheduled``).

    The owner (the assignee, else the 首问 owner) is reminded ``before_minutes[clock]`` before the deadline (at most
    half the clock's span before it). Once overdue the owner is told, then — each
    ``escalate_after_minutes_by_severity`` after the previous step — each role of ``escalate_to`` for the handling
    unit: its nearest commander, then the branch's leaders whose title holds one of ``leader_titles``. A 紧急
    complaint with a preliminary solution is followed up every ``urgent_follow_up_hours`` until resolved. Severities
    in ``quiet_severities`` wait for the end of the quiet hours of levels.yaml (deferred, never dropped)."""

    before_minutes: dict[str, int] = Field(default_factory=lambda: {"entry": 240, "contact": 480, "resolve": 480,
                                                                    "reply": 1440})
    escalate_after_minutes_by_severity: dict[Severity, int] = Field(default_factory=lambda: {
        Severity.general: 240, Severity.important: 120, Severity.urgent: 60})
    escalate_to: list[Role] = Field(default_factory=lambda: [Role.commander, Role.leader])
    leader_titles: list[str] = Field(default_factory=lambda: ["分管"])
    quiet_severities: list[Severity] = Field(default_factory=lambda: [Severity.general])
    urgent_follow_up_hours: int = Field(default=8, ge=1, le=24 * 7)

    @field_validator("before_minutes")
    @classmethod
    def _known_clocks(cls, v: dict[str, int]) -> dict[str, int]:
        unknown = [k for k in v if k not in ("entry", "contact", "resolve", "reply")]
        if unknown or any(m < 1 for m in v.values()):
            raise ValueError("keys must be entry, contact, resolve or reply, each a positive number of minutes")
        return v


class ComplaintsConfig(_Strict):
    entry_hours: int = Field(default=24, ge=1, le=24 * 7)
    contact_hours: int = Field(default=48, ge=1, le=24 * 14)
    resolve: dict[Severity, ResolveRule] = Field(default_factory=lambda: {
        Severity.general: ResolveRule(working_days=3), Severity.important: ResolveRule(working_days=5),
        Severity.urgent: ResolveRule(hours=24)})
    reply_days: int = Field(default=15, ge=1, le=60)
    reply_extension_days: list[int] = Field(default_factory=lambda: [30, 60])
    full_details_roles: list[Role] = Field(default_factory=lambda: [Role.commander, Role.leader, Role.admin])
    leadership_severities: list[Severity] = Field(default_factory=lambda: [Severity.important, Severity.urgent])
    max_attachment_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024)
    repeat_window_days: int = Field(default=90, ge=1, le=3650)
    goals: Goals = Field(default_factory=Goals)
    reminders: ComplaintReminders = Field(default_factory=ComplaintReminders)
    # the media side: the level of an incident raised from a complaint, what a complaint-board post becomes, and
    # the level of the alert an outlet's "a journalist is asking" report opens
    incident_levels: dict[Severity, Literal["I", "II", "III", "IV"]] = Field(default_factory=lambda: {
        Severity.general: "IV", Severity.important: "III", Severity.urgent: "II"})
    board_post_severity: Severity = Severity.general
    media_report_level: Literal["I", "II", "III", "IV"] = "II"

    @field_validator("resolve")
    @classmethod
    def _every_severity(cls, v: dict[Severity, ResolveRule]) -> dict[Severity, ResolveRule]:
        missing = [s.value for s in Severity if s not in v]
        if missing:
            raise ValueError(f"a limit is needed for every severity; missing: {', '.join(missing)}")
        return v

    @model_validator(mode="after")
    def _extensions_grow(self) -> ComplaintsConfig:
        prev = self.reply_days
        for days in self.reply_extension_days:
            if days <= prev:
                raise ValueError("reply_extension_days must each be longer than the one before (and than reply_days)")
            prev = days
        return self

    def reply_limits(self) -> list[int]:
        """Every allowed reply limit in days, the normal one first: [15, 30, 60]."""
        return [self.reply_days, *self.reply_extension_days]


def load_complaints_config(path: Path | str) -> ComplaintsConfig:
    """The file at ``path``; the defaults above when it does not exist (a bank that has not configured it yet)."""
    p = Path(path)
    if not p.exists():
        return ComplaintsConfig()
    return load_model(p, ComplaintsConfig)
