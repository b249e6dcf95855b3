"""``yuqing complaint`` on a real (SQLite) database through typer's CliRunner: the shapes external checks rely on
(add --json with id and the four deadlines, list --json), the 2026-09-30 一般/重要/紧急 deadlines across National
Day, the steps from the command line, bad input refused in Chinese with nothing saved, and --reveal per role."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from incidents.complaints.models import Complaint
from runner.cli import app
from yuqing.clock import FrozenClock
from yuqing.models import AuditEntry
from yuqing.settings import PROJECT_ROOT

runner = CliRunner()
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 9, 30, 11, 0, tzinfo=SH))


@pytest.fixture
def db(cli_db):
    return cli_db


def cli(clock, *args: str):
    return runner.invoke(app, ["complaint", *args], obj={"clock": clock})


def add(clock, severity: str, *extra: str):
    return cli(clock, "add", "--unit", "xinhualu", "--channel", "walk_in", "--severity", severity, "--received-at",
               "2026-09-30T10:00:00+08:00", "--category", "service_attitude", "--text", "柜员办理业务时态度生硬",
               "--customer", "张三丰", "--phone", "138-1234-0000", "--json", *extra)


def count(factory) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(Complaint))


def test_add_prints_the_four_deadlines_for_each_severity_across_national_day(db, clock):
    expected = {"一般": "2026-10-10T10:00:00+08:00", "重要": "2026-10-13T10:00:00+08:00",
                "紧急": "2026-10-01T10:00:00+08:00"}
    numbers = []
    for severity, resolve in expected.items():
        result = add(clock, severity)
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)
        assert isinstance(record["id"], int) and record["created"] is True
        assert record["deadlines"] == {"entry": "2026-10-01T10:00:00+08:00", "contact": "2026-10-02T10:00:00+08:00",
                                       "resolve": resolve, "reply": "2026-10-15T10:00:00+08:00"}
        assert record["severity_label"] == severity and record["received_at"] == "2026-09-30T10:00:00+08:00"
        assert record["customer"] == {"name": "张**", "phone": "138****0000", "account": ""}
        numbers.append(record["number"])
    assert numbers == ["TS-20260930-001", "TS-20260930-002", "TS-20260930-003"]
    # the codes are accepted too
    assert json.loads(add(clock, "urgent").stdout)["severity"] == "urgent"

    listed = cli(clock, "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["number"] for r in rows] == ["TS-20260930-004", "TS-20260930-003", "TS-20260930-002",
                                           "TS-20260930-001"]
    assert all(set(r["deadlines"]) == {"entry", "contact", "resolve", "reply"} for r in rows)
    assert "13812340000" not in listed.stdout and "张三丰" not in listed.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--unit", "nowhere"], "机构不存在"),
    (["--category", "weather"], "投诉类别无效"),
    (["--channel", "pigeon"], "受理渠道无效"),
    (["--severity", "特急"], "投诉等级无效"),
    (["--received-at", "2026-09-30T10:00:00"], "受理时间必须带时区"),
    (["--received-at", "2026-10-01T10:00:00+08:00"], "受理时间不能晚于当前时间"),
    (["--received-at", "yesterday"], "受理时间格式无效"),
    (["--text", "   "], "投诉内容不能为空"),
])
def test_bad_input_is_refused_in_chinese_and_nothing_is_saved(db, clock, args, message):
    base = {"--unit": "xinhualu", "--channel": "hotline", "--severity": "一般",
            "--received-at": "2026-09-30T10:00:00+08:00", "--category": "opaque_fees", "--text": "收费不明"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli(clock, "add", *[x for kv in base.items() for x in kv], "--json")
    assert result.exit_code != 0
    assert message in result.stderr and result.stdout == ""
    assert count(db) == 0


def test_a_ten_megabyte_attachment_is_refused_and_nothing_saved(db, clock, tmp_path):
    big = tmp_path / "录音.mp3"
    big.write_bytes(b"\0" * (10 * 1024 * 1024))
    result = add(clock, "一般", "--attach", str(big))
    assert result.exit_code == 1 and "附件过大" in result.stderr
    assert count(db) == 0
    small = tmp_path / "信件.jpg"
    small.write_bytes(b"\xff\xd8scan")
    ok = add(clock, "一般", "--attach", str(small))
    assert ok.exit_code == 0, ok.output
    [att] = json.loads(ok.stdout)["attachments"]
    assert (att["filename"], att["size"], att["content_type"]) == ("信件.jpg", 6, "image/jpeg")
    assert len(att["sha256"]) == 64


def test_the_same_idempotency_key_prints_the_same_record(db, clock):
    first = json.loads(add(clock, "一般", "--idempotency-key", "crm-778").stdout)
    again = json.loads(add(clock, "一般", "--idempotency-key", "crm-778").stdout)
    assert again["id"] == first["id"] and again["created"] is False
    changed = add(clock, "重要", "--idempotency-key", "crm-778")
    assert changed.exit_code == 1 and "幂等键已用于另一条内容不同的投诉" in changed.stderr
    assert count(db) == 1


def test_the_steps_from_the_command_line(db, clock):
    cid = str(json.loads(add(clock, "一般").stdout)["id"])
    assert cli(clock, "close", cid, "--note", "x").exit_code == 1
    clock.advance(600)
    for args, shown in [(["ack", cid, "--how", "电话"], "已告知受理"),
                        (["verify", cid, "--note", "查看监控"], "已核实"),
                        (["assign", cid, "huangwei"], "已分派给 huangwei"),
                        (["propose", cid, "--text", "当面致歉，加强培训"], "已提出解决方案"),
                        (["answer", cid, "accepted"], "客户接受方案"), (["close", cid, "--note", "客户接受"], "已办结"),
                        (["visit", cid, "满意"], "已回访")]:
        result = cli(clock, *args)
        assert result.exit_code == 0, result.output
        assert shown in result.stdout
    shown = json.loads(cli(clock, "show", cid, "--json").stdout)
    assert shown["status"] == "visited" and shown["satisfaction"] == "satisfied"
    assert [c["state"] for c in shown["clocks"]] == ["met", "met", "met", "met"]
    assert [e["kind"] for e in shown["events"]] == ["received", "acknowledged", "verified", "assigned", "proposed",
                                                    "accepted", "closed", "return_visit"]
    human = cli(clock, "show", cid)
    assert "张**" in human.stdout and "13812340000" not in human.stdout
    assert "时限 联系客户：截止 2026-10-02 10:00  按时完成（2026-09-30 11:10 完成）" in human.stdout
    assert "2026-09-30 11:10 已电话告知客户受理（计为首次联系客户）（cli）" in human.stdout


def test_reveal_needs_a_role_that_may_see_details_and_is_audited(db, clock):
    assert runner.invoke(app, ["user", "seed"], input="first-password-1\nfirst-password-1\n").exit_code == 0
    cid = str(json.loads(add(clock, "一般").stdout)["id"])
    no_login = cli(clock, "show", cid, "--reveal")
    assert no_login.exit_code == 1 and "--as" in no_login.stderr
    liaison = cli(clock, "show", cid, "--reveal", "--as", "huangwei", "--json")
    assert liaison.exit_code == 1 and "无权查看客户完整信息" in liaison.stderr
    commander = cli(clock, "show", cid, "--reveal", "--as", "liuqiang", "--json")
    assert commander.exit_code == 0, commander.output
    assert json.loads(commander.stdout)["customer"] == {"name": "张三丰", "phone": "138-1234-0000", "account": ""}
    with db() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "complaint.reveal")).all()
        assert (entry.actor, entry.object_id) == ("liuqiang", cid)
    # entered as a person of the org chart: they are the 首问 owner
    entered = cli(clock, "add", "--unit", "xinhualu", "--channel", "walk_in", "--category", "service_attitude",
                  "--text", "排队时间过长", "--received-at", "2026-09-30T10:30:00+08:00", "--as", "huangwei",
                  "--json")
    assert entered.exit_code == 0, entered.output
    record = json.loads(entered.stdout)
    assert record["first_contact_owner"] == {"id": "huangwei", "name": "黄伟"} and record["entered_by"] == "huangwei"
    # a liaison sees only their own outlet's complaints
    other = cli(clock, "add", "--unit", "kejiyuan", "--channel", "hotline", "--category", "opaque_fees", "--text",
                "多收费", "--received-at", "2026-09-30T10:00:00+08:00", "--as", "huangwei")
    assert other.exit_code == 1 and "无权" in other.stderr
    mine = cli(clock, "list", "--json", "--as", "huangwei")
    assert [r["id"] for r in json.loads(mine.stdout)] == [record["id"], int(cid)]


def test_check_config_validates_complaints_yaml(monkeypatch, tmp_path):
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    monkeypatch.setenv("YUQING_CONFIG_DIR", str(config))
    ok = runner.invoke(app, ["check-config"])
    assert ok.exit_code == 0, ok.output
    assert "complaints: entry 24 h, contact 48 h, resolve general 3 working days" in ok.stdout
    assert "reply 15/30/60 days" in ok.stdout
    path = config / "complaints.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("reply_extension_days: [30, 60]",
                                                             "reply_extension_days: [60, 30]"), encoding="utf-8")
    bad = runner.invoke(app, ["check-config"])
    assert bad.exit_code == 2
    assert "complaints.yaml" in bad.stderr and "reply_extension_days" in bad.stderr
