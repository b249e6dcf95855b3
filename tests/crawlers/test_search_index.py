"""The search index: bigram tokens, which articles it takes, re-indexing changed text, and the migration that
indexes the rows already stored — on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from api import search
from crawlers.models import Article
from crawlers.search_index import SEP, document_tokens, index_pending, tsvector_literal
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.migrate import upgrade

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _article(n: int, title: str, text: str = "", stage: str = "scored") -> Article:
    return Article(source_id="s", channel="news", url=f"https://x.example/{n}", url_hash=f"h{n}", title=title,
                   text=text, fetched_at=NOW, content_hash=f"c{n}", stage=stage)


def _found(session, q: str) -> set[str]:
    cond = search.condition(search.parse(q), session.get_bind().dialect.name)
    return set(session.scalars(select(Article.title).where(cond)))


def test_tokens_are_bigrams_with_a_separator_between_runs():
    assert document_tokens("新华路网点", "") == ["新华", "华路", "路网", "网点", SEP, SEP]
    assert document_tokens("ＡＴＭ机坏了，P2P", "") == ["atm", SEP, "机坏", "坏了", SEP, "p2p", SEP, SEP]
    assert tsvector_literal(["新华", "华路", SEP, "新华"]) == "'新华':1,4 '华路':2"


def test_queries_are_cut_like_documents_and_bad_ones_are_refused():
    assert search.parse("  ") is None
    assert search.parse("新华路 ATM机").phrases == (("新华", "华路"), ("atm",))
    for bad in ("钱", "、、", "字" * 101, " ".join("ab" for _ in range(9))):
        with pytest.raises(search.BadQuery):
            search.parse(bad)


def test_only_matched_articles_are_indexed_and_changed_text_is_reindexed(db_engine: Engine):
    factory = make_sessionmaker(db_engine)
    clock = FrozenClock(NOW)
    with factory() as s:
        s.add_all([_article(1, "储户挤兑"), _article(2, "挤兑但未匹配", stage="fetched"),
                   _article(3, "挤兑但无关", stage="irrelevant"), _article(4, "网点取现")])
        s.commit()
        assert index_pending(s, clock=clock) == 2
        assert index_pending(s, clock=clock) == 0  # nothing new: the watermark holds
        assert _found(s, "挤兑") == {"储户挤兑"}
        a = s.get(Article, 4)
        a.title, a.text, a.content_hash = "网点跑路传闻", "", "c4-new"
        s.get(Article, 2).stage = "matched"
        s.commit()
        assert index_pending(s, clock=clock) == 2
        assert _found(s, "取现") == set() and _found(s, "跑路") == {"网点跑路传闻"}
        assert _found(s, "挤兑") == {"储户挤兑", "挤兑但未匹配"}


def test_the_migration_indexes_the_articles_already_stored(tmp_path):
    from yuqing.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0016")
    factory = make_sessionmaker(engine)
    with factory() as s:
        s.add_all([_article(1, "新华路网点挤兑"), _article(2, "新华书店")])
        s.commit()
    upgrade(engine)
    with factory() as s:
        assert _found(s, "新华路") == {"新华路网点挤兑"}
        assert _found(s, "新华") == {"新华路网点挤兑", "新华书店"}
        assert index_pending(s, clock=FrozenClock(NOW)) == 0
    engine.dispose()


@pytest.mark.postgres
def test_the_migration_indexes_the_articles_already_stored_on_postgres(postgres_url):
    from tests.helpers import scratch_schema

    with scratch_schema(postgres_url) as engine:
        upgrade(engine, "0016")
        factory = make_sessionmaker(engine)
        with factory() as s:
            s.add_all([_article(1, "新华路网点挤兑"), _article(2, "新华书店")])
            s.commit()
        upgrade(engine)
        with factory() as s:
            assert _found(s, "新华路") == {"新华路网点挤兑"}
            assert _found(s, "挤兑") == {"新华路网点挤兑"}


def test_a_pipeline_round_makes_what_it_matched_searchable(sqlite_engine: Engine, tmp_path):
    """``yuqing run``'s round (crawl off): a fetched post naming the outlet is matched, classified and indexed in
    the same round, so the 舆情信息 search finds it; a post naming no unit of the bank is not indexed."""
    import asyncio

    from crawlers.matching import Matcher
    from crawlers.stories import StoryIndex
    from runner.runtime import Runtime, load_config, run_round
    from sentiment.rules import RuleBasedClassifier
    from sentiment.service import RiskContext
    from yuqing.settings import Settings

    settings = Settings(secret_key="search-index-test-0123456789abcdefghijkl", data_dir=tmp_path)
    cfg = load_config(settings)
    factory = make_sessionmaker(sqlite_engine)
    with factory() as s:
        s.add_all([_article(1, "示例银行新华路网点发生挤兑，储户排长队取不出钱", stage="fetched"),
                   _article(2, "某超市挤兑式抢购食用油", stage="fetched")])
        s.commit()
    rt = Runtime(settings=settings, clock=FrozenClock(NOW), engine=sqlite_engine, session_factory=factory,
                 org=cfg.org, sources=[], policy=cfg.policy,
                 risk_ctx=RiskContext(org=cfg.org, config=cfg.risk_config, authorities={}),
                 matcher=Matcher.from_org(cfg.org, cfg.plans), story_index=StoryIndex(),
                 classifier=RuleBasedClassifier(), senders={})
    asyncio.run(run_round(rt, crawl=False))
    with factory() as s:
        assert _found(s, "挤兑") == {"示例银行新华路网点发生挤兑，储户排长队取不出钱"}
