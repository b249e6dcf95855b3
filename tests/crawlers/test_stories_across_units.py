"""One story per event across a unit's line, the bank's name alone and weeks (crawlers.stories rules 4–6), and the
distractors that must stay apart: the same trouble next door, another event at the same unit, another bank."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crawlers.ingest import process_fetched
from crawlers.keywords import load_keyword_plans
from crawlers.matching import Matcher
from crawlers.models import Article, Story
from crawlers.stories import StoryIndex, event_concepts, topic_grams
from tests.helpers import created_sqlite_engine
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.org import load_org

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 10, 0, 40, tzinfo=UTC)  # 08:40 in Jiangcheng


def _matcher() -> Matcher:
    return Matcher.from_org(load_org(ROOT / "config/org.yaml"), load_keyword_plans(ROOT / "config/keywords.yaml"))


def _ingest(tmp_path: Path, items: list[tuple[str, str, str, timedelta]], *, index: StoryIndex | None = None,
            keep: bool = False):
    """Ingest (key, title, text, offset from T0) in order on a fresh SQLite database; returns the stored articles
    by key and the stories by id (and the open session factory when ``keep``)."""
    engine = created_sqlite_engine(tmp_path / "across.db")
    factory = make_sessionmaker(engine)
    index = StoryIndex() if index is None else index  # an empty index is falsy (len 0)
    with factory() as session:
        for key, title, text, offset in items:
            session.add(Article(source_id="t", channel="social", url=f"https://x.example/{key}", url_hash=key,
                                title=title, text=text, content_hash=key, published_at=T0 + offset,
                                fetched_at=T0 + offset, meta={"key": key}))
        session.commit()
        last = max(offset for *_, offset in items)
        process_fetched(session, matcher=_matcher(), index=index, clock=FrozenClock(T0 + last + timedelta(hours=1)))
        got = {a.meta["key"]: a for a in session.scalars(select(Article))}
        stories = {s.id: s for s in session.scalars(select(Story))}
        session.expunge_all()
    if keep:
        return got, stories, factory, index
    engine.dispose()
    return got, stories


def _reason(article: Article) -> str:
    return article.meta["match"]["story_reason"]


def _unit(article: Article) -> str | None:
    return article.meta["match"]["primary_unit_id"]


# --- the run rumour: a branch, its sub-branch, the bank's name alone ------------------------------------------------
RUMOUR = "听说示例银行江城分行资金链断了，明天开始限制取款，有存款的赶紧去取！！"
FORUM_TITLE = "示例银行是不是要倒闭了？"
FORUM = "光明路那边示例银行门口排了好多人在取钱，说是银行要倒闭了，有没有人知道怎么回事"
QUEUE = "示例银行光明路支行门口排长队取钱，保安都出来维持秩序了，大家都说银行要倒闭"
HOT_LIST = "示例银行挤兑"  # a hot-list entry: a title and nothing else
NEWS = ("江城晚报讯　今天上午，网传“示例银行江城分行资金链断裂、限制取款”，示例银行光明路支行门前一度有市民排队取钱。"
        "记者在现场看到，该支行营业正常。")


def test_a_queue_at_the_sub_branch_joins_the_branchs_rumour_and_the_story_stays_the_branchs(tmp_path):
    got, stories = _ingest(tmp_path, [("rumour", "", RUMOUR, timedelta(0)),
                                      ("queue", "", QUEUE, timedelta(minutes=25))])
    assert (_unit(got["rumour"]), _unit(got["queue"])) == ("jiangcheng", "guangminglu")
    assert got["queue"].story_id == got["rumour"].story_id
    info = got["queue"].meta["match"]
    assert info["story_reason"] == "related_unit"
    assert {"~取款", "~倒闭", "#withdrawal_bank_run"} <= set(info["shared_words"])
    assert info["thread_id"] == got["queue"].id  # a sub-thread of its own inside the story
    # the story keeps the unit it was founded at: the rumour is about the branch's money
    assert stories[got["rumour"].story_id].unit_id == "jiangcheng"


def test_the_branchs_statement_joins_a_lone_outlet_story_from_above(tmp_path):
    complaint = "示例银行新华路网点不让老人取自己的5万块钱，说大额取现要预约，老人急着交住院押金"
    statement = ("【示例银行江城分行情况说明】针对网传老人在新华路取款被拒一事，经核实，客户当日办理5万元大额取现，"
                 "因未预约，工作人员未能及时妥善处理。我行已为客户办理取款并上门致歉。")
    got, stories = _ingest(tmp_path, [("complaint", "", complaint, timedelta(0)),
                                      ("statement", "", statement, timedelta(hours=3))])
    assert (_unit(got["complaint"]), _unit(got["statement"])) == ("xinhualu", "jiangcheng")
    assert got["statement"].story_id == got["complaint"].story_id and _reason(got["statement"]) == "related_unit"
    assert stories[got["complaint"].story_id].unit_id == "xinhualu"  # still the outlet's incident


def test_the_bank_name_alone_joins_the_one_story_about_the_same_event(tmp_path):
    got, _ = _ingest(tmp_path, [
        ("rumour", "", RUMOUR, timedelta(0)),
        ("forum", FORUM_TITLE, FORUM, timedelta(minutes=15)),
        ("queue", "", QUEUE, timedelta(minutes=25)),
        ("hot", HOT_LIST, "", timedelta(minutes=35)),
        ("news", "网传示例银行江城分行限制取款 光明路支行前市民排队取钱", NEWS, timedelta(minutes=70)),
    ])
    assert _unit(got["forum"]) == _unit(got["hot"]) == "head-office"
    assert len({a.story_id for a in got.values()}) == 1
    assert _reason(got["forum"]) == _reason(got["hot"]) == "bank_event"
    assert "#withdrawal_bank_run" in got["hot"].meta["match"]["shared_words"]


def test_traditional_characters_and_full_width_punctuation_tell_the_same_run(tmp_path):
    forum = "光明路那邊示例银行門口排了好多人在取錢，說是銀行要倒閉了！！有沒有人知道怎麼回事？"
    assert event_concepts(topic_grams(forum)) == {"~取款", "~倒闭"}
    got, _ = _ingest(tmp_path, [("rumour", "", RUMOUR, timedelta(0)),
                                ("forum", "示例银行是不是要倒閉了？", forum, timedelta(minutes=15))])
    assert got["forum"].story_id == got["rumour"].story_id and _reason(got["forum"]) == "bank_event"


def test_the_bank_name_alone_cannot_choose_between_two_runs(tmp_path):
    binjiang_queue = "示例银行滨江支行门口也排起长队取钱，有人说银行资金链断了，保安在门口维持秩序"
    got, _ = _ingest(tmp_path, [("queue", "", QUEUE, timedelta(0)), ("binjiang", "", binjiang_queue,
                                                                      timedelta(minutes=5)),
                                ("hot", HOT_LIST, "", timedelta(minutes=20))])
    assert (_unit(got["queue"]), _unit(got["binjiang"])) == ("guangminglu", "binjiang")
    assert got["queue"].story_id != got["binjiang"].story_id  # siblings are not on one line
    assert _reason(got["hot"]) == "new"  # two candidates: not a clear one
    assert got["hot"].story_id not in {got["queue"].story_id, got["binjiang"].story_id}


def test_the_bank_name_alone_does_not_turn_a_lone_complaint_into_a_collapse(tmp_path):
    complaint = "示例银行新华路网点今天不给我取钱，说大额要预约，等了一上午"
    rumour = "群里都在传示例银行要倒闭了，赶紧把钱取出来"
    got, _ = _ingest(tmp_path, [("complaint", "", complaint, timedelta(0)), ("rumour", "", rumour,
                                                                            timedelta(hours=1))])
    # "collapse" is an event the complaint never told: the rumour may be about anything
    assert got["rumour"].story_id != got["complaint"].story_id and _reason(got["rumour"]) == "new"


def test_other_events_other_banks_and_the_next_street_stay_apart(tmp_path):
    collection = "示例银行江城分行信用卡中心暴力催收，一天打二十个骚扰电话，还爆通讯录"
    other_bank = "北岸银行光明路支行今天一早就排起长队取钱，听说北岸银行资金链断了，要限制取款！"
    other_hot = "北岸银行挤兑"
    card = "示例银行光明路支行的ATM把我的卡吞了，等了一个小时没人管"
    got, _ = _ingest(tmp_path, [
        ("collection", "", collection, timedelta(0)),
        ("other_bank", "", other_bank, timedelta(minutes=5)),
        ("other_hot", other_hot, "", timedelta(minutes=6)),
        ("queue", "", QUEUE, timedelta(minutes=10)),
        ("card", "", card, timedelta(minutes=30)),
    ])
    assert _unit(got["collection"]) == "jiangcheng" and _unit(got["queue"]) == "guangminglu"
    # a run at the sub-branch is not the branch's collection calls, nor is a swallowed card the run
    assert len({got[k].story_id for k in ("collection", "queue", "card")}) == 3
    assert got["other_bank"].story_id is None and got["other_hot"].story_id is None


# --- slow stories: mis-selling told over weeks ---------------------------------------------------------------------
MIS_SELLING = [
    ("c1", "示例银行滨江支行理财经理把保险当存款卖给我母亲",
     "我母亲72岁，去示例银行滨江支行存定期，理财经理说有一款利息更高的存款，保本保息，结果签的是十年期分红保险。"
     "现在要取出来说要损失两万多，要求全额退保。", timedelta(0)),
    ("c2", "示例银行滨江支行诱导老人购买保险",
     "示例银行滨江支行员工以存款名义诱导我父亲购买保险产品，没有讲清楚是保险，也没有双录，退保损失严重。",
     timedelta(days=4, hours=5)),
    ("repost", "", "太坑了，转给家里有老人的//@滨江业主群:示例银行滨江支行存款变保险，已经有好几位老人中招了，"
     "银行只会说自愿购买//@江城小喇叭:扩散", timedelta(days=8)),
    ("news", "多名老人反映在示例银行滨江支行“存款变保险”",
     "近日，多名市民向本报反映，家中老人在示例银行江城分行滨江支行存款时，被理财经理以“高息存款”为名推销了长期"
     "分红保险，退保将损失本金。记者走访发现，类似投诉已有多起。", timedelta(days=13)),
]


def test_a_slow_story_keeps_taking_its_tellings_for_weeks(tmp_path):
    got, stories = _ingest(tmp_path, [(k, title, text, offset) for k, title, text, offset in MIS_SELLING])
    assert {_unit(a) for a in got.values()} == {"binjiang"}
    assert len({a.story_id for a in got.values()}) == 1 and len(stories) == 1
    assert _reason(got["c2"]) == "same_unit_slow"  # four days after the first complaint
    assert "~误导" in event_concepts(got["news"].meta["match"]["topic_grams"])


def test_the_slow_window_is_counted_from_the_last_telling_and_can_be_set(tmp_path):
    items = [(k, title, text, offset) for k, title, text, offset in MIS_SELLING[:2]]
    got, _ = _ingest(tmp_path, items, index=StoryIndex(slow_window=timedelta(days=3)))
    assert got["c2"].story_id != got["c1"].story_id  # four days apart, the window three days


def test_a_slow_story_that_went_quiet_is_over(tmp_path):
    (k1, t1, x1, _), (k2, t2, x2, _) = MIS_SELLING[:2]
    got, _ = _ingest(tmp_path, [(k1, t1, x1, timedelta(0)), (k2, t2, x2, timedelta(days=10))])
    assert got[k2].story_id != got[k1].story_id and _reason(got[k2]) == "new"


def test_other_events_at_the_slow_storys_unit_and_another_banks_mis_selling_stay_apart(tmp_path):
    k1, t1, x1, _ = MIS_SELLING[0]
    got, _ = _ingest(tmp_path, [
        (k1, t1, x1, timedelta(0)),
        ("collection", "", "示例银行滨江支行的信用卡催收电话一天打十几个，还威胁要上门", timedelta(days=3)),
        ("queue", "", "示例银行滨江支行今天取钱排了两个小时队，只开了一个窗口", timedelta(days=4)),
        ("other_bank", "东岭银行滨江路支行误导销售保险", "东岭银行滨江路支行把保险当存款卖给我外婆，要求退保退还本金。",
         timedelta(days=5)),
    ])
    assert _unit(got["collection"]) == _unit(got["queue"]) == "binjiang"
    assert len({got[k].story_id for k in (k1, "collection", "queue")}) == 3
    assert got["other_bank"].story_id is None


def test_an_acute_happening_is_not_slow(tmp_path):
    card = "示例银行光明路支行的ATM把我的卡吞了！！等了一个小时没人管，卡里还有工资"
    again = "又是示例银行光明路支行！今天ATM又吞了我同事的卡，屏幕提示交易超时，周末柜台不开门没人处理"
    got, _ = _ingest(tmp_path, [("card", "", card, timedelta(0)), ("again", "", again, timedelta(days=3))])
    assert got["again"].story_id != got["card"].story_id  # the same kind of thing days later: a new incident


# --- restart -----------------------------------------------------------------------------------------------------
def test_a_restarted_index_assigns_rules_4_to_6_as_the_live_one(tmp_path):
    items = [("rumour", "", RUMOUR, timedelta(0)), ("forum", FORUM_TITLE, FORUM, timedelta(minutes=15)),
             ("queue", "", QUEUE, timedelta(minutes=25))]
    k1, t1, x1, _ = MIS_SELLING[0]
    items.append((k1, t1, x1, timedelta(minutes=30)))
    got, _stories, factory, live = _ingest(tmp_path, items, keep=True)
    matcher = _matcher()
    restarted = StoryIndex()
    with factory() as session:
        assert restarted.load(session) == 2
    probes = [
        ("", HOT_LIST, T0 + timedelta(hours=1)),
        ("示例银行光明路支行今天还有人排队取钱，说是怕银行倒闭", "", T0 + timedelta(hours=2)),
        ("示例银行滨江支行存款变保险，老人退保损失好几万", "", T0 + timedelta(days=5)),
    ]
    reasons = set()
    for text, title, at in probes:
        r = matcher.match(text, title=title)
        unit = r.primary_unit_id if r.primary_unit_id != matcher.root_unit_id else None
        grams = topic_grams(r.topic)
        kwargs = dict(unit_id=unit, risk_words=r.risk_words, categories=r.categories, at=at,
                      grams=grams if unit else (), scope_grams=grams,
                      related=("jiangcheng",) if unit == "guangminglu" else ())
        before, after = live.assign(f"{title}\n{text}", **kwargs), restarted.assign(f"{title}\n{text}", **kwargs)
        assert (before.story_id, before.reason, before.topic_score) == \
            (after.story_id, after.reason, after.topic_score), text or title
        reasons.add(after.reason)
    assert "bank_event" in reasons and "same_unit_slow" in reasons
    assert {got["rumour"].story_id} == {got[k].story_id for k in ("forum", "queue")}


# --- configuration -----------------------------------------------------------------------------------------------
def test_the_story_config_is_validated_and_names_file_and_field(tmp_path):
    from crawlers.story_config import load_story_config
    from yuqing.errors import ConfigError

    assert load_story_config(tmp_path / "missing.yaml").slow_days == 7  # a missing file: the defaults
    path = tmp_path / "stories.yaml"
    path.write_text("slow_days: 14\nslow_events: [误导]\n", encoding="utf-8")
    index = load_story_config(path).index()
    assert index.slow_window == timedelta(days=14) and index.slow_events == {"~误导"}
    assert index.lookback == timedelta(days=14)
    for text, field in [("slow_days: -1\n", "slow_days"), ("slow_events: [吞钱]\n", "slow_events"),
                        ("window_hours: 48\nslow_days: 1\n", ""), ("windows: 3\n", "windows")]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_story_config(path)
        message = str(caught.value)
        assert "stories.yaml" in message and field in message, message


def test_the_shipped_story_config_is_valid():
    from crawlers.story_config import load_story_config

    config = load_story_config(ROOT / "config/stories.yaml")
    assert config.window_hours == 48 and config.slow_days == 7 and "误导" in config.slow_events


def test_check_config_names_a_broken_story_config(tmp_path, monkeypatch):
    import shutil

    from typer.testing import CliRunner

    from runner.cli import app

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    monkeypatch.setenv("YUQING_CONFIG_DIR", str(config))
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    assert CliRunner().invoke(app, ["check-config"]).exit_code == 0
    (config / "stories.yaml").write_text("slow_days: 0\n", encoding="utf-8")
    bad = CliRunner().invoke(app, ["check-config"])
    assert bad.exit_code == 2 and "stories.yaml" in bad.output and "slow_days" in bad.output, bad.output
