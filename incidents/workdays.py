"""Chinese working-day arithmetic: statutory holidays and 调休 make-up working days (weekends that are workdays).

Complaint rules count in working days (seed 004: 一般投诉 3 个工作日, 重要投诉 5 个工作日; 复盘 within 5 working days),
and a plain Monday–Friday count is wrong around 春节 and 国庆.

Where the days come from, first match wins:

1. ``config/levels.yaml`` ``calendar`` (``extra_holidays`` / ``extra_workdays``): one-off corrections;
2. ``config/holidays.yaml`` (in the configured config directory): whole years the package does not know yet, each
   copied from the State Council's notice (国务院办公厅关于 YYYY 年部分节假日安排的通知), which is published in
   November or December for the next year. A year listed there replaces the package's data for that year;
3. ``chinesecalendar``, which knows the years published before its release.

The calendar *covers* every day up to the 31 December of the last year in an unbroken run of known years
(:attr:`WorkingCalendar.last_covered_date`). Past it the count falls back to Monday–Friday and logs a warning — a
deadline that is a day off is better than a crashed escalation job — and :func:`coverage_status` tells
``yuqing check-config`` and the dashboard to warn admins from :data:`COVERAGE_WARNING_DAYS` days before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from yuqing.errors import ConfigError
from yuqing.yamlfile import load_yaml

log = logging.getLogger(__name__)

HOLIDAYS_FILE = "holidays.yaml"
COVERAGE_WARNING_DAYS = 60


class HolidayYear(BaseModel):
    """One year of the State Council's holiday schedule, as ``config/holidays.yaml`` lists it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    notice: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] = Field(
        description="the notice the dates are copied from (title and 国办发明电 number), for whoever checks them")
    holidays: list[date] = Field(min_length=1, description="every day off, weekend days inside a holiday included")
    workdays: list[date] = Field(default_factory=list, description="调休: Saturdays and Sundays that are workdays")


class HolidaysFile(BaseModel):
    """The content of ``config/holidays.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    years: dict[Annotated[int, Field(ge=2000, le=2200)], HolidayYear] = Field(default_factory=dict)


@dataclass(frozen=True)
class YearSchedule:
    """The days off and the 调休 working days of one year; every other Monday–Friday is a working day."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    notice: str = ""

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


class _DatesAsText(yaml.SafeLoader):
    """Leaves dates as text for pydantic to parse: PyYAML raises a bare ValueError on e.g. 2027-02-30, while
    pydantic's error names the field."""


_DatesAsText.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def load_holidays_file(path: Path | str) -> dict[int, YearSchedule]:
    """The years in ``holidays.yaml``; none when the file does not exist. Errors name the file and the field."""
    p = Path(path)
    if not p.exists():
        return {}
    try:
        raw = yaml.load(p.read_text(encoding="utf-8"), Loader=_DatesAsText)  # a SafeLoader subclass
    except (UnicodeDecodeError, yaml.YAMLError):
        load_yaml(p)  # the same failure, reported as every config file reports it (encoding, line and column)
        raise
    try:
        data = HolidaysFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise ConfigError.from_validation(p, exc) from None
    problems: list[tuple[str, str]] = []
    out: dict[int, YearSchedule] = {}
    for year, entry in sorted(data.years.items()):
        for kind in ("holidays", "workdays"):
            seen: set[date] = set()
            for i, day in enumerate(getattr(entry, kind)):
                where = f"years.{year}.{kind}.{i}"
                if day.year != year:
                    problems.append((where, f"{day} is not in {year}"))
                if day in seen:
                    problems.append((where, f"{day} is listed twice"))
                seen.add(day)
                if kind == "workdays" and day.weekday() < 5:
                    problems.append((where, f"{day} is a weekday; only Saturdays and Sundays can be 调休 workdays"))
        both = sorted(set(entry.holidays) & set(entry.workdays))
        if both:
            problems.append((f"years.{year}", "listed as both holiday and workday: "
                             + ", ".join(str(d) for d in both)))
        out[year] = YearSchedule(year, frozenset(entry.holidays), frozenset(entry.workdays), entry.notice)
    if problems:
        raise ConfigError(p, problems)
    return out


@cache
def package_years() -> tuple[int, int]:
    """The first and last year ``chinesecalendar`` has data for (the range it checks dates against)."""
    years = [d.year for d in chinese_calendar.holidays]
    return min(years), max(years)


