"""The reply clock (答复客户) keeps its record: a deadline already passed cannot be extended, new facts after a
missed deadline keep it missed (on the timeline and in the statistics), and a complaint that ends — after new facts
during mediation too — has no clock left running. Through ``yuqing complaint``.

A 一般 complaint received 2026-09-30 10:00 must be answered by 2026-10-15 10:00 (15 days)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from runner.cli import app
from tests.complaints.support import local
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.settings import load_settings

runner = CliRunner()


@pytest.fixture
def db(monkeypatch, tmp_path):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    engine = make_engine(load_settings().effective_database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(local(2026, 9, 30, 11, 0))


def run(clock, *args: str):
    return runner.invoke(app, ["complaint", *args], obj={"clock": clock})


def ok(clock, *args: str):
    result = run(clock, *args)
    assert result.exit_code == 0, result.output
    return result


def add(clock) -> str:
    out = ok(clock, "add", "--unit", "xinhualu", "--channel", "hotline", "--received-at",
             "2026-09-30T10:00:00+08:00", "--category", "opaque_fees", "--text", "年费多收", "--json")
    return str(json.loads(out.stdout)["id"])


def reply_clock(clock, cid: str) -> dict:
    view = json.loads(ok(clock, "show", cid, "--json").stdout)
    return next(k for k in view["clocks"] if k["key"] == "reply")


def stats(clock) -> dict:
    return json.loads(ok(clock, "stats", "--month", "2026-09", "--json").stdout)


def test_a_passed_reply_deadline_cannot_be_extended_and_new_facts_keep_it_missed(db, clock):
    cid = add(clock)
    clock.set(local(2026, 10, 16, 9, 0))  # a day after the reply deadline
    assert reply_clock(clock, cid)["state"] == "overdue"
    refused = run(clock, "extend", cid, "--days", "30", "--reason", "情况复杂")
    assert refused.exit_code == 1 and "不能再延期" in refused.stderr, refused.output
    assert reply_clock(clock, cid) | {"due": "2026-10-15T10:00:00+08:00", "state": "overdue"} == reply_clock(clock,
                                                                                                              cid)
    assert stats(clock)["on_time_counts"]["reply"]["overdue"] == 1

    ok(clock, "new-facts", cid, "--note", "客户补充了扣费短信")
    fresh = reply_clock(clock, cid)
    assert (fresh["due"], fresh["state"]) == ("2026-10-31T09:00:00+08:00", "running")
    events = json.loads(ok(clock, "show", cid, "--json").stdout)["events"]
    assert "已超时未答复，超时记录保留" in events[-1]["text"]
    # the missed deadline is still counted: one overdue reply clock, the new one still running
    counts = stats(clock)["on_time_counts"]["reply"]
    assert (counts["overdue"], counts["met"], counts["running"]) == (1, 0, 1)
    assert stats(clock)["on_time"]["reply"] == 0.0

    # in time, an extension is still possible for the new clock
    ok(clock, "extend", cid, "--days", "30", "--reason", "需调取录音")


def test_new_facts_during_mediation_leave_no_clock_running_once_the_complaint_ends(db, clock):
    cid = add(clock)
    ok(clock, "propose", cid, "--text", "按合同收费，不予退还")
    ok(clock, "answer", cid, "refused")
    ok(clock, "mediate", cid, "--kind", "调解", "--note", "消保委调解")
    clock.set(local(2026, 10, 9, 14, 0))
    ok(clock, "new-facts", cid, "--note", "客户提供了宣传单")
    refused = run(clock, "propose", cid, "--text", "退还年费")
    assert refused.exit_code == 1 and "调解/仲裁中" in refused.stderr
    clock.set(local(2026, 10, 12, 10, 0))
    ok(clock, "close", cid, "--note", "调解达成一致，退还年费")
    ok(clock, "visit", cid, "满意")
    view = json.loads(ok(clock, "show", cid, "--json").stdout)
    assert view["status"] == "visited"
    # no contact was recorded and the resolve deadline (10 October) had passed: late, not running nor overdue
    assert {k["key"]: k["state"] for k in view["clocks"]} == {"entry": "met", "contact": "late", "resolve": "late",
                                                              "reply": "met"}
    assert "计为答复客户、联系客户" in next(e["text"] for e in view["events"] if e["kind"] == "closed")
    clock.set(local(2026, 12, 1, 10, 0))  # long after: still nothing running or overdue
    counts = stats(clock)["on_time_counts"]
    assert all(counts[k]["running"] == 0 and counts[k]["overdue"] == 0 for k in counts), counts
    assert counts["reply"]["met"] == 2  # the first answer (replaced by the new facts) and the closing


def test_the_api_refuses_to_extend_a_passed_reply_deadline(bearer):
    from tests.complaints.web import WALK_IN

    api = bearer("liuqiang")  # the clock: 2026-09-30 11:00; received 5 September, the answer was due the 20th
    made = api.post("/api/v1/complaints", json={**WALK_IN, "received_at": "2026-09-05T10:00:00+08:00"})
    assert made.status_code == 201, made.text
    c = made.json()
    r = api.post(f"/api/v1/complaints/{c['id']}/steps/extend", json={"days": 30, "reason": "情况复杂"})
    assert r.status_code == 409, r.text
    assert "already passed" in r.json()["detail"]["message"]
    facts = api.post(f"/api/v1/complaints/{c['id']}/steps/new-facts", json={"note": "客户补充材料"})
    assert facts.status_code == 200, facts.text
    assert "超时记录保留" in facts.json()["events"][-1]["text"]
