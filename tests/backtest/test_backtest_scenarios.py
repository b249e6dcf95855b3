"""Historical-style scenarios replayed with ``yuqing backtest`` (the model classifies): what a competent monitor
would expect yuqing to have decided, asserted on the decisions it printed.

``scenarios/run_rumour.jsonl`` — a rumour that 示例银行江城分行 is running out of money (a Weibo post, a forum
thread, a queue at 光明路支行, the bank's name on the Weibo hot list, a headline-only local report without reach
counts), denied by the branch and the police within two hours; the same morning 北岸银行 has a run of its own,
on the same street name, on the hot list and in national news.

``scenarios/mis_selling.jsonl`` — insurance sold as deposits to elderly customers of 滨江支行, told over three
weeks: complaints days apart, a forum thread, a Weibo post with re-polls, then the local paper and a provincial
report that the regulator is investigating; in the same weeks 东岭银行's own mis-selling story is in national news.

Items not about the bank are labelled ``"expect": "noise"`` in the files, items about it ``"expect": "bank"``.
Each scenario is one event, so a monitor expects one story: one alert and one incident that takes every telling
and is raised as the event grows (story clustering, ``crawlers.stories`` rules 4–6 and docs/stories.md). Where
yuqing does not yet do what a monitor would expect, the expectation is kept as a strict xfail that says what
happens instead, so the gap stays visible and the test flips when it is closed.
"""

from __future__ import annotations

import json
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app

SCENARIOS = Path(__file__).parent / "scenarios"
HIGH = ("I", "II")


def replay(name: str, tmp: Path) -> tuple[list[dict], dict, set[str]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("YUQING_DATA_DIR", str(tmp))
        mp.delenv("YUQING_DATABASE_URL", raising=False)
        result = CliRunner().invoke(app, ["backtest", "--input", str(SCENARIOS / name)])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    noise = {json.loads(x)["id"] for x in (SCENARIOS / name).read_text(encoding="utf-8").splitlines()
             if json.loads(x).get("expect") == "noise"}
    return rows[:-1], rows[-1]["summary"], noise


def bank_items(name: str) -> set[str]:
    """The ids of a scenario's items about the bank."""
    lines = [json.loads(x) for x in (SCENARIOS / name).read_text(encoding="utf-8").splitlines() if x.strip()]
    return {x["id"] for x in lines if x.get("expect") == "bank"}


def opened(decisions: list[dict]) -> list[tuple[str, datetime, list[str]]]:
    """Every alert or incident the replay opened: (decision, when, its items then)."""
    return [(d["decision"], at(d["at"]), d["items"]) for d in decisions
            if d["decision"] in ("alert_opened", "incident_opened")]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text if "+" in text else text + "+08:00")


def first(decisions: list[dict], kinds: tuple[str, ...], levels: tuple[str, ...] | None = None) -> datetime | None:
    for d in decisions:
        if d["decision"] in kinds and (levels is None or d["level"] in levels):
            return at(d["at"])
    return None


@pytest.fixture(scope="module")
def run_rumour(tmp_path_factory):
    return replay("run_rumour.jsonl", tmp_path_factory.mktemp("run-rumour"))


@pytest.fixture(scope="module")
def mis_selling(tmp_path_factory):
    return replay("mis_selling.jsonl", tmp_path_factory.mktemp("mis-selling"))


def test_run_rumour_alerts_at_once_opens_an_incident_and_reaches_level_ii_before_the_denial(run_rumour):
    decisions, summary, _noise = run_rumour
    rumour_posted = at("2026-03-10T08:40:00")
    assert first(decisions, ("alert_opened",)) - rumour_posted <= _minutes(30)
    assert first(decisions, ("incident_opened",)) - rumour_posted <= _minutes(60)
    high = first(decisions, ("alert_opened", "alert_level_changed", "incident_opened", "level_changed"), HIGH)
    assert high is not None and high < at("2026-03-10T10:10:00")  # before the branch's 情况说明
    # the branch, the sub-branch the queue is at, or head office (the hot-list entry names only the bank)
    assert {i["unit"] for i in summary["incidents"]} <= {"jiangcheng", "guangminglu", "head-office"}
    linked = {i for inc in summary["incidents"] for i in inc["items"]}
    assert {"rr-w1", "rr-w2"} <= linked  # the rumour post and the queue post are both handled as incidents
    assert "rr-w4" in linked  # the police's 辟谣 reaches the case it answers


def test_run_rumour_never_acts_on_the_other_banks_run(run_rumour):
    decisions, summary, noise = run_rumour
    assert noise == {"bn-w1", "bn-t1", "bn-n1", "bn-w2"}
    assert all(not (set(d["items"]) & noise) for d in decisions)
    assert all(not (set(a["items"]) & noise) for a in summary["alert_list"])


