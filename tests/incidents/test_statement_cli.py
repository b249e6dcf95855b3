"""``yuqing incident statement …`` on a real (SQLite) database: a 口径 drafted from the template, edited from a file,
sent for approval, reviewed by legal, signed off by a leader and recorded as published — each step refused where
the API would refuse it."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from incidents import queries
from incidents.models import Incident, Statement
from incidents.statements import PENDING
from runner.cli import app
from tests.incidents.cases import cli_database, open_case
from yuqing.clock import FrozenClock

runner = CliRunner()


def cli(clock: FrozenClock, *args: str):
    return runner.invoke(app, ["incident", "statement", *args], obj={"clock": clock})


def test_a_statement_runs_from_draft_to_published_from_the_command_line(monkeypatch, tmp_path, org, policy, clock):
    engine, factory = cli_database(monkeypatch, tmp_path)
    with factory() as session:
        incident_id = open_case(session, org, policy, clock, level="II", score=75)
        session.commit()

    refused = cli(clock, "draft", str(incident_id), "--kind", "clarification", "--as", "wangmin")
    assert refused.exit_code == 1 and "无权执行此操作：需要以下角色之一：应急处置负责人" in refused.output
    drafted = cli(clock, "draft", str(incident_id), "--kind", "clarification", "--as", "liuqiang")
    assert drafted.exit_code == 0, drafted.output
    assert "关于网传不实信息的澄清说明" in drafted.output and "示例银行江城分行新华路网点" in drafted.output
    statement_id = drafted.output.strip().splitlines()[-1].split("\t")[0]
    assert drafted.output.strip().splitlines()[-1].endswith("草稿\t第1版\t已起草")
    pending = cli(clock, "submit", statement_id, "--as", "liuqiang")
    assert pending.exit_code == 1 and "【待核实】内容未填写" in pending.output

    shown = json.loads(cli(clock, "show", statement_id, "--as", "liuqiang", "--json").stdout)
    edited = tmp_path / "statement.txt"
    edited.write_text(PENDING.sub("（已核实）", shown["text"]), encoding="utf-8")
    clock.advance(timedelta(minutes=10))
    assert cli(clock, "edit", statement_id, "--as", "liuqiang", "--file", str(edited), "--note", "填写核实情况"
               ).exit_code == 0
    diff = cli(clock, "show", statement_id, "--as", "wangmin", "--diff", "1:2")  # a monitor may read
    assert diff.exit_code == 0 and "--- 第1版" in diff.output and "+++ 第2版" in diff.output
    assert "-" in diff.output and "（已核实）" in diff.output
    bad = cli(clock, "show", statement_id, "--as", "liuqiang", "--diff", "1:9")
    assert bad.exit_code == 1 and "--diff must be A:B" in bad.output
    assert cli(clock, "submit", statement_id, "--as", "liuqiang").exit_code == 0
    early = cli(clock, "publish", statement_id, "--as", "liuqiang", "--where", "江城分行官方微博")
    assert early.exit_code == 1 and "口径未经领导审签，不能发布（当前状态：待法律合规审核）" in early.output
    not_legal = cli(clock, "legal-approve", statement_id, "--as", "chenjing")
    assert not_legal.exit_code == 1 and "需要以下角色之一：法律合规" in not_legal.output
    assert cli(clock, "legal-approve", statement_id, "--as", "qianyu", "--note", "无法律风险").exit_code == 0
    not_leader = cli(clock, "approve", statement_id, "--as", "liuqiang")
    assert not_leader.exit_code == 1 and "需要以下角色之一：分行领导" in not_leader.output
    clock.advance(timedelta(minutes=10))
    approved = cli(clock, "approve", statement_id, "--as", "sunhua")
    assert approved.exit_code == 0 and "已审签待发布" in approved.output
    clock.advance(timedelta(minutes=10))
    published = cli(clock, "publish", statement_id, "--as", "liuqiang", "--where", "江城分行官方微博",
                    "--url", "https://weibo.example/jcfh/1", "--at", "2026-11-23 10:25")
    assert published.exit_code == 0, published.output
    listed = cli(clock, "list", str(incident_id), "--as", "qianyu")
    assert listed.exit_code == 0 and f"{statement_id}\tclarification\tpublished\tv2\t江城分行官方微博" in listed.output
    out_of_scope = cli(clock, "list", str(incident_id), "--as", "wujun")
    assert out_of_scope.exit_code == 1 and "不属于您所辖的单位" in out_of_scope.output

    with factory() as session:
        s = session.scalars(select(Statement)).one()
        assert (s.status, s.approved_by, s.legal_by, s.published_where) == (
            "published", "sunhua", "qianyu", "江城分行官方微博")
        assert s.published_at.isoformat() == "2026-11-23T02:25:00+00:00"  # 10:25 in Asia/Shanghai
        assert queries.first_statement_at(session, session.get(Incident, incident_id)) == s.published_at
    engine.dispose()
