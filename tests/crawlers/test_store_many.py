"""``store_many`` (a poll's records in one transaction) on real SQLite and PostgreSQL: it must leave exactly what
storing the same items one by one with ``store_safely`` leaves — articles, metric samples, raw captures, remembered
URLs and outcomes — and keep the per-item guarantees: one bad item loses only itself, a re-run stores no
duplicate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

import crawlers.pipelines as pipelines
from crawlers.models import Article, ArticleCapture, ArticleMetricSample, SeenUrl
from crawlers.pipelines import FAILED, NEW, UNCHANGED, UPDATED, VALIDATORS, store_many, store_safely
from crawlers.spiders.items import RecordItem, ValidatorItem
from yuqing.db import make_sessionmaker


@pytest.fixture
def factory(db_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(db_engine)


def record(n: int, reposts: int = 1, **kwargs: Any) -> RecordItem:
    values = {"source_id": "weibo", "channel": "social", "url": f"https://weibo.example/status/{n}",
              "external_id": str(n), "text": f"示例银行光明路支行取钱要预约（{n}）",
              "metrics": {"reposts": reposts, "comments": 1}, "raw": f'{{"id": {n}, "r": {reposts}}}'.encode(),
              "status": 200}
    values.update(kwargs)
    return RecordItem(**values)


def snapshot(factory: sessionmaker[Session]) -> dict[str, Any]:
    """Everything storing writes, without ids (the two ways number rows in different orders)."""
    with factory() as s:
        by_id = {a.id: a.external_id for a in s.scalars(select(Article))}
        return {
            "articles": sorted((a.external_id, a.url_hash, a.text, a.title, a.content_hash, sorted(a.metrics.items()),
                                sorted(a.meta.items()), a.fetched_at.isoformat())
                               for a in s.scalars(select(Article))),
            "samples": sorted((by_id[m.article_id], m.observed_at.isoformat(), m.reposts, m.comments, m.likes)
                              for m in s.scalars(select(ArticleMetricSample))),
            "captures": sorted((by_id[c.article_id], c.sha256, c.fetched_at.isoformat(), c.kind)
                               for c in s.scalars(select(ArticleCapture))),
            "seen": sorted((u.url_hash, u.source_id, u.first_seen_at.isoformat(), u.last_fetched_at.isoformat(),
                            u.status_code) for u in s.scalars(select(SeenUrl))),
        }


def polls() -> list[list[Any]]:
    """Three polls: new records (one twice in the same poll, re-polled with more reposts), then re-reads of known
    records (unchanged, changed counters, a changed raw body), a validator and new ones."""
    return [
        [record(1), record(2, reposts=5), record(3), record(2, reposts=9), record(4, title="<b>标题</b>")],
        [record(1), record(2, reposts=9), record(3, reposts=7), record(5),
         ValidatorItem(source_id="weibo", url="https://weibo.example/feed", status=200, etag='"e1"')],
        [record(5, raw=b'{"id": 5, "edited": true}'), record(6), record(6)],
    ]


def test_store_many_leaves_what_storing_one_by_one_leaves(factory, clock, tmp_path, sqlite_template):
    other = _reference(tmp_path, sqlite_template)
    batch_outcomes, single_outcomes = [], []
    one_by_one: list[Any] = []  # what store_many left to store_safely: the validator only, no record
    real = pipelines.store_safely

    def counted(factory_, item, now, *args, **kwargs):
        one_by_one.append(item)
        return real(factory_, item, now, *args, **kwargs)

    for items in polls():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(pipelines, "store_safely", counted)
            batch_outcomes.append([r.outcome for r in store_many(factory, items, clock.now())])
        single_outcomes.append([store_safely(other, item, clock.now()).outcome for item in items])
        clock.advance(300)

    assert [type(i).__name__ for i in one_by_one] == ["ValidatorItem"]

    assert batch_outcomes == single_outcomes
    assert batch_outcomes[0] == [NEW, NEW, NEW, UPDATED, NEW]
    assert batch_outcomes[1] == [UNCHANGED, UNCHANGED, UPDATED, NEW, VALIDATORS]
    assert batch_outcomes[2] == [UNCHANGED, NEW, UNCHANGED]
    assert snapshot(factory) == snapshot(other)
    got = snapshot(factory)
    assert len(got["articles"]) == 6
    # record 2 stored twice in the first poll: one sample at that time, with the later counters
    assert next(s for s in got["samples"] if s[0] == "2")[2] == 9
    # record 5's edited raw body is a second capture
    assert len([c for c in got["captures"] if c[0] == "5"]) == 2


def test_a_record_that_fails_loses_only_itself(factory, clock, monkeypatch):
    real = pipelines.store_record

    def refuse_three(session, item, now, **kwargs):
        if item.external_id == "3":
            raise ValueError("the database refuses this one")
        return real(session, item, now, **kwargs)

    monkeypatch.setattr(pipelines, "store_record", refuse_three)
    results = store_many(factory, [record(1), record(2), record(3), record(4)], clock.now())

    assert [r.outcome for r in results] == [NEW, NEW, FAILED, NEW]
    assert results[2].error and "入库失败" in results[2].error
    with factory() as s:
        assert sorted(s.scalars(select(Article.external_id))) == ["1", "2", "4"]
        assert s.scalar(select(ArticleMetricSample).join(Article).where(Article.external_id == "4")) is not None


def test_an_interrupted_batch_stores_nothing_and_the_rerun_stores_each_record_once(factory, clock, monkeypatch):
    real = pipelines.store_record

    def interrupted(session, item, now, **kwargs):
        if item.external_id == "3":
            raise KeyboardInterrupt
        return real(session, item, now, **kwargs)

    items = [record(1), record(2), record(3)]
    monkeypatch.setattr(pipelines, "store_record", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store_many(factory, items, clock.now())
    with factory() as s:
        assert s.scalars(select(Article)).all() == []  # rolled back: the next poll brings them again
    monkeypatch.setattr(pipelines, "store_record", real)
    clock.advance(timedelta(minutes=5).total_seconds())
    assert [r.outcome for r in store_many(factory, items, clock.now())] == [NEW, NEW, NEW]
    assert [r.outcome for r in store_many(factory, items, clock.now())] == [UNCHANGED] * 3
    with factory() as s:
        assert sorted(s.scalars(select(Article.external_id))) == ["1", "2", "3"]
        assert len(s.scalars(select(SeenUrl)).all()) == 3


def _reference(tmp_path, sqlite_template) -> sessionmaker[Session]:
    """A second migrated SQLite database (a copy of the session's template) for the one-by-one reference."""
    import sqlite3
    from contextlib import closing

    from yuqing.db import make_engine

    db = tmp_path / "reference.db"
    with closing(sqlite3.connect(sqlite_template)) as src, closing(sqlite3.connect(db)) as dst:
        src.backup(dst)
    return make_sessionmaker(make_engine(f"sqlite:///{db}"))
