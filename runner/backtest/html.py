"""``--html``: one self-contained page — the volume curve (new items per hour) with the decisions marked on it.

Inline SVG and CSS only: no script, no external file, so the page opens anywhere and can be mailed. Every text
taken from the input or the database (titles, units, ids) is escaped; the page is in Chinese for bank staff.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from runner.backtest.input import Line

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 960, 320, 50, 20, 20, 40
MARKS = {  # decision → (colour, label); decisions not listed are in the table only
    "alert_opened": ("#d97706", "预警"),
    "alert_level_changed": ("#b45309", "预警升级"),
    "incident_opened": ("#dc2626", "立案"),
    "level_changed": ("#7f1d1d", "事件升级"),
    "escalated": ("#7c3aed", "逐级上报"),
    "task_overdue": ("#475569", "超时"),
}
LABELS = {**{k: v[1] for k, v in MARKS.items()}, "notification": "通知已发出", "reminder": "到期提醒",
          "group_unacknowledged": "报告链未确认", "resurgence": "舆情反弹", "complaint_linked": "关联投诉",
          "playbook_added": "追加处置清单", "risk_rose_after_close": "结案后风险上升"}


def hourly_volume(lines: list[Line], tz: ZoneInfo) -> list[tuple[datetime, int]]:
    """Distinct items per hour in which each first entered the replay (its first ``observed_at``, else its publish
    time; local time), every hour of the span (zeros included). Entry, not publication: a file may carry items
    published weeks before the replay starts, observed at its start."""
    first: dict[str, datetime] = {}
    for ln in lines:
        at = ln.item.at
        if ln.item.id not in first or at < first[ln.item.id]:
            first[ln.item.id] = at
    if not first:
        return []
    hours = Counter(t.astimezone(tz).replace(minute=0, second=0, microsecond=0) for t in first.values())
    t, last = min(hours), max(hours)
    out = []
    while t <= last:
        out.append((t, hours.get(t, 0)))
        t += timedelta(hours=1)
    return out


def render(result: dict[str, Any], lines: list[Line], *, tz: str = "Asia/Shanghai", title: str = "") -> str:
    zone = ZoneInfo(tz)
    volume = hourly_volume(lines, zone)
    decisions = result["decisions"]
    times = [t for t, _ in volume] + [datetime.fromisoformat(d["at"]) for d in decisions]
    lo = min(times) if times else datetime.now(zone)
    hi = max(times) if times else lo
    hi = max(hi, lo + timedelta(hours=1))
    peak = max((c for _, c in volume), default=1) or 1
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def x(t: datetime) -> float:
        return PAD_L + plot_w * ((t - lo) / (hi - lo))

    def y(c: float) -> float:
        return PAD_T + plot_h * (1 - c / peak)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="每小时条目数与系统决策">',
             f'<line x1="{PAD_L}" y1="{PAD_T + plot_h}" x2="{WIDTH - PAD_R}" y2="{PAD_T + plot_h}" stroke="#999"/>',
             f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{PAD_T + plot_h}" stroke="#999"/>',
             f'<text x="{PAD_L - 6}" y="{PAD_T + 4}" text-anchor="end" font-size="11">{peak}</text>',
             f'<text x="{PAD_L - 6}" y="{PAD_T + plot_h}" text-anchor="end" font-size="11">0</text>']
    if volume:
        bar = max(1.0, plot_w * (timedelta(hours=1) / (hi - lo)) - 1)
        for t, c in volume:
            if c:
                parts.append(f'<rect x="{x(t):.1f}" y="{y(c):.1f}" width="{bar:.1f}" '
                             f'height="{PAD_T + plot_h - y(c):.1f}" fill="#93c5fd"><title>'
                             f'{escape(t.strftime("%m-%d %H:00"))}：{c} 条</title></rect>')
    for d in decisions:
        if d["decision"] not in MARKS:
            continue
        colour, label = MARKS[d["decision"]]
        px = x(datetime.fromisoformat(d["at"]))
        tip = f"{label} {d.get('level') or ''}级 {d['at']}（事件 {d['incident'] or '—'}，预警 {d['alert'] or '—'}）"
        parts.append(f'<line x1="{px:.1f}" y1="{PAD_T}" x2="{px:.1f}" y2="{PAD_T + plot_h}" stroke="{colour}" '
                     f'stroke-width="1.5"><title>{escape(tip)}</title></line>')
    for frac in (0, 0.25, 0.5, 0.75, 1):
        t = lo + (hi - lo) * frac
        parts.append(f'<text x="{x(t):.1f}" y="{HEIGHT - 18}" text-anchor="middle" font-size="11">'
                     f'{escape(t.strftime("%m-%d %H:%M"))}</text>')
    parts.append("</svg>")
    legend = "".join(f'<span class="k" style="border-color:{c}">{escape(lbl)}</span>' for c, lbl in MARKS.values())
    rows = "".join(
        f"<tr><td>{escape(d['at'])}</td><td>{escape(LABELS.get(d['decision'], d['decision']))}</td>"
        f"<td>{escape(str(d['level'] or ''))}</td><td>{escape(str(d['incident'] or ''))}</td>"
        f"<td>{escape(str(d['alert'] or ''))}</td><td>{escape(', '.join(d['items'][:12]))}"
        f"{escape(' …' if len(d['items']) > 12 else '')}</td></tr>" for d in decisions)
    s = result["summary"]
    incidents = "".join(
        f"<li>{escape(str(i['number']))}（{escape(str(i['unit']))}）：{escape(str(i['title']))} — 等级 "
        f"{escape(' → '.join(h['level'] for h in i['level_history']))}，立案 {escape(str(i['opened_at']))}</li>"
        for i in s["incidents"])
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>回测报告 {escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;color:#222}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}}
.k{{border-left:4px solid;padding:0 8px;margin-right:10px;font-size:13px}}svg{{max-width:100%;height:auto}}</style>
</head><body>
<h1>回测报告 {escape(title)}</h1>
<p>条目 {s['items']} 条，提及 {s['mentions']} 次，预警 {s['alerts']} 条，事件 {len(s['incidents'])} 起；
回放 {escape(str(s['replay']['start']))} 至 {escape(str(s['replay']['end']))}，共 {s['replay']['rounds']} 轮。</p>
<h2>每小时条目数与系统决策</h2>
<p>{legend}</p>
{''.join(parts)}
<h2>事件</h2><ul>{incidents or '<li>无</li>'}</ul>
<h2>决策</h2>
<table><tr><th>时间</th><th>决策</th><th>等级</th><th>事件</th><th>预警</th><th>相关条目</th></tr>{rows}</table>
</body></html>
"""
