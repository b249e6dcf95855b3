"""Reading backtest files: every bad line is named by number and field; times without a zone are Beijing time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from runner.backtest.input import BacktestInputError, in_replay_order, read_lines


def line(**fields) -> str:
    return json.dumps({"id": "a1", "published_at": "2026-03-10T08:40:00", "text": "示例银行", **fields},
                      ensure_ascii=False)


def test_a_time_without_a_zone_is_beijing_time_and_a_zone_is_kept():
    good, _ = read_lines([line(), line(id="a2", published_at="2026-03-10T08:40:00Z")])
    assert good[0].item.published_at == datetime(2026, 3, 10, 0, 40, tzinfo=UTC)
    assert good[1].item.published_at == datetime(2026, 3, 10, 8, 40, tzinfo=UTC)


def test_only_id_time_and_title_or_text_are_required_and_the_defaults_are_news():
    good, _ = read_lines([json.dumps({"id": 7, "published_at": "2026-03-10T08:40:00+08:00", "title": "标题"})])
    item = good[0].item
    assert (item.id, item.source_type, item.channel, item.effective_authority) == ("7", "news", "news",
                                                                                    "local_media")
    assert item.effective_url.startswith("https://backtest.invalid/news/7")


@pytest.mark.parametrize(("fields", "field_named"), [
    ({"published_at": "yesterday"}, "published_at"),
    ({"source_type": "tiktok"}, "source_type"),
    ({"reposts": -3}, "reposts"),
    ({"repost": 3}, "repost"),  # a typo is refused, not silently ignored
    ({"text": "", "title": ""}, "title or text is required"),
    ({"source_type": "trending", "title": "示例银行挤兑"}, "needs its rank"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"observed_at": "2026-03-10T08:00:00"}, "observed_at is earlier"),
])
def test_a_bad_line_stops_the_read_naming_its_number_and_field(fields, field_named):
    with pytest.raises(BacktestInputError) as err:
        read_lines([line(), "", line(id="a3", **fields)], where="f.jsonl")
    assert "f.jsonl:3:" in str(err.value)
    assert field_named in str(err.value)


def test_a_line_that_is_not_json_names_its_line():
    with pytest.raises(BacktestInputError, match=r"in\.jsonl:2: not a JSON object"):
        read_lines([line(), "{broken"], where="in.jsonl")


def test_skip_bad_keeps_the_good_lines_and_reports_each_skipped_one():
    good, bad = read_lines([line(), "[1, 2]", line(id="a2", reposts="many"), line(id="a3")], skip_bad=True)
    assert [g.item.id for g in good] == ["a1", "a3"]
    assert [b.number for b in bad] == [2, 3]
    assert "expected a JSON object" in bad[0].message and "reposts" in bad[1].message


def test_replay_order_is_by_observation_time_then_file_order():
    good, _ = read_lines([
        line(id="late", published_at="2026-03-10T10:00:00"),
        line(id="repoll", observed_at="2026-03-10T09:30:00", reposts=900),
        line(id="early", published_at="2026-03-10T08:00:00"),
        line(id="same", published_at="2026-03-10T10:00:00"),
    ])
    assert [ln.item.id for ln in in_replay_order(good)] == ["early", "repoll", "late", "same"]
