"""Login flood benchmark: what a crowd of password guessers does to everyone else's reads, and to the server.

Each scenario starts the real app (``api.app.create_app`` served by ``api.server.serve_api`` on 127.0.0.1, port 0)
in a fresh **server subprocess** with a fresh copy of a migrated SQLite database (users seeded from the org chart,
``must_change=False``, all with one real hash to save set-up time; a random secret key; the real argon2id
parameters of ``auth.password_hasher``). Meanwhile
this process reads — ``GET /api/v1/incidents`` with a bearer token and ``GET /healthz``, one request at a time per
endpoint, 20 ms apart — and samples the server's memory from ``/proc/<pid>/status`` (``VmRSS`` every 20 ms; the
peak is the kernel's ``VmHWM`` of the server process, which lives for this scenario only). The guessers run in a
third process (asyncio + httpx, one connection each), posting wrong passwords to ``/login`` as fast as the answers
come back. Scenarios:

- ``baseline``: reads alone;
- ``address-lock``: the guessers try many logins from one address, so the address lock trips (20 failures);
- ``gate-only``: behind ``trusted_proxies=127.0.0.1`` every guess carries a new login and a new X-Forwarded-For
  address, so neither lock trips: what remains is the ``PasswordGate`` (2 hashes at once, a short queue, 503);
- ``no-gate``: the same flood with ``PasswordGate(concurrency=40, queue=1000)`` on ``app.state.password_gate`` —
  the closest honest stand-in for the code before the gate (every guess hashed, up to 40 at once).

Reported per scenario: read latency p50/p95/p99 and its ratio to the baseline, the guessers' status mix, the argon2
computations the server actually ran (counted by a ``PasswordHasher`` subclass with the same parameters), the
most that ran at once, the locks in force afterwards, the most database connections checked out at once, and the
server's RSS (idle and peak) and thread count. Nothing is asserted: the numbers depend on the machine and whatever
else it is doing (load average reported).

``python -m bench login-flood`` runs it alone (``--help`` for options); results also go to
``var/bench/login_flood.json``. ``--db-pool N`` is a diagnostic: the server's engine gets a pool of N connections
instead of the app's 5 + 10 overflow, to see how much of the reads' wait is waiting for a connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import cpu_model, nearest_rank, say

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "var" / "bench"
DEFAULT_DURATION_S = 15.0
DEFAULT_GUESSERS = 40
MAX_GUESSERS = 250  # each guesser's forwarded addresses live in 10.<guesser>.x.y
READ_PAUSE_S = 0.02  # between two reads of one reader: the readers are a light, steady load
READ_TIMEOUT_S = 30.0
WARMUP_READS = 20
SAMPLE_EVERY_S = 0.02
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}  # tests only: same code path, ~1 ms
READS = {"incidents": "/api/v1/incidents", "healthz": "/healthz"}
STATUSES = ("401", "429", "503")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
EXTRA_LOGINS = ("admin", "root", "test", "user", "guest", "operator", "manager", "zhangwei", "liwei", "wangfang",
                "liuyang", "chenli", "yangjie", "zhaojun", "huangmin", "zhouwei")


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    flood: str | None  # None: no guessers; "one-address": many logins from 127.0.0.1; "spread": new login + XFF
    trusted_proxy: bool = False
    gate: tuple[int, int] | None = None  # None: the app's own PasswordGate()


SCENARIOS = (
    Scenario("baseline", "no guessers", None),
    Scenario("address-lock", "many logins from one address (127.0.0.1): the address lock trips after 20 failures",
             "one-address"),
    Scenario("gate-only", "a new login and X-Forwarded-For address every guess (trusted_proxies=127.0.0.1): no lock "
             "trips — the gate alone", "spread", trusted_proxy=True),
    Scenario("no-gate", "as gate-only, with PasswordGate(concurrency=40, queue=1000): stands in for the code before "
             "the gate", "spread", trusted_proxy=True, gate=(40, 1000)),
)


# --- the server subprocess ------------------------------------------------------------------------------------
def _serve(cfg: dict[str, Any]) -> int:
    """Serve the app until stdin closes; answer ``stats`` lines with the hashing counters (JSON lines on stdout)."""
    from argon2 import PasswordHasher
    from sqlalchemy import event

    from api import auth
    from api.app import create_app
    from api.server import bound_port, serve_api
    from incidents.policy import load_policy
    from yuqing.clock import SystemClock
    from yuqing.db import make_engine, make_sessionmaker
    from yuqing.org import load_org
    from yuqing.settings import Settings

    class CountingHasher(PasswordHasher):
        """The same argon2id parameters; counts every hash and verification and the most running at once."""

        def __init__(self, **params: Any):
            super().__init__(**params)
            self.lock = threading.Lock()
            self.computed = self.running = self.peak = 0

        def _counted(self, fn, *args, **kwargs):
            with self.lock:
                self.computed += 1
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.running -= 1

        def hash(self, password, *, salt=None):  # type: ignore[override]
            return self._counted(super().hash, password, salt=salt)

        def verify(self, hash, password):  # type: ignore[override]
            return self._counted(super().verify, hash, password)

    hasher = CountingHasher(**cfg["argon2"])
    auth.password_hasher = hasher
    auth._DUMMY_HASH = cfg["dummy_hash"]  # made by the parent: this process computes no hash at start-up
    settings = Settings(data_dir=Path(cfg["data_dir"]), database_url=cfg["database_url"],
                        trusted_proxies=cfg["trusted_proxies"])  # YUQING_SECRET_KEY comes in the environment
    org = load_org(settings.org_path)
    if cfg["db_pool"]:  # diagnostic only: the app's engine with a bigger pool, everything else as make_engine does
        import yuqing.db

        real_create_engine = yuqing.db.create_engine
        yuqing.db.create_engine = lambda url, **kw: real_create_engine(url, pool_size=cfg["db_pool"], max_overflow=0,
                                                                       **kw)
    engine = make_engine(settings.effective_database_url)
    pool = {"in_use": 0, "peak": 0, "limit": engine.pool.size() + getattr(engine.pool, "_max_overflow", 0)}
    pool_lock = threading.Lock()

    def checked_out(*_: Any) -> None:
        with pool_lock:
            pool["in_use"] += 1
            pool["peak"] = max(pool["peak"], pool["in_use"])

    def checked_in(*_: Any) -> None:
        with pool_lock:
            pool["in_use"] -= 1

    event.listen(engine, "checkout", checked_out)
    event.listen(engine, "checkin", checked_in)
    app = create_app(settings=settings, session_factory=make_sessionmaker(engine), org=org, clock=SystemClock(),
                     policy=load_policy(settings.levels_path, settings.checklists_path), sources=[])
    if cfg["gate"] is not None:
        app.state.password_gate = auth.PasswordGate(concurrency=cfg["gate"][0], queue=cfg["gate"][1])

    def stats() -> str:
        gate = app.state.password_gate
        return json.dumps({"hashes": hasher.computed, "peak_concurrent_hashes": hasher.peak,
                           "gate_refused": gate.refused, "gate": [gate.concurrency, gate.queue],
                           "db_connections_peak": pool["peak"], "db_connections_limit": pool["limit"]})

    async def serve() -> None:
        handle = await serve_api(app, "127.0.0.1", 0)
        print(json.dumps({"port": bound_port(handle[0])}), flush=True)
        while (line := await asyncio.to_thread(sys.stdin.readline)) and line.strip() != "stop":
            print(stats(), flush=True)
        # The scenario is over: exit now, without waiting for the hashes and connection waits of abandoned guesses.
        print(stats(), flush=True)
        os._exit(0)

    asyncio.run(serve())
    return 0


# --- the guessers' subprocess ---------------------------------------------------------------------------------
def _forwarded(guesser: int, n: int) -> str:
    return f"10.{guesser}.{(n >> 8) & 255}.{n & 255}"


def _guess(cfg: dict[str, Any]) -> int:
    """Fetch a CSRF token per guesser, say ``ready``, wait for ``go`` on stdin, then flood for ``duration``."""
    return asyncio.run(_flood(cfg))


async def _flood(cfg: dict[str, Any]) -> int:
    import httpx

    base, n_guessers, mode, logins = cfg["base"], cfg["guessers"], cfg["mode"], cfg["logins"]
    clients = [httpx.AsyncClient(base_url=base, timeout=None, limits=httpx.Limits(max_connections=1))
               for _ in range(n_guessers)]
    tokens = []
    for i, client in enumerate(clients):
        page = await client.get("/login", headers={"X-Forwarded-For": _forwarded(i, 0)} if mode == "spread" else {})
        match = CSRF_RE.search(page.text)
        if match is None:
            raise RuntimeError(f"no CSRF token on /login ({page.status_code})")
        tokens.append(match.group(1))
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    counter = itertools.count()

    async def guesser(i: int) -> None:
        for n in itertools.count():
            k = next(counter)
            if mode == "spread":  # a login and an address never seen before: neither lock can trip
                login, headers = f"flood-{i}-{n}", {"X-Forwarded-For": _forwarded(i, n)}
            else:
                login, headers = logins[k % len(logins)], {}
            t0 = time.perf_counter()
            try:
                r = await clients[i].post("/login", headers=headers, data={
                    "login": login, "password": f"Guess-{k:06d}!", "csrf_token": tokens[i], "next": "/"})
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            statuses[str(r.status_code)] += 1
            latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    tasks = [asyncio.create_task(guesser(i)) for i in range(n_guessers)]
    await asyncio.wait(tasks, timeout=cfg["duration"])  # the guessers never finish on their own
    for task in tasks:
        task.cancel()  # a guess still waiting for its answer is abandoned (its connection closed)
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    latencies.sort()
    print(json.dumps({"answered": sum(statuses.values()), "statuses": dict(statuses), "errors": dict(errors),
                      "per_s": round(sum(statuses.values()) / elapsed, 1), "elapsed_s": round(elapsed, 2),
                      "p50_ms": _pct(latencies, 50), "p99_ms": _pct(latencies, 99)}), flush=True)
    return 0


# --- this process: set up, read, sample, report ---------------------------------------------------------------
class Sampler(threading.Thread):
    """Samples another process's ``VmRSS`` and thread count from /proc every ``SAMPLE_EVERY_S``."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.stop_event = pid, threading.Event()
        self.max_rss_mb, self.max_threads, self.samples = 0.0, 0, 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            status = proc_status(self.pid)
            if status:
                self.max_rss_mb = max(self.max_rss_mb, status["VmRSS"])
                self.max_threads = max(self.max_threads, int(status["Threads"]))
                self.samples += 1
            self.stop_event.wait(SAMPLE_EVERY_S)


