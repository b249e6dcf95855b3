"""Complaint statistics and KPIs (考核) for one month: one function feeds the dashboard page, the API and the CLI,
so the three always show the same figures.

Definitions (also in docs/complaints.md):

* the month is the calendar month in the policy timezone; a complaint belongs to the month its ``received_at``
  falls in (local time), whatever happened to it later;
* ``by``: counts of the month's complaints by the unit complained about, channel, category and severity;
* ``on_time`` per clock (entry, contact, resolve, reply) = met / (met + late + overdue) among the month's complaints
  whose clock is decided by ``now`` — done (met or late) or due and not done (overdue); a clock still running is
  left out of both sides; ``None`` when no clock is decided yet. A reply clock that new facts replaced counts
  too, with its outcome when they came (met, late, or overdue — a missed deadline stays missed), so a complaint
  can count more than one reply clock;
* ``average_resolution_days``: mean of (resolved_at − received_at) in days over the month's resolved complaints;
* ``satisfaction_rate`` = (满意 + 基本满意) / return visits, over the month's complaints with a return visit (the
  latest visit counts: a 不满意 visit followed by a satisfied one after reopening counts as satisfied);
* ``repeat_complaints``: the month's complaints whose customer (``customer_key``) had another complaint received
  within ``repeat_window_days`` before it (in any unit: it is the same customer coming back to the bank);
* ``quarter_change``: complaints received in the quarter containing the month vs the quarter before, as a fraction
  (−0.10 = ten per cent fewer); the current quarter may still be running (``complete`` says so).

Counting is pure aggregation over rows: ``aggregate`` takes the rows, ``month_stats`` reads them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incidents.complaints.clocks import CLOCK_KEYS, ClockState, clocks
from incidents.complaints.config import ComplaintsConfig
from incidents.complaints.models import Complaint, ComplaintEvent, Satisfaction
from incidents.workdays import WorkingCalendar
from yuqing.clock import ensure_utc

SATISFIED = frozenset({Satisfaction.satisfied, Satisfaction.basically_satisfied})
YEARS = (2000, 2100)  # the months statistics are asked for (a typo like 0226-10 is refused, not searched)


class StatsError(ValueError):
    """A month that is not ``YYYY-MM`` (``.en`` for the API, ``.zh`` for the dashboard and the CLI)."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.en, self.zh = en, zh


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2026-10`` → Month(2026, 10); anything else is a StatsError."""
        raw = (text or "").strip()
        try:
            year_s, month_s = raw.split("-")
            if len(year_s) != 4 or len(month_s) != 2 or not (year_s + month_s).isascii() \
                    or not (year_s + month_s).isdigit():
                raise ValueError(raw)
            year, month = int(year_s), int(month_s)
            if not 1 <= month <= 12:
                raise ValueError(raw)
        except ValueError:
            raise StatsError(f"month must be YYYY-MM (e.g. 2026-10), got {raw[:20]!r}",
                             f"月份格式应为 YYYY-MM（例如 2026-10），收到“{raw[:20]}”") from None
        if not YEARS[0] <= year <= YEARS[1]:
            raise StatsError(f"month must be between {YEARS[0]}-01 and {YEARS[1]}-12, got {raw}",
                             f"月份应在 {YEARS[0]}-01 至 {YEARS[1]}-12 之间，收到“{raw}”")
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def plus(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def start(self, tz: ZoneInfo) -> datetime:
        """The first instant of the month in ``tz``, as UTC."""
        return datetime(self.year, self.month, 1, tzinfo=tz).astimezone(UTC)

    @property
    def quarter(self) -> int:
        return (self.month - 1) // 3 + 1

    def quarter_start(self) -> Month:
        return Month(self.year, (self.quarter - 1) * 3 + 1)


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def aggregate(rows: Sequence[Complaint], *, earlier: Iterable[tuple[str, datetime]], cfg: ComplaintsConfig,
              tz: str | ZoneInfo, calendar: WorkingCalendar | None, now: datetime,
              replaced_reply: Iterable[str] = ()) -> dict:
    """The month's figures from its complaints (``rows``) and (customer_key, received_at) of every complaint that
    could make one of them a repeat (``earlier``: received up to ``repeat_window_days`` before the month's start
    and within the month); ``replaced_reply``: the outcomes (met / late / overdue) of reply clocks of ``rows``
    that new facts replaced, each counted as one more decided reply clock."""
    zone = _zone(tz)
    by: dict[str, Counter[str]] = {k: Counter() for k in ("unit", "channel", "category", "severity")}
    decided: dict[str, Counter[str]] = {k: Counter() for k in CLOCK_KEYS}
    resolution_days: list[float] = []
    visits: Counter[str] = Counter()
    for c in rows:
        by["unit"][c.unit_id] += 1
        by["channel"][c.channel] += 1
        by["category"][c.category] += 1
        by["severity"][c.severity] += 1
        for clock in clocks(c, cfg, tz=zone, calendar=calendar):
            decided[clock.key][clock.state(now)] += 1
        if c.resolved_at is not None:
            seconds = (ensure_utc(c.resolved_at) - ensure_utc(c.received_at)).total_seconds()
            resolution_days.append(seconds / 86400)
        if c.satisfaction:
            visits[c.satisfaction] += 1
    for state in replaced_reply:
        if state in (ClockState.met, ClockState.late, ClockState.overdue):
            decided["reply"][ClockState(state)] += 1
    window = timedelta(days=cfg.repeat_window_days)
    seen: dict[str, list[datetime]] = {}
    for key, at in earlier:
        seen.setdefault(key, []).append(ensure_utc(at))
    repeats = 0
    for c in rows:
        if not c.customer_key:
            continue
        received = ensure_utc(c.received_at)
        if any(received - window <= at < received for at in seen.get(c.customer_key, ())):
            repeats += 1
    on_time_counts = {k: {s.value: decided[k][s] for s in ClockState} for k in CLOCK_KEYS}
    on_time = {k: _rate(v["met"], v["met"] + v["late"] + v["overdue"]) for k, v in on_time_counts.items()}
    return_visits = sum(visits.values())
    return {
        "total": len(rows),
        "by": {k: dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))) for k, v in by.items()},
        "on_time": on_time,
        "on_time_counts": on_time_counts,
        "average_resolution_days": round(sum(resolution_days) / len(resolution_days), 2) if resolution_days
        else None,
        "resolved": len(resolution_days),
        "satisfaction_rate": _rate(sum(visits[s] for s in SATISFIED), return_visits),
        "return_visits": return_visits,
        "satisfaction_counts": {s.value: visits[s] for s in Satisfaction},
        "repeat_complaints": repeats,
    }


def _scoped(stmt, unit_ids: Iterable[str] | None):
    """Complaints about, or handled by, these units (a user's scope, as the complaint lists count it)."""
    if unit_ids is None:
        return stmt
    ids = sorted(unit_ids)
    return stmt.where(Complaint.unit_id.in_(ids) | Complaint.handling_unit_id.in_(ids))


def _count(session: Session, start: datetime, end: datetime, unit_ids: Iterable[str] | None) -> int:
    stmt = select(func.count(Complaint.id)).where(Complaint.received_at >= start, Complaint.received_at < end)
    return session.scalar(_scoped(stmt, unit_ids)) or 0


def month_stats(session: Session, *, month: str, cfg: ComplaintsConfig, tz: str | ZoneInfo,
                calendar: WorkingCalendar | None, now: datetime, unit_ids: Iterable[str] | None = None) -> dict:
    """The month's statistics (keys: month, total, by {unit, channel, category, severity}, on_time {entry,
    contact, resolve, reply}, average_resolution_days, satisfaction_rate, repeat_complaints, quarter_change,
    goals, plus the counts behind each rate). ``unit_ids``: only complaints about, or handled by, these units
    (a caller's scope); None: all. Raises StatsError for a month that is not YYYY-MM."""
    zone = _zone(tz)
    m = Month.parse(month)
    scope = None if unit_ids is None else frozenset(unit_ids)
    start, end = m.start(zone), m.plus(1).start(zone)
    rows = list(session.scalars(_scoped(
        select(Complaint).where(Complaint.received_at >= start, Complaint.received_at < end)
        .order_by(Complaint.received_at, Complaint.id), scope)))
    keys = sorted({c.customer_key for c in rows if c.customer_key})
    earlier: list[tuple[str, datetime]] = []
    if keys:
        earlier = [(k, at) for k, at in session.execute(
            select(Complaint.customer_key, Complaint.received_at).where(
                Complaint.customer_key.in_(keys),
                Complaint.received_at >= start - timedelta(days=cfg.repeat_window_days),
                Complaint.received_at < end))]
    replaced: list[str] = []
    ids = [c.id for c in rows]
    for i in range(0, len(ids), 500):
        for data in session.scalars(select(ComplaintEvent.data).where(
                ComplaintEvent.complaint_id.in_(ids[i:i + 500]), ComplaintEvent.kind == "new_facts")):
            state = ((data or {}).get("previous") or {}).get("reply_clock", {}).get("state")
            if state:
                replaced.append(state)
    result = {"month": str(m), **aggregate(rows, earlier=earlier, cfg=cfg, tz=zone, calendar=calendar, now=now,
                                           replaced_reply=replaced)}
    q_start = m.quarter_start()
    this_q = _count(session, q_start.start(zone), q_start.plus(3).start(zone), scope)
    prev_q = _count(session, q_start.plus(-3).start(zone), q_start.start(zone), scope)
    previous = q_start.plus(-3)
    result["quarter_change"] = {
        "quarter": f"{m.year}-Q{m.quarter}", "count": this_q,
        "previous_quarter": f"{previous.year}-Q{previous.quarter}", "previous_count": prev_q,
        "change": round((this_q - prev_q) / prev_q, 4) if prev_q else None,
        "complete": ensure_utc(now) >= q_start.plus(3).start(zone)}
    result["repeat_window_days"] = cfg.repeat_window_days
    result["goals"] = cfg.goals.model_dump()
    return result
