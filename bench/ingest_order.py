"""``python -m bench.ingest_order``: what ``crawlers.stories.check_turn``'s question costs with a large backlog.

Ingest asks, twice per relevant article, for the first article still ``fetched`` before it in ingest order
(``earliest_waiting_before``). This fills a PostgreSQL database of its own (``--db``, default
``yuqing_bench_ingest_order``; one that exists already is refused; created, migrated, and dropped at the end
unless ``--keep``) with ``--articles`` articles already ingested and ``--waiting`` still ``fetched`` after them
(one every 52 s, a seventh without a
publish time, the rest published up to 12 h before they were fetched: ingest order is not id order), then times
the question for four waiting articles — the first (its turn: nothing before it, the case of every article a lone
worker takes), the 10th, the middle one and the last — four ways, in the same run on the same rows: the question
as it was (``when < at OR (when = at AND …)``) and as it is (one row comparison), each with the index
``ix_articles_ingest_order`` (migration 0021) and without it (dropped inside a transaction rolled back afterwards).
Prints a table of median milliseconds per question; writes ``bench/results/ingest_order.json`` and ``.md``
(``--out`` for another directory). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import and_, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.bulk_load import drop_database, ensure_database, migrate, pg_dsn
from bench.common import cpu_model, say
from crawlers.models import Article, ArticleStage
from crawlers.stories import article_time, earliest_waiting_before, ingest_order
from yuqing.db import make_engine

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/yuqing_bench_ingest_order"

FILL = """
INSERT INTO articles (source_id, channel, url, url_hash, title, text, published_at, fetched_at, content_hash,
                      metrics, meta, stage, is_duplicate)
SELECT 'src' || (g % 40), 'news', 'http://bench.invalid/' || g, md5(g::text), 't', '',
       CASE WHEN g % 7 = 0 THEN NULL
            ELSE timestamptz '2026-10-01' + g * interval '52 seconds' - (g % 13) * interval '1 hour' END,
       timestamptz '2026-10-01' + g * interval '52 seconds', md5(g::text), '{}', '{}',
       CASE WHEN g > :done THEN 'fetched' WHEN g % 3 = 0 THEN 'irrelevant' ELSE 'classified' END, false
FROM generate_series(1, :total) g
"""


def before_as_it_was(session: Session, article: Article) -> int | None:
    """The question as the last stop wrote it: "before" as nested ORs, which no index can read as a range."""
    when, fetched, ident = ingest_order()
    at = article_time(article)
    before = or_(when < at, and_(when == at, or_(fetched < article.fetched_at,
                                                 and_(fetched == article.fetched_at, ident < article.id))))
    return session.scalar(select(Article.id).where(Article.stage == ArticleStage.fetched, before)
                          .order_by(*ingest_order()).limit(1))


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 3)


def measure(url: str, *, repeats: int) -> dict[str, dict[str, float]]:
    engine = make_engine(url)
    out: dict[str, dict[str, float]] = {}
    try:
        with Session(engine) as session:
            waiting = session.scalars(select(Article.id).where(Article.stage == ArticleStage.fetched)
                                      .order_by(*ingest_order())).all()
            picks = {"first": waiting[0], "10th": waiting[min(9, len(waiting) - 1)],
                     "middle": waiting[len(waiting) // 2], "last": waiting[-1]}
            articles = {name: session.get(Article, ident) for name, ident in picks.items()}
            for index in ("with index", "without index"):
                if index == "without index":
                    session.execute(text("DROP INDEX ix_articles_ingest_order"))  # rolled back below
                for form, ask in (("as it was (ORs)", before_as_it_was), ("as it is (row comparison)",
                                                                          earliest_waiting_before)):
                    row = out.setdefault(f"{form}, {index}", {})
                    for name, article in articles.items():
                        assert ask(session, article) == earliest_waiting_before(session, article)  # same answer
                        row[name] = _median_ms(lambda a=article, f=ask: f(session, a), repeats)
                        say(f"  {form}, {index}, {name} waiting: {row[name]} ms")
            session.rollback()  # the index is back
    finally:
        engine.dispose()
    return out


def database_exists(url: str) -> bool:
    u = make_url(url)
    with psycopg.connect(pg_dsn(url).replace(f"dbname={u.database}", "dbname=postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,)).fetchone() is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ingest-order", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB, help="a PostgreSQL database of its own (dropped afterwards)")
    parser.add_argument("--articles", type=int, default=100_000, help="articles already ingested")
    parser.add_argument("--waiting", type=int, default=10_000, help="articles still waiting (fetched)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if database_exists(args.db):  # never fill, time and drop a database this run did not create
        raise SystemExit(f"{make_url(args.db).database} exists: give --db a new database name (it is dropped "
                         "afterwards unless --keep)")
    ensure_database(args.db)
    try:
        migrate(args.db)
        engine = make_engine(args.db)
        with engine.begin() as conn:
            conn.execute(text(FILL), {"done": args.articles, "total": args.articles + args.waiting})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE articles"))
        engine.dispose()
        load = os.getloadavg()[0]
        rows = measure(args.db, repeats=args.repeats)
        load_after = os.getloadavg()[0]
    finally:
        if not args.keep:
            drop_database(args.db)
    result = {"articles": args.articles, "waiting": args.waiting, "repeats": args.repeats, "cpu": cpu_model(),
              "load_before": round(load, 1), "load_after": round(load_after, 1), "median_ms": rows}
    lines = [f"# check_turn's question: {args.articles:,} articles ingested, {args.waiting:,} waiting", "",
             f"Median ms per question over {args.repeats} repeats; CPU {cpu_model()}; load average "
             f"{load:.1f} before, {load_after:.1f} after. Which waiting article asks: the first (nothing before "
             "it), the 10th, the middle one, the last.", "",
             "| question | first | 10th | middle | last |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | " + " | ".join(f"{v[k]:.2f}" for k in ("first", "10th", "middle", "last")) + " |"
              for name, v in rows.items()]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ingest_order.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (args.out / "ingest_order.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
