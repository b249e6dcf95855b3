"""Sentiment benchmark: throughput, single-text latency and memory of the transformer model beside snownlp.

Everything is measured in one run on this machine: the snownlp baseline, the rule-based classifier, the
transformer on torch and the same model on ONNX Runtime (when ``onnxruntime`` is installed), and the classifier the
pipeline deploys — the blend of transformer, n-gram model and rules — on both backends. Texts are a fixed
sample of corpus texts of at most 128 characters. Each engine is warmed up before timing; torch and ONNX Runtime
both get 2 threads. Memory is measured per engine in a fresh process (``bench.memprobe``). The table shows
absolute numbers and ratios to snownlp, and PASS/FAIL against the targets of issue 4; results are also written to
``var/bench/sentiment.json``. The machine may be shared, so the load average is reported beside the numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import engines
from bench.common import cpu_model, nearest_rank, say

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "var" / "bench"
MAX_CHARS = 128
SAMPLE_SEED = "yuqing-bench-v1"
BATCH_SIZES = (1, 16, 64)
WARM_BATCH = 64
SINGLE_PASS_TEXTS = 500  # batch size 1 runs on the first 500 texts of the sample: enough for a rate, and quick
CHUNK = 256
THROUGHPUT_BUDGET_S = 10.0  # per engine and batch size
LATENCY_BUDGET_S = 15.0  # per engine
EQUALITY_TEXTS = 256
TARGET_TEXTS_PER_S = 300.0
TARGET_P99_MS = 50.0
TARGET_MEMORY_MB = 300.0


def sample_texts(n: int) -> list[str]:
    """A fixed sample of ``n`` corpus texts of at most ``MAX_CHARS`` characters (same sample every run)."""
    from sentiment.corpus import load_corpus

    items = sorted((i for i in load_corpus() if len(i.text) <= MAX_CHARS), key=lambda i: i.id)
    rng = random.Random(SAMPLE_SEED)
    return [i.text for i in rng.sample(items, min(n, len(items)))]


def throughput(engine: engines.Engine, texts: Sequence[str], batch_size: int,
               budget_s: float = THROUGHPUT_BUDGET_S) -> tuple[float, int]:
    """(texts per second, texts timed) over ``texts`` at ``batch_size``, after a warm-up on a few batches.

    Texts go in chunks of ``CHUNK`` (as the pipeline hands over articles in batches); once ``budget_s`` is spent the
    pass stops early, so a machine busy with other work cannot stretch ``make bench`` without end.
    """
    if batch_size == 1:
        texts = texts[:SINGLE_PASS_TEXTS]
    engine.set_batch_size(batch_size)
    engine.encode(list(texts[: batch_size * 4]))
    done, t0 = 0, time.perf_counter()
    for start in range(0, len(texts), CHUNK):
        chunk = list(texts[start:start + CHUNK])
        engine.encode(chunk)
        done += len(chunk)
        if time.perf_counter() - t0 > budget_s:
            break
    return done / (time.perf_counter() - t0), done


def latency(engine: engines.Engine, texts: Sequence[str], calls: int,
            budget_s: float = LATENCY_BUDGET_S) -> dict[str, float]:
    """Single-text ``encode([text])`` latency over ``calls`` calls (texts cycled), in milliseconds; stops early
    (and says so in ``calls``) once ``budget_s`` is spent."""
    engine.set_batch_size(1)
    for t in texts[:20]:
        engine.encode([t])
    times: list[float] = []
    started = time.perf_counter()
    for i in range(calls):
        text = texts[i % len(texts)]
        t0 = time.perf_counter()
        engine.encode([text])
        times.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() - started > budget_s:
            break
    times.sort()
    return {"p50_ms": nearest_rank(times, 50), "p99_ms": nearest_rank(times, 99), "mean_ms": statistics.fmean(times),
            "calls": len(times), "calls_planned": calls}


def memory(name: str, model_dir: Path, onnx_path: Path | None, warm: list[str]) -> dict[str, float]:
    """Run ``bench.memprobe`` for one engine in a fresh interpreter and return its RSS figures (MB)."""
    cmd = [sys.executable, "-m", "bench.memprobe", name, str(model_dir)] + ([str(onnx_path)] if onnx_path else [])
    proc = subprocess.run(cmd, input=json.dumps(warm, ensure_ascii=False), capture_output=True, text=True,
                          cwd=ROOT, timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe for {name} failed:\n{proc.stderr[-2000:]}")
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    return m | {"model_mb": round(m["loaded"] - m["libraries"], 1), "increase_mb": round(m["warm"] - m["start"], 1)}


def machine(model_dir: Path) -> dict:
    """What the numbers were measured on."""
    import torch

    info = {
        "cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": cpu_model(),
        "python": platform.python_version(), "torch": torch.__version__, "torch_threads": engines.THREADS,
        "load_avg_start": [round(x, 2) for x in os.getloadavg()], "model_dir": str(model_dir),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = None
    return info


def run(*, model_dir: Path, n_texts: int, calls: int, with_onnx: bool, with_memory: bool) -> dict:
    import torch

    torch.set_num_threads(engines.THREADS)
    texts = sample_texts(n_texts)
    result: dict = {"machine": machine(model_dir), "texts": len(texts),
                    "mean_chars": round(statistics.fmean(len(t) for t in texts), 1), "max_chars": MAX_CHARS,
                    "engines": {}, "notes": []}
    onnx_path = None
    names = ["snownlp", "rules", "transformer"]
    if with_onnx:
        onnx_path, note = _prepare_onnx(model_dir)
        if onnx_path is not None:
            names.append("onnx")
            result["onnx_export_s"] = note  # None when an up-to-date export was reused
        else:
            result["notes"].append(f"ONNX skipped: {note}")
    if (model_dir / "blend.json").exists():
        names += ["blend"] + (["blend-onnx"] if "onnx" in names else [])
    else:
        result["notes"].append(f"blend skipped: no blend.json in {model_dir}")
    warm = sorted(texts, key=len)[-WARM_BATCH:]  # the longest texts: the worst-case batch
    outputs = {}
    for name in names:
        say(f"… {name}")
        engine = engines.load(name, model_dir=model_dir, onnx_path=onnx_path)
        row: dict = {}
        sizes = BATCH_SIZES if name in engines.BATCHED else (1,)
        timed = {str(bs): throughput(engine, texts, bs) for bs in sizes}
        row["throughput"] = {bs: rate for bs, (rate, _) in timed.items()}
        row["throughput_texts"] = {bs: n for bs, (_, n) in timed.items()}
        if name in engines.BATCHED:
            engine.set_batch_size(WARM_BATCH)
            outputs[name] = engine.encode(texts[:EQUALITY_TEXTS])
        row["latency"] = latency(engine, texts, calls)
        if name == "transformer":
            # Two intra-op threads on two busy cores can stall single-text calls; show what one thread does.
            torch.set_num_threads(1)
            rate, n = throughput(engine, texts, 64)
            row["throughput_1_thread"], row["throughput_1_thread_texts"] = {"64": rate}, {"64": n}
            row["latency_1_thread"] = latency(engine, texts, calls)
            torch.set_num_threads(engines.THREADS)
        if with_memory:
            row["memory"] = memory(name, model_dir, onnx_path, warm)
        result["engines"][name] = row
        del engine
        torch.set_num_threads(engines.THREADS)  # loading a SentimentModel sets the process-wide thread count
    if "onnx" in outputs:
        a, b = outputs["transformer"], outputs["onnx"]
        pairs = [(a.polarity, b.polarity), (a.category, b.category), (a.about, b.about)]
        result["onnx_max_abs_diff"] = max(float(abs(x.numpy() - y).max()) for x, y in pairs if x is not None)
    if "blend-onnx" in outputs:
        pairs = list(zip(outputs["blend"], outputs["blend-onnx"], strict=True))
        result["blend_onnx_max_abs_diff"] = max(abs(x.negative_prob - y.negative_prob) for x, y in pairs)
        result["blend_onnx_label_agreement"] = sum(x.label == y.label for x, y in pairs) / len(pairs)
    if "onnx" in result["engines"]:
        result["onnx_vs_torch"] = _compare(result["engines"]["transformer"], result["engines"]["onnx"])
    result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = _targets(result)
    return result


def render(r: dict) -> str:
    """The human-readable table: absolute numbers, ratios to snownlp, targets."""
    m, e = r["machine"], r["engines"]
    snow = e["snownlp"]
    snow_tps = _best(snow)
    lines = [
        f"Sentiment benchmark — model {m['model_dir']}",
        f"{r['texts']} corpus texts ≤ {r['max_chars']} chars (mean {r['mean_chars']}); "
        f"{m['cpus_usable']}/{m['cpus']} CPUs ({m['cpu_model']}); torch {m['torch']} with {m['torch_threads']} "
        f"threads; onnxruntime {m['onnxruntime'] or 'not installed'} with {engines.THREADS} intra-op threads",
        f"load average {m['load_avg_start'][0]} at start, {m['load_avg_end'][0]} at end "
        "(the machine is shared: higher load means slower numbers)",
        "",
        f"Throughput, texts/s            bs=1*     bs=16     bs=64   best vs snownlp  (*first {SINGLE_PASS_TEXTS})",
    ]
    cut = False
    for name, row in e.items():
        tp, n = row["throughput"], row["throughput_texts"]
        cells = ""
        for bs in map(str, BATCH_SIZES):
            short = bs in n and n[bs] < min(r["texts"], SINGLE_PASS_TEXTS if bs == "1" else r["texts"])
            cut |= short
            cells += f"{tp[bs]:>9.0f}{'†' if short else ' '}" if bs in tp else f"{'—':>9} "
        lines.append(f"  {_label(name):<26}{cells}  {_best(row):.0f} texts/s = {_best(row) / snow_tps:.1f}× snownlp")
    one = e.get("transformer", {}).get("throughput_1_thread")
    if one:
        lines.append(f"  {'transformer (torch, 1 thread)':<26}{'':>20}{one['64']:>9.0f}   "
                     f"{one['64']:.0f} texts/s = {one['64'] / snow_tps:.1f}× snownlp")
    if cut:
        lines.append(f"  († time budget of {THROUGHPUT_BUDGET_S:.0f} s reached: rate over fewer texts, see JSON)")
    lines += ["", "Latency, one text per call            calls   p50 ms   p99 ms   mean ms   p99 vs snownlp"]
    rows = [(_label(name), row["latency"]) for name, row in e.items()]
    if "latency_1_thread" in e.get("transformer", {}):
        rows.append(("transformer (torch, 1 thread)", e["transformer"]["latency_1_thread"]))
    for label, lat in rows:
        lines.append(f"  {label:<36}{lat['calls']:>6}{lat['p50_ms']:>9.2f}{lat['p99_ms']:>9.2f}{lat['mean_ms']:>10.2f}"
                     f"   {lat['p99_ms'] / snow['latency']['p99_ms']:.2f}× snownlp's")
    if any(lat["calls"] < lat["calls_planned"] for _, lat in rows):
        lines.append(f"  (fewer calls than {snow['latency']['calls_planned']}: time budget of "
                     f"{LATENCY_BUDGET_S:.0f} s per engine reached)")
    if all("memory" in row for row in e.values()):
        lines += ["", "Memory, MB RSS (fresh process)   libraries   model   +warm batch   increase   process   "
                  "increase vs snownlp"]
        for name, row in e.items():
            mem = row["memory"]
            lines.append(
                f"  {_label(name):<31}{mem['libraries'] - mem['start']:>11.0f}{mem['model_mb']:>8.0f}"
                f"{mem['warm'] - mem['loaded']:>14.0f}{mem['increase_mb']:>11.0f}{mem['warm']:>10.0f}   "
                f"{mem['increase_mb'] / max(snow['memory']['increase_mb'], 1):.1f}× snownlp")
        lines += ["  (increase = RSS after a warm batch of the 64 longest texts minus RSS of the bare interpreter,",
                  "   so it includes importing torch + transformers, or onnxruntime + tokenizers; snownlp loads",
                  "   its models when imported, so they count as its libraries)"]
    if "onnx_vs_torch" in r:
        t, o, v = e["transformer"], e["onnx"], r["onnx_vs_torch"]
        per_bs = ", ".join(f"bs={bs} {o['throughput'][str(bs)] / t['throughput'][str(bs)]:.2f}×" for bs in BATCH_SIZES)
        lines += ["", f"ONNX Runtime vs torch (2 threads each) at the same batch size: {per_bs}",
                  f"  against torch's best of 1 and 2 threads: throughput {_best(o):.0f} vs "
                  f"{v['torch_texts_per_s']:.0f} texts/s = {v['throughput_ratio']:.2f}×; "
                  f"p50 latency {o['latency']['p50_ms']:.2f} vs "
                  f"{v['torch_p50_ms']:.2f} ms = {v['p50_latency_ratio']:.2f}× → {v['verdict']}",
                  f"  max |Δ probability| {r['onnx_max_abs_diff']:.1e} on {EQUALITY_TEXTS} texts; "
                  + ("export reused" if r["onnx_export_s"] is None else f"export took {r['onnx_export_s']} s")]
    if "blend_onnx_max_abs_diff" in r:
        lines += [f"Blend on ONNX Runtime vs on torch: max |Δ negative probability| "
                  f"{r['blend_onnx_max_abs_diff']:.1e}, same label on {r['blend_onnx_label_agreement']:.1%} "
                  f"of {EQUALITY_TEXTS} texts"]
    lines += ["", "Targets (issue 4)"]
    for t in r["targets"]:
        lines.append(f"  [{'PASS' if t['pass'] else 'FAIL'}] {t['target']}: {t['measured']}")
    lines += [f"  note: {n}" for n in r["notes"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="model directory (default: $YUQING_MODEL_DIR or sentiment/weights/yuqing-sentiment-zh)")
    parser.add_argument("--texts", type=int, default=2000, help="sample size (default 2000)")
    parser.add_argument("--calls", type=int, default=500, help="single-text latency calls (default 500)")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime backend")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-engine memory probes")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "sentiment.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentiment.model import DEFAULT_MODEL_DIR

    model_dir = (args.model_dir or Path(os.environ.get("YUQING_MODEL_DIR") or DEFAULT_MODEL_DIR)).resolve()
    if not (model_dir / "config.json").exists():
        print(f"no model at {model_dir}: run `yuqing train` or set YUQING_MODEL_DIR", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    result = run(model_dir=model_dir, n_texts=args.texts, calls=args.calls, with_onnx=not args.no_onnx,
                 with_memory=not args.no_memory)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(render(result))
    print(f"\n({result['wall_s']} s; written to {args.out})")
    return 0


def _prepare_onnx(model_dir: Path) -> tuple[Path | None, float | str | None]:
    """Export (if needed) to var/bench/onnx; returns (path, seconds) or (None, why it could not)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        return None, f"{exc.name} is not installed"
    from sentiment.onnx_export import export_onnx
    from sentiment.onnx_runtime import is_stale

    key = hashlib.sha1(str(model_dir).encode()).hexdigest()[:8]
    path = OUT_DIR / "onnx" / f"{model_dir.name}-{key}.onnx"
    if not is_stale(path, model_dir):
        return path, None
    say("… exporting ONNX")
    t0 = time.perf_counter()
    export_onnx(model_dir, path)
    return path, round(time.perf_counter() - t0, 1)


