"""Charts for the briefings: volume over time as stacked bars by source type, with level changes marked.

One layout (``stacked_bars`` → a list of drawing primitives in a 720×300 box) and two painters: ``to_svg`` for HTML
and PDF (WeasyPrint draws SVG, text in Noto Sans CJK) and ``to_png`` for Word (python-docx embeds pictures, not
SVG), painted with Pillow at twice the size in the Noto CJK font Debian's ``fonts-noto-cjk`` installs. Both come
from the same primitives, so the picture in the DOCX is the picture in the PDF.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 720, 300
FONT_FAMILY = "'Noto Sans CJK SC', 'Noto Sans CJK', 'Source Han Sans SC', sans-serif"
CHANNEL_COLOURS = {"新闻": "#1f6fb2", "社交媒体": "#e08a1e", "投诉平台": "#c0392b", "监管": "#6c4fa3"}
LEVEL_COLOURS = {"I": "#c0392b", "II": "#e67e22", "III": "#d4ac0d", "IV": "#2e86c1"}


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str
    width: float = 1.0
    dash: bool = False


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    size: float = 11
    fill: str = "#333333"
    anchor: str = "start"  # start | middle | end
    bold: bool = False


Primitive = Rect | Line | Label


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]
    colour: str


@dataclass(frozen=True)
class Marker:
    """A vertical line at a fractional bucket position (2.5 = the middle of the third bucket)."""

    position: float
    label: str
    colour: str


def stacked_bars(*, title: str, buckets: Sequence[str], series: Sequence[Series], markers: Sequence[Marker] = (),
                 y_label: str = "条数", empty_text: str = "本期无数据") -> list[Primitive]:
    """Lay out a stacked bar chart; every label is Chinese-ready text, escaped by the painters."""
    left, right, top, bottom = 52.0, 16.0, 56.0, 44.0
    plot_w, plot_h = WIDTH - left - right, HEIGHT - top - bottom
    out: list[Primitive] = [Rect(0, 0, WIDTH, HEIGHT, "#ffffff"),
                            Label(left, 20, title, size=14, fill="#1a1a1a", bold=True)]
    # legend
    x = left
    for s in series:
        out += [Rect(x, 30, 10, 10, s.colour), Label(x + 14, 39, s.name, size=11)]
        x += 14 + 12 * len(s.name) + 18
    n = max(len(buckets), 1)
    totals = [sum(s.values[i] for s in series) for i in range(len(buckets))]
    peak = max(totals, default=0)
    step = _nice_step(peak)
    ymax = max(step * math.ceil(peak / step), step) if peak else 1
    # axes and grid
    ticks = round(ymax / step) if peak else 1
    for k in range(ticks + 1):
        value = step * k if peak else 0
        y = top + plot_h - plot_h * (value / ymax if peak else 0)
        out.append(Line(left, y, left + plot_w, y, "#e3e3e3" if k else "#888888"))
        out.append(Label(left - 6, y + 4, f"{int(value)}", size=10, fill="#666666", anchor="end"))
        if not peak:
            break
    out.append(Label(12, top - 6, y_label, size=10, fill="#666666"))
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.7)
    for i in range(len(buckets)):
        y = top + plot_h
        for s in series:
            v = s.values[i]
            if v <= 0:
                continue
            h = plot_h * v / ymax
            y -= h
            out.append(Rect(left + slot * i + (slot - bar_w) / 2, y, bar_w, h, s.colour))
    every = max(1, math.ceil(len(buckets) / 12))
    for i, b in enumerate(buckets):
        if i % every == 0:
            out.append(Label(left + slot * i + slot / 2, top + plot_h + 16, b, size=10, fill="#444444",
                             anchor="middle"))
    for j, m in enumerate(markers):
        mx = left + slot * m.position
        out.append(Line(mx, top - 4, mx, top + plot_h, m.colour, width=1.5, dash=True))
        out.append(Label(mx + 3, top + 10 + 13 * (j % 3), m.label, size=10, fill=m.colour, bold=True))
    if not peak:
        out.append(Label(left + plot_w / 2, top + plot_h / 2, empty_text, size=14, fill="#999999", anchor="middle"))
    return out


def to_svg(primitives: Sequence[Primitive], *, description: str = "") -> str:
    """An SVG document (no script, no external reference): safe inline in HTML and in WeasyPrint."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
             f'role="img" font-family="{escape(FONT_FAMILY, {chr(34): "&quot;"})}">']
    if description:
        parts.append(f"<desc>{escape(description)}</desc>")
    for p in primitives:
        if isinstance(p, Rect):
            parts.append(f'<rect x="{p.x:.1f}" y="{p.y:.1f}" width="{p.w:.1f}" height="{p.h:.1f}" fill="{p.fill}"/>')
        elif isinstance(p, Line):
            dash = ' stroke-dasharray="5,4"' if p.dash else ""
            parts.append(f'<line x1="{p.x1:.1f}" y1="{p.y1:.1f}" x2="{p.x2:.1f}" y2="{p.y2:.1f}" '
                         f'stroke="{p.stroke}" stroke-width="{p.width}"{dash}/>')
        else:
            weight = ' font-weight="bold"' if p.bold else ""
            parts.append(f'<text x="{p.x:.1f}" y="{p.y:.1f}" font-size="{p.size}" fill="{p.fill}" '
                         f'text-anchor="{p.anchor}"{weight}>{escape(p.text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_png(primitives: Sequence[Primitive], *, scale: float = 2.0) -> bytes:
    """The same chart as a PNG (for DOCX), painted with Pillow in the Noto CJK font."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (int(WIDTH * scale), int(HEIGHT * scale)), "#ffffff")
    draw = ImageDraw.Draw(img)
    for p in primitives:
        if isinstance(p, Rect):
            draw.rectangle([p.x * scale, p.y * scale, (p.x + p.w) * scale, (p.y + p.h) * scale], fill=p.fill)
        elif isinstance(p, Line):
            _line(draw, p, scale)
        else:
            anchor = {"start": "ls", "middle": "ms", "end": "rs"}[p.anchor]
            draw.text((p.x * scale, p.y * scale), p.text, fill=p.fill, font=_font(p.size * scale, p.bold),
                      anchor=anchor)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _line(draw, p: Line, scale: float) -> None:
    x1, y1, x2, y2 = (v * scale for v in (p.x1, p.y1, p.x2, p.y2))
    width = max(1, round(p.width * scale))
    if not p.dash:
        draw.line([x1, y1, x2, y2], fill=p.stroke, width=width)
        return
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    on, off = 5 * scale, 4 * scale
    t = 0.0
    while t < length:
        e = min(t + on, length)
        draw.line([x1 + (x2 - x1) * t / length, y1 + (y2 - y1) * t / length,
                   x1 + (x2 - x1) * e / length, y1 + (y2 - y1) * e / length], fill=p.stroke, width=width)
        t = e + off


@functools.lru_cache(maxsize=32)
def _font(size: float, bold: bool):
    from PIL import ImageFont

    path, index = _cjk_font_file(bold)
    if path:
        try:
            return ImageFont.truetype(path, round(size), index=index)
        except OSError:
            pass
    log.warning("no Noto CJK font found (apt-get install fonts-noto-cjk); chart labels may not show Chinese")
    return ImageFont.load_default(size=size)


@functools.lru_cache(maxsize=2)
def _cjk_font_file(bold: bool) -> tuple[str | None, int]:
    pattern = "Noto Sans CJK SC:style=Bold" if bold else "Noto Sans CJK SC"
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}|%{index}", pattern], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None, 0
    path, _, index = out.partition("|")
    if "CJK" not in path:
        return None, 0
    return path, int(index or 0)


def _nice_step(peak: int) -> float:
    """A round grid step giving 3–6 lines up to ``peak``."""
    if peak <= 0:
        return 1
    raw = peak / 5
    mag = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return max(1, m * mag)
    return 10 * mag
