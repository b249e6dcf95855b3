"""Refusals say what is true: a second return visit is refused as already visited (not "not closed yet"), and
closing after a refused solution names the refusal in English too (a solution exists)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from runner.cli import app
from tests.complaints.support import local
from tests.complaints.web import WALK_IN
from yuqing.clock import FrozenClock

runner = CliRunner()




def test_a_second_return_visit_is_refused_as_already_visited(cli_db):
    clock = FrozenClock(local(2026, 11, 23, 9, 0))

    def cli(*args: str):
        result = runner.invoke(app, ["complaint", *args], obj={"clock": clock})
        return result

    cid = str(json.loads(cli("add", "--unit", "xinhualu", "--channel", "hotline", "--category", "opaque_fees",
                             "--text", "年费多收", "--json").stdout)["id"])
    for step in (["propose", cid, "--text", "退还年费"], ["answer", cid, "accepted"], ["close", cid, "--note", "已退"],
                 ["visit", cid, "满意"]):
        assert cli(*step).exit_code == 0
    again = cli("visit", cid, "不满意")
    assert again.exit_code == 1
    assert "已回访（客户满意），不能再次回访" in again.stderr and "尚未办结" not in again.stderr


def test_closing_after_a_refusal_says_so_in_english(bearer):
    api = bearer("liuqiang")
    c = api.post("/api/v1/complaints", json=WALK_IN).json()
    steps = f"/api/v1/complaints/{c['id']}/steps"
    api.post(f"{steps}/propose", json={"text": "赔礼道歉"})
    api.post(f"{steps}/accept", json={"accepted": False})
    r = api.post(f"{steps}/close", json={"note": "结案"})
    assert r.status_code == 409
    message = r.json()["detail"]["message"]
    assert "the customer refused the solution" in message and "before a solution" not in message
    fresh = api.post("/api/v1/complaints", json={**WALK_IN, "description": "另一件"}).json()
    r = api.post(f"/api/v1/complaints/{fresh['id']}/steps/close", json={"note": "结案"})
    assert r.status_code == 409 and "no solution has been proposed yet" in r.json()["detail"]["message"]
