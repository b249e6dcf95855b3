"""The audit log for admins: the 审计日志 page (/admin/audit) and GET /api/v1/audit — admin only, newest first,
filters, paging by id, Asia/Shanghai on screen and UTC in storage, the hash chain's verdict, hostile text escaped."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from api import audit
from yuqing.clock import FrozenClock

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
BOTH = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                               indirect=True)


def add(session, n: int = 1, *, at: datetime = T0, step: timedelta = timedelta(minutes=1), **fields) -> None:
    for i in range(n):
        values = {"actor": "wangmin", "action": "test.page", "object_type": "alert", "object_id": str(i + 1),
                  "detail": f"第 {i + 1} 条", "data": {"i": i + 1}, **fields}
        audit.record(session, clock=FrozenClock(at + i * step), **values)
    session.commit()


def shown_ids(page_html: str) -> list[int]:
    return [int(m) for m in re.findall(r'<tr id="audit-(\d+)"', page_html)]


def link(page_html: str, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)" rel="{rel}">', page_html)
    return html.unescape(match.group(1)) if match else None


def tamper(session, statement: str) -> None:
    """Raw SQL as the database's owner could run it (on PostgreSQL the append-only trigger is switched off)."""
    pg = session.get_bind().dialect.name == "postgresql"
    if pg:
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    session.execute(text(statement))
    if pg:
        session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
    session.commit()


# --- who may read it -------------------------------------------------------------------------------------------
def test_only_admins_may_read_the_audit_log(client, login_as, token_for, session, users):
    add(session, 2)
    admin = login_as("admin")
    page = admin.get("/admin/audit")
    assert page.status_code == 200 and "审计日志" in page.text
    assert '<a href="/admin/audit" aria-current="page" class="active">审计日志</a>' in page.text
    assert admin.get("/api/v1/audit").status_code == 200, "the admin's cookie may read the API"
    assert client.get("/api/v1/audit", headers=token_for("admin")).status_code == 200
    for login in ("wangmin", "liuqiang", "chenjing", "zhoufang", "yangfan"):
        c = login_as(login)
        refused = c.get("/admin/audit?since=garbage")  # refused before the query is even looked at
        assert refused.status_code == 403 and "无权" in refused.text, login
        assert 'href="/admin/audit"' not in c.get("/").text, f"{login} sees no link to it"
        assert c.get("/api/v1/audit").status_code == 403
        assert client.get("/api/v1/audit?limit=0", headers=token_for(login)).status_code == 403
    anonymous = client.get("/admin/audit")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    assert client.get("/api/v1/audit").status_code == 401


# --- what the page shows ---------------------------------------------------------------------------------------
def test_the_page_lists_newest_first_in_shanghai_time_with_filters(login_as, session, users):
    admin = login_as("admin")
    add(session, 3, actor="chenjing", action="incident.close", object_type="incident", at=T0 + timedelta(hours=2))
    add(session, 2, actor="zhoufang", action="task.complete", object_type="task", at=T0 + timedelta(hours=5))
    page = admin.get("/admin/audit").text
    ids = shown_ids(page)
    assert ids == sorted(ids, reverse=True) and len(ids) == 6, "five entries and the admin's own login, newest first"
    assert "2026-11-23 14:01:00" in page, "T0+5h01m in UTC is 14:01 in Shanghai"
    assert '<time datetime="2026-11-23T06:01:00+00:00">' in page

    by_actor = admin.get("/admin/audit", params={"actor": "chenjing"}).text
    assert len(shown_ids(by_actor)) == 3 and "结案" in by_actor and "共 3 条（已筛选）" in by_actor
    by_action = admin.get("/admin/audit", params={"action": "task.complete", "object_type": "task",
                                                   "object_id": "2"}).text
    assert len(shown_ids(by_action)) == 1 and "完成任务" in by_action
    # the form's datetime-local values are Shanghai time: 11:00–11:02 local is 03:00–03:02 UTC
    window = admin.get("/admin/audit", params={"since": "2026-11-23T11:00", "until": "2026-11-23T11:02"}).text
    assert [e for e in shown_ids(window)] == shown_ids(by_actor)[1:], "since included, until excluded"
    assert 'value="2026-11-23T11:00"' in window, "the form keeps what was asked"
    empty = admin.get("/admin/audit", params={"actor": "nobody", "since": "", "until": ""})
    assert empty.status_code == 200 and "没有符合条件的记录" in empty.text


def test_pages_of_fifty_with_newer_and_older_links(login_as, session, users):
    admin = login_as("admin")
    add(session, 120, action="bulk.test")
    first = admin.get("/admin/audit", params={"action": "bulk.test"}).text
    ids = shown_ids(first)
    assert len(ids) == 50 and ids[0] - ids[-1] == 49 and link(first, "prev") is None
    older = link(first, "next")
    assert older and "action=bulk.test" in older
    second = admin.get(older).text
    assert shown_ids(second) == [i - 50 for i in ids]
    third = admin.get(link(second, "next")).text
    assert len(shown_ids(third)) == 20 and link(third, "next") is None
    back = admin.get(link(third, "prev")).text
    assert shown_ids(back) == shown_ids(second), "newer goes back exactly one page"
    assert shown_ids(admin.get(link(back, "prev")).text) == ids
    add(session, 1, action="bulk.test")  # someone acts while the admin pages: the pages do not shift
    assert shown_ids(admin.get(older).text) == shown_ids(second)


