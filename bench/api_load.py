"""API throughput: how many requests per second ``yuqing api`` serves with p99 under 300 ms, by worker processes.

``python -m bench api-load`` starts the real ``yuqing api --workers W`` (``bench.serve``) for W in ``--workers``
(default 1 2 3) on PostgreSQL (the ``bench.bulk_load`` data set of ``--articles``, default 100,000) and on SQLite
(``--sqlite-articles`` of those articles, default 20,000, copied into a migrated SQLite file with its FTS5
index built by ``crawlers.search_index``), and drives it with C concurrent clients for C in ``--clients``
(default 8 16 32 64), ``--seconds`` each (default 15), after a warm-up. Each client (httpx, async, its own
connection) sends its next request as soon as the previous answer came (a closed loop), as the admin or the
sub-branch liaison by turns, each with a bearer token, picking from a fixed mix of list and detail reads
(:data:`MIX`). Reported per (database, workers, clients): requests/s, p50 / p95 / p99 ms, errors; and per
(database, workers) the highest requests/s whose p99 stayed under 300 ms. The load generator runs on the same two
cores as the server (one process, about a third of a core at 200 requests/s): a real client elsewhere would leave
the server more. Results: ``bench/results/api_load.json`` and ``.md``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

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


async def drive(base: str, tokens: list[str], ids: dict[str, list[int]], clients: int, seconds: float,
                seed: int = 5) -> dict[str, Any]:
    """``clients`` closed-loop clients for ``seconds``; latencies of the requests that finished in that window."""
    paths = [p for w, p in MIX for _ in range(w)]
    times: list[float] = []
    errors: dict[str, int] = {}
    stop_at = time.perf_counter() + seconds

    async def client(n: int) -> None:
        rnd = random.Random(seed * 1000 + n)
        headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as http:
            while time.perf_counter() < stop_at:
                path = rnd.choice(paths).format(incident=rnd.choice(ids["incident"]), story=rnd.choice(ids["story"]))
                t0 = time.perf_counter()
                try:
                    r = await http.get(path)
                    ok = r.status_code == 200
                    key = str(r.status_code)
                except httpx.HTTPError as exc:
                    ok, key = False, type(exc).__name__
                if time.perf_counter() <= stop_at:
                    times.append((time.perf_counter() - t0) * 1000)
                    if not ok:
                        errors[key] = errors.get(key, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = min(time.perf_counter() - t0, seconds)
    times.sort()
    if not times:
        return {"clients": clients, "requests": 0, "rps": 0.0, "errors": errors}
    return {"clients": clients, "requests": len(times), "rps": round(len(times) / elapsed, 1),
            "p50": round(nearest_rank(times, 50), 1), "p95": round(nearest_rank(times, 95), 1),
            "p99": round(nearest_rank(times, 99), 1), "errors": errors}


def run_db(label: str, db_url: str, *, workers: list[int], clients: list[int], seconds: float) -> list[dict]:
    ids = detail_ids(db_url)
    out = []
    for w in workers:
        with ApiServer(db_url, workers=w) as server:
            creds = credentials(db_url, server.secret_key, LOGINS)
            tokens = [creds.tokens[login] for login in LOGINS]
            asyncio.run(drive(server.base, tokens, ids, 4, 3.0))  # warm-up: connections, caches, plans
            for c in clients:
                say(f"  {label}: {w} worker(s), {c} clients")
                row = asyncio.run(drive(server.base, tokens, ids, c, seconds))
                row.update(db=label, workers=w, load=round(os.getloadavg()[0], 1))
                say(f"    {row['rps']} req/s, p99 {row.get('p99')} ms, errors {row['errors']}")
                out.append(row)
    return out


def markdown(result: dict[str, Any]) -> str:
    m = result["meta"]
    lines = [f"# API throughput ({m['date']})", "",
             f"{m['cpu']}, load average {m['load_start']} → {m['load_end']}; PostgreSQL with {m['articles']:,} "
             f"articles, SQLite with {m['sqlite_articles']:,}; {m['seconds']} s per row; closed-loop clients, "
             "mix of list and detail reads with bearer tokens (admin and a sub-branch liaison).", "",
             "| database | workers | clients | req/s | p50 ms | p95 ms | p99 ms | errors |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['db']} | {r['workers']} | {r['clients']} | {r['rps']} | {r.get('p50')} | {r.get('p95')} "
                     f"| {r.get('p99')} | {sum(r['errors'].values())} |")
    lines += ["", f"Best requests/s with p99 < {P99_TARGET_MS:.0f} ms:", "",
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
    p.add_argument("--out", type=Path, default=OUT_DIR / "api_load.json")
    args = p.parse_args(argv)
    load_start = round(os.getloadavg()[0], 1)
    pg_url = bulk_load.default_url(args.articles)
    if why := bulk_load.unreachable(pg_url):  # the SQLite copy is made from the PostgreSQL data set too
        print(f"api-load skipped: {why}")
        return 0
    bulk_load.load(pg_url, articles=args.articles)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="yuqing-api-load-") as tmp:
        if args.db in ("sqlite", "both"):
            say(f"copying {args.sqlite_articles:,} articles into SQLite")
            sqlite_url = sqlite_copy(pg_url, Path(tmp) / "bench.db", args.sqlite_articles)
            rows += run_db("SQLite", sqlite_url, workers=args.workers, clients=args.clients, seconds=args.seconds)
        if args.db in ("postgresql", "both"):
            rows += run_db("PostgreSQL", pg_url, workers=args.workers, clients=args.clients, seconds=args.seconds)
    best: dict[str, Any] = {}
    for r in rows:
        key = f"{r['db']}/{r['workers']}"
        ok = r.get("p99") is not None and r["p99"] < P99_TARGET_MS and not r["errors"]
        if ok and (best.get(key) is None or r["rps"] > best[key]["rps"]):
            best[key] = r
        best.setdefault(key, None)
    result = {"rows": rows, "best": best, "meta": {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu_model(), "articles": args.articles,
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
