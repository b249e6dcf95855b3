"""Working-day deadlines follow the Chinese holiday calendar, including 调休 make-up Saturdays and Sundays; the
holidays file adds years the package lacks, and ``yuqing check-config`` warns before the known years run out."""

from __future__ import annotations

import logging
import shutil
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from typer.testing import CliRunner

from incidents.workdays import (
    HOLIDAYS_FILE,
    WorkingCalendar,
    add_working_days,
    calendar_for,
    calendar_from_overrides,
    calendar_or_package,
    coverage_status,
    default_calendar,
    load_holidays_file,
    package_disagreements,
    package_years,
)
from runner.cli import app
from yuqing.clock import FrozenClock
from yuqing.errors import ConfigError
from yuqing.settings import PROJECT_ROOT

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


def test_new_years_day_2026_and_its_makeup_sunday():
    # 2026-01-01..03 off; Sunday 2026-01-04 is a make-up working day, so Wed 2025-12-31 + 1 lands on it.
    assert add_working_days(local(2025, 12, 31, 9, 30), 1).astimezone(SH) == local(2026, 1, 4, 9, 30)
    assert add_working_days(local(2025, 12, 31, 9, 30), 2).astimezone(SH) == local(2026, 1, 5, 9, 30)


# --- config/holidays.yaml and how far the calendar reaches -----------------------------------------------------
# A made-up year for exercising the file, NOT the State Council's 2027 schedule: Friday 2027-01-01 and Monday
# 2027-01-04 off, Saturday 2027-01-09 a make-up working day.
FIXTURE_2027 = """\
years:
  2027:
    notice: "test fixture, not a real schedule"
    holidays: [2027-01-01, 2027-01-04]
    workdays: [2027-01-09]
"""


def _package_year_as_yaml(year: int, *, drop_workday: date | None = None) -> str:
    """The package's own data for ``year`` written out as a holidays.yaml entry (real dates)."""
    holidays = sorted(d for d in chinese_calendar.holidays if d.year == year)
    workdays = sorted(d for d in chinese_calendar.workdays if d.year == year and d != drop_workday)
    return (f"years:\n  {year}:\n    notice: copied from chinesecalendar\n"
            f"    holidays: [{', '.join(map(str, holidays))}]\n    workdays: [{', '.join(map(str, workdays))}]\n")


def test_the_package_knows_2026_and_coverage_ends_with_its_last_year():
    first, last = package_years()
    assert first <= 2004 and last >= 2026
    cal = WorkingCalendar()
    assert cal.last_covered_date == date(last, 12, 31)
    assert cal.covers(date(2026, 10, 10)) and not cal.covers(date(last + 1, 1, 1))


def test_shipped_holidays_file_is_valid():
    years = load_holidays_file(PROJECT_ROOT / "config" / HOLIDAYS_FILE)
    assert all(s.notice and s.holidays for s in years.values())


def test_a_year_in_the_file_extends_coverage_and_counts_its_days(tmp_path):
    path = tmp_path / HOLIDAYS_FILE
    path.write_text(FIXTURE_2027, encoding="utf-8")
    cal = calendar_for(path)
    assert set(cal.years) == {2027}
    if package_years()[1] == 2026:
        assert cal.last_covered_date == date(2027, 12, 31)
    # Thu 2026-12-31: 01-01 and 01-04 off, Tue 01-05 is the first working day, Sat 01-09 the fifth.
    start = local(2026, 12, 31, 10, 0)
    assert add_working_days(start, 1, calendar=cal).astimezone(SH) == local(2027, 1, 5, 10, 0)
    assert add_working_days(start, 5, calendar=cal).astimezone(SH) == local(2027, 1, 9, 10, 0)
    assert cal.fallback_years == set()
    # An ordinary week of that year is Monday to Friday.
    assert add_working_days(local(2027, 3, 5, 10, 0), 1, calendar=cal).astimezone(SH) == local(2027, 3, 8, 10, 0)


def test_a_year_after_a_gap_does_not_extend_coverage(tmp_path):
    last = package_years()[1]
    path = tmp_path / HOLIDAYS_FILE
    path.write_text(f"years:\n  {last + 2}:\n    notice: test fixture\n    holidays: [{last + 2}-01-01]\n",
                    encoding="utf-8")
    cal = calendar_for(path)
    assert cal.last_covered_date == date(last, 12, 31)
    assert cal.covers(date(last + 2, 5, 1)) and not cal.covers(date(last + 1, 5, 1))


