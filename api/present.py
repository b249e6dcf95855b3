"""How things are shown to people: Chinese labels, Asia/Shanghai times, countdowns, safe links, source health.

Pure functions on plain values, shared by the JSON schemas (``level_name``…) and the dashboard templates, so the
API and the pages never disagree on what a code means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sentiment.risk import FACTOR_LABELS
from yuqing.categories import LEVEL_COLOURS, category_label, level_label

SHANGHAI = ZoneInfo("Asia/Shanghai")

SENTIMENT_LABELS = {"negative": "负面", "neutral": "中性", "positive": "正面"}
ALERT_STATUS_LABELS = {"open": "待确认", "acknowledged": "已确认", "dismissed": "误报"}
INCIDENT_STATUS_LABELS = {"open": "待确认", "acknowledged": "已确认", "responding": "处置中", "monitoring": "持续监测",
                          "closed": "已结案", "reviewed": "已复盘",
                          "merged": "已合并"}  # = incidents.lifecycle.STATUS_LABELS
TASK_STATUS_LABELS = {"todo": "待办", "done": "已完成", "not_applicable": "不适用"}
CHANNEL_LABELS = {"news": "新闻", "social": "社交媒体", "complaint": "投诉平台", "regulator": "监管",
                  "trending": "热榜"}
CLOCK_LABELS = {"ack": "确认时限", "leadership": "领导知悉", "initial_report": "初报", "update_report": "续报",
                "final_report": "终报", "review": "复盘"}



def local_time(value: datetime | None, tz: ZoneInfo = SHANGHAI) -> str:
    """``2026-11-23 17:05`` in the display time zone; empty for None."""
    if value is None:
        return ""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def duration_text(seconds: float) -> str:
    """A short Chinese duration: 45秒, 4分30秒, 2小时5分, 3天2小时."""
    s = int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes}分"
    if minutes:
        return f"{minutes}分{secs}秒"
    return f"{secs}秒"


@dataclass(frozen=True)
class Countdown:
    text: str
    overdue: bool


def countdown(due: datetime | None, now: datetime) -> Countdown | None:
    """Time left until ``due`` (剩余 …) or past it (已超时 …)."""
    if due is None:
        return None
    left = (due - now).total_seconds()
    if left >= 0:
        return Countdown(f"剩余 {duration_text(left)}", False)
    return Countdown(f"已超时 {duration_text(left)}", True)


def level_name(level: str | None) -> str:
    return level_label(level)


def level_colour(level: str | None) -> str:
    return LEVEL_COLOURS.get(level or "", "grey")


def category_name(code: str | None) -> str:
    return category_label(code or "other")


def label(mapping: Mapping[str, str], code: str | None) -> str:
    """The Chinese label of ``code`` in ``mapping``; unknown codes become 未知 rather than leak an identifier."""
    return mapping.get(code or "", "未知")


def safe_href(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) link, else None: crawled links may be ``javascript:`` or worse."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    if any(ch in url for ch in "\r\n\t\x00"):
        return None
    return url


@dataclass(frozen=True)
class FactorRow:
    key: str
    label: str
    value: Any
    reason: str


def factor_rows(factors: Mapping[str, Any] | None) -> list[FactorRow]:
    """The "why this alert" table: each risk factor's Chinese name, value and reason, in a stable order."""
    if not factors:
        return []
    order = {k: i for i, k in enumerate(FACTOR_LABELS)}
    rows = []
    for key in sorted(factors, key=lambda k: (order.get(k, len(order)), str(k))):
        raw = factors[key]
        if isinstance(raw, Mapping):
            value, reason = raw.get("value"), str(raw.get("reason") or raw.get("why") or "")
        else:
            value, reason = raw, ""
        if isinstance(value, float):
            value = round(value, 3)
        rows.append(FactorRow(str(key), FACTOR_LABELS.get(str(key), str(key)), value, reason))
    return rows

