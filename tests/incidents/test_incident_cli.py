"""``yuqing incident …`` end to end on a real (SQLite) database: a case run from open to reviewed by named users,
each refused where the API would refuse them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from incidents import service
from incidents.models import IncidentReport, LeadershipAcknowledgement
from runner.cli import app
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.settings import load_settings


def _make_story(session, *, clock):
    """A story of 新华路网点 with one article, as the crawler leaves it."""
    import hashlib

    from crawlers.models import Article, Story

    now = clock.now()
    story = Story(title="示例银行新华路网点挤兑传闻", unit_id="xinhualu", first_seen_at=now, last_seen_at=now,
                  article_count=1)
    session.add(story)
    session.flush()
    url = f"https://weibo.example/post/{story.id}"
    session.add(Article(source_id="weibo", channel="social", url=url, url_hash=hashlib.sha256(url.encode()).hexdigest(),
                        title=story.title, text=story.title, fetched_at=now, published_at=now,
                        content_hash=hashlib.sha256(url.encode()).hexdigest(), story_id=story.id, stage="scored"))
    session.flush()
    return story


def _make_risk(session, *, story, clock, level: str, score: float):
    from sentiment.models import StoryRisk

    risk = StoryRisk(story_id=story.id, computed_at=clock.now(), score=score, level=level,
                     category="withdrawal_bank_run", factors={})
    session.add(risk)
    session.flush()
    return risk

runner = CliRunner()


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    return tmp_path


def cli(clock: FrozenClock, *args: str):
    return runner.invoke(app, ["incident", *args], obj={"clock": clock})


def test_a_case_runs_from_open_to_reviewed_from_the_command_line(env, org, policy, clock, tmp_path):
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert runner.invoke(app, ["user", "seed"], input="first-password-1\nfirst-password-1\n").exit_code == 0
    engine = make_engine(load_settings().effective_database_url)
    factory = make_sessionmaker(engine)
    with factory() as session:
        story = _make_story(session, clock=clock)
        risk = _make_risk(session, story=story, clock=clock, level="II", score=75)
        incident_id = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy,
                                                clock=clock).incident_id
        session.commit()
    report = tmp_path / "report.txt"
    report.write_text("新华路网点排队已疏导，现金备付充足。", encoding="utf-8")

    listed = cli(clock, "list", "--as", "liuqiang")
    assert listed.exit_code == 0 and f"{incident_id}\t" in listed.output and "\topen\t" in listed.output
    refused = cli(clock, "ack", str(incident_id), "--as", "huangwei")
    assert refused.exit_code == 1
    assert "无权执行此操作：需要以下角色之一：值班监测、应急处置负责人、分行领导、系统管理员" in refused.output
    assert cli(clock, "ack", str(incident_id), "--as", "wangmin").exit_code == 0
    refused = cli(clock, "level", str(incident_id), "I", "--as", "wangmin", "--reason", "媒体跟进")
    assert refused.exit_code == 1 and "应急处置负责人、分行领导" in refused.output
    no_reason = cli(clock, "level", str(incident_id), "I", "--as", "liuqiang")
    assert no_reason.exit_code == 1 and "调整事件等级必须填写原因" in no_reason.output
    assert cli(clock, "level", str(incident_id), "I", "--as", "liuqiang", "--reason", "省级媒体跟进").exit_code == 0
    clock.advance(timedelta(minutes=20))
    assert cli(clock, "report", str(incident_id), "initial", "--as", "liuqiang", "--file", str(report)).exit_code == 0
    not_leader = cli(clock, "leader-ack", str(incident_id), "--as", "liuqiang")
    assert not_leader.exit_code == 1 and "分行领导" in not_leader.output
    assert cli(clock, "leader-ack", str(incident_id), "--as", "chenjing", "--note", "请持续关注").exit_code == 0
    clock.advance(timedelta(hours=1))
    assert cli(clock, "report", str(incident_id), "follow_up", "--as", "liuqiang", "--file", str(report)
               ).exit_code == 0
    early = cli(clock, "report", str(incident_id), "final", "--as", "liuqiang", "--file", str(report))
    assert early.exit_code == 1 and "终报须在事件结案后、复盘前报送" in early.output
    assert cli(clock, "close", str(incident_id), "--as", "liuqiang", "--summary", "谣言已澄清").exit_code == 0
    shown = json.loads(cli(clock, "show", str(incident_id), "--as", "liuqiang", "--json").stdout)
    assert shown["status"] == "closed"
    clocks = {c["key"]: c for c in shown["clocks"]}
    assert {c["status"] for k, c in clocks.items() if k not in ("final_report", "review")} <= {"done", "stopped"}
    assert clocks["final_report"]["status"] == "ok" and clocks["review"]["status"] == "ok"
    clock.advance(timedelta(hours=3))
    assert cli(clock, "report", str(incident_id), "final", "--as", "liuqiang", "--file", str(report)).exit_code == 0
    assert cli(clock, "review", str(incident_id), "--as", "chenjing", "--file", str(report),
               "--went-well", "15分钟内确认", "--action", "huangwei:网点应急演练").exit_code == 0
    shown = json.loads(cli(clock, "show", str(incident_id), "--as", "chenjing", "--json").stdout)
    assert shown["status"] == "reviewed"
    assert [r["kind"] for r in shown["reports"]] == ["initial", "follow_up", "final"]
    assert [c["key"] for c in shown["clocks"] if c["overdue"]] == []
    review = shown["reviews"][0]
    assert review["seconds_to_acknowledge"] == 0 and review["seconds_to_leadership"] == 20 * 60
    assert review["action_items"][0]["owner_name"] == "黄伟" or review["action_items"][0]["owner_id"] == "huangwei"
    reopened = cli(clock, "reopen", str(incident_id), "--as", "liuqiang")
    assert reopened.exit_code == 1 and "重新打开事件必须填写原因" in reopened.output
    assert cli(clock, "reopen", str(incident_id), "--as", "liuqiang", "--reason", "话题再次发酵").exit_code == 0
    with factory() as session:
        assert len(session.scalars(select(IncidentReport)).all()) == 3
        assert session.scalars(select(LeadershipAcknowledgement.leader_id)).all() == ["chenjing"]
    out_of_scope = cli(clock, "show", str(incident_id), "--as", "wujun")
    assert out_of_scope.exit_code == 1 and "不属于您所辖的单位" in out_of_scope.output
    assert cli(clock, "show", str(incident_id), "--as", "nobody").exit_code == 2
    engine.dispose()
