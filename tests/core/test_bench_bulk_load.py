"""The list benchmarks' loader (``bench.bulk_load``): two loads of one database started together do not drop it
under each other — the second waits for the first and reuses what it loaded — and a tiny load holds what it says."""

from __future__ import annotations

import secrets
import threading

import psycopg
import pytest

from bench import bulk_load

pytestmark = pytest.mark.postgres


@pytest.fixture
def bench_url(postgres_url):
    url = f"{bulk_load.SERVER_URL}/bench_lists_lock_{secrets.token_hex(4)}"
    if bulk_load.unreachable(url):
        pytest.fail("PostgreSQL not reachable for the loader's test")
    yield url
    bulk_load.drop_database(url)


def test_two_loads_at_once_load_once_and_both_see_the_articles(bench_url):
    results: list[dict] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(bulk_load.load(bench_url, articles=40, months=1))
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    assert sorted(bool(r["reused"]) for r in results) == [False, True]  # one loaded, the other waited and reused
    with psycopg.connect(bulk_load.pg_dsn(bench_url)) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 40
        assert conn.execute("SELECT count(*) FROM article_search").fetchone()[0] == 40
        assert bulk_load.already_loaded(conn, 40, 7, 1)
