"""``yuqing complaint`` refuses what it cannot use, in Chinese, instead of a traceback or an empty answer: an id
beyond any complaint, a list filter that is no status or channel (labels are accepted, as ``add`` accepts them)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from runner.cli import app
from tests.complaints.support import local
from yuqing.clock import FrozenClock

runner = CliRunner()




def cli(*args: str):
    return runner.invoke(app, ["complaint", *args], obj={"clock": FrozenClock(local(2026, 11, 23, 9, 0))})


def test_an_id_beyond_any_complaint_is_not_found(cli_db):
    for ref in ("99999999999999999999", "9223372036854775808", "１２"):
        shown = cli("show", ref)
        assert shown.exit_code == 1 and "投诉不存在" in shown.stderr, (ref, shown.output)
        assert shown.exception is None or isinstance(shown.exception, SystemExit)


def test_list_filters_accept_labels_and_refuse_unknown_values(cli_db):
    assert cli("add", "--unit", "xinhualu", "--channel", "客服热线", "--category", "opaque_fees", "--text",
               "年费多收").exit_code == 0
    by_label = cli("list", "--channel", "客服热线", "--status", "已受理", "--json")
    assert by_label.exit_code == 0, by_label.output
    assert [r["channel"] for r in json.loads(by_label.stdout)] == ["hotline"]
    assert len(json.loads(cli("list", "--status", "open", "--json").stdout)) == 1
    bogus = cli("list", "--status", "bogus")
    assert bogus.exit_code == 1 and "状态无效" in bogus.stderr and "共 0 条" not in bogus.output
    pigeon = cli("list", "--channel", "飞鸽传书")
    assert pigeon.exit_code == 1 and "受理渠道无效" in pigeon.stderr
