"""End to end: ``yuqing demo --headless`` plays the whole crisis through every real stage and reports it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
YUQING = Path(sys.executable).parent / "yuqing"


def test_headless_demo_opens_one_level_I_incident_for_the_outlet(tmp_path):
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("YUQING_DATABASE_URL", None)
    proc = subprocess.run([str(YUQING), "demo", "--headless", "--speed", "2000"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) == {"articles", "mentions", "stories", "alerts", "incidents", "notifications"}
    # the crawl saw the whole simulated internet, distractors included, and kept only the bank's mentions
    assert summary["articles"] > summary["mentions"] / 2 > 0
    assert summary["stories"] >= 1 and summary["alerts"] >= 1
    outlet_incidents = [i for i in summary["incidents"] if i["unit"] == "xinhualu"]
    assert len(outlet_incidents) == 1, summary["incidents"]  # one incident for the story, not one per repost
    assert outlet_incidents[0]["level"] == "I"
    assert outlet_incidents[0]["tasks"] >= 5
    assert summary["notifications"] >= 3
    assert (tmp_path / "demo.db").exists()
