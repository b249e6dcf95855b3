"""API throughput: how many requests per second ``yuqing api`` serves with p99 under 300 ms, by worker processes.

``python -m bench api-load`` starts the real ``yuqing api --workers W`` (``bench.serve``) for W in ``--workers``
(default 1 2 3) on PostgreSQL (the ``bench.bulk_load`` data set of ``--articles``, default 100,000) and on SQLite
(``--sqlite-articles`` of those articles, default 20,000, copied into a migrated SQLite file with its FTS5
index built by ``crawlers.search_index``); ``--db`` picks one of them. Per worker count, after a 3 s warm-up, it
first measures the baseline — ``GET /healthz`` (one database round trip) with ``--baseline-clients`` clients — and
then the mix with C concurrent clients for C in ``--clients`` (default 8 16 32 64), ``--seconds`` each (default
15). Each client (:class:`RawClient`: one keep-alive HTTP/1.1 connection spoken by hand on asyncio streams, far
cheaper than an httpx client) sends its next request as soon as the previous answer came (a closed loop), as the
admin or the sub-branch liaison by turns, each with a bearer token, picking from a fixed mix of list and detail
reads (:data:`MIX`). A 503 (the server's admission limit, ``api.admission``) counts as an error and the client
waits the Retry-After second before its next request.

Reported per row: requests/s, p50 / p95 / p99 ms, errors, the ratio to the baseline's requests/s, the server's CPU
per request and share of a core (user + system time of the server's process group, from /proc), the load
generator's own CPU per request and share of a core (it runs on the same cores: what it uses, the server does not
get), and the load average before and after; per (database, workers) the highest requests/s of the mix whose p99
stayed under 300 ms with no errors. Results: ``bench/results/api_load.json`` and ``.md`` (``--out``). Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import bulk_load
from bench.common import cpu_model, nearest_rank, say
from bench.serve import ApiServer, credentials

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "results"
P99_TARGET_MS = 300.0
LOGINS = ["admin", "zhoufang"]
# (weight, path template): the lists people open most, and the details they click into
MIX: list[tuple[int, str]] = [
    (3, "/api/v1/articles?sort=time&limit=20"),
    (1, "/api/v1/articles?limit=20"),
    (2, "/api/v1/alerts?limit=20"),
    (1, "/api/v1/incidents?limit=20"),
    (1, "/api/v1/stories?limit=20"),
    (1, "/api/v1/mentions?limit=20"),
    (1, "/api/v1/incidents/{incident}"),
    (1, "/api/v1/stories/{story}"),
]
COPY_TABLES = ["stories", "articles", "mentions", "classifications", "story_risks", "incidents", "alerts",
               "timeline_events", "tasks"]


def sqlite_copy(pg_url: str, path: Path, articles: int) -> str:
    """A migrated SQLite database holding the first ``articles`` articles of the PostgreSQL data set (their stories,
    mentions, classifications, risks, and the alerts and incidents of those stories), search index built."""
    from sqlalchemy import MetaData, insert, select

    from crawlers import search_index
    from yuqing.clock import SystemClock
    from yuqing.db import make_engine
    from yuqing.migrate import upgrade

    url = f"sqlite:///{path}"
    dst = make_engine(url)
    upgrade(dst)
    src = make_engine(pg_url)
    meta = MetaData()
    meta.reflect(src, only=COPY_TABLES)
    with src.connect() as s, dst.begin() as d:
        last = s.execute(select(meta.tables["articles"].c.id).order_by(meta.tables["articles"].c.id)
                         .offset(articles - 1).limit(1)).scalar() or articles
        stories = select(meta.tables["articles"].c.story_id).where(meta.tables["articles"].c.id <= last)
        incidents = select(meta.tables["incidents"].c.id).where(meta.tables["incidents"].c.story_id.in_(stories))
        where = {"stories": lambda t: t.c.id.in_(stories), "articles": lambda t: t.c.id <= last,
                 "mentions": lambda t: t.c.article_id <= last, "classifications": lambda t: t.c.article_id <= last,
                 "story_risks": lambda t: t.c.story_id.in_(stories),
                 "incidents": lambda t: t.c.story_id.in_(stories), "alerts": lambda t: t.c.story_id.in_(stories),
                 "timeline_events": lambda t: t.c.incident_id.in_(incidents),
                 "tasks": lambda t: t.c.incident_id.in_(incidents)}
        for name in COPY_TABLES:
            table = meta.tables[name]
            rows = [dict(r._mapping) for r in s.execute(select(table).where(where[name](table)))]
            for i in range(0, len(rows), 5000):
                d.execute(insert(table), rows[i:i + 5000])
    from sqlalchemy.orm import Session

    with Session(dst) as session:
        search_index.index_pending(session, clock=SystemClock())
    src.dispose()
    dst.dispose()
    bulk_load._seed_users(url)
    return url


def detail_ids(db_url: str) -> dict[str, list[int]]:
    """Incidents and stories the liaison may open too (光明路支行 and below), so every detail read is a 200."""
    from sqlalchemy import select

    from crawlers.models import Story
    from incidents.models import Incident
    from yuqing.db import make_engine
    from yuqing.org import load_org
    from yuqing.settings import load_settings

    org = load_org(load_settings().org_path)
    units = ["guangminglu", *(u.id for u in org.descendants("guangminglu"))]
    engine = make_engine(db_url)
    with engine.connect() as c:
        incidents = list(c.scalars(select(Incident.id).where(Incident.unit_id.in_(units)).limit(50)))
        stories = list(c.scalars(select(Story.id).where(Story.unit_id.in_(units)).order_by(Story.id.desc())
                                 .limit(200)))
    engine.dispose()
    return {"incident": incidents or [1], "story": stories or [1]}


class RawClient:
    """One keep-alive HTTP/1.1 connection spoken by hand on asyncio streams: a GET and its answer, nothing else.

    Why not httpx: the load generator runs on the same two cores as the server, so every microsecond it spends is
    taken from the server. This client writes a pre-built request and reads the status line, the headers and a
    Content-Length or chunked body; its CPU per request is in every row of the results."""

    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items()).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.head + b"\r\n")
        try:
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("server closed the connection")
            status = int(status_line.split(b" ", 2)[1])
            length, chunked, close = -1, False, False
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and b"close" in value.lower():
                    close = True
            if chunked:
                parts = []
                while (size := int((await self.reader.readline()).split(b";")[0], 16)) > 0:
                    parts.append(await self.reader.readexactly(size + 2))
                await self.reader.readline()
                body = b"".join(p[:-2] for p in parts)
            elif length >= 0:
                body = await self.reader.readexactly(length)
            else:
                body, close = await self.reader.read(), True
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def drive(base: str, tokens: list[str], ids: dict[str, list[int]], clients: int, seconds: float,
                seed: int = 5, paths: list[str] | None = None) -> dict[str, Any]:
    """``clients`` closed-loop clients for ``seconds``; latencies of the requests that finished in that window, and
    the CPU this load generator used meanwhile (its share of the cores the server did not get).

    ``paths``: request these (``/healthz`` for the baseline) instead of the mix."""
    if paths is None:
        paths = [p for w, p in MIX for _ in range(w)]
    host, port = base.removeprefix("http://").split(":")
    times: list[float] = []
    errors: dict[str, int] = {}
    retry_after = 0
    stop_at = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal retry_after
        rnd = random.Random(seed * 1000 + n)
        http = RawClient(host, int(port), {"Authorization": f"Bearer {tokens[n % len(tokens)]}"})
        try:
            while time.perf_counter() < stop_at:
                path = rnd.choice(paths).format(incident=rnd.choice(ids["incident"]), story=rnd.choice(ids["story"]))
                t0 = time.perf_counter()
                try:
                    code, _ = await asyncio.wait_for(http.get(path), timeout=30)
                    ok, key = code == 200, str(code)
                except (OSError, ConnectionError, ValueError, IndexError, TimeoutError,
                        asyncio.IncompleteReadError) as exc:
                    ok, key, code = False, type(exc).__name__, 0
                if time.perf_counter() <= stop_at:
                    times.append((time.perf_counter() - t0) * 1000)
                    if not ok:
                        errors[key] = errors.get(key, 0) + 1
                if code == 503:  # the server's admission limit turned it away: wait as told (Retry-After: 1)
                    retry_after += 1
                    await asyncio.sleep(1.0)
        finally:
            await http.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - t0
    elapsed = min(wall, seconds)
    times.sort()
    row: dict[str, Any] = {"clients": clients, "requests": len(times), "rps": 0.0, "errors": errors,
                           "client_cpu_share": round(cpu / wall, 2),
                           "client_cpu_us_per_request": round(cpu / max(1, len(times)) * 1e6)}
    if times:
        row.update(rps=round(len(times) / elapsed, 1), p50=round(nearest_rank(times, 50), 1),
                   p95=round(nearest_rank(times, 95), 1), p99=round(nearest_rank(times, 99), 1))
    return row


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in process group ``pgid`` (the server and its workers),
    from /proc; 0.0 where /proc is not there."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else []:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the command: state ppid pgrp … utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / tick


def measured(server: ApiServer, tokens: list[str], ids: dict[str, list[int]], clients: int, seconds: float,
             paths: list[str] | None = None) -> dict[str, Any]:
    """One row: ``drive`` plus the server's CPU per request and the load average before and after."""
    assert server.proc is not None
    load_before = round(os.getloadavg()[0], 1)
    cpu0 = group_cpu_seconds(server.proc.pid)
    row = asyncio.run(drive(server.base, tokens, ids, clients, seconds, paths=paths))
    cpu = group_cpu_seconds(server.proc.pid) - cpu0
    row.update(server_cpu_ms_per_request=round(cpu * 1000 / max(1, row["requests"]), 2),
               server_cpu_share=round(cpu / seconds, 2), load_before=load_before,
               load=round(os.getloadavg()[0], 1))
    return row


