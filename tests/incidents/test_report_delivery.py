"""The 舆情日报 delivered to leadership on a schedule, and a leader opening or acknowledging it as their 知悉 of the
level III cases it lists — which stops those cases' leadership clock ("leadership told: daily report")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from incidents import queries, service
from incidents.briefings import delivery
from incidents.briefings.models import ReportIssue, ReportReceipt
from incidents.models import Incident, LeadershipAcknowledgement, Notification
from incidents.notify import with_email_relay
from yuqing.models import AuditEntry

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 Asia/Shanghai: the case opens
TUESDAY_0830 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
TUESDAY_0905 = datetime(2026, 11, 24, 1, 5, tzinfo=UTC)


def level_three_case(session, org, policy, clock, make_story, make_risk) -> Incident:
    story = make_story(title="示例银行新华路网点排长队，客户不满")
    risk = make_risk(story=story, level="III", score=40.0)
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    session.commit()
    return session.get(Incident, out.incident_id)


def test_the_daily_report_goes_out_once_at_report_time_to_the_configured_people(session, org, policy, clock,
                                                                                make_story, make_risk):
    incident = level_three_case(session, org, policy, clock, make_story, make_risk)
    clock.set(TUESDAY_0830)
    assert delivery.issue_due_reports(session, org=org, policy=policy, clock=clock) == 0  # before 09:00
    clock.set(TUESDAY_0905)
    mailing = with_email_relay(policy, "127.0.0.1", 2525)  # email on (config/channels.yaml ships it off)
    queued = delivery.issue_due_reports(session, org=org, policy=mailing, clock=clock)
    session.commit()
    issue = session.scalars(select(ReportIssue)).one()
    assert issue.kind == "daily" and issue.number == "RB-20261123" and issue.incident_ids == [incident.id]
    rows = session.scalars(select(Notification).where(Notification.purpose == "daily_report")).all()
    assert queued == len(rows) > 0
    people = {r.recipient_id for r in rows}
    assert {"chenjing", "liuqiang"} <= people  # leaders and commanders of the branch (config/reports.yaml)
    assert {r.channel for r in rows if r.recipient_id == "chenjing"} >= {"in_app", "email"}
    body = rows[0].body
    assert "处理链接：/reports/issues/" in body and incident.number in body and "阅知或确认本报告" in body
    assert delivery.issue_due_reports(session, org=org, policy=policy, clock=clock) == 0  # once per day


def test_a_leader_opening_the_daily_report_stops_the_leadership_clock_of_the_cases_it_lists(
        session, org, policy, clock, make_story, make_risk):
    incident = level_three_case(session, org, policy, clock, make_story, make_risk)
    lead = {c.key: c for c in queries.incident_clocks(session, incident=incident, policy=policy, clock=clock)}
    assert lead["leadership_notice"].status != "done"  # level III: due at the next daily report (09:00)
    clock.set(TUESDAY_0905)
    delivery.issue_due_reports(session, org=org, policy=policy, clock=clock)
    issue = session.scalars(select(ReportIssue)).one()
    scope = {u.id for u in org.units}
    # a commander opening it is a receipt, not a leader's 知悉
    assert delivery.record_receipt(session, issue=issue, person=org.person("liuqiang"), unit_ids=scope, via="page",
                                   acknowledge=False, clock=clock) == []
    clock.set(TUESDAY_0905 + timedelta(minutes=2))
    done = delivery.record_receipt(session, issue=issue, person=org.person("chenjing"), unit_ids=scope,
                                   via="page", acknowledge=False, clock=clock)
    session.commit()
    assert done == [incident.id]
    ack = session.scalars(select(LeadershipAcknowledgement)).one()
    assert ack.leader_id == "chenjing" and "RB-20261123" in ack.note
    clocks = {c.key: c for c in queries.incident_clocks(session, incident=incident, policy=policy, clock=clock)}
    assert clocks["leadership_notice"].status == "done"
    # acknowledging afterwards records the receipt's acknowledgement (audited), never a second 知悉
    assert delivery.record_receipt(session, issue=issue, person=org.person("chenjing"), unit_ids=scope, via="inbox",
                                   acknowledge=True, clock=clock) == []
    session.commit()
    receipt = session.scalars(select(ReportReceipt).where(ReportReceipt.person_id == "chenjing")).one()
    assert receipt.opened_at is not None and receipt.acknowledged_at is not None
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "report.acknowledge")).one()
    assert len(session.scalars(select(LeadershipAcknowledgement)).all()) == 1


def test_a_leader_outside_the_cases_units_records_nothing_for_them(session, org, policy, clock, make_story,
                                                                   make_risk):
    level_three_case(session, org, policy, clock, make_story, make_risk)
    clock.set(TUESDAY_0905)
    delivery.issue_due_reports(session, org=org, policy=policy, clock=clock)
    issue = session.scalars(select(ReportIssue)).one()
    assert delivery.record_receipt(session, issue=issue, person=org.person("chenjing"), unit_ids={"binjiang"},
                                   via="page", acknowledge=True, clock=clock) == []


def test_the_weekly_report_goes_out_on_its_weekday_for_the_week_before(session, org, policy, clock):
    clock.set(datetime(2026, 11, 30, 1, 30, tzinfo=UTC))  # Monday 09:30
    delivery.issue_due_reports(session, org=org, policy=policy, clock=clock)
    kinds = {(i.kind, i.number) for i in session.scalars(select(ReportIssue))}
    assert kinds == {("daily", "RB-20261129"), ("weekly", "ZB-2026W48")}
    config = delivery.ReportsConfig(weekly=delivery.WeeklyDelivery(enabled=False))
    clock.set(datetime(2026, 12, 7, 1, 30, tzinfo=UTC))
    delivery.issue_due_reports(session, org=org, policy=policy, clock=clock, config=config)
    assert {i.number for i in session.scalars(select(ReportIssue))} == {"RB-20261129", "ZB-2026W48", "RB-20261206"}


def test_reports_config_errors_name_the_file_and_field(tmp_path):
    import pytest

    from yuqing.errors import ConfigError

    bad = tmp_path / "reports.yaml"
    bad.write_text("weekly:\n  weekday: 9\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        delivery.load_reports_config(bad)
    assert "reports.yaml" in str(exc.value) and "weekday" in str(exc.value)
    assert delivery.load_reports_config(tmp_path / "missing.yaml") == delivery.ReportsConfig()


def test_issue_and_receipt_on_both_databases(session_factory, org, policy, clock):
    from tests.incidents.conftest import _make_risk, _make_story

    with session_factory() as s:
        story = _make_story(s, clock=clock, title="示例银行新华路网点排长队，客户不满")
        risk = _make_risk(s, story=story, clock=clock, level="III", score=40.0)
        out = service.handle_story_risk(s, story_risk=risk, org=org, policy=policy, clock=clock)
        s.commit()
        clock.set(TUESDAY_0905)
        assert delivery.issue_due_reports(s, org=org, policy=policy, clock=clock) > 0
        s.commit()
        assert delivery.issue_due_reports(s, org=org, policy=policy, clock=clock) == 0
        issue = s.scalars(select(ReportIssue)).one()
        assert delivery.record_receipt(s, issue=issue, person=org.person("chenjing"), unit_ids={"xinhualu"},
                                       via="link", acknowledge=True, clock=clock) == [out.incident_id]
        s.commit()
        assert s.scalars(select(ReportReceipt)).one().via == "link"