def test_a_file_year_replaces_the_package_year_and_disagreements_are_reported(tmp_path):
    path = tmp_path / HOLIDAYS_FILE
    path.write_text(_package_year_as_yaml(2026), encoding="utf-8")
    same = calendar_for(path)
    assert package_disagreements(same) == {2026: []}
    # The file's data is what counts: without Saturday 2026-10-10 as a make-up day, Wed 09-30 + 3 moves to Mon.
    path.write_text(_package_year_as_yaml(2026, drop_workday=date(2026, 10, 10)), encoding="utf-8")
    changed = calendar_for(path)
    assert changed is not same  # reloaded because the file changed
    assert package_disagreements(changed) == {2026: [date(2026, 10, 10)]}
    assert add_working_days(local(2026, 9, 30, 10, 0), 3, calendar=changed).astimezone(SH) == local(2026, 10, 12, 10, 0)


def test_missing_file_means_the_package_alone(tmp_path):
    cal = calendar_for(tmp_path / "nowhere.yaml")
    assert cal.years == {} and cal.last_covered_date == WorkingCalendar().last_covered_date


@pytest.mark.parametrize(("text", "field", "reason"), [
    ("years:\n  2027:\n    notice: x\n    holidays: [2028-01-01]\n", "years.2027.holidays.0", "not in 2027"),
    ("years:\n  2027:\n    notice: x\n    holidays: [2027-01-01]\n    workdays: [2027-01-05]\n",
     "years.2027.workdays.0", "weekday"),
    ("years:\n  2027:\n    notice: x\n    holidays: [2027-01-01, 2027-01-01]\n", "years.2027.holidays.1", "twice"),
    ("years:\n  2027:\n    notice: x\n    holidays: [2027-01-02]\n    workdays: [2027-01-02]\n", "years.2027",
     "both holiday and workday"),
    ("years:\n  2027:\n    holidays: [2027-01-01]\n", "years.2027.notice", "Field required"),
    ("years:\n  2027:\n    notice: x\n    holidays: []\n", "years.2027.holidays", "at least 1"),
    ("years:\n  2027:\n    notice: x\n    holidays: [2027-02-30]\n", "years.2027.holidays.0", "date"),
    ("years:\n  2027:\n    notice: x\n    holiday: [2027-01-01]\n", "years.2027.holiday", "Extra inputs"),
])
def test_invalid_holidays_file_names_file_and_field(tmp_path, text, field, reason):
    path = tmp_path / HOLIDAYS_FILE
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_holidays_file(path)
    assert info.value.path == str(path)
    assert any(f == field and reason in r for f, r in info.value.problems), info.value.problems
    # The running system never crashes on it: deadlines fall back to the package alone.
    assert calendar_or_package(path).years == {}


@pytest.mark.parametrize(("today", "level", "days_left"), [
    (date(2026, 10, 31), "ok", 61),
    (date(2026, 11, 1), "warning", 60),
    (date(2026, 12, 6), "warning", 25),
    (date(2026, 12, 31), "warning", 0),
    (date(2027, 1, 1), "error", -1),
])
def test_coverage_status_warns_60_days_before_the_end_and_errs_past_it(today, level, days_left):
    cal = WorkingCalendar(years={})
    cal_last = cal.last_covered_date
    shift = cal_last - date(2026, 12, 31)  # the same distances whatever year the installed package ends with
    status = coverage_status(cal, today + shift)
    assert (status.level, status.days_left, status.last_covered) == (level, days_left, cal_last)
    if level != "ok":
        text = status.message("config/holidays.yaml")
        assert str(cal_last) in text and "config/holidays.yaml" in text and f"{cal_last.year + 1} 年" in text


def test_defaults_carry_the_holidays_file_and_levels_overrides_sit_on_top():
    base = default_calendar()
    assert base is default_calendar()  # cached while the file is unchanged
    assert calendar_from_overrides([], []) is base
    with_extra = calendar_from_overrides([date(2026, 11, 24)], [])
    assert with_extra is calendar_from_overrides([date(2026, 11, 24)], [])  # one calendar, warnings once
    assert with_extra.years == base.years and not with_extra.is_workday(date(2026, 11, 24))


