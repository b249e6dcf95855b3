"""Cursor pagination of the API's lists, and the read routes added with the complete API (mentions, tasks, an
incident's timeline / tasks / reports, outbox, users, org chart, keyword plans, /readyz)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incidents.models import IncidentReport, Notification, Task

BOTH_DATABASES = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                         indirect=True)


def walk(client, url: str, headers: dict[str, str], **params) -> tuple[list[dict], list[int]]:
    """Every item of a list, following next_cursor; also the total each page reported."""
    items, totals, cursor = [], [], None
    for _ in range(100):
        page = client.get(url, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) >= {"items", "total", "next_cursor"}
        items += body["items"]
        totals.append(body["total"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items, totals
    raise AssertionError("the cursor never ran out")


@BOTH_DATABASES
def test_walking_the_cursor_serves_every_row_once_in_order_with_ties_broken_by_id(client, make, token_for, clock):
    stories = [make.story(unit_id="xinhualu", title=f"第{i}条") for i in range(7)]
    for i, story in enumerate(stories):  # three alerts share one creation time: the id breaks the tie
        clock_at = clock.now() - timedelta(minutes=0 if i < 3 else i)
        make.alert(story=story, level="III", at=clock_at, risk_score=50.0 + (i % 3))
    make.session.commit()
    h = token_for("wangmin")
    for sort in ("urgent", "time", "risk"):
        whole = client.get("/api/v1/alerts", params={"sort": sort, "limit": 200}, headers=h).json()
        assert whole["total"] == 7 and whole["next_cursor"] is None
        walked, totals = walk(client, "/api/v1/alerts", h, sort=sort, limit=2)
        assert [a["id"] for a in walked] == [a["id"] for a in whole["items"]], sort
        assert totals == [7, 7, 7, 7]
    by_time = [a["id"] for a in whole["items"]]
    assert len(set(by_time)) == 7


@BOTH_DATABASES
def test_the_article_feed_pages_by_risk_and_filters_by_channel_and_time(client, make, token_for, clock):
    for i in range(5):
        story = make.story(unit_id="xinhualu", title=f"报道{i}")
        make.article(story=story, title=f"报道{i}", channel="social" if i % 2 else "news",
                     at=clock.now() - timedelta(hours=i))
        make.story_risk(story=story, score=10.0 * i, level=None)
    make.session.commit()
    h = token_for("wangmin")
    walked, _ = walk(client, "/api/v1/articles", h, limit=2)
    assert [a["title"] for a in walked] == ["报道4", "报道3", "报道2", "报道1", "报道0"]
    by_time, _ = walk(client, "/api/v1/articles", h, sort="time", limit=2)
    assert [a["title"] for a in by_time] == ["报道0", "报道1", "报道2", "报道3", "报道4"]
    social, totals = walk(client, "/api/v1/articles", h, channel="social", limit=1)
    assert [a["title"] for a in social] == ["报道3", "报道1"] and totals == [2, 2]
    recent = client.get("/api/v1/articles", params={"since": (clock.now() - timedelta(hours=1, minutes=30))
                                                    .isoformat(), "sort": "time"}, headers=h).json()
    assert [a["title"] for a in recent["items"]] == ["报道0", "报道1"]


def test_a_cursor_is_refused_for_another_list_or_filter_and_when_altered(client, make, token_for):
    for i in range(3):
        make.alert(story=make.story(unit_id="xinhualu", title=f"预警{i}"))
    make.session.commit()
    h = token_for("wangmin")
    cursor = client.get("/api/v1/alerts", params={"limit": 1}, headers=h).json()["next_cursor"]
    assert cursor
    assert client.get("/api/v1/alerts", params={"limit": 1, "cursor": cursor}, headers=h).status_code == 200
    for url, params in [("/api/v1/alerts", {"sort": "risk"}), ("/api/v1/alerts", {"status": "open"}),
                        ("/api/v1/incidents", {}), ("/api/v1/alerts", {"cursor_suffix": "x"})]:
        sent = {"cursor": cursor + params.pop("cursor_suffix", ""), **params}
        r = client.get(url, params=sent, headers=h)
        assert r.status_code == 400, (url, params, r.text)
        assert r.json() == {"detail": r.json()["detail"]} and "游标" in r.json()["detail"]


@BOTH_DATABASES
def test_mentions_tasks_and_an_incidents_timeline_tasks_and_reports_are_scoped(client, make, token_for, clock):
    _, _, mine = make.crisis(unit_id="xinhualu", title="新华路网点排队")  # under 光明路支行
    _, _, theirs = make.crisis(unit_id="binjiang", title="滨江支行理财亏损")
    make.event(incident=mine, kind="note", text="已电话联系网点负责人", at=clock.now() + timedelta(minutes=5))
    make.session.add(IncidentReport(incident_id=mine.id, kind="initial", version=1, level="II", text="初报正文",
                                    author="liuqiang", filed_at=clock.now() + timedelta(minutes=10)))
    make.session.commit()
    liaison, monitor = token_for("zhoufang"), token_for("wangmin")

    mentions = client.get("/api/v1/mentions", headers=liaison).json()
    assert {m["unit"]["id"] for m in mentions["items"]} == {"xinhualu"} and mentions["total"] == 2
    assert mentions["items"][0]["terms"] == ["新华路网点"] and mentions["items"][0]["is_primary"] is True
    assert client.get("/api/v1/mentions", headers=monitor).json()["total"] == 4
    assert client.get("/api/v1/mentions?unit=binjiang", headers=liaison).status_code == 403

    make.session.add(Task(incident_id=mine.id, position=3, key="step3", title="无期限的事项", owner_role="liaison",
                          due_at=None, status="todo"))
    make.session.commit()
    walked, _ = walk(client, "/api/v1/tasks", monitor, limit=2)  # no deadline sorts last, through the cursor
    assert [t["title"] for t in walked][-1] == "无期限的事项" and len(walked) == 5
    tasks = client.get("/api/v1/tasks", headers=liaison).json()
    assert {t["incident_id"] for t in tasks["items"]} == {mine.id} and tasks["total"] == 3
    assert client.get("/api/v1/tasks", headers=monitor).json()["total"] == 5

    timeline = client.get(f"/api/v1/incidents/{mine.id}/timeline", headers=liaison).json()
    assert [e["kind"] for e in timeline["items"]] == ["opened", "note"]
    notes = client.get(f"/api/v1/incidents/{mine.id}/timeline?kind=note", headers=liaison).json()
    assert [e["text"] for e in notes["items"]] == ["已电话联系网点负责人"]
    steps = client.get(f"/api/v1/incidents/{mine.id}/tasks", headers=liaison).json()
    assert [t["title"] for t in steps["items"]] == ["核实情况", "报告分行领导", "无期限的事项"]
    reports = client.get(f"/api/v1/incidents/{mine.id}/reports", headers=liaison).json()
    assert [(r["kind_name"], r["text"]) for r in reports["items"]] == [("初报", "初报正文")]
    for sub in ("timeline", "tasks", "reports"):
        assert client.get(f"/api/v1/incidents/{theirs.id}/{sub}", headers=liaison).status_code == 403
        assert client.get(f"/api/v1/incidents/{2**31 - 1}/{sub}", headers=liaison).status_code == 404


def test_outbox_and_users_are_for_admins_org_and_keyword_plans_for_everyone(client, session, token_for, clock):
    session.add(Notification(dedup_key="t:1", recipient_id="wangmin", channel="email", purpose="alert",
                             subject="预警：新华路网点", body="正文", status="failed", attempts=3,
                             created_at=clock.now(), last_error="SMTP 550"))
    session.commit()
    admin, monitor = token_for("admin"), token_for("wangmin")
    out = client.get("/api/v1/outbox", headers=admin).json()
    assert out["total"] == 1 and out["items"][0]["recipient_id"] == "wangmin"
    assert (out["items"][0]["status_name"], out["items"][0]["channel_name"]) == ("发送失败", "电子邮件")
    assert out["items"][0]["recipient_name"] and out["items"][0]["last_error"] == "SMTP 550"
    assert client.get("/api/v1/outbox?status=sent", headers=admin).json()["total"] == 0
    assert client.get("/api/v1/outbox", headers=monitor).status_code == 403

    users, _ = walk(client, "/api/v1/users", admin, limit=3)
    logins = [u["login"] for u in users]
    assert logins == sorted(logins) and "wangmin" in logins and all("password_hash" not in u for u in users)
    leaders = client.get("/api/v1/users?role=leader", headers=admin).json()
    assert leaders["total"] >= 1 and all("leader" in u["roles"] for u in leaders["items"])
    assert client.get("/api/v1/users", headers=monitor).status_code == 403

    org = client.get("/api/v1/org", headers=monitor).json()
    assert org["root"] in {u["id"] for u in org["units"]} and any(p["id"] == "wangmin" for p in org["people"])
    assert "contacts" not in org["people"][0]
    sub = client.get("/api/v1/org?unit=guangminglu", headers=monitor).json()
    assert "xinhualu" in {u["id"] for u in sub["units"]} and "binjiang" not in {u["id"] for u in sub["units"]}
    assert client.get("/api/v1/org?unit=nowhere", headers=monitor).status_code == 404

    plans, totals = walk(client, "/api/v1/keyword-plans", monitor, limit=2)
    assert plans and totals[0] == len(plans) and plans[0]["name"] == "排除-非银行语境" and plans[0]["role"] == "filter"


def test_readyz_answers_503_in_bounded_time_when_the_database_does_not(client, app):
    assert client.get("/readyz").json() == {"status": "ok"}
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    app.state.session_factory = sessionmaker(create_engine("sqlite:////nonexistent-dir/x.db"))
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json() == {"status": "unavailable", "detail": "数据库不可用"}


def test_readyz_gives_up_on_a_database_that_does_not_answer(client, app, monkeypatch):
    import threading

    from api.routers import health

    release = threading.Event()

    class Stuck:
        """A session whose query never returns until the test lets it (a hung database)."""

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, *args, **kwargs):
            release.wait(30)

    monkeypatch.setattr(health, "READY_TIMEOUT_S", 0.05)
    app.state.session_factory = Stuck
    try:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json() == {"status": "unavailable", "detail": "数据库应答超时"}
    finally:
        release.set()


def test_an_in_memory_list_pages_by_key_and_an_emptied_list_answers_an_empty_page():
    from fastapi import HTTPException
    from itsdangerous import URLSafeSerializer

    from api.pagination import CURSOR_SALT, PageRequest, paginate_list

    signer = URLSafeSerializer("api-tests-7Hq2xW9pLm4Rt8Vz3Nc6Bk1Yd5Gf0Js", salt=CURSOR_SALT)
    first = PageRequest(cursor=None, limit=2, serializer=signer)
    scope = first.scope("letters")
    page = paginate_list(list("dbca"), key=lambda c: (c,), page=first, scope=scope)
    assert (page.rows, page.total) == (["a", "b"], 4) and page.next_cursor
    nxt = PageRequest(cursor=page.next_cursor, limit=2, serializer=signer)
    rest = paginate_list(list("dbca"), key=lambda c: (c,), page=nxt, scope=scope)
    assert (rest.rows, rest.next_cursor) == (["c", "d"], None)
    emptied = paginate_list([], key=lambda c: (c,), page=nxt, scope=scope)
    assert (emptied.rows, emptied.total, emptied.next_cursor) == ([], 0, None)
    for bad_scope in (first.scope("letters", x=1), first.scope("digits")):
        with pytest.raises(HTTPException) as refused:
            paginate_list(list("dbca"), key=lambda c: (c,), page=nxt, scope=bad_scope)
        assert refused.value.status_code == 400
