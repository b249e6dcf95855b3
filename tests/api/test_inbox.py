"""消息 (the in-app inbox), its API, one-click acknowledgement links and the admins' outbox page.

Messages come from the real service (a story's risk → alert and incident → outbox rows) and, for the link, from a
real email: the outbox is delivered over SMTP to aiosmtpd on 127.0.0.1 and the link is read from the mail.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
from collections.abc import Iterator

import itsdangerous.timed
import pytest
from sqlalchemy import select

from api.users import deactivate, get_user_by_login
from incidents import service
from incidents.acks import AckLinks
from incidents.message_acks import MessageAck
from incidents.models import Alert, Incident, LeadershipAcknowledgement, Notification
from incidents.notify import InAppSender, SmtpSender, deliver_pending
from incidents.policy import ChannelsFile
from incidents.queries import incident_facts
from sim.mailsink import MailSink

TEST_SECRET_KEY = "api-tests-7Hq2xW9pLm4Rt8Vz3Nc6Bk1Yd5Gf0Js"  # conftest's
LINK_RE = re.compile(r"(https?://\S+/ack/(\S+))")


@pytest.fixture
def smtp() -> Iterator[MailSink]:
    """A real SMTP server on 127.0.0.1 (the demo's mail sink) that keeps what it receives."""
    sink = MailSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def alert_messages(session, make, org, policy, clock, users, smtp):
    """A new level-III alert for 新华路网点 (and its incident), queued for the duty monitors and the commander with
    email on, and delivered: in-app, and by email to the real SMTP server with one-click links. Returns the alert."""
    email_on = ChannelsFile.model_validate({"channels": {"email": {"enabled": True}}})
    pol = policy.model_copy(update={"channels": email_on})
    story = make.story(title="示例银行新华路网点拒绝取款")
    make.article(story=story)
    risk = make.story_risk(story=story, level="III", score=45.0)
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=pol, clock=clock)
    links = AckLinks(TEST_SECRET_KEY, base_url="http://testserver")
    sender = SmtpSender(host="127.0.0.1", port=smtp.port, from_address="yuqing@jc.shili-bank.example", links=links)
    asyncio.run(deliver_pending(session, clock=clock, senders={"in_app": InAppSender(), "email": sender}, org=org))
    session.commit()
    return session.get(Alert, out.alert_id)


def inbox_rows(session, login):
    return list(session.scalars(select(Notification).where(Notification.recipient_id == login,
                                                           Notification.channel == "in_app")))


def test_inbox_shows_only_ones_own_messages_with_an_unread_badge(alert_messages, login_as, session, csrf_of):
    mine = inbox_rows(session, "wangmin")
    assert mine and inbox_rows(session, "liuqiang")
    client = login_as("wangmin")
    page = client.get("/")
    assert re.search(rf'class="unread-count"[^>]*>{len(mine)}<', page.text)  # the top bar, on every page
    inbox = client.get("/inbox")
    assert inbox.status_code == 200 and mine[0].subject in inbox.text and "未读" in inbox.text
    assert all(f'id="msg-{n.id}"' not in inbox.text for n in inbox_rows(session, "liuqiang"))

    r = client.post(f"/inbox/{mine[0].id}/read", data={"csrf_token": csrf_of(inbox.text)})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(Notification, mine[0].id).read_at is not None
    after = client.get("/")
    assert (f">{len(mine) - 1}<" in after.text) if len(mine) > 1 else "unread-count" not in after.text
    other = inbox_rows(session, "liuqiang")[0]
    assert client.post(f"/inbox/{other.id}/read", data={"csrf_token": csrf_of(inbox.text)}).status_code == 404
    session.expire_all()
    assert session.get(Notification, other.id).read_at is None


