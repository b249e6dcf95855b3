"""Display helpers, on plain values: Shanghai times, countdowns, safe links, factor tables, source health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api import present

NOW = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)


def test_times_are_shown_in_shanghai_to_the_minute():
    assert present.local_time(NOW) == "2026-11-23 17:05"
    assert present.local_time(datetime(2026, 11, 23, 16, 30, tzinfo=UTC)) == "2026-11-24 00:30"
    assert present.local_time(None) == ""


def test_countdown_before_and_after_the_deadline():
    assert present.countdown(NOW + timedelta(minutes=4, seconds=30), NOW) == present.Countdown("剩余 4分30秒", False)
    assert present.countdown(NOW - timedelta(hours=2, minutes=5), NOW) == present.Countdown("已超时 2小时5分", True)
    assert present.countdown(NOW + timedelta(days=1, hours=3), NOW).text == "剩余 1天3小时"
    assert present.countdown(None, NOW) is None


def test_safe_href_only_lets_absolute_http_links_through():
    assert present.safe_href("https://news.example.cn/a?b=1") == "https://news.example.cn/a?b=1"
    assert present.safe_href(" http://x.cn/ ") == "http://x.cn/"
    for bad in ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>", "vbscript:x", "//evil.cn",
                "/relative", "https://", "", None, "http://x.cn/\nSet-Cookie:"]:
        assert present.safe_href(bad) is None, bad


def test_factor_rows_in_a_stable_order_with_chinese_names():
    rows = present.factor_rows({"velocity": {"value": 1.23456, "reason": "近 1 小时新增互动 300"},
                                "polarity": {"value": 0.9, "reason": "负面"}, "custom": 2})
    assert [(r.key, r.label) for r in rows] == [("polarity", "负面程度"), ("velocity", "传播速度"),
                                                ("custom", "custom")]
    assert rows[1].value == 1.235 and rows[1].reason == "近 1 小时新增互动 300" and rows[2].reason == ""
    assert present.factor_rows(None) == []


def test_unknown_codes_never_leak_identifiers():
    assert present.label(present.SENTIMENT_LABELS, "weird") == "未知"
    assert present.category_name("made_up") == "其他"
    assert present.level_name(None) == "未分级" and present.level_colour("X") == "grey"


def test_every_factor_the_risk_score_writes_has_a_chinese_name():
    """A new factor (or a floor rule) must never reach the dashboard or a briefing as its English key."""
    import re
    from pathlib import Path

    import sentiment.risk

    source = Path(sentiment.risk.__file__).read_text(encoding="utf-8")
    written = set(re.findall(r'factors\["([a-z_]+)"\]', source)) | set(re.findall(r'"([a-z_]+)": _f\(', source))
    assert {"polarity", "floor", "stale", "trending"} <= written  # the scan itself still finds the factors
    assert written <= set(sentiment.risk.FACTOR_LABELS), written - set(sentiment.risk.FACTOR_LABELS)
    rows = present.factor_rows({"floor": {"value": 1.0, "reason": "触发分级规则（至少I级）：挤兑传言"}})
    assert rows[0].label == "保底分级规则"