class WorkingCalendar:
    """Answers "is this date a working day in mainland China?", with admin data and a warned fallback."""

    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = (),
                 years: Mapping[int, YearSchedule] | None = None):
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self.years: Mapping[int, YearSchedule] = dict(years or {})
        self.fallback_years: set[int] = set()
        # (date, n) -> the n-th working day after it: every complaint's and report's deadline is counted on every
        # pipeline round, and the answer never changes for a calendar (its data is fixed once it is built)
        self._after: dict[tuple[date, int], date] = {}

    def workday_after(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (``n`` positive)."""
        found = self._after.get((day, n))
        if found is None:
            found, counted = day, 0
            while counted < n:
                found += timedelta(days=1)
                if self.is_workday(found):
                    counted += 1
            if len(self._after) > 100_000:  # a bound, never reached by a deployment's dates
                self._after.clear()
            self._after[(day, n)] = found
        return found

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        schedule = self.years.get(day.year)
        if schedule is not None:
            return schedule.is_workday(day)
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self.fallback_years:
                self.fallback_years.add(day.year)
                log.warning("holiday calendar has no data for this year; counting Monday-Friday as working days",
                            extra={"year": day.year, "last_covered_date": str(self.last_covered_date),
                                   "action": f"upgrade chinesecalendar or add the year to config/{HOLIDAYS_FILE}"})
            return day.weekday() < 5

    @property
    def last_covered_date(self) -> date:
        """The last day of the unbroken run of known years that starts with the package's years."""
        year = package_years()[1]
        while year + 1 in self.years:
            year += 1
        return date(year, 12, 31)

    def covers(self, day: date) -> bool:
        """Whether ``day`` is counted from published data rather than the Monday–Friday fallback."""
        first, _ = package_years()
        return day.year in self.years or (first <= day.year and day <= self.last_covered_date)


def package_disagreements(calendar: WorkingCalendar) -> dict[int, list[date]]:
    """For each year of ``calendar.years`` that ``chinesecalendar`` knows too: the days on which they disagree.

    An empty list means the admin's entry has become redundant (a newer package has the year).
    """
    first, last = package_years()
    out: dict[int, list[date]] = {}
    for year, schedule in sorted(calendar.years.items()):
        if not first <= year <= last:
            continue
        day, end, differ = date(year, 1, 1), date(year, 12, 31), []
        while day <= end:
            if schedule.is_workday(day) != chinese_calendar.is_workday(day):
                differ.append(day)
            day += timedelta(days=1)
        out[year] = differ
    return out


@dataclass(frozen=True)
class CoverageStatus:
    """How far the holiday data reaches, seen from ``today``."""

    today: date
    last_covered: date
    days_left: int  # negative once past the end
    level: Literal["ok", "warning", "error"]

    def message(self, where: str) -> str:
        """What an admin must know and do, in Chinese; ``where`` names the holidays file."""
        nxt = self.last_covered.year + 1
        fallback = "按工作日计算的期限（投诉处理、复盘等）只按周一至周五计算，不含法定节假日和调休"
        todo = (f"{nxt} 年的节假日安排由国务院办公厅在上一年 11–12 月公布：请升级 chinesecalendar 到包含 {nxt} 年的"
                f"版本，或按该通知把 {nxt} 年的放假日期和调休上班日期加入 {where}")
        if self.level == "error":
            return (f"节假日数据只覆盖到 {self.last_covered}，今天已超出 {-self.days_left} 天：{fallback}，"
                    f"可能有误。{todo}。")
        left = "今天是最后一天" if self.days_left == 0 else f"还剩 {self.days_left} 天"
        return f"节假日数据只覆盖到 {self.last_covered}（{left}），此后{fallback}。{todo}。"


def coverage_status(calendar: WorkingCalendar, today: date,
                    warn_days: int = COVERAGE_WARNING_DAYS) -> CoverageStatus:
    """ok; warning within ``warn_days`` days of the last covered date (inclusive); error past it."""
    last = calendar.last_covered_date
    left = (last - today).days
    level: Literal["ok", "warning", "error"] = "error" if left < 0 else "warning" if left <= warn_days else "ok"
    return CoverageStatus(today, last, left, level)


# --- the calendar the running system uses --------------------------------------------------------------------
_PACKAGE_ONLY = WorkingCalendar()
_loaded: dict[Path, tuple[tuple[int, int] | None, WorkingCalendar]] = {}
_load_lock = threading.Lock()


def calendar_for(path: Path | str) -> WorkingCalendar:
    """The package plus the years in ``path`` (a ``holidays.yaml``), reloaded when the file changes.

    Raises ``ConfigError`` for an invalid file; a missing file means no extra years.
    """
    p = Path(path)
    try:
        st = p.stat()
        stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        stamp = None
    with _load_lock:
        cached = _loaded.get(p)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        cal = WorkingCalendar(years=load_holidays_file(p)) if stamp is not None else _PACKAGE_ONLY
        _loaded[p] = (stamp, cal)
        return cal


def calendar_or_package(path: Path | str) -> WorkingCalendar:
    """:func:`calendar_for`, but an invalid file logs an error and leaves the package's years (never raises)."""
    try:
        return calendar_for(path)
    except ConfigError as exc:
        log.error("holidays file invalid; using the chinesecalendar package alone",
                  extra={"error": str(exc)[:500], "action": "run yuqing check-config"})
        return _PACKAGE_ONLY


@cache
def _default_holidays_path() -> Path:
    """``holidays.yaml`` in the config directory of this process's settings (``YUQING_CONFIG_DIR``, ``.env``)."""
    from yuqing.settings import PROJECT_ROOT, load_settings

    try:
        return load_settings().config_dir / HOLIDAYS_FILE
    except ConfigError:
        return PROJECT_ROOT / "config" / HOLIDAYS_FILE


def default_calendar() -> WorkingCalendar:
    """The calendar deadlines are counted on when none is given: the package plus the configured holidays file."""
    return calendar_or_package(_default_holidays_path())


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
    cal = calendar or default_calendar()
    local = start.astimezone(zone)
    day = cal.workday_after(local.date(), n)
    result = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=zone)
    return result.astimezone(ZoneInfo("UTC"))


def calendar_from_overrides(extra_holidays: Iterable[date], extra_workdays: Iterable[date]) -> WorkingCalendar:
    """The default calendar with the admin's one-off corrections from ``levels.yaml`` on top."""
    return _with_overrides(default_calendar(), frozenset(extra_holidays), frozenset(extra_workdays))


@lru_cache(maxsize=16)
def _with_overrides(base: WorkingCalendar, holidays: frozenset[date], workdays: frozenset[date]) -> WorkingCalendar:
    # Cached so that one calendar (and its fallback warnings, once per year) serves every deadline.
    if not holidays and not workdays:
        return base
    return WorkingCalendar(holidays, workdays, years=base.years)