def test_acknowledging_an_alert_message_acknowledges_the_alert_when_one_may(alert_messages, login_as, session,
                                                                           csrf_of):
    alert = alert_messages
    assert alert.status == "open"
    monitor = login_as("wangmin")
    page = monitor.get("/inbox")
    message = next(n for n in inbox_rows(session, "wangmin") if n.alert_id == alert.id)
    r = monitor.post(f"/inbox/{message.id}/ack", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and "done=ack_alert" in r.headers["location"]
    session.expire_all()
    alert = session.get(Alert, alert.id)
    assert alert.status == "acknowledged" and alert.acknowledged_by == "wangmin"
    ack = session.scalar(select(MessageAck).where(MessageAck.notification_id == message.id))
    assert ack.person_id == "wangmin" and ack.via == "inbox" and ack.outcome == "alert_acknowledged"
    assert "已确认" in monitor.get("/inbox").text
    again = monitor.post(f"/inbox/{message.id}/ack", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 409
    # the commander's copy: the alert is already acknowledged, so theirs records receipt only
    commander = login_as("liuqiang")
    cpage = commander.get("/inbox")
    theirs = next(n for n in inbox_rows(session, "liuqiang") if n.alert_id == alert.id or n.incident_id)
    assert commander.post(f"/inbox/{theirs.id}/ack", data={"csrf_token": csrf_of(cpage.text)}).status_code == 303
    session.expire_all()
    assert session.scalar(select(MessageAck.outcome).where(MessageAck.notification_id == theirs.id)) in (
        "alert_already", "received")


def test_api_lists_own_messages_and_marks_read_with_a_token(alert_messages, token_for, client, session, login_as):
    headers = token_for("wangmin")
    r = client.get("/api/v1/notifications", headers=headers)
    body = r.json()
    assert r.status_code == 200 and body["total"] == body["unread"] == len(inbox_rows(session, "wangmin"))
    assert {m["channel"] for m in body["items"]} == {"in_app"} and body["items"][0]["delivered_at"]
    first = body["items"][0]["id"]
    r = client.post(f"/api/v1/notifications/{first}/read", headers=headers)
    assert r.status_code == 200 and r.json()["read_at"]
    assert client.get("/api/v1/notifications?unread=true", headers=headers).json()["unread"] == body["unread"] - 1
    other = inbox_rows(session, "liuqiang")[0].id
    assert client.post(f"/api/v1/notifications/{other}/read", headers=headers).status_code == 404
    cookie = login_as("wangmin")
    assert cookie.post(f"/api/v1/notifications/{first}/read").status_code == 401  # API writes need a token


def _email_link(session, org, clock, smtp, login: str) -> tuple[str, str, Notification]:
    row = next(n for n in session.scalars(select(Notification).where(Notification.channel == "email",
                                                                       Notification.recipient_id == login)))
    assert row.status == "sent" and "/ack/" not in row.body  # the link is a credential: never stored
    address = org.person(login).contacts.email
    raw = next(m.raw for m in smtp.messages if m.recipients == (address,))
    text = email.message_from_bytes(raw, policy=email.policy.default).get_content()
    url, token = LINK_RE.search(text).groups()
    assert "处理链接：http://testserver/incidents/" in text or "处理链接：http://testserver/alerts#alert-" in text
    return url.replace("http://testserver", ""), token, row


def test_one_click_link_from_a_real_email_acknowledges_once_and_never_on_get(
        alert_messages, app, session, org, clock, smtp):
    path, _token, row = _email_link(session, org, clock, smtp, "wangmin")
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as scanner:
        for _ in range(3):  # a mail gateway's link scanner, a chat preview, the person looking
            page = scanner.get(path)
            assert page.status_code == 200 and "确认收到" in page.text and row.subject in page.text
            assert page.headers["referrer-policy"] == "no-referrer"
            assert '<form method="post"' in page.text
        session.expire_all()
        assert session.scalar(select(MessageAck).where(MessageAck.notification_id == row.id)) is None
        assert session.get(Alert, alert_messages.id).status == "open"  # nothing happened on GET

        done = scanner.post(path)
        assert done.status_code == 200 and "已确认预警" in done.text
        session.expire_all()
        assert session.get(Alert, alert_messages.id).acknowledged_by == "wangmin"
        ack = session.scalar(select(MessageAck).where(MessageAck.notification_id == row.id))
        assert ack.via == "link" and ack.person_id == "wangmin"
        assert session.get(Notification, row.id).read_at is not None

        reused = scanner.post(path)
        assert reused.status_code == 409 and "已经使用过" in reused.text
        assert scanner.get(path).status_code == 409


def test_ack_links_refuse_tampered_expired_wrong_person_and_leavers(alert_messages, app, session, org, clock, smtp,
                                                                   login_as, monkeypatch):
    path, token, row = _email_link(session, org, clock, smtp, "wangmin")
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as anon:
        flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
        for bad in (f"/ack/{flipped}", f"/ack/{token}x", "/ack/garbage", f"/ack/{token.split('.', 1)[1]}"):
            assert anon.get(bad).status_code == 404 and anon.post(bad).status_code == 404, bad
        # a token for this message signed with another key (or another purpose) is not ours
        foreign = AckLinks("another-secret-key-of-at-least-32-chars!!", base_url="").token(row.id, "wangmin")
        assert anon.post(f"/ack/{foreign}").status_code == 404
        # a token naming a message of someone else is refused (the message is not that person's)
        theirs = AckLinks(TEST_SECRET_KEY, base_url="").token(row.id, "liuqiang")
        assert anon.post(f"/ack/{theirs}").status_code == 404

        # expired: signed 25 hours ago
        real = itsdangerous.timed.TimestampSigner.get_timestamp
        monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                            lambda self: int(time.time()) - 25 * 3600)
        old = AckLinks(TEST_SECRET_KEY, base_url="").token(row.id, "wangmin")
        monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", real)
        expired = anon.post(f"/ack/{old}")
        assert expired.status_code == 410 and "已过期" in expired.text

    other = login_as("liuqiang")  # a forwarded mail opened in a colleague's signed-in browser
    assert other.get(path).status_code == 403 and other.post(path).status_code == 403
    session.expire_all()
    assert session.scalar(select(MessageAck).where(MessageAck.notification_id == row.id)) is None
    assert session.get(Alert, alert_messages.id).status == "open"

    deactivate(session, user=get_user_by_login(session, login="wangmin"), reason="离职", actor="admin", clock=clock)
    session.commit()
    with TestClient(app, follow_redirects=False) as anon:
        gone = anon.post(path)
        assert gone.status_code == 404 and "停用" in gone.text
    session.expire_all()
    assert session.get(Alert, alert_messages.id).status == "open"


def test_outbox_page_shows_admins_what_was_sent(alert_messages, login_as, session):
    rows = list(session.scalars(select(Notification)))
    admin = login_as("admin")
    page = admin.get("/outbox")
    assert page.status_code == 200 and rows[0].subject in page.text and "王敏" in page.text
    assert {n.status for n in rows} == {"sent"} and "已发送" in page.text
    emails = admin.get("/outbox?channel=email&status=sent")
    assert emails.status_code == 200 and "电子邮件" in emails.text and "站内消息 · 收件人" not in emails.text
    assert "/ack/" not in page.text  # links are never stored, so never shown
    assert login_as("liuqiang").get("/outbox").status_code == 403


def test_a_leader_acknowledging_an_incident_message_counts_as_leadership_told(session, make, org, policy, clock,
                                                                               users, login_as, csrf_of):
    story = make.story(title="示例银行新华路网点挤兑传言")
    make.article(story=story)
    out = service.handle_story_risk(session, story_risk=make.story_risk(story=story, level="II", score=75.0),
                                    org=org, policy=policy, clock=clock)
    asyncio.run(deliver_pending(session, clock=clock, senders={"in_app": InAppSender()}, org=org))
    session.commit()
    message = next(n for n in inbox_rows(session, "chenjing") if n.incident_id == out.incident_id)
    assert not session.scalars(select(LeadershipAcknowledgement)).all()  # delivered is not "told"
    leader = login_as("chenjing")
    page = leader.get("/inbox")
    assert leader.post(f"/inbox/{message.id}/ack", data={"csrf_token": csrf_of(page.text)}).status_code == 303
    session.expire_all()
    (ack,) = session.scalars(select(LeadershipAcknowledgement)).all()
    assert (ack.incident_id, ack.leader_id) == (out.incident_id, "chenjing")
    facts = incident_facts(session, session.get(Incident, out.incident_id))
    assert facts.reports.get("leadership_notice")


def test_every_purpose_the_product_writes_has_a_chinese_name_in_the_inbox():
    import re
    from pathlib import Path

    from api.inbox import PURPOSE_LABELS
    from incidents.scheduled import PURPOSE_LABELS as SCHEDULED

    root = Path(__file__).resolve().parents[2]
    written = set(SCHEDULED)
    for pkg in ("incidents", "api", "yuqing"):
        for f in (root / pkg).rglob("*.py"):
            written |= set(re.findall(r'purpose="([a-z_]+)"', f.read_text(encoding="utf-8")))
    assert {"alert", "escalation", "reminder", "overdue"} <= written
    for purpose in written:
        assert re.search("[\u4e00-\u9fff]", PURPOSE_LABELS.get(purpose, "")), purpose
