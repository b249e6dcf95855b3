"""After a case closes, on the dashboard and the API: a review action item (整改事项) is marked done by its owner, the
commander or a leader (anyone else 403), once, on the timeline and in the audit log, and the review section shows
open and done items with owner and due; a 舆情反弹 flag shows on the incident and in the list, and a commander or a
leader records why the case stays closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from incidents.models import IncidentReview, ReviewActionItem, TimelineEvent
from yuqing.models import AuditEntry


@pytest.fixture
def reviewed(session, make, clock):
    """A reviewed 新华路网点 case with two action items: 黄伟's (the outlet) and 刘强's (the commander)."""
    _story, _alert, incident = make.crisis()
    now = clock.now()
    incident.status, incident.acknowledged_at = "reviewed", now - timedelta(hours=5)
    incident.closed_at, incident.reviewed_at = now - timedelta(hours=1), now
    review = IncidentReview(incident_id=incident.id, author="liuqiang", filed_at=now, closed_at=incident.closed_at,
                            text="复盘")
    review.action_items = [
        ReviewActionItem(title="组织网点开展大额取现预约政策解释话术培训", owner_id="huangwei",
                         due_at=now + timedelta(days=14)),
        ReviewActionItem(title="预置挤兑谣言澄清口径模板", owner_id="liuqiang", due_at=now - timedelta(days=1)),
    ]
    session.add(review)
    session.commit()
    return incident, review.action_items[0].id, review.action_items[1].id


def _done(client, headers, incident_id, item_id, note="已完成培训，签到表存档"):
    return client.post(f"/api/v1/incidents/{incident_id}/review/action-items/{item_id}/done", headers=headers,
                       json={"note": note})


def test_the_owner_marks_an_item_done_through_the_api(client, token_for, session, reviewed):
    incident, item, _ = reviewed
    r = _done(client, token_for("huangwei"), incident.id, item)
    assert r.status_code == 200, r.text
    items = {i["id"]: i for i in r.json()["reviews"][0]["action_items"]}
    assert items[item]["done_at"] is not None and items[item]["owner_name"] == "黄伟"
    session.expire_all()
    ev = session.scalar(select(TimelineEvent).where(TimelineEvent.kind == "action_item_done"))
    assert ev.actor == "huangwei" and "整改事项完成：组织网点" in ev.text and "黄伟" in ev.text and "签到表" in ev.text
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "review.action_item_done"))
    assert (audit.actor, audit.object_type, audit.object_id) == ("huangwei", "review_action_item", str(item))
    again = _done(client, token_for("huangwei"), incident.id, item)
    assert again.status_code == 409 and "已完成" in again.json()["detail"]


@pytest.mark.parametrize("login, status", [("liuqiang", 200), ("chenjing", 200), ("yangfan", 200),
                                           ("wangmin", 403), ("huangwei", 403), ("zhoufang", 403),
                                           ("qianyu", 403), ("admin", 403)])
def test_who_may_mark_someone_elses_item_done(client, token_for, session, reviewed, login, status):
    incident, _, commanders_item = reviewed  # 刘强's item: only he, a commander or a leader may
    r = _done(client, token_for(login), incident.id, commanders_item)
    assert r.status_code == status, r.text
    session.expire_all()
    done = session.scalar(select(ReviewActionItem.done_at).where(ReviewActionItem.id == commanders_item))
    assert (done is not None) == (status == 200)
    if status == 403:
        assert "仅限负责人本人或应急处置负责人、分行领导" in r.json()["detail"]


def test_an_item_of_another_incident_or_out_of_scope_is_refused(client, token_for, make, reviewed):
    incident, item, _ = reviewed
    _s, _a, other = make.crisis(unit_id="binjianghuayuan", title="示例银行滨江花园网点排长队")
    assert _done(client, token_for("liuqiang"), other.id, item).status_code == 404  # not this incident's item
    assert _done(client, token_for("liuqiang"), incident.id, 2**31 - 1).status_code == 404
    assert _done(client, token_for("wujun"), incident.id, item).status_code == 403  # 滨江支行: not his unit


def test_the_review_section_shows_open_and_done_items_and_the_button_to_those_allowed(login_as, reviewed, csrf_of):
    incident, item, commanders_item = reviewed
    owner = login_as("huangwei")
    page = owner.get(f"/incidents/{incident.id}").text
    assert "整改事项" in page and "0/2 已完成" in page
    assert "组织网点开展大额取现预约政策解释话术培训" in page and "负责人 黄伟" in page and "未完成" in page
    assert "已超期" in page  # 刘强's item was due yesterday
    assert f"/review/action-items/{item}/done" in page  # his own item
    assert f"/review/action-items/{commanders_item}/done" not in page  # not his
    r = owner.post(f"/incidents/{incident.id}/review/action-items/{item}/done",
                   data={"csrf_token": csrf_of(page), "note": "培训已完成"})
    assert r.status_code == 303 and r.headers["location"].endswith(f"?done=action_item#action-item-{item}")
    page = owner.get(r.headers["location"]).text
    assert "整改事项已标记完成" in page and "1/2 已完成" in page and f"/review/action-items/{item}/done" not in page
    monitor = login_as("wangmin").get(f"/incidents/{incident.id}").text
    assert "/done" not in monitor.split('id="review"')[1].split("</section>")[0]  # no button for a monitor
    leader = login_as("chenjing").get(f"/incidents/{incident.id}").text
    assert f"/review/action-items/{commanders_item}/done" in leader


def _flag(session, incident, clock):
    incident.status, incident.closed_at = "closed", clock.now() - timedelta(hours=2)
    incident.acknowledged_at = clock.now() - timedelta(hours=6)
    session.add(TimelineEvent(incident_id=incident.id, at=clock.now(), kind="resurgence", actor="system",
                              text="舆情反弹：风险升至II级（重大），评分 72.0；结案以来新增相关信息 3 条",
                              data={"action": "flagged", "level": "II", "score": 72.0, "new_articles": 3,
                                    "first_source": "社交媒体·江城热点"}))
    session.commit()


def test_a_flagged_case_shows_the_banner_and_the_list_badge_and_the_commander_decides(login_as, token_for, client,
                                                                                     session, make, clock, csrf_of):
    _s, _a, incident = make.crisis()
    _flag(session, incident, clock)
    commander = login_as("liuqiang")
    listing = commander.get("/incidents").text
    assert "resurgence-badge" in listing and f"/incidents/{incident.id}#resurgence" in listing
    page = commander.get(f"/incidents/{incident.id}").text
    assert 'id="resurgence"' in page and "舆情反弹：风险升至II级" in page and "新增相关信息 3 条" in page
    assert "记录研判：暂不重新打开" in page and "重新打开事件 →" in page
    assert client.get(f"/api/v1/incidents/{incident.id}", headers=token_for("liuqiang")).json()["resurgence"][
        "new_articles"] == 3
    monitor_page = login_as("wangmin").get(f"/incidents/{incident.id}").text
    assert "舆情反弹" in monitor_page and "记录研判：暂不重新打开" not in monitor_page  # seen, not decided
    refused = client.post(f"/api/v1/incidents/{incident.id}/resurgence/dismiss", headers=token_for("wangmin"),
                          json={"reason": "旧帖转发"})
    assert refused.status_code == 403
    r = commander.post(f"/incidents/{incident.id}/resurgence/dismiss",
                       data={"csrf_token": csrf_of(page), "reason": "新增内容为旧帖转发，网点营业正常"})
    assert r.status_code == 303
    page = commander.get(r.headers["location"]).text
    assert 'id="resurgence"' not in page and "舆情反弹研判：暂不重新打开事件：新增内容为旧帖转发" in page
    again = client.post(f"/api/v1/incidents/{incident.id}/resurgence/dismiss", headers=token_for("liuqiang"),
                        json={"reason": "再次"})
    assert again.status_code == 409 and "没有待研判的舆情反弹提示" in again.json()["detail"]
    session.expire_all()
    assert session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "incident.resurgence_dismiss")) == \
        "liuqiang"
