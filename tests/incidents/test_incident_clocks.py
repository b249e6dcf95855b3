"""Pure logic without a database: reporting clocks, level arithmetic, escalation chains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents.clocks import IncidentFacts, compute_clocks, step_due_at
from incidents.escalation import build_chain, next_step
from incidents.levels import automatic_level, check_manual_change, highest, is_higher, severity

SH = ZoneInfo("Asia/Shanghai")
OPEN = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


def by_key(clocks):
    return {c.key: c for c in clocks}


def test_level_iii_clocks_and_their_status_over_time(policy):
    facts = IncidentFacts(opened_at=OPEN, level_history=[("III", OPEN)])
    c = by_key(compute_clocks(facts, policy=policy, now=OPEN))
    assert set(c) == {"ack", "leadership_notice", "initial_report", "update_report"}
    assert c["ack"].due_at == OPEN + timedelta(minutes=30)
    # Leadership hears about a level-III incident in the next daily report (09:00 local, next day).
    assert c["leadership_notice"].due_at.astimezone(SH) == datetime(2026, 11, 24, 9, 0, tzinfo=SH)
    assert c["initial_report"].due_at == OPEN + timedelta(hours=24)
    assert c["update_report"].due_at == OPEN + timedelta(hours=48)
    assert c["ack"].status == "ok"
    assert by_key(compute_clocks(facts, policy=policy, now=OPEN + timedelta(minutes=25)))["ack"].status == "due_soon"
    assert by_key(compute_clocks(facts, policy=policy, now=OPEN + timedelta(minutes=31)))["ack"].status == "overdue"
    acked = IncidentFacts(opened_at=OPEN, level_history=[("III", OPEN)],
                          acknowledged_at=OPEN + timedelta(minutes=40))
    ack = by_key(compute_clocks(acked, policy=policy, now=OPEN + timedelta(hours=2)))["ack"]
    assert ack.status == "done" and ack.done_at == OPEN + timedelta(minutes=40)


def test_level_iv_has_no_report_clocks(policy):
    facts = IncidentFacts(opened_at=OPEN, level_history=[("IV", OPEN)])
    c = by_key(compute_clocks(facts, policy=policy, now=OPEN))
    assert set(c) == {"ack", "leadership_notice"}
    assert c["leadership_notice"].due_at.astimezone(SH) == datetime(2026, 11, 30, 9, 0, tzinfo=SH)  # next Monday


def test_raising_the_level_shortens_clocks_from_the_moment_of_the_rise(policy):
    rise = OPEN + timedelta(hours=5)
    facts = IncidentFacts(opened_at=OPEN, level_history=[("III", OPEN), ("I", rise)],
                          reports={"leadership_notice": [rise + timedelta(minutes=10)]})
    c = by_key(compute_clocks(facts, policy=policy, now=rise + timedelta(minutes=59)))
    assert c["initial_report"].due_at == rise + timedelta(hours=1)
    assert c["initial_report"].status == "due_soon"
    assert c["regulator_report"].due_at == rise + timedelta(hours=12)
    assert c["ack"].due_at == OPEN + timedelta(minutes=30)  # the earlier deadline stays
    assert c["leadership_notice"].status == "done"
    # 续报 every 2 h at level I, counted from the last report filed.
    filed = rise + timedelta(minutes=50)
    facts2 = IncidentFacts(opened_at=OPEN, level_history=[("III", OPEN), ("I", rise)],
                           reports={"initial_report": [filed]})
    c2 = by_key(compute_clocks(facts2, policy=policy, now=filed))
    assert c2["initial_report"].status == "done"
    assert c2["update_report"].due_at == filed + timedelta(hours=2)


def test_closing_starts_final_report_and_review_clocks(policy):
    closed = datetime(2026, 9, 29, 8, 0, tzinfo=UTC)  # Tue 16:00 local, just before 国庆
    facts = IncidentFacts(opened_at=closed - timedelta(days=2), level_history=[("II", closed - timedelta(days=2))],
                          acknowledged_at=closed - timedelta(days=2), closed_at=closed,
                          reports={"final_report": [closed + timedelta(hours=3)]})
    c = by_key(compute_clocks(facts, policy=policy, now=closed + timedelta(hours=4)))
    assert "update_report" not in c
    assert c["final_report"].due_at == closed + timedelta(hours=24) and c["final_report"].status == "done"
    # 5 working days: Wed 09-30, then (holiday 10-01..07) Thu 10-08, Fri 10-09, Sat 10-10 (调休), Mon 10-12.
    assert c["review"].due_at.astimezone(SH) == datetime(2026, 10, 12, 16, 0, tzinfo=SH)
    assert c["review"].status == "ok"


def test_step_deadlines_by_minutes_level_override_working_days_and_clock(policy):
    complaint = {s.key: s for s in policy.playbooks["viral_complaint"].steps}
    assert step_due_at(complaint["contact_complainant"], level="III", start=OPEN, policy=policy) == (
        OPEN + timedelta(hours=48))
    assert step_due_at(complaint["contact_complainant"], level="I", start=OPEN, policy=policy) == (
        OPEN + timedelta(hours=48))  # the complaint rule, counted from the first post (incidents.playbooks)
    assert complaint["contact_complainant"].due_from == "first_published"
    assert step_due_at(complaint["resolve_case"], level="IV", start=OPEN, policy=policy).astimezone(SH) == (
        datetime(2026, 11, 26, 10, 0, tzinfo=SH))
    assert step_due_at(complaint["initial_report"], level="II", start=OPEN, policy=policy) == (
        OPEN + timedelta(hours=2))
    assert step_due_at(complaint["complaint_statistics"], level="II", start=OPEN, policy=policy) is None


def test_levels_go_up_automatically_never_down():
    assert severity("I") == 4 and severity("IV") == 1
    assert is_higher("I", "II") and not is_higher("III", "II")
    assert highest("III", None, "II") == "II"
    assert automatic_level("II", "III") == "II"
    assert automatic_level("III", "I") == "I"
    assert automatic_level(None, "IV") == "IV"
    assert check_manual_change("II", "I", "") == "up"
    assert check_manual_change("I", "III", "已澄清，传播回落") == "down"
    with pytest.raises(ValueError, match="reason"):
        check_manual_change("I", "III", "  ")
    with pytest.raises(ValueError, match="already"):
        check_manual_change("II", "II", "x")
    with pytest.raises(ValueError):
        severity("V")


def test_escalation_chain_for_an_outlet_goes_monitors_commander_leaders(org):
    chain = build_chain(org, "xinhualu", ["monitor", "commander", "leader"])
    assert [(s.index, s.role, s.people) for s in chain] == [
        (0, "monitor", ("wangmin", "zhaolei")), (1, "commander", ("liuqiang",)),
        (2, "leader", ("chenjing", "sunhua"))]
    due = OPEN + timedelta(minutes=30)
    assert next_step(chain, 0, status="open", ack_due_at=due, now=due - timedelta(seconds=1)) is None
    assert next_step(chain, 0, status="open", ack_due_at=due, now=due).people == ("liuqiang",)
    assert next_step(chain, 0, status="acknowledged", ack_due_at=due, now=due + timedelta(hours=1)) is None
    assert next_step(chain, 2, status="open", ack_due_at=due, now=due + timedelta(hours=1)) is None


def test_escalation_chain_skips_roles_nobody_new_holds(org):
    # At head office 杨帆 is both monitor and commander, and there are no leaders: one step only.
    chain = build_chain(org, "head-office", ["monitor", "commander", "leader"])
    assert [(s.role, s.people) for s in chain] == [("monitor", ("yangfan",))]
