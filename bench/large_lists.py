"""List and search latency with many articles in PostgreSQL: the pages and API lists people use all day.

``python -m bench large-lists`` loads (or reuses) the data set of ``bench.bulk_load`` — ``--articles`` (default
100,000; ``YUQING_BENCH_ARTICLES`` overrides the default, e.g. 1000000 for the issue's figure) — starts the real
``yuqing api`` on it (``bench.serve``), and requests every route below one at a time (after a warm-up), as an
admin (whole branch) and as a sub-branch liaison (``zhoufang``: 光明路支行 and its outlets only), timing each
response end to end over HTTP: p50 / p95 / p99 and the ratio of p50 to the baseline ``/healthz`` measured in the
same run. Also the second page of ``/api/v1/articles`` (keyset cursor) and a story page of a large story. The
first request of each route and user is reported apart ("first"): the mentions page keeps its charts for a minute
(``api.mentions.ChartCache``), so the first view of a filter pays for them and the timed ones after it do not.

Results: ``bench/results/large_lists_<N/1000>k.json`` and ``.md``. Targets (issues 13 and 15): p95 < 100 ms for
the mentions page (search and lists), the alert and incident lists and the feed. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import httpx

from bench import bulk_load
from bench.common import cpu_model, nearest_rank, say
from bench.serve import ApiServer, credentials

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "results"
USERS = {"admin": "admin（全分行）", "zhoufang": "zhoufang（支行联络人）"}
TARGET_MS = 100.0

# (name, path, kind) — kind "page" uses the session cookie, "api" the bearer token
ROUTES: list[tuple[str, str, str]] = [
    ("healthz (baseline)", "/healthz", "none"),
    ("mentions page", "/mentions", "page"),
    ("mentions page, by time", "/mentions?sort=time", "page"),
    ("mentions page, search 挤兑", "/mentions?q=挤兑", "page"),
    ("mentions page, search 新华路 + negative", "/mentions?q=新华路&sentiment=negative", "page"),
    # two words that name a few quiet stories (3,872 matches for the liaison over a million articles, few of them
    # among the riskiest): the case a walk down the risk order reads longest for (api.mentions.head_walk)
    ("mentions page, search 挤兑 新华路", "/mentions?q=挤兑+新华路", "page"),
    ("mentions page, filters (social, negative, 30 days)", "/mentions?channel=social&sentiment=negative"
     "&since=2026-11-01&until=2026-11-30", "page"),
    ("alerts page", "/alerts", "page"),
    ("incidents page", "/incidents", "page"),
    ("story page", "/stories/{story}", "page"),
    ("/api/v1/articles", "/api/v1/articles", "api"),
    ("/api/v1/articles?sort=time", "/api/v1/articles?sort=time", "api"),
    ("/api/v1/articles page 2", "{articles_page2}", "api"),
    ("/api/v1/mentions", "/api/v1/mentions", "api"),
    ("/api/v1/alerts", "/api/v1/alerts", "api"),
    ("/api/v1/incidents", "/api/v1/incidents", "api"),
]


def big_story(db_url: str, unit_ids: list[str]) -> int:
    """The id of the largest story about one of ``unit_ids`` (the story page's worst case)."""
    import psycopg

    with psycopg.connect(bulk_load.pg_dsn(db_url)) as conn:
        row = conn.execute("SELECT id FROM stories WHERE unit_id = ANY(%s) ORDER BY article_count DESC, id LIMIT 1",
                           (unit_ids,)).fetchone()
    return int(row[0]) if row else 1


def measure(client: httpx.Client, path: str, headers: dict[str, str], cookies: dict[str, str], n: int,
            warmup: int, budget: float) -> dict[str, Any]:
    """``n`` timed requests after ``warmup``; stops early (fewer than ``n``, ``n`` says how many) once the timed
    ones have taken ``budget`` seconds, so a slow route cannot stretch the run for an hour."""
    times: list[float] = []
    cold: float | None = None
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    for i in range(warmup + n):
        if i > warmup and time.perf_counter() - started > budget:
            break
        if i == warmup:
            started = time.perf_counter()
        t0 = time.perf_counter()
        r = client.get(path, headers=headers, cookies=cookies)
        ms = (time.perf_counter() - t0) * 1000
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        if cold is None:
            cold = ms  # the first request of this route and user: nothing cached yet (the charts, the plans)
        if i >= warmup:
            times.append(ms)
    times.sort()
    return {"n": len(times), "cold": round(cold or 0.0, 1),
            "p50": round(nearest_rank(times, 50), 1), "p95": round(nearest_rank(times, 95), 1),
            "p99": round(nearest_rank(times, 99), 1), "max": round(times[-1], 1), "statuses": statuses}


def run(db_url: str, *, articles: int, n: int, warmup: int, workers: int, budget: float,
        server_argv: list[str] | None = None, upgrade: bool = True, routes: list[str] | None = None,
        users: list[str] | None = None) -> dict[str, Any]:
    from yuqing.org import load_org
    from yuqing.settings import load_settings

    load_info = bulk_load.load(db_url, articles=articles, upgrade=upgrade)
    org = load_org(load_settings().org_path)
    liaison_units = ["guangminglu", *(u.id for u in org.descendants("guangminglu"))]
    results: dict[str, Any] = {"load": load_info, "users": {}}
    with ApiServer(db_url, workers=workers, argv=server_argv) as server:
        creds = credentials(db_url, server.secret_key, list(USERS))
        with httpx.Client(base_url=server.base, timeout=60) as client:
            for login in users or list(USERS):
                units = None if login == "admin" else liaison_units
                story = big_story(db_url, units or [u.id for u in org.units])
                headers = {"Authorization": f"Bearer {creds.tokens[login]}"}
                first = client.get("/api/v1/articles", headers=headers).json()
                page2 = f"/api/v1/articles?cursor={first['next_cursor']}" if first.get("next_cursor") else \
                    "/api/v1/articles"
                rows: dict[str, Any] = {}
                for name, path, kind in ROUTES:
                    if routes and not name.startswith("healthz") and not any(r in name for r in routes):
                        continue
                    path = path.format(story=story, articles_page2=page2)
                    say(f"  {login}: {name}")
                    rows[name] = measure(client, path, headers if kind == "api" else {},
                                         {"yuqing_session": creds.cookies[login]} if kind == "page" else {},
                                         n, warmup, budget)
                    rows[name]["path"] = path if "cursor=" not in path else "/api/v1/articles?cursor=…"
                base = rows["healthz (baseline)"]["p50"] or 1.0
                for row in rows.values():
                    row["x_baseline_p50"] = round(row["p50"] / base, 1)
                visible = f"{first.get('total')}{'+' if first.get('total_capped') else ''}"
                results["users"][login] = {"total_visible": visible, "rows": rows}
    return results


def markdown(result: dict[str, Any]) -> str:
    head = result["meta"]
    label = f" ({head['label']})" if head.get("label") else ""
    lines = [f"# Large lists: {head['articles']:,} articles in PostgreSQL{label}", "",
             f"{head['date']}, {head['cpu']}, load average {head['load_start']} → {head['load_end']}, "
             f"`{head['server_cmd']}`, up to {head['n']} requests per row ({head['budget']} s at most) after "
             f"{head['warmup']} warm-up, one at a time, timed over HTTP. Target p95 < 100 ms.", ""]
    for login, data in result["users"].items():
        lines += [f"## {USERS[login]} — total visible {data['total_visible']}", "",
                  "| route | first ms | n | p50 ms | p95 ms | p99 ms | × healthz p50 | target |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, row in data["rows"].items():
            verdict = "" if name.startswith("healthz") else ("PASS" if row["p95"] < TARGET_MS else "FAIL")
            lines.append(f"| {name} | {row['cold']} | {row['n']} | {row['p50']} | {row['p95']} | {row['p99']} | "
                         f"{row['x_baseline_p50']} | {verdict} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench large-lists", description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", type=int, default=int(os.environ.get("YUQING_BENCH_ARTICLES", "100000")))
    p.add_argument("--db-url", help="default: bench_lists_<N/1000>k on the local PostgreSQL")
    p.add_argument("--requests", type=int, default=40, help="timed requests per route and user")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--workers", type=int, default=1, help="yuqing api --workers (requests are sequential)")
    p.add_argument("--budget", type=float, default=30.0, help="seconds of timed requests per route at most")
    p.add_argument("--server-cmd", help="serve with this command instead of yuqing api (split on spaces; it must "
                   "listen on $YUQING_API_PORT), e.g. an older commit's app for a before/after comparison")
    p.add_argument("--no-migrate", action="store_true", help="measure the loaded database at the schema it has "
                   "(with --server-cmd: an older commit on its own indexes)")
    p.add_argument("--routes", nargs="+", help="only the routes whose name contains one of these words")
    p.add_argument("--users", nargs="+", choices=list(USERS), help="only these logins")
    p.add_argument("--label", default="", help="a word for the report's title and file name (e.g. before)")
    p.add_argument("--out", type=Path, help="default: bench/results/large_lists_<N/1000>k[_<label>].json")
    args = p.parse_args(argv)
    db_url = args.db_url or bulk_load.default_url(args.articles)
    if why := bulk_load.unreachable(db_url):
        print(f"large-lists skipped: {why}")
        return 0
    load_start = round(os.getloadavg()[0], 1)
    t0 = time.perf_counter()
    result = run(db_url, articles=args.articles, n=args.requests, warmup=args.warmup, workers=args.workers,
                 budget=args.budget, server_argv=args.server_cmd.split() if args.server_cmd else None,
                 upgrade=not args.no_migrate, routes=args.routes, users=args.users)
    result["meta"] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu_model(),
                      "python": platform.python_version(), "articles": args.articles, "n": args.requests,
                      "warmup": args.warmup, "workers": args.workers, "budget": args.budget, "load_start": load_start,
                      "load_end": round(os.getloadavg()[0], 1), "seconds": round(time.perf_counter() - t0, 1),
                      "label": args.label, "server_cmd": args.server_cmd or f"yuqing api --workers {args.workers}"}
    out = args.out or OUT_DIR / f"large_lists_{args.articles // 1000}k{'_' + args.label if args.label else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    md = markdown(result)
    out.with_suffix(".md").write_text(md + "\n", encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
