"""``make bench`` keeps working: a tiny run on the tiny model measures every engine and writes its JSON.

No timing is asserted (the machine is shared and noisy): only that each engine was measured, that the table and
targets are printed, and that the two backends of the deployed blend agree.

Twenty texts: the smallest sample that still runs every path of a measurement - at batch size 16 a full batch and
a partial one, at 64 a partial one, every text compared between the blend's two backends - while the run's cost
is the engines' loading, the ONNX export and the memory probes' fresh interpreters, which no sample size changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_bench_measures_every_engine(blended_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "bench", "--model-dir", str(blended_model_dir), "--texts", "20",
                           "--calls", "5", "--out", str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert list(result["engines"]) == ["snownlp", "rules", "transformer", "onnx", "blend", "blend-onnx"]
    for name, row in result["engines"].items():
        assert max(row["throughput"].values()) > 0, name
        assert row["latency"]["calls"] == 5, name
        assert row["memory"]["increase_mb"] > 0, name
    # The torch-free backend really is: importing its libraries does not pull in torch's hundreds of MB.
    assert result["engines"]["blend-onnx"]["memory"]["libraries"] < result["engines"]["blend"]["memory"]["libraries"]
    assert result["blend_onnx_max_abs_diff"] < 1e-3
    assert result["blend_onnx_label_agreement"] == 1.0
    assert "Targets (issue 4)" in proc.stdout and "blend, deployed (torch)" in proc.stdout
