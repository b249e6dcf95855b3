"""A refused attachment is reported with its real size — a 10 MB file is "10.0 MB", not the 5 MB read before the
refusal — on the intake form (Chinese) and through the API (English, in bytes)."""

from __future__ import annotations

import re
from html import unescape

from tests.complaints.web import WALK_IN

BIG = b"\0" * (10 * 1024 * 1024)
FORM = {k: v for k, v in WALK_IN.items() if k != "severity"} | {"severity": "general",
                                                                 "received_at": "2026-11-23T08:30"}


def test_the_form_names_the_real_size(login_as, csrf_of):
    outlet = login_as("huangwei")
    token = csrf_of(outlet.get("/complaints/new").text)
    r = outlet.post("/complaints", data={**FORM, "csrf_token": token},
                    files={"attachments": ("录音.wav", BIG, "audio/wav")})
    assert r.status_code == 422
    error = re.search(r'id="attachments-error" role="alert">([^<]+)<', r.text)
    assert error and "附件过大：录音.wav（10.0 MB），上限 5 MB" in unescape(error.group(1)), error


def test_the_api_names_the_real_size(bearer):
    api = bearer("huangwei")
    c = api.post("/api/v1/complaints", json=WALK_IN).json()
    r = api.post(f"/api/v1/complaints/{c['id']}/attachments", files={"files": ("scan.pdf", BIG, "application/pdf")})
    assert r.status_code == 422
    assert f"is {len(BIG)} bytes" in r.json()["detail"]["message"]
