"""The leadership message of a 重要 / 紧急 complaint shows the deadline leadership must watch — the resolve
deadline, for 紧急 the preliminary solution's 24 h — not the time of receipt; and the timeline says the message
was queued, not sent. Entered through the API at 2026-11-23 (Monday) 09:00, received 08:30."""

from __future__ import annotations

from sqlalchemy import select

from incidents.models import Notification
from tests.complaints.web import WALK_IN


def leadership_bodies(session) -> list[str]:
    session.rollback()
    return [n.body for n in session.scalars(select(Notification).where(
        Notification.purpose == "complaint_leadership", Notification.channel == "in_app"))]


def test_the_leadership_message_shows_the_resolve_deadline(bearer, session):
    api = bearer("wangmin")
    important = api.post("/api/v1/complaints", json={**WALK_IN, "severity": "重要"})
    assert important.status_code == 201, important.text
    bodies = leadership_bodies(session)
    assert bodies and all("办结时限：2026-11-30 08:30" in b for b in bodies), bodies  # 5 working days
    assert not any("截止时间：2026-11-23 08:30" in b for b in bodies)
    told = next(e for e in important.json()["events"] if e["kind"] == "leadership_told")
    assert "已生成通知，排队发送给刘强、陈静" in told["text"] and "发送通知" not in told["text"]


def test_an_urgent_complaints_message_shows_the_preliminary_deadline(bearer, session):
    assert bearer("wangmin").post("/api/v1/complaints", json={**WALK_IN, "severity": "紧急"}).status_code == 201
    bodies = leadership_bodies(session)
    assert bodies and all("初步解决方案时限：2026-11-24 08:30" in b for b in bodies), bodies
