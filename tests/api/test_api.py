"""The JSON API: shapes, scoping to the caller's units, and the 401/403/404/422 answers."""

from __future__ import annotations

from datetime import timedelta

import pytest

# The scoped, ranked queries run on both databases the project supports.
BOTH_DATABASES = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                         indirect=True)


@BOTH_DATABASES
def test_incidents_list_has_the_documented_shape(client, make, token_for, clock):
    _, _, incident = make.crisis()
    r = client.get("/api/v1/incidents", headers=token_for("wangmin"))
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1 and len(body["items"]) == 1 and body["next_cursor"] is None
    item = body["items"][0]
    assert {"id", "number", "title", "level", "level_name", "unit", "status", "category", "opened_at",
            "tasks_total", "tasks_done", "clocks"} <= set(item)
    assert item["id"] == incident.id and item["number"] == incident.number
    assert item["level"] == "II" and item["level_name"] == "重大"
    assert item["unit"] == {"id": "xinhualu", "name": "新华路网点"}
    assert item["status"] == "open" and item["status_name"] == "待确认"
    assert item["category_name"] == "存取款受限/挤兑谣言"
    assert (item["tasks_total"], item["tasks_done"]) == (2, 0)
    assert item["opened_at"].startswith("2026-11-23T01:00:00")
    clocks = {c["key"]: c for c in item["clocks"]}
    assert "ack" in clocks and "initial_report" in clocks
    assert all({"label", "due_at", "status", "overdue"} <= set(c) for c in item["clocks"])


def test_incident_detail_has_tasks_timeline_story_articles_and_factors(client, make, token_for):
    story, alert, incident = make.crisis()
    r = client.get(f"/api/v1/incidents/{incident.id}", headers=token_for("liuqiang"))
    assert r.status_code == 200
    body = r.json()
    assert [t["title"] for t in body["tasks"]] == ["核实情况", "报告分行领导"]
    assert body["tasks"][0]["owner_role_name"] == "联络人" and body["tasks"][0]["status_name"] == "待办"
    assert body["timeline"][0]["kind"] == "opened"
    assert body["story"]["id"] == story.id and len(body["story"]["articles"]) == 2
    article = body["story"]["articles"][0]
    assert article["label"] == "negative" and article["label_name"] == "负面" and article["url"].startswith("https://")
    assert body["alert_id"] == alert.id
    factors = {f["key"]: f for f in body["factors"]}
    assert factors["severity"]["label"] == "类别严重度" and "挤兑" in factors["severity"]["reason"]


def test_unknown_ids_are_404_with_a_chinese_message(client, token_for):
    h = token_for("wangmin")
    r = client.get("/api/v1/incidents/999", headers=h)
    assert r.status_code == 404 and "不存在" in r.json()["detail"]
    assert client.get("/api/v1/stories/999", headers=h).status_code == 404
    assert client.post("/api/v1/alerts/999/ack", headers=h).status_code == 404
    assert client.post("/api/v1/tasks/999/complete", headers=h).status_code == 404


def test_invalid_input_is_422_naming_the_parameter(client, token_for):
    h = token_for("wangmin")
    for url, field in [("/api/v1/incidents?limit=0", "limit"), ("/api/v1/incidents?limit=201", "limit"),
                       ("/api/v1/articles?label=angry", "label"),
                       ("/api/v1/incidents/abc", "incident_id"), ("/api/v1/incidents?level=V", "level"),
                       ("/api/v1/alerts?status=whatever", "status")]:
        r = client.get(url, headers=h)
        assert r.status_code == 422, url
        body = r.json()
        assert body["message"].startswith("请求参数无效") and field in body["message"], body
    r = client.post("/api/v1/alerts/1/dismiss", headers=h, json={"reason": ""})
    assert r.status_code == 422 and "reason" in r.json()["message"]


@BOTH_DATABASES
def test_liaison_sees_only_incidents_of_own_units_and_gets_403_elsewhere(client, make, token_for):
    _, _, mine = make.crisis(unit_id="xinhualu", title="新华路网点排队")  # under 光明路支行
    _, _, theirs = make.crisis(unit_id="binjiang", title="滨江支行理财亏损")
    h = token_for("zhoufang")  # liaison of 光明路支行
    listed = client.get("/api/v1/incidents", headers=h).json()
    assert [i["id"] for i in listed["items"]] == [mine.id]
    assert client.get(f"/api/v1/incidents/{mine.id}", headers=h).status_code == 200
    r = client.get(f"/api/v1/incidents/{theirs.id}", headers=h)
    assert r.status_code == 403 and "无权" in r.json()["detail"]
    # the branch monitor sees both
    both = client.get("/api/v1/incidents", headers=token_for("wangmin")).json()
    assert {i["id"] for i in both["items"]} == {mine.id, theirs.id}