def test_run_rumour_is_one_incident(run_rumour):
    decisions, summary, _noise = run_rumour
    # The branch's rumour opens the one alert; the forum thread (the bank's name only) and the queue at 光明路支行
    # join it, and the incident opens for the branch. The hot-list title, the press and the denials join too.
    assert opened(decisions) == [("alert_opened", at("2026-03-10T08:40:00"), ["rr-w1"]),
                                 ("incident_opened", at("2026-03-10T09:05:00"), ["rr-w1", "rr-f1", "rr-w2"])]
    assert all(d["incident"] in (None, 1) and d["alert"] in (None, 1) for d in decisions)
    [incident] = summary["incidents"]
    [alert] = summary["alert_list"]
    assert incident["unit"] == alert["unit"] == "jiangcheng"  # the story keeps the unit it was founded at
    # rr-w3, the branch's 情况说明 posted from its own account, calls the bank only 我行: matching never sees it
    # as a mention, so it is in no story (not a clustering matter).
    assert set(incident["items"]) == set(alert["items"]) == bank_items("run_rumour.jsonl") - {"rr-w3"}
    levels = [h["level"] for h in incident["level_history"]]
    rank = ["IV", "III", "II", "I"].index
    assert all(rank(a) < rank(b) for a, b in pairwise(levels)) and levels[-1] == "I"  # raised, never split


def test_a_lone_calm_run_rumour_reaches_level_I_as_it_spreads(tmp_path):
    """``scenarios/calm_rumour.jsonl``: one calmly worded post (库存现金紧张 … 大额要预约才能取 … 转给家里人看看) and
    nothing else, re-polled as it spreads — 25 interactions at 09:30, 1,450 at 10:00, 9,900 at 10:30, 25,300 at
    11:00. The model reads it neutral; its run words and its spread must still take it to level I (the level
    table's "run rumour spread widely"), and not before it has spread."""
    decisions, summary, _noise = replay("calm_rumour.jsonl", tmp_path)
    assert first(decisions, ("alert_opened",)) == at("2026-03-12T09:30:00")
    assert first(decisions, ("alert_level_changed", "level_changed", "incident_opened"), ("I",)) == \
        at("2026-03-12T11:00:00")
    [incident] = summary["incidents"]
    assert incident["level"] == "I" and incident["unit"] == "jiangcheng" and incident["items"] == ["m1"]


def test_mis_selling_is_seen_from_the_first_complaint_and_raised_when_the_press_reports(mis_selling):
    decisions, summary, _noise = mis_selling
    first_alert = next(d for d in decisions if d["decision"] == "alert_opened")
    assert first_alert["items"] == ["ms-c1"] and at(first_alert["at"]) == at("2026-04-01T10:20:00")
    assert {a["unit"] for a in summary["alert_list"]} == {"binjiang"}
    # an incident by the end of the day the local paper reports it
    assert first(decisions, ("incident_opened",)) < at("2026-04-19T00:00:00")
    # level II or higher by the end of the day of the provincial report (regulator investigating)
    high = first(decisions, ("alert_opened", "alert_level_changed", "incident_opened", "level_changed"), HIGH)
    assert at("2026-04-22T09:00:00") <= high < at("2026-04-23T00:00:00")


def test_mis_selling_never_acts_on_the_other_banks_story(mis_selling):
    decisions, summary, noise = mis_selling
    assert noise == {"dl-n1", "dl-w1", "dl-c1", "dl-n2"}
    assert all(not (set(d["items"]) & noise) for d in decisions)
    assert summary["incidents"] and all(not (set(i["items"]) & noise) for i in summary["incidents"])


def test_mis_selling_is_one_incident_raised_by_the_provincial_report(mis_selling):
    decisions, summary, _noise = mis_selling
    # Complaints days apart are one slow story: one alert from the first complaint, one incident.
    assert [(kind, when) for kind, when, _items in opened(decisions)] == [
        ("alert_opened", at("2026-04-01T10:20:00")), ("incident_opened", at("2026-04-09T13:30:00"))]
    assert all(d["incident"] in (None, 1) and d["alert"] in (None, 1) for d in decisions)
    [incident] = summary["incidents"]
    [alert] = summary["alert_list"]
    assert incident["unit"] == alert["unit"] == "binjiang"
    assert set(incident["items"]) == set(alert["items"]) == bank_items("mis_selling.jsonl")
    # The provincial report (regulator investigating) raises the incident the complaints opened to level II.
    raised = [d for d in decisions if d["decision"] == "level_changed"]
    assert [(d["level"], at(d["at"])) for d in raised] == [("II", at("2026-04-22T09:00:00"))]
    assert "ms-n2" in raised[0]["items"]
    assert [h["level"] for h in incident["level_history"]] == ["III", "II"]


def _minutes(n: int):
    from datetime import timedelta

    return timedelta(minutes=n)
