"""Briefings through the product: the 专报 draft page (生成专报草稿 → edit → file: the report event that stops its
clock, every version kept), the reports page, and /api/v1/reports in each format, scoped to the caller's units."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest
from sqlalchemy import select

from incidents.models import IncidentReport


def test_draft_page_files_the_edited_briefing_as_the_report(login_as, make, session, csrf_of):
    _, _, incident = make.crisis(unit_id="xinhualu", title="示例银行新华路网点<script>alert(1)</script>排长队")
    com, mon = login_as("liuqiang"), login_as("wangmin")
    assert f'href="/incidents/{incident.id}/briefing"' in com.get(f"/incidents/{incident.id}").text
    page = com.get(f"/incidents/{incident.id}/briefing")
    assert page.status_code == 200 and "舆情专报（初报）" in page.text  # nothing filed yet: 初报
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
    assert f'action="/incidents/{incident.id}/reports"' in page.text
    assert f'action="/incidents/{incident.id}/reports"' not in mon.get(f"/incidents/{incident.id}/briefing").text

    draft = page.text.split('name="text" rows="28" maxlength="20000" required>')[1].split("</textarea>")[0]
    text = "【已核实】" + draft
    r = com.post(f"/incidents/{incident.id}/reports",
                 data={"kind": "initial", "text": text, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    filed = session.scalars(select(IncidentReport).where(IncidentReport.incident_id == incident.id)).all()
    assert [(f.kind, f.version) for f in filed] == [("initial", 1)]
    assert filed[0].text.startswith("【已核实】") and "舆情专报（初报）" in filed[0].text
    follow = com.get(f"/incidents/{incident.id}/briefing")
    assert "舆情专报（续报（第1期））" in follow.text  # after 初报 the next one is 续报
    for _ in range(2):
        r = com.post(f"/incidents/{incident.id}/reports",
                     data={"kind": "follow_up", "text": "续报正文", "csrf_token": csrf_of(follow.text)})
        assert r.status_code == 303
    session.expire_all()
    versions = [(f.kind, f.version) for f in session.scalars(select(IncidentReport)
                                                               .where(IncidentReport.incident_id == incident.id)
                                                               .order_by(IncidentReport.id))]
    assert versions == [("initial", 1), ("follow_up", 1), ("follow_up", 2)]  # every version kept
    page = com.get(f"/incidents/{incident.id}/briefing").text
    first = filed[0].id
    assert f"/api/v1/reports/filed/{first}?format=pdf" in page  # each filed version downloads as it was filed
    as_filed = com.get(f"/api/v1/reports/filed/{first}?format=docx")
    assert as_filed.status_code == 200 and as_filed.content.startswith(b"PK")
    data = com.get(f"/api/v1/reports/filed/{first}").json()
    assert data["title"] == "舆情专报（初报）" and data["text"].count("【已核实】") == 1


@pytest.mark.parametrize("fmt, magic", [("html", b"<!DOCTYPE html>"), ("pdf", b"%PDF"), ("docx", b"PK")])
def test_api_serves_each_format(make, token_for, app, fmt, magic):
    from fastapi.testclient import TestClient

    _, _, incident = make.crisis(unit_id="xinhualu")
    with TestClient(app) as client:
        headers = token_for("chenjing")
        r = client.get(f"/api/v1/reports/incidents/{incident.id}?kind=initial&format={fmt}", headers=headers)
        assert r.status_code == 200 and r.content.startswith(magic)
        if fmt == "docx":
            assert zipfile.is_zipfile(BytesIO(r.content))
        if fmt == "html":
            assert "default-src 'none'" in r.headers["content-security-policy"]
        daily = client.get(f"/api/v1/reports/daily?format={fmt}", headers=headers)
        assert daily.status_code == 200 and daily.content.startswith(magic)
        bad = client.get("/api/v1/reports/weekly?week=2026-99", headers=headers)
        assert bad.status_code == 422
        data = client.get(f"/api/v1/reports/incidents/{incident.id}", headers=headers).json()  # JSON by default
        assert data["title"] == "舆情专报（初报）" and data["attachments"][0]["evidence_hash"]
        assert {"label": "涉及单位", "value": "示例银行江城分行新华路网点"} in data["header"]


def test_reports_are_scoped_to_the_callers_units(make, token_for, app):
    from fastapi.testclient import TestClient

    make.crisis(unit_id="binjianghuayuan", title="示例银行滨江花园网点排长队")
    _, _, own = make.crisis(unit_id="xinhualu", title="示例银行新华路网点排长队")
    with TestClient(app) as client:
        outlet = token_for("huangwei")  # the 新华路网点 liaison
        daily = client.get("/api/v1/reports/daily?format=html", headers=outlet).text
        assert "新华路网点" in daily and "滨江花园" not in daily and "统计范围" in daily
        assert client.get(f"/api/v1/reports/incidents/{own.id}", headers=outlet).status_code == 200
        whole = client.get("/api/v1/reports/daily?format=html", headers=token_for("chenjing")).text
        assert "滨江花园" in whole


def test_reports_page_links_each_format(login_as, make):
    make.crisis(unit_id="xinhualu")
    page = login_as("chenjing").get("/reports")
    assert page.status_code == 200 and "舆情日报" in page.text and "舆情周报" in page.text
    assert "/api/v1/reports/daily?date=" in page.text and "format=docx" in page.text
    assert 'href="/reports"' in page.text  # in the navigation


def test_an_issued_daily_report_opened_or_acknowledged_by_a_leader_is_their_notice_of_its_cases(
        login_as, make, session, clock, csrf_of, policy, org):
    from datetime import timedelta

    from incidents.briefings import delivery
    from incidents.briefings.models import ReportReceipt
    from incidents.models import LeadershipAcknowledgement, Notification

    _, _, incident = make.crisis(unit_id="xinhualu", level="III", title="示例银行新华路网点排长队")
    issue = delivery.issue_report(session, kind="daily", day=(clock.now() - timedelta(days=1)).date(), org=org,
                                  policy=policy, clock=clock)
    session.commit()
    assert issue.incident_ids == [incident.id]
    page = f"/reports/issues/{issue.id}"
    assert login_as("huangwei").get(page).status_code == 403  # an outlet liaison: the branch's report is not theirs
    com = login_as("liuqiang")
    assert com.get(page).status_code == 200
    assert session.scalars(select(LeadershipAcknowledgement)).all() == []  # a commander's receipt is no 知悉
    lea = login_as("chenjing")
    shown = lea.get(page)
    assert shown.status_code == 200 and incident.number in shown.text and "确认阅知" in shown.text
    session.expire_all()
    acks = session.scalars(select(LeadershipAcknowledgement)).all()
    assert [(a.incident_id, a.leader_id) for a in acks] == [(incident.id, "chenjing")]
    r = lea.post(f"{page}/ack", data={"csrf_token": csrf_of(shown.text)})
    assert r.status_code == 303 and "已确认阅知本报告" in lea.get(r.headers["location"]).text
    assert '<a href="/reports/issues/' in lea.get("/reports").text  # listed on the reports page
    # the inbox: the delivered message links to the issue; acknowledging it acknowledges the report
    message = session.scalars(select(Notification).where(Notification.recipient_id == "liuqiang",
                                                         Notification.channel == "in_app")).one()
    inbox = com.get("/inbox").text
    assert f'href="{page}"' in inbox
    r = com.post(f"/inbox/{message.id}/ack", data={"csrf_token": csrf_of(inbox)})
    assert r.status_code == 303
    session.expire_all()
    receipt = session.scalars(select(ReportReceipt).where(ReportReceipt.person_id == "liuqiang")).one()
    assert receipt.acknowledged_at is not None and receipt.via == "inbox"
