"""Notification wording: subject and body in Chinese, plain text, built from plain values.

Everything that came from the web (titles, factor explanations) is treated as untrusted text: control characters
are stripped and subjects are folded onto one line (no header injection), but nothing is HTML-escaped here —
bodies are text/plain, and the dashboard escapes at render time.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from incidents.levels import level_title
from yuqing.categories import category_label

TOP_FACTORS = 3
_WS = re.compile(r"\s+")
CHANNEL_LABELS = {"news": "新闻媒体", "social": "社交媒体", "complaint": "投诉平台", "regulator": "监管网站",
                  "trending": "热搜榜单"}


def plain_line(text: object, limit: int = 120) -> str:
    """One line of untrusted text: no control characters, whitespace collapsed, cut to ``limit`` characters."""
    return _plain_line(text, limit) if isinstance(text, str) else _plain_line(str(text or ""), limit)


@lru_cache(maxsize=4096)
def _plain_line(text: str, limit: int) -> str:
    """``plain_line`` of a string, remembered: the scheduled round labels every open task and clock of every
    running case with it on every round, one character lookup at a time."""
    s = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    s = _WS.sub(" ", s).strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def check_placeholders(template: str, known: Iterable[str]) -> str:
    """``template`` if every ``{name}`` in it is one of ``known``; a ValueError naming the unknown ones (or the broken
    brace syntax) otherwise — what a config validator reports for a Chinese text template."""
    known = tuple(known)
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"bad placeholder syntax ({exc}); write a literal brace as {{{{ or }}}}") from None
    unknown = sorted(names - set(known))
    if unknown:
        raise ValueError(f"unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
                         f"known: {', '.join('{' + n + '}' for n in known)}")
    return template


def top_factors(factors: Mapping[str, object], n: int = TOP_FACTORS) -> list[tuple[str, float, str]]:
    """The ``n`` factors with the largest values as (name, value, reason); malformed entries are skipped."""
    rows: list[tuple[str, float, str]] = []
    for name, raw in (factors or {}).items():
        if not isinstance(raw, Mapping):
            continue
        try:
            value = float(raw.get("value", 0.0))
        except (TypeError, ValueError):
            continue
        rows.append((plain_line(name, 40), value, plain_line(raw.get("reason", ""), 160)))
    rows.sort(key=lambda r: r[1], reverse=True)
    return rows[:n]


def local_time(when: datetime | None, tz: str = "Asia/Shanghai") -> str:
    return when.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if when else "—"


def compose(*, purpose: str, level: str, unit_name: str, title: str, score: float, category: str,
            factors: Mapping[str, object], link: str, number: str | None = None, previous_level: str | None = None,
            deadline: datetime | None = None, tz: str = "Asia/Shanghai", note: str = "") -> tuple[str, str]:
    """(subject, body) for one notification. ``purpose``: alert, alert_reach (incidents.reach), escalation,
    incident_opened, level_changed, resurgence."""
    lt = level_title(level)
    head = {
        "alert": f"【舆情预警·{lt}】",
        "alert_reach": f"【舆情预警·{lt}·涉及本辖区】",
        "escalation": f"【预警未确认·逐级上报·{lt}】",
        "incident_opened": f"【舆情事件{number or ''}·{lt}】",
        "level_changed": f"【舆情事件{number or ''}升级：{level_title(previous_level or level)}→{lt}】",
        "resurgence": f"【舆情反弹·事件{number or ''}·{lt}】",
    }.get(purpose, f"【舆情通知·{lt}】")
    subject = plain_line(f"{head}{plain_line(unit_name, 40)}：{plain_line(title, 60)}", 160)
    lines = []
    if note:
        lines += [plain_line(note, 200), ""]
    if number:
        lines.append(f"事件编号：{number}")
    lines += [
        f"舆情等级：{lt}",
        f"涉事单位：{plain_line(unit_name, 80)}",
        f"标题：{plain_line(title, 200)}",
        f"风险类别：{category_label(category)}",
        f"风险分值：{score:.1f} / 100",
    ]
    tops = top_factors(factors)
    if tops:
        lines.append("主要风险因素：")
        lines += [f"  · {name}（{value:.2f}）：{reason}" if reason else f"  · {name}（{value:.2f}）"
                  for name, value, reason in tops]
    if deadline is not None:
        lines.append(f"请于 {local_time(deadline, tz)}（北京时间）前确认处理。")
    lines += [f"处理链接：{link}", "", "本消息由舆情应急系统自动发送，请勿直接回复。"]
    return subject, "\n".join(lines)
