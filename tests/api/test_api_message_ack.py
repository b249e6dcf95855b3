"""POST /api/v1/notifications/{id}/ack: the inbox's 确认收到 through the API — the receipt recorded, the open alert
acknowledged when the person may, once; another person's message is 404."""

from __future__ import annotations

from sqlalchemy import select

from incidents.message_acks import MessageAck
from incidents.models import Alert, Notification


def message(session, clock, login: str, *, alert_id: int | None = None, serial: int = 1) -> Notification:
    now = clock.now()
    n = Notification(dedup_key=f"api-ack:{serial}", recipient_id=login, channel="in_app", purpose="alert",
                     alert_id=alert_id, subject="【舆情预警】新华路网点排长队", body="正文", status="sent", attempts=1,
                     created_at=now, sent_at=now)
    session.add(n)
    session.commit()
    return n


def test_acknowledging_a_message_about_an_open_alert_acknowledges_the_alert_once(client, make, session, clock,
                                                                                   token_for):
    story = make.story(unit_id="xinhualu", title="新华路网点排长队")
    alert = make.alert(story=story)
    make.session.commit()
    n = message(session, clock, "wangmin", alert_id=alert.id)
    h = token_for("wangmin")
    r = client.post(f"/api/v1/notifications/{n.id}/ack", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "alert_acknowledged" and body["notification"]["acknowledged_at"]
    session.expire_all()
    assert session.get(Alert, alert.id).status == "acknowledged"
    ack = session.scalar(select(MessageAck).where(MessageAck.notification_id == n.id))
    assert (ack.person_id, ack.via) == ("wangmin", "api")
    again = client.post(f"/api/v1/notifications/{n.id}/ack", headers=h)
    assert again.status_code == 409 and "已确认" in again.json()["detail"]


def test_a_plain_message_records_receipt_and_anothers_message_is_not_found(client, session, clock, token_for):
    mine = message(session, clock, "huangwei", serial=2)
    theirs = message(session, clock, "wangmin", serial=3)
    h = token_for("huangwei")
    r = client.post(f"/api/v1/notifications/{mine.id}/ack", headers=h)
    assert r.status_code == 200 and r.json()["outcome"] == "received"
    assert client.post(f"/api/v1/notifications/{theirs.id}/ack", headers=h).status_code == 404
    session.expire_all()
    assert session.scalar(select(MessageAck).where(MessageAck.notification_id == theirs.id)) is None
    cookie_only = client.post(f"/api/v1/notifications/{mine.id}/ack")
    assert cookie_only.status_code == 401
