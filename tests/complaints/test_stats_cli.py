"""``yuqing complaint stats --month YYYY-MM [--json]`` on a real (SQLite) database: the keys external checks read
(counts by unit, channel, category and severity; on-time rates per clock), the same figures as month_stats, the
Chinese summary, scope with --as and --unit, and a bad month refused in Chinese."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from incidents.complaints.config import load_complaints_config
from incidents.complaints.stats import month_stats
from incidents.workdays import calendar_for
from runner.cli import app
from yuqing.clock import FrozenClock
from yuqing.settings import PROJECT_ROOT

runner = CliRunner()
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 10, 12, 12, 0, tzinfo=SH))


@pytest.fixture
def db(cli_db):
    assert runner.invoke(app, ["user", "seed", "--password", "Stats-cli-pass-2026"]).exit_code == 0
    return cli_db


def cli(clock, *args: str):
    return runner.invoke(app, ["complaint", *args], obj={"clock": clock})


def add(clock, *, unit: str, channel: str, severity: str, received: str, category: str = "service_attitude",
        phone: str = "13800000000") -> int:
    r = cli(clock, "add", "--unit", unit, "--channel", channel, "--severity", severity, "--received-at", received,
            "--category", category, "--text", "投诉内容", "--customer", "李四", "--phone", phone, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["id"]


def test_stats_json_keys_and_figures(db, clock):
    # 30 Sep 10:00 (September: not counted in October), then three October complaints
    add(clock, unit="xinhualu", channel="walk_in", severity="一般", received="2026-09-30T10:00:00+08:00")
    first = add(clock, unit="xinhualu", channel="walk_in", severity="一般", received="2026-10-09T10:00:00+08:00")
    add(clock, unit="guangminglu", channel="hotline", severity="重要", received="2026-10-10T09:00:00+08:00",
        category="opaque_fees", phone="13900000000")
    add(clock, unit="gaoxin", channel="letter", severity="紧急", received="2026-10-11T20:00:00+08:00",
        phone="13700000000")
    assert cli(clock, "ack", str(first), "--how", "当面").exit_code == 0  # contact met for the first
    r = cli(clock, "stats", "--month", "2026-10", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["by"] == {"unit": {"gaoxin": 1, "guangminglu": 1, "xinhualu": 1},
                       "channel": {"hotline": 1, "letter": 1, "walk_in": 1},
                       "category": {"service_attitude": 2, "opaque_fees": 1},
                       "severity": {"general": 1, "important": 1, "urgent": 1}}
    # all typed in on 12 Oct 12:00: entry met only for the letter (received 11 Oct 20:00), late for the others;
    # contact: the first acknowledged in person now (late: due 11 Oct 10:00), the hotline one overdue (due 12 Oct
    # 09:00), the letter's running; resolve: all still running (the 紧急 one's 24 h end at 20:00) — no rate yet
    assert s["on_time"] == {"entry": 0.3333, "contact": 0.0, "resolve": None, "reply": None}
    assert s["total"] == 3 and s["repeat_complaints"] == 1  # the same phone as on 30 September
    with db() as session:
        direct = month_stats(session, month="2026-10", cfg=load_complaints_config(PROJECT_ROOT / "config" /
                                                                                  "complaints.yaml"),
                             tz="Asia/Shanghai", calendar=calendar_for(PROJECT_ROOT / "config" / "holidays.yaml"),
                             now=clock.now())
    assert s == direct
    human = cli(clock, "stats", "--month", "2026-10")
    assert human.exit_code == 0
    assert "2026-10 投诉 3 件" in human.stdout and "按渠道：" in human.stdout and "临柜/上门 1" in human.stdout
    assert "按时率：录入 33.3%  联系客户 0.0%  办结 -" in human.stdout and "目标 ≤ 7 天" in human.stdout


def test_stats_scope_and_a_bad_month(db, clock):
    add(clock, unit="xinhualu", channel="walk_in", severity="一般", received="2026-10-09T10:00:00+08:00")
    add(clock, unit="guangminglu", channel="hotline", severity="重要", received="2026-10-10T09:00:00+08:00")
    outlet = json.loads(cli(clock, "stats", "--month", "2026-10", "--as", "huangwei", "--json").stdout)
    assert outlet["total"] == 1 and outlet["by"]["unit"] == {"xinhualu": 1}
    # guangminglu and the outlets under it (xinhualu is one of them)
    below = json.loads(cli(clock, "stats", "--month", "2026-10", "--unit", "guangminglu", "--json").stdout)
    assert below["total"] == 2
    bad = cli(clock, "stats", "--month", "2026/10")
    assert bad.exit_code != 0 and "月份格式" in bad.output
