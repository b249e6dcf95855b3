"""Chinese working-day arithmetic: statutory holidays and 调休 make-up working days (weekends that are workdays).

Complaint rules count in working days (seed 004: 一般投诉 3 个工作日, 重要投诉 5 个工作日; 复盘 within 5 working days),
and a plain Monday–Friday count is wrong around 春节 and 国庆. The holiday data comes from ``chinesecalendar``,
which only knows the years published when it was released; admins can add dates in ``config/levels.yaml``
(``calendar``). Past the known years the count falls back to Monday–Friday and logs a warning — a deadline that
is a day off is better than a crashed escalation job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)


class WorkingCalendar:
    """Answers "is this date a working day in mainland China?", with admin overrides and a warned fallback."""

    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()):
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self.fallback_years: set[int] = set()

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self.fallback_years:
                self.fallback_years.add(day.year)
                log.warning("holiday calendar has no data for this year; counting Monday-Friday as working days",
                            extra={"year": day.year, "action": "update chinesecalendar or config calendar"})
            return day.weekday() < 5


DEFAULT_CALENDAR = WorkingCalendar()


def add_working_days(start: datetime, n: int, tz: str | ZoneInfo = "Asia/Shanghai", *,
                     calendar: WorkingCalendar | None = None) -> datetime:
    """The same local time of day on the ``n``-th working day after ``start``'s local date (aware, UTC).

    "Within 3 working days" of a complaint received on Friday 15:00 before 国庆 means 15:00 on the third working
    day after the holiday. ``n`` must be positive.
    """
    if n <= 0:
        raise ValueError("n must be a positive number of working days")
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    cal = calendar or DEFAULT_CALENDAR
    local = start.astimezone(zone)
    day = local.date()
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if cal.is_workday(day):
            counted += 1
    result = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=zone)
    return result.astimezone(ZoneInfo("UTC"))


def calendar_from_overrides(extra_holidays: Iterable[date], extra_workdays: Iterable[date]) -> WorkingCalendar:
    """A calendar with the admin's additions; the default calendar when there are none (shares its warnings)."""
    hol, work = list(extra_holidays), list(extra_workdays)
    if not hol and not work:
        return DEFAULT_CALENDAR
    return WorkingCalendar(hol, work)
