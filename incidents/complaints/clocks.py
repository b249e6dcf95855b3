"""The complaint clocks, counted from receipt: pure functions of the record's times and the configured limits.

Four clocks, one key each (the CLI and API print them under these keys):

* ``entry`` — recorded in the system within ``entry_hours`` (24 h) of receipt; met by ``entered_at``;
* ``contact`` — the customer contacted within ``contact_hours`` (48 h); met by ``contacted_at``;
* ``resolve`` — 一般 within 3 working days, 重要 within 5 (the same local time on the N-th working day after the
  day of receipt, on the holiday calendar with 调休 make-up days); 紧急: a preliminary solution within 24 h, met
  by ``preliminary_at`` (the complaint is then followed until solved: the reply clock keeps running); the others
  are met by ``resolved_at``;
* ``reply`` — the answer to the customer (答复) within ``reply_limit_days`` (15, extendable to 30 or 60) of
  ``reply_base_at`` (receipt, or the last time the customer brought new facts); met by ``proposed_at``.

A clock is *met* (done by its due), *late* (done after it), *running* (not done, not yet due) or *overdue*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from incidents.complaints.config import ComplaintsConfig
from incidents.complaints.models import Severity
from incidents.workdays import WorkingCalendar, add_working_days
from yuqing.clock import ensure_utc

CLOCK_KEYS: tuple[str, ...] = ("entry", "contact", "resolve", "reply")
CLOCK_LABELS: dict[str, str] = {"entry": "录入", "contact": "联系客户", "resolve": "办结", "reply": "答复客户"}
URGENT_RESOLVE_LABEL = "初步解决方案"


class ClockState(StrEnum):
    met = "met"
    late = "late"
    running = "running"
    overdue = "overdue"


CLOCK_STATE_LABELS: dict[str, str] = {ClockState.met: "按时完成", ClockState.late: "超时完成",
                                      ClockState.running: "进行中", ClockState.overdue: "已超时"}


class ComplaintTimes(Protocol):
    """What the clocks read from a complaint (a ``Complaint`` row has all of it)."""

    severity: str
    received_at: datetime
    entered_at: datetime
    contacted_at: datetime | None
    preliminary_at: datetime | None
    resolved_at: datetime | None
    proposed_at: datetime | None
    reply_base_at: datetime
    reply_limit_days: int


@dataclass(frozen=True)
class ComplaintClock:
    key: str
    label: str
    due: datetime  # UTC
    done_at: datetime | None

    def state(self, now: datetime) -> ClockState:
        if self.done_at is not None:
            return ClockState.met if ensure_utc(self.done_at) <= self.due else ClockState.late
        return ClockState.running if ensure_utc(now) <= self.due else ClockState.overdue


# deadlines() results by their arguments, the configuration and calendar objects kept with them (so their ids are
# not reused while cached): the scheduled round asks for every open complaint's deadlines on every round, and they
# only change with the complaint's times or the configuration.
_DEADLINES: dict[tuple, tuple[object, object, dict[str, datetime]]] = {}
_DEADLINES_MAX = 50_000


def deadlines(received_at: datetime, severity: str, cfg: ComplaintsConfig, *, tz: str | ZoneInfo,
              calendar: WorkingCalendar | None = None, reply_base_at: datetime | None = None,
              reply_limit_days: int | None = None) -> dict[str, datetime]:
    """The four deadlines (UTC) of a complaint received at ``received_at`` (timezone-aware); a copy of the
    remembered answer when the same arguments were asked before."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    key = (received_at, severity, id(cfg), str(tz), id(calendar), reply_base_at, reply_limit_days)
    hit = _DEADLINES.get(key)
    if hit is not None and hit[0] is cfg and hit[1] is calendar:
        return dict(hit[2])
    out = _deadlines(received_at, severity, cfg, tz=tz, calendar=calendar, reply_base_at=reply_base_at,
                     reply_limit_days=reply_limit_days)
    if len(_DEADLINES) >= _DEADLINES_MAX:
        _DEADLINES.clear()
    _DEADLINES[key] = (cfg, calendar, dict(out))
    return out


def _deadlines(received_at: datetime, severity: str, cfg: ComplaintsConfig, *, tz: str | ZoneInfo,
               calendar: WorkingCalendar | None, reply_base_at: datetime | None,
               reply_limit_days: int | None) -> dict[str, datetime]:
    received = ensure_utc(received_at)
    rule = cfg.resolve[Severity(severity)]
    if rule.working_days is not None:
        resolve = add_working_days(received, rule.working_days, tz, calendar=calendar)
    else:
        resolve = received + timedelta(hours=rule.hours or 0)
    base = ensure_utc(reply_base_at) if reply_base_at is not None else received
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    # "within N days": the same local time N calendar days later (computed locally so a DST zone stays right).
    reply_local = base.astimezone(zone) + timedelta(days=reply_limit_days or cfg.reply_days)
    return {
        "entry": received + timedelta(hours=cfg.entry_hours),
        "contact": received + timedelta(hours=cfg.contact_hours),
        "resolve": resolve,
        "reply": ensure_utc(reply_local.replace(tzinfo=zone)),
    }


def clocks(c: ComplaintTimes, cfg: ComplaintsConfig, *, tz: str | ZoneInfo,
           calendar: WorkingCalendar | None = None) -> list[ComplaintClock]:
    """The complaint's clocks with what met each, in ``CLOCK_KEYS`` order."""
    due = deadlines(c.received_at, c.severity, cfg, tz=tz, calendar=calendar, reply_base_at=c.reply_base_at,
                    reply_limit_days=c.reply_limit_days)
    urgent = c.severity == Severity.urgent
    done = {"entry": c.entered_at, "contact": c.contacted_at,
            "resolve": c.preliminary_at if urgent else c.resolved_at, "reply": c.proposed_at}
    return [ComplaintClock(key=k, label=URGENT_RESOLVE_LABEL if (k == "resolve" and urgent) else CLOCK_LABELS[k],
                           due=due[k], done_at=done[k]) for k in CLOCK_KEYS]


def as_local_iso(at: datetime, tz: str | ZoneInfo) -> str:
    """ISO 8601 with the zone's offset (what the CLI and API print): 2026-10-10T10:00:00+08:00."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return ensure_utc(at).astimezone(zone).isoformat()