def run_db(label: str, db_url: str, *, workers: list[int], clients: list[int], seconds: float,
           baseline_clients: int) -> list[dict]:
    """Per worker count: the ``/healthz`` baseline, then the mix at each client count (ratio to the baseline)."""
    ids = detail_ids(db_url)
    out = []
    for w in workers:
        with ApiServer(db_url, workers=w) as server:
            creds = credentials(db_url, server.secret_key, LOGINS)
            tokens = [creds.tokens[login] for login in LOGINS]
            asyncio.run(drive(server.base, tokens, ids, 4, 3.0))  # warm-up: connections, caches, plans
            say(f"  {label}: {w} worker(s), /healthz baseline, {baseline_clients} clients")
            base = measured(server, tokens, ids, baseline_clients, seconds, paths=["/healthz"])
            base.update(db=label, workers=w, kind="healthz")
            say(f"    {base['rps']} req/s, p99 {base.get('p99')} ms, server {base['server_cpu_ms_per_request']} "
                f"ms CPU/request, errors {base['errors']}")
            out.append(base)
            for c in clients:
                say(f"  {label}: {w} worker(s), {c} clients")
                row = measured(server, tokens, ids, c, seconds)
                row.update(db=label, workers=w, kind="mix",
                           vs_healthz=round(row["rps"] / base["rps"], 2) if base["rps"] else None)
                say(f"    {row['rps']} req/s, p99 {row.get('p99')} ms, server {row['server_cpu_ms_per_request']} ms "
                    f"CPU/request, client {row['client_cpu_us_per_request']} µs, errors {row['errors']}")
                out.append(row)
    return out


