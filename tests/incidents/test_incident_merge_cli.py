"""``yuqing incident merge B --into A --as USER`` on a real (SQLite) database: refused for a monitor and for a case
merged into itself (as the API refuses), done by the commander naming the other case by number."""

from __future__ import annotations

from datetime import timedelta

from typer.testing import CliRunner

from incidents.models import Alert, Incident
from runner.cli import app
from tests.incidents.cases import cli_database, open_case

runner = CliRunner()


def cli(clock, *args: str):
    return runner.invoke(app, ["incident", *args], obj={"clock": clock})


def test_a_commander_merges_one_case_into_another_from_the_command_line(monkeypatch, tmp_path, org, policy, clock):
    engine, factory = cli_database(monkeypatch, tmp_path)
    with factory() as session:
        a = open_case(session, org, policy, clock, level="III", score=60)
        clock.advance(timedelta(minutes=20))
        b = open_case(session, org, policy, clock, level="II", score=75)
        session.commit()
        a_number = session.get(Incident, a).number
    clock.advance(timedelta(minutes=5))

    refused = cli(clock, "merge", str(b), "--into", a_number, "--as", "wangmin")
    assert refused.exit_code == 1 and "无权执行此操作" in refused.output
    itself = cli(clock, "merge", str(b), "--into", str(b), "--as", "liuqiang")
    assert itself.exit_code == 1 and "不能把事件合并到它自己" in itself.output
    unknown = cli(clock, "merge", str(b), "--into", "YQ-19990101-001", "--as", "liuqiang")
    assert unknown.exit_code == 1 and "目标事件不存在" in unknown.output
    done = cli(clock, "merge", str(b), "--into", a_number.lower(), "--as", "liuqiang", "--reason", "同一传闻")
    assert done.exit_code == 0, done.output
    assert f"{a_number}\t待确认\tII级\t已并入事件" in done.output
    again = cli(clock, "merge", str(b), "--into", a_number, "--as", "liuqiang")
    assert again.exit_code == 1 and "已合并" in again.output
    with factory() as session:
        merged, kept = session.get(Incident, b), session.get(Incident, a)
        assert merged.status == "merged" and kept.level == "II"
        assert {al.incident_id for al in session.query(Alert)} == {a}
    engine.dispose()
