"""Working-day deadlines follow the Chinese holiday calendar, including 调休 make-up Saturdays and Sundays."""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from incidents.workdays import WorkingCalendar, add_working_days

SH = ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_national_day_is_skipped_and_makeup_saturday_counts():
    # Wed 2026-09-30 10:00: 10-01..07 are holidays, 10-08 Thu, 10-09 Fri, then Sat 10-10 is a make-up workday.
    due = add_working_days(local(2026, 9, 30, 10, 0), 3, "Asia/Shanghai")
    assert due.astimezone(SH) == local(2026, 10, 10, 10, 0)
    assert due.tzinfo is not None and due.utcoffset().total_seconds() == 0


def test_makeup_sunday_before_national_day_counts():
    # Sun 2026-09-20 is a make-up workday: Friday 09-18 + 1 working day lands on it.
    assert add_working_days(local(2026, 9, 18, 16, 0), 1).astimezone(SH) == local(2026, 9, 20, 16, 0)


def test_spring_festival_with_makeup_saturdays():
    # Fri 02-13: Sat 02-14 is a make-up day; 02-15..02-23 are the holiday; work resumes Tue 02-24.
    assert add_working_days(local(2026, 2, 13, 15, 0), 1).astimezone(SH) == local(2026, 2, 14, 15, 0)
    assert add_working_days(local(2026, 2, 13, 15, 0), 2).astimezone(SH) == local(2026, 2, 24, 15, 0)
    # Sat 02-28 is also a make-up day.
    assert add_working_days(local(2026, 2, 27, 9, 0), 1).astimezone(SH) == local(2026, 2, 28, 9, 0)


def test_labour_day_makeup_saturday():
    # 05-01..05-05 holiday; Wed 05-06, Thu, Fri, then Sat 05-09 (make-up) is the 4th working day after 04-30.
    assert add_working_days(local(2026, 4, 30, 11, 0), 4).astimezone(SH) == local(2026, 5, 9, 11, 0)


def test_seed_004_three_and_five_working_days_plain_week():
    monday = local(2026, 11, 23, 10, 0)
    assert add_working_days(monday, 3).astimezone(SH) == local(2026, 11, 26, 10, 0)
    assert add_working_days(monday, 5).astimezone(SH) == local(2026, 11, 30, 10, 0)


def test_unknown_year_falls_back_to_monday_to_friday_with_a_warning(caplog):
    cal = WorkingCalendar()
    with caplog.at_level(logging.WARNING, logger="incidents.workdays"):
        due = add_working_days(local(2026, 12, 31, 10, 0), 2, calendar=cal)
    # 2027-01-01 (Fri) is unknown, so it counts as a working day; then Mon 01-04.
    assert due.astimezone(SH) == local(2027, 1, 4, 10, 0)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].year == 2027
    assert cal.fallback_years == {2027}


def test_admin_overrides_fill_in_a_new_year():
    cal = WorkingCalendar(extra_holidays=[date(2027, 1, 1)], extra_workdays=[date(2027, 1, 2)])
    assert add_working_days(local(2026, 12, 31, 10, 0), 1, calendar=cal).astimezone(SH) == local(2027, 1, 2, 10, 0)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        add_working_days(local(2026, 11, 23, 10, 0), 0)
    with pytest.raises(ValueError):
        add_working_days(datetime(2026, 11, 23, 10, 0), 1)
