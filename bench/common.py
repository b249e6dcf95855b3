"""Small pieces every benchmark shares: the machine's CPU name, progress lines on stderr, nearest-rank percentiles."""

from __future__ import annotations

import math
import platform
import sys
from collections.abc import Sequence


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for the header of a benchmark's report."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def say(msg: str) -> None:
    """A progress line on stderr, so stdout carries only the report."""
    print(msg, file=sys.stderr, flush=True)


def nearest_rank(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted, non-empty values."""
    rank = math.ceil(pct / 100 * len(sorted_values))
    return sorted_values[max(0, min(len(sorted_values), rank) - 1)]
