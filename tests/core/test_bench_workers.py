"""``make bench`` keeps measuring the workers: a tiny run of ``python -m bench workers`` (a 10-article backlog drained
in-process and by one ``yuqing worker`` per stage; two alerting items published as ``yuqing run``'s first poll
arrives) reports every figure the benchmark claims to measure.

No timing is asserted (the machine is shared and noisy): only that each figure was measured, that the backlog was
drained by both ways with the same outcome (every relevant article classified once), and that every alert's
message reached the receiver.

Ten articles is the smallest backlog that still runs every path the figures come from: the backlog generator makes
every fifth item city news (two here, eight about the bank), so both the relevant and the irrelevant paths, stories
and the equal-outcome check between the in-process drain and the workers are exercised; the cost of a run is the
processes' start-up, not the articles (40 articles: about four times the per-article work for the same proof).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = 10


def test_workers_bench_reports_every_figure(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "workers", "--articles", str(ARTICLES), "--workers", "1",
                           "--alert-items", "2", "--spread", "0", "--no-model", "--timeout", "120",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "workers.json").read_text(encoding="utf-8"))
    assert "load average" in result["uptime_before"] and "load average" in result["uptime_after"]

    scaling = result["ingest_scaling"]
    assert scaling["seed"]["stored"] == ARTICLES
    baseline, one = scaling["rows"]
    assert (baseline["workers_per_stage"], one["workers_per_stage"]) == (0, 1)
    for row in (baseline, one):
        assert row["articles"] == ARTICLES and row["left_unprocessed"] == 0, row
        assert 0 < row["relevant"] < ARTICLES  # most name the bank, some are city news
        assert row["classifications"] == row["relevant"]  # each relevant article classified once
        assert row["seconds"] > 0 and row["articles_per_s"] > 0 and row["cpu_seconds"] > 0, row
        assert set(row["stages"]) == {"ingest", "classify", "score"}
        assert all(s["articles_per_s"] > 0 for s in row["stages"].values()), row
    assert one["stories"] == baseline["stories"] > 0  # the workers clustered the backlog as the baseline did

    (alert,) = result["time_to_alert"]
    assert alert["classifier"] == "rule baseline" and alert["items"] == 2
    assert alert["alerted"] == 2 and len(alert["delays_s"]) == 2  # both alerts' messages arrived
    assert 0 < alert["p50_s"] <= alert["p95_s"] == alert["max_s"]
    assert alert["target_p95_s"] == alert["poll_interval_s"] + 10
    assert 0 < alert["rss_steady_mb"] <= alert["rss_peak_mb"] and alert["rss_samples"] > 0

    md = (tmp_path / "workers.md").read_text(encoding="utf-8")
    for heading in ("uptime before", "Ingest scaling", "1 worker process(es) per stage", "Time to alert",
                    "peak RSS MB"):
        assert heading in md, heading
