"""The per-round queries that read the relevant articles use the indexes made for them (migrations 0023, 0024):
the search index's pending query reads ``ix_articles_stage_hash`` alone (no table row: it compares each matched
article's ``content_hash`` with its index row), the complaint-board query reads only the complaint channel's
posts off ``ix_articles_channel_stage`` — on SQLite as it plans them (no ``ANALYZE`` statistics, as yuqing runs
it) and on PostgreSQL. Both still return what they returned: tests/crawlers/test_search_index.py and
tests/complaints/test_board_posts.py."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from crawlers.models import Article
from crawlers.search_index import _PENDING
from incidents.complaints.links import _BOARD_POSTS
from yuqing.db import make_sessionmaker

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _plan(session, stmt) -> str:
    dialect = session.get_bind().dialect
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "postgresql":
        # a handful of rows: without these the planner would rightly read the whole table
        session.execute(text("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off"))
        return "\n".join(session.scalars(text("EXPLAIN " + sql)))
    return "\n".join(row[-1] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))


def _articles(session) -> None:
    for n, (channel, stage) in enumerate([("news", "irrelevant"), ("news", "matched"), ("complaint", "classified"),
                                          ("complaint", "scored"), ("social", "scored"), ("complaint", "fetched")]):
        session.add(Article(source_id="s", channel=channel, url=f"https://x.example/{n}", url_hash=f"h{n}",
                            title=f"第{n}篇", text="", fetched_at=NOW, content_hash=f"c{n}", stage=stage))
    session.commit()


def test_the_pending_query_reads_the_stage_hash_index_alone(db_engine):
    with make_sessionmaker(db_engine)() as session:
        _articles(session)
        plan = _plan(session, _PENDING.params(limit=500))
        if db_engine.dialect.name == "postgresql":
            assert "Index Only Scan using ix_articles_stage_hash on articles" in plan, plan
        else:
            assert "SEARCH articles USING COVERING INDEX ix_articles_stage_hash (stage=?)" in plan, plan
        assert [session.get(Article, i).title for i in session.scalars(_PENDING, {"limit": 500})] == [
            "第1篇", "第2篇", "第3篇", "第4篇"]  # the matched ones, none indexed yet, oldest first


def test_the_board_query_reads_only_the_complaint_channel_off_its_index(db_engine):
    with make_sessionmaker(db_engine)() as session:
        _articles(session)
        plan = _plan(session, _BOARD_POSTS)
        assert "ix_articles_channel_stage" in plan, plan
        index_line = next(line for line in plan.splitlines() if "ix_articles_channel_stage" in line)
        if db_engine.dialect.name == "postgresql":
            # the channel is the index's range (on a handful of rows the planner may filter the stage instead)
            cond = plan.splitlines()[plan.splitlines().index(index_line) + 1]
            assert "Index Cond" in cond and "channel" in cond, plan
        else:
            assert "channel=? AND stage=?" in index_line, plan
