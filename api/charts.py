"""Inline SVG charts of the workbench pages, drawn on the server (no JavaScript, no external resource).

Volume over time reuses the briefings' stacked bars (``incidents.briefings.charts``), so a page and a printed
briefing draw time the same way; the share charts (sentiment, source, unit heat) are horizontal stacked bars laid
out here in the same primitives and painted by the same ``to_svg``, which escapes every label (labels carry
crawled or configured names). The SVG uses presentation attributes only, never ``style``: the pages' CSP forbids
inline styles.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.briefings.charts import HEIGHT, WIDTH, Label, Line, Primitive, Rect, Series, stacked_bars, to_svg

SENTIMENT_COLOURS = {"负面": "#c0392b", "中性": "#7f8c8d", "正面": "#27ae60", "待分析": "#bdc3c7"}
PALETTE = ("#1f6fb2", "#e08a1e", "#6c4fa3", "#16a085", "#c0392b", "#7f8c8d", "#d4ac0d", "#2e86c1")
MAX_ROWS = 10


@dataclass(frozen=True)
class Segment:
    name: str
    value: int
    colour: str


@dataclass(frozen=True)
class BarRow:
    label: str
    segments: Sequence[Segment]

    @property
    def total(self) -> int:
        return sum(s.value for s in self.segments)


def horizontal_bars(*, title: str, rows: Sequence[BarRow], legend: Sequence[tuple[str, str]] = (),
                    empty_text: str = "当前筛选下无数据") -> list[Primitive]:
    """One bar per row (at most ``MAX_ROWS``, the largest first), split into coloured segments, count at the end."""
    rows = sorted(rows, key=lambda r: -r.total)[:MAX_ROWS]
    left, right, top = 150.0, 60.0, 56.0
    out: list[Primitive] = [Rect(0, 0, WIDTH, HEIGHT, "#ffffff"),
                            Label(16, 20, title, size=14, fill="#1a1a1a", bold=True)]
    x = 16.0
    for name, colour in legend:
        out += [Rect(x, 30, 10, 10, colour), Label(x + 14, 39, name, size=11)]
        x += 14 + 12 * len(name) + 18
    peak = max((r.total for r in rows), default=0)
    if not peak:
        out.append(Label(WIDTH / 2, HEIGHT / 2, empty_text, size=14, fill="#999999", anchor="middle"))
        return out
    slot = (HEIGHT - top - 8) / max(len(rows), 1)
    bar_h = min(18.0, slot * 0.7)
    plot_w = WIDTH - left - right
    for i, row in enumerate(rows):
        y = top + slot * i + (slot - bar_h) / 2
        label = row.label if len(row.label) <= 10 else row.label[:9] + "…"
        out.append(Label(left - 8, y + bar_h - 4, label, size=11, fill="#333333", anchor="end"))
        bx = left
        for seg in row.segments:
            if seg.value <= 0:
                continue
            w = plot_w * seg.value / peak
            out.append(Rect(bx, y, w, bar_h, seg.colour))
            bx += w
        out.append(Label(bx + 6, y + bar_h - 4, str(row.total), size=11, fill="#444444"))
    out.append(Line(left, top - 2, left, HEIGHT - 8, "#888888"))
    return out


def svg(primitives: Sequence[Primitive], description: str) -> str:
    return to_svg(primitives, description=description)


def time_buckets(first: datetime, last: datetime) -> tuple[str, list[datetime]]:
    """``hour`` buckets for up to three days, else ``day`` buckets (at most the last 90 days), as local starts."""
    if last - first <= timedelta(days=3):
        start = first.replace(minute=0, second=0, microsecond=0)
        n = int((last - start) / timedelta(hours=1)) + 1
        return "hour", [start + timedelta(hours=i) for i in range(n)]
    start = first.replace(hour=0, minute=0, second=0, microsecond=0)
    n = min(90, (last.date() - start.date()).days + 1)
    end = last.replace(hour=0, minute=0, second=0, microsecond=0)
    return "day", [end - timedelta(days=n - 1 - i) for i in range(n)]


def volume_chart(counts: dict[tuple[datetime, str], int], *, unit: str, buckets: list[datetime]) -> str:
    """Volume over time, stacked by sentiment; ``counts`` maps (local bucket start, sentiment name) to a count."""
    fmt = "%m-%d %H时" if unit == "hour" else "%m-%d"
    series = [Series(name, [counts.get((b, name), 0) for b in buckets], colour)
              for name, colour in SENTIMENT_COLOURS.items()]
    series = [s for s in series if any(s.values)] or series[:1]
    title = "信息量（按小时）" if unit == "hour" else "信息量（按天）"
    prims = stacked_bars(title=title, buckets=[b.strftime(fmt) for b in buckets], series=series,
                         empty_text="当前筛选下无数据")
    total = sum(counts.values())
    return svg(prims, f"{title}：共 {total} 条")


def share_chart(title: str, counts: dict[str, int], colours: dict[str, str] | None = None) -> str:
    """A share chart (sentiment, source): one bar per name with its count and percentage in the description."""
    total = sum(counts.values())
    rows = [BarRow(name, [Segment(name, n, (colours or {}).get(name, PALETTE[i % len(PALETTE)]))])
            for i, (name, n) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1]))]
    desc = "；".join(f"{name} {n} 条（{n / total:.0%}）" for name, n in counts.items()) if total else "无数据"
    return svg(horizontal_bars(title=title, rows=rows), f"{title}：{desc}")


def heat_chart(rows: dict[str, tuple[int, int]]) -> str:
    """Unit heat: per unit its mentions, the negative ones in red first."""
    bars = [BarRow(name, [Segment("负面", neg, SENTIMENT_COLOURS["负面"]),
                          Segment("其他", total - neg, "#95a5a6")]) for name, (total, neg) in rows.items()]
    desc = "；".join(f"{name} {t} 条（负面 {n}）" for name, (t, n) in rows.items()) or "无数据"
    return svg(horizontal_bars(title="单位热度（提及条数）", rows=bars,
                               legend=[("负面", SENTIMENT_COLOURS["负面"]), ("其他", "#95a5a6")]),
               f"单位热度：{desc}")


def spread_chart(points: Sequence[tuple[str, int, int]]) -> str:
    """A story's spread: per time bucket the articles first seen (bars) and the engagement observed (line)."""
    buckets = [p[0] for p in points]
    prims = stacked_bars(title="传播情况：新增报道（柱）与互动量（折线）", buckets=buckets,
                         series=[Series("新增报道", [p[1] for p in points], "#1f6fb2")], y_label="条数",
                         empty_text="暂无数据")
    engagement = [p[2] for p in points]
    peak = max(engagement, default=0)
    if peak and len(points) > 1:
        left, right, top, bottom = 52.0, 16.0, 56.0, 44.0
        plot_w, plot_h = WIDTH - left - right, HEIGHT - top - bottom
        slot = plot_w / len(points)
        coords = [(left + slot * i + slot / 2, top + plot_h - plot_h * v / peak) for i, v in enumerate(engagement)]
        prims += [Line(x1, y1, x2, y2, "#e08a1e", width=2.0)
                  for (x1, y1), (x2, y2) in itertools.pairwise(coords)]
        prims.append(Label(WIDTH - right, top - 6, f"互动量峰值 {peak}", size=10, fill="#e08a1e", anchor="end"))
    desc = f"共 {len(points)} 个时间段，新增报道 {sum(p[1] for p in points)} 条，互动量峰值 {peak}"
    return svg(prims, desc)