def _targets(r: dict) -> list[dict]:
    out = []
    for name in ("transformer", "onnx", "blend", "blend-onnx"):
        row = r["engines"].get(name)
        if row is None:
            continue
        label = _label(name)
        best_bs = max(row["throughput"], key=lambda bs: row["throughput"][bs])
        tps = row["throughput"][best_bs]
        out.append({"engine": name, "target": f"{label}: throughput ≥ {TARGET_TEXTS_PER_S:.0f} texts/s",
                    "measured": f"{tps:.0f} texts/s at batch size {best_bs}", "pass": tps >= TARGET_TEXTS_PER_S})
        p99 = row["latency"]["p99_ms"]
        out.append({"engine": name, "target": f"{label}: single-text p99 latency ≤ {TARGET_P99_MS:.0f} ms",
                    "measured": f"{p99:.1f} ms", "pass": p99 <= TARGET_P99_MS})
        if "memory" in row:
            mem = row["memory"]
            out.append({"engine": name, "target": f"{label}: model memory ≤ {TARGET_MEMORY_MB:.0f} MB RSS",
                        "measured": f"+{mem['increase_mb']:.0f} MB over a bare interpreter (libraries + model + "
                                    f"warm batch; whole process {mem['warm']:.0f} MB)",
                        "pass": mem["increase_mb"] <= TARGET_MEMORY_MB})
        if "throughput_1_thread" in row:  # the same model with one torch thread (see the latency note above)
            label1, tps1, p99_1 = "transformer (torch, 1 thread)", row["throughput_1_thread"]["64"], \
                row["latency_1_thread"]["p99_ms"]
            out.append({"engine": "transformer-1-thread", "target": f"{label1}: throughput ≥ {TARGET_TEXTS_PER_S:.0f}"
                        " texts/s", "measured": f"{tps1:.0f} texts/s at batch size 64",
                        "pass": tps1 >= TARGET_TEXTS_PER_S})
            out.append({"engine": "transformer-1-thread", "target": f"{label1}: single-text p99 latency ≤ "
                        f"{TARGET_P99_MS:.0f} ms", "measured": f"{p99_1:.1f} ms", "pass": p99_1 <= TARGET_P99_MS})
    return out


