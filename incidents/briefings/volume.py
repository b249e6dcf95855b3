"""Volume over time: items counted per time bucket and source type, and the chart of it with level changes marked.

Buckets are whole hours, or wider (2, 3, 6, 12 hours, a day) so a span never needs more than 48 bars; labels are
local time (Asia/Shanghai).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.briefings import charts
from incidents.briefings.citations import CHANNEL_LABELS, CHANNEL_ORDER
from incidents.briefings.document import SHANGHAI, Figure
from incidents.briefings.gather import Item

_WIDTHS = (timedelta(hours=1), timedelta(hours=2), timedelta(hours=3), timedelta(hours=6), timedelta(hours=12),
           timedelta(days=1))
MAX_BUCKETS = 48


@dataclass(frozen=True)
class Buckets:
    start: datetime  # aware, local midnight- or hour-aligned
    width: timedelta
    labels: list[str]
    counts: dict[str, list[int]]  # channel -> count per bucket
    negative: list[int]

    @property
    def totals(self) -> list[int]:
        return [sum(c[i] for c in self.counts.values()) for i in range(len(self.labels))]

    def position(self, at: datetime) -> float:
        """Fractional bucket index of a moment (for markers)."""
        return (at - self.start) / self.width


def bucket_items(items: Sequence[Item], start: datetime, end: datetime, *, width: timedelta | None = None) -> Buckets:
    """Count ``items`` in [start, end) per bucket and channel; the width is chosen when not given."""
    span = max(end - start, timedelta(hours=1))
    if width is None:
        width = next((w for w in _WIDTHS if span / w <= MAX_BUCKETS), _WIDTHS[-1])
    local = start.astimezone(SHANGHAI)
    if width >= timedelta(days=1):
        aligned = local.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        hours = int(width.total_seconds() // 3600)
        aligned = local.replace(hour=local.hour - local.hour % hours, minute=0, second=0, microsecond=0)
    n = max(1, -(-(end - aligned) // width))
    counts = {ch: [0] * n for ch in CHANNEL_ORDER}
    negative = [0] * n
    for item in items:
        k = int((item.at - aligned) // width)
        if 0 <= k < n:
            counts.setdefault(item.channel, [0] * n)[k] += 1
            if item.label == "negative":
                negative[k] += 1
    labels = []
    for k in range(n):
        t = aligned + width * k
        if width >= timedelta(days=1):
            labels.append(t.strftime("%m-%d"))
        elif n > 24 or (aligned + width * (n - 1)).date() != aligned.date():
            labels.append(t.strftime("%d日%H时"))
        else:
            labels.append(t.strftime("%H时"))
    return Buckets(start=aligned, width=width, labels=labels, counts=counts, negative=negative)


def volume_figure(buckets: Buckets, *, title: str, caption: str,
                  level_marks: Sequence[tuple[datetime, str, str]] = ()) -> Figure:
    """The stacked-bar chart of ``buckets``; ``level_marks`` are (moment, label, level) drawn as dashed lines."""
    series = [charts.Series(CHANNEL_LABELS.get(ch, ch), buckets.counts[ch],
                            charts.CHANNEL_COLOURS.get(CHANNEL_LABELS.get(ch, ch), "#7f8c8d"))
              for ch in buckets.counts if any(buckets.counts[ch]) or ch in ("news", "social")]
    markers = [charts.Marker(max(0.0, min(buckets.position(at), float(len(buckets.labels)))), label,
                             charts.LEVEL_COLOURS.get(level, "#555555")) for at, label, level in level_marks]
    primitives = charts.stacked_bars(title=title, buckets=buckets.labels, series=series, markers=markers)
    total = sum(buckets.totals)
    parts = [f"{s.name}{sum(s.values)}条" for s in series if sum(s.values)]
    alt = (f"共{total}条（{'、'.join(parts)}）" if total else "本期无数据") + (
        "；" + "、".join(f"{label}（{at.astimezone(SHANGHAI):%m-%d %H:%M}）" for at, label, _ in level_marks)
        if level_marks else "")
    return Figure(caption=caption, alt=alt, primitives=primitives)
