"""合并事件 through the API and the dashboard: ``POST /api/v1/incidents/{id}/merge`` with the other case's id or
number (its 409 / 422 / 403 / 404 answers in the lifecycle actions' shape), and the incident page's 合并到… form,
its Chinese refusal, and the notes on both pages afterwards."""

from __future__ import annotations

from sqlalchemy import select

from incidents.models import Alert, Incident, TimelineEvent
from yuqing.models import AuditEntry


def _merge(client, headers, incident_id, body):
    return client.post(f"/api/v1/incidents/{incident_id}/merge", headers=headers, json=body)


def test_merge_through_the_api(client, token_for, make, session):
    _, _, a = make.crisis(unit_id="xinhualu", level="III")
    _, b_alert, b = make.crisis(unit_id="guangminglu", title="光明路支行老人取款被拒视频", level="II")
    com = token_for("liuqiang")

    assert _merge(client, token_for("wangmin"), b.id, {"into": a.number}).status_code == 403  # a monitor may not
    assert _merge(client, token_for("huangwei"), b.id, {"into": a.number}).status_code == 403  # nor a liaison
    r = _merge(client, com, b.id, {"into": b.id})
    assert r.status_code == 422 and r.json()["detail"] == "不能把事件合并到它自己"
    r = _merge(client, com, b.id, {"into": "YQ-19990101-999"})
    assert r.status_code == 422 and "目标事件不存在" in r.json()["detail"]
    assert _merge(client, com, b.id, {"into": 0}).status_code == 422  # ids are positive
    assert _merge(client, com, b.id, {"into": a.number, "extra": 1}).status_code == 422
    assert _merge(client, com, 2**31 - 1, {"into": a.number}).status_code == 404

    r = _merge(client, com, b.id, {"into": a.number, "reason": "同一事件"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == a.id and body["level"] == "II"
    again = _merge(client, com, b.id, {"into": a.id})
    assert again.status_code == 409 and "已合并" in again.json()["detail"]
    shown = client.get(f"/api/v1/incidents/{b.id}", headers=com).json()
    assert shown["status"] == "merged" and shown["status_name"] == "已合并"
    listed = client.get("/api/v1/incidents?status=merged", headers=com).json()
    assert [i["id"] for i in listed["items"]] == [b.id]
    assert b.id in [i["id"] for i in client.get("/api/v1/incidents?status=ended", headers=com).json()["items"]]
    session.expire_all()
    assert session.get(Alert, b_alert.id).incident_id == a.id
    assert session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "incident.merge")) == "liuqiang"
    # a closed target is refused with 409
    _, _, c = make.crisis(unit_id="binjianghuayuan", title="滨江花园网点排队", level="III")
    _, _, d = make.crisis(unit_id="binjianghuayuan", title="滨江花园网点排队二", level="III")
    d.status = "closed"
    session.commit()
    r = _merge(client, com, c.id, {"into": d.number})
    assert r.status_code == 409 and "只能合并到进行中的事件" in r.json()["detail"]


def test_a_target_out_of_the_callers_units_is_refused(client, token_for, make, session):
    _, _, own = make.crisis(unit_id="xinhualu", level="III")
    _, _, hq = make.crisis(unit_id="head-office", title="总行被传暂停兑付", level="II")
    r = _merge(client, token_for("liuqiang"), own.id, {"into": hq.number})  # a branch commander: not head office
    assert r.status_code == 403
    session.expire_all()
    assert session.get(Incident, own.id).status == "open" and session.get(Incident, hq.id).status == "open"


def test_the_page_form_merges_and_both_pages_say_so(login_as, make, session, csrf_of):
    _, _, a = make.crisis(unit_id="xinhualu", level="III")
    _, _, b = make.crisis(unit_id="guangminglu", title="光明路支行<script>x</script>视频", level="II")
    url = f"/incidents/{b.id}"
    assert f'action="{url}/merge"' not in login_as("wangmin").get(url).text  # the form only for those allowed
    c = login_as("liuqiang")
    page = c.get(url).text
    assert f'action="{url}/merge"' in page and "合并到…" in page
    refused = c.post(f"{url}/merge", data={"into": b.number, "csrf_token": csrf_of(page)})
    assert refused.status_code == 422 and "不能把事件合并到它自己" in refused.text
    empty = c.post(f"{url}/merge", data={"into": " ", "csrf_token": csrf_of(page)})
    assert empty.status_code == 422 and "请填写要合并到的事件编号" in empty.text
    r = c.post(f"{url}/merge", data={"into": a.number, "reason": "同一事件", "csrf_token": csrf_of(c.get(url).text)})
    assert r.status_code == 303 and r.headers["location"] == f"/incidents/{a.id}?done=merged"
    target = c.get(r.headers["location"]).text
    assert "另一事件已并入本事件" in target and f'href="/incidents/{b.id}">{b.number}</a>' in target
    merged = c.get(url).text
    assert f'本事件已合并到 <a href="/incidents/{a.id}">{a.number}</a>' in merged and "已合并" in merged
    assert f'action="{url}/merge"' not in merged and "<script>x</script>" not in merged
    session.expire_all()
    kinds = set(session.scalars(select(TimelineEvent.kind).where(TimelineEvent.incident_id.in_([a.id, b.id]))))
    assert {"merged_into", "merged_in", "level_changed"} <= kinds
