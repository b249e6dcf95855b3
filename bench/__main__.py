"""``python -m bench`` (``make bench``): run every benchmark and print its table.

``python -m bench sentiment [OPTIONS]``, ``python -m bench login-flood [OPTIONS]``, ``python -m bench reports
[OPTIONS]``, ``python -m bench large-lists [OPTIONS]``, ``python -m bench api-load [OPTIONS]``, ``python -m bench
backtest [OPTIONS]``, ``python -m bench workers [OPTIONS]`` (also ``job-engines``, ``search``,
``dashboard-latency``, ``ingest-order``) runs one of them (``--help`` for its options). Options
without a benchmark name belong to the sentiment benchmark, which then runs alone (``python -m bench --texts 40``
as before).
"""

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["login-flood"]:
        from bench import login_flood

        return login_flood.main(args[1:])
    if args[:1] == ["reports"]:
        from bench import reports

        return reports.main(args[1:])
    if args[:1] == ["job-engines"]:  # procrastinate vs taskiq vs a SKIP LOCKED loop (bench/job_engines.py)
        return __import__("bench.job_engines").job_engines.main(args[1:])
    if args[:1] == ["workers"]:  # yuqing worker ingest scaling, time to alert, RSS of yuqing run (bench/workers.py)
        return __import__("bench.workers").workers.main(args[1:])
    if args[:1] == ["search"]:  # Chinese full-text search: bigrams vs trigrams, SQLite and PostgreSQL (bench/search.py)
        return __import__("bench.search").search.main(args[1:])
    if args[:1] == ["dashboard-latency"]:  # the dashboard while the pipeline works: sequential round vs stage loops
        from bench import dashboard_latency

        return dashboard_latency.main(args[1:])
    if args[:1] == ["ingest-order"]:  # the ingest-turn question with a large backlog (bench/ingest_order.py)
        return __import__("bench.ingest_order").ingest_order.main(args[1:])
    if args[:1] == ["large-lists"]:  # list and search latency with many articles in PostgreSQL (bench/large_lists.py)
        return __import__("bench.large_lists").large_lists.main(args[1:])
    if args[:1] == ["api-load"]:  # API requests/s at p99 < 300 ms by worker processes (bench/api_load.py)
        return __import__("bench.api_load").api_load.main(args[1:])
    if args[:1] == ["backtest"]:
        from bench import backtest

        return backtest.main(args[1:])
    from bench import sentiment

    if args[:1] == ["sentiment"]:
        return sentiment.main(args[1:])
    if args:
        return sentiment.main(args)
    from bench import api_load, backtest, large_lists, login_flood, reports, workers

    status = sentiment.main([])
    print(flush=True)
    status = max(status, login_flood.main([]))
    print(flush=True)
    status = max(status, reports.main([]))
    print(flush=True)
    status = max(status, backtest.main([]))
    print(flush=True)
    # 100,000 articles by default (YUQING_BENCH_ARTICLES=1000000 for the million: a 30-minute load the first time)
    status = max(status, large_lists.main([]))
    print(flush=True)
    status = max(status, api_load.main([]))
    print(flush=True)
    return max(status, workers.main([]))  # worker scaling, time to alert and RSS (needs PostgreSQL and Redis)


if __name__ == "__main__":
    raise SystemExit(main())