def proc_status(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` (MB) and ``Threads`` of a process, from /proc/<pid>/status ({} once it is gone)."""
    out: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) / 1024
                elif key == "Threads":
                    out[key] = int(value)
    except (OSError, ValueError):
        return {}
    return out


class Reader(threading.Thread):
    """Reads one path again and again, one request at a time, ``READ_PAUSE_S`` apart, until told to stop."""

    def __init__(self, base: str, path: str, headers: dict[str, str]):
        super().__init__(daemon=True)
        self.base, self.path, self.headers = base, path, headers
        self.stop_event = threading.Event()
        self.samples: list[tuple[int | None, float]] = []
        self.started_at: float | None = None  # of the request in flight

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.base, headers=self.headers, timeout=READ_TIMEOUT_S) as client:
            while not self.stop_event.is_set():
                self.started_at = t0 = time.perf_counter()
                try:
                    status: int | None = client.get(self.path).status_code
                except httpx.HTTPError:
                    status = None
                self.samples.append((status, (time.perf_counter() - t0) * 1000))
                self.started_at = None
                self.stop_event.wait(READ_PAUSE_S)

    def finish(self) -> dict[str, float | int | None]:
        """Stop; a read still unanswered after a short grace counts with its time so far (a lower bound)."""
        self.stop_event.set()
        self.join(timeout=1.0)
        samples, started = list(self.samples), self.started_at
        ok = [ms for status, ms in samples if status == 200]
        unfinished = [(time.perf_counter() - started) * 1000] if self.is_alive() and started is not None else []
        times = sorted(ok + unfinished)
        return {"n": len(times), "unfinished": len(unfinished), "failed": len(samples) - len(ok),
                "p50_ms": _pct(times, 50), "p95_ms": _pct(times, 95), "p99_ms": _pct(times, 99),
                "max_ms": round(times[-1], 2) if times else None}


class Server:
    """The app in a subprocess of its own (so its RSS is its own, and the clients don't share its GIL)."""

    def __init__(self, cfg: dict[str, Any], secret_key: str, log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115  # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.login_flood", "_serve", json.dumps(cfg)], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            env=dict(os.environ, YUQING_SECRET_KEY=secret_key))
        self.port = int(self._line()["port"])
        self.base = f"http://127.0.0.1:{self.port}"

    def _line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"server subprocess exited ({self.proc.returncode}):\n{self._tail()}")
        return json.loads(line)

    def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return self._line()

    def stop(self) -> dict[str, Any] | None:
        final = None
        try:
            if self.proc.poll() is None:
                assert self.proc.stdin is not None
                self.proc.stdin.close()  # EOF: the server prints its counters once more and exits at once
                final = self._line()
            self.proc.wait(timeout=30)
        except (OSError, ValueError, RuntimeError, subprocess.TimeoutExpired):
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        finally:
            self._log.close()
        return final

    def _tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]


class Guessers:
    def __init__(self, cfg: dict[str, Any]):
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.login_flood", "_guess", json.dumps(cfg)],
                                     cwd=ROOT, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._line()  # ready: every guesser holds a session cookie and its CSRF token

    def _line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"guessers exited ({self.proc.returncode}):\n{self.proc.stderr.read()[-3000:]}")
        return json.loads(line)

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self) -> dict[str, Any]:
        out = self._line()
        self.proc.wait(timeout=30)
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Setup:
    workdir: Path
    template_db: Path
    token: str
    dummy_hash: str
    logins: list[str]
    argon2: dict[str, Any]
    verify_s: float


def prepare(workdir: Path, argon2: dict[str, Any]) -> Setup:
    """A migrated SQLite database with the org chart's users (``must_change=False``) and a bearer token; every
    scenario gets a fresh copy of it. Also the dummy hash (unknown logins are verified against it) and the time of
    one verification with these parameters."""
    from argon2 import PasswordHasher
    from argon2.exceptions import VerifyMismatchError

    from api import auth
    from api.users import create_api_token, seed_users
    from yuqing.clock import SystemClock
    from yuqing.db import make_engine, make_sessionmaker
    from yuqing.migrate import upgrade
    from yuqing.org import load_org
    from yuqing.settings import Settings

    hasher = PasswordHasher(**argon2)
    one_hash = hasher.hash(secrets.token_urlsafe(18))  # every seeded user gets it: one hash instead of one each
    template = workdir / "template.db"
    engine = make_engine(f"sqlite:///{template}")
    upgrade(engine)
    org = load_org(Settings(data_dir=workdir, database_url=f"sqlite:///{template}").org_path)
    clock = SystemClock()
    real_hash_password = auth.hash_password
    auth.hash_password = lambda _password: one_hash  # a real hash with these parameters, just not one per user
    try:
        with make_sessionmaker(engine)() as session:
            users = seed_users(session, org, password="unused", clock=clock, must_change=False)
            token = create_api_token(session, user=users[0], name="bench-login-flood", clock=clock)
            session.commit()
    finally:
        auth.hash_password = real_hash_password
    engine.dispose()  # the last connection closing checkpoints the WAL into the file we copy
    dummy = hasher.hash(secrets.token_hex(16))
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        with contextlib.suppress(VerifyMismatchError):
            hasher.verify(dummy, "not-the-password")
        times.append(time.perf_counter() - t0)
    logins = [p.id for p in org.people] + list(EXTRA_LOGINS)
    return Setup(workdir, template, token, dummy, logins, argon2, sorted(times)[1])


def run_scenario(setup: Setup, scenario: Scenario, *, duration: float, guessers: int,
                 db_pool: int | None = None) -> dict[str, Any]:
    import httpx

    sdir = setup.workdir / scenario.name
    sdir.mkdir()
    shutil.copy(setup.template_db, sdir / "yuqing.db")
    db_url = f"sqlite:///{sdir / 'yuqing.db'}"
    cfg = {"argon2": setup.argon2, "dummy_hash": setup.dummy_hash, "data_dir": str(sdir), "database_url": db_url,
           "trusted_proxies": "127.0.0.1" if scenario.trusted_proxy else "",
           "gate": list(scenario.gate) if scenario.gate else None, "db_pool": db_pool}
    server = Server(cfg, secrets.token_urlsafe(48), sdir / "server.log")
    flood = None
    try:
        auth_header = {"Authorization": f"Bearer {setup.token}"}
        with httpx.Client(base_url=server.base, timeout=READ_TIMEOUT_S) as client:
            for _ in range(WARMUP_READS):
                for path in READS.values():
                    r = client.get(path, headers=auth_header)
                    if r.status_code != 200:
                        raise RuntimeError(f"warm-up GET {path}: {r.status_code} {r.text[:300]}")
        if scenario.flood is not None:
            flood = Guessers({"base": server.base, "guessers": guessers, "mode": scenario.flood,
                              "logins": setup.logins, "duration": duration})
        idle = proc_status(server.proc.pid)
        sampler = Sampler(server.proc.pid)
        readers = {name: Reader(server.base, path, auth_header) for name, path in READS.items()}
        sampler.start()
        if flood is not None:
            flood.go()
        for reader in readers.values():
            reader.start()
        if flood is not None:
            guesses = flood.result()  # returns when the guessers' time is up
        else:
            time.sleep(duration)
            guesses = None
        reads = {name: reader.finish() for name, reader in readers.items()}
        in_window = server.stats()  # before the server finishes the guesses abandoned at the deadline
        sampler.stop_event.set()
        sampler.join()
        end = proc_status(server.proc.pid)
    finally:
        if flood is not None:
            flood.kill()
        final = server.stop()
    return {
        "label": scenario.label, "flood": scenario.flood, "trusted_proxy": scenario.trusted_proxy,
        "gate": in_window["gate"], "reads": reads,
        "guesses": guesses,
        "server": {"hashes": in_window["hashes"], "hashes_at_exit": (final or in_window)["hashes"],
                   "peak_concurrent_hashes": in_window["peak_concurrent_hashes"],
                   "gate_refused": in_window["gate_refused"], "locked": _locks(db_url),
                   "db_connections_peak": in_window["db_connections_peak"],
                   "db_connections_limit": in_window["db_connections_limit"],
                   "rss_idle_mb": round(idle["VmRSS"], 1), "rss_peak_mb": round(end["VmHWM"], 1),
                   "rss_sampled_max_mb": round(sampler.max_rss_mb, 1), "rss_samples": sampler.samples,
                   "threads_idle": int(idle["Threads"]), "threads_peak": sampler.max_threads},
    }


def _locks(db_url: str) -> dict[str, int]:
    """How many logins and addresses are locked out now."""
    from sqlalchemy import select

    from api.models import LoginThrottle
    from yuqing.clock import SystemClock
    from yuqing.db import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            now = SystemClock().now()
            rows = session.scalars(select(LoginThrottle)).all()
            counts = Counter(r.scope for r in rows if r.locked_until is not None and r.locked_until > now)
    finally:
        engine.dispose()
    return {"login": counts.get("login", 0), "address": counts.get("address", 0)}


def run(*, duration: float, guessers: int, scenarios: Sequence[str], argon2: dict[str, Any] | None,
        db_pool: int | None = None) -> dict[str, Any]:
    from api import auth

    default = auth.password_hasher
    params = argon2 or {"time_cost": default.time_cost, "memory_cost": default.memory_cost,
                        "parallelism": default.parallelism, "hash_len": default.hash_len,
                        "salt_len": default.salt_len}
    real = argon2 is None
    result: dict[str, Any] = {"machine": machine(), "duration_s": duration, "guessers": guessers, "db_pool": db_pool,
                              "argon2": params | {"real": real}, "scenarios": {}}
    workdir = Path(tempfile.mkdtemp(prefix="yuqing-bench-flood-"))
    try:
        t0 = time.perf_counter()
        setup = prepare(workdir, params)
        result["argon2"]["verify_s"] = round(setup.verify_s, 4)
        result["setup_s"] = round(time.perf_counter() - t0, 1)
        for scenario in SCENARIOS:
            if scenario.name not in scenarios:
                continue
            say(f"… {scenario.name} ({duration:g} s)")
            t0 = time.perf_counter()
            row = run_scenario(setup, scenario, duration=duration, guessers=guessers, db_pool=db_pool)
            result["scenarios"][scenario.name] = row | {"wall_s": round(time.perf_counter() - t0, 1)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    base = result["scenarios"].get("baseline")
    for row in result["scenarios"].values():
        row["ratios"] = {name: {p: _ratio(row["reads"][name][f"{p}_ms"], base["reads"][name][f"{p}_ms"])
                                for p in ("p50", "p95", "p99")} for name in READS} if base else None
    result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def machine() -> dict[str, Any]:
    mem_mb = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            mem_mb = int(fh.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": cpu_model(),
            "memory_mb": mem_mb, "python": platform.python_version(),
            "load_avg_start": [round(x, 2) for x in os.getloadavg()],
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}


def render(r: dict[str, Any]) -> str:
    m, a, sc = r["machine"], r["argon2"], r["scenarios"]
    cost = (f"argon2id t={a['time_cost']} m={a['memory_cost'] // 1024} MiB p={a['parallelism']}, one verification "
            f"{a['verify_s'] * 1000:.0f} ms")
    lines = [
        f"Login flood — what {r['guessers']} concurrent password guessers do to everyone else",
        f"{cost} ({'the default auth.password_hasher' if a['real'] else 'CHEAP TEST PARAMETERS, not the real cost'}); "
        f"{r['duration_s']:g} s per scenario",
        f"{m['cpus_usable']}/{m['cpus']} CPUs ({m['cpu_model']}), {m['memory_mb']} MB; load average "
        f"{m['load_avg_start'][0]} at start, {m['load_avg_end'][0]} at end (a shared machine: higher means slower)",
        "server: the real app + uvicorn on 127.0.0.1, a fresh subprocess and SQLite copy per scenario"
        + (f"; DIAGNOSTIC: database pool of {r['db_pool']} connections (the app's default: 5 + 10)"
           if r.get("db_pool") else ";"),
        "readers in this process, guessers in a third one — all on the same CPUs",
        "",
        f"Scenarios ({r['guessers']} guessers post wrong passwords to /login, each as soon as its last answer came)",
        *(f"  {name:<14}{row['label']}" for name, row in sc.items()),
        "",
        "Reads during the scenario (one request at a time per endpoint, 20 ms apart)",
        f"  {'scenario':<14}{'read':<22}{'n':>6}{'unans.':>7}{'failed':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'p50 ×':>9}{'p95 ×':>9}{'p99 ×':>9}   (× = vs baseline)",
    ]
    for name, row in sc.items():
        for i, (read, path) in enumerate(READS.items()):
            s = row["reads"][read]
            ratios = row["ratios"][read] if row["ratios"] and name != "baseline" else {}
            lines.append(f"  {name if i == 0 else '':<14}{'GET ' + path:<22}{s['n']:>6}{s['unfinished']:>7}"
                         f"{s['failed']:>7}"
                         + "".join(f"{_ms(s[p + '_ms']):>9}" for p in ("p50", "p95", "p99"))
                         + "".join(f"{_x(ratios.get(p)):>9}" for p in ("p50", "p95", "p99")))
    lines += [
        "  n: reads in the percentiles; unans.: a read still unanswered when the scenario ended, counted with its",
        "  time so far (a lower bound); failed: errors and non-200 answers, left out of the percentiles.",
        "",
        "Guessers and the server",
        f"  {'scenario':<14}{'guesses':>8}{'/s':>6}{'401':>7}{'429':>7}{'503':>7}{'other':>6}"
        f"{'answer p50/p99 ms':>19}{'hashes':>8}{'≤ at once':>10}{'locked l/a':>11}"
        f"{'DB conns':>9}{'RSS idle':>10}{'peak RSS':>10}{'threads':>8}",
    ]
    for name, row in sc.items():
        g, s = row["guesses"], row["server"]
        if g is None:
            guess = f"{'—':>8}{'—':>6}{'—':>7}{'—':>7}{'—':>7}{'—':>6}{'—':>19}"
        else:
            other = g["answered"] - sum(g["statuses"].get(k, 0) for k in STATUSES) + sum(g["errors"].values())
            mix = "".join(f"{g['statuses'].get(k, 0):>7}" for k in STATUSES)
            guess = (f"{g['answered']:>8}{g['per_s']:>6.0f}{mix}{other:>6}"
                     f"{_ms(g['p50_ms']) + '/' + _ms(g['p99_ms']):>19}")
        lines.append(f"  {name:<14}{guess}{s['hashes']:>8}{s['peak_concurrent_hashes']:>10}"
                     f"{str(s['locked']['login']) + '/' + str(s['locked']['address']):>11}"
                     f"{str(s['db_connections_peak']) + '/' + str(s['db_connections_limit']):>9}"
                     f"{s['rss_idle_mb']:>8.0f}MB{s['rss_peak_mb']:>8.0f}MB{s['threads_peak']:>8}")
    lines += [
        "  guesses: answers the guessers got (other: errors and any other status); hashes: argon2 verifications the",
        "  server ran while they were at it (counted by a PasswordHasher subclass with the same parameters);",
        "  ≤ at once: the most running at one moment; locked l/a: logins / addresses locked out afterwards;",
        "  DB conns: most database connections checked out at once / the pool's limit (a request beyond it waits",
        "  for one); peak RSS: the server process's VmHWM (it lives for this scenario only), RSS idle just before;",
        "  threads: the server's most (VmRSS and Threads sampled from /proc/<pid>/status every 20 ms).",
    ]
    if "no-gate" in sc:
        gate = sc["no-gate"]["gate"]
        lines += [
            f"  no-gate: PasswordGate(concurrency={gate[0]}, queue={gate[1]}) set on app.state.password_gate is the "
            "closest honest",
            "  stand-in for the code before the gate (every guess hashed, up to 40 at once), not the same: the old "
            "code hashed in",
            "  the 40-thread pool that also serves reads, so reads queued for a thread too; here hashes get threads "
            "of their own.",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["_serve"]:
        return _serve(json.loads(args_in[1]))
    if args_in[:1] == ["_guess"]:
        return _guess(json.loads(args_in[1]))
    parser = argparse.ArgumentParser(prog="python -m bench login-flood", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION_S,
                        help=f"seconds per scenario (default {DEFAULT_DURATION_S:g})")
    parser.add_argument("--guessers", type=int, default=DEFAULT_GUESSERS,
                        help=f"concurrent guessing clients (default {DEFAULT_GUESSERS})")
    parser.add_argument("--scenarios", default=",".join(s.name for s in SCENARIOS),
                        help="comma-separated subset (default: all; ratios need baseline)")
    parser.add_argument("--cheap-argon2", action="store_true",
                        help="tiny argon2 parameters (for tests: the numbers then say nothing about the real cost)")
    parser.add_argument("--db-pool", type=int, default=None, metavar="N",
                        help="diagnostic: the server's database pool holds N connections (the app's default is 5 + "
                             "10 overflow), to see what waiting for a connection costs the reads")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "login_flood.json")
    args = parser.parse_args(args_in)
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(names) - {s.name for s in SCENARIOS}
    if unknown or not names:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}" if unknown else "no scenario")
    if args.db_pool is not None and args.db_pool < 1:
        parser.error("--db-pool must be at least 1")
    if not 1 <= args.guessers <= MAX_GUESSERS:
        parser.error(f"--guessers must be 1–{MAX_GUESSERS}")
    t0 = time.perf_counter()
    result = run(duration=args.duration, guessers=args.guessers, scenarios=names,
                 argon2=dict(CHEAP_ARGON2) if args.cheap_argon2 else None, db_pool=args.db_pool)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(render(result))
    print(f"\n({result['wall_s']} s; written to {args.out})")
    return 0


def _pct(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when there are none)."""
    if not sorted_values:
        return None
    return round(nearest_rank(sorted_values, pct), 2)


def _ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 2) if value is not None and base else None


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _x(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}×" if value < 100 else f"{value:.0f}×"




if __name__ == "__main__":
    raise SystemExit(main())
