"""``yuqing incident action-done`` and ``yuqing incident resurgence-dismiss`` on a real (SQLite) database: the item's
owner, the commander or a leader marks an action item done (anyone else refused, as the API refuses), ``show``
lists the items open and done; a flagged closed case is decided on by the commander."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from incidents import flows
from incidents.flows import ActionItemIn
from incidents.models import Incident, TimelineEvent
from runner.cli import app
from tests.incidents.cases import cli_database, open_case

runner = CliRunner()


def cli(clock, *args: str):
    return runner.invoke(app, ["incident", *args], obj={"clock": clock})


def test_action_items_are_marked_done_from_the_command_line(monkeypatch, tmp_path, org, policy, clock):
    engine, factory = cli_database(monkeypatch, tmp_path)
    incident_id = _run_to_review(factory, org, policy, clock)
    shown = json.loads(cli(clock, "show", str(incident_id), "--as", "liuqiang", "--json").stdout)
    items = {i["owner_id"]: i for i in shown["reviews"][0]["action_items"]}
    outlet, commanders = items["huangwei"]["id"], items["liuqiang"]["id"]
    assert items["huangwei"]["done_at"] is None and items["huangwei"]["due_at"] is not None
    text = cli(clock, "show", str(incident_id), "--as", "liuqiang").output
    assert f"整改 #{outlet} [未完成] 组织网点开展话术培训（黄伟，" in text

    refused = cli(clock, "action-done", str(incident_id), str(commanders), "--as", "huangwei")
    assert refused.exit_code == 1
    assert "无权标记此整改事项完成：仅限负责人本人或应急处置负责人、分行领导" in refused.output
    refused = cli(clock, "action-done", str(incident_id), str(outlet), "--as", "wangmin")
    assert refused.exit_code == 1
    missing = cli(clock, "action-done", str(incident_id), "999999", "--as", "liuqiang")
    assert missing.exit_code == 1 and "整改事项" in missing.output
    clock.advance(timedelta(days=3))
    done = cli(clock, "action-done", str(incident_id), str(outlet), "--as", "huangwei", "--note", "已培训12人")
    assert done.exit_code == 0, done.output
    assert f"整改事项 {outlet} 已完成" in done.output
    assert cli(clock, "action-done", str(incident_id), str(commanders), "--as", "chenjing").exit_code == 0
    again = cli(clock, "action-done", str(incident_id), str(outlet), "--as", "huangwei")
    assert again.exit_code == 1 and "已完成" in again.output
    shown = json.loads(cli(clock, "show", str(incident_id), "--as", "liuqiang", "--json").stdout)
    assert all(i["done_at"] for i in shown["reviews"][0]["action_items"])
    assert f"整改 #{outlet} [已完成]" in cli(clock, "show", str(incident_id), "--as", "liuqiang").output
    with factory() as session:
        actors = list(session.scalars(select(TimelineEvent.actor).where(
            TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "action_item_done")
            .order_by(TimelineEvent.id)))
        assert actors == ["huangwei", "chenjing"]

    # a 舆情反弹 flag on the closed-and-reviewed case: the commander records why it stays closed
    with factory() as session:
        incident = session.get(Incident, incident_id)
        session.add(TimelineEvent(incident=incident, at=clock.now(), kind="resurgence", actor="system",
                                  text="舆情反弹：风险升至II级（重大）", data={"action": "flagged", "level": "II"}))
        session.commit()
    assert "舆情反弹 舆情反弹：风险升至II级" in cli(clock, "show", str(incident_id), "--as", "liuqiang").output
    refused = cli(clock, "resurgence-dismiss", str(incident_id), "--as", "wangmin", "--reason", "旧帖")
    assert refused.exit_code == 1 and "应急处置负责人、分行领导" in refused.output
    no_reason = cli(clock, "resurgence-dismiss", str(incident_id), "--as", "liuqiang")
    assert no_reason.exit_code == 1 and "理由" in no_reason.output
    ok = cli(clock, "resurgence-dismiss", str(incident_id), "--as", "liuqiang", "--reason", "旧帖转发，营业正常")
    assert ok.exit_code == 0 and "已记录研判" in ok.output
    assert json.loads(cli(clock, "show", str(incident_id), "--as", "liuqiang", "--json").stdout)["resurgence"] is None
    engine.dispose()


def _run_to_review(factory, org, policy, clock) -> int:
    with factory() as session:
        now = clock.now()
        incident_id = open_case(session, org, policy, clock, level="III", score=75)
        flows.acknowledge_incident(session, incident_id=incident_id, user_login="liuqiang", clock=clock)
        clock.advance(timedelta(hours=1))
        flows.close_incident(session, incident_id=incident_id, user_login="liuqiang", summary="已平息", clock=clock)
        clock.advance(timedelta(hours=1))
        flows.review_incident(session, incident_id=incident_id, user_login="liuqiang", text="复盘", org=org,
                              action_items=[ActionItemIn("组织网点开展话术培训", "huangwei", now + timedelta(days=14)),
                                            ActionItemIn("预置澄清口径模板", "liuqiang", now + timedelta(days=30))],
                              clock=clock)
        session.commit()
    return incident_id
