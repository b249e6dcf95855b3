"""Org-chart matching against the shipped 示例银行 org chart and keyword plans: the real Chinese web's traps."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.keywords import KeywordPlan, load_keyword_plans
from crawlers.matching import Matcher, normalise
from tests.helpers import org_with_more_branches
from yuqing.errors import ConfigError
from yuqing.org import load_org

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.from_org(load_org(ROOT / "config/org.yaml"), load_keyword_plans(ROOT / "config/keywords.yaml"))


def units(result) -> set[str]:
    return {m.unit_id for m in result.mentions}


def test_full_outlet_name_is_a_strong_mention_with_snippet_and_plan_hits(matcher):
    r = matcher.match("今天上午，示例银行新华路营业厅门前排起长队，不少储户称取不出钱。", title="储户排长队")
    assert r.relevant and r.bank_mentioned
    assert r.primary_unit_id == "xinhualu"
    (m,) = r.mentions
    assert m.is_primary and m.terms == ["示例银行新华路营业厅"] and m.score == 1.0
    assert "示例银行新华路营业厅门前排起长队" in m.snippet and len(m.snippet) <= 90
    assert "取不出钱" in r.plan_hits["风险事件"]
    assert "withdrawal_bank_run" in r.categories
    assert "取不出钱" in r.risk_words


def test_bare_alias_counts_when_the_bank_is_named_in_the_same_text(matcher):
    r = matcher.match("网友爆料：光明路支行的柜员态度差。示例行回应称正在核实。")
    assert r.primary_unit_id == "guangminglu"
    assert r.mentions[0].terms == ["光明路支行"] and r.mentions[0].score == 0.8


def test_bare_alias_without_the_bank_name_is_not_a_mention(matcher):
    r = matcher.match("新华路营业厅今天人很多，光明路支行也在排队。")
    assert not r.relevant and r.mentions == [] and r.primary_unit_id is None


@pytest.mark.parametrize(("text", "expected"), [
    ("工商银行新华路营业厅排长队，储户不满。另据了解，示例银行没有类似情况。", {"head-office"}),
    ("建行光明路支行发生纠纷，示例银行客户表示不受影响。", {"head-office"}),
    ("建行江城分行光明路支行被曝光，示例银行称与本行无关。", {"head-office"}),
    ("招商银行 光明路支行 排队，示例银行一切正常。", {"head-office"}),
    ("农商行滨江支行暴力催收？示例银行回应：滨江花园网点业务正常。", {"binjianghuayuan"}),
])
def test_other_banks_same_named_outlets_are_not_ours(matcher, text, expected):
    assert units(matcher.match(text)) == expected


def test_other_bank_outlet_and_ours_in_the_same_text(matcher):
    r = matcher.match("中国工商银行江城市光明路支行排队，示例银行新华路营业厅则正常营业。")
    assert units(r) == {"xinhualu"}
    r = matcher.match("建行光明路支行门口排队的人，后来去了示例银行的光明路支行。")
    assert units(r) == {"guangminglu"}  # the second, undisputed mention


def test_bare_place_names_never_count(matcher):
    r = matcher.match("人民广场、新华路和大学城一带今晚交通管制。")
    assert r.mentions == [] and not r.relevant
    r = matcher.match("示例银行发布公告：人民广场、新华路和大学城一带的客户请注意。")
    # beside the bank, places of several outlets are the area they share (the branch), not any one outlet
    assert units(r) == {"jiangcheng"} and r.mentions[0].terms == ["人民广场", "新华路", "大学城"]


@pytest.fixture(scope="module")
def matcher_more_branches(tmp_path_factory) -> Matcher:
    org = load_org(org_with_more_branches(tmp_path_factory.mktemp("org") / "org.yaml"))
    return Matcher.from_org(org, load_keyword_plans(ROOT / "config/keywords.yaml"))


@pytest.mark.parametrize(("text", "reached"), [
    ("示例银行江城和汉北两地的网点都在限制取现", {"jiangcheng": ["江城"], "hanbei": ["汉北"]}),
    ("示例银行新华路和汉口路两个网点都排长队", {"xinhualu": ["新华路"], "hankoulu": ["汉口路"]}),
    ("听说示例银行在江城、汉北、东山市的储户都在排队取钱", {"jiangcheng": ["江城"], "hanbei": ["汉北"],
                                                      "dongshan": ["东山市"]}),
])
def test_places_of_several_branches_are_the_head_offices_and_reach_each_branch(matcher_more_branches, text, reached):
    """Rule (j): the head office is the primary mention (its story, its alert); each unit whose place the post
    names is a secondary mention, so that branch's monitors see the post."""
    r = matcher_more_branches.match(text)
    assert r.primary_unit_id == "head-office" and r.mentions[0].is_primary
    secondary = {m.unit_id: m.terms for m in r.mentions if not m.is_primary}
    assert secondary == reached
    assert all(m.score == 0.5 for m in r.mentions)


