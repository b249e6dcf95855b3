"""Same-story clustering: reposts and rewrites join, unrelated stories don't, copies are flagged, rebuilds agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from crawlers.ingest import process_fetched
from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher
from crawlers.models import Article, Story
from crawlers.stories import StoryIndex, shingles, story_text, strip_repost_chain
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.org import load_org
from yuqing.schema import all_metadata

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

ORIGINAL = ("示例银行新华路营业厅排长队 储户称取不出钱。11月22日上午，不少市民反映，位于江汉区新华路77号的示例银行"
            "新华路营业厅门前排起了长队，有储户称排了两个多小时仍未办完业务，想取出定期存款却被告知需要提前预约。"
            "记者在现场看到，营业厅内仅开放了两个窗口，等候区座位已满，不少老人站在门外等候。对此，示例银行江城分行"
            "工作人员回应称，当天系统升级导致部分业务办理变慢，目前已增派人手。")
REWRITE = ("江城晚报讯（记者 李明）示例银行新华路营业厅排长队，储户称取不出钱。11月22日上午，不少市民反映，位于新华路"
           "77号的示例银行新华路营业厅门前排起了长队，有储户称排了两个多小时仍未办完业务，想取出定期存款却被告知需要"
           "提前预约。现场营业厅内仅开放了两个窗口，等候区座位已满。对此，示例银行江城分行回应称，系统升级导致部分"
           "业务办理变慢，已增派人手。网友纷纷留言表示希望银行提前公告。")
UNRELATED = ("示例银行滨江支行被指暴力催收。市民张女士反映，她的信用卡逾期后频繁接到催收电话，对方言语威胁，"
             "还联系了她的同事和亲属。张女士表示愿意协商还款，但对方拒绝了分期方案。")
SHORT_POST = "示例银行新华路营业厅今天又取不出钱了，排了三个小时！"


def test_repost_chain_markers_are_stripped():
    assert strip_repost_chain("太坑了//@小王:转发微博//@江城吃瓜群众：示例银行取不出钱") == "太坑了 示例银行取不出钱"
    assert strip_repost_chain("回复@小李:同感") == "同感"


def test_shingles_ignore_punctuation_spacing_and_width():
    assert shingles("示例银行，取款难！") == shingles("示例 银行 取款难")
    assert shingles("ＡＢＣ示例") == shingles("abc示例")
    assert shingles("") == set()


def test_exact_copy_joins_and_is_flagged_duplicate():
    index = StoryIndex()
    index.add(1, ORIGINAL)
    copy = ORIGINAL.replace("。", "！").replace("，", " ")
    a = index.assign(copy, unit_id="xinhualu", risk_words=[], at=T0)
    assert (a.story_id, a.reason, a.is_duplicate) == (1, "minhash", True)
    assert a.similarity >= 0.9


def test_rewrite_joins_the_story_without_being_a_duplicate():
    index = StoryIndex()
    index.add(1, ORIGINAL)
    a = index.assign(REWRITE, unit_id=None, risk_words=[], at=T0)
    assert a.story_id == 1 and a.reason == "minhash"
    assert 0.5 <= a.similarity < 0.9 and not a.is_duplicate


def test_unrelated_story_about_the_same_bank_does_not_join():
    index = StoryIndex()
    index.add(1, ORIGINAL)
    assert index.find(UNRELATED) is None
    a = index.assign(UNRELATED, unit_id="binjiang", risk_words=["暴力催收"], at=T0)
    assert a.story_id is None and a.reason == "new" and len(a.signature) == 128


def test_weibo_repost_chain_joins_the_original_post():
    index = StoryIndex()
    index.add(7, SHORT_POST)
    repost = f"太坑了，我上周也遇到了//@小王:转发微博//@江城吃瓜群众:{SHORT_POST}"
    assert index.assign(story_text("", repost), unit_id=None, risk_words=[], at=T0).story_id == 7


def test_repost_with_a_long_comment_joins_through_retweeted_text():
    index = StoryIndex()
    index.add(7, SHORT_POST)
    comment = ("作为一个在江城生活了二十年的老市民，我真心觉得现在去银行办事越来越难了，不光是排队的问题，"
               "还有各种手续和预约，老年人根本搞不懂，希望有关部门能够重视一下这个问题，转给更多人看看")
    meta = {"retweeted_text": SHORT_POST}
    text = story_text("", comment, meta)
    a = index.assign(text, unit_id=None, risk_words=[], at=T0, original=SHORT_POST)
    assert a.story_id == 7 and a.reason == "minhash"
    assert index.best(comment) is None  # the comment alone would not have joined


def test_short_post_joins_the_open_story_of_the_same_unit_by_shared_risk_words():
    index = StoryIndex(window=timedelta(hours=48))
    index.add(1, ORIGINAL)
    index.touch(1, unit_id="xinhualu", at=T0, risk_words={"取不出钱", "排长队"})
    assert index.find(SHORT_POST) is None  # too different for MinHash
    a = index.assign(SHORT_POST, unit_id="xinhualu", risk_words=["取不出钱"], at=T0 + timedelta(hours=5))
    assert (a.story_id, a.reason, a.shared_words, a.is_duplicate) == (1, "same_unit_risk", ["取不出钱"], False)
    # outside the window, another unit, or no shared risk word: a new story
    assert index.assign(SHORT_POST, unit_id="xinhualu", risk_words=["取不出钱"],
                        at=T0 + timedelta(hours=49)).story_id is None
    assert index.assign(SHORT_POST, unit_id="zhongnanlu", risk_words=["取不出钱"], at=T0).story_id is None
    assert index.assign(SHORT_POST, unit_id="xinhualu", risk_words=["态度差"], at=T0).story_id is None
    assert index.assign(SHORT_POST, unit_id=None, risk_words=["取不出钱"], at=T0).story_id is None


def test_signatures_are_deterministic_across_instances():
    a, b = StoryIndex(), StoryIndex()
    assert [int(v) for v in a.signature(ORIGINAL).hashvalues] == [int(v) for v in b.signature(ORIGINAL).hashvalues]
    values = [int(v) for v in a.signature(ORIGINAL).hashvalues]
    b.add(3, signature=values, key="s3")
    assert b.find(REWRITE) == 3


def test_texts_too_short_to_compare_never_match():
    index = StoryIndex()
    index.add(1, ORIGINAL)
    assert index.signature("转发") is None
    assert index.assign("转发", unit_id=None, risk_words=[], at=T0).story_id is None


def test_prune_forgets_old_stories():
    index = StoryIndex()
    index.add(1, ORIGINAL, key="a1")
    index.touch(1, unit_id="xinhualu", at=T0, risk_words={"取不出钱"})
    assert index.prune(T0 + timedelta(days=8)) == 1
    assert index.find(ORIGINAL) is None and index.find_for_unit("xinhualu", ["取不出钱"], T0) is None


def test_rebuild_from_database_after_restart_gives_the_same_assignments(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'stories.db'}")
    all_metadata().create_all(engine)
    factory = make_sessionmaker(engine)
    matcher = Matcher.from_org(load_org(ROOT / "config/org.yaml"), load_keyword_plans(ROOT / "config/keywords.yaml"))
    clock = FrozenClock(T0 + timedelta(hours=6))
    live = StoryIndex()
    with factory() as session:
        for i, (title, text, minutes) in enumerate([
            ("储户称取不出钱", ORIGINAL, 0), ("", SHORT_POST, 60), ("滨江支行被指暴力催收", UNRELATED, 90),
        ]):
            session.add(Article(source_id="t", channel="news", url=f"https://x.example/{i}", url_hash=f"h{i}",
                                title=title, text=text, fetched_at=T0 + timedelta(minutes=minutes),
                                published_at=T0 + timedelta(minutes=minutes), content_hash=f"c{i}"))
        session.commit()
        report = process_fetched(session, matcher=matcher, index=live, clock=clock)
        assert (report.new_stories, report.joined_stories) == (2, 1)

        restarted = StoryIndex()
        assert restarted.load(session) == 2
        probes = [
            (REWRITE, "xinhualu", ["取不出钱"], T0 + timedelta(hours=3)),
            (SHORT_POST + "大家小心", "xinhualu", ["取不出钱"], T0 + timedelta(hours=4)),
            ("示例银行新华路营业厅今天排长队，据说又取不出钱了", "xinhualu", ["取不出钱", "排长队"],
             T0 + timedelta(hours=30)),
            (UNRELATED, "binjiang", ["暴力催收"], T0 + timedelta(hours=2)),
            ("示例银行滨江支行催收电话一天打了二十个，言语威胁", "binjiang", ["催收", "威胁"], T0 + timedelta(hours=3)),
            ("示例银行中南路营业厅服务态度差", "zhongnanlu", ["态度差"], T0),
        ]
        reasons = set()
        for text, unit, words, at in probes:
            before = live.assign(text, unit_id=unit, risk_words=words, at=at)
            after = restarted.assign(text, unit_id=unit, risk_words=words, at=at)
            assert (before.story_id, before.reason, before.is_duplicate) == \
                (after.story_id, after.reason, after.is_duplicate), text
            reasons.add(after.reason)
        assert reasons == {"minhash", "same_unit_risk", "new"}  # the probes exercise every path
        stories = session.scalars(select(Story).order_by(Story.id)).all()
        assert restarted.find(REWRITE) == stories[0].id
        assert all(isinstance(v, int) for v in stories[0].minhash) and len(stories[0].minhash) == 128
    engine.dispose()
