"""End to end: ``yuqing demo --headless`` plays the whole crisis through every real stage and reports it; nobody
acts. The ``--respond`` demo, where the people act, is tests/e2e/test_demo_headless_respond.py: a file of its own,
so that under ``--dist loadfile`` the two long demos run on two workers at once instead of one after the other."""

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
