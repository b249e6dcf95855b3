"""关键词方案: plans listed, added, edited and deleted through the API and the dashboard — checked with
``KeywordPlan`` (errors beside the fields), saved into the ``keywords.yaml`` document keeping its comments and the
other plans, audited, admins only — and 试匹配 runs the pipeline's matcher on pasted text."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.yaml_entries import entries
from yuqing import config_store
from yuqing.models import AuditEntry
from yuqing.settings import PROJECT_ROOT

SHIPPED = (PROJECT_ROOT / "config" / "keywords.yaml").read_text(encoding="utf-8")


def keywords_text(session) -> str:
    session.rollback()
    return config_store.effective_text(session, PROJECT_ROOT / "config", "keywords.yaml")


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_plans_are_added_replaced_and_deleted_through_the_api(client, token_for, session, users):
    admin = token_for("admin")
    r = client.post("/api/v1/keyword-plans", json={"name": "网点排队", "any": ["排长队", "排队取钱"],
                                                   "category": "withdrawal_bank_run"}, headers=admin)
    assert r.status_code == 201, r.text
    text = keywords_text(session)
    assert text.startswith(SHIPPED.rstrip("\n")), "the shipped plans and comments stay as they were"
    assert entries(text, "plans")[-1] == {"name": "网点排队", "category": "withdrawal_bank_run",
                                          "any": ["排长队", "排队取钱"]}

    r = client.put("/api/v1/keyword-plans/存取款受限/挤兑谣言", json={"name": "存取款受限/挤兑谣言",
                                                                   "category": "withdrawal_bank_run",
                                                                   "any": ["挤兑", "取不出钱"]}, headers=admin)
    assert r.status_code == 200, r.text
    r = client.delete("/api/v1/keyword-plans/暴力催收", headers=admin)
    assert r.status_code == 200 and r.json() == {"name": "暴力催收"}
    plans = {p["name"]: p for p in entries(keywords_text(session), "plans")}
    assert plans["存取款受限/挤兑谣言"]["any"] == ["挤兑", "取不出钱"] and "暴力催收" not in plans
    assert "# Keyword plans (监测方案)" in keywords_text(session)
    client.app.state.config_check_seconds = 0  # the app follows a save at its next check (at most 1 s): check now
    listed = client.get("/api/v1/keyword-plans", headers=admin).json()
    assert listed["total"] == len(plans)
    assert client.delete("/api/v1/keyword-plans/暴力催收", headers=admin).status_code == 404
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "keyword_plan")).all()
    assert actions == ["keyword_plan.create", "keyword_plan.update", "keyword_plan.delete"]


def test_invalid_plans_are_refused_with_the_field(client, token_for, session, users):
    admin = token_for("admin")
    cases = [({"name": "x", "role": "filter", "any": ["a"], "exclude": ["b"]}, "any"),  # a filter: exclude only
             ({"name": "x"}, "any"),  # a topic plan needs words
             ({"name": "x", "any": ["a"], "category": "nonsense"}, "category"),
             ({"name": "风险事件", "any": ["a"]}, "name"),  # taken
             ({"name": "x", "any": ["a"], "colour": "red"}, "colour")]
    for body, field in cases:
        r = client.post("/api/v1/keyword-plans", json=body, headers=admin)
        assert r.status_code == 422, body
        assert [p["loc"] for p in r.json()["detail"]] == [["body", field]], r.text
    assert config_store.get_document(session, "keywords.yaml") is None
    assert client.post("/api/v1/keyword-plans", json={"name": "x", "any": ["a"]},
                       headers=token_for("wangmin")).status_code == 403


def test_the_form_keeps_what_was_typed_and_try_match_shows_the_hits(login_as, csrf_of, session, users):
    admin = login_as("admin")
    page = admin.get("/admin/keywords/new")
    form = {"csrf_token": csrf_of(page.text), "name": "测试<方案>", "role": "filter", "category": "",
            "must": "", "any": "排长队、排队取钱", "exclude": "演习", "original": ""}
    r = admin.post("/admin/keywords/save", data=form)
    assert r.status_code == 422
    assert "过滤方案只能填写排除词" in r.text and 'value="测试&lt;方案&gt;"' in r.text and "排长队、排队取钱" in r.text
    form.update(role="topic", must="新华路 光明路\n网点", exclude="")
    r = admin.post("/admin/keywords/save", data=form)
    assert r.status_code == 303, r.text
    plan = entries(keywords_text(session), "plans")[-1]
    assert plan == {"name": "测试<方案>", "must": [["新华路", "光明路"], ["网点"]], "any": ["排长队", "排队取钱"]}

    listing = admin.get("/admin/keywords")
    assert "测试&lt;方案&gt;" in listing.text and "<方案>" not in listing.text
    r = admin.post("/admin/keywords/try", data={"csrf_token": csrf_of(listing.text), "title": "",
                                                "text": "示例银行新华路网点门口排长队，<b>储户</b>说取不出钱"})
    assert r.status_code == 200
    assert "新华路网点（主要）" in r.text
    assert "测试&lt;方案&gt;：排长队、新华路、网点" in r.text
    assert "存取款受限/挤兑谣言：取不出钱" in r.text
    assert "&lt;b&gt;储户&lt;/b&gt;" in r.text  # the pasted text is kept in the box, escaped


def test_try_match_through_the_api_with_a_plan_not_yet_saved(client, token_for, users):
    r = client.post("/api/v1/keyword-plans/try", headers=token_for("admin"), json={
        "text": "示例银行光明路支行的理财经理私下卖飞单", "plan": {"name": "飞单", "any": ["飞单"]}})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["relevant"] and got["primary_unit_id"] == "guangminglu"
    assert got["plan_hits"]["飞单"] == ["飞单"]
