"""Acting on alerts and tasks through the API and the dashboard forms, with the incidents service for real."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from incidents.models import Alert, Incident, Task
from yuqing.models import AuditEntry


def _fresh(session, model, ident):
    session.expire_all()
    return session.get(model, ident)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_ack_via_api_acknowledges_the_alert_and_writes_the_audit_log(client, make, token_for, session):
    story = make.story(unit_id="xinhualu")
    alert = make.alert(story=story)
    session.commit()
    r = client.post(f"/api/v1/alerts/{alert.id}/ack", headers=token_for("wangmin"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged" and r.json()["acknowledged_by"] == "wangmin"
    row = _fresh(session, Alert, alert.id)
    assert row.status == "acknowledged" and row.acknowledged_by == "wangmin"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.acknowledge")).all()
    assert [(a.actor, a.object_id) for a in audit] == [("wangmin", str(alert.id))]
    again = client.post(f"/api/v1/alerts/{alert.id}/ack", headers=token_for("wangmin"))
    assert again.status_code == 409 and "无需重复确认" in again.json()["detail"]


def test_liaison_may_not_acknowledge_and_nobody_may_touch_another_units_alert(client, make, token_for, session):
    mine = make.alert(story=make.story(unit_id="xinhualu"))
    theirs = make.alert(story=make.story(unit_id="binjianghuayuan"))
    session.commit()
    r = client.post(f"/api/v1/alerts/{mine.id}/ack", headers=token_for("zhoufang"))
    assert r.status_code == 403 and "角色" in r.json()["detail"]
    r = client.post(f"/api/v1/alerts/{theirs.id}/dismiss", headers=token_for("zhoufang"), json={"reason": "x"})
    assert r.status_code == 403
    assert _fresh(session, Alert, mine.id).status == "open"
    assert _fresh(session, Alert, theirs.id).status == "open"


def test_dismiss_via_api_keeps_the_reason(client, make, token_for, session):
    alert = make.alert(story=make.story(unit_id="kejiyuan", title="科技园网点招聘启事"))
    session.commit()
    r = client.post(f"/api/v1/alerts/{alert.id}/dismiss", headers=token_for("wangmin"),
                    json={"reason": "招聘广告，非负面"})
    assert r.status_code == 200 and r.json()["status_name"] == "误报"
    row = _fresh(session, Alert, alert.id)
    assert row.status == "dismissed" and row.dismissed_reason == "招聘广告，非负面" and row.dismissed_by == "wangmin"
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "alert.dismiss")).actor == "wangmin"


def test_open_incident_from_alert_via_api_builds_the_checklist(client, make, token_for, session):
    story = make.story(unit_id="xinhualu")
    make.article(story=story)
    alert = make.alert(story=story, level="III")
    session.commit()
    r = client.post(f"/api/v1/alerts/{alert.id}/incident", headers=token_for("liuqiang"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["level"] == "III" and body["tasks_total"] > 0 and body["unit"]["id"] == "xinhualu"
    assert _fresh(session, Alert, alert.id).incident_id == body["id"]
    assert client.post(f"/api/v1/alerts/{alert.id}/incident", headers=token_for("liuqiang")).status_code == 409


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_complete_task_via_api_by_the_units_liaison(client, make, token_for, session):
    _, _, incident = make.crisis(unit_id="xinhualu")
    task = incident.tasks[0]  # a liaison step of 新华路网点: its own liaison's, not the sub-branch liaison's
    refused = client.post(f"/api/v1/tasks/{task.id}/complete", headers=token_for("zhoufang"), json={"note": "x"})
    assert refused.status_code == 403 and refused.json()["detail"] == "无权完成此任务：“核实情况”由联络人负责"
    r = client.post(f"/api/v1/tasks/{task.id}/complete", headers=token_for("huangwei"), json={"note": "已电话核实"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done" and r.json()["done_by"] == "huangwei" and r.json()["note"] == "已电话核实"
    row = _fresh(session, Task, task.id)
    assert row.status == "done" and row.done_by == "huangwei"
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "task.complete")).actor == "huangwei"
    detail = client.get(f"/api/v1/incidents/{incident.id}", headers=token_for("huangwei")).json()
    assert detail["tasks_done"] == 1 and any(e["kind"] == "task_done" for e in detail["timeline"])
    assert client.post(f"/api/v1/tasks/{task.id}/complete", headers=token_for("huangwei")).status_code == 409
    other = make.crisis(unit_id="gaoxin", title="高新区支行")[2].tasks[0]
    assert client.post(f"/api/v1/tasks/{other.id}/complete", headers=token_for("huangwei")).status_code == 403


def test_dashboard_ack_form_needs_the_csrf_token(login_as, make, session, csrf_of):
    alert = make.alert(story=make.story(unit_id="xinhualu", title="新华路网点排长队"))
    session.commit()
    c = login_as("wangmin")
    page = c.get("/alerts")
    assert f'action="/alerts/{alert.id}/ack"' in page.text
    refused = c.post(f"/alerts/{alert.id}/ack", data={"csrf_token": "forged-forged-forged"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert c.post(f"/alerts/{alert.id}/ack", data={}).status_code == 403
    assert _fresh(session, Alert, alert.id).status == "open"
    ok = c.post(f"/alerts/{alert.id}/ack", data={"csrf_token": csrf_of(page.text)})
    assert ok.status_code == 303 and ok.headers["location"] == "/alerts?done=ack"
    assert _fresh(session, Alert, alert.id).status == "acknowledged"
    assert "已确认预警" in c.get(ok.headers["location"]).text


def test_dashboard_dismiss_and_task_forms(login_as, make, session, csrf_of):
    alert = make.alert(story=make.story(unit_id="kejiyuan", title="科技园网点招聘"))
    _, _, incident = make.crisis(unit_id="xinhualu")
    session.commit()
    c = login_as("wangmin")
    token = csrf_of(c.get("/alerts").text)
    r = c.post(f"/alerts/{alert.id}/dismiss", data={"csrf_token": token, "reason": "招聘信息"})
    assert r.status_code == 303
    assert _fresh(session, Alert, alert.id).dismissed_reason == "招聘信息"
    task_id = incident.tasks[0].id  # owned by the outlet's liaison: the duty monitor is not shown its button
    assert f'action="/tasks/{task_id}/complete"' not in c.get(f"/incidents/{incident.id}").text
    c = login_as("huangwei")
    page = c.get(f"/incidents/{incident.id}")
    assert f'action="/tasks/{task_id}/complete"' in page.text and "完成" in page.text
    r = c.post(f"/tasks/{task_id}/complete", data={"csrf_token": csrf_of(page.text), "note": "已核实"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/incidents/{incident.id}?done=task")
    assert _fresh(session, Task, task_id).status == "done"
    after = c.get(r.headers["location"])
    assert "已完成" in after.text and "任务已完成" in after.text


def test_dashboard_open_incident_button(login_as, make, session, csrf_of):
    story = make.story(unit_id="xinhualu")
    make.article(story=story)
    alert = make.alert(story=story, level="IV")
    session.commit()
    c = login_as("liuqiang")
    page = c.get("/alerts")
    r = c.post(f"/alerts/{alert.id}/incident", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    incident = session.scalar(select(Incident))
    assert r.headers["location"] == f"/incidents/{incident.id}?done=incident"
    assert "已立案" in c.get(r.headers["location"]).text


def test_liaison_page_has_no_alert_buttons_and_posting_anyway_is_403(login_as, make, session, csrf_of):
    alert = make.alert(story=make.story(unit_id="xinhualu"))
    session.commit()
    c = login_as("zhoufang")
    page = c.get("/alerts")
    assert page.status_code == 200 and f'action="/alerts/{alert.id}/ack"' not in page.text
    r = c.post(f"/alerts/{alert.id}/ack", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 403 and "无权" in r.text
