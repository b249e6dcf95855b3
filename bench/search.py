"""Search benchmark: which Chinese tokenization the 舆情信息 search uses, measured (``docs/search.md``).

Builds ``--rows`` (default 100,000) synthetic articles — bank-complaint sentences around the words the monitors
search (挤兑, 取现, 跑路, 新华路) and look-alikes that must not match (新华社, 新华书店, 新华 路口: 新华 without
新华路) — and indexes them four ways:

* ``sqlite-fts5-bigram``  (chosen) FTS5 ``unicode61`` over CJK bigrams cut in Python (``crawlers.search_index``),
  phrase queries;
* ``sqlite-fts5-trigram`` FTS5's own ``trigram`` tokenizer over the raw text, ``MATCH`` queries (a 2-character
  query has no trigram, so it finds nothing) and, beside it, ``LIKE '%q%'`` on the same table (SQLite uses the
  trigram index only for patterns of 3+ characters; shorter ones scan);
* ``pg-bigram-gin``       (chosen) a ``tsvector`` of the same bigrams (positions kept) under a GIN index, phrase
  ``tsquery`` (``api.search``);
* ``pg-trgm-gin``         ``pg_trgm`` GIN on title || text with ``ILIKE '%q%'``.

For each query it reports recall and precision against the truth (a Python substring test) and, per variant,
p50/p95 of two statements over ``--repeat`` runs of every query: the count of matches and the newest 50 ids —
what a page of the mentions list needs. Index build time and size are printed too. Results go to
``bench/results/search.json`` and ``.md``. Nothing is asserted; the machine is shared (load average printed).
PostgreSQL variants run when ``--pg-url`` (default the local test database) answers; each uses a schema of its
own, dropped afterwards. ``python -m bench.search --help`` for options.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import cpu_model, nearest_rank, say
from crawlers.search_index import document_tokens, tsvector_literal

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "results"
QUERIES = ["挤兑", "取现", "跑路", "新华路", "新华路网点", "系统升级"]
FILLER = ["示例银行{unit}取钱要预约，排队两个小时还没办成。", "柜员态度很差，说规定就是规定。",
          "老人在柜台前急得直掉眼泪。", "网点只开了两个窗口，大堂经理也不解释。", "手机银行转账失败但扣了钱。",
          "理财产品亏了百分之十五。", "希望银行把规矩讲明白。", "我行已关注到相关情况，正在核实。",
          "网点称因系统升级暂停部分业务。", "今天天气不错，路上车很多。"]
PLANTS = {"挤兑": "听说要挤兑了，大家快去取钱。", "取现": "大额取现需要提前一天预约。", "跑路": "有人说老板跑路了。",
          "新华路": "新华路网点门口排起长队。"}
DECOYS = ["新华社记者报道了此事。", "新华书店今天打折。", "新华 路口堵车严重。", "华路公司开业。"]
UNITS = ["光明路支行", "滨江支行", "新华路网点", "人民广场网点", "高新支行"]


def corpus(rows: int, seed: int = 11) -> list[tuple[int, str, str]]:
    rnd = random.Random(seed)
    out = []
    for i in range(1, rows + 1):
        parts = [rnd.choice(FILLER).format(unit=rnd.choice(UNITS)) for _ in range(rnd.randint(3, 8))]
        for sentence in PLANTS.values():
            if rnd.random() < 0.03:
                parts.insert(rnd.randrange(len(parts) + 1), sentence)
        if rnd.random() < 0.05:
            parts.insert(rnd.randrange(len(parts) + 1), rnd.choice(DECOYS))
        title = rnd.choice(["示例银行", "网友爆料", "江城晚报", "投诉"]) + "：" + parts[0][:18]
        out.append((i, title, "".join(parts)))
    return out


def truth(docs: list[tuple[int, str, str]], q: str) -> set[int]:
    return {i for i, t, b in docs if q in t or q in b}


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def fts5_phrase(q: str) -> str:
    from api.search import fts5_expression, parse

    return fts5_expression(parse(q))


def tsquery(q: str) -> str:
    from api.search import parse, tsquery_literal

    return tsquery_literal(parse(q))


# --- SQLite ----------------------------------------------------------------------------------------------------
def sqlite_variants(docs, repeat: int) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, setup, search_sql, param in [
            ("sqlite-fts5-bigram", "CREATE VIRTUAL TABLE f USING fts5(doc, tokenize='unicode61 remove_diacritics 0')",
             "SELECT rowid FROM f WHERE f MATCH ?", fts5_phrase),
            ("sqlite-fts5-trigram", "CREATE VIRTUAL TABLE f USING fts5(doc, tokenize='trigram')",
             "SELECT rowid FROM f WHERE f MATCH ?", lambda q: '"' + q + '"'),
            ("sqlite-fts5-trigram-like", None, "SELECT rowid FROM f WHERE doc LIKE ?", lambda q: f"%{q}%"),
        ]:
            path = os.path.join(tmp, "trigram.db" if "trigram" in name else f"{name}.db")
            con = sqlite3.connect(path)
            build = 0.0
            if setup:
                say(f"{name}: indexing {len(docs)} rows")
                t0 = time.perf_counter()
                con.execute(setup)
                rows = ((i, " ".join(document_tokens(t, b)) if "bigram" in name else f"{t}\n{b}") for i, t, b in docs)
                con.executemany("INSERT INTO f(rowid, doc) VALUES (?, ?)", rows)
                con.commit()
                build = time.perf_counter() - t0
            results.append(measure(name, docs, repeat, build_s=build, size_mb=os.path.getsize(path) / 1e6,
                                   run=lambda q, s=search_sql, p=param, c=con: _sqlite_run(c, s, p(q))))
    return results


def _sqlite_run(con, sql: str, arg: str) -> tuple[set[int], Callable[[], object], Callable[[], object]]:
    found = {r[0] for r in con.execute(sql, (arg,))}
    count = lambda: con.execute(f"SELECT count(*) FROM ({sql})", (arg,)).fetchone()  # noqa: E731
    page = lambda: con.execute(f"{sql} ORDER BY rowid DESC LIMIT 50", (arg,)).fetchall()  # noqa: E731
    return found, count, page


# --- PostgreSQL ------------------------------------------------------------------------------------------------
def pg_variants(docs, repeat: int, url: str) -> list[dict]:
    import psycopg

    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        say(f"PostgreSQL not reachable ({exc}); PostgreSQL variants skipped")
        return []
    schema = f"bench_search_{os.getpid()}"
    admin.execute(f"CREATE SCHEMA {schema}")
    results = []
    try:
        con = psycopg.connect(url, autocommit=True, options=f"-csearch_path={schema},public")
        con.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        say(f"pg: loading {len(docs)} rows")
        con.execute("CREATE TABLE a (id int PRIMARY KEY, body text, doc tsvector)")
        with con.cursor() as cur, cur.copy("COPY a (id, body, doc) FROM STDIN") as copy:
            for i, t, b in docs:
                copy.write_row((i, f"{t}\n{b}", tsvector_literal(document_tokens(t, b))))
        t0 = time.perf_counter()
        con.execute("CREATE INDEX a_doc ON a USING gin (doc)")
        bigram_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        con.execute("CREATE INDEX a_trgm ON a USING gin (body public.gin_trgm_ops)")
        trgm_build = time.perf_counter() - t0
        con.execute("ANALYZE a")
        size = lambda idx: con.execute("SELECT pg_relation_size(%s)", (idx,)).fetchone()[0] / 1e6  # noqa: E731

        def runner(sql: str, arg_of: Callable[[str], str]):
            def run(q: str):
                arg = arg_of(q)
                found = {r[0] for r in con.execute(f"SELECT id FROM a WHERE {sql}", (arg,))}
                return (found, lambda: con.execute(f"SELECT count(*) FROM a WHERE {sql}", (arg,)).fetchone(),
                        lambda: con.execute(f"SELECT id FROM a WHERE {sql} ORDER BY id DESC LIMIT 50",
                                            (arg,)).fetchall())
            return run

        results.append(measure("pg-bigram-gin", docs, repeat, build_s=bigram_build, size_mb=size("a_doc"),
                               run=runner("doc @@ CAST(%s AS tsquery)", tsquery)))
        results.append(measure("pg-trgm-gin", docs, repeat, build_s=trgm_build, size_mb=size("a_trgm"),
                               run=runner("body ILIKE %s", lambda q: f"%{q}%")))
        con.close()
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
    return results


# --- the mentions page itself ---------------------------------------------------------------------------------
def page_variant(docs, repeat: int, url: str, label: str) -> dict:
    """The real thing on a migrated database: articles with a mention and a classification each, indexed by
    ``crawlers.search_index.index_pending`` (timed), then the page's own statement (``api.mentions.filtered``)
    paged by ``api.pagination.paginate`` (the newest-first page of 50 and the total) and its four charts."""
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from itsdangerous import URLSafeSerializer
    from sqlalchemy import insert

    from api import mentions
    from api.pagination import PageRequest, paginate
    from crawlers.models import Article, Mention
    from crawlers.search_index import index_pending
    from sentiment.models import Classification
    from yuqing.clock import FrozenClock
    from yuqing.db import make_engine, make_sessionmaker
    from yuqing.migrate import upgrade
    from yuqing.org import load_org

    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    units = ["xinhualu", "guangminglu", "binjianghuayuan", "renminguangchang"]
    labels = ["negative", "neutral", "positive"]
    say(f"{label}: loading {len(docs)} articles")
    with factory() as s:
        for lo in range(0, len(docs), 5000):
            chunk = docs[lo:lo + 5000]
            at = [start + timedelta(seconds=i * 20) for i, _, _ in chunk]
            s.execute(insert(Article), [{"id": i, "source_id": "weibo" if i % 2 else "news", "channel": "social"
                                         if i % 2 else "news", "url": f"https://x.example/{i}", "url_hash": f"u{i}",
                                         "title": t, "text": b, "fetched_at": a, "published_at": a,
                                         "content_hash": f"c{i}", "stage": "scored", "metrics": {}, "meta": {}}
                                        for (i, t, b), a in zip(chunk, at, strict=True)])
            s.execute(insert(Mention), [{"article_id": i, "unit_id": units[i % 4], "is_primary": True, "terms": [],
                                         "snippet": b[:80], "score": 1.0} for i, _, b in chunk])
            s.execute(insert(Classification), [{"article_id": i, "label": labels[i % 3], "negative_prob": 0.5,
                                                "category": "other", "model": "bench", "classified_at": start,
                                                "cues": []} for i, _, _ in chunk])
            s.commit()
        t0 = time.perf_counter()
        indexed = index_pending(s, clock=FrozenClock(start), batch=2000)
        index_s = time.perf_counter() - t0
    org = load_org(ROOT / "config" / "org.yaml")
    tz = ZoneInfo("Asia/Shanghai")
    me = SimpleNamespace(unit_ids=frozenset(["jiangcheng", *(u.id for u in org.descendants("jiangcheng"))]))
    pages, charts, totals = [], [], {}
    with factory() as s:
        for q in QUERIES:
            f = mentions.parse_filters({"q": q, "sort": "time"}, me, org, {"weibo", "news"}, tz)
            stmt, order = mentions.filtered(s, f)
            req = PageRequest(cursor=None, limit=50, serializer=URLSafeSerializer("bench", salt="bench"))
            totals[q] = paginate(s, stmt, order=order, page=req, scope="bench").total
            pages += timed(lambda st=stmt, o=order, r=req: paginate(s, st, order=o, page=r, scope="bench"), repeat)
            charts += timed(lambda st=stmt, ff=f: mentions.chart_svgs(s, st, ff, org=org, sources={}, tz=tz),
                            max(3, repeat // 4))
    engine.dispose()
    pages.sort()
    charts.sort()
    return {"variant": label, "indexed": indexed, "index_s": round(index_s, 1),
            "index_rows_per_s": round(indexed / index_s) if index_s else None, "totals": totals,
            "page_p50_ms": round(nearest_rank(pages, 50), 1), "page_p95_ms": round(nearest_rank(pages, 95), 1),
            "charts_p50_ms": round(nearest_rank(charts, 50), 1), "charts_p95_ms": round(nearest_rank(charts, 95), 1)}


def pg_page(docs, repeat: int, url: str) -> list[dict]:
    """``page_variant`` on PostgreSQL, in a schema of its own (dropped afterwards)."""
    import psycopg

    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.Error:
        return []
    schema = f"bench_page_{os.getpid()}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        sep = "&" if "?" in sa_url else "?"
        return [page_variant(docs, repeat, f"{sa_url}{sep}options=-csearch_path%3D{schema}", "PostgreSQL")]
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


# --- measuring -------------------------------------------------------------------------------------------------
def measure(name: str, docs, repeat: int, *, build_s: float, size_mb: float, run) -> dict:
    say(f"{name}: querying")
    per_query, counts, pages = {}, [], []
    for q in QUERIES:
        found, count, page = run(q)
        want = truth(docs, q)
        hit = len(found & want)
        per_query[q] = {"truth": len(want), "found": len(found), "recall": hit / len(want) if want else 1.0,
                        "precision": hit / len(found) if found else (1.0 if not want else 0.0)}
        counts += timed(count, repeat)
        pages += timed(page, repeat)
    counts.sort()
    pages.sort()
    return {"variant": name, "build_s": round(build_s, 2), "index_mb": round(size_mb, 1), "queries": per_query,
            "count_p50_ms": round(nearest_rank(counts, 50), 2), "count_p95_ms": round(nearest_rank(counts, 95), 2),
            "page_p50_ms": round(nearest_rank(pages, 50), 2), "page_p95_ms": round(nearest_rank(pages, 95), 2)}


def markdown(report: dict) -> str:
    lines = [f"# Search benchmark ({report['rows']:,} articles)", "",
             f"CPU: {report['cpu']}; load average at start {report['load']}; {report['repeat']} runs per query.", "",
             "| variant | build s | index MB | count p50 / p95 ms | newest-50 p50 / p95 ms | "
             + " | ".join(f"{q} recall / precision" for q in QUERIES) + " |",
             "|---|---|---|---|---|" + "---|" * len(QUERIES)]
    for r in report["results"]:
        cells = [f"{r['queries'][q]['recall']:.2f} / {r['queries'][q]['precision']:.2f}" for q in QUERIES]
        lines.append(f"| {r['variant']} | {r['build_s']} | {r['index_mb']} | {r['count_p50_ms']} / "
                     f"{r['count_p95_ms']} | {r['page_p50_ms']} / {r['page_p95_ms']} | " + " | ".join(cells) + " |")
    lines += ["", "Matches per query (truth = substring test): "
              + ", ".join(f"{q} {report['results'][0]['queries'][q]['truth']}" for q in QUERIES)]
    if report.get("pages"):
        lines += ["", "The mentions page's own statement (filter + search, newest 50 and the total) and its four "
                  "charts, on a migrated database (each article with a mention and a classification):", "",
                  "| database | indexing (index_pending) | page p50 / p95 ms | charts p50 / p95 ms |",
                  "|---|---|---|---|"]
        for p in report["pages"]:
            lines.append(f"| {p['variant']} | {p['indexed']:,} rows in {p['index_s']} s ({p['index_rows_per_s']:,}/s) "
                         f"| {p['page_p50_ms']} / {p['page_p95_ms']} | {p['charts_p50_ms']} / {p['charts_p95_ms']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench search", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="articles to index (default 100,000)")
    parser.add_argument("--repeat", type=int, default=20, help="runs of each query per statement (default 20)")
    parser.add_argument("--pg-url", default=os.environ.get("YUQING_BENCH_PG", "postgresql://postgres@127.0.0.1/test"))
    parser.add_argument("--no-pg", action="store_true", help="SQLite variants only")
    parser.add_argument("--no-page", action="store_true", help="skip the mentions page's own statement")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where search.json and search.md go")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    say(f"building {args.rows} synthetic articles")
    docs = corpus(args.rows)
    results = sqlite_variants(docs, args.repeat)
    if not args.no_pg:
        results += pg_variants(docs, args.repeat, args.pg_url)
    pages = []
    if not args.no_page:
        with tempfile.TemporaryDirectory() as tmp:
            pages.append(page_variant(docs, args.repeat, f"sqlite:///{tmp}/page.db", "SQLite"))
        if not args.no_pg:
            pages += pg_page(docs, args.repeat, args.pg_url)
    report = {"rows": args.rows, "repeat": args.repeat, "cpu": cpu_model(), "load": round(load, 2),
              "results": results, "pages": pages}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    text = markdown(report)
    (args.out / "search.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
