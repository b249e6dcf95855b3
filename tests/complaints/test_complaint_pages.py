"""The complaint pages: the intake form (Chinese error beside the field, everything typed kept, nothing saved),
the detail page (clocks first, the next steps as forms, masked customer and the audited 查看完整信息), the list's
clock badges, and the statistics page showing exactly the JSON's figures.

The clock stands at 2026-11-23 09:00 in Shanghai (a Monday)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from tests.complaints.web import WALK_IN, counts
from yuqing.models import AuditEntry

FORM = {k: v for k, v in WALK_IN.items() if k != "severity"} | {"severity": "general",
                                                                 "received_at": "2026-11-23T08:30"}


def post_form(client, csrf_of, data: dict, files=None):
    token = csrf_of(client.get("/complaints/new").text)
    return client.post("/complaints", data={**data, "csrf_token": token}, files=files)


def test_the_form_defaults_to_now_and_the_users_unit(login_as):
    page = login_as("huangwei").get("/complaints/new")
    assert page.status_code == 200
    assert 'name="received_at" type="datetime-local" value="2026-11-23T09:00"' in page.text
    assert '<option value="xinhualu" selected>' in page.text
    assert 'value="walk_in" selected' in page.text
    assert '<a href="/complaints" aria-current="page" class="active">投诉</a>' in page.text


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"description": "  "}, "description", "投诉内容不能为空"),
    ({"received_at": "2026-11-24T10:00"}, "received_at", "受理时间不能晚于当前时间"),
    ({"received_at": "明天上午"}, "received_at", "受理时间格式无效"),
    ({"category": "weather"}, "category", "投诉类别"),
    ({"unit_id": "no-such-outlet"}, "unit_id", "机构不存在"),
])
def test_a_bad_form_shows_the_chinese_error_beside_its_field_and_keeps_the_values(login_as, csrf_of, session,
                                                                                   change, field, message):
    r = post_form(login_as("huangwei"), csrf_of, {**FORM, **change})
    assert r.status_code == 422
    error = re.search(rf'<p class="field-error error" id="{field}-error" role="alert">([^<]+)</p>', r.text)
    assert error and message in unescape(error.group(1)), r.text[-3000:]
    for name in ("customer_name", "customer_phone", "account_or_product"):
        assert f'value="{FORM[name]}"' in r.text, name
    if field != "description":
        assert f">{FORM['description']}</textarea>" in r.text
    assert counts(session)["complaints"] == 0


def test_a_too_large_attachment_is_a_chinese_error_and_nothing_is_saved(login_as, csrf_of, session):
    big = b"\0" * (10 * 1024 * 1024)
    r = post_form(login_as("huangwei"), csrf_of, FORM, files={"attachments": ("录音.wav", big, "audio/wav")})
    assert r.status_code == 422
    assert re.search(r'id="attachments-error" role="alert">[^<]*附件', r.text)
    assert counts(session) == {"complaints": 0, "events": 0, "attachments": 0, "audit": 0}


def test_a_walk_in_entered_shows_its_clocks_steps_and_masked_customer(login_as, csrf_of, session):
    outlet = login_as("huangwei")
    r = post_form(outlet, csrf_of, FORM, files={"attachments": ("照片.jpg", b"\xff\xd8photo", "image/jpeg")})
    assert r.status_code == 303, r.text[-2000:]
    detail = outlet.get(r.headers["location"])
    text = detail.text
    assert "投诉已登记" in text
    # clocks first, with their deadlines in local time
    assert text.index('id="clocks"') < text.index('id="steps"') < text.index("投诉信息")
    for label, due in (("录入", "2026-11-24 08:30"), ("联系客户", "2026-11-25 08:30"), ("办结", "2026-11-26 08:30"),
                       ("答复客户", "2026-12-08 08:30")):
        assert re.search(rf'{label}</span>\s*<span class="clock-due">截止 <time[^>]*>{due}</time>', text), label
    # only the next sensible steps: acknowledging first, no closing or return visit yet
    steps = re.findall(r'data-step="([a-z-]+)"', text)
    assert steps[:3] == ["acknowledge", "contact", "verify"] and "close" not in steps and "return-visit" not in steps
    assert "张**" in text and "139****5678" in text and "13912345678" not in text
    assert "SHA-256" in text and "照片.jpg" in text
    # the 首问 owner may see the full details: the view is audited
    assert "查看完整信息" in text
    full = outlet.get(r.headers["location"].split("?")[0] + "?reveal=1")
    assert "张三丰" in full.text and "13912345678" in full.text
    session.rollback()
    assert session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "complaint.reveal")).all() == [
        "huangwei"]
    # legal reads the record, masked, with no button and no steps
    legal = login_as("qianyu").get(r.headers["location"].split("?")[0]).text
    assert "查看完整信息" not in legal and 'data-step="' not in legal and "张**" in legal


def test_a_step_from_the_page_and_one_out_of_order(login_as, csrf_of):
    outlet = login_as("huangwei")
    where = post_form(outlet, csrf_of, FORM).headers["location"].split("?")[0]
    token = csrf_of(outlet.get(where).text)
    r = outlet.post(f"{where}/steps/acknowledge", data={"how": "in_person", "csrf_token": token})
    assert r.status_code == 303
    page = outlet.get(r.headers["location"]).text
    assert "已记录处理步骤" in page
    assert 'data-step="acknowledge"' not in page and 'data-step="contact"' not in page  # met in person
    early = outlet.post(f"{where}/steps/return-visit", data={"satisfaction": "satisfied", "csrf_token": token})
    assert early.status_code == 409 and "回访" in early.text


def test_the_list_marks_overdue_clocks_in_red(login_as, csrf_of):
    outlet = login_as("huangwei")
    post_form(outlet, csrf_of, {**FORM, "received_at": "2026-11-20T09:00", "description": "上周五的来信"})
    post_form(outlet, csrf_of, FORM)
    page = outlet.get("/complaints").text
    assert page.count('class="row-overdue"') == 1
    assert re.search(r'<span class="clock-badge clock-overdue"[^>]*>联系客户已超时</span>', page)
    assert outlet.get("/complaints?status=lost").status_code == 422
    assert "没有符合条件的投诉" in outlet.get("/complaints?channel=letter").text


def test_the_statistics_page_shows_the_jsons_figures(login_as, csrf_of, bearer):
    outlet = login_as("huangwei")
    post_form(outlet, csrf_of, {**FORM, "received_at": "2026-11-20T09:00", "description": "上周五的来信"})
    post_form(outlet, csrf_of, {**FORM, "channel": "hotline", "severity": "urgent"})
    post_form(outlet, csrf_of, {**FORM, "category": "opaque_fees", "customer_phone": "139 1234 5678"})
    page = login_as("liuqiang").get("/complaints/stats?month=2026-11")
    assert page.status_code == 200
    shown = dict(re.findall(r'data-stat="([^"]+)" data-value="([^"]*)"', page.text))
    data = bearer("liuqiang").get("/api/v1/complaints/stats?month=2026-11").json()
    expected = {"total": data["total"], "average_resolution_days": data["average_resolution_days"],
                "satisfaction_rate": data["satisfaction_rate"], "repeat_complaints": data["repeat_complaints"],
                "quarter_change.change": data["quarter_change"]["change"],
                **{f"on_time.{k}": v for k, v in data["on_time"].items()},
                **{f"by.{dim}.{code}": n for dim, counts_ in data["by"].items() for code, n in counts_.items()}}
    assert {k: ("" if v is None else str(v)) for k, v in expected.items()} == shown
    assert data["total"] == 3 and data["by"]["channel"] == {"walk_in": 2, "hotline": 1}
    assert data["repeat_complaints"] == 2  # the same phone number three times: the 2nd and 3rd are repeats
    assert data["on_time"]["entry"] == pytest.approx(2 / 3, abs=1e-4)  # the one entered 3 days late
    assert "<svg" in page.text and "≤ 7 天" in page.text and "提升至 80.0%" in page.text
    bad = login_as("liuqiang").get("/complaints/stats?month=2026-13")
    assert bad.status_code == 422 and "月份格式" in bad.text
