"""Same-story clustering: reposts and rewrites join, unrelated stories don't, copies are flagged, rebuilds agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from crawlers.ingest import process_fetched
from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher
from crawlers.models import Article, Story
from crawlers.stories import StoryIndex, event_concepts, shingles, story_text, strip_repost_chain, topic_grams
from runner.schema import all_metadata
from tests.helpers import created_sqlite_engine
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.org import load_org

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
            (REWRITE, T0 + timedelta(hours=3)),
            (SHORT_POST + "大家小心", T0 + timedelta(hours=4)),
            ("示例银行新华路营业厅今天排长队，据说又取不出钱了", T0 + timedelta(hours=30)),
            (UNRELATED, T0 + timedelta(hours=2)),
            ("示例银行滨江支行催收电话一天打了二十个，言语威胁", T0 + timedelta(hours=3)),
            ("示例银行中南路营业厅服务态度差", T0),
        ]
        reasons = set()
        for text, at in probes:
            r = matcher.match(text)
            kwargs = dict(unit_id=r.primary_unit_id, risk_words=r.risk_words, categories=r.categories,
                          grams=topic_grams(r.topic), at=at)
            before = live.assign(text, **kwargs)
            after = restarted.assign(text, **kwargs)
            assert (before.story_id, before.reason, before.is_duplicate, before.topic_score) == \
                (after.story_id, after.reason, after.is_duplicate, after.topic_score), text
            reasons.add(after.reason)
        assert {"minhash", "new"} < reasons  # the probes exercise every path
        assert reasons & {"same_unit_topic", "same_unit_risk"}
        stories = session.scalars(select(Story).order_by(Story.id)).all()
        assert restarted.find(REWRITE) == stories[0].id
        assert all(isinstance(v, int) for v in stories[0].minhash) and len(stories[0].minhash) == 128
    engine.dispose()


# --- rule 2 on real-world-style texts -----------------------------------------------------------------------------
def _cluster(tmp_path, items: list[tuple[str, str, timedelta]]) -> dict[str, Article]:
    """Ingest (key, text, offset from T0) in order on a fresh database; returns the stored articles by key."""
    engine = created_sqlite_engine(tmp_path / "rule2.db")
    matcher = Matcher.from_org(load_org(ROOT / "config/org.yaml"), load_keyword_plans(ROOT / "config/keywords.yaml"))
    with make_sessionmaker(engine)() as session:
        for key, text, offset in items:
            session.add(Article(source_id="t", channel="social", url=f"https://x.example/{key}", url_hash=key,
                                title="", text=text, content_hash=key, published_at=T0 + offset,
                                fetched_at=T0 + offset, meta={"key": key}))
        session.commit()
        process_fetched(session, matcher=matcher, index=StoryIndex(), clock=FrozenClock(T0 + timedelta(days=10)))
        out = {a.meta["key"]: a for a in session.scalars(select(Article))}
        session.expunge_all()
    engine.dispose()
    return out


CARD_POST = "示例银行光明路支行的ATM把我的卡吞了！！等了一个小时没人管，打客服一直占线，卡里还有工资"
CARD_ARTICLE = (
    "本报讯 昨天傍晚，市民王先生在示例银行光明路支行门口的自助取款机取钱时，银行卡被机器“吞”掉。王先生说，"
    "机器屏幕显示“交易超时”后就再也没有退卡，他在原地等了一个多小时，拨打客服热线一直无人接听，卡里有刚发的工资，"
    "第二天还要还房贷。记者今天上午来到该支行，工作人员表示，自助设备吞卡多因操作超时触发保护机制，客户需携带"
    "身份证到柜台办理领卡手续。王先生认为，银行应当在夜间安排人员值守或公示应急电话，“吞卡以后找不到人，"
    "这才是最让人着急的”。该行表示，已为王先生办理领卡，并将检查自助设备的提示和应急联系方式。")
FOLLOW_UP = "示例银行光明路支行吞卡的事后续：今天拿身份证去柜台把卡领回来了，工作人员还道了歉，ATM旁边也贴了应急电话"
CARD_AGAIN = "又是示例银行光明路支行！今天ATM又吞了我同事的卡，屏幕提示交易超时，周末柜台不开门没人处理"
LATER_INCIDENT = ("示例银行光明路支行理财经理推销的“保本”理财亏了八万，当初说稳赚不赔，现在说合同里写了有风险，"
                  "这不是误导销售吗")
PROMOTION = "示例银行光明路支行本周六举办“金融知识进社区”活动，现场讲解养老金领取和防范电信诈骗，欢迎街坊参加"


def test_a_short_post_and_a_long_article_about_one_incident_are_one_story(tmp_path):
    got = _cluster(tmp_path, [("post", CARD_POST, timedelta(0)), ("article", CARD_ARTICLE, timedelta(hours=20)),
                              ("follow_up", FOLLOW_UP, timedelta(hours=30))])
    assert index_reasons(got) == {"post": "new", "article": got["article"].meta["match"]["story_reason"],
                                  "follow_up": got["follow_up"].meta["match"]["story_reason"]}
    assert got["post"].story_id == got["article"].story_id == got["follow_up"].story_id
    assert got["article"].meta["match"]["story_reason"] in {"same_unit_topic", "same_unit_risk"}
    sig = StoryIndex()  # MinHash alone could not tell: the texts are too different
    sig.add(1, CARD_POST)
    assert sig.best(CARD_ARTICLE) is None


def test_two_incidents_at_one_outlet_days_apart_are_two_stories(tmp_path):
    got = _cluster(tmp_path, [("card", CARD_POST, timedelta(0)), ("card_article", CARD_ARTICLE, timedelta(hours=2)),
                              ("card_again", CARD_AGAIN, timedelta(days=4)),
                              ("wealth", LATER_INCIDENT, timedelta(days=4, hours=1))])
    assert got["card"].story_id == got["card_article"].story_id
    ids = {got["card"].story_id, got["card_again"].story_id, got["wealth"].story_id}
    assert len(ids) == 3  # outside the window nothing joins, and a different trouble is a different story


def test_a_different_event_at_the_same_outlet_the_same_day_stays_apart(tmp_path):
    got = _cluster(tmp_path, [("card", CARD_POST, timedelta(0)), ("card_article", CARD_ARTICLE, timedelta(hours=2)),
                              ("promotion", PROMOTION, timedelta(hours=3)),
                              ("wealth", LATER_INCIDENT, timedelta(hours=4))])
    assert got["card"].story_id == got["card_article"].story_id
    assert len({got["card"].story_id, got["promotion"].story_id, got["wealth"].story_id}) == 3
    assert all(got[k].meta["match"]["primary_unit_id"] == "guangminglu" for k in got)


def test_rule2_restores_after_restart_and_explains_itself(tmp_path):
    got = _cluster(tmp_path, [("post", CARD_POST, timedelta(0)), ("article", CARD_ARTICLE, timedelta(hours=1))])
    info = got["article"].meta["match"]
    assert info["topic_grams"] and info["topic_score"] > 0
    assert "吞卡" in info["topic_grams"] and "银行" not in info["topic_grams"]


def index_reasons(got: dict[str, Article]) -> dict[str, str]:
    return {k: a.meta["match"]["story_reason"] for k, a in got.items()}


def test_topic_grams_are_content_bigrams_and_amounts():
    grams = topic_grams("记者今天了解到，老人取5万元现金被拒//@小王:太过分了 http://t.cn/abc @江城晚报")
    assert {"老人", "5万", "现金", "被拒", "过分"} <= grams
    assert not grams & {"记者", "今天", "了解", "t.cn", "江城", "晚报"}
    assert all(not (set(g) & set("的了是")) for g in grams)
    assert "5万" in topic_grams("5 万块") and "5万" in topic_grams("5万元")


def test_profile_ignores_retellings_and_lone_words():
    index = StoryIndex()
    base = topic_grams("老人取5万元现金被拒 柜员说没有预约不给取 态度很差")
    index.touch(1, unit_id="xinhualu", at=T0, risk_words=["被拒", "预约"], grams=base)
    for i in range(20):  # reposts keep the story open but do not vote on its topic
        index.touch(1, unit_id="xinhualu", at=T0 + timedelta(minutes=i), risk_words=["诈骗"], grams={"诈骗"},
                    counts=False)
    fraud = topic_grams("开展反诈宣传 讲解如何识别电信诈骗")
    assert index.find_for_unit("xinhualu", ["诈骗"], T0, fraud) is None
    same = index.find_for_unit("xinhualu", ["被拒"], T0 + timedelta(hours=1), topic_grams("取5万现金被拒了，说要预约"))
    assert same is not None and same.story_id == 1 and same.topic_score >= 0.30 and same.reason == "same_unit_topic"


# --- rule 3: the same event told a level up ----------------------------------------------------------------------
OUTLET_TELLINGS = [
    "示例银行新华路网点不让老人取自己的5万块钱，说大额取现要预约，老人急着交住院押金，排长队也取不出来",
    "今天在示例银行新华路网点看到一位大爷取款被拒，柜员说没预约不能取5万现金，保安还把人请了出去",
    "示例银行新华路网点这事太过分了，自己的钱取不出来，预约制度也不能不近人情，老人都急哭了",
]
BANK_RUMOUR = "我妈刚打电话让我赶紧把示例银行的定期全取出来，说群里都在传要倒闭了，老人取钱都被拒……我该信吗？"
BRANCH_STATEMENT = ("【示例银行江城分行情况说明】针对网传老人在新华路取款被拒一事，经核实，客户当日办理5万元大额取现，"
                    "因未预约且网点现金备付不足，工作人员未能及时妥善处理。我行已为客户办理取款并上门致歉。")
BANK_FEES = "示例银行信用卡年费又扣了200元，说好刷满6次免年费，客服一直踢皮球，垃圾"
OTHER_SUB_BRANCH = "示例银行滨江支行今天排长队，取个钱等了两个小时，预约电话也打不通"


def test_the_same_event_told_by_the_bank_or_the_branch_joins_the_outlets_story(tmp_path):
    items = [(f"t{k}", text, timedelta(minutes=20 * k)) for k, text in enumerate(OUTLET_TELLINGS)]
    items += [("rumour", BANK_RUMOUR, timedelta(hours=2)), ("statement", BRANCH_STATEMENT, timedelta(hours=3)),
              ("fees", BANK_FEES, timedelta(hours=3, minutes=10)),
              ("binjiang", OTHER_SUB_BRANCH, timedelta(hours=3, minutes=20))]
    got = _cluster(tmp_path, items)
    story = got["t0"].story_id
    assert got["t1"].story_id == got["t2"].story_id == story
    assert got["rumour"].meta["match"]["primary_unit_id"] == "head-office"
    assert got["statement"].meta["match"]["primary_unit_id"] == "jiangcheng"
    assert got["rumour"].story_id == got["statement"].story_id == story
    assert {got["rumour"].meta["match"]["story_reason"],
            got["statement"].meta["match"]["story_reason"]} <= {"scope_topic", "scope_risk"}
    assert got["rumour"].meta["match"]["shared_words"]  # the evidence is kept with the article
    # A bank-wide gripe about something else, and the same kind of trouble at another sub-branch, stay apart.
    assert got["fees"].story_id != story
    assert got["binjiang"].story_id != story


def test_a_lone_post_is_not_reached_from_above(tmp_path):
    got = _cluster(tmp_path, [("t0", OUTLET_TELLINGS[0], timedelta(0)),
                              ("rumour", BANK_RUMOUR, timedelta(hours=1))])
    assert got["rumour"].story_id != got["t0"].story_id
    assert got["rumour"].meta["match"]["story_reason"] == "new"


def test_rule3_reaches_only_within_the_window(tmp_path):
    items = [(f"t{k}", text, timedelta(minutes=20 * k)) for k, text in enumerate(OUTLET_TELLINGS)]
    got = _cluster(tmp_path, [*items, ("rumour", BANK_RUMOUR, timedelta(days=3))])
    assert got["rumour"].story_id != got["t0"].story_id


# --- one story per event: the same happening told in other words, by the street's name ------------------------------
def test_concepts_bridge_the_words_of_the_street_and_of_the_newsroom():
    street = topic_grams("刚才看到一个大爷跟柜员吵起来了，好像是不让他取自己的钱")
    news = topic_grams("七旬老人在柜台取款被拒，与工作人员发生争执")
    assert {"~老人", "~柜台", "~取款", "~争执"} <= street & news
    assert "~取款" not in topic_grams("取款机吞卡了") and "~atm" in topic_grams("取款机吞卡了")
    assert "~取款" not in topic_grams("取消贷款，领取养老金，取号排队")
    assert event_concepts(topic_grams("大爷取钱被拒，ATM还吞了卡")) == {"~取款", "~吞卡"}


ZHONGNAN = [  # (key, text, minutes after T0): one refused withdrawal at 中南路, then the same hours around it
    ("complaint", "示例银行中南路营业厅今天不给我妈取钱，6万块存了三年的定期，说没预约不能取，我妈急着给我爸交手术费，"
                  "柜员态度冷冰冰的", 0),
    ("weibo", "#江城身边事# 示例银行中南路网点不让老人取自己的钱，柜员说没有预约一分都不能取，老人在大厅坐了一上午，"
              "这像话吗", 15),
    ("witness", "刚刚路过中南路那家示例银行，一个阿姨在柜台前面哭，说是取不到自己的钱，保安在旁边劝，好多人围着看", 40),
    ("atm", "示例银行中南路那边的ATM刚才吞了我的卡，取钱取到一半屏幕黑了，打客服半天没人接", 50),
    ("gift", "示例银行中南路那家今天门口在发鸡蛋，办手机银行送一盒，大爷大妈排了好长", 55),
    ("wealth", "示例银行中南路那个理财经理推销的保本理财亏了两万，现在说合同写了有风险", 58),
    ("neighbour", "示例银行首义路那家今天取钱也要预约，我等了两个小时，柜员说现金不够", 60),
    ("other_bank", "工行中南路那家今天也不给老人取钱，说要预约", 65),
]


def test_an_eyewitness_naming_only_the_bank_and_the_street_joins_the_outlets_story(tmp_path):
    got = _cluster(tmp_path, [(k, text, timedelta(minutes=m)) for k, text, m in ZHONGNAN])
    story = got["complaint"].story_id
    assert got["weibo"].story_id == got["witness"].story_id == story
    info = got["witness"].meta["match"]
    assert info["primary_unit_id"] == "zhongnanlu" and info["story_reason"] == "same_unit_event"
    assert info["shared_words"] == ["~取款"]  # the evidence is kept with the article
    # The same outlet in the same hour, another happening: a swallowed card, a giveaway, a wealth product.
    for key in ("atm", "gift", "wealth"):
        assert got[key].meta["match"]["primary_unit_id"] == "zhongnanlu"
        assert got[key].story_id != story, key
    assert len({got[k].story_id for k in ("atm", "gift", "wealth")}) == 3
    # The same trouble at the outlet on the next street is that outlet's story; another bank's is not ours.
    assert got["neighbour"].meta["match"]["primary_unit_id"] == "shouyilu" and got["neighbour"].story_id != story
    assert got["other_bank"].story_id is None and got["other_bank"].meta["match"]["units"] == []


def test_the_event_path_holds_only_for_the_same_hours(tmp_path):
    items = [(k, text, timedelta(minutes=m)) for k, text, m in ZHONGNAN[:2]]
    got = _cluster(tmp_path, [*items, ("witness", ZHONGNAN[2][1], timedelta(hours=9))])
    assert got["witness"].story_id != got["complaint"].story_id
    assert got["witness"].meta["match"]["story_reason"] == "new"


def test_a_notice_naming_several_outlets_streets_is_the_branchs_not_one_outlets(tmp_path):
    notice = "示例银行温馨提示：人民广场、新华路和中南路一带因道路施工，网点门口临时停车位取消，请客户绿色出行"
    got = _cluster(tmp_path, [*[(k, text, timedelta(minutes=m)) for k, text, m in ZHONGNAN[:3]],
                              ("notice", notice, timedelta(hours=1))])
    assert got["notice"].meta["match"]["primary_unit_id"] == "jiangcheng"
    assert got["notice"].story_id != got["complaint"].story_id


def test_sub_threads_stay_visible_inside_the_story(tmp_path):
    video = ZHONGNAN[1][1]
    got = _cluster(tmp_path, [
        ("complaint", ZHONGNAN[0][1], timedelta(0)), ("video", video, timedelta(minutes=15)),
        ("repost", f"太过分了！！//@江城小胖纸:{video}", timedelta(minutes=30)),
        ("repost2", f"转发//@老王在江城:太过分了！！//@江城小胖纸:{video}", timedelta(minutes=35)),
        ("witness", ZHONGNAN[2][1], timedelta(minutes=40)),
        ("witness_copy", f"扩散//@中南路街坊:{ZHONGNAN[2][1]}", timedelta(minutes=45))])
    assert len({a.story_id for a in got.values()}) == 1
    thread = {k: a.meta["match"]["thread_id"] for k, a in got.items()}
    assert thread["complaint"] == got["complaint"].id and thread["video"] == got["video"].id
    assert thread["repost"] == thread["repost2"] == got["video"].id  # reposts under the video they forward
    assert thread["witness"] == thread["witness_copy"] == got["witness"].id
