"""``crawlers.stories.earliest_waiting_before`` (``check_turn``'s question): the right article on both databases,
ties included, and on PostgreSQL read off ``ix_articles_ingest_order`` as a range (migration 0021), not filtered
row by row — with a backlog, the filter read every later waiting article for the one whose turn it was."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from crawlers.models import Article, ArticleStage
from crawlers.stories import article_time, earliest_waiting_before
from yuqing.db import make_sessionmaker

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _article(session, n: int, *, published: datetime | None, fetched: datetime, stage: str) -> Article:
    url = f"https://news.example/{n}"
    a = Article(source_id="news", channel="news", url=url, url_hash=hashlib.sha256(url.encode()).hexdigest(),
                title="", text=f"第{n}篇", fetched_at=fetched, published_at=published,
                content_hash=hashlib.sha256(url.encode()).hexdigest(), stage=stage)
    session.add(a)
    session.flush()
    return a


def _backlog(session) -> list[Article]:
    """Waiting and settled articles whose ingest order differs from id order, with ties on the time and on the
    fetch time."""
    m = timedelta(minutes=1)
    rows = [
        _article(session, 0, published=T0 + 5 * m, fetched=T0 + 9 * m, stage=ArticleStage.fetched),
        _article(session, 1, published=None, fetched=T0 + 5 * m, stage=ArticleStage.fetched),  # same time, sooner
        _article(session, 2, published=T0 + 5 * m, fetched=T0 + 9 * m, stage=ArticleStage.fetched),  # tie but the id
        _article(session, 3, published=T0 + 1 * m, fetched=T0 + 9 * m, stage=ArticleStage.matched),  # settled
        _article(session, 4, published=T0 + 2 * m, fetched=T0 + 20 * m, stage=ArticleStage.fetched),
        _article(session, 5, published=T0 + 7 * m, fetched=T0 + 8 * m, stage=ArticleStage.irrelevant),
        _article(session, 6, published=None, fetched=T0 + 6 * m, stage=ArticleStage.fetched),
    ]
    session.commit()
    return rows


def test_the_first_waiting_article_before_each_in_ingest_order(db_engine):
    with make_sessionmaker(db_engine)() as session:
        rows = _backlog(session)
        waiting = sorted((a for a in rows if a.stage == ArticleStage.fetched),
                         key=lambda a: (article_time(a), a.fetched_at, a.id))
        assert [a.text for a in waiting] == ["第4篇", "第1篇", "第0篇", "第2篇", "第6篇"]
        for k, article in enumerate(rows):
            before = [w for w in waiting if (article_time(w), w.fetched_at, w.id)
                      < (article_time(article), article.fetched_at, article.id)]
            assert earliest_waiting_before(session, article) == (before[0].id if before else None), k


@pytest.mark.postgres
def test_postgres_reads_the_question_as_a_range_of_the_ingest_order_index(postgres_engine):
    with make_sessionmaker(postgres_engine)() as session:
        rows = _backlog(session)
        captured: list[str] = []
        real_scalar = session.scalar

        def capture(stmt, params=None, *args, **kwargs):
            bound = stmt.params(params) if params else stmt  # the statement is built once, the article bound per call
            captured.append(str(bound.compile(dialect=postgresql.dialect(),
                                              compile_kwargs={"literal_binds": True})))
            return real_scalar(stmt, params, *args, **kwargs)

        session.scalar = capture  # the statement the function really runs
        earliest_waiting_before(session, rows[4])
        session.scalar = real_scalar
        # a handful of rows: without these the planner would rightly read the whole table
        session.execute(text("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(session.scalars(text("EXPLAIN " + captured[0])))
        assert "ix_articles_ingest_order" in plan, plan
        index_cond = next(line for line in plan.splitlines() if "Index Cond" in line)
        assert "ROW(" in index_cond and "stage" in index_cond, plan  # the bound is the index's range
        assert "Filter" not in plan, plan
