"""Risk scoring: the level rises as a story spreads the way the level table says, every factor explains
itself, triggers force a level, and old news never raises an alert."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentiment.risk import ArticleFacts, RiskConfig, StoryFacts, load_risk_config, score_story
from yuqing.errors import ConfigError
from yuqing.settings import PROJECT_ROOT

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
CFG = load_risk_config(PROJECT_ROOT / "config" / "risk.yaml")


def art(authority="social", channel="social", label="negative", p=0.95, category="withdrawal_bank_run",
        reposts=0, comments=0, likes=0, followers=0, age_h=0.5, risk_words=None) -> ArticleFacts:
    """An item whose own words name its topic (挤兑, 限制取现 … for a run) unless ``risk_words`` says otherwise."""
    words = frozenset({category}) if risk_words is None else frozenset(risk_words)
    return ArticleFacts(NOW - timedelta(hours=age_h), authority, channel, label, p, category, reposts, comments,
                        likes, followers, risk_words=words)


def level(*articles, unit_kind="outlet", before=0) -> str | None:
    return score_story(StoryFacts(list(articles), unit_kind, engagement_hour_ago=before, now=NOW), CFG).level


def test_the_crisis_climbs_the_level_table():
    complaint = art("complaint_platform", "complaint")
    assert level(complaint) == "IV"  # a single negative complaint
    post = art(reposts=40, comments=30, likes=60, followers=900)
    assert level(complaint, post) == "III"  # a post spreading beyond its author
    local = art("local_media", "news", category="service_attitude")
    viral = art(reposts=900, comments=700, likes=2500, followers=900)
    assert level(complaint, viral, local) in {"III", "II"}  # local media
    provincial = art("provincial_media", "news", category="service_attitude")
    assert level(complaint, viral, local, provincial) == "II"  # provincial media
    trending = art(reposts=9000, comments=6000, likes=20000, followers=900)
    assert level(complaint, trending, local, provincial, before=5000) == "I"  # run risk, trending


def test_neutral_and_positive_stories_are_not_risks():
    result = score_story(StoryFacts([art(label="neutral", p=0.3, reposts=10_000, category="service_attitude"),
                                     art(label="positive", p=0.05)], "outlet", now=NOW), CFG)
    assert result.level is None and result.score == 0.0


def test_a_calm_run_rumour_that_spreads_is_a_risk_whatever_its_tone():
    # "内部消息：……现金已经不够了，各网点都限制取现" reads neutral (negative 0.10) yet reached 720 reposts.
    rumour = art(label="neutral", p=0.10, reposts=720, comments=150, likes=400, followers=3000)
    result = score_story(StoryFacts([rumour], "branch", now=NOW), CFG)
    assert result.level in {"III", "II"}, result
    assert "高风险话题" in result.factors["polarity"]["reason"]
    assert result.category == "withdrawal_bank_run"
    # "why this alert" names the words that made the calm item count
    named = replace(rumour, risk_terms=("限制取", "现金不够"))
    reason = score_story(StoryFacts([named], "branch", now=NOW), CFG).factors["polarity"]["reason"]
    assert "1 条语气平静但属高风险话题的传言或报道（含“限制取”“现金不够”），按负面计" in reason
    # The same story told as a clarification (辟谣 / 经营正常) or in praise is no risk.
    calm = ArticleFacts(rumour.published_at, "social", "social", "neutral", 0.10, "withdrawal_bank_run",
                        720, 150, 400, 3000, calming=True, risk_words=frozenset({"withdrawal_bank_run"}))
    assert score_story(StoryFacts([calm], "branch", now=NOW), CFG).level is None
    praise = art(label="positive", p=0.02, reposts=720)
    assert score_story(StoryFacts([praise], "branch", now=NOW), CFG).level is None
    # A category without a topic weight stays a matter of tone.
    neutral_fee = art(label="neutral", p=0.10, category="opaque_fees", reposts=720)
    assert score_story(StoryFacts([neutral_fee], "branch", now=NOW), CFG).level is None


def test_a_calm_item_counts_for_a_topic_only_when_its_own_words_name_the_risk():
    # The category head files a bare "储户" (depositors) under a run; with no risk word of its own such an item is
    # a matter of tone like any other, however far it spreads.
    bare = art(label="neutral", p=0.30, reposts=720, comments=150, likes=400, followers=3000, risk_words=())
    result = score_story(StoryFacts([bare], "branch", now=NOW), CFG)
    assert result.level is None and result.score == 0.0
    worded = art(label="neutral", p=0.30, reposts=720, comments=150, likes=400, followers=3000)
    assert score_story(StoryFacts([worded], "branch", now=NOW), CFG).level in {"III", "II"}
    # the words count even when the head filed the item elsewhere ("是不是要倒闭了？" read as service_attitude)
    misfiled = art(label="neutral", p=0.30, category="service_attitude", reposts=720, comments=150, likes=400,
                   followers=3000, risk_words={"liquidity_risk"})
    hit = score_story(StoryFacts([misfiled], "branch", now=NOW), CFG)
    assert hit.level is not None and "高风险话题" in hit.factors["polarity"]["reason"]


def test_a_calm_run_rumour_counts_for_the_run_trigger_but_a_neutral_regulator_notice_does_not_force_level_I():
    trending = [art(label="neutral", p=0.15, reposts=9000, comments=6000, likes=9000) for _ in range(3)]
    result = score_story(StoryFacts(trending, "outlet", now=NOW), CFG)
    assert result.level == "I" and "挤兑" in result.factors["floor"]["reason"]
    notice = art("regulator", "regulator", label="neutral", p=0.2, category="regulatory_penalty")
    calm = score_story(StoryFacts([notice], "branch", now=NOW), CFG)
    assert calm.level not in {"I", "II"} and "floor" not in calm.factors


def test_one_calm_run_rumour_reposted_widely_is_level_I_on_its_own():
    """Spread, not the number of posts, makes a run rumour level I: one calm "内部消息" reposted and discussed
    29,000 times is as wide as many posts adding up to it. Below the spread threshold it stays under I."""
    wide = art(label="neutral", p=0.25, reposts=15000, comments=6000, likes=8000, followers=3000)
    result = score_story(StoryFacts([wide], "city_branch", now=NOW), CFG)
    assert result.level == "I", result.factors
    assert "挤兑传言已广泛传播" in result.factors["floor"]["reason"]
    assert "高风险话题" in result.factors["polarity"]["reason"]  # why a neutral reading still counts
    early = art(label="neutral", p=0.25, reposts=720, comments=330, likes=260, followers=3000)
    assert score_story(StoryFacts([early], "city_branch", now=NOW), CFG).level in {"III", "II"}
    # the branch's denial (辟谣, naming the same words) does not count for the trigger, however widely reposted
    denial = ArticleFacts(wide.published_at, "social", "social", "neutral", 0.05, "withdrawal_bank_run",
                          15000, 6000, 8000, 3000, calming=True, risk_words=frozenset({"withdrawal_bank_run"}))
    assert score_story(StoryFacts([denial], "city_branch", now=NOW), CFG).level is None


def test_topic_weights_must_name_known_categories():
    with pytest.raises(ValueError, match=r"topic_polarity\.nonsense"):
        RiskConfig(topic_polarity={"nonsense": 0.5})


def test_every_factor_is_stored_with_a_chinese_reason():
    result = score_story(StoryFacts([art(reposts=100), art("local_media", "news")], "outlet", now=NOW), CFG)
    assert set(result.factors) >= {"polarity", "severity", "authority", "reach", "velocity", "locality"}
    for f in result.factors.values():
        assert isinstance(f["value"], float) and f["reason"]
    assert "地方媒体" in result.factors["authority"]["reason"]
    assert "网点" in result.factors["locality"]["reason"]


def test_bare_reposts_do_not_dilute_a_viral_negative_post():
    original = art(reposts=5000, comments=2000, likes=9000)
    reposts = [art(label="neutral", p=0.3) for _ in range(60)]
    diluted = score_story(StoryFacts([original, *reposts], "outlet", now=NOW), CFG)
    assert diluted.factors["polarity"]["value"] > 0.7


def test_regulator_notice_forces_level_I_but_old_news_raises_nothing():
    notice = art("regulator", "regulator", category="regulatory_penalty", p=0.7)
    fresh = score_story(StoryFacts([notice], "branch", now=NOW), CFG)
    assert fresh.level == "I" and "触发分级规则" in fresh.factors["floor"]["reason"]
    old = score_story(StoryFacts([art("regulator", "regulator", category="regulatory_penalty", p=0.7,
                                      age_h=24 * 130)], "branch", now=NOW), CFG)
    assert old.level is None and "历史信息" in old.factors["stale"]["reason"]


def test_head_office_mentions_weigh_less_than_an_outlet():
    a = [art(reposts=100)]
    outlet = score_story(StoryFacts(a, "outlet", now=NOW), CFG).score
    head = score_story(StoryFacts(a, "head_office", now=NOW), CFG).score
    assert head < outlet


def test_bad_thresholds_are_rejected_with_file_and_field(tmp_path: Path):
    p = tmp_path / "risk.yaml"
    p.write_text("thresholds: {I: 10, II: 60, III: 30, IV: 5}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"risk\.yaml.*must decrease"):
        load_risk_config(p)
    p.write_text("floors: [{level: V, reason: x}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"floors\.0\.level"):
        load_risk_config(p)


def test_defaults_match_the_shipped_config_except_triggers():
    shipped = CFG.model_dump(exclude={"floors"})
    assert shipped == RiskConfig().model_dump(exclude={"floors"})


@pytest.mark.parametrize(("text", "own", "thin"), [
    ("真的假的//@东湖骑行客:[doge]//@momo酱:蹲//@夜跑的阿浩:有道理", 4, True),
    ("绝了", 2, True),
    ("+10086", 5, True),
    ("[doge]//@宅家的阿花:绝了", 0, True),
    ("@示例银行客服 在吗", 2, True),
    ("太坑了，5万块取不出来//@小王:转发", 10, False),
    ("示例银行新华路网点不让老人取钱，态度极差", 19, False),
])
def test_thin_replies_are_told_by_their_own_words(text, own, thin):
    from sentiment.rules import is_thin, own_chars

    assert own_chars(text) == own
    assert is_thin(text) is thin


def test_a_thin_reply_does_not_set_a_benign_storys_tone():
    # A bank's product launch with a few one-word repost comments the model reads as negative ("绝了" 0.87):
    # the comments still count in the negative share, but the story's tone is set by what says something.
    launch = art("local_media", "news", label="neutral", p=0.05, category="other", reposts=30)
    comments = [ArticleFacts(NOW, "social", "social", "negative", 0.87, "service_attitude", thin=True)
                for _ in range(3)]
    result = score_story(StoryFacts([launch, *comments], "head_office", now=NOW), CFG)
    assert result.level is None and result.factors["polarity"]["value"] == 0.0
    assert "不计 3 条字数过少的短评/转发" in result.factors["polarity"]["reason"]
    # the same comments without the flag would raise an alert — the flag is what changes it
    plain = [ArticleFacts(NOW, "social", "social", "negative", 0.87, "service_attitude") for _ in range(3)]
    assert score_story(StoryFacts([launch, *plain], "head_office", now=NOW), CFG).level is not None
    # a story made only of thin items is still judged by them
    only = score_story(StoryFacts(comments, "outlet", now=NOW), CFG)
    assert only.factors["polarity"]["value"] > 0
