"""A complaint entered by each channel (客服热线, 临柜, 信件 … 意见簿) shows its clocks and steps: one complaint per
``ComplaintChannel``, entered the way that channel reaches yuqing — a ticket system through the API, staff through
the 登记投诉 form — and its page shows the channel, the four clocks with their deadlines and the next steps.

The clock stands at 2026-11-23 09:00 in Shanghai (a Monday); each complaint was received at 08:30 (一般)."""

from __future__ import annotations

import re

import pytest

from incidents.complaints.models import CHANNEL_LABELS, ComplaintChannel
from tests.complaints.web import WALK_IN

# systems send tickets through the API; the rest is typed in by staff on the form
BY_API = {ComplaintChannel.hotline, ComplaintChannel.online_form, ComplaintChannel.email,
          ComplaintChannel.superior_bank, ComplaintChannel.regulator_transfer, ComplaintChannel.web_post}
CLOCKS = {"entry": ("录入", "2026-11-24 08:30"), "contact": ("联系客户", "2026-11-25 08:30"),
          "resolve": ("办结", "2026-11-26 08:30"), "reply": ("答复客户", "2026-12-08 08:30")}


def test_the_channels_are_the_documented_ten():
    assert {c.value for c in ComplaintChannel} == {
        "hotline", "walk_in", "letter", "email", "online_form", "petition", "superior_bank", "regulator_transfer",
        "web_post", "comment_book"}
    assert set(CHANNEL_LABELS) == {c.value for c in ComplaintChannel}


@pytest.mark.parametrize("channel", list(ComplaintChannel), ids=lambda c: c.value)
def test_a_complaint_entered_by_each_channel_shows_its_clocks_and_steps(channel, bearer, login_as, csrf_of):
    text = f"经{CHANNEL_LABELS[channel]}反映：柜员态度恶劣，拒绝办理挂失"
    if channel in BY_API:
        r = bearer("wangmin").post("/api/v1/complaints", json={**WALK_IN, "channel": channel.value,
                                                               "description": text})
        assert r.status_code == 201, r.text
        where = f"/complaints/{r.json()['id']}"
    else:
        outlet = login_as("huangwei")
        form = {k: v for k, v in WALK_IN.items() if k != "severity"} | {
            "channel": channel.value, "severity": "general", "received_at": "2026-11-23T08:30", "description": text,
            "csrf_token": csrf_of(outlet.get("/complaints/new").text)}
        r = outlet.post("/complaints", data=form)
        assert r.status_code == 303, r.text[-1500:]
        where = r.headers["location"].split("?")[0]
    page = login_as("liuqiang").get(where)
    assert page.status_code == 200
    html = page.text
    assert CHANNEL_LABELS[channel] in html[:html.index('id="clocks"')] and text in html
    # the four clocks, each with its deadline and state, before the steps
    shown = re.findall(r'data-clock="([a-z]+)">\s*<span class="clock-label">([^<]+)</span>\s*'
                       r'<span class="clock-due">截止 <time[^>]*>([^<]+)</time>', html)
    assert {key: (label, due) for key, label, due in shown} == CLOCKS
    assert html.count('class="clock-badge clock-running"') == 3  # entry met (entered at once), the rest running
    assert html.index('id="clocks"') < html.index('id="steps"')
    # the next sensible steps, in handling order, and nothing out of order
    steps = re.findall(r'data-step="([a-z-]+)"', html)
    assert steps[:5] == ["acknowledge", "contact", "verify", "assign", "propose"]
    assert not {"accept", "close", "return-visit"} & set(steps)