# --- yuqing check-config ---------------------------------------------------------------------------------------
runner = CliRunner()


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    target = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", target)
    (target / HOLIDAYS_FILE).write_text("years: {}\n", encoding="utf-8")
    monkeypatch.setenv("YUQING_CONFIG_DIR", str(target))
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path / "data"))
    for name in ("YUQING_ORG_FILE", "YUQING_SOURCES_FILE", "YUQING_LEVELS_FILE", "YUQING_CHECKLISTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    return target


def check_config_on(day: date):
    """``yuqing check-config`` with the clock frozen at 10:00 Beijing time on ``day``."""
    clock = FrozenClock(datetime.combine(day, time(10, 0), tzinfo=SH))
    return runner.invoke(app, ["check-config"], obj={"clock": clock})


def test_check_config_is_quiet_about_the_calendar_more_than_60_days_before_its_end(config_dir):
    last = WorkingCalendar().last_covered_date
    result = check_config_on(last - timedelta(days=61))
    assert result.exit_code == 0, result.output
    assert f"holidays: known through {last}" in result.output
    assert "warning" not in result.output and "error" not in result.output


def test_check_config_warns_within_60_days_of_the_end(config_dir):
    last = WorkingCalendar().last_covered_date
    result = check_config_on(last - timedelta(days=25))
    assert result.exit_code == 0, result.output
    assert "警告 warning:" in result.stderr and f"只覆盖到 {last}（还剩 25 天）" in result.stderr
    assert str(config_dir / HOLIDAYS_FILE) in result.stderr and "chinesecalendar" in result.stderr


def test_check_config_reports_an_error_past_the_end_but_still_exits_0(config_dir):
    last = WorkingCalendar().last_covered_date
    result = check_config_on(last + timedelta(days=4))
    assert result.exit_code == 0, result.output
    assert "错误 error:" in result.stderr and "已超出 4 天" in result.stderr and str(last) in result.stderr


def test_check_config_counts_the_years_an_admin_added(config_dir):
    if package_years()[1] != 2026:
        pytest.skip("the installed chinesecalendar already knows 2027")
    (config_dir / HOLIDAYS_FILE).write_text(FIXTURE_2027, encoding="utf-8")
    result = check_config_on(date(2026, 12, 6))
    assert result.exit_code == 0, result.output
    assert "holidays: known through 2027-12-31" in result.output and "2027" in result.output
    assert result.stderr == ""


def test_check_config_notes_a_year_the_package_also_has_and_flags_differences(config_dir):
    path = config_dir / HOLIDAYS_FILE
    path.write_text(_package_year_as_yaml(2026), encoding="utf-8")
    same = check_config_on(date(2026, 6, 1))
    assert same.exit_code == 0 and "years.2026: chinesecalendar now knows 2026 too and agrees" in same.output
    path.write_text(_package_year_as_yaml(2026, drop_workday=date(2026, 10, 10)), encoding="utf-8")
    differs = check_config_on(date(2026, 6, 1))
    assert differs.exit_code == 0 and "2026 differs from chinesecalendar on 2026-10-10" in differs.stderr


def test_check_config_fails_on_an_invalid_holidays_file(config_dir):
    (config_dir / HOLIDAYS_FILE).write_text(
        "years:\n  2027:\n    notice: x\n    holidays: [2027-01-01]\n    workdays: [2027-01-05]\n", encoding="utf-8")
    result = check_config_on(date(2026, 12, 6))
    assert result.exit_code == 2
    assert HOLIDAYS_FILE in result.output and "years.2027.workdays.0" in result.output


def test_an_impossible_date_in_any_config_file_is_a_config_error_and_stops_start_up(tmp_path):
    import shutil

    from runner.runtime import load_config
    from yuqing.errors import ConfigError
    from yuqing.settings import PROJECT_ROOT, Settings
    from yuqing.yamlfile import load_yaml

    bad = tmp_path / "x.yaml"
    bad.write_text("extra_holidays: [2027-02-30]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x\.yaml"):
        load_yaml(bad)
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    (config / "holidays.yaml").write_text("years:\n  2027:\n    notice: x\n    holidays: [2027-02-30]\n",
                                          encoding="utf-8")
    with pytest.raises(ConfigError, match=r"holidays\.yaml"):
        load_config(Settings(config_dir=config, data_dir=tmp_path))
