"""/api/v1/reports/issues: the issued 日报 / 周报 listed for branch-wide callers, and acknowledged through the API —
a leader's acknowledgement is their 知悉 of the cases it lists."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from incidents.briefings import delivery
from incidents.briefings.models import ReportReceipt
from incidents.models import LeadershipAcknowledgement
from yuqing.models import AuditEntry


def test_issued_reports_are_listed_for_the_branch_and_a_leaders_acknowledgement_is_their_notice(
        client, make, session, clock, policy, org, token_for):
    _, _, incident = make.crisis(unit_id="xinhualu", level="III", title="示例银行新华路网点排长队")
    issue = delivery.issue_report(session, kind="daily", day=(clock.now() - timedelta(days=1)).date(), org=org,
                                  policy=policy, clock=clock)
    session.commit()
    leader, liaison, commander = token_for("chenjing"), token_for("huangwei"), token_for("liuqiang")

    listed = client.get("/api/v1/reports/issues", headers=commander).json()
    assert listed["total"] == 1 and listed["items"][0]["number"] == issue.number
    assert listed["items"][0]["kind_name"] == "舆情日报" and listed["items"][0]["incident_ids"] == [incident.id]
    assert listed["items"][0]["acknowledged_at"] is None
    assert client.get("/api/v1/reports/issues", headers=liaison).json() == {"items": [], "total": 0,
                                                                           "next_cursor": None, "total_capped": False}
    assert client.post(f"/api/v1/reports/issues/{issue.id}/ack", headers=liaison).status_code == 403

    r = client.post(f"/api/v1/reports/issues/{issue.id}/ack", headers=leader)
    assert r.status_code == 200, r.text
    assert r.json()["acknowledged_at"] and r.json()["leader_acknowledged_incidents"] == [incident.id]
    session.expire_all()
    acks = session.scalars(select(LeadershipAcknowledgement)).all()
    assert [(a.incident_id, a.leader_id) for a in acks] == [(incident.id, "chenjing")]
    receipt = session.scalars(select(ReportReceipt).where(ReportReceipt.person_id == "chenjing")).one()
    assert receipt.via == "api"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.acknowledge")).all()
    assert [(a.actor, a.object_id) for a in audit] == [("chenjing", str(issue.id))]

    again = client.post(f"/api/v1/reports/issues/{issue.id}/ack", headers=leader)
    assert again.status_code == 200 and again.json()["acknowledged_at"] == r.json()["acknowledged_at"]
    assert client.get("/api/v1/reports/issues", headers=leader).json()["items"][0]["acknowledged_at"]
