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
    assert set(summary) == {"articles", "mentions", "stories", "alerts", "incidents", "notifications"}
    assert summary["articles"] > 500 and summary["mentions"] > 50
    assert summary["stories"] >= 1 and summary["alerts"] >= 1
    outlet_incidents = [i for i in summary["incidents"] if i["unit"] == "xinhualu"]
    assert len(outlet_incidents) == 1, summary["incidents"]  # one incident for the story, not one per repost
    assert outlet_incidents[0]["level"] == "I"
    assert outlet_incidents[0]["tasks"] >= 5
    assert summary["notifications"] >= 3

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
