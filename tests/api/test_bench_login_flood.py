"""``make bench`` keeps measuring the login flood: a tiny run (cheap argon2, a few guessers, seconds per scenario)
reports every figure the benchmark claims to measure, for every scenario.

No timing is asserted (the machine is shared and noisy): only that each figure was measured and that each
scenario is what it says it is — the address lock trips in ``address-lock``, no lock trips in ``gate-only``, the
gate lets at most two hashes run at once there, and ``no-gate`` really runs with the gate opened up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from api import auth

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ["baseline", "address-lock", "gate-only", "no-gate"]


def test_login_flood_bench_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "login_flood.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "login-flood", "--duration", "3", "--guessers", "4",
                           "--cheap-argon2", "--out", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert list(result["scenarios"]) == SCENARIOS
    assert result["argon2"]["real"] is False and result["guessers"] == 4
    for name, row in result["scenarios"].items():
        for read in ("incidents", "healthz"):
            stats = row["reads"][read]
            assert stats["n"] > 0 and stats["failed"] == 0, (name, read)
            assert all(stats[f"{p}_ms"] > 0 for p in ("p50", "p95", "p99")), (name, read)
        server = row["server"]
        assert 0 < server["rss_idle_mb"] <= server["rss_peak_mb"], name
        assert server["threads_peak"] > 0 and server["db_connections_limit"] > 0, name
        if name == "baseline":
            assert row["guesses"] is None and server["hashes"] == 0
            continue
        guesses = row["guesses"]
        assert guesses["answered"] > 0 and set(guesses["statuses"]) <= {"401", "429", "503"}, name
        assert server["hashes"] > 0, name
        assert all(row["ratios"][read][p] > 0 for read in ("incidents", "healthz") for p in ("p50", "p95", "p99"))

    lock, gate, open_gate = (result["scenarios"][n] for n in ("address-lock", "gate-only", "no-gate"))
    assert lock["server"]["locked"]["address"] == 1 and lock["guesses"]["statuses"].get("429", 0) > 0
    assert gate["server"]["locked"] == {"login": 0, "address": 0} and "429" not in gate["guesses"]["statuses"]
    assert gate["gate"] == [auth.HASH_CONCURRENCY, auth.HASH_QUEUE]
    assert gate["server"]["peak_concurrent_hashes"] <= auth.HASH_CONCURRENCY
    assert lock["server"]["peak_concurrent_hashes"] <= auth.HASH_CONCURRENCY
    assert open_gate["gate"] == [40, 1000] and open_gate["server"]["gate_refused"] == 0

    table = proc.stdout
    assert "CHEAP TEST PARAMETERS" in table
    for heading in ("Reads during the scenario", "Guessers and the server", "GET /api/v1/incidents", "GET /healthz",
                    "p99 ×", "401", "429", "503", "hashes", "peak RSS", "DB conns", "PasswordGate(concurrency=40"):
        assert heading in table, heading
    for name in SCENARIOS:
        assert f"\n  {name} " in table, name
