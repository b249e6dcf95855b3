"""``yuqing incident regulator`` on a real (SQLite) database: the template printed, a report to the central bank
recorded as the commander (its clock stops, its task completes, show --json carries it), a liaison refused."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from runner.cli import app
from tests.incidents.cases import open_case
from yuqing.db import make_engine, make_sessionmaker
from yuqing.settings import load_settings

runner = CliRunner()


def cli(clock, *args: str):
    return runner.invoke(app, ["incident", *args], obj={"clock": clock})


def test_a_pboc_report_is_recorded_from_the_command_line(monkeypatch, tmp_path, org, policy, clock):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert runner.invoke(app, ["user", "seed"], input="first-password-1\nfirst-password-1\n").exit_code == 0
    engine = make_engine(load_settings().effective_database_url)
    with make_sessionmaker(engine)() as session:
        incident_id = open_case(session, org, policy, clock, level="III", score=70)
        session.commit()
    engine.dispose()

    template = cli(clock, "regulator", str(incident_id), "--to", "pboc_jiangcheng", "--template", "--as", "liuqiang")
    assert template.exit_code == 0, template.output
    assert "中国人民银行江城市分行金融稳定科：" in template.stdout and "【待核实" in template.stdout

    text = tmp_path / "pboc.txt"
    text.write_text("已电话报告金融稳定科：网点秩序正常，现金充足，无聚集。", encoding="utf-8")
    refused = cli(clock, "regulator", str(incident_id), "--to", "pboc_jiangcheng", "--method", "电话", "--file",
                  str(text), "--as", "huangwei")
    assert refused.exit_code == 1 and "无权执行此操作" in refused.output
    wrong = cli(clock, "regulator", str(incident_id), "--to", "pboc_jiangcheng", "--method", "监管报送系统", "--file",
                str(text), "--as", "liuqiang")
    assert wrong.exit_code == 1 and "接受的报告方式为：电话、书面报告、传真" in wrong.output
    done = cli(clock, "regulator", str(incident_id), "--to", "pboc_jiangcheng", "--method", "电话", "--reference",
               "JC-PBOC-7", "--file", str(text), "--as", "liuqiang")
    assert done.exit_code == 0, done.output
    assert "已登记报告人民银行：中国人民银行江城市分行（电话）" in done.stdout

    shown = json.loads(cli(clock, "show", str(incident_id), "--json", "--as", "liuqiang").stdout)
    [report] = shown["regulator_reports"]
    assert (report["kind"], report["recipient_key"], report["reference"], report["reported_by"]) == (
        "pboc_report", "pboc_jiangcheng", "JC-PBOC-7", "liuqiang")
    assert next(c for c in shown["clocks"] if c["key"] == "pboc_report")["status"] == "done"
    assert next(t for t in shown["tasks"] if t["key"] == "pboc_report")["status"] == "done"
    plain = cli(clock, "show", str(incident_id), "--as", "liuqiang").stdout
    assert "报告人民银行 中国人民银行江城市分行（电话）刘强" in plain
