"""``yuqing backtest`` from the command line: decisions as JSON lines read back from the pipeline's own records,
config overrides, bad input, the HTML page, the sweep table, and a database that is not empty.

These tests classify with ``--rules`` (the rule-based baseline, as a deployment without a model would) so the
mechanics are tested quickly; the scenario and sim tests replay with the model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from runner.cli import app

runner = CliRunner()

ITEMS = [
    {"id": "c1", "published_at": "2026-11-23T09:00:00", "source_type": "complaint",
     "title": "示例银行新华路网点拒绝老人取现5万元 <<投诉 & 维权",
     "text": "今天带父亲去示例银行新华路网点取5万元，柜员拒绝办理，态度很差，老人在大厅等了两个小时，太气人了。"},
    {"id": "w1", "published_at": "2026-11-23T09:20:00", "source_type": "weibo",
     "text": "示例银行新华路网点不让七旬老人取自己的钱！柜员态度恶劣，老人排队两小时还被拒，太寒心了",
     "reposts": 50, "comments": 20},
    {"id": "w1", "published_at": "2026-11-23T09:20:00", "observed_at": "2026-11-23T10:20:00", "source_type": "weibo",
     "text": "示例银行新华路网点不让七旬老人取自己的钱！柜员态度恶劣，老人排队两小时还被拒，太寒心了",
     "reposts": 3000, "comments": 1200},
    {"id": "n1", "published_at": "2026-11-23T11:00:00", "source_type": "news",
     "title": "老人到示例银行新华路网点取款被拒",
     "text": "记者了解到，示例银行江城分行新华路网点一位七旬老人取款5万元被拒，家属发布视频后引发关注。银行暂未回应。"},
    {"id": "x1", "published_at": "2026-11-23T09:30:00", "source_type": "news", "title": "江城地铁今天故障停运半小时",
     "text": "江城地铁2号线今天早高峰故障停运半小时。", "expect": "noise"},
]


def write(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path


def backtest(*args: str):
    return runner.invoke(app, ["backtest", "--rules", "--tail", "1", *args])


def parse(stdout: str) -> tuple[list[dict], dict]:
    lines = [json.loads(x) for x in stdout.splitlines() if x.startswith("{")]
    assert "summary" in lines[-1], "the last line is the summary"
    return lines[:-1], lines[-1]["summary"]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def items_replayed(tmp_path_factory):
    """One replay of ITEMS with the default options, read by every test that asserts on that same run (the
    replay is the expensive part; each test only reads its output)."""
    tmp = tmp_path_factory.mktemp("items-replayed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("YUQING_DATA_DIR", str(tmp / "data"))
        mp.delenv("YUQING_DATABASE_URL", raising=False)
        return backtest("--input", str(write(tmp / "in.jsonl", ITEMS)))


def test_decisions_come_out_in_time_order_with_the_items_behind_them(items_replayed):
    result = items_replayed
    assert result.exit_code == 0, result.stderr
    decisions, summary = parse(result.stdout)
    assert [d["at"] for d in decisions] == sorted(d["at"] for d in decisions)
    assert set(decisions[0]) >= {"at", "decision", "incident", "alert", "level", "items"}
    opened = [d for d in decisions if d["decision"] == "alert_opened"]
    assert opened and opened[0]["items"][0] == "c1" and opened[0]["at"].endswith("+08:00")
    # every decision about the story names only the story's items, never the unrelated one
    assert all("x1" not in d["items"] for d in decisions)
    assert summary["items"] == 4 and summary["lines"] == 5 and summary["alerts"] == len(opened)
    assert summary["replay"]["stored"] == {"new": 4, "updated": 1}  # the re-poll updated w1, no duplicate
    # notifications are messages the delivery code handed to a channel (recorded, never sent anywhere)
    told = [d for d in decisions if d["decision"] == "notification"]
    assert told and all(d["channels"] and d["recipients"] for d in told)
    assert summary["replay"]["messages_handed_to_channels"] >= len(told)


def test_an_incident_carries_its_level_history_and_the_ids_linked_to_it(items_replayed):
    result = items_replayed
    decisions, summary = parse(result.stdout)
    for inc in summary["incidents"]:
        assert inc["unit"] and inc["level_history"][0]["at"] == inc["opened_at"]
        assert set(inc["items"]) <= {"c1", "w1", "n1"}
        opened = [d for d in decisions if d["decision"] == "incident_opened" and d["incident"] == inc["id"]]
        assert len(opened) == 1 and opened[0]["level"] == inc["level_history"][0]["level"]
        changes = [d["level"] for d in decisions if d["decision"] == "level_changed" and d["incident"] == inc["id"]]
        assert changes == [h["level"] for h in inc["level_history"][1:]]


def test_a_bad_line_stops_the_run_naming_line_and_field_unless_skipped(data_dir):
    bad = [*ITEMS[:2], {"id": "w9", "published_at": "2026-11-23T09:40:00", "text": "示例银行", "reposts": "lots"}]
    path = write(data_dir / "bad.jsonl", bad)
    stopped = backtest("--input", str(path))
    assert stopped.exit_code == 2
    assert f"{path}:3: reposts" in stopped.stderr and stopped.stdout == ""
    skipped = backtest("--input", str(path), "--skip-bad")
    assert skipped.exit_code == 0
    assert f"{path}:3: reposts" in skipped.stderr
    _, summary = parse(skipped.stdout)
    assert summary["skipped_lines"] == [3] and summary["items"] == 2


def test_config_dir_overrides_only_the_files_it_holds(data_dir):
    cfg = data_dir / "cfg"
    cfg.mkdir()
    # a bank that alerts only on overwhelming stories: no alert at all on this small one
    (cfg / "risk.yaml").write_text("thresholds: {I: 99.9, II: 99.8, III: 99.7, IV: 99.6}\n", encoding="utf-8")
    result = backtest("--input", str(write(data_dir / "in.jsonl", ITEMS)), "--config", str(cfg))
    assert result.exit_code == 0, result.stderr
    decisions, summary = parse(result.stdout)
    assert summary["alerts"] == 0 and summary["incidents"] == []
    assert [d for d in decisions if d["alert"] or d["incident"]] == []
    # what is left is not about alerts: the complaint desk is told of the complaint-board post (its own clock)
    assert {d["purpose"] for d in decisions} <= {"complaint_reminder", "complaint_leadership", "complaint_overdue",
                                                 "daily_report", "weekly_report"}, decisions
    assert summary["mentions"] > 0  # org.yaml and keywords.yaml still came from the project's config


def test_html_page_is_self_contained_and_escapes_crawled_text(data_dir):
    page = data_dir / "out.html"
    result = backtest("--input", str(write(data_dir / "in.jsonl", ITEMS)), "--html", str(page))
    assert result.exit_code == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    assert "<svg" in html and "<rect" in html  # the volume curve
    assert "&lt;&lt;投诉 &amp; 维权" in html and "<<投诉" not in html  # the crawled title, escaped
    assert not re.search(r"(src|href)=\"?https?:", html)  # nothing external


def test_a_database_holding_data_is_refused(data_dir):
    from yuqing.db import make_engine, make_sessionmaker

    url = f"sqlite:///{data_dir / 'used.db'}"
    first = backtest("--input", str(write(data_dir / "in.jsonl", ITEMS)), "--db", url)
    assert first.exit_code == 0, first.stderr
    from incidents.models import Alert

    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        kept = session.scalars(select(Alert.id)).all()
    engine.dispose()
    again = backtest("--input", str(write(data_dir / "in.jsonl", ITEMS)), "--db", url)
    assert again.exit_code == 2 and "已有数据" in again.stderr
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        assert session.scalars(select(Alert.id)).all() == kept  # nothing added by the refused run
    engine.dispose()


def test_sweep_prints_a_row_per_setting(data_dir):
    sweep = data_dir / "sweep.yaml"
    sweep.write_text(
        "settings:\n"
        "  - name: 默认\n"
        "  - name: 迟钝\n"
        "    overrides:\n"
        "      risk.yaml: {thresholds: {I: 99.9, II: 99.8, III: 99.7, IV: 99.6}}\n", encoding="utf-8")
    result = backtest("--input", str(write(data_dir / "in.jsonl", ITEMS)), "--sweep", str(sweep))
    assert result.exit_code == 0, result.stderr
    rows = {json.loads(x)["sweep"]["setting"]: json.loads(x)["sweep"] for x in result.stdout.splitlines()
            if x.startswith('{"sweep"')}
    assert rows["默认"]["alerts"] >= 1 and rows["默认"]["first_alert_after"] == 0  # c1 is the first item
    assert rows["迟钝"]["alerts"] == 0 and rows["迟钝"]["first_alert_after"] is None
    assert rows["默认"]["false_incidents"] == 0
    table = result.stdout.split("\n", len(rows))[-1]
    assert "首次预警" in table and "迟钝" in table and "未发生" in table


def test_sweep_file_errors_name_the_file_and_field(data_dir):
    sweep = data_dir / "sweep.yaml"
    sweep.write_text("settings:\n  - name: x\n    overrides: {../org.yaml: {}}\n", encoding="utf-8")
    result = backtest("--input", str(write(data_dir / "in.jsonl", ITEMS)), "--sweep", str(sweep))
    assert result.exit_code == 2
    assert str(sweep) in result.stderr and "settings.0.overrides" in result.stderr


@pytest.mark.postgres
def test_replays_into_an_empty_postgresql_schema(data_dir, postgres_url):
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{postgres_url}?options=-csearch_path%3D{schema}"
        result = backtest("--input", str(write(data_dir / "in.jsonl", ITEMS)), "--db", url)
        assert result.exit_code == 0, result.stderr
        decisions, summary = parse(result.stdout)
        assert summary["alerts"] >= 1 and any(d["decision"] == "alert_opened" for d in decisions)
        again = backtest("--input", str(write(data_dir / "in.jsonl", ITEMS)), "--db", url)
        assert again.exit_code == 2 and "已有数据" in again.stderr
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