@pytest.mark.parametrize("params, message", [
    ({"since": "yesterday"}, "时间格式无效"), ({"until": "2026-13-01"}, "时间格式无效"),
    ({"before_id": "abc"}, "翻页位置无效"), ({"after_id": str(2**31)}, "翻页位置无效"),
    ({"actor": "x" * 65}, "筛选条件过长"), ({"since": "0001-01-01T00:00"}, "时间格式无效"),
    ({"before_id": "²"}, "翻页位置无效"), ({"after_id": "0"}, "翻页位置无效"),
])
def test_bad_page_parameters_are_explained(login_as, users, params, message):
    r = login_as("admin").get("/admin/audit", params=params)
    assert r.status_code == 422 and message in r.text


def test_hostile_text_in_entries_is_shown_as_text(client, login_as, session, users, csrf_of):
    add(session, 1, actor="<script>alert(1)</script>", action="<b>x</b>", object_type="<i>",
        object_id='"><img src=x onerror=alert(2)>', detail="<img src=x onerror=alert(3)>",
        data={"</code><script>alert(4)</script>": "javascript:alert(5)"})
    client.post("/login", data={"login": "<svg onload=alert(6)>", "password": "wrong-password",
                                "csrf_token": csrf_of(client.get("/login").text), "next": "/"})
    page = login_as("admin").get("/admin/audit").text
    for raw in ("<script>", "<img", "<svg", "<b>x", "<i>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;svg onload=alert(6)&gt;" in page, "the typed login of a failed sign-in"
    assert "&lt;/code&gt;&lt;script&gt;alert(4)&lt;/script&gt;" in page


# --- the chain's verdict ---------------------------------------------------------------------------------------
@BOTH
def test_the_page_and_the_api_say_whether_the_chain_verifies(login_as, token_for, client, session, users):
    add(session, 5)
    admin = login_as("admin")
    assert "校验通过" in admin.get("/admin/audit").text
    body = client.get("/api/v1/audit?verify=true", headers=token_for("admin")).json()
    assert body["chain"]["ok"] is True and body["chain"]["rows"] == body["total"]
    target = sorted(e["id"] for e in body["items"] if e["action"] == "test.page")[2]

    tamper(session, f"UPDATE audit_log SET detail = '改过' WHERE id = {target}")
    page = admin.get("/admin/audit").text
    assert f"校验失败：第一条异常记录 #{target}（内容被修改）" in page
    assert f'<tr id="audit-{target}" class="row-overdue">' in page
    chain = client.get("/api/v1/audit?verify=true", headers=token_for("admin")).json()["chain"]
    assert chain["ok"] is False and (chain["problem"]["id"], chain["problem"]["kind"]) == (target, "changed")

    tamper(session, f"DELETE FROM audit_log WHERE id = {target}")
    page = admin.get("/admin/audit").text
    assert f"第一条异常记录 #{target + 1}（记录被删除）" in page


# --- the JSON API ----------------------------------------------------------------------------------------------
@BOTH
def test_the_api_filters_and_pages_like_the_page(client, token_for, session, users):
    headers = token_for("admin")
    add(session, 7, actor="liuqiang", action="incident.level", object_type="incident", at=T0)
    add(session, 3, actor="chenjing", action="incident.close", object_type="incident", at=T0 + timedelta(days=1))
    body = client.get("/api/v1/audit", params={"object_type": "incident", "limit": 4}, headers=headers).json()
    assert (len(body["items"]), body["total"]) == (4, 10) and body["next_cursor"]
    assert [e["actor"] for e in body["items"]] == ["chenjing"] * 3 + ["liuqiang"]
    assert body["items"][0]["action_name"] == "结案" and body["chain"] is None
    first = body["items"][0]
    assert first["at"].startswith("2026-11-24T01:02:00") and len(first["row_hash"]) == 64
    older = client.get("/api/v1/audit", params={"object_type": "incident", "limit": 4,
                                                "cursor": body["next_cursor"]}, headers=headers).json()
    assert [e["id"] for e in older["items"]] == [body["items"][-1]["id"] - k for k in range(1, 5)]
    last = client.get("/api/v1/audit", params={"object_type": "incident", "limit": 4,
                                               "cursor": older["next_cursor"]}, headers=headers).json()
    assert len(last["items"]) == 2 and last["next_cursor"] is None and last["total"] == 10
    # a cursor only continues the list it was made for
    other = client.get("/api/v1/audit", params={"object_type": "alert", "limit": 4, "cursor": body["next_cursor"]},
                       headers=headers)
    assert other.status_code == 400 and "游标" in other.json()["detail"]

    # times without an offset are UTC in the API
    day_one = client.get("/api/v1/audit", params={"since": "2026-11-23T01:00:00", "until": "2026-11-23T01:03:00",
                                                  "action": "incident.level"}, headers=headers).json()
    assert [e["object_id"] for e in day_one["items"]] == ["3", "2", "1"]
    shanghai = client.get("/api/v1/audit", params={"since": "2026-11-24T09:00:00+08:00",
                                                   "actor": "chenjing"}, headers=headers).json()
    assert shanghai["total"] == 3
    assert client.get("/api/v1/audit", params={"limit": 201}, headers=headers).status_code == 422
    early = client.get("/api/v1/audit", params={"since": "0001-01-01T00:00:00+08:00"}, headers=headers)
    assert early.status_code == 422 and "范围" in early.text
