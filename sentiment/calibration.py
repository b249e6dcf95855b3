"""Does ``negative_prob`` mean what it says? Reliability bins, expected calibration error and a diagram.

The risk score multiplies by the most negative item's probability, and monitors read "负面概率 0.80" as "four
in five such posts are negative". That is only true of a calibrated model, so ``yuqing evaluate`` measures it:
texts are binned by predicted negative probability (ten equal-width bins), and each bin's mean prediction is set
beside the share of its texts that are really negative. The expected calibration error (ECE) is the
count-weighted mean gap. Sources whose labels say only negative vs not negative (ccf2019) are valid here too:
the question is only "negative or not".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

BINS = 10


def reliability(is_negative: Sequence[bool], negative_prob: Sequence[float], bins: int = BINS) -> dict:
    """``{"ece": float, "bins": [{"lo", "hi", "n", "predicted", "observed"}, …]}``; empty bins are left out."""
    counts = [0] * bins
    pred_sum = [0.0] * bins
    neg_sum = [0] * bins
    for gold, p in zip(is_negative, negative_prob, strict=True):
        k = min(bins - 1, max(0, int(float(p) * bins)))
        counts[k] += 1
        pred_sum[k] += float(p)
        neg_sum[k] += bool(gold)
    n = sum(counts)
    out, ece = [], 0.0
    for k in range(bins):
        if not counts[k]:
            continue
        predicted, observed = pred_sum[k] / counts[k], neg_sum[k] / counts[k]
        ece += counts[k] / n * abs(predicted - observed)
        out.append({"lo": round(k / bins, 2), "hi": round((k + 1) / bins, 2), "n": counts[k],
                    "predicted": round(predicted, 4), "observed": round(observed, 4)})
    return {"ece": round(ece, 4) if n else float("nan"), "bins": out}


def reliability_svg(curves: Mapping[str, dict], *, title: str = "") -> str:
    """A reliability diagram (predicted vs observed negative share) for several classifiers, as standalone SVG.

    ``curves`` maps a classifier name to the output of :func:`reliability`. The diagonal is perfect calibration;
    each point's radius grows with the number of texts in its bin.
    """
    size, pad = 360, 48
    plot = size - 2 * pad
    colours = ["#c0392b", "#2471a3", "#7d3c98", "#229954", "#b9770e"]

    def xy(px: float, py: float) -> tuple[float, float]:
        return pad + px * plot, size - pad - py * plot

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 170}" height="{size}" '
             f'viewBox="0 0 {size + 170} {size}" font-family="Noto Sans CJK SC, sans-serif" font-size="11">',
             f'<rect width="{size + 170}" height="{size}" fill="white"/>']
    if title:
        parts.append(f'<text x="{pad}" y="20" font-size="13">{escape(title)}</text>')
    for t in range(0, 11, 2):
        v = t / 10
        x0, _ = xy(v, 0)
        _, y1 = xy(0, v)
        parts.append(f'<line x1="{x0:.1f}" y1="{pad}" x2="{x0:.1f}" y2="{size - pad}" stroke="#eee"/>')
        parts.append(f'<line x1="{pad}" y1="{y1:.1f}" x2="{size - pad}" y2="{y1:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{x0:.1f}" y="{size - pad + 14}" text-anchor="middle">{v:.1f}</text>')
        parts.append(f'<text x="{pad - 6}" y="{y1 + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    (ax, ay), (bx, by) = xy(0, 0), xy(1, 1)
    parts.append(f'<line x1="{ax}" y1="{ay}" x2="{bx}" y2="{by}" stroke="#999" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{size / 2}" y="{size - 10}" text-anchor="middle">预测负面概率 predicted</text>')
    parts.append(f'<text x="14" y="{size / 2}" text-anchor="middle" transform="rotate(-90 14 {size / 2})">'
                 f'实际负面占比 observed</text>')
    for i, (name, curve) in enumerate(curves.items()):
        colour = colours[i % len(colours)]
        total = sum(b["n"] for b in curve["bins"]) or 1
        points = [xy(b["predicted"], b["observed"]) for b in curve["bins"]]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        for b, (x, y) in zip(curve["bins"], points, strict=True):
            r = 2 + 6 * (b["n"] / total) ** 0.5
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}" fill-opacity="0.6">'
                         f'<title>{escape(name)}: {b["lo"]:.1f}–{b["hi"]:.1f} n={b["n"]}</title></circle>')
        ly = pad + 16 * i
        parts.append(f'<rect x="{size}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{size + 14}" y="{ly}">{escape(name)} ECE {curve["ece"]:.3f}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
