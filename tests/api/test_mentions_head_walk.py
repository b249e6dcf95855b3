"""舆情信息's risk order read as a walk (``api.mentions.head_walk``): on PostgreSQL, when the charts' count says the
walk is short, the head cut at a risk score runs with nested loops and index scans only — and must give exactly the
rows, order, cursors and totals the planner's own plan gives, for every user's scope, search and filter, across
pages, ties, the cut (a page the cut head fills, a page it cannot), stories at risk 0 (the tail, which the walk
never reads) and articles without a story.

The six walks (two users x three cuts) only read, so they share one PostgreSQL schema, migrated and filled with the
corpus once for the module (``corpus_db``), instead of migrating a schema and writing the same corpus six times:
each still builds its own app and signs in through the form, and the corpus, the cuts and the comparisons are the
same as when each had its own database. The tests that write (the cut's risk rows) keep a fresh schema each."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from api import auth, mentions
from api.users import seed_users
from crawlers.search_index import index_pending
from tests.api.conftest import PASSWORD, factories
from tests.conftest import DEMO_START
from tests.helpers import created_sqlite_engine, scratch_schema
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.migrate import upgrade
from yuqing.org import OrgChart

ROW_RE = re.compile(r'<tr id="article-(\d+)">')
NEXT_RE = re.compile(r'href="(/mentions\?[^"]*cursor=[^"]+)"')
TOTAL_RE = re.compile(r"共 ([\d,]+\+?) 条")
POSTGRES = pytest.mark.parametrize("db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
# The corpus's schema, shared by the tests that only read it (see ``db`` below).
CORPUS_POSTGRES = pytest.mark.parametrize("db", [pytest.param("postgres-corpus", marks=pytest.mark.postgres)],
                                          indirect=True)
QUERIES = [{}, {"q": "挤兑"}, {"q": "新华路", "sentiment": "negative"}, {"channel": "social", "sentiment": "negative"},
           {"q": "排队", "channel": "news"}]


@pytest.fixture(scope="module")
def corpus_db(postgres_url: str, org: OrgChart) -> Iterator[sessionmaker[Session]]:
    """One PostgreSQL schema for the module: migrated, the users seeded (cheap argon2, as every API test's) and the
    corpus written and indexed once. Only tests that do not write use it."""
    with scratch_schema(postgres_url) as engine, pytest.MonkeyPatch.context() as mp:
        upgrade(engine)
        mp.setattr(auth, "password_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        mp.setattr(auth, "_DUMMY_HASH", None)
        factory = make_sessionmaker(engine)
        clock = FrozenClock(DEMO_START)
        with factory() as session:
            seed_users(session, org, password=PASSWORD, clock=clock, must_change=False)
            session.commit()
            write_corpus(factories.Factories(session, clock), session, clock)
        yield factory


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """As tests/api/conftest.py's ``db`` (a fresh SQLite database, or a fresh PostgreSQL schema with
    ``indirect`` "postgres"), plus "postgres-corpus": the module's shared schema with the corpus already in it."""
    param = getattr(request, "param", "sqlite")
    if param == "postgres-corpus":
        yield request.getfixturevalue("corpus_db")
        return
    if param == "postgres":
        yield make_sessionmaker(request.getfixturevalue("postgres_engine"))
        return
    engine = created_sqlite_engine(tmp_path / "api.db")
    yield make_sessionmaker(engine)
    engine.dispose()


def write_corpus(make, session, clock) -> None:
    """Stories with tied and distinct risks, a story whose newest risk is lower than its first, a story at risk 0,
    articles without a story, in the liaison's units (新华路) and outside them (滨江), then indexed."""
    now = clock.now()
    texts = ["储户排队取现，有人说新华路网点要挤兑。", "新华路网点排队两小时，服务太差。", "滨江支行开展反诈宣传活动。",
             "转发：新华路网点的情况已经核实，并非挤兑。"]
    n = 0
    for s, scores in enumerate([(60.0,), (60.0,), (90.0, 40.0), (0.0,), (75.0,), None]):
        story = make.story(title=f"话题{s}") if scores is not None else None
        for score in scores or ():
            make.story_risk(story=story, score=score, level=None, at=now - timedelta(hours=3 - len(scores)))
        for a in range(5):
            n += 1
            make.article(story=story, title=f"文章{s}-{a}", text=texts[(s + a) % len(texts)],
                         unit_id="binjiang" if (s + a) % 3 == 0 else "xinhualu",
                         label=["negative", "neutral", "negative"][a % 3], negative_prob=[0.9, 0.2, 0.9][a % 3],
                         channel="social" if a % 2 else "news", at=now - timedelta(minutes=7 * a + s))
    session.commit()
    assert index_pending(session, clock=clock) == n


