"""Every refusal of the complaint and media-report API has the documented shape — ``{"detail": {"field",
"message"}}`` in English — request validation (a missing field, a wrong type, an unknown field, a description too
long, an unknown step, a body that is no JSON) and a body over the size limit included. The rest of the API keeps
its own shape."""

from __future__ import annotations

import pytest

from tests.complaints.web import WALK_IN

CASES = [
    ({k: v for k, v in WALK_IN.items() if k != "received_at"}, "received_at", "Field required"),
    ({**WALK_IN, "severity": 3}, "severity", "valid string"),
    ({**WALK_IN, "weather": "rain"}, "weather", "Extra inputs"),
    ({**WALK_IN, "description": "长" * 20001}, "description", "at most 20000"),
]


@pytest.mark.parametrize(("body", "field", "words"), CASES)
def test_body_validation_errors_name_the_field_in_english(bearer, body, field, words):
    r = bearer("liuqiang").post("/api/v1/complaints", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail["field"] == field and words in detail["message"], detail
    assert detail["message"].isascii(), detail
    assert set(r.json()) == {"detail"}


def test_an_unknown_step_and_a_non_json_body(bearer):
    api = bearer("liuqiang")
    c = api.post("/api/v1/complaints", json=WALK_IN).json()
    r = api.post(f"/api/v1/complaints/{c['id']}/steps/teleport", json={})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "action", r.text
    assert r.json()["detail"]["message"].isascii()
    r = api.post("/api/v1/complaints", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"] == {"field": None, "message": "the request body is not valid JSON"}
    r = api.post("/api/v1/media-reports", json={"unit_id": "xinhualu"})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "text", r.text


def test_a_huge_body_is_refused_in_english(bearer):
    r = bearer("liuqiang").post("/api/v1/complaints", content=b"x" * (3 * 1024 * 1024),
                                headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"]["field"] is None and "request body larger than" in r.json()["detail"]["message"]


def test_other_api_routes_keep_their_shape(bearer):
    r = bearer("liuqiang").get("/api/v1/incidents?limit=bogus")
    assert r.status_code == 422 and isinstance(r.json()["detail"], list) and "请求参数无效" in r.json()["message"]