def test_places_within_one_branch_reach_no_one_else(matcher_more_branches):
    r = matcher_more_branches.match("示例银行发布公告：人民广场、新华路和大学城一带的客户请注意。")
    assert [(m.unit_id, m.is_primary) for m in r.mentions] == [("jiangcheng", True)]
    r = matcher_more_branches.match("示例银行汉北这边现金不够了，汉口路那家也排队")
    assert r.primary_unit_id == "hankoulu" and units(r) == {"hankoulu"}  # 汉口路 is inside 汉北's area
    r = matcher_more_branches.match("工商银行汉北分行限制取现，示例银行江城这边正常")
    assert units(r) == {"jiangcheng"}  # another bank's 汉北 is not a place of ours


def test_bank_name_alone_is_a_relevant_head_office_mention(matcher):
    r = matcher.match("示例银行发布2026年三季度报告，营收同比增长。")
    assert r.relevant and r.bank_mentioned
    assert r.primary_unit_id == "head-office"
    assert r.mentions[0].terms == ["示例银行"] and r.mentions[0].score == 0.5


def test_full_width_zero_width_and_odd_spacing_still_match(matcher):
    for text in ("示 例 银 行　新华路营业厅排队", "示例\u200b银行新华路\u200d营业厅排队",
                 "示例银行新华路\ufeff营业厅排队", "ＸＸ示例银行光明路支行", "示例\n银行\t光明路支行"):
        r = matcher.match(text)
        assert r.relevant, text
        assert r.primary_unit_id in {"xinhualu", "guangminglu"}, text
    assert normalise("Ａｂｃ１２３：示 例\u200b银行") == "abc123:示例银行"


def test_attribution_goes_to_the_most_specific_unit(matcher):
    r = matcher.match("示例银行江城分行下属光明路支行的人民广场营业厅发生纠纷，江城分行已介入。")
    assert r.primary_unit_id == "renminguangchang"
    assert units(r) == {"renminguangchang", "guangminglu", "jiangcheng"}
    assert [m.unit_id for m in r.mentions if m.is_primary] == ["renminguangchang"]


def test_a_name_inside_a_longer_name_is_not_a_separate_mention(matcher):
    r = matcher.match("示例银行江城分行光明路支行今日开展反诈宣传。")
    assert units(r) == {"guangminglu"}


def test_short_bank_aliases_inside_ordinary_words_do_not_count(matcher):
    assert not matcher.match("请向工作人员展示银行卡，新华路营业厅在右侧。").bank_mentioned
    assert not matcher.match("以下示例行为均属违规，光明路支行请注意。").bank_mentioned
    assert matcher.match("示银光明路支行服务态度差").primary_unit_id == "guangminglu"


def test_exclude_words_make_an_article_irrelevant(matcher):
    r = matcher.match("下面的示例代码演示了如何调用接口：示例银行新华路营业厅 = Outlet()")
    assert not r.relevant
    assert r.excluded_by == ["示例代码"]


def test_plan_must_groups_any_and_exclude():
    plan = KeywordPlan(name="监管处罚", must=[["罚款", "处罚"], ["监管局", "人民银行"]], any=["示例银行"],
                       exclude=["辟谣"])
    assert plan.evaluate({"罚款", "监管局", "示例银行"}) == ["监管局", "示例银行", "罚款"]
    assert plan.evaluate({"罚款", "示例银行"}) is None  # second must group missing
    assert plan.evaluate({"罚款", "监管局"}) is None  # no any word
    assert plan.evaluate({"罚款", "监管局", "示例银行", "辟谣"}) is None  # excluded


def test_plan_words_are_normalised_like_the_text():
    org = load_org(ROOT / "config/org.yaml")
    m = Matcher.from_org(org, [KeywordPlan(name="x", any=["ＡＰＰ崩了"])])
    assert m.match("示例银行app崩了").plan_hits == {"x": ["app崩了"]}


