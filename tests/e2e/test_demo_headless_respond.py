"""End to end: ``yuqing demo --headless --respond`` runs the case to its review, the people acting through the
product's own actions. A file of its own (the demo where nobody acts is tests/e2e/test_demo_headless.py) so that
under ``--dist loadfile`` the two long demos run on two workers at once."""

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
                "first_leader_ack_minutes_after_first_post"}  # as in test_demo_headless.py: the summary's keys


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
