"""The alert queue shows each alert's escalation history: every step's time, role and people (org-chart names),
whether they acknowledged, the ORIGINAL acknowledgement deadline and, separately, when the next step is told."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from incidents import scheduled
from incidents.escalation import build_chain


def _escalated_twice(make, session, org, policy, clock):
    story = make.story(unit_id="xinhualu", title="示例银行新华路网点<b>挤兑</b>传闻")
    make.article(story=story)
    alert = make.alert(story=story, level="I", ack_in=timedelta(minutes=5))
    alert.escalation_chain = [s.to_json() for s in build_chain(org, "xinhualu",
                                                                policy.levels_file.escalation_roles("I"))]
    original = alert.ack_due_at
    session.commit()
    clock.advance(timedelta(minutes=6))
    assert scheduled.run_escalations(session, org=org, policy=policy, clock=clock) == 1
    session.commit()
    first_at = clock.now()
    clock.advance(timedelta(minutes=6))
    assert scheduled.run_escalations(session, org=org, policy=policy, clock=clock) == 1
    session.commit()
    return alert, original, first_at


BOTH_DATABASES = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                         indirect=True)


def _card(html: str, alert_id: int) -> str:
    start = html.index(f'id="alert-{alert_id}"')
    return html[start:html.index("</article>", start)]


@BOTH_DATABASES
def test_an_alert_escalated_twice_shows_both_steps_with_names_and_the_original_deadline(
        login_as, make, session, org, policy, clock):
    alert, original, first_at = _escalated_twice(make, session, org, policy, clock)
    chain = alert.escalation_chain
    assert len(chain) == 3 and alert.escalation_step == 2  # level I: 值班监测 → 应急处置负责人 → 分行领导
    assert alert.ack_due_at > original  # the job moved the deadline on: the card must not show it as the deadline
    html = login_as("wangmin").get("/alerts").text
    card = _card(html, alert.id)
    assert f'<article class="alert-item row-overdue" id="alert-{alert.id}">' in html  # still overdue
    history = card[card.index("上报记录"):]
    steps = re.findall(r"<li>.*?</li>", history, re.S)
    assert len(steps) == 2
    for step, planned in zip(steps, chain[1:3], strict=True):
        assert f"第{planned['index']}级" in step
        for pid in planned["people"]:
            assert org.person(pid).name in step
        assert "未确认" in step
    assert "应急处置负责人" in steps[0] and "分行领导" in steps[1]
    local_original = (original + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    local_first = (first_at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert f"自 {local_original} 起超时未确认" in re.sub(r"<[^>]+>", "", card)
    assert local_first in steps[0]
    # the next step is shown apart from the original deadline: here there is none left to tell
    assert "下次上报</dt><dd class=\"next-escalation\">已上报至上报链末端" in card
    assert "&lt;b&gt;挤兑&lt;/b&gt;" in card and "<b>挤兑</b>" not in card


def test_who_acknowledged_is_marked_on_their_step(login_as, make, session, org, policy, clock, csrf_of):
    alert, _, _ = _escalated_twice(make, session, org, policy, clock)
    commander = alert.escalation_chain[1]["people"][0]
    c = login_as(commander)
    r = c.post(f"/alerts/{alert.id}/ack", data={"csrf_token": csrf_of(c.get("/alerts").text)})
    assert r.status_code == 303
    html = c.get("/alerts").text
    row = html[html.index(f'id="alert-{alert.id}"'):]
    row = row[:row.index("</tr>")]
    assert "上报 2 级" in row
    name = org.person(commander).name
    assert re.search(rf"{name}（<span class=\"ok\">[0-9: -]+ 已确认</span>）", row), row


def test_an_alert_not_yet_escalated_shows_its_deadline_and_who_is_next(login_as, make, session, org, policy, clock):
    story = make.story(unit_id="xinhualu")
    alert = make.alert(story=story, level="II")
    session.commit()
    html = login_as("wangmin").get("/alerts").text
    card = _card(html, alert.id)
    assert "上报记录" not in card and "下次上报" in card and "仍无人确认则上报应急处置负责人" in card
    assert f'<article class="alert-item" id="alert-{alert.id}">' in html  # not yet due


@BOTH_DATABASES
def test_a_step_shows_who_read_the_escalation_message_in_their_inbox(login_as, make, session, org, policy, clock,
                                                                      csrf_of):
    from sqlalchemy import select

    from incidents.models import Notification

    alert, _, _ = _escalated_twice(make, session, org, policy, clock)
    reader, other = alert.escalation_chain[2]["people"][:2]
    message = session.scalar(select(Notification).where(
        Notification.alert_id == alert.id, Notification.purpose == "escalation",
        Notification.recipient_id == reader, Notification.channel == "in_app"))
    c = login_as(reader)
    r = c.post(f"/inbox/{message.id}/read", data={"csrf_token": csrf_of(c.get("/inbox").text)})
    assert r.status_code == 303
    card = _card(c.get("/alerts").text, alert.id)
    step = re.findall(r"<li>.*?</li>", card[card.index("上报记录"):], re.S)[1]
    assert re.search(rf"{org.person(reader).name}（未确认，[0-9: -]+ 已读）", step), step
    assert f"{org.person(other).name}（未确认）" in step


def test_the_api_and_the_overview_keep_an_escalated_alert_overdue(login_as, make, session, org, policy, clock):
    """After an escalation ack_due_at is the next step's time, in the future: the alert is still overdue."""
    alert, _original, _first_at = _escalated_twice(make, session, org, policy, clock)
    assert alert.ack_due_at > clock.now()  # the moved-on deadline alone would read as "not yet due"
    monitor = login_as("wangmin")  # the API reads on the session cookie too
    item = next(a for a in monitor.get("/api/v1/alerts").json()["items"] if a["id"] == alert.id)
    assert item["ack_overdue"] is True and item["escalation_step"] == 2
    overview = monitor.get("/").text
    link = overview.index(f'href="/alerts#alert-{alert.id}"')
    row = overview[overview.rindex("<tr", 0, link):overview.index("</tr>", link)]
    assert 'class="row-overdue"' in row and "超时未确认，已上报 2 级" in row
