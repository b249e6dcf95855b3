"""Pipeline workers for the SIGKILL fault test (tests/core/test_faults_kill.py), each to be killed at a random moment.

    python tests/core/faults_worker.py

starts a *fork server*: it imports everything a worker imports (most of a worker's start-up time: scipy through
the story index, the sentiment and incident packages) and then, for each line ``URL CONFIG_DIR DATA_DIR OUT`` read
on stdin, forks a worker process and prints its pid. The worker writes to ``OUT``: it builds the runtime on the
database given (the same ``build_runtime`` every process uses, its own connections), prints ``ready``, waits for
the file ``OUT.go``, then runs the real stage steps (``runner.stages``: ingest, classify, score, incidents, notify)
pass after pass, printing ``stage NAME`` before each step and ``idle`` after a pass that did nothing, until it is
killed. Every line is flushed, so the test knows which step the kill interrupted. Forking from a warm parent keeps
twenty kills within the test's time budget; each worker is still a process of its own that dies by SIGKILL.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import sys
import time
from pathlib import Path

from runner.loop import did_work
from runner.runtime import build_runtime
from runner.stages import STAGES
from sentiment.rules import RuleBasedClassifier
from yuqing.clock import SystemClock
from yuqing.db import engine_for
from yuqing.settings import Settings

PIPELINE = ("ingest", "classify", "score", "incidents", "notify")
SECRET = "faults-tests-9Tz4Kq7Wm2Xc5Vb8Ln1Rd3Hp6Gs0Jf"


def settings_for(url: str, config_dir: Path, data_dir: Path) -> Settings:
    """The settings of a fault-test process: the database and configuration given, the rule classifier's data."""
    return Settings(data_dir=data_dir, config_dir=config_dir, database_url=url, secret_key=SECRET,
                    sources_file=config_dir / "sources.yaml", allow_private_sources=["jcwb"],
                    db_statement_timeout=30, db_connect_timeout=5)


async def work(url: str, config_dir: Path, data_dir: Path, go: Path) -> None:
    settings = settings_for(url, config_dir, data_dir)
    rt = build_runtime(settings, clock=SystemClock(), engine=engine_for(settings), classifier=RuleBasedClassifier())
    rt.evidence_config = None
    print("ready", flush=True)
    while not go.exists():
        await asyncio.sleep(0.005)
    while True:
        busy = False
        for name in PIPELINE:
            print(f"stage {name}", flush=True)
            busy = did_work(await STAGES[name].run(rt, offload=False)) or busy
        if not busy:
            print("idle", flush=True)
            await asyncio.sleep(0.05)


def warm_up() -> None:
    """Import what ``build_runtime`` and the steps import lazily, so a forked worker starts in about a second."""
    for module in ("crawlers.ingest", "crawlers.matching", "crawlers.search_index", "crawlers.story_config",
                   "incidents.briefings.delivery", "incidents.complaints.links", "incidents.evidence_config",
                   "incidents.notify", "incidents.scheduled", "incidents.service", "runner.config_reload",
                   "sentiment.batch", "sentiment.service"):
        importlib.import_module(module)


def serve() -> None:
    warm_up()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the killed workers
    print("warm", flush=True)
    for line in sys.stdin:
        url, config_dir, data_dir, out = line.split()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            sys.stdout = os.fdopen(1, "w", buffering=1)
            sys.stderr = sys.stdout
            try:
                asyncio.run(work(url, Path(config_dir), Path(data_dir), Path(out + ".go")))
            finally:
                os._exit(1)
        print(pid, flush=True)
        time.sleep(0)


if __name__ == "__main__":
    serve()
