"""Statements (口径) through the product: the page's forms shown only to those allowed and a statement run from
template to publication through them (CSRF on every form), the version diff rendered escaped, and the same
workflow over the JSON API with bearer tokens on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from incidents.models import Statement, TimelineEvent
from incidents.statements import PENDING


def _forms(html: str) -> set[str]:
    """The statement forms that POST (the version comparison is a GET form)."""
    return set(re.findall(r'method="post" action="(/statements/\d+/[a-z-]+)"', html))


def test_statement_forms_show_only_to_those_allowed_and_run_to_publication(login_as, make, session, csrf_of):
    _, _, incident = make.crisis(unit_id="xinhualu")
    page = f"/incidents/{incident.id}/statements"
    com, leg, lea, mon = login_as("liuqiang"), login_as("qianyu"), login_as("chenjing"), login_as("wangmin")
    assert f'href="{page}"' in com.get(f"/incidents/{incident.id}").text  # reachable from the incident page
    assert f'action="{page}"' in com.get(page).text and f'action="{page}"' not in mon.get(page).text
    assert f'action="{page}"' not in leg.get(page).text and f'action="{page}"' not in lea.get(page).text

    def post(client, target, **form):
        return client.post(target, data={**form, "csrf_token": csrf_of(client.get(page).text)})

    r = post(com, page, kind="clarification", text="")
    assert r.status_code == 303 and r.headers["location"].startswith(f"{page}?done=drafted")
    statement = session.scalars(select(Statement)).one()
    sid = statement.id
    shown = com.get(page + "?done=drafted").text
    assert "口径草稿已生成" in shown and "尚有" in shown and "【待核实" in shown
    assert _forms(shown) >= {f"/statements/{sid}/edit", f"/statements/{sid}/submit"}
    assert _forms(mon.get(page).text) == set() and _forms(leg.get(page).text) == set()
    assert _forms(lea.get(page).text) == set()

    refused = post(com, f"/statements/{sid}/submit")
    assert refused.status_code == 422 and "【待核实】内容未填写" in refused.text
    forged = com.post(f"/statements/{sid}/edit", data={"text": "x", "csrf_token": "forged"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    session.expire_all()
    text = session.get(Statement, sid).versions[0].text
    hostile = PENDING.sub("（已核实）", text) + "\n<script>alert('口径')</script>"
    assert post(com, f"/statements/{sid}/edit", text=hostile, note="填写核实情况").status_code == 303
    shown = com.get(page).text
    assert "<script>alert" not in shown and "&lt;script&gt;" in shown  # text and diff are escaped
    assert re.search(r"<ins>[^<]*&lt;script&gt;", shown), "the added line is marked in the diff"
    assert "<del>" in shown and "第1版 → 第2版" in shown
    compared = com.get(page + f"?s={sid}&a=2&b=1").text
    assert "第2版 → 第1版" in compared

    assert post(mon, f"/statements/{sid}/submit").status_code == 403
    assert post(com, f"/statements/{sid}/submit").status_code == 303
    assert _forms(leg.get(page).text) == {f"/statements/{sid}/legal-approve", f"/statements/{sid}/request-changes"}
    assert f"/statements/{sid}/approve" not in _forms(lea.get(page).text)  # legal first
    refused = post(com, f"/statements/{sid}/publish", where="官方微博")
    assert refused.status_code == 409 and "口径未经领导审签，不能发布" in refused.text
    assert post(lea, f"/statements/{sid}/legal-approve").status_code == 403
    assert post(leg, f"/statements/{sid}/legal-approve", note="无法律风险").status_code == 303
    assert _forms(lea.get(page).text) == {f"/statements/{sid}/approve", f"/statements/{sid}/request-changes"}
    assert post(com, f"/statements/{sid}/approve").status_code == 403
    assert post(lea, f"/statements/{sid}/approve", note="同意发布").status_code == 303
    assert f"/statements/{sid}/publish" in _forms(com.get(page).text)
    bad_time = post(com, f"/statements/{sid}/publish", where="官方微博", published_at="昨天")
    assert bad_time.status_code == 422 and "发布时间格式无效" in bad_time.text
    r = post(com, f"/statements/{sid}/publish", where="江城分行官方微博", url="https://weibo.example/jcfh/1")
    assert r.status_code == 303
    shown = com.get(page + "?done=published").text
    assert "已登记发布" in shown and "江城分行官方微博" in shown and "陈静" in shown and "钱宇" in shown
    assert _forms(shown) == set()  # nothing left to do with a published statement
    incident_page = com.get(f"/incidents/{incident.id}").text
    assert "澄清说明 · 已发布 · 第2版 · 江城分行官方微博" in incident_page
    session.expire_all()
    kinds = [e.kind for e in session.scalars(select(TimelineEvent).order_by(TimelineEvent.id))
             if e.kind.startswith("statement_")]
    assert kinds == ["statement_drafted", "statement_edited", "statement_submitted", "statement_legal_approved",
                     "statement_approved", "statement_published"]


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_statement_api_runs_the_workflow_with_bearer_tokens(client, make, token_for):
    _, _, incident = make.crisis(unit_id="guangminglu")
    com, leg, lea = token_for("liuqiang"), token_for("qianyu"), token_for("chenjing")
    base = f"/api/v1/incidents/{incident.id}/statements"
    assert client.post(base, json={"kind": "holding"}, headers=token_for("wangmin")).status_code == 403
    r = client.post(base, json={"kind": "holding"}, headers=com)
    assert r.status_code == 200, r.text
    body = r.json()
    sid = body["id"]
    assert body["status"] == "draft" and body["pending_marks"] and body["template_key"] == "bank_run_holding"
    assert "示例银行江城分行光明路支行" in body["text"]
    r = client.post(f"/api/v1/statements/{sid}/submit", headers=com)
    assert r.status_code == 422 and "【待核实】" in r.json()["detail"]
    r = client.post(f"/api/v1/statements/{sid}/edit", headers=com,
                    json={"text": PENDING.sub("（已核实）", body["text"]), "note": "核实"})
    assert r.status_code == 200 and r.json()["current_version"] == 2 and r.json()["pending_marks"] == []
    assert client.post(f"/api/v1/statements/{sid}/submit", headers=com).json()["status"] == "in_review"
    r = client.post(f"/api/v1/statements/{sid}/request-changes", headers=leg, json={"reason": "请注明核实时间"})
    assert r.status_code == 200 and r.json()["status"] == "draft"
    assert r.json()["decisions"][-1] | {"at": None} == {
        "version": 2, "action": "changes_requested", "action_name": "退回修改", "actor": "qianyu",
        "actor_name": "钱宇", "at": None, "note": "请注明核实时间"}
    r = client.post(f"/api/v1/statements/{sid}/edit", headers=com,
                    json={"text": r.json()["text"] + "\n（截至11月23日10时）"})
    assert r.json()["current_version"] == 3
    assert client.post(f"/api/v1/statements/{sid}/submit", headers=com).status_code == 200
    assert client.post(f"/api/v1/statements/{sid}/legal-approve", headers=leg).json()["status"] == "legal_approved"
    r = client.post(f"/api/v1/statements/{sid}/publish", headers=com, json={"where": "官方网站"})
    assert r.status_code == 409 and r.json()["detail"] == "口径未经领导审签，不能发布（当前状态：待领导审签）"
    r = client.post(f"/api/v1/statements/{sid}/approve", headers=lea)
    assert r.status_code == 200 and (r.json()["approved_by"], r.json()["approved_version"]) == ("chenjing", 3)
    r = client.post(f"/api/v1/statements/{sid}/publish", headers=com,
                    json={"where": "官方网站", "published_at": "2026-11-23T00:30:00+00:00"})
    assert r.status_code == 422 and r.json()["detail"] == "发布时间不能早于领导审签时间"
    r = client.post(f"/api/v1/statements/{sid}/publish", headers=com, json={"where": "官方网站"})
    assert r.status_code == 200 and r.json()["status"] == "published" and r.json()["published_where"] == "官方网站"
    listed = client.get(base, headers=lea).json()
    assert listed["total"] == 1 and [v["number"] for v in listed["items"][0]["versions"]] == [1, 2, 3]
    assert client.get(base, headers=token_for("wujun")).status_code == 403  # 滨江支行's liaison: not theirs
