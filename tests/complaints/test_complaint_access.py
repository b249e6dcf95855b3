"""``yuqing complaint --as`` checks roles like the API (entering needs a role that enters complaints, a step one
that acts on this complaint), and only someone who may handle a complaint can be made its assignee or 首问 owner
— through the CLI and the API alike.

People (config/org.yaml): 钱宇 qianyu is the branch's legal reviewer (reads complaints, acts on none), 周芳
zhoufang the 光明路 sub-branch's liaison (sees 新华路, does not handle this complaint), 吴军 wujun the 滨江
sub-branch's liaison (does not see 新华路), 黄伟 huangwei heads the 新华路 outlet, 王敏 wangmin the duty monitor."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from runner.cli import app as cli_app
from tests.complaints.support import local
from tests.complaints.web import WALK_IN
from yuqing.clock import FrozenClock

runner = CliRunner()




def cli(*args: str):
    return runner.invoke(cli_app, ["complaint", *args], obj={"clock": FrozenClock(local(2026, 11, 23, 9, 0))})


def add(*extra: str):
    return cli("add", "--unit", "xinhualu", "--channel", "walk_in", "--category", "service_attitude", "--text",
               "柜员态度恶劣", "--received-at", "2026-11-23T08:30:00+08:00", "--json", *extra)


def test_the_cli_refuses_intake_and_steps_to_roles_the_api_refuses(cli_users_db):
    refused = add("--as", "qianyu")
    assert refused.exit_code == 1 and "无权登记投诉" in refused.stderr and refused.stdout == ""
    made = add("--as", "huangwei")  # the outlet's head enters a walk-in: he is its 首问 owner
    assert made.exit_code == 0, made.output
    cid = str(json.loads(made.stdout)["id"])
    for who in ("qianyu", "zhoufang", "wangmin"):  # legal; a liaison and a monitor not handling it
        step = cli("verify", cid, "--as", who)
        assert step.exit_code == 1 and "无权办理该投诉" in step.stderr, (who, step.output)
    assert cli("assign", cid, "huangwei", "--as", "zhoufang").exit_code == 1
    assert cli("verify", cid, "--as", "huangwei").exit_code == 0  # the 首问 owner
    assert cli("assign", cid, "wangmin", "--as", "liuqiang").exit_code == 0  # a commander
    assert cli("contact", cid, "--how", "电话", "--as", "wangmin").exit_code == 0  # now the assignee
    shown = json.loads(cli("show", cid, "--json").stdout)
    assert [e["kind"] for e in shown["events"]] == ["received", "verified", "assigned", "contacted"]


def test_the_cli_refuses_an_assignee_or_owner_who_may_not_handle_the_complaint(cli_users_db):
    cid = str(json.loads(add().stdout)["id"])
    for person in ("qianyu", "wujun"):  # legal; a liaison of another sub-branch
        refused = cli("assign", cid, person)
        assert refused.exit_code == 1 and "不能处理该投诉" in refused.stderr, refused.output
        refused = cli("hand-over", cid, person, "--reason", "调岗")
        assert refused.exit_code == 1 and "不能处理该投诉" in refused.stderr, refused.output
    owner = add("--owner", "qianyu")
    assert owner.exit_code == 1 and "不能处理该投诉" in owner.stderr
    assert cli("assign", cid, "huangwei").exit_code == 0
    assert cli("hand-over", cid, "zhoufang", "--reason", "支行统一处理").exit_code == 0
    shown = json.loads(cli("show", cid, "--json").stdout)
    assert shown["assignee"]["id"] == "huangwei" and shown["first_contact_owner"]["id"] == "zhoufang"


def test_the_api_refuses_the_legal_reviewer_as_assignee(bearer):
    commander = bearer("liuqiang")
    c = commander.post("/api/v1/complaints", json=WALK_IN).json()
    refused = commander.post(f"/api/v1/complaints/{c['id']}/steps/assign", json={"assignee_id": "qianyu"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"]["field"] == "assignee_id"
    assert "may not handle this complaint" in refused.json()["detail"]["message"]
    assert bearer("qianyu").get(f"/api/v1/complaints/{c['id']}?reveal=1").status_code == 403