@BOTH_DATABASES
def test_alerts_are_scoped_and_carry_deadline_and_factors(client, make, token_for, clock):
    s1 = make.story(unit_id="renminguangchang", title="人民广场网点ATM吞卡")
    s2 = make.story(unit_id="kejiyuan", title="科技园网点服务差")
    a1 = make.alert(story=s1, level="III", ack_in=timedelta(minutes=30))
    make.alert(story=s2, level="IV")
    make.session.commit()
    body = client.get("/api/v1/alerts", headers=token_for("zhoufang")).json()
    assert [a["id"] for a in body["items"]] == [a1.id]
    alert = body["items"][0]
    assert alert["status_name"] == "待确认" and alert["level_name"] == "较大" and alert["ack_overdue"] is False
    assert alert["ack_due_at"].startswith("2026-11-23T01:30:00")
    assert {f["key"] for f in alert["factors"]} == {"polarity", "severity", "authority"}
    clock.advance(timedelta(minutes=31))
    assert client.get("/api/v1/alerts", headers=token_for("zhoufang")).json()["items"][0]["ack_overdue"] is True


@BOTH_DATABASES
def test_articles_feed_is_ranked_by_risk_filtered_and_scoped(client, make, token_for):
    calm = make.story(unit_id="xinhualu", title="新华路网点开展金融知识宣传")
    make.article(story=calm, title="新华路网点开展金融知识宣传", label="positive", negative_prob=0.05)
    make.story_risk(story=calm, score=2.0, level=None)
    hot = make.story(unit_id="jiefangdadao", title="解放大道网点储户排长队")
    make.article(story=hot, unit_id="jiefangdadao", title="解放大道网点储户排长队", negative_prob=0.95)
    make.story_risk(story=hot, score=85.0, level="I")
    far = make.story(unit_id="zhongnanlu", title="中南路网点系统故障")
    make.article(story=far, unit_id="zhongnanlu", title="中南路网点系统故障")
    make.story_risk(story=far, score=90.0, level="I")
    make.session.commit()
    h = token_for("zhoufang")
    feed = client.get("/api/v1/articles", headers=h).json()
    assert [m["title"] for m in feed["items"]] == ["解放大道网点储户排长队", "新华路网点开展金融知识宣传"]
    top = feed["items"][0]
    assert top["risk_score"] == 85.0 and top["risk_level_name"] == "特别重大" and top["unit"]["name"] == "解放大道网点"
    negative = client.get("/api/v1/articles?label=negative", headers=h).json()
    assert [m["label_name"] for m in negative["items"]] == ["负面"]
    only = client.get("/api/v1/articles?unit=xinhualu", headers=h).json()
    assert [m["unit"]["id"] for m in only["items"]] == ["xinhualu"]
    assert client.get("/api/v1/articles?unit=zhongnanlu", headers=h).status_code == 403
    assert client.get("/api/v1/articles?limit=1", headers=token_for("wangmin")).json()["items"][0]["risk_score"] == 90


@BOTH_DATABASES
def test_stories_list_and_detail(client, make, token_for):
    story, _, _ = make.crisis()
    h = token_for("wangmin")
    listed = client.get("/api/v1/stories", headers=h).json()
    assert listed["total"] == 1 and listed["items"][0]["risk"]["level_name"] == "重大"
    detail = client.get(f"/api/v1/stories/{story.id}", headers=h).json()
    assert detail["article_count"] == 2 and len(detail["articles"]) == 2
    assert client.get(f"/api/v1/stories/{story.id}", headers=token_for("wujun")).status_code == 403


def test_sources_report_health_so_silence_is_not_mistaken_for_calm(client, make, token_for):
    make.source_state(source_id="jiangcheng-news")
    make.source_state(source_id="weibo", failures=3, error="HTTP 503")
    make.source_state(source_id="tousu", failures=30, last_success_ago=timedelta(days=3), error="timeout")
    make.source_state(source_id="forum", last_new_ago=timedelta(days=3))
    make.session.commit()  # "regulator" is configured but has never run
    body = client.get("/api/v1/sources", headers=token_for("admin")).json()
    health = {s["source_id"]: (s["health"], s["reason"]) for s in body["items"]}
    assert health["jiangcheng-news"][0] == "ok"
    assert health["weibo"][0] == "failing" and "3 次" in health["weibo"][1] and "HTTP 503" in health["weibo"][1]
    assert health["tousu"][0] == "silent" and "未成功抓取" in health["tousu"][1]  # nothing crawled
    assert health["forum"][0] == "silent" and "没有新内容" in health["forum"][1]  # nothing found
    assert health["regulator"][0] == "never_run"
    names = {s["source_id"]: s["name"] for s in body["items"]}
    assert names["weibo"] == "微博" and names["forum"] == "本地论坛"


def test_healthz_pings_the_database(client, app):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}

    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    app.state.session_factory = sessionmaker(create_engine("sqlite:////nonexistent-dir/x.db"))
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "unavailable"


def test_openapi_lists_the_v1_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ["/api/v1/incidents", "/api/v1/incidents/{incident_id}", "/api/v1/alerts", "/api/v1/alerts/{alert_id}/ack",
              "/api/v1/alerts/{alert_id}/dismiss", "/api/v1/tasks/{task_id}/complete", "/api/v1/articles",
              "/api/v1/stories", "/api/v1/sources", "/healthz", "/readyz", "/api/v1/mentions", "/api/v1/outbox",
              "/api/v1/users", "/api/v1/org", "/api/v1/keyword-plans", "/api/v1/tasks",
              "/api/v1/incidents/{incident_id}/timeline"]:
        assert p in paths, p
    assert not any(p.startswith("/login") or p == "/" for p in paths)
