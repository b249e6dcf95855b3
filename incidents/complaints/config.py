"""``config/complaints.yaml``: the complaint time limits, who sees customer details, and the 考核 goals.

Limits differ between banks and change with the rules, so none live in code. Validation errors name the file and
the field (``yuqing.yamlfile.load_model``).
"""

from __future__ import annotations

from pathlib import Path

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
