"""The reporting chain per level (config/levels.yaml): who is told, walked up the org chart, never nearest-with-role;
level IV reaches no leader; a bad chain names the file and the field."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from incidents import flows, service
from incidents.models import Alert, Incident, Notification
from incidents.policy import load_policy
from yuqing.errors import ConfigError
from yuqing.org import Person, Role

CONFIG = Path(__file__).resolve().parents[2] / "config"
LEADERS = {"chenjing", "sunhua"}


def rows(session, **where):
    q = select(Notification).order_by(Notification.id)
    for k, v in where.items():
        q = q.where(getattr(Notification, k) == v)
    return list(session.scalars(q))


def handle(session, risk, org, policy, clock):
    return service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)


def with_sub_branch_leader(org):
    """The demo chart plus a 支行行长 at 光明路支行 (the unit above the 新华路 outlet)."""
    boss = Person(id="gml-boss", name="马行长", title="光明路支行行长", unit="guangminglu", roles=[Role.leader],
                  contacts={"email": "ma@jc.shili-bank.example", "phone": "13800000099"})
    return org.model_copy(update={"people": [*org.people, boss]})


def test_level_i_from_an_outlet_reaches_outlet_sub_branch_branch_and_head_office(session, org, policy, clock,
                                                                                make_story, make_risk):
    out = handle(session, make_risk(story=make_story(unit_id="xinhualu"), level="I", score=95), org, policy, clock)
    incident = session.get(Incident, out.incident_id)
    told = {n.recipient_id for n in rows(session, purpose="incident_opened")}
    assert told == {"huangwei",            # the outlet's liaison
                    "zhoufang",            # 光明路支行综合管理部
                    "wangmin", "zhaolei",  # 分行综合管理部 duty desk
                    "liuqiang",            # the branch's commander
                    "chenjing", "sunhua",  # 分管 leader and 行长
                    "yangfan"}             # head office
    # Nobody outside the chain: other sub-branches' liaisons, legal, the admin.
    assert not told & {"wujun", "zhengli", "qianyu", "admin"}

    ev = next(e for e in incident.events if e.kind == "reporting_chain")
    groups = {g["group"]: g for g in ev.data["groups"]}
    assert [g["group"] for g in ev.data["groups"]] == [
        "unit_liaison", "sub_branch_office", "branch_office", "branch_commander", "leader_in_charge",
        "branch_president", "head_office"]
    assert groups["unit_liaison"]["people"] == ["huangwei"]
    assert groups["leader_in_charge"]["people"] == ["chenjing"] and groups["branch_president"]["people"] == ["sunhua"]
    # Each group its own acknowledgement clock: the level's 5 minutes unless the group says otherwise.
    now = clock.now()
    assert datetime.fromisoformat(groups["branch_office"]["ack_due_at"]) == now + timedelta(minutes=5)
    assert datetime.fromisoformat(groups["branch_president"]["ack_due_at"]) == now + timedelta(minutes=30)
    assert "分管行领导（1人）" in ev.text and "总行办公室（1人）" in ev.text

    body = rows(session, purpose="incident_opened", recipient_id="huangwei")[0].body
    assert "分行行长：孙华，请于 2026-11-23 10:30（北京时间）前确认" in body
    assert "分行综合管理部值班：王敏、赵磊，请于 2026-11-23 10:05（北京时间）前确认" in body
    # One message per level: every group gets the same text, so a group robot posts it once.
    assert len({(n.subject, n.body) for n in rows(session, purpose="incident_opened")}) == 1
    # Leaders are phoned at level I (leadership_by_phone); the others are not.
    assert {n.recipient_id for n in rows(session, channel="phone")} == LEADERS


def test_level_ii_tells_the_leader_in_charge_but_not_the_president_or_head_office(session, org, policy, clock,
                                                                                   make_story, make_risk):
    handle(session, make_risk(story=make_story(unit_id="zhongnanlu"), level="II", score=80), org, policy, clock)
    told = {n.recipient_id for n in rows(session, purpose="incident_opened")}
    assert told == {"wujun", "wangmin", "zhaolei", "liuqiang", "chenjing"}  # 中南路 has no liaison of its own


def test_re_running_the_chain_adds_nothing(session, org, policy, clock, make_story, make_risk):
    out = handle(session, make_risk(story=make_story(), level="I", score=95), org, policy, clock)
    incident = session.get(Incident, out.incident_id)
    before = [n.dedup_key for n in rows(session)]
    assert service._notify_incident(session, incident=incident, alert=None, purpose="incident_opened", org=org,
                                     policy=policy, now=clock.now()) == 0
    assert [n.dedup_key for n in rows(session)] == before
    assert f"incident:{incident.id}:level:I:sunhua:in_app" in before  # stable per (incident, level, person, channel)
    assert len([e for e in incident.events if e.kind == "reporting_chain"]) == 1


def test_a_sub_branch_leader_does_not_hide_the_branch_leaders(session, org, policy, clock, make_story, make_risk):
    org2 = with_sub_branch_leader(org)
    assert [p.id for p in org2.nearest_with_role(Role.leader, "xinhualu")] == ["gml-boss"]  # the old routing's pick
    out = handle(session, make_risk(story=make_story(unit_id="xinhualu"), level="I", score=95), org2, policy, clock)
    told = {n.recipient_id for n in rows(session, purpose="incident_opened")}
    assert told >= LEADERS
    # and the escalation chain of an alert at the outlet ends with the branch's leaders, not the sub-branch's
    alert = session.get(Alert, out.alert_id)
    assert alert.escalation_chain[-1] == {"index": 2, "role": "leader", "people": ["chenjing", "sunhua"]}


def test_level_iv_never_reaches_a_leader(session, org, policy, clock, make_story, make_risk):
    org2 = with_sub_branch_leader(org)
    leaders = LEADERS | {"gml-boss"}
    story = make_story(unit_id="xinhualu")
    out = handle(session, make_risk(story=story, level="IV", score=30), org2, policy, clock)
    alert = session.get(Alert, out.alert_id)
    assert [s["role"] for s in alert.escalation_chain] == ["monitor", "commander"]
    # The risk stays at IV while nobody acknowledges for hours: the chain stops at the commander.
    for _ in range(12):
        clock.advance(timedelta(hours=1))
        handle(session, make_risk(story=story, level="IV", score=33), org2, policy, clock)
        service.run_escalations(session, org=org2, policy=policy, clock=clock)
    assert [n.recipient_id for n in rows(session, purpose="escalation")] == ["liuqiang"]
    assert not {n.recipient_id for n in rows(session)} & leaders
    # Opened by hand at IV: the outlet, its sub-branch and the duty desk are told, no leader.
    incident = service.open_incident_from_alert(session, alert_id=alert.id, user_login="wangmin", org=org2,
                                                policy=policy, clock=clock)
    told = {n.recipient_id for n in rows(session, purpose="incident_opened")}
    assert told == {"huangwei", "zhoufang", "wangmin", "zhaolei"}
    assert not {n.recipient_id for n in rows(session)} & leaders
    # Lowered to IV from a higher level: a lowering tells nobody new.
    flows.change_level(session, incident_id=incident.id, new_level="III", reason="媒体转载", user_login="liuqiang",
                       org=org2, policy=policy, clock=clock)
    flows.change_level(session, incident_id=incident.id, new_level="IV", reason="已澄清", user_login="liuqiang",
                       org=org2, policy=policy, clock=clock)
    assert not {n.recipient_id for n in rows(session)} & leaders


def test_an_alert_rising_from_iv_gets_the_higher_levels_escalation_chain(session, org, policy, clock, make_story,
                                                                          make_risk):
    story = make_story(unit_id="binjianghuayuan", title="示例银行滨江花园网点排长队")
    out = handle(session, make_risk(story=story, level="IV", score=30), org, policy, clock)
    alert = session.get(Alert, out.alert_id)
    clock.advance(timedelta(hours=2, minutes=1))
    assert service.run_escalations(session, org=org, policy=policy, clock=clock) == 1  # to the commander
    handle(session, make_risk(story=story, level="III", score=55), org, policy, clock)
    assert [s["role"] for s in alert.escalation_chain] == ["monitor", "commander", "leader"]
    clock.advance(timedelta(minutes=31))
    assert service.run_escalations(session, org=org, policy=policy, clock=clock) == 1
    assert {n.recipient_id for n in rows(session, purpose="escalation")} == {"liuqiang"} | LEADERS


# --- validation -------------------------------------------------------------------------------------------------

def _levels(tmp_path: Path, edit) -> tuple[Path, Path]:
    shutil.copytree(CONFIG / "checklists", tmp_path / "checklists")
    text = (CONFIG / "levels.yaml").read_text(encoding="utf-8")
    new = edit(text)
    assert new != text, "the edit did not apply"
    (tmp_path / "levels.yaml").write_text(new, encoding="utf-8")
    return tmp_path / "levels.yaml", tmp_path / "checklists"


def _error(tmp_path: Path, edit) -> str:
    levels, checklists = _levels(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_policy(levels, checklists)
    assert "levels.yaml" in str(err.value)
    return str(err.value)


def test_the_shipped_chain_loads(policy):
    one, four = policy.level("I"), policy.level("IV")
    assert one.reporting_chain[-1].scope == "head_office"
    assert "head_office" not in [g.key for g in policy.level("II").reporting_chain]
    assert policy.levels_file.escalation_roles("IV") == [Role.monitor, Role.commander]
    assert policy.levels_file.escalation_roles("I") == [Role.monitor, Role.commander, Role.leader]
    assert one.group_ack_minutes(one.reporting_chain[0]) == 5 and four.group_ack_minutes(four.reporting_chain[0]) == 120


def test_level_iv_with_a_leader_in_its_chain_is_rejected(tmp_path):
    msg = _error(tmp_path, lambda t: t.replace(
        "    escalate_to: [monitor, commander]",
        "      - {key: boss, scope: branch, roles: [leader]}\n    escalate_to: [monitor, commander]"))
    assert "levels[3].reporting_chain[3].roles" in msg and "level IV reaches no leader" in msg


def test_level_iv_escalating_to_leaders_is_rejected(tmp_path):
    msg = _error(tmp_path, lambda t: t.replace("    escalate_to: [monitor, commander]", ""))
    assert "levels[3].escalate_to" in msg and "escalation_chain applies" in msg
    msg = _error(tmp_path / "b", lambda t: t.replace("escalate_to: [monitor, commander]",
                                                     "escalate_to: [monitor, commander, leader]"))
    assert "levels[3].escalate_to:" in msg and "leaders" in msg


def test_bad_groups_name_the_field(tmp_path):
    msg = _error(tmp_path / "a", lambda t: t.replace("scope: intermediate, roles: [liaison]}",
                                                     "scope: upstairs, roles: [liaison]}", 1))
    assert "levels.0.reporting_chain.1.scope" in msg
    msg = _error(tmp_path / "b", lambda t: t.replace("key: branch_commander, label: 应急处置负责人",
                                                     "key: branch_office, label: 应急处置负责人", 1))
    assert "reporting_chain[3].key: duplicate group key 'branch_office'" in msg
    msg = _error(tmp_path / "c", lambda t: t.replace("scope: owning_unit, roles: [liaison]}",
                                                     "scope: owning_unit}", 1))
    assert "levels.0.reporting_chain.0" in msg and "give roles, people or both" in msg
    msg = _error(tmp_path / "d", lambda t: t.replace("roles: [liaison]}", "roles: [chairman]}", 1))
    assert "levels.0.reporting_chain.0.roles.0" in msg
    msg = _error(tmp_path / "e", lambda t: t.replace("ack_minutes: 30}", "ack_minutes: 0}", 1))
    assert "levels.0.reporting_chain.4.ack_minutes" in msg


def test_the_old_notify_roles_key_says_what_replaced_it(tmp_path):
    msg = _error(tmp_path, lambda t: t.replace("    reporting_chain:\n", "    notify_roles: [commander]\n"
                                                                         "    reporting_chain:\n", 1))
    assert "levels.0" in msg and "notify_roles was replaced by reporting_chain" in msg


def test_named_people_must_exist_and_level_iv_may_not_name_a_leader(tmp_path):
    from runner.runtime import load_config
    from yuqing.settings import PROJECT_ROOT, Settings

    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    levels = config / "levels.yaml"
    shipped = levels.read_text(encoding="utf-8")
    named = "{key: boss, scope: branch, people: [%s]}\n    escalate_to: [monitor, commander]"
    for who, reason in (("nobody-here", "no person 'nobody-here' in the org chart"),
                        ("sunhua", "'sunhua' is a leader; level IV reaches no leader directly")):
        levels.write_text(shipped.replace("    escalate_to: [monitor, commander]", "      - " + named % who),
                          encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_config(Settings(config_dir=config, data_dir=tmp_path))
        assert f"levels.yaml: levels[3].reporting_chain[3].people[0]: {reason}" in str(err.value)
    # A named person who is no leader is fine at IV, and is told.
    levels.write_text(shipped.replace("    escalate_to: [monitor, commander]", "      - " + named % "yangfan"),
                      encoding="utf-8")
    cfg = load_config(Settings(config_dir=config, data_dir=tmp_path))
    assert cfg.policy.level("IV").reporting_chain[-1].people == ["yangfan"]
