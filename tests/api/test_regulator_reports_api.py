"""Reports to the regulator and the central bank, reached as a user would: the JSON API (list, template, record),
the incident page's 报告监管部门 / 报告人民银行 form, and refusals for those the lifecycle does not allow."""

from __future__ import annotations

from sqlalchemy import select

from incidents import service
from incidents.models import Incident, RegulatorReport, Task

NFRA = "国家金融监督管理总局江城监管分局"
PBOC = "中国人民银行江城市分行"


def open_run_case(session, make, org, policy, clock, level: str = "II") -> Incident:
    """What the pipeline leaves for a run rumour reported by the news: an incident with its real checklist."""
    story = make.story(unit_id="xinhualu")
    make.article(story=story)
    risk = make.story_risk(story=story, level=level, category="withdrawal_bank_run")
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    session.commit()
    return session.get(Incident, out.incident_id)


def test_the_api_lists_drafts_and_records_a_report_and_the_incident_shows_it(client, session, make, org, policy,
                                                                              clock, token_for):
    incident = open_run_case(session, make, org, policy, clock)
    url = f"/api/v1/incidents/{incident.id}/regulator-reports"
    assert client.get(url, headers=token_for("huangwei")).json() == {"items": [], "total": 0,
                                                                 "next_cursor": None, "total_capped": False}  # in scope

    draft = client.get(f"{url}/draft?kind=pboc_report", headers=token_for("liuqiang")).json()
    assert (draft["to"], draft["recipient_name"], draft["methods"]) == (
        "pboc_jiangcheng", PBOC, ["电话", "书面报告", "传真"])
    assert f"{PBOC}金融稳定科：" in draft["text"] and incident.number in draft["text"] and "【待核实" in draft["text"]

    refused = client.post(url, headers=token_for("liuqiang"), json={"kind": "pboc_report", "method": "电话",
                                                                    "text": draft["text"]})
    assert refused.status_code == 422 and "待核实" in refused.json()["detail"]
    r = client.post(url, headers=token_for("liuqiang"),
                    json={"kind": "pboc_report", "method": "电话", "reference": "",
                          "text": "已电话报告金融稳定科值班人员：网点秩序正常，现金充足。"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["kind"], body["recipient_key"], body["recipient_name"], body["reported_by_name"]) == (
        "pboc_report", "pboc_jiangcheng", PBOC, "刘强")

    shown = client.get(f"/api/v1/incidents/{incident.id}", headers=token_for("liuqiang")).json()
    assert [r["recipient_name"] for r in shown["regulator_reports"]] == [PBOC]
    assert next(c for c in shown["clocks"] if c["key"] == "pboc_report")["status"] == "done"
    assert next(t for t in shown["tasks"] if t["key"] == "pboc_report")["status"] == "done"
    assert [p["id"] for p in shown["playbooks"]] == ["rumour_bank_run", "media_exposure"]
    assert client.get(url, headers=token_for("chenjing")).json()["total"] == 1


def test_a_liaison_a_monitor_and_legal_may_not_record_and_nothing_changes(client, session, make, org, policy, clock,
                                                                          token_for):
    incident = open_run_case(session, make, org, policy, clock)
    url = f"/api/v1/incidents/{incident.id}/regulator-reports"
    for login in ("huangwei", "wangmin", "qianyu"):
        r = client.post(url, headers=token_for(login), json={"kind": "regulator_report", "method": "电话",
                                                            "text": "报告"})
        assert r.status_code == 403 and "应急处置负责人" in r.json()["detail"], (login, r.text)
    assert session.scalar(select(RegulatorReport.id)) is None
    # A tick of the task itself is refused too: only a recorded report completes it.
    task = session.scalar(select(Task).where(Task.incident_id == incident.id, Task.key == "regulator_report"))
    r = client.post(f"/api/v1/tasks/{task.id}/complete", headers=token_for("liuqiang"), json={"note": "已报告"})
    assert r.status_code == 422 and "登记报告" in r.json()["detail"]


def test_the_incident_page_form_is_prefilled_and_records_the_report(login_as, session, make, org, policy, clock,
                                                                     csrf_of):
    incident = open_run_case(session, make, org, policy, clock)
    url = f"/incidents/{incident.id}"
    assert 'action="' + url + '/regulator-reports"' not in login_as("huangwei").get(url).text  # not a liaison's
    c = login_as("liuqiang")
    page = c.get(url).text
    assert "报告监管部门 / 报告人民银行" in page and f"报告监管部门：{NFRA}" in page and f"报告人民银行：{PBOC}" in page
    assert f"向{NFRA}报告重大声誉事件（12小时内）" in page and "登记报告</a>后自动完成" in page
    assert "关于示例银行江城分行新华路网点声誉事件有关情况的报告" in page  # the textarea holds the template
    r = c.post(f"{url}/regulator-reports", data={
        "csrf_token": csrf_of(page), "kind": "regulator_report", "to": "nfra_jiangcheng", "method": "书面报告",
        "reference": "江城声誉〔2026〕3号", "text": "关于新华路网点声誉事件有关情况的报告（已核实）"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=regulator#regulator-reports")
    shown = c.get(r.headers["location"]).text
    assert "报告已登记，对应的报告时限已停止。" in shown and "江城声誉〔2026〕3号" in shown
    refused = c.post(f"{url}/regulator-reports", data={
        "csrf_token": csrf_of(shown), "kind": "regulator_report", "to": "pboc_jiangcheng", "method": "电话",
        "text": "报告"})
    assert refused.status_code == 422 and "不接收" in refused.text
    session.expire_all()
    assert [(r.recipient_name, r.method) for r in session.scalars(select(RegulatorReport))] == [(NFRA, "书面报告")]
