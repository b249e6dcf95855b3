"""The incident page's lifecycle forms: shown only to those allowed, and a case run to review through them."""

from __future__ import annotations

from sqlalchemy import select

from incidents.models import Incident, IncidentReport, IncidentReview


def test_forms_show_only_to_those_allowed_and_run_a_case_to_review(login_as, make, session, csrf_of):
    _, _, incident = make.crisis(unit_id="xinhualu")
    url = f"/incidents/{incident.id}"
    liaison = login_as("huangwei").get(url).text
    assert f'action="{url}/ack"' not in liaison and f'action="{url}/close"' not in liaison
    monitor = login_as("wangmin").get(url).text
    assert f'action="{url}/ack"' in monitor and f'action="{url}/level"' not in monitor
    leader = login_as("chenjing")
    assert f'action="{url}/leader-ack"' in leader.get(url).text

    c = login_as("liuqiang")
    page = c.get(url).text
    assert f'action="{url}/leader-ack"' not in page and f'action="{url}/close"' not in page  # open: ack first
    steps = [("ack", {}), ("level", {"level": "I", "reason": "省级媒体跟进"}),
             ("reports", {"kind": "initial", "text": "初报：网点秩序正常"}), ("close", {"summary": "谣言已澄清"}),
             ("reports", {"kind": "final", "text": "终报"}),
             ("review", {"text": "复盘", "went_well": "确认及时", "item_title": "网点应急演练",
                         "item_owner": "huangwei"})]
    for action, form in steps:
        token = csrf_of(c.get(url).text)
        r = c.post(f"{url}/{action}", data={**form, "csrf_token": token})
        assert r.status_code == 303, (action, r.text[:300])
    refused = c.post(f"{url}/close", data={"summary": "再次", "csrf_token": csrf_of(c.get(url).text)})
    assert refused.status_code == 409 and "已结案" in refused.text
    shown = c.get(url + "?done=review").text
    assert "复盘已提交" in shown and "网点应急演练" in shown and "终报" in shown and "已复盘" in shown
    r = leader.post(f"{url}/leader-ack", data={"csrf_token": csrf_of(leader.get(url).text)})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(Incident, incident.id).status == "reviewed" and session.get(Incident, incident.id).level == "I"
    assert [r.kind for r in session.scalars(select(IncidentReport).order_by(IncidentReport.id))] == ["initial", "final"]
    review = session.scalars(select(IncidentReview)).one()
    assert [(i.title, i.owner_id) for i in review.action_items] == [("网点应急演练", "huangwei")]
