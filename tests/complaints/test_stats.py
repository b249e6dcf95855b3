"""Complaint statistics for October 2026, every figure computed by hand from the rows below (times in Shanghai;
now is 5 November 12:00).

=====  ==================  =========  ==============  =====================================================
 row   received            severity   unit            what happened
=====  ==================  =========  ==============  =====================================================
 C1    10-09 (Fri) 10:00   一般        xinhualu        entered 10:30, contacted 15:00, answered 10-11, resolved
                                                      10-12 10:00 (due 10-13: 10 Oct make-up Saturday, 12, 13);
                                                      满意; customer k1
 C2    10-20 (Tue) 09:00   重要        guangminglu     entered 10-21 12:00 (27 h: late), never contacted
                                                      (overdue), resolved 10-29 09:00 (due 10-27: late),
                                                      answered 10-29 (due 11-04: met); 不满意; customer k2
 C3    10-31 20:00         紧急        xinhualu        entered 20:05, contacted 11-01 08:00, no preliminary
                                                      solution (due 11-01 20:00: overdue), reply running
                                                      (due 11-15); customer k1 again: a repeat
 C5    10-01 00:30         一般        binjianghuayuan (30 Sep 16:30 UTC: October in Shanghai) entered 01:00,
                                                      nothing since: contact, resolve, reply all overdue
 C4    11-01               一般        xinhualu        November: in Q4, not in October; customer k2
 C6    09-30 23:00         一般        guangminglu     September (Q3); customer k2: makes C2 a repeat
 C7    08-15, C8 07-01     一般        xinhualu        Q3
 C9    06-30               一般        xinhualu        Q2: in neither quarter compared
=====  ==================  =========  ==============  =====================================================
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from incidents.complaints.config import load_complaints_config
from incidents.complaints.models import Complaint
from incidents.complaints.stats import Month, StatsError, month_stats
from incidents.workdays import calendar_for
from yuqing.settings import PROJECT_ROOT

SH = ZoneInfo("Asia/Shanghai")
CFG = load_complaints_config(PROJECT_ROOT / "config" / "complaints.yaml")
CAL = calendar_for(PROJECT_ROOT / "config" / "holidays.yaml")
NOW = datetime(2026, 11, 5, 12, 0, tzinfo=SH)
_serial = count(1)


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def complaint(received: datetime, *, severity: str = "general", unit: str = "xinhualu", channel: str = "walk_in",
              category: str = "service_attitude", key: str | None = None, entered: datetime | None = None,
              **steps: object) -> Complaint:
    n = next(_serial)
    return Complaint(number=f"TS-TEST-{n:03d}", channel=channel, received_at=received,
                     entered_at=entered or received + timedelta(minutes=5), entered_by="wangmin", unit_id=unit,
                     handling_unit_id=unit, category=category, severity=severity, description=f"测试投诉 {n}",
                     first_contact_owner_id="huangwei", customer_key=key, reply_base_at=received,
                     reply_limit_days=15, created_at=received, updated_at=received, **steps)


def rows() -> list[Complaint]:
    return [
        complaint(at(10, 9), key="k1", entered=at(10, 9, 10, 30), contacted_at=at(10, 9, 15),
                  proposed_at=at(10, 11), resolved_at=at(10, 12), satisfaction="satisfied"),
        complaint(at(10, 20, 9), severity="important", unit="guangminglu", channel="hotline",
                  category="opaque_fees", key="k2", entered=at(10, 21, 12), resolved_at=at(10, 29, 9),
                  proposed_at=at(10, 29, 9), satisfaction="dissatisfied"),
        complaint(at(10, 31, 20), severity="urgent", channel="letter", category="system_failure", key="k1",
                  contacted_at=at(11, 1, 8)),
        complaint(at(10, 1, 0, 30), unit="binjianghuayuan", channel="email", category="other",
                  entered=at(10, 1, 1)),
        complaint(at(11, 1), key="k2"),
        complaint(datetime(2026, 9, 30, 23, 0, tzinfo=SH), unit="guangminglu", key="k2"),
        complaint(at(8, 15), key="k3"),
        complaint(at(7, 1)),
        complaint(datetime(2026, 6, 30, 10, 0, tzinfo=SH)),
    ]


@pytest.fixture
def session(session_factory):
    with session_factory() as s:
        s.add_all(rows())
        s.commit()
        yield s


def stats(session, month: str = "2026-10", **kw):
    return month_stats(session, month=month, cfg=CFG, tz=SH, calendar=CAL, now=NOW, **kw)


def test_october_by_hand(session):
    s = stats(session)
    assert s["month"] == "2026-10"
    assert s["total"] == 4
    assert s["by"] == {
        "unit": {"xinhualu": 2, "binjianghuayuan": 1, "guangminglu": 1},
        "channel": {"email": 1, "hotline": 1, "letter": 1, "walk_in": 1},
        "category": {"opaque_fees": 1, "other": 1, "service_attitude": 1, "system_failure": 1},
        "severity": {"general": 2, "important": 1, "urgent": 1}}
    # entry: C1, C3, C5 met, C2 late; contact: C1, C3 met, C2, C5 overdue; resolve: C1 met, C2 late, C3 and C5
    # overdue; reply: C1, C2 met, C5 overdue, C3 still running (left out)
    assert s["on_time"] == {"entry": 0.75, "contact": 0.5, "resolve": 0.25, "reply": 0.6667}
    assert s["on_time_counts"]["reply"] == {"met": 2, "late": 0, "running": 1, "overdue": 1}
    assert s["average_resolution_days"] == 6.0  # C1 3 days, C2 9 days
    assert (s["satisfaction_rate"], s["return_visits"]) == (0.5, 2)
    assert s["repeat_complaints"] == 2  # C3 (k1, after C1) and C2 (k2, after C6 in September)
    assert s["quarter_change"] == {"quarter": "2026-Q4", "count": 5, "previous_quarter": "2026-Q3",
                                   "previous_count": 3, "change": 0.6667, "complete": False}
    assert s["goals"] == {"average_resolution_days": 7, "satisfaction_rate": 0.8, "satisfaction_baseline": 0.65,
                          "quarterly_change": -0.1}


def test_scoped_to_one_outlet(session):
    s = stats(session, unit_ids={"xinhualu"})
    assert s["total"] == 2 and s["by"]["unit"] == {"xinhualu": 2}
    assert s["repeat_complaints"] == 1  # C3 after C1
    assert s["on_time"] == {"entry": 1.0, "contact": 1.0, "resolve": 0.5, "reply": 1.0}
    # Q4: C1, C3, C4; Q3: C7, C8 (C6 is guangminglu's)
    assert (s["quarter_change"]["count"], s["quarter_change"]["previous_count"]) == (3, 2)
    assert s["quarter_change"]["change"] == 0.5


def test_a_month_without_complaints_has_no_rates(session):
    s = stats(session, month="2026-12")
    assert s["total"] == 0 and s["by"]["channel"] == {}
    assert s["on_time"] == {"entry": None, "contact": None, "resolve": None, "reply": None}
    assert s["average_resolution_days"] is None and s["satisfaction_rate"] is None
    assert s["quarter_change"]["count"] == 5  # the quarter still counts October and November


@pytest.mark.parametrize("bad", ["2026-13", "2026/10", "", "26-10", "2026-1", "２０２６-10"])
def test_a_bad_month_is_refused_in_both_languages(bad):
    with pytest.raises(StatsError) as exc:
        Month.parse(bad)
    assert "YYYY-MM" in exc.value.en and "月份格式" in exc.value.zh


def test_quarters_wrap_the_year():
    assert Month.parse("2026-02").quarter_start().plus(-3) == Month(2025, 10)
    assert str(Month.parse("2026-12").plus(1)) == "2027-01"
