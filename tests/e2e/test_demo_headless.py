"""End to end: ``yuqing demo --headless`` plays the whole crisis through every real stage and reports it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.e2e
YUQING = Path(sys.executable).parent / "yuqing"
SUMMARY_KEYS = {"articles", "mentions", "stories", "alerts", "incidents", "notifications", "deliveries",
                "first_leader_ack_minutes_after_first_post"}


def test_headless_demo_opens_one_level_I_incident_for_the_outlet(tmp_path):
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("YUQING_DATABASE_URL", None)
    proc = subprocess.run([str(YUQING), "demo", "--headless", "--speed", "1500"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) == SUMMARY_KEYS
    assert summary["articles"] > 500 and summary["mentions"] > 50
    assert summary["stories"] >= 1 and summary["alerts"] >= 1
    outlet_incidents = [i for i in summary["incidents"] if i["unit"] == "xinhualu"]
    assert len(outlet_incidents) == 1, summary["incidents"]  # one incident for the story, not one per repost
    assert outlet_incidents[0]["level"] == "I"
    assert outlet_incidents[0]["tasks"] >= 5
    assert set(outlet_incidents[0]) == {"id", "level", "unit", "tasks", "status", "level_history", "reports",
                                        "statements_published", "reviewed", "overdue_clocks"}
    assert outlet_incidents[0]["reports"] == [] and outlet_incidents[0]["reviewed"] is False  # nobody acts
    assert summary["notifications"] >= 3
    # the sim's robots confirmed them (DingTalk and Feishu only after checking the signature)
    assert {"in_app", "email", "wecom", "dingtalk", "feishu"} <= set(summary["deliveries"])
    assert summary["first_leader_ack_minutes_after_first_post"] is None  # nobody acts: no leader acknowledged

    # look inside: distractors stayed out, and the incident's story holds the whole crisis
    engine = create_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    with engine.connect() as conn:
        other_banks = conn.execute(text(
            "select count(*) from articles a join mentions m on m.article_id = a.id "
            "where (a.text like '%招商银行江城新华路营业厅%' or a.text like '%工商银行江城分行新华路支行%') "
            "and a.text not like '%示例%'")).scalar()
        assert other_banks == 0
        channels = {row[0] for row in conn.execute(text(
            "select distinct a.channel from articles a join incidents i on i.story_id = a.story_id "
            "where i.unit_id = 'xinhualu'"))}
        assert channels == {"complaint", "social", "news"}  # one incident fusing every channel
        # one story per event: everything relevant about the outlet or its street (the eyewitness naming only the
        # bank and 新华路, the rumours and statements a level up) is the incident's story, with a single alert
        story = conn.execute(text("select story_id from incidents where unit_id = 'xinhualu'")).scalar()
        crisis = {row[0] for row in conn.execute(text(
            "select distinct a.story_id from articles a where a.story_id is not null and (a.text like '%新华路%' "
            "or a.title like '%新华路%' or a.id in (select article_id from mentions where unit_id = 'xinhualu'))"))}
        assert crisis == {story}
        assert conn.execute(text("select count(*) from stories where unit_id = 'xinhualu'")).scalar() == 1
        assert conn.execute(text("select count(*) from alerts where story_id = :s or unit_id = 'xinhualu'"),
                            {"s": story}).scalar() == 1
    engine.dispose()


def test_headless_demo_with_respond_runs_the_case_to_its_review(tmp_path):
    """``--respond``: the commander, legal and a branch leader act through the product's own actions; the case
    ends reviewed with every report, a published statement, no overdue clock, deliveries on three channels or
    more, and an intact audit chain."""
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("YUQING_DATABASE_URL", None)
    # With --respond simulated time runs only in the 0.2 s between pipeline rounds (HeldClock), so the speed sets
    # the number of rounds, and the rounds the test's time: at 6000× a round every 20 simulated minutes, the people
    # looking every 5. Measured side by side (load 9-17): the demo took 105 s of CPU at 6000×, 169 s at 3000×, and
    # both ended with the same case (levels III, II, I, II; every report; reviewed; no overdue clock).
    proc = subprocess.run([str(YUQING), "demo", "--headless", "--respond", "--speed", "6000"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) == SUMMARY_KEYS
    [case] = [i for i in summary["incidents"] if i["unit"] == "xinhualu"]
    assert case["status"] == "reviewed" and case["reviewed"] is True
    assert set(case["reports"]) == {"initial", "follow_up", "final"}
    assert case["statements_published"] >= 1
    assert case["overdue_clocks"] == 0
    assert "I" in case["level_history"] and case["level_history"][-1] != "I"  # raised to I, lowered as it faded
    channels = {c for c, n in summary["deliveries"].items() if n > 0}
    assert len(channels) >= 3 and {"in_app", "email", "wecom", "dingtalk", "feishu"} <= channels
    minutes = summary["first_leader_ack_minutes_after_first_post"]
    assert isinstance(minutes, float) and 0 < minutes < 12 * 60

    db = tmp_path / "demo.db"
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        actors = {row[0] for row in conn.execute(text(
            "select distinct actor from timeline_events where incident_id = :i"), {"i": case["id"]})}
        # the people, each under their own name: the duty monitor and the outlet's liaison too
        assert {"liuqiang", "qianyu", "chenjing", "wangmin", "huangwei"} <= actors
        leader_acks = conn.execute(text("select count(*) from leadership_acknowledgements where leader_id = "
                                        "'chenjing'")).scalar()
        assert leader_acks == 1
        # every step was done by the person whose role owns it, or taken off the list with a reason, before closing
        closed = json.loads(conn.execute(text("select data from timeline_events where incident_id = :i and "
                                              "kind = 'closed'"), {"i": case["id"]}).scalar())
        assert closed["open_tasks"] == []
        steps = conn.execute(text("select key, owner_role, status, done_by, note from tasks where incident_id = :i"),
                             {"i": case["id"]}).all()
        assert all(status in ("done", "not_applicable") for _, _, status, _, _ in steps), steps
        assert all(note.strip() for _, _, status, _, note in steps if status == "not_applicable"), steps
        by_role = {(role, done_by) for _, role, status, done_by, _ in steps if status == "done"}
        assert ("monitor", "wangmin") in by_role and ("liaison", "huangwei") in by_role
        # the reports to the regulator and the central bank the checklist owes were recorded, not ticked
        owed = {key for key, *_ in steps if key in ("regulator_report", "pboc_report")}
        reported = {row[0] for row in conn.execute(text("select distinct kind from regulator_reports where "
                                                        "incident_id = :i"), {"i": case["id"]})}
        assert owed <= reported
        # the first leader acknowledgement, measured from the story's first post, is the summary's number
        first_post, acked = conn.execute(text(
            "select (select min(coalesce(a.published_at, a.fetched_at)) from articles a where a.story_id = "
            "i.story_id), (select min(l.at) from leadership_acknowledgements l where l.incident_id = i.id) "
            "from incidents i where i.id = :i"), {"i": case["id"]}).one()
        measured = (datetime.fromisoformat(acked) - datetime.fromisoformat(first_post)).total_seconds() / 60
        assert abs(measured - minutes) < 0.1
    engine.dispose()
    verify_env = {**env, "YUQING_DATABASE_URL": f"sqlite:///{db}"}
    verify = subprocess.run([str(YUQING), "audit", "verify"], env=verify_env, capture_output=True, text=True,
                            timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
