"""The sim's scripted crisis, exported as a backtest file and replayed, decides what the live demo decided.

Reference: ``YUQING_DATA_DIR=/tmp/backtest-demo yuqing demo --headless`` (speed 120, the model classifying),
run once on 2026-12-06 on this tree; its last line was the summary
``{"articles": 652, …, "alerts": 2, "incidents": [{"id": 1, "level": "I", "unit": "xinhualu", …,
"level_history": ["III", "II", "I"], …}], …}`` — one incident at 新华路网点 raised III → II → I, and two alerts
(the crisis, and a level IV alert at head office on a background post about a credit-card fee). The demo crawls
the sim over HTTP with the real spiders; the backtest replays the same content from the file, so equal
decisions mean the file carries what the crawl saw and the replay runs the same stages.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from runner.cli import app

pytestmark = pytest.mark.e2e

DEMO_ARTICLES = 652
DEMO_ALERTS = 2
DEMO_INCIDENT_UNIT = "xinhualu"
DEMO_LEVEL_HISTORY = ["III", "II", "I"]
SCENARIO_END = "2026-11-23T21:00:00+08:00"  # sim.scenario.DEFAULT_START (09:00 Beijing) + the crisis's 12 hours


def test_sim_crisis_replayed_from_its_export_decides_as_the_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    runner = CliRunner()
    exported = tmp_path / "sim.jsonl"
    result = runner.invoke(app, ["backtest", "--export-sim", str(exported)])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(x) for x in exported.read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in records}) == DEMO_ARTICLES  # every item the sim serves, once per id
    noise = {r["id"] for r in records if r.get("expect") == "noise"}

    result = runner.invoke(app, ["backtest", "--input", str(exported), "--until", SCENARIO_END])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    decisions, summary = rows[:-1], rows[-1]["summary"]
    assert summary["items"] == DEMO_ARTICLES
    assert summary["alerts"] == DEMO_ALERTS
    assert [i["unit"] for i in summary["incidents"]] == [DEMO_INCIDENT_UNIT]
    incident = summary["incidents"][0]
    assert [h["level"] for h in incident["level_history"]] == DEMO_LEVEL_HISTORY
    assert {"c-xinhua-1", "w-root", "w-rumour", "n-xinhua-1"} <= set(incident["items"])
    assert not set(incident["items"]) & noise
    changes = [d["level"] for d in decisions if d["decision"] == "level_changed"]
    assert changes == DEMO_LEVEL_HISTORY[1:]
