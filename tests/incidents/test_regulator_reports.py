"""Reports to the regulator and the central bank, on SQLite and PostgreSQL: the recipient comes from
config/regulators.yaml, the text from its Chinese template, and only a recorded report (who was told, how, the text)
stops the clock and completes the task — a tick cannot."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crawlers.models import Article, Story
from incidents import flows, queries, regulators, service
from incidents.errors import IncidentError
from incidents.lifecycle import Action, may
from incidents.models import Incident, RegulatorReport, TaskStatus, TimelineEvent
from incidents.policy import load_policy
from sentiment.models import StoryRisk
from yuqing import audit_chain
from yuqing.errors import ConfigError
from yuqing.models import AuditEntry

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Asia/Shanghai: the conftest clock's start
NFRA = "国家金融监督管理总局江城监管分局"
PBOC = "中国人民银行江城市分行"


@pytest.fixture
def session(session_factory):
    with session_factory() as s:
        yield s


def open_case(session, org, policy, clock, *, level: str = "II", category: str = "service_attitude",
              channel: str = "news") -> Incident:
    now = clock.now()
    story = Story(title="示例银行新华路网点拒绝客户取款", unit_id="xinhualu", first_seen_at=now, last_seen_at=now,
                  article_count=1)
    session.add(story)
    session.flush()
    url = f"https://news.example/{story.id}"
    digest = hashlib.sha256(url.encode()).hexdigest()
    session.add(Article(source_id="jcwb", channel=channel, url=url, url_hash=digest, title=story.title,
                        text=story.title, fetched_at=now, published_at=now - timedelta(minutes=50),
                        content_hash=digest, story_id=story.id, stage="scored"))
    risk = StoryRisk(story_id=story.id, computed_at=now, score=75, level=level, category=category, factors={})
    session.add(risk)
    session.flush()
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    return session.get(Incident, out.incident_id)


def task(incident: Incident, key: str):
    return next(t for t in incident.tasks if t.key == key)


def clocks(session, incident, policy, clock) -> dict:
    return {c.key: c for c in queries.incident_clocks(session, incident=incident, policy=policy, clock=clock)}


def record(session, incident, org, policy, clock, **kw) -> RegulatorReport:
    args = {"to": "nfra_jiangcheng", "method": "监管报送系统", "text": "关于新华路网点声誉事件的报告（正文）",
            "reference": "JC-2026-118", "user_login": "liuqiang"} | kw
    return regulators.record_report(session, incident_id=incident.id, org=org, regs=policy.regulators, clock=clock,
                                    **args)


def test_the_regulator_task_names_the_recipient_and_only_a_recorded_report_stops_its_clock(
        session, org, policy, clock):
    incident = open_case(session, org, policy, clock)
    reg = task(incident, "regulator_report")
    assert reg.title == f"向{NFRA}报告重大声誉事件（12小时内）"
    assert "银行机构监管科" in reg.note and "027-85550100" in reg.note and "监管报送系统" in reg.note
    assert clocks(session, incident, policy, clock)["regulator_report"].due_at == START + timedelta(hours=12)

    with pytest.raises(IncidentError, match="regulator_report") as refused:
        flows.complete_task(session, task_id=reg.id, user_login="liuqiang", clock=clock)
    assert "报告监管部门" in refused.value.user_message
    with pytest.raises(IncidentError) as refused:
        flows.mark_task_not_applicable(session, task_id=reg.id, user_login="liuqiang", reason="无需", clock=clock)
    assert "不能标记为不适用" in refused.value.user_message

    clock.advance(timedelta(hours=3))
    row = record(session, incident, org, policy, clock)
    assert (row.kind, row.recipient_key, row.recipient_name, row.method, row.reference, row.level) == (
        "regulator_report", "nfra_jiangcheng", NFRA, "监管报送系统", "JC-2026-118", "II")
    c = clocks(session, incident, policy, clock)["regulator_report"]
    assert c.status == "done" and c.done_at == START + timedelta(hours=3)
    assert reg.status == TaskStatus.done and reg.done_by == "liuqiang" and NFRA in reg.note
    ev = session.scalar(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id,
                                                    TimelineEvent.kind == "regulator_reported"))
    assert NFRA in ev.text and "监管报送系统" in ev.text and "JC-2026-118" in ev.text and ev.actor == "liuqiang"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "incident.regulator_report"))
    assert entry.actor == "liuqiang" and entry.data["recipient"] == "nfra_jiangcheng"
    assert audit_chain.verify(session).ok
    assert [r.id for r in regulators.reports_of(session, incident.id)] == [row.id]


def test_the_pboc_clock_runs_while_the_run_checklist_has_its_step(session, org, policy, clock):
    incident = open_case(session, org, policy, clock, level="III", category="withdrawal_bank_run")
    pboc = task(incident, "pboc_report")
    assert pboc.title == f"向{PBOC}报告挤兑风险（2小时内）" and "金融稳定科" in pboc.note
    c = clocks(session, incident, policy, clock)
    assert "regulator_report" not in c  # level III is no 重大声誉事件
    assert c["pboc_report"].due_at == START + timedelta(hours=2) and c["pboc_report"].started_at == START
    clock.advance(timedelta(minutes=100))
    assert clocks(session, incident, policy, clock)["pboc_report"].status == "due_soon"
    with pytest.raises(IncidentError):  # the regulator is not the central bank
        record(session, incident, org, policy, clock, kind="pboc_report")
    with pytest.raises(IncidentError, match="method"):
        record(session, incident, org, policy, clock, to="pboc_jiangcheng", method="监管报送系统")
    record(session, incident, org, policy, clock, to="pboc_jiangcheng", method="电话", reference="")
    assert clocks(session, incident, policy, clock)["pboc_report"].status == "done"
    assert pboc.status == TaskStatus.done


def test_a_pboc_step_marked_not_applicable_takes_its_clock_away_and_closing_stops_it(session, org, policy, clock):
    incident = open_case(session, org, policy, clock, level="III", category="withdrawal_bank_run")
    flows.mark_task_not_applicable(session, task_id=task(incident, "pboc_report").id, user_login="liuqiang",
                                   reason="经核实网点无聚集、无挤提", clock=clock)
    assert "pboc_report" not in clocks(session, incident, policy, clock)
    other = open_case(session, org, policy, clock, level="III", category="withdrawal_bank_run")
    flows.acknowledge_incident(session, incident_id=other.id, user_login="liuqiang", clock=clock)
    clock.advance(timedelta(hours=3))
    flows.close_incident(session, incident_id=other.id, user_login="liuqiang", summary="谣言平息", clock=clock)
    c = clocks(session, other, policy, clock)["pboc_report"]
    assert c.status == "stopped" and c.missed


def test_the_template_names_the_recipient_and_fills_in_what_the_product_knows(session, org, policy, clock):
    incident = open_case(session, org, policy, clock, level="II", category="withdrawal_bank_run")
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="liuqiang", clock=clock)
    clock.advance(timedelta(minutes=20))
    text = regulators.draft_text(session, incident=incident, kind="pboc_report", regs=policy.regulators, org=org,
                                 now=clock.now(), tz="Asia/Shanghai", reporter="liuqiang")
    assert text.startswith("关于示例银行江城分行新华路网点挤兑风险有关情况的报告")
    assert f"{PBOC}金融稳定科：" in text and incident.number in text and "II级（重大）" in text
    assert "11月23日10:00立案" in text and "新闻媒体1条" in text and "11月23日10:00确认事件" in text
    assert "联系人：刘强" in text and "示例银行江城分行\n2026年11月23日" in text
    assert regulators.draft_text(session, incident=incident, kind="regulator_report", regs=policy.regulators,
                                 org=org, now=clock.now(), tz="Asia/Shanghai", reporter="liuqiang").count(NFRA) == 1
    with pytest.raises(IncidentError) as refused:  # the template's 【待核实】 parts must be filled in first
        record(session, incident, org, policy, clock, to="pboc_jiangcheng", method="电话", text=text)
    assert "待核实" in refused.value.user_message
    assert session.scalar(select(RegulatorReport.id)) is None


def test_only_the_commander_or_a_leader_may_record(session, org, policy, clock):
    assert may(["commander"], Action.regulator_report) and may(["leader"], Action.regulator_report)
    assert not any(may([r], Action.regulator_report) for r in ("liaison", "monitor", "legal", "admin"))


def test_without_a_configured_recipient_the_person_names_who_was_told(session, org, policy, clock):
    bare = policy.model_copy(update={"regulators": None})
    incident = open_case(session, org, bare, clock)
    assert task(incident, "regulator_report").title == "向监管部门报告重大声誉事件（12小时内）"
    with pytest.raises(IncidentError):
        regulators.record_report(session, incident_id=incident.id, to="江城监管分局", method="", text="报告",
                                 user_login="liuqiang", org=org, regs=None, clock=clock, kind="regulator_report")
    row = regulators.record_report(session, incident_id=incident.id, to="江城监管分局", method="书面报告",
                                   text="报告", user_login="liuqiang", org=org, regs=None, clock=clock,
                                   kind="regulator_report")
    assert row.recipient_key is None and row.recipient_name == "江城监管分局"
    assert clocks(session, incident, bare, clock)["regulator_report"].status == "done"


def test_the_config_names_the_file_and_field_and_every_branch_has_its_recipients(tmp_path, org, policy):
    bad = tmp_path / "regulators.yaml"
    text = (Path(__file__).resolve().parents[2] / "config" / "regulators.yaml").read_text("utf-8")
    bad.write_text(text.replace("methods: [电话, 书面报告, 传真]\n    reports: [pboc_report]\n    branches: "
                                "[jiangcheng]", "methods: []\n    reports: [pboc_report]\n    branches: [jiangcheng]"),
                   encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        regulators.load_regulators(bad)
    assert err.value.path == str(bad) and [f for f, _ in err.value.problems] == ["recipients.1.methods"]
    bad.write_text(text.replace("{recipient}{department}：", "{recipient}{dept}：", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"reports\.regulator_report\.template.*\{dept\}"):
        regulators.load_regulators(bad)
    bad.write_text(text.replace("branches: [jiangcheng]\n\n  - key: pboc_jiangcheng",
                                "branches: [xinhualu]\n\n  - key: pboc_jiangcheng"), encoding="utf-8")
    loose = policy.model_copy(update={"regulators": regulators.load_regulators(bad)})
    with pytest.raises(ConfigError) as err:
        regulators.check_regulators_against_org(loose, org, bad)
    problems = dict(err.value.problems)
    assert "outlet" in problems["recipients[0].branches[0]"]
    assert "no regulator_report recipient for 'jiangcheng'" in problems["recipients"]
    regulators.check_regulators_against_org(policy, org, bad)  # the shipped file covers every branch


def test_the_regulators_file_is_loaded_beside_levels(tmp_path):
    root = Path(__file__).resolve().parents[2] / "config"
    assert load_policy(root / "levels.yaml", root / "checklists").regulators.recipient("pboc_hq").name == "中国人民银行"
    (tmp_path / "levels.yaml").write_text((root / "levels.yaml").read_text("utf-8"), encoding="utf-8")
    assert load_policy(tmp_path / "levels.yaml", root / "checklists").regulators is None
