"""``make bench`` keeps measuring the reports on a huge day: a tiny run (300 mentions against 30) reports every
step for both days. No timing is asserted (the machine is shared); the 10,000-mention figures are in
docs/benchmarks.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_reports_bench_times_every_step_of_both_days(tmp_path: Path) -> None:
    out = tmp_path / "reports.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "reports", "--mentions", "300", "--baseline", "30",
                           "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    steps = {f"{part}: {step}" for part in ("daily", "初报") for step in ("gather", "draft", "html", "pdf", "docx")}
    for day in ("baseline", "huge"):
        assert steps <= set(result["seconds"][day]) and all(result["seconds"][day][s] > 0 for s in steps)
    assert result["seconds"]["huge"]["items in daily"] > result["seconds"]["baseline"]["items in daily"]
    assert "× baseline" in proc.stdout and "daily total" in proc.stdout