def _compare(t: dict, o: dict) -> dict:
    """ONNX Runtime against torch's best throughput and p50 latency over its 2-thread and 1-thread runs."""
    tps = max(_best(t), *t.get("throughput_1_thread", {}).values())
    p50 = min(t["latency"]["p50_ms"], t.get("latency_1_thread", t["latency"])["p50_ms"])
    tp_ratio, p50_ratio = _best(o) / tps, o["latency"]["p50_ms"] / p50
    verdict = ("ONNX Runtime is faster" if tp_ratio > 1 and p50_ratio < 1
               else "torch is faster" if tp_ratio < 1 and p50_ratio > 1 else "mixed result")
    return {"torch_texts_per_s": round(tps, 1), "torch_p50_ms": round(p50, 3), "throughput_ratio": round(tp_ratio, 3),
            "p50_latency_ratio": round(p50_ratio, 3), "verdict": verdict}


def _best(row: dict) -> float:
    return max(row["throughput"].values())


def _label(name: str) -> str:
    return {"snownlp": "snownlp (baseline)", "rules": "rules-v0", "transformer": "transformer (torch)",
            "onnx": "transformer (ONNX Runtime)", "blend": "blend, deployed (torch)",
            "blend-onnx": "blend (ONNX Runtime)"}[name]



