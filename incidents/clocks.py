"""Reporting clocks: every deadline an incident is under, computed from its level policy and its history.

A clock is pure data: the deadline, whether it was met, and its status at a given moment (ok, due soon, overdue,
done, stopped — closing the case stops every clock still running; 终报 and 复盘 then start). The dashboard
colours them, escalation and reminders read them, and tests check them without a database.

When a level rises, each clock takes the *earlier* of the deadline it already had and the new level's deadline
counted from the moment of the rise: an incident raised from III to I at 15:00 owes its 初报 by 16:00, not
tomorrow. Lowering a level by hand does not push deadlines already incurred back out.

Most clocks follow from the level. The 人民银行 report (``pboc_report``) follows from the checklist: it runs while
the incident has that step (a run or crowds at outlets — the 挤兑 playbook plans it) with the step's deadline, and
stops at the first report recorded (``incidents.regulators``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from incidents.policy import LevelPolicy, PlaybookStep, Policy
from incidents.workdays import WorkingCalendar, add_working_days, calendar_from_overrides

__all__ = ["CLOCK_LABELS", "IncidentFacts", "ReportingClock", "add_working_days", "clock_due", "clock_status",
           "compute_clocks", "policy_calendar", "step_due_at"]

CLOCK_LABELS = {
    "ack": "确认预警",
    "leadership_notice": "报告分行领导",
    "initial_report": "书面初报",
    "update_report": "续报",
    "regulator_report": "报告监管部门",
    "pboc_report": "报告人民银行",
    "final_report": "终报",
    "review": "复盘",
}
REPORT_KINDS = ("leadership_notice", "initial_report", "update_report", "regulator_report", "pboc_report",
                "final_report", "review")
STEP_CLOCKS = ("pboc_report",)  # clocks whose deadline is their checklist step's (the task's due)


@dataclass(frozen=True)
class ReportingClock:
    """One deadline of one incident, as seen at ``now``."""

    key: str
    label: str
    started_at: datetime
    due_at: datetime
    done_at: datetime | None
    status: str  # ok | due_soon | overdue | done | stopped
    stopped_at: datetime | None = None  # the closing that stopped it unmet

    @property
    def is_open(self) -> bool:
        return self.status not in ("done", "stopped")

    @property
    def missed(self) -> bool:
        """Stopped by the closing after its deadline had already passed."""
        return self.stopped_at is not None and self.stopped_at > self.due_at


@dataclass(frozen=True)
class IncidentFacts:
    """What the clocks need to know about an incident, as plain values."""

    opened_at: datetime
    level_history: Sequence[tuple[str, datetime]]  # (level, since), oldest first; the last one is current
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    reports: Mapping[str, Sequence[datetime]] = field(default_factory=dict)  # kind -> times filed
    step_deadlines: Mapping[str, datetime] = field(default_factory=dict)  # STEP_CLOCKS key -> its task's due
    merged: bool = False  # merged into another case (incidents.merge): closed, and 终报 / 复盘 are the other's

    @property
    def level(self) -> str:
        return self.level_history[-1][0]


def clock_status(started_at: datetime, due_at: datetime, done_at: datetime | None, now: datetime,
                 due_soon_fraction: float) -> str:
    """done if met; overdue past the deadline; due_soon in the last fraction of the span; ok otherwise."""
    if done_at is not None:
        return "done"
    if now > due_at:
        return "overdue"
    span = (due_at - started_at).total_seconds()
    remaining = (due_at - now).total_seconds()
    if remaining <= max(60.0, span * due_soon_fraction):
        return "due_soon"
    return "ok"


def clock_due(level: LevelPolicy, name: str, start: datetime, *, daily_report_time: str = "09:00",
              tz: str = "Asia/Shanghai") -> datetime | None:
    """The deadline of clock ``name`` for an incident that reached ``level`` at ``start``; None if not required."""
    if name == "ack":
        return start + timedelta(minutes=level.ack_minutes)
    if name == "leadership_notice":
        lead = level.leadership_notify_minutes
        if isinstance(lead, int):
            return start + timedelta(minutes=lead)
        return _next_report_time(start, daily_report_time, tz, weekly=(lead == "weekly"))
    if name == "initial_report":
        return start + timedelta(minutes=level.initial_report_minutes) if level.initial_report_minutes else None
    if name == "regulator_report":
        return start + timedelta(minutes=level.regulator_report_minutes) if level.regulator_report_minutes else None
    raise ValueError(f"unknown clock {name!r}")


def step_due_at(step: PlaybookStep, *, level: str, start: datetime, policy: Policy,
                calendar: WorkingCalendar | None = None) -> datetime | None:
    """The deadline of a checklist step for an incident at ``level`` counted from ``start``; None if it has none."""
    lf = policy.levels_file
    if step.due_clock is not None:
        return clock_due(policy.level(level), step.due_clock, start, daily_report_time=lf.daily_report_time,
                         tz=lf.timezone)
    minutes = step.due_minutes_by_level.get(level, step.due_minutes)  # type: ignore[call-overload]
    if minutes:
        return start + timedelta(minutes=minutes)
    days = step.working_days_by_level.get(level, step.working_days)  # type: ignore[call-overload]
    if days:
        return add_working_days(start, days, lf.timezone, calendar=calendar or policy_calendar(policy))
    return None


def compute_clocks(facts: IncidentFacts, *, policy: Policy, now: datetime,
                   calendar: WorkingCalendar | None = None) -> list[ReportingClock]:
    """Every clock that applies to the incident, in a stable order (ack … review)."""
    lf = policy.levels_file
    frac = lf.due_soon_fraction
    out: list[ReportingClock] = []

    def first(kind: str, after: datetime | None = None) -> datetime | None:
        times = sorted(t for t in facts.reports.get(kind, ()) if after is None or t >= after)
        return times[0] if times else None

    done_by_clock = {
        "ack": facts.acknowledged_at,
        "leadership_notice": first("leadership_notice"),
        "initial_report": first("initial_report"),
        "regulator_report": first("regulator_report"),
    }
    for name in ("ack", "leadership_notice", "initial_report", "regulator_report"):
        best: tuple[datetime, datetime] | None = None  # (due, started)
        for lvl, since in facts.level_history:
            due = clock_due(policy.level(lvl), name, since, daily_report_time=lf.daily_report_time,
                            tz=lf.timezone)
            if due is not None and (best is None or due < best[0]):
                best = (due, since)
        if best is None:
            continue
        done = done_by_clock[name]
        if done is None and facts.closed_at is not None:
            out.append(ReportingClock(name, CLOCK_LABELS[name], best[1], best[0], None, "stopped", facts.closed_at))
            continue
        out.append(ReportingClock(name, CLOCK_LABELS[name], best[1], best[0], done,
                                  clock_status(best[1], best[0], done, now, frac)))

    for name, due in sorted(facts.step_deadlines.items()):
        span = _step_span(policy, name, facts.level)
        started = due - span if span is not None else facts.opened_at
        done = first(name)
        if done is None and facts.closed_at is not None:
            out.append(ReportingClock(name, CLOCK_LABELS[name], started, due, None, "stopped", facts.closed_at))
            continue
        out.append(ReportingClock(name, CLOCK_LABELS[name], started, due, done,
                                  clock_status(started, due, done, now, frac)))

    current = policy.level(facts.level)
    if facts.closed_at is None and current.update_report_minutes:  # 续报 at the level's cadence until closing
        filed = sorted([*facts.reports.get("initial_report", ()), *facts.reports.get("update_report", ())])
        initial = next((c for c in out if c.key == "initial_report"), None)
        anchor = filed[-1] if filed else (initial.due_at if initial else facts.level_history[-1][1])
        due = anchor + timedelta(minutes=current.update_report_minutes)
        out.append(ReportingClock("update_report", CLOCK_LABELS["update_report"], anchor, due, None,
                                  clock_status(anchor, due, None, now, frac)))

    if facts.closed_at is not None and not facts.merged:
        closed = facts.closed_at
        due = closed + timedelta(minutes=lf.final_report_minutes_after_close)
        done = first("final_report", closed)
        out.append(ReportingClock("final_report", CLOCK_LABELS["final_report"], closed, due, done,
                                  clock_status(closed, due, done, now, frac)))
        due = add_working_days(closed, lf.review_working_days, lf.timezone,
                               calendar=calendar or policy_calendar(policy))
        done = first("review", closed)
        out.append(ReportingClock("review", CLOCK_LABELS["review"], closed, due, done,
                                  clock_status(closed, due, done, now, frac)))
    return out


def _step_span(policy: Policy, key: str, level: str) -> timedelta | None:
    """How long the strictest minutes-deadline step ``key`` gives at ``level`` (None: no such step, or it counts
    working days, whose span depends on the calendar)."""
    ref = datetime(2000, 1, 3, tzinfo=ZoneInfo("UTC"))
    steps = [s for pb in policy.playbooks.values() for s in pb.steps
             if s.key == key and s.applies_at(level) and not (s.working_days or s.working_days_by_level)]
    dues = [step_due_at(s, level=level, start=ref, policy=policy) for s in steps]
    spans = [due - ref for due in dues if due is not None]
    return min(spans) if spans else None


def policy_calendar(policy: Policy) -> WorkingCalendar:
    """The working calendar with the admin's overrides from ``levels.yaml``."""
    cal = policy.levels_file.calendar
    return calendar_from_overrides(cal.extra_holidays, cal.extra_workdays)


def _next_report_time(start: datetime, hhmm: str, tz: str, *, weekly: bool) -> datetime:
    """The first daily (or Monday, for weekly) report moment strictly after ``start``, in local time."""
    zone = ZoneInfo(tz)
    local = start.astimezone(zone)
    hh, mm = (int(x) for x in hhmm.split(":"))
    candidate = datetime.combine(local.date(), time(hh, mm), tzinfo=zone)
    while candidate <= local or (weekly and candidate.weekday() != 0):
        candidate += timedelta(days=1)
    return candidate.astimezone(ZoneInfo("UTC"))
