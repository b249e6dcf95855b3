"""The ingest step on a real database: attribution, stories, idempotency, crash recovery and isolation of one
failing article."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crawlers.ingest import INGEST_FAILED, IngestReport, process_fetched, requeue_failed
from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher, MatchResult
from crawlers.models import Article, ArticleStage, Mention, Story
from crawlers.stories import StoryIndex
from runner.schema import all_metadata
from tests.helpers import created_sqlite_engine
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.org import load_org

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

ORIGINAL = ("11月22日上午，不少市民反映，位于江汉区新华路77号的示例银行新华路营业厅门前排起了长队，有储户称排了两个多"
            "小时仍未办完业务，想取出定期存款却取不出钱，被告知需要提前预约。记者在现场看到，营业厅内仅开放了两个窗口，"
            "等候区座位已满，不少老人站在门外等候。对此，示例银行江城分行工作人员回应称，当天系统升级导致部分业务办理"
            "变慢，目前已增派人手。")
REWRITE = ("江城晚报讯 11月22日上午，不少市民反映，位于新华路77号的示例银行新华路营业厅门前排起了长队，有储户称排了两个"
           "多小时仍未办完业务，想取出定期存款却取不出钱，被告知需要提前预约。现场营业厅内仅开放了两个窗口，等候区座位"
           "已满。对此，示例银行江城分行回应称，系统升级导致部分业务办理变慢，已增派人手。网友纷纷留言希望提前公告。")
SHORT_POST = "示例银行新华路营业厅今天又取不出钱了，排了三个小时！"

# (key, title, text, published offset in minutes, meta): fetched in this order, one minute apart.
SCENARIO = [
    ("original", "示例银行新华路营业厅排长队 储户称取不出钱", ORIGINAL, 15, {}),
    ("copy", "示例银行新华路营业厅排长队 储户称取不出钱", ORIGINAL, 40, {}),
    ("short_post", "", SHORT_POST, 60, {}),
    ("repost", "", f"太坑了//@江城吃瓜群众:{SHORT_POST}", 70, {"retweeted_text": SHORT_POST}),
    ("annual_report", "示例银行发布三季度报告",
     "示例银行发布2026年三季度报告，营收同比增长百分之五，资产质量保持稳定。", 80, {}),
    ("other_bank", "工商银行新华路营业厅装修",
     "工商银行新华路营业厅下周起装修停业，客户可前往附近网点办理业务。", 85, {}),
    ("code", "接口文档",
     "下面的示例代码演示了如何调用接口：示例银行新华路营业厅 = Outlet()，然后查询排队人数。", 86, {}),
    ("collection", "示例银行滨江支行被指暴力催收",
     "市民张女士反映，她在示例银行滨江支行办理的信用卡逾期后，频繁接到催收电话，对方言语威胁，还联系了她的亲属。", 90,
     {}),
    ("rewrite_earlier", "储户排长队取不出钱", REWRITE, -30, {}),  # published before the "original"
]


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = created_sqlite_engine(tmp_path / "ingest.db")
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.from_org(load_org(ROOT / "config/org.yaml"), load_keyword_plans(ROOT / "config/keywords.yaml"))


def seed(session: Session) -> dict[str, int]:
    ids = {}
    for n, (key, title, text, published, meta) in enumerate(SCENARIO):
        article = Article(source_id="test", channel="social" if not title else "news", url=f"https://x.example/{key}",
                          url_hash=f"hash-{key}", title=title, text=text, content_hash=f"content-{key}",
                          published_at=T0 + timedelta(minutes=published), fetched_at=T0 + timedelta(minutes=n),
                          meta=dict(meta))
        session.add(article)
        session.flush()
        ids[key] = article.id
    session.commit()
    return ids


def counts(session: Session) -> tuple[int, int, list[int]]:
    mentions = session.scalar(select(func.count()).select_from(Mention))
    stories = session.scalars(select(Story).order_by(Story.id)).all()
    return mentions, len(stories), [s.article_count for s in stories]


def test_batch_attributes_clusters_and_reports(factory, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    with factory() as session:
        ids = seed(session)
        report = process_fetched(session, matcher=matcher, index=StoryIndex(), clock=clock)
        assert report == IngestReport(processed=9, relevant=7, irrelevant=2, new_stories=3, joined_stories=4,
                                      duplicates=report.duplicates)
        by_key = {k: session.get(Article, i) for k, i in ids.items()}
        assert by_key["other_bank"].stage == ArticleStage.irrelevant
        assert by_key["code"].stage == ArticleStage.irrelevant
        assert by_key["code"].meta["match"]["excluded_by"] == ["示例代码"]
        assert all(a.stage == ArticleStage.matched for k, a in by_key.items() if k not in {"other_bank", "code"})

        # one story for the queue at 新华路营业厅: the copy, the short post (same unit + 取不出钱), its repost and
        # the earlier-published rewrite all joined it
        story = by_key["original"].story
        assert {by_key[k].story_id for k in ("copy", "short_post", "repost", "rewrite_earlier")} == {story.id}
        assert by_key["short_post"].meta["match"]["story_reason"] in {"same_unit_topic", "same_unit_risk"}
        assert by_key["repost"].meta["match"]["story_reason"] == "minhash"
        assert story.unit_id == "xinhualu" and story.article_count == 5
        assert story.first_article_id == ids["rewrite_earlier"]  # the earliest published copy is the first source
        assert story.first_seen_at == T0 - timedelta(minutes=30)
        assert story.last_seen_at == T0 + timedelta(minutes=70)
        assert story.title == "储户排长队取不出钱"  # the first told (published) founds the story
        assert len(story.minhash) == 128 and all(isinstance(v, int) for v in story.minhash)

        assert by_key["copy"].is_duplicate and not by_key["original"].is_duplicate
        assert not by_key["rewrite_earlier"].is_duplicate
        flagged = session.scalar(select(func.count()).select_from(Article).where(Article.is_duplicate))
        assert report.duplicates == flagged >= 1

        assert by_key["annual_report"].story.unit_id == "head-office"
        assert by_key["collection"].story.unit_id == "binjiang"
        assert by_key["collection"].story_id not in {story.id, by_key["annual_report"].story_id}

        primary = session.scalars(select(Mention).where(Mention.article_id == ids["original"],
                                                        Mention.is_primary)).one()
        assert primary.unit_id == "xinhualu" and "示例银行新华路营业厅" in primary.terms
        assert "<" not in primary.snippet and "示例银行新华路营业厅" in primary.snippet
        assert by_key["original"].meta["match"]["primary_unit_id"] == "xinhualu"
        assert "取不出钱" in by_key["original"].meta["match"]["risk_words"]


def test_running_twice_changes_nothing(factory, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    index = StoryIndex()
    with factory() as session:
        seed(session)
        process_fetched(session, matcher=matcher, index=index, clock=clock)
        first = counts(session)
        again = process_fetched(session, matcher=matcher, index=index, clock=clock)
        assert again == IngestReport()
        assert counts(session) == first


def test_rematching_an_article_does_not_duplicate_mentions_or_story_counts(factory, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    index = StoryIndex()
    with factory() as session:
        ids = seed(session)
        process_fetched(session, matcher=matcher, index=index, clock=clock)
        before = counts(session)
        article = session.get(Article, ids["original"])
        story_id = article.story_id
        article.stage = ArticleStage.fetched  # e.g. an admin asks for a re-match after editing the org chart
        session.commit()
        report = process_fetched(session, matcher=matcher, index=index, clock=clock)
        assert report.processed == 1 and report.new_stories == 0 and report.joined_stories == 0
        assert counts(session) == before
        assert session.get(Article, ids["original"]).story_id == story_id


# A worker process that ingests the seeded database and is killed (SIGKILL: no exception handler, no rollback, no
# cleanup runs) in the middle of one article's transaction, right after its mentions were written to the database.
CRASH_WORKER = """
import os, signal, sys
from datetime import datetime
from pathlib import Path
from sqlalchemy import event
from crawlers.ingest import process_fetched
from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher
from crawlers.models import Mention
from crawlers.stories import StoryIndex
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.org import load_org

