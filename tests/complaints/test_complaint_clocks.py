"""The complaint clocks, counted from receipt, across the 2026 National Day holiday (1–7 October off; Saturday
10 October is a 调休 make-up working day; Friday 25 September is 中秋)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents.complaints.clocks import ClockState, as_local_iso, clocks, deadlines
from incidents.complaints.config import ComplaintsConfig, load_complaints_config
from incidents.workdays import calendar_for
from yuqing.errors import ConfigError
from yuqing.settings import PROJECT_ROOT

SH = ZoneInfo("Asia/Shanghai")
CFG = load_complaints_config(PROJECT_ROOT / "config" / "complaints.yaml")
CAL = calendar_for(PROJECT_ROOT / "config" / "holidays.yaml")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def iso(d: dict[str, datetime]) -> dict[str, str]:
    return {k: as_local_iso(v, SH) for k, v in d.items()}


def test_the_three_severities_received_on_30_september_at_ten():
    received = local(2026, 9, 30, 10, 0)
    general = iso(deadlines(received, "general", CFG, tz=SH, calendar=CAL))
    important = iso(deadlines(received, "important", CFG, tz=SH, calendar=CAL))
    urgent = iso(deadlines(received, "urgent", CFG, tz=SH, calendar=CAL))
    assert general == {"entry": "2026-10-01T10:00:00+08:00", "contact": "2026-10-02T10:00:00+08:00",
                       # 8 Oct (Thu), 9 Oct (Fri), 10 Oct (the make-up Saturday)
                       "resolve": "2026-10-10T10:00:00+08:00", "reply": "2026-10-15T10:00:00+08:00"}
    # ... then Monday 12 and Tuesday 13 (Sunday 11 is a day off)
    assert important["resolve"] == "2026-10-13T10:00:00+08:00"
    assert important["entry"] == general["entry"] and important["reply"] == general["reply"]
    # 紧急: a preliminary solution within 24 clock hours, holiday or not
    assert urgent["resolve"] == "2026-10-01T10:00:00+08:00"


def test_working_days_skip_mid_autumn_and_count_the_makeup_sunday():
    # Thursday 24 September 16:30: 25–27 off (中秋 + weekend), 28 / 29 / 30 are working days.
    d = deadlines(local(2026, 9, 24, 16, 30), "general", CFG, tz=SH, calendar=CAL)
    assert as_local_iso(d["resolve"], SH) == "2026-09-30T16:30:00+08:00"
    # Saturday 19 September: Sunday 20 is a 调休 working day and counts as the first.
    d = deadlines(local(2026, 9, 19, 9, 0), "general", CFG, tz=SH, calendar=CAL)
    assert as_local_iso(d["resolve"], SH) == "2026-09-22T09:00:00+08:00"


def test_received_on_a_holiday_counts_from_the_next_working_day():
    d = deadlines(local(2026, 10, 3, 11, 15), "important", CFG, tz=SH, calendar=CAL)
    # 8, 9, 10 (Sat, make-up), 12, 13
    assert as_local_iso(d["resolve"], SH) == "2026-10-13T11:15:00+08:00"


def test_a_time_given_in_utc_is_counted_on_the_local_date():
    # 2026-09-30 17:00 UTC is 1 October 01:00 in Shanghai: the holiday, not the last working day before it.
    d = deadlines(datetime(2026, 9, 30, 17, 0, tzinfo=UTC), "general", CFG, tz=SH, calendar=CAL)
    assert as_local_iso(d["resolve"], SH) == "2026-10-10T01:00:00+08:00"


@pytest.mark.parametrize(("limit", "expected"), [(15, "2026-10-15"), (30, "2026-10-30"), (60, "2026-11-29")])
def test_the_15_30_60_day_reply_rule(limit, expected):
    d = deadlines(local(2026, 9, 30, 10, 0), "general", CFG, tz=SH, calendar=CAL, reply_limit_days=limit)
    assert as_local_iso(d["reply"], SH) == f"{expected}T10:00:00+08:00"
    assert CFG.reply_limits() == [15, 30, 60]


def test_new_facts_restart_the_reply_clock():
    received = local(2026, 9, 30, 10, 0)
    new_facts = local(2026, 10, 9, 14, 30)
    d = deadlines(received, "general", CFG, tz=SH, calendar=CAL, reply_base_at=new_facts)
    assert as_local_iso(d["reply"], SH) == "2026-10-24T14:30:00+08:00"
    # the other clocks still count from receipt
    assert as_local_iso(d["resolve"], SH) == "2026-10-10T10:00:00+08:00"


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        deadlines(datetime(2026, 9, 30, 10, 0), "general", CFG, tz=SH, calendar=CAL)


@dataclass
class Times:
    severity: str
    received_at: datetime
    entered_at: datetime
    reply_base_at: datetime
    reply_limit_days: int = 15
    contacted_at: datetime | None = None
    preliminary_at: datetime | None = None
    resolved_at: datetime | None = None
    proposed_at: datetime | None = None
    extra: dict = field(default_factory=dict)


def test_clock_states_met_late_running_overdue():
    received = local(2026, 9, 30, 10, 0)
    t = Times(severity="general", received_at=received, entered_at=received + timedelta(hours=30),
              reply_base_at=received, contacted_at=received + timedelta(hours=47))
    now = local(2026, 10, 12, 9, 0)
    states = {c.key: c.state(now) for c in clocks(t, CFG, tz=SH, calendar=CAL)}
    assert states == {"entry": ClockState.late, "contact": ClockState.met, "resolve": ClockState.overdue,
                      "reply": ClockState.running}


def test_urgent_resolve_clock_is_the_preliminary_solution():
    received = local(2026, 9, 30, 10, 0)
    t = Times(severity="urgent", received_at=received, entered_at=received, reply_base_at=received,
              preliminary_at=received + timedelta(hours=20))
    by_key = {c.key: c for c in clocks(t, CFG, tz=SH, calendar=CAL)}
    assert by_key["resolve"].label == "初步解决方案"
    assert by_key["resolve"].state(received + timedelta(days=3)) is ClockState.met
    # followed until solved: the reply clock keeps running
    assert by_key["reply"].state(received + timedelta(days=3)) is ClockState.running


@pytest.mark.parametrize(("yaml_text", "names"), [
    ("resolve:\n  general: {working_days: 3, hours: 5}\n  important: {working_days: 5}\n  urgent: {hours: 24}\n",
     ("resolve.general", "exactly one")),
    ("resolve:\n  general: {working_days: 3}\n", ("resolve", "missing: important, urgent")),
    ("reply_extension_days: [10]\n", ("reply_extension_days",)),
    ("full_details_roles: [cashier]\n", ("full_details_roles",)),
])
def test_config_errors_name_the_file_and_field(tmp_path, yaml_text, names):
    bad = tmp_path / "complaints.yaml"
    bad.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_complaints_config(bad)
    text = str(err.value)
    assert "complaints.yaml" in text
    for name in names:
        assert name in text


def test_missing_file_means_the_defaults(tmp_path):
    assert load_complaints_config(tmp_path / "absent.yaml") == ComplaintsConfig()