def walk_pages(c, params: dict[str, str]) -> tuple[list[int], list[str]]:
    """Every page of the list by its 下一页 links: the article ids in order and each page's total."""
    ids, totals = [], []
    r = c.get("/mentions", params=params)
    for _ in range(50):
        assert r.status_code == 200, r.text
        ids += [int(i) for i in ROW_RE.findall(r.text)]
        totals += TOTAL_RE.findall(r.text)
        link = NEXT_RE.search(r.text)
        if link is None:
            return ids, totals
        r = c.get(link.group(1).replace("&amp;", "&"))
    raise AssertionError("the pages never ran out")


@CORPUS_POSTGRES
@pytest.mark.parametrize("login", ["wangmin", "zhoufang"])
@pytest.mark.parametrize("risk_rows", [1, 3, 100])  # the cut at 90, at 60 (a tie), above every row (no cut)
def test_the_walk_gives_the_planners_rows_and_totals(login_as, monkeypatch, login, risk_rows):
    monkeypatch.setattr(mentions, "PAGE_SIZE", 3)  # several pages, and a head that runs out into the tail
    monkeypatch.setattr(mentions, "WALK_RISK_ROWS", risk_rows)
    walks = []
    real = mentions.walk_the_head
    monkeypatch.setattr(mentions, "walk_the_head", lambda session: (walks.append(1), real(session))[1])
    c = login_as(login)
    for params in QUERIES:
        monkeypatch.setattr(mentions, "WALK_BUDGET", 0)  # never a walk: the planner's own plan
        mentions._estimates.clear()
        planned = walk_pages(c, params)
        assert not walks
        mentions.chart_cache(c.app).__init__()  # the charts (and their total) computed afresh for the walk
        monkeypatch.setattr(mentions, "WALK_BUDGET", 10 ** 12)  # always a walk
        walked = walk_pages(c, params)
        assert walks, params
        walks.clear()
        assert walked == planned, params
        assert planned[0], params  # each query finds something for this user
    # the liaison's scope holds only its own units' articles; the branch-wide user sees the others too
    everything, _ = walk_pages(c, {})
    assert (len(everything) < 30) == (login == "zhoufang")


@POSTGRES
def test_walk_settings_hold_inside_only(session):
    def setting(name: str) -> str:
        return session.scalar(text(f"SELECT current_setting('{name}')"))

    before = {n: setting(n) for n in mentions.WALK_SETTINGS}
    with mentions.walk_the_head(session):
        assert {n: setting(n) for n in mentions.WALK_SETTINGS} == mentions.WALK_SETTINGS
    assert {n: setting(n) for n in mentions.WALK_SETTINGS} == before
    assert before["enable_hashjoin"] == "on"


def test_sqlite_plans_as_before(session):
    from sqlalchemy import select

    from crawlers.models import Article

    assert mentions.head_walk(session, (select(Article), []), 10 ** 6) is None


@POSTGRES
def test_the_cut_is_the_score_of_the_nth_highest_risk_row(session, make, clock, monkeypatch):
    now = clock.now()
    for score in (10.0, 80.0, 50.0, 50.0, 30.0):
        make.story_risk(story=make.story(), score=score, level=None, at=now)
    session.commit()
    for n, cut in ((1, 80.0), (2, 50.0), (3, 50.0), (4, 30.0), (5, 10.0), (6, None)):
        monkeypatch.setattr(mentions, "WALK_RISK_ROWS", n)
        mentions._estimates.clear()
        assert mentions._estimate(session, "cut") == cut, n