def test_keyword_plan_file_errors_name_file_and_field(tmp_path):
    bad = tmp_path / "keywords.yaml"
    bad.write_text("plans:\n  - name: 空方案\n    exclude: [辟谣]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_keyword_plans(bad)
    assert "keywords.yaml" in str(err.value) and "plans.0" in str(err.value)
    dup = tmp_path / "dup.yaml"
    dup.write_text("plans:\n  - {name: a, any: [x]}\n  - {name: a, any: [y]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate plan name"):
        load_keyword_plans(dup)


def test_shipped_keyword_plans_load():
    plans = load_keyword_plans(ROOT / "config/keywords.yaml")
    names = {p.name for p in plans}
    assert "风险事件" in names
    assert any(p.role == "filter" and "示例代码" in p.exclude for p in plans)


ROOT_POST = "我爸今天去示例银行新华路网点取他自己的5万块钱，柜员说没预约不给取 @示例银行"


def test_a_repost_is_matched_with_its_original_and_attributed_to_the_most_specific_unit(matcher):
    alone = matcher.match("新华路这家我去过，排队一直很慢//@用户7391823645:规定是规定，态度是态度，两码事")
    assert not alone.relevant
    r = matcher.match("新华路这家我去过，排队一直很慢//@用户7391823645:规定是规定，态度是态度，两码事",
                      original=ROOT_POST)
    assert r.relevant and r.primary_unit_id == "xinhualu"
    # the repost's own words name only the bank; the original names the outlet: the outlet wins
    assert matcher.match("示例银行出来回应！").primary_unit_id == "head-office"
    assert matcher.match("示例银行出来回应！", original=ROOT_POST).primary_unit_id == "xinhualu"
    # a repost that already quotes the original in full is not matched twice
    assert matcher.match(ROOT_POST, original=ROOT_POST).mentions[0].terms == ["示例银行新华路网点"]
    # another bank's original stays another bank's
    other = matcher.match("说得对", original="工商银行新华路营业厅排队两小时，示例什么的都别提了")
    assert not other.relevant


def test_topic_is_about_the_primary_unit_with_names_blanked(matcher):
    r = matcher.match(ROOT_POST, title="示例银行新华路网点取款被拒")
    assert r.topic and "示例银行" not in r.topic and "新华路网点" not in r.topic
    assert "取款被拒" in r.topic and "没预约不给取" in r.topic
    roundup = ("本周江城多家银行开展活动：工商银行光谷支行举办理财讲座，建设银行汉口支行开展适老化服务体验，"
               + "邀请市民参加。" * 20 + "示例银行新华路网点则因取款被拒一事引发关注，网点表示正在核实。")
    r = matcher.match(roundup)
    assert r.primary_unit_id == "xinhualu"
    assert "取款被拒" in r.topic and "理财讲座" not in r.topic  # only the passage about our outlet
    assert matcher.match("今天天气不错").topic == ""


@pytest.mark.parametrize(("text", "primary"), [
    ("内部消息：示例银行江城这边现金已经不够了，各网点都限制取现", "jiangcheng"),  # the bank + its region
    ("【辟谣】网传“示例银行要倒闭”“江城网点限制取现”等信息系编造", "jiangcheng"),
    ("示例银行信用卡年费又扣了，客服踢皮球", "head-office"),  # no region: the head office
    ("我也是//@江城吃货研究所:示例银行的活动还不错", "head-office"),  # 江城 inside a handle
    ("工商银行江城分行和示例银行都在搞活动", "head-office"),  # 江城 inside another bank's branch name
    ("示例银行新华路营业厅排长队，江城网友议论纷纷", "xinhualu"),  # a named unit beats a region
])
def test_a_post_naming_the_bank_and_a_region_is_about_that_regions_unit(matcher, text, primary):
    result = matcher.match(text)
    assert result.primary_unit_id == primary
    if primary == "jiangcheng":
        assert result.mentions[0].terms == ["江城"] and result.mentions[0].score == 0.5


@pytest.mark.parametrize(("text", "primary"), [
    ("刚才在新华路那家示例银行办事，看到一个大爷跟柜台吵起来了", "xinhualu"),  # the bank + an outlet's street
    ("示例银行江城新华路这家今天不给取钱", "xinhualu"),  # the street inside the city: the street wins
    ("示例银行中南路那边今天排长队", "zhongnanlu"),
    ("示例银行新华路和人民广场两个网点都排长队", "guangminglu"),  # two outlets' places: the sub-branch over both
    ("工行新华路那家和示例银行都在排队", "head-office"),  # the street right after another bank is theirs
    ("示例银行新华北路那家网点又不给取钱", "head-office"),  # a look-alike street is not 新华路
    ("我也是//@新华路的猫:示例银行今天有活动", "head-office"),  # the street inside a handle
    ("示例银行滨江花园网点今天停电，新华路那边正常", "binjianghuayuan"),  # a named unit beats a street
])
def test_a_post_naming_the_bank_and_an_outlets_street_is_about_that_outlet(matcher, text, primary):
    assert matcher.match(text).primary_unit_id == primary


def test_a_region_without_the_bank_is_nothing(matcher):
    assert not matcher.match("江城今天有小雨，江城市民注意出行").relevant
