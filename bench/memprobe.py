"""Measure one engine's memory in a fresh process, so engines measured earlier in the run don't pollute it.

``python -m bench.memprobe ENGINE MODEL_DIR [ONNX_PATH]`` reads a JSON list of warm-up texts on stdin and prints
a JSON object: resident set size (``VmRSS`` from /proc/self/status, in MB) at start, after importing the
engine's libraries, after loading its model and after one batch of the texts, plus the peak (``VmHWM``).
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path


def rss_mb() -> dict[str, float]:
    """Current and peak resident set size of this process, in MB (Linux /proc)."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return {"rss": round(fields["VmRSS"], 1), "peak": round(fields["VmHWM"], 1)}


def probe(name: str, model_dir: Path, onnx_path: Path | None, texts: list[str]) -> dict[str, float]:
    from bench import engines

    gc.collect()
    start = rss_mb()["rss"]
    engines.import_libraries(name)
    gc.collect()
    libraries = rss_mb()["rss"]
    engine = engines.load(name, model_dir=model_dir, onnx_path=onnx_path)
    gc.collect()
    loaded = rss_mb()["rss"]
    engine.set_batch_size(len(texts))
    engine.encode(texts)
    gc.collect()
    after = rss_mb()
    return {"start": start, "libraries": libraries, "loaded": loaded, "warm": after["rss"], "peak": after["peak"]}


if __name__ == "__main__":
    args = sys.argv[1:]
    result = probe(args[0], Path(args[1]), Path(args[2]) if len(args) > 2 else None, json.load(sys.stdin))
    print(json.dumps(result))
