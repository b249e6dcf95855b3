"""One rule for the customer's full details on every way out (``masking.may_reveal``): the roles of
``full_details_roles`` (commander, leader, admin) and the people handling the complaint — its 首问 owner and its
assignee, who must call the customer back — through the API, the dashboard page and ``yuqing complaint show
--reveal --as``; anyone else in scope sees it masked and is refused; every full view is audited.

The API and page tests' clock stands at 2026-11-23 09:00 in Shanghai (a Monday)."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from runner.cli import app as cli_app
from tests.complaints.support import local
from tests.complaints.web import WALK_IN
from yuqing.clock import FrozenClock
from yuqing.models import AuditEntry

FULL = {"name": "张三丰", "phone": "13912345678", "account": "6222 0212 3456 7890"}


def reveals(session) -> list[str]:
    session.rollback()
    return sorted(session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "complaint.reveal")))


def test_the_api_lets_the_assignee_reveal_and_refuses_a_colleague_in_scope(bearer, session):
    commander = bearer("liuqiang")
    c = commander.post("/api/v1/complaints", json=WALK_IN).json()
    assigned = commander.post(f"/api/v1/complaints/{c['id']}/steps/assign", json={"assignee_id": "huangwei"})
    assert assigned.status_code == 200, assigned.text
    url = f"/api/v1/complaints/{c['id']}?reveal=1"
    full = bearer("huangwei").get(url)  # the outlet's liaison: not a full-details role, but he handles it now
    assert full.status_code == 200, full.text
    assert full.json()["customer"] == FULL
    refused = bearer("zhoufang").get(url)  # the sub-branch's liaison: sees the outlet, does not handle it
    assert refused.status_code == 403 and "13912345678" not in refused.text
    assert "first-contact owner and assignee" in refused.json()["detail"]["message"]
    assert bearer("zhoufang").get(url.split("?")[0]).json()["customer"]["phone"] == "139****5678"
    assert reveals(session) == ["huangwei"]


def test_the_page_offers_the_full_details_to_the_assignee_only(bearer, login_as, session):
    commander = bearer("liuqiang")
    c = commander.post("/api/v1/complaints", json=WALK_IN).json()
    commander.post(f"/api/v1/complaints/{c['id']}/steps/assign", json={"assignee_id": "huangwei"})
    page = f"/complaints/{c['id']}"
    assignee = login_as("huangwei")
    assert "查看完整信息" in assignee.get(page).text
    shown = assignee.get(page + "?reveal=1")
    assert shown.status_code == 200 and "张三丰" in shown.text and "13912345678" in shown.text
    colleague = login_as("zhoufang")
    assert "查看完整信息" not in colleague.get(page).text
    refused = colleague.get(page + "?reveal=1")
    assert refused.status_code == 403 and "13912345678" not in refused.text and "无权查看客户完整信息" in refused.text
    assert reveals(session) == ["huangwei"]


runner = CliRunner()




def test_the_cli_follows_the_same_rule_for_the_owner_and_the_assignee(cli_users_db):
    clock = FrozenClock(local(2026, 11, 23, 9, 0))

    def cli(*args: str):
        return runner.invoke(cli_app, ["complaint", *args], obj={"clock": clock})

    # entered by the outlet's head himself: he is its 首问 owner
    added = cli("add", "--unit", "xinhualu", "--channel", "walk_in", "--category", "service_attitude", "--text",
                "柜员态度恶劣", "--received-at", "2026-11-23T08:30:00+08:00", "--customer", "张三丰", "--phone",
                "13912345678", "--as", "huangwei", "--json")
    assert added.exit_code == 0, added.output
    cid = str(json.loads(added.stdout)["id"])
    owner = cli("show", cid, "--reveal", "--as", "huangwei", "--json")
    assert owner.exit_code == 0, owner.output
    assert json.loads(owner.stdout)["customer"]["phone"] == "13912345678"
    # a monitor of the branch reads it masked, but may not reveal: neither a full-details role nor handling it
    monitor = cli("show", cid, "--reveal", "--as", "wangmin", "--json")
    assert monitor.exit_code == 1 and "无权查看客户完整信息" in monitor.stderr and monitor.stdout == ""
    assert cli("assign", cid, "wangmin").exit_code == 0
    assignee = cli("show", cid, "--reveal", "--as", "wangmin")
    assert assignee.exit_code == 0, assignee.output
    assert "张三丰" in assignee.stdout and "13912345678" in assignee.stdout
    # the script actor has no person to check: it never reveals
    assert cli("show", cid, "--reveal").exit_code == 1
    with cli_users_db() as s:
        assert reveals(s) == ["huangwei", "wangmin"]
