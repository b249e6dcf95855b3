"""``python -m bench NAME`` reaches each benchmark: every name the dispatcher documents answers ``--help`` with its
own options, so a renamed module or a broken route fails here rather than in a long ``make bench`` run.

Only ``--help`` is run: each benchmark's measurement has its own test (test_bench_*.py); this one is the routing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

# name → an option only that benchmark has
ROUTES = {
    "sentiment": "--model-dir",
    "login-flood": "--duration",
    "reports": "--mentions",
    "large-lists": "--articles",
    "api-load": "--articles",
    "backtest": "--baseline-items",
    "workers": "--workers",
    "search": "--rows",
    "dashboard-latency": "--articles",
    "ingest-order": "--waiting",
}


def _help(name: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "bench", name, "--help"], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_each_benchmark_is_reached_by_its_name(name: str) -> None:
    proc = _help(name)
    assert proc.returncode == 0, proc.stderr[-2000:]
    usage = proc.stdout.splitlines()[0]
    prog = "python -m bench" if name == "sentiment" else f"python -m bench {name}"
    assert usage.startswith(f"usage: {prog} ["), usage
    assert ROUTES[name] in proc.stdout


def test_the_job_engine_comparison_says_what_it_needs() -> None:
    """Its losing candidate (taskiq) is only in the ``bench`` extra, which ``make install`` does not install."""
    proc = _help("job-engines")
    if importlib.util.find_spec("taskiq") and importlib.util.find_spec("taskiq_redis"):
        assert proc.returncode == 0 and proc.stdout.startswith("usage: python -m bench job-engines ["), proc.stderr
    else:
        assert proc.returncode == 1
        assert "python -m bench job-engines needs the bench extra: pip install -e '.[bench]'" in proc.stderr
