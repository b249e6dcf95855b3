"""Small consistencies: the API's unit filter includes the units under it (as the CLI's --unit and the page do),
the incident API gives linked complaints' times with the local offset (as the complaint API), and a typed emoji
sequence keeps its zero-width joiners."""

from __future__ import annotations

from tests.complaints.web import WALK_IN

FAMILY = "全家\U0001F468\u200d\U0001F469\u200d\U0001F467都被拒办业务"


def test_the_api_unit_filter_includes_sub_units(bearer, login_as):
    api = bearer("liuqiang")
    assert api.post("/api/v1/complaints", json=WALK_IN).status_code == 201  # 新华路, under 光明路支行
    assert api.post("/api/v1/complaints", json={**WALK_IN, "unit_id": "zhongnanlu"}).status_code == 201
    sub_branch = api.get("/api/v1/complaints?unit=guangminglu").json()
    assert [r["unit_id"] for r in sub_branch["items"]] == ["xinhualu"]
    assert api.get("/api/v1/complaints?unit=xinhualu").json()["total"] == 1
    assert bearer("huangwei").get("/api/v1/complaints?unit=guangminglu").status_code == 403  # above his outlet
    page = login_as("liuqiang").get("/complaints?unit=guangminglu")
    assert page.status_code == 200 and "TS-20261123-001" in page.text and "TS-20261123-002" not in page.text


def test_the_incident_api_gives_complaint_times_with_the_local_offset(bearer):
    commander = bearer("liuqiang")
    c = commander.post("/api/v1/complaints", json={**WALK_IN, "severity": "紧急"}).json()
    raised = commander.post(f"/api/v1/complaints/{c['id']}/raise-incident")
    assert raised.status_code == 201, raised.text
    [linked] = commander.get(f"/api/v1/incidents/{raised.json()['incident']['id']}").json()["complaints"]
    assert linked["received_at"] == c["received_at"] == "2026-11-23T08:30:00+08:00"
    assert [k["due"] for k in linked["clocks"]] == [k["due"] for k in c["clocks"]]
    assert linked["clocks"][0]["done_at"].endswith("+08:00")


def test_an_emoji_sequence_keeps_its_joiners(bearer):
    r = bearer("liuqiang").post("/api/v1/complaints", json={**WALK_IN, "description": FAMILY + "\u202e\x00"})
    assert r.status_code == 201, r.text
    assert r.json()["description"] == FAMILY  # the bidi override and the NUL are gone, the ZWJs stay
