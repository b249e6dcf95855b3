"""A complaint and an incident as one case from the API and the dashboard, not only the CLI:
``POST /api/v1/complaints/{id}/raise-incident`` and ``…/link-incident``, and the complaint page's 舆情事件 section
(由投诉立案, 关联已有事件, then the linked incident with its link). Who may: ``links.CASE_ROLES`` (duty monitor,
commander, leader, admin) with the complaint and the incident in scope — on the CLI too; a liaison, even the
complaint's 首问 owner, and legal do not.

The clock stands at 2026-11-23 09:00 in Shanghai (a Monday)."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select
from typer.testing import CliRunner

from incidents.models import Incident
from runner.cli import app as cli_app
from tests.api.conftest import make  # noqa: F401 — the row factories, used by name
from tests.complaints.support import local
from tests.complaints.web import WALK_IN
from yuqing.clock import FrozenClock


def incidents(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Incident))


def test_the_api_raises_an_incident_from_a_complaint_and_links_another(bearer, session):
    commander = bearer("liuqiang")
    urgent = commander.post("/api/v1/complaints", json={**WALK_IN, "severity": "紧急"}).json()
    general = commander.post("/api/v1/complaints", json={**WALK_IN, "description": "理财赎回被拒"}).json()
    # the outlet's head entered neither, and even as a 首问 owner a liaison does not open cases
    assert bearer("huangwei").post(f"/api/v1/complaints/{urgent['id']}/raise-incident").status_code == 403
    assert bearer("qianyu").post(f"/api/v1/complaints/{urgent['id']}/raise-incident").status_code == 403
    bad = commander.post(f"/api/v1/complaints/{urgent['id']}/raise-incident", json={"level": "V"})
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "level"
    assert incidents(session) == 0
    raised = commander.post(f"/api/v1/complaints/{urgent['id']}/raise-incident")
    assert raised.status_code == 201, raised.text
    body = raised.json()
    assert body["incident"]["level"] == "II"  # 紧急: incident_levels gives II
    assert body["incident_id"] == body["incident"]["id"] and body["incident"]["number"].startswith("YQ-20261123-")
    assert "incident_linked" in [e["kind"] for e in body["events"]]
    again = commander.post(f"/api/v1/complaints/{urgent['id']}/raise-incident")
    assert again.status_code == 409 and again.json()["detail"]["field"] == "incident_id"
    incident_id = body["incident"]["id"]

    url = f"/api/v1/complaints/{general['id']}/link-incident"
    missing = bearer("wangmin").post(url, json={"incident_id": 2**31 - 1})
    assert missing.status_code == 404 and missing.json()["detail"]["field"] == "incident_id"
    assert bearer("zhoufang").post(url, json={"incident_id": incident_id}).status_code == 403
    linked = bearer("wangmin").post(url, json={"incident_id": incident_id})  # the duty monitor
    assert linked.status_code == 200, linked.text
    assert linked.json()["incident_id"] == incident_id
    assert linked.json()["incident"]["url"] == f"/incidents/{incident_id}"
    assert bearer("wangmin").post(url, json={"incident_id": incident_id}).status_code == 200  # again: nothing changes
    assert bearer("liuqiang").post(url, json={"incident_id": "soon"}).status_code == 422
    # the incident side lists both complaints
    shown = commander.get(f"/api/v1/incidents/{incident_id}").json()["complaints"]
    assert [c["number"] for c in shown] == [urgent["number"], general["number"]]
    assert incidents(session) == 1
    # the cookie alone never writes
    assert commander.get("/api/v1/complaints").status_code == 200


def test_an_incident_outside_ones_units_is_refused(bearer, session, make):  # noqa: F811
    elsewhere = make.incident(unit_id="head-office", title="总行事件")
    session.commit()
    c = bearer("liuqiang").post("/api/v1/complaints", json=WALK_IN).json()
    r = bearer("liuqiang").post(f"/api/v1/complaints/{c['id']}/link-incident", json={"incident_id": elsewhere.id})
    assert r.status_code == 403 and r.json()["detail"]["field"] == "incident_id"
    assert bearer("yangfan").get(f"/api/v1/complaints/{c['id']}").json()["incident_id"] is None


def test_the_page_raises_and_links_and_then_shows_the_incident(login_as, csrf_of, bearer, session):
    urgent = bearer("huangwei").post("/api/v1/complaints", json={**WALK_IN, "severity": "紧急"}).json()
    general = bearer("huangwei").post("/api/v1/complaints", json={**WALK_IN, "description": "理财赎回被拒"}).json()
    # the 首问 owner (a liaison) and legal see the case section but no forms
    for login in ("huangwei", "qianyu"):
        page = login_as(login).get(f"/complaints/{urgent['id']}").text
        assert 'id="case"' in page and "data-case=" not in page and "未关联舆情事件" in page, login
    outlet = login_as("huangwei")
    refused = outlet.post(f"/complaints/{urgent['id']}/raise-incident",
                          data={"level": "II", "csrf_token": csrf_of(outlet.get("/complaints").text)})
    assert refused.status_code == 403 and "无权关联事件或由投诉立案" in refused.text

    commander = login_as("liuqiang")
    page = commander.get(f"/complaints/{urgent['id']}").text
    assert 'data-case="raise"' in page and '<option value="II" selected>' in page  # 紧急 → II by default
    assert "暂无进行中的事件可关联" in page
    r = commander.post(f"/complaints/{urgent['id']}/raise-incident", data={"level": "II", "csrf_token": csrf_of(page)})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=raised#case")
    page = commander.get(r.headers["location"]).text
    assert "已由投诉立案" in page and "data-case=" not in page
    link = re.search(r'<a href="/incidents/(\d+)" data-incident="\d+">(YQ-20261123-\d+)</a>', page)
    assert link, page[page.find('id="case"'):][:800]
    incident_id, number = link.groups()

    other = commander.get(f"/complaints/{general['id']}").text
    assert f'<option value="{incident_id}">{number}' in other  # the running incident, offered to link
    bad = commander.post(f"/complaints/{general['id']}/link-incident",
                         data={"incident_id": "x", "csrf_token": csrf_of(other)})
    assert bad.status_code == 422 and "请选择要关联的事件" in bad.text
    done = commander.post(f"/complaints/{general['id']}/link-incident",
                          data={"incident_id": incident_id, "csrf_token": csrf_of(other)})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=linked#case")
    page = commander.get(done.headers["location"]).text
    assert "已关联舆情事件" in page
    assert f'<a href="/incidents/{incident_id}" data-incident="{incident_id}">{number}</a>' in page
    # the incident's page links back to both complaints
    incident_page = commander.get(f"/incidents/{incident_id}").text
    for c in (urgent, general):
        assert f'href="/complaints/{c["id"]}"' in incident_page
    assert incidents(session) == 1


runner = CliRunner()




def test_the_cli_applies_the_same_roles(cli_users_db):
    clock = FrozenClock(local(2026, 11, 24, 14, 5))

    def cli(*args: str):
        return runner.invoke(cli_app, ["complaint", *args], obj={"clock": clock})

    added = cli("add", "--unit", "xinhualu", "--channel", "hotline", "--severity", "重要", "--received-at",
                "2026-11-24T13:00:00+08:00", "--category", "opaque_fees", "--text", "年费多收", "--as", "huangwei",
                "--json")
    assert added.exit_code == 0, added.output
    cid = str(json.loads(added.stdout)["id"])
    owner = cli("raise", cid, "--as", "huangwei")  # the 首问 owner, a liaison: not a case role
    assert owner.exit_code == 1 and "无权关联事件或由投诉立案" in owner.stderr
    raised = cli("raise", cid, "--as", "admin")  # the admin may, as on the API and the page
    assert raised.exit_code == 0, raised.output
    assert "已立案 YQ-20261124-" in raised.stdout and "III级" in raised.stdout  # 重要 → III
    with cli_users_db() as s:
        assert incidents(s) == 1