def per_route(label: str, db_url: str, *, workers: int, clients: int = 4, seconds: float = 5.0) -> list[dict]:
    """Each path of the mix alone (and ``/healthz``): the server's CPU per request, route by route."""
    ids = detail_ids(db_url)
    out = []
    with ApiServer(db_url, workers=workers) as server:
        creds = credentials(db_url, server.secret_key, LOGINS)
        tokens = [creds.tokens[login] for login in LOGINS]
        asyncio.run(drive(server.base, tokens, ids, 4, 3.0))
        for path in ["/healthz", *(p for _, p in MIX)]:
            row = measured(server, tokens, ids, clients, seconds, paths=[path])
            row.update(db=label, workers=workers, kind="route", path=path)
            say(f"  {label}: {path}: {row['rps']} req/s, server {row['server_cpu_ms_per_request']} ms CPU/request")
            out.append(row)
    return out


def hop_cost(requests: int = 1500, rounds: int = 4) -> dict[str, list[float]]:
    """CPU µs per request of a trivial synchronous JSON route in-process (no HTTP), with FastAPI's own route class
    and with ``api.routing.OneHopRoute``, alternating: what the second worker-thread hop costs on this machine."""
    from fastapi import APIRouter, FastAPI
    from fastapi.routing import APIRoute
    from pydantic import BaseModel

    from api.routing import OneHopRoute

    class Item(BaseModel):
        id: int
        name: str

    def app_with(route_class: type[APIRoute]) -> FastAPI:
        router = APIRouter(route_class=route_class)

        @router.get("/items/{item_id}", response_model=Item)
        def get_item(item_id: int) -> Item:
            return Item(id=item_id, name="x")

        app = FastAPI()
        app.include_router(router)
        return app

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/items/7", "raw_path": b"/items/7", "query_string": b"", "headers": [],
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        pass

    async def run(app: FastAPI, n: int) -> float:
        cpu0 = time.process_time()
        for _ in range(n):
            await app(dict(scope), receive, send)
        return (time.process_time() - cpu0) / n * 1e6

    async def compare() -> dict[str, list[float]]:
        apps = {"APIRoute": app_with(APIRoute), "OneHopRoute": app_with(OneHopRoute)}
        for app in apps.values():
            await run(app, 200)  # warm-up
        out: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(rounds):
            for name, app in apps.items():
                out[name].append(round(await run(app, requests)))
        return out

    return asyncio.run(compare())


