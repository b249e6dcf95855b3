"""Customer details typed into a complaint's free text never leave it unmasked: the notices (email, robots, the
inbox), the masked views of the API, and an incident raised from the complaint; and a short phone number shows at
most its last four digits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from incidents.complaints.masking import mask_phone, mask_text
from incidents.models import Notification
from tests.complaints.web import WALK_IN

LEAKY = ("客户赵六来电（13912345678，座机 87654321），称卡号 6222 0211 0000 5678 被多扣年费 300 元，"
         "身份证 11010119900101123X，于 2026-11-22 10:30 到网点")
SECRETS = ("13912345678", "87654321", "6222 0211 0000 5678", "11010119900101123X", "赵六")


@pytest.mark.parametrize(("phone", "masked"), [("87654321", "****4321"), ("8765432", "****5432"),
                                               ("021-87654321", "021****4321"), ("0571 8765 4321", "057****4321"),
                                               ("123456", "******")])
def test_a_short_phone_number_shows_at_most_its_last_four_digits(phone, masked):
    assert mask_phone(phone) == masked


def test_free_text_masks_long_digit_runs_and_the_customer_name_but_keeps_dates_and_amounts():
    out = mask_text(LEAKY, names=["赵六"])
    assert all(s not in out for s in SECRETS), out
    assert "139****5678" in out and "****4321" in out and "****5678" in out and "赵*" in out
    assert "2026-11-22 10:30" in out and "300 元" in out
    assert mask_text("投诉 TS-20261123-001 已关联") == "投诉 TS-20261123-001 已关联"


def test_notices_and_the_masked_view_carry_no_number_typed_into_the_description(bearer, session):
    api = bearer("wangmin")
    body = {**WALK_IN, "severity": "重要", "customer_name": "赵六", "description": LEAKY}
    made = api.post("/api/v1/complaints", json=body)
    assert made.status_code == 201, made.text
    assert all(s not in made.text for s in SECRETS), made.json()["description"]  # wangmin may not reveal
    session.rollback()
    notices = session.scalars(select(Notification).where(Notification.purpose == "complaint_leadership")).all()
    assert notices, "a 重要 complaint is reported to leadership at entry"
    for n in notices:
        assert "内容摘要：" in n.body
        assert all(s not in n.body + n.subject for s in SECRETS), n.body
        assert "139****5678" in n.body
    # someone who may see the full details sees the description as typed
    full = bearer("liuqiang").get(f"/api/v1/complaints/{made.json()['id']}?reveal=1")
    assert full.status_code == 200 and full.json()["description"] == LEAKY


def test_an_incident_raised_from_the_complaint_carries_no_customer_detail(bearer, session):
    from incidents.complaints.models import ComplaintEvent
    from incidents.models import Incident, Task
    from yuqing.models import AuditEntry

    commander = bearer("liuqiang")
    c = commander.post("/api/v1/complaints", json={**WALK_IN, "severity": "紧急", "customer_name": "赵六",
                                                   "description": LEAKY}).json()
    raised = commander.post(f"/api/v1/complaints/{c['id']}/raise-incident")
    assert raised.status_code == 201, raised.text
    session.rollback()
    incident = session.get(Incident, raised.json()["incident"]["id"])
    assert incident.title.startswith(f"客户投诉{c['number']}（紧急，服务态度，新华路网点）")
    texts = [incident.title]
    texts += [n.subject + n.body for n in session.scalars(select(Notification).where(
        Notification.incident_id == incident.id))]
    texts += [f"{a.detail} {a.data}" for a in session.scalars(select(AuditEntry))]
    texts += [e.text for e in session.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "incident_linked"))]
    assert any(n.purpose == "incident_opened" for n in session.scalars(select(Notification)))
    for text in texts:
        assert all(s not in text for s in SECRETS), text
    # the complaint steps count from the complaint's receipt, not from a post (there is none)
    contact = session.scalar(select(Task).where(Task.incident_id == incident.id, Task.key == "contact_complainant"))
    assert contact.note.startswith(f"期限自投诉 {c['number']} 受理（") and "首条帖子" not in contact.note