db, root, victim, now = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), datetime.fromisoformat(sys.argv[4])
matcher = Matcher.from_org(load_org(root / "config/org.yaml"), load_keyword_plans(root / "config/keywords.yaml"))
session = make_sessionmaker(make_engine(f"sqlite:///{db}"))()

@event.listens_for(session, "after_flush")
def die_mid_transaction(flushed, _context):
    if any(isinstance(o, Mention) and o.article_id == victim for o in flushed.new):
        os.kill(os.getpid(), signal.SIGKILL)

process_fetched(session, matcher=matcher, index=StoryIndex(), clock=FrozenClock(now))
print("not killed")
"""


def test_process_killed_mid_article_then_rerun_after_restart_gives_the_clean_result(tmp_path, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    clean_engine = make_engine(f"sqlite:///{tmp_path / 'clean.db'}")
    all_metadata().create_all(clean_engine)
    with make_sessionmaker(clean_engine)() as session:
        seed(session)
        clean_report = process_fetched(session, matcher=matcher, index=StoryIndex(), clock=clock)
        clean = counts(session)
    clean_engine.dispose()

    db = tmp_path / "crashy.db"
    engine = make_engine(f"sqlite:///{db}")
    all_metadata().create_all(engine)
    factory = make_sessionmaker(engine)
    with factory() as session:
        ids = seed(session)
    victim = ids["short_post"]  # the fourth article by publish time, and one that names a unit
    worker = subprocess.run([sys.executable, "-c", CRASH_WORKER, str(db), str(ROOT), str(victim),
                             clock.now().isoformat()], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert worker.returncode == -signal.SIGKILL, worker.stdout + worker.stderr
    with factory() as session:  # the process restarts: new session, index rebuilt from the database
        done = session.scalars(select(Article.id).where(Article.stage != ArticleStage.fetched)).all()
        # committed: the batch's two irrelevant articles (settled together first) and the three relevant articles
        # before the victim (one transaction each); the victim's work is gone
        assert len(done) == 5 and victim not in done
        assert session.scalar(select(func.count()).select_from(Mention).where(Mention.article_id == victim)) == 0
        index = StoryIndex()
        index.load(session, now=clock.now())
        rest = process_fetched(session, matcher=matcher, index=index, clock=clock)
        assert rest.processed == 4 and rest.failed == 0
        assert counts(session) == clean
        left = session.scalar(select(func.count()).select_from(Article).where(Article.stage == ArticleStage.fetched))
        assert left == 0
        assert session.scalar(select(func.count()).select_from(Story)) == clean_report.new_stories
    engine.dispose()


class PathologicalTextMatcher:
    """A real matcher that raises on one text, as a matcher bug triggered by one article's content would."""

    def __init__(self, inner: Matcher, marker: str, error: Exception):
        self.inner, self.marker, self.error = inner, marker, error
        self.root_unit_id = inner.root_unit_id
        self.units_below = inner.units_below
        self.calls = 0

    def match(self, text: str, title: str = "", *, original: str = "") -> MatchResult:
        self.calls += 1
        if self.marker in text:
            raise self.error
        return self.inner.match(text, title=title, original=original)


