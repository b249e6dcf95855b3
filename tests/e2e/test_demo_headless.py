"""End to end: ``yuqing demo --headless`` plays the whole crisis through every real stage and reports it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.e2e
YUQING = Path(sys.executable).parent / "yuqing"


def test_headless_demo_opens_one_level_I_incident_for_the_outlet(tmp_path):
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("YUQING_DATABASE_URL", None)
    proc = subprocess.run([str(YUQING), "demo", "--headless", "--speed", "1500"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) == {"articles", "mentions", "stories", "alerts", "incidents", "notifications", "deliveries"}
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
    assert {"in_app", "email", "wecom"} <= set(summary["deliveries"])  # the sim's WeCom robot confirmed them

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
    engine.dispose()


def test_headless_demo_with_respond_runs_the_case_to_its_review(tmp_path):
    """``--respond``: the commander, legal and a branch leader act through the product's own actions; the case
    ends reviewed with every report, a published statement, no overdue clock, deliveries on three channels or
    more, and an intact audit chain."""
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("YUQING_DATABASE_URL", None)
    proc = subprocess.run([str(YUQING), "demo", "--headless", "--respond", "--speed", "3000"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) == {"articles", "mentions", "stories", "alerts", "incidents", "notifications", "deliveries"}
    [case] = [i for i in summary["incidents"] if i["unit"] == "xinhualu"]
    assert case["status"] == "reviewed" and case["reviewed"] is True
    assert set(case["reports"]) == {"initial", "follow_up", "final"}
    assert case["statements_published"] >= 1
    assert case["overdue_clocks"] == 0
    assert "I" in case["level_history"] and case["level_history"][-1] != "I"  # raised to I, lowered as it faded
    channels = {c for c, n in summary["deliveries"].items() if n > 0}
    assert len(channels) >= 3 and {"in_app", "email", "wecom"} <= channels

    db = tmp_path / "demo.db"
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        actors = {row[0] for row in conn.execute(text(
            "select distinct actor from timeline_events where incident_id = :i"), {"i": case["id"]})}
        assert {"liuqiang", "qianyu", "chenjing"} <= actors  # the people, each under their own name
        leader_acks = conn.execute(text("select count(*) from leadership_acknowledgements where leader_id = "
                                        "'chenjing'")).scalar()
        assert leader_acks == 1
    engine.dispose()
    verify_env = {**env, "YUQING_DATABASE_URL": f"sqlite:///{db}"}
    verify = subprocess.run([str(YUQING), "audit", "verify"], env=verify_env, capture_output=True, text=True,
                            timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