def markdown(result: dict[str, Any]) -> str:
    m = result["meta"]
    lines = [f"# API throughput ({m['date']})", "",
             f"{m['cpu']}, {m['cores']} cores, load average {m['load_start']} → {m['load_end']}; "
             + ", ".join(f"{db} with {n:,} articles" for db, n in (("PostgreSQL", m["articles"]),
                                                                 ("SQLite", m["sqlite_articles"]))
                         if any(r["db"] == db for r in result["rows"]))
             + f"; {m['seconds']} s per row; closed-loop clients on raw keep-alive HTTP/1.1 connections, a mix of "
             "list and detail reads with bearer tokens (admin and a sub-branch liaison); `healthz` rows are the "
             "baseline (`GET /healthz`, one database round trip) measured in the same run.", "",
             f"Command: `{m['command']}`", "",
             "| database | workers | what | clients | req/s | × healthz | p50 ms | p95 ms | p99 ms | errors "
             "| server CPU ms/req | server cores | client µs/req | client cores | load before → after |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['db']} | {r['workers']} | {r.get('kind', 'mix')} | {r['clients']} | {r['rps']} | "
                     f"{r.get('vs_healthz') or '—'} | {r.get('p50')} | {r.get('p95')} | {r.get('p99')} | "
                     f"{sum(r['errors'].values())} | {r.get('server_cpu_ms_per_request')} | "
                     f"{r.get('server_cpu_share')} | {r.get('client_cpu_us_per_request')} | "
                     f"{r.get('client_cpu_share')} | {r.get('load_before')} → {r.get('load')} |")
    if result.get("routes"):
        lines += ["", "Per route (each path alone):", "", "| database | workers | path | clients | req/s | p50 ms "
                  "| server CPU ms/req | load before → after |", "|---|---|---|---|---|---|---|---|"]
        for r in result["routes"]:
            lines.append(f"| {r['db']} | {r['workers']} | `{r['path']}` | {r['clients']} | {r['rps']} | {r.get('p50')} "
                         f"| {r['server_cpu_ms_per_request']} | {r['load_before']} → {r['load']} |")
    if result.get("hop_cost"):
        lines += ["", "CPU µs per request of a trivial sync route in-process, per round: " + "; ".join(
            f"{name} {values}" for name, values in result["hop_cost"].items())]
    lines += ["", f"Best requests/s of the mix with p99 < {P99_TARGET_MS:.0f} ms and no errors:", "",
              "| database | workers | req/s | at clients | p99 ms |", "|---|---|---|---|---|"]
    for key, best in result["best"].items():
        db, w = key.split("/")
        lines.append(f"| {db} | {w} | {best['rps'] if best else '—'} | {best['clients'] if best else '—'} | "
                     f"{best['p99'] if best else '—'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench api-load", description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", type=int, default=int(os.environ.get("YUQING_BENCH_LOAD_ARTICLES", "100000")))
    p.add_argument("--sqlite-articles", type=int, default=20_000)
    p.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--clients", type=int, nargs="+", default=[8, 16, 32, 64])
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--baseline-clients", type=int, default=16, help="clients for the /healthz baseline")
    p.add_argument("--per-route", action="store_true",
                   help="also each path of the mix alone (4 clients, 5 s, first of --workers), per database")
    p.add_argument("--hop-cost", action="store_true",
                   help="also the in-process CPU of a trivial route with FastAPI's route class and OneHopRoute")
    p.add_argument("--out", type=Path, default=OUT_DIR / "api_load.json")
    args = p.parse_args(argv)
    load_start = round(os.getloadavg()[0], 1)
    pg_url = bulk_load.default_url(args.articles)
    if why := bulk_load.unreachable(pg_url):  # the SQLite copy is made from the PostgreSQL data set too
        print(f"api-load skipped: {why}")
        return 0
    bulk_load.load(pg_url, articles=args.articles)
    rows: list[dict] = []
    routes: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="yuqing-api-load-") as tmp:
        if args.db in ("sqlite", "both"):
            say(f"copying {args.sqlite_articles:,} articles into SQLite")
            sqlite_url = sqlite_copy(pg_url, Path(tmp) / "bench.db", args.sqlite_articles)
            rows += run_db("SQLite", sqlite_url, workers=args.workers, clients=args.clients, seconds=args.seconds,
                           baseline_clients=args.baseline_clients)
            if args.per_route:
                routes += per_route("SQLite", sqlite_url, workers=args.workers[0])
        if args.db in ("postgresql", "both"):
            rows += run_db("PostgreSQL", pg_url, workers=args.workers, clients=args.clients, seconds=args.seconds,
                           baseline_clients=args.baseline_clients)
            if args.per_route:
                routes += per_route("PostgreSQL", pg_url, workers=args.workers[0])
    best: dict[str, Any] = {}
    for r in rows:
        if r.get("kind") != "mix":
            continue
        key = f"{r['db']}/{r['workers']}"
        ok = r.get("p99") is not None and r["p99"] < P99_TARGET_MS and not r["errors"]
        if ok and (best.get(key) is None or r["rps"] > best[key]["rps"]):
            best[key] = r
        best.setdefault(key, None)
    result = {"rows": rows, "routes": routes, "hop_cost": hop_cost() if args.hop_cost else None,
              "best": best, "meta": {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu_model(), "cores": os.cpu_count(),
        "command": "python -m bench api-load " + " ".join(sys.argv[1:] if argv is None else argv),
        "articles": args.articles,
        "sqlite_articles": args.sqlite_articles, "seconds": args.seconds, "load_start": load_start,
        "load_end": round(os.getloadavg()[0], 1), "mix": MIX}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    md = markdown(result)
    args.out.with_suffix(".md").write_text(md + "\n", encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