class InterruptingMatcher(PathologicalTextMatcher):
    def __init__(self, inner: Matcher, die_on_call: int):
        super().__init__(inner, marker="", error=KeyboardInterrupt())
        self.die_on_call = die_on_call

    def match(self, text: str, title: str = "", *, original: str = "") -> MatchResult:
        self.calls += 1
        if self.calls == self.die_on_call:
            raise KeyboardInterrupt
        return self.inner.match(text, title=title, original=original)


POISON = "示例银行新华路营业厅\u202e" + "（" * 50  # the "pathological" text the matcher chokes on


def seed_poison(session: Session) -> int:
    article = Article(source_id="test", channel="social", url="https://x.example/poison", url_hash="hash-poison",
                      title="", text=f"{POISON}排队取不出钱", content_hash="content-poison",
                      published_at=T0 - timedelta(hours=1), fetched_at=T0, meta={"retweeted_text": "原帖"})
    session.add(article)
    session.commit()
    return article.id


def test_an_article_whose_content_makes_matching_raise_is_set_aside_and_the_batch_goes_on(db_engine, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    factory = make_sessionmaker(db_engine)
    with factory() as session:
        ids = seed(session)
        poison = seed_poison(session)  # published first: at the head of the queue
        picky = PathologicalTextMatcher(matcher, POISON, RecursionError("maximum recursion depth exceeded"))
        report = process_fetched(session, matcher=picky, index=StoryIndex(), clock=clock)
        assert report.failed == 1 and report.processed == len(ids)
        assert report.relevant == 7 and report.irrelevant == 2
        failed = session.get(Article, poison)
        assert failed.stage == INGEST_FAILED and failed.story_id is None
        assert failed.meta["ingest_error"] == {"error": "RecursionError: maximum recursion depth exceeded",
                                               "at": clock.now().isoformat()}
        assert failed.meta["retweeted_text"] == "原帖"  # the rest of its meta kept
        assert session.scalar(select(func.count()).select_from(Mention).where(Mention.article_id == poison)) == 0
        assert all(session.get(Article, i).stage in {ArticleStage.matched, ArticleStage.irrelevant}
                   for i in ids.values())

        # the next round does not meet it again: the queue is empty
        again = process_fetched(session, matcher=picky, index=StoryIndex(), clock=clock)
        # every article was matched once (the batch's matching is reused for the relevant ones), the poison once
        # more on its own, where it was set aside
        assert again == IngestReport() and picky.calls == len(ids) + 2

        # once the cause is fixed, an operator puts it back and it is matched like any other, its error gone
        assert requeue_failed(session) == 1
        fixed = process_fetched(session, matcher=matcher, index=StoryIndex(), clock=clock)
        assert fixed.processed == 1 and fixed.relevant == 1 and fixed.failed == 0
        matched = session.get(Article, poison)
        assert matched.stage == ArticleStage.matched and "ingest_error" not in matched.meta
        assert matched.meta["match"]["primary_unit_id"] == "xinhualu"


def test_an_interruption_stops_the_batch_and_marks_nothing_failed(factory, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    with factory() as session:
        seed(session)
        with pytest.raises(KeyboardInterrupt):
            process_fetched(session, matcher=InterruptingMatcher(matcher, die_on_call=4), index=StoryIndex(),
                            clock=clock)
    with factory() as session:  # interrupted while the batch was matched: the batch rolled back, nothing marked
        stages = list(session.scalars(select(Article.stage)))
        assert stages.count(ArticleStage.fetched) == 9 and INGEST_FAILED not in stages
        rest = process_fetched(session, matcher=matcher, index=StoryIndex(), clock=clock)
        assert rest.processed == 9 and rest.failed == 0


def test_a_database_that_refuses_writes_stops_the_batch_and_marks_nothing_failed(tmp_path, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    url = f"sqlite:///{tmp_path / 'ingest.db'}"
    engine = make_engine(url)
    all_metadata().create_all(engine)
    with make_sessionmaker(engine)() as session:
        seed(session)
    read_only = make_engine(url)

    @event.listens_for(read_only, "connect")
    def _query_only(dbapi_conn, _record):  # the file became read-only (a full disk, a permissions change)
        dbapi_conn.execute("PRAGMA query_only = ON")

    with make_sessionmaker(read_only)() as session, pytest.raises(OperationalError, match="readonly"):
        process_fetched(session, matcher=matcher, index=StoryIndex(), clock=clock)
    read_only.dispose()
    with make_sessionmaker(engine)() as session:  # writable again: everything is still there to do
        assert set(session.scalars(select(Article.stage))) == {ArticleStage.fetched}
        report = process_fetched(session, matcher=matcher, index=StoryIndex(), clock=clock)
        assert report.processed == len(SCENARIO) and report.failed == 0
    engine.dispose()


def test_limit_takes_the_oldest_first_by_publish_time(factory, matcher):
    clock = FrozenClock(T0 + timedelta(hours=2))
    with factory() as session:
        ids = seed(session)
        report = process_fetched(session, matcher=matcher, index=StoryIndex(), clock=clock, limit=2)
        assert report.processed == 2
        stages = {k: session.get(Article, i).stage for k, i in ids.items()}
        # fetched last but published first: the rewrite is met before the copies of it
        assert stages["rewrite_earlier"] == stages["original"] == ArticleStage.matched
        assert stages["copy"] == ArticleStage.fetched


# --- the simulated crisis, end to end through Matcher + StoryIndex -------------------------------------------------
def _sim_rows(now_offset: timedelta) -> tuple[list[dict], object]:
    """Every sim item visible at start + ``now_offset``, as the crawlers would store it (reposts carry the
    original in ``meta['retweeted_text']``, as the JSON API spider's field mapping does)."""
    from sim.scenario import DEFAULT_START, build_scenario, fill

    sc = build_scenario(DEFAULT_START)
    now = sc.start + now_offset
    rows: list[dict] = []
    for a in sc.news + sc.province:
        if a.article.kind == "normal":
            rows.append(dict(key=a.key, truth=a.article.truth, title=a.article.title, published=a.published,
                             text="\n".join(fill(p, a.published, sc.start) for p in a.article.body), meta={}))
    for c in sc.complaints:
        rows.append(dict(key=c.key, truth=c.complaint.truth, title=c.complaint.title, published=c.published,
                         text=fill(c.complaint.content, c.published, sc.start), meta={}))
    for p in sc.weibo:
        meta = {"retweeted_text": fill(sc.post_by_key(p.root_key).text, p.published, sc.start)} if p.root_key else {}
        rows.append(dict(key=p.key, truth=p.post.truth, title="", published=p.published,
                         text=fill(p.text, p.published, sc.start), meta=meta))
    for r in sc.penalties:
        rows.append(dict(key=r.key, truth=r.penalty.truth, title=r.penalty.party, published=r.published,
                         text=r.penalty.facts, meta={}))
    return sorted((r for r in rows if r["published"] <= now), key=lambda r: (r["published"], r["key"])), sc


ANTI_FRAUD = ("示例银行新华路网点工作人员走进社区开展反诈宣传，向老年客户讲解如何识别电信诈骗，提醒市民不要轻信"
              "陌生来电，保护好个人信息和银行卡密码。")


def test_the_simulated_crisis_becomes_one_story_at_the_outlet(factory, matcher):
    rows, sc = _sim_rows(timedelta(hours=12))
    # positive news about the same outlet on the same day, in the middle of the crisis
    rows.append(dict(key="x-anti-fraud", truth="bank_positive", title="", text=ANTI_FRAUD, meta={},
                     published=sc.start + timedelta(hours=6, minutes=30)))
    rows.append(dict(key="x-anti-fraud-title", truth="bank_positive", title="", meta={},
                     text="示例银行新华路网点开展反诈宣传", published=sc.start + timedelta(hours=6, minutes=50)))
    rows.sort(key=lambda r: (r["published"], r["key"]))
    with factory() as session:
        for n, r in enumerate(rows):
            session.add(Article(source_id="sim", channel="x", url=f"http://sim.example/{r['key']}",
                                url_hash=f"h-{n}", title=r["title"], text=r["text"], content_hash=f"c-{n}",
                                published_at=r["published"], fetched_at=r["published"],
                                meta={**r["meta"], "key": r["key"], "truth": r["truth"]}))
        session.commit()
        process_fetched(session, matcher=matcher, index=StoryIndex(), clock=FrozenClock(rows[-1]["published"]),
                        limit=5000)
        articles = {a.meta["key"]: a for a in session.scalars(select(Article))}

    def unit(a: Article) -> str | None:
        return (a.meta.get("match") or {}).get("primary_unit_id")

    outlet_items = [a for a in articles.values() if a.meta["truth"] == "incident" and unit(a) == "xinhualu"]
    crisis_story_ids = {a.story_id for a in outlet_items}
    assert len(crisis_story_ids) == 1, sorted((a.story_id, a.meta["key"]) for a in outlet_items)
    (crisis_id,) = crisis_story_ids
    with factory() as session:
        story = session.get(Story, crisis_id)
        assert story.unit_id == "xinhualu"
    assert len(outlet_items) >= 80  # the scripted beats and their reposts

    # the beats of the timeline, whatever way they are written
    for key in ("c-xinhua-1", "w-root", "w-hot-local", "n-xinhua-1", "w-jcwb-1", "c-xinhua-2", "p-xinhua-1",
                "w-p1", "w-bigv", "w-rumour", "c-xinhua-3", "w-official", "n-xinhua-2", "p-xinhua-2"):
        assert articles[key].story_id == crisis_id, key
    # every relevant item of the crisis is in that one story: the eyewitness naming only the bank and the street,
    # the rumours and statements about the bank or the branch, the follow-ups
    assert articles["w-witness"].meta["match"]["primary_unit_id"] == "xinhualu"
    relevant = [a for a in articles.values() if a.meta["truth"] == "incident" and a.stage != ArticleStage.irrelevant]
    assert {a.story_id for a in relevant} == {crisis_id}, \
        sorted((a.meta["key"], a.story_id) for a in relevant if a.story_id != crisis_id)
    # reposts whose subject is only in the original
    reposts = [a for a in articles.values() if a.text.startswith(("新华路这家我去过", "示例银行出来回应"))]
    assert len(reposts) == 2
    for a in reposts:
        assert a.stage != ArticleStage.irrelevant and unit(a) == "xinhualu" and a.story_id == crisis_id

    # nothing else is in it: no distractor, no background post or its reposts, no same-day good news
    members = [a for a in articles.values() if a.story_id == crisis_id]
    assert {a.meta["truth"] for a in members} == {"incident"}
    assert articles["x-anti-fraud"].story_id not in {None, crisis_id}
    assert articles["x-anti-fraud-title"].story_id != crisis_id

    # other banks' outlets on 新华路 stay out entirely
    namesakes = ("招商银行江城新华路营业厅", "农商银行新华路分理处", "工商银行江城分行新华路支行")
    other_banks = [a for a in articles.values() if any(w in a.text for w in namesakes)]
    assert other_banks and all(a.stage == ArticleStage.irrelevant for a in other_banks), \
        [(a.meta["key"], a.meta.get("match")) for a in other_banks if a.stage != ArticleStage.irrelevant]
    assert all(a.stage == ArticleStage.irrelevant for a in articles.values() if a.meta["truth"] == "distractor")
