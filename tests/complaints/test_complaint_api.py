"""``/api/v1/complaints``: intake from a ticket system (idempotent), every bad input a clear English error with
nothing saved, masking per role (full details audited), unit scope, the steps and attachments, the statistics.

The clock stands at 2026-11-23 09:00 in Shanghai (a Monday)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from tests.complaints.web import WALK_IN, counts
from yuqing.models import AuditEntry

EMPTY = {"complaints": 0, "events": 0, "attachments": 0, "audit": 0}


BOTH = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                               indirect=True)


@BOTH
def test_a_ticket_system_enters_a_complaint_and_a_retry_returns_the_same_record(bearer, session):
    api = bearer("wangmin")
    r = api.post("/api/v1/complaints", json={**WALK_IN, "channel": "hotline", "source_system": "95599"},
                 headers={"Idempotency-Key": "ticket-20261123-0001"})
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["number"].startswith("TS-20261123-")
    # 一般, received Monday 08:30: entry +24 h, contact +48 h, resolve on the third working day, reply in 15 days
    assert first["deadlines"] == {"entry": "2026-11-24T08:30:00+08:00", "contact": "2026-11-25T08:30:00+08:00",
                                  "resolve": "2026-11-26T08:30:00+08:00", "reply": "2026-12-08T08:30:00+08:00"}
    assert first["customer"] == {"name": "张**", "phone": "139****5678", "account": "****7890"}
    again = api.post("/api/v1/complaints", json={**WALK_IN, "channel": "hotline", "source_system": "95599"},
                     headers={"Idempotency-Key": "ticket-20261123-0001"})
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    other = api.post("/api/v1/complaints", json={**WALK_IN, "channel": "hotline", "description": "另一件事"},
                     headers={"Idempotency-Key": "ticket-20261123-0001"})
    assert other.status_code == 409
    assert other.json()["detail"]["field"] == "idempotency_key"
    assert "different content" in other.json()["detail"]["message"]
    assert counts(session)["complaints"] == 1


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"unit_id": "no-such-outlet"}, "unit_id", "unknown unit"),
    ({"category": "rude_weather"}, "category", "unknown category"),
    ({"received_at": "2026-11-24T09:00:00+08:00"}, "received_at", "future"),
    ({"received_at": "2026-11-23T08:30:00"}, "received_at", "time zone"),
    ({"received_at": "yesterday morning"}, "received_at", "ISO 8601"),
    ({"description": "   "}, "description", "empty"),
    ({"channel": "carrier_pigeon"}, "channel", "unknown channel"),
    ({"severity": "很急"}, "severity", "unknown severity"),
])
def test_bad_input_is_a_clear_english_error_and_nothing_is_saved(bearer, session, change, field, words):
    r = bearer("wangmin").post("/api/v1/complaints", json={**WALK_IN, **change},
                               headers={"Idempotency-Key": "bad-1"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["field"] == field and words in detail["message"]
    assert detail["message"].isascii() or change.get("severity"), detail  # English (quoting the input as given)
    assert counts(session) == EMPTY


def test_a_10_mb_attachment_is_refused_whole(bearer, session):
    api = bearer("huangwei")
    c = api.post("/api/v1/complaints", json=WALK_IN).json()
    before = counts(session)
    big = b"\0" * (10 * 1024 * 1024)
    r = api.post(f"/api/v1/complaints/{c['id']}/attachments",
                 files=[("files", ("recording.wav", b"RIFF small", "audio/wav")),
                        ("files", ("scan.pdf", big, "application/pdf"))])
    assert r.status_code == 422, r.text[:300]
    assert r.json()["detail"]["field"] == "attachments" and "limit" in r.json()["detail"]["message"]
    assert counts(session) == before  # not even the small one


def test_attachments_keep_their_sha256_and_downloads_are_audited(bearer, session):
    api = bearer("huangwei")
    c = api.post("/api/v1/complaints", json=WALK_IN).json()
    letter = "客户来信：要求说明收费依据。".encode()
    r = api.post(f"/api/v1/complaints/{c['id']}/attachments", files={"files": ("来信.txt", letter, "text/plain")})
    assert r.status_code == 201, r.text
    (att,) = r.json()["attachments"]
    assert att["sha256"] == hashlib.sha256(letter).hexdigest() and att["size"] == len(letter)
    got = bearer("liuqiang").get(f"/api/v1/complaints/{c['id']}/attachments/{att['id']}")
    assert got.status_code == 200 and got.content == letter
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-sha256"] == att["sha256"]
    # legal reads the complaint but not the customer's documents
    assert bearer("qianyu").get(f"/api/v1/complaints/{c['id']}/attachments/{att['id']}").status_code == 403
    session.rollback()
    assert session.scalars(select(AuditEntry.actor).where(
        AuditEntry.action == "complaint.attachment_download")).all() == ["liuqiang"]


def test_masking_per_role_and_every_full_view_audited(bearer, session):
    c = bearer("wangmin").post("/api/v1/complaints", json=WALK_IN).json()
    url = f"/api/v1/complaints/{c['id']}"
    for login in ("qianyu", "huangwei", "chenjing"):
        masked = bearer(login).get(url)
        assert masked.status_code == 200 and masked.json()["customer"]["phone"] == "139****5678", login
    # full details: commander, leader, admin (complaints.yaml) and the 首问 owner (wangmin entered it)
    for login in ("liuqiang", "chenjing", "admin", "wangmin"):
        full = bearer(login).get(url + "?reveal=1")
        assert full.status_code == 200, (login, full.text)
        assert full.json()["customer"] == {"name": "张三丰", "phone": "13912345678",
                                           "account": "6222 0212 3456 7890"}
    for login in ("qianyu", "huangwei"):
        refused = bearer(login).get(url + "?reveal=1")
        assert refused.status_code == 403 and "13912345678" not in refused.text
        assert refused.json()["detail"]["message"].isascii()
    session.rollback()
    assert sorted(session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "complaint.reveal"))) == [
        "admin", "chenjing", "liuqiang", "wangmin"]


@BOTH
def test_scoped_to_the_callers_units(bearer, session):
    at_guangminglu = bearer("zhoufang").post("/api/v1/complaints", json={**WALK_IN, "unit_id": "guangminglu"})
    assert at_guangminglu.status_code == 201, at_guangminglu.text
    cid = at_guangminglu.json()["id"]
    outlet = bearer("huangwei")
    assert outlet.get(f"/api/v1/complaints/{cid}").status_code == 403
    assert outlet.get("/api/v1/complaints").json()["total"] == 0
    assert bearer("liuqiang").get("/api/v1/complaints").json()["total"] == 1
    # an outlet's head enters complaints about his own outlet only
    r = outlet.post("/api/v1/complaints", json={**WALK_IN, "unit_id": "guangminglu"})
    assert r.status_code == 403 and r.json()["detail"]["field"] == "unit_id"
    # legal reads, never enters
    assert bearer("qianyu").post("/api/v1/complaints", json=WALK_IN).status_code == 403
    assert bearer("qianyu").get(f"/api/v1/complaints/{cid}").status_code == 200
    assert counts(session)["complaints"] == 1


def test_filters_and_their_errors(bearer):
    api = bearer("liuqiang")
    api.post("/api/v1/complaints", json=WALK_IN)
    api.post("/api/v1/complaints", json={**WALK_IN, "channel": "letter", "severity": "紧急", "unit_id": "gaoxin"})
    assert api.get("/api/v1/complaints?channel=letter").json()["total"] == 1
    assert api.get("/api/v1/complaints?severity=urgent").json()["items"][0]["unit_id"] == "gaoxin"
    assert api.get("/api/v1/complaints?unit=xinhualu").json()["total"] == 1
    assert api.get("/api/v1/complaints?month=2026-11&status=open").json()["total"] == 2
    assert api.get("/api/v1/complaints?month=2026-10").json()["total"] == 0
    bad = api.get("/api/v1/complaints?month=2026-13")
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "month"
    assert api.get("/api/v1/complaints?status=lost").status_code == 422


def test_steps_in_order_and_out_of_order_refused(bearer):
    owner = bearer("huangwei")
    c = owner.post("/api/v1/complaints", json=WALK_IN).json()
    base = f"/api/v1/complaints/{c['id']}/steps"
    early = owner.post(f"{base}/close", json={"note": "已处理"})
    assert early.status_code == 409 and early.json()["detail"]["message"].isascii()
    r = owner.post(f"{base}/acknowledge", json={"how": "in_person"})
    assert r.status_code == 200, r.text
    clocks = {k["key"]: k for k in r.json()["clocks"]}
    assert clocks["contact"]["state"] == "met"  # told in person: the customer has been contacted
    # a monitor who is neither the owner nor the assignee reads but does not act
    assert bearer("wangmin").post(f"{base}/verify", json={}).status_code == 403
    assert owner.post(f"{base}/accept", json={}).status_code in (409, 422)
    assert owner.post(f"{base}/teleport", json={}).status_code == 422


def test_the_cookie_alone_never_writes(login_as):
    browser = login_as("liuqiang")
    assert browser.post("/api/v1/complaints", json=WALK_IN).status_code == 401
    assert browser.get("/api/v1/complaints").status_code == 200


def test_stats_json_is_month_stats(bearer):
    api = bearer("liuqiang")
    api.post("/api/v1/complaints", json=WALK_IN)
    api.post("/api/v1/complaints", json={**WALK_IN, "channel": "hotline", "unit_id": "gaoxin"})
    s = api.get("/api/v1/complaints/stats?month=2026-11").json()
    assert s["month"] == "2026-11" and s["total"] == 2
    assert s["by"]["channel"] == {"hotline": 1, "walk_in": 1}
    assert set(s["on_time"]) == {"entry", "contact", "resolve", "reply"}
    # scoped: the outlet's head counts his outlet only
    assert bearer("huangwei").get("/api/v1/complaints/stats?month=2026-11").json()["total"] == 1
    bad = api.get("/api/v1/complaints/stats?month=November")
    assert bad.status_code == 422 and "YYYY-MM" in bad.json()["detail"]["message"]
