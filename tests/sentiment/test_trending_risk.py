"""Hot-list reach in the risk score: an entry naming the bank on 微博热搜 / 知乎热榜 … is a strong reach signal even
when it is only a title — rank, hours on the list and the list's audience make the ``trending`` factor, and the
trending floors set a minimum level whatever the tone. The articles follow the trending source's contract
(channel ``trending``, ``metrics = {rank, heat}``, ``meta["trending"]``) and are inserted here by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from api.present import factor_rows
from crawlers.models import Article, ArticleStage, Mention, Story
from sentiment.models import Classification, StoryRisk
from sentiment.risk import ArticleFacts, StoryFacts, TrendingFacts, load_risk_config, score_story, trending_reason
from sentiment.service import RiskContext, score_stories, trending_facts
from yuqing.errors import ConfigError
from yuqing.settings import PROJECT_ROOT

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
CFG = load_risk_config(PROJECT_ROOT / "config" / "risk.yaml")
WEIBO_HOT_REACH = 500_000_000  # 微博热搜's daily audience as the trending source reports it


def entry(rank: int, hours: float, *, reach: int | None = WEIBO_HOT_REACH, label: str = "neutral", p: float = 0.2,
          category: str = "other", title: str = "示例银行江城分行") -> ArticleFacts:
    return ArticleFacts(NOW - timedelta(hours=hours), "social", "trending", label, p, category,
                        trending=TrendingFacts("微博热搜", rank, hours, reach, title))


def post(p: float = 0.9, reposts: int = 30) -> ArticleFacts:
    return ArticleFacts(NOW - timedelta(minutes=30), "social", "social", "negative", p, "service_attitude",
                        reposts=reposts, comments=10, likes=20, followers=800)


def score(*articles: ArticleFacts, unit_kind: str = "outlet"):
    return score_story(StoryFacts(list(articles), unit_kind, now=NOW), CFG)


def test_the_factor_falls_with_rank_and_rises_with_hours_and_audience():
    t = CFG.trending
    by_rank = [t.factor(TrendingFacts("微博热搜", r, 2.0, WEIBO_HOT_REACH)) for r in (1, 3, 10, 20, 50)]
    assert by_rank == sorted(by_rank, reverse=True) and len(set(by_rank)) == len(by_rank)
    assert by_rank[2] > 2 * (by_rank[4] - 1) + 1  # top 10 ≫ top 50: its boost is more than double
    by_hours = [t.factor(TrendingFacts("微博热搜", 5, h, WEIBO_HOT_REACH)) for h in (0, 0.5, 1, 3, 8)]
    assert by_hours == sorted(by_hours) and len(set(by_hours)) == len(by_hours)
    by_reach = [t.factor(TrendingFacts("某地热榜", 5, 2, r)) for r in (100_000, 10_000_000, WEIBO_HOT_REACH)]
    assert by_reach == sorted(by_reach) and len(set(by_reach)) == len(by_reach)
    # ... and so does the story's score, everything else equal
    scores = [score(post(), entry(r, 2.0, label="negative", p=0.9)).score for r in (2, 12, 40)]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 3
    scores = [score(post(), entry(5, h, label="negative", p=0.9)).score for h in (0.2, 1.0, 4.0)]
    assert scores == sorted(scores) and len(set(scores)) == 3


def test_the_reason_says_list_rank_hours_and_audience():
    result = score(post(), entry(3, 2.5))
    assert result.factors["trending"]["reason"] == "登上微博热搜第3位，在榜2.5小时（榜单日覆盖约5亿人）"
    assert result.factors["trending"]["value"] > 1
    assert trending_reason(TrendingFacts("知乎热榜", 12, 1.0, 35_000_000), 2) == \
        "登上知乎热榜第12位，在榜1小时（榜单日覆盖约3500万人）；共 2 条热榜记录"
    assert trending_reason(TrendingFacts("百度热搜", 40, 0.25)) == "登上百度热搜第40位，在榜0.2小时（榜单覆盖人数未知）"
    assert "trending" not in score(post()).factors  # a story on no list has no such factor


def test_a_national_list_for_hours_is_at_least_level_two_whatever_the_tone():
    for label, p in (("neutral", 0.2), ("positive", 0.02)):
        result = score(entry(25, 3.0, label=label, p=p))
        assert result.level == "II", (label, result)
        assert "登上全国性热榜并持续数小时" in result.factors["floor"]["reason"]
        assert "（微博热搜最高第25位，在榜3小时）" in result.factors["floor"]["reason"]
    assert score(entry(25, 0.5)).level is None  # half an hour is not "for hours"
    assert score(entry(25, 3.0, reach=2_000_000)).level is None  # a local list is not national


def test_top_ten_for_an_hour_with_run_words_is_level_one():
    rumour = entry(4, 1.2, title="网传示例银行江城分行限制取现")
    result = score(rumour)
    assert result.level == "I", result
    assert "挤兑/谣言类话题进入热榜前十" in result.factors["floor"]["reason"]
    by_category = entry(4, 1.2, title="示例银行江城分行", category="withdrawal_bank_run")
    assert score(by_category).level == "I"
    assert score(entry(4, 0.5, title="网传示例银行江城分行限制取现")).level != "I"  # not an hour yet
    assert score(entry(14, 3.0, title="网传示例银行江城分行限制取现")).level == "II"  # not top ten


def test_time_in_the_top_ten_counts_from_the_rank_samples():
    def climbed(timeline, hours=3.0, rank=25):
        return ArticleFacts(NOW - timedelta(hours=hours), "social", "trending", "neutral", 0.2, "other",
                            trending=TrendingFacts("微博热搜", rank, hours, WEIBO_HOT_REACH,
                                                   "网传示例银行江城分行限制取现", timeline))

    brief = TrendingFacts("微博热搜", 25, 3.0, WEIBO_HOT_REACH, timeline=((0.0, 30), (1.0, 8), (1.5, 25)))
    assert brief.best_rank == 8 and brief.hours_at_or_above(10) == 0.5 and brief.hours_at_or_above(50) == 3.0
    result = score(climbed(brief.timeline))
    assert result.level == "II"  # half an hour in the top ten is not an hour; three on a national list is II
    assert result.factors["trending"]["reason"] == "登上微博热搜第8位（现第25位），在榜3小时（榜单日覆盖约5亿人）"
    stayed = score(climbed(((0.0, 30), (1.0, 8)), rank=8))
    assert stayed.level == "I" and "（微博热搜最高第8位，在前10位2小时）" in stayed.factors["floor"]["reason"]
    # the best rank sets the factor: an entry that reached 8 weighs more than one that never left 30
    assert CFG.trending.factor(brief) > CFG.trending.factor(TrendingFacts("微博热搜", 30, 3.0, WEIBO_HOT_REACH))


def _article(session, story: Story, n: int, *, channel: str, title: str, text: str, now: datetime,
             metrics: dict | None = None, meta: dict | None = None, label: str, p: float, category: str) -> None:
    a = Article(source_id="weibo-hot" if channel == "trending" else "weibo", channel=channel,
                url=f"http://example.test/{n}", url_hash=f"h{n}", title=title, text=text, published_at=now,
                fetched_at=now, content_hash=f"c{n}", metrics=metrics or {}, meta=meta or {},
                stage=ArticleStage.classified, story_id=story.id)
    a.mentions.append(Mention(unit_id="xinhualu", is_primary=True, terms=["新华路网点"], snippet=title or text))
    session.add(a)
    session.flush()
    session.add(Classification(article_id=a.id, label=label, negative_prob=p, category=category, model="test",
                               classified_at=now, cues=[]))


def test_a_title_only_entry_naming_the_outlet_raises_the_stored_level(session_factory, clock, org):
    ctx = RiskContext(org=org, config=CFG, authorities={"weibo": "social", "weibo-hot": "social"})
    now = clock.now()
    with session_factory() as s:
        story = Story(title="新华路网点拒绝取款", unit_id="xinhualu", first_seen_at=now, last_seen_at=now,
                      article_count=1)
        s.add(story)
        s.flush()
        _article(s, story, 1, channel="social", title="", text="示例银行新华路网点服务态度太差了，排了两小时",
                 now=now, metrics={"reposts": 12, "comments": 5, "likes": 9}, label="negative", p=0.8,
                 category="service_attitude")
        s.commit()
        before = score_stories(s, ctx=ctx, clock=clock)
        assert len(before) == 1 and "trending" not in before[0].factors

        clock.advance(timedelta(hours=3))
        later = clock.now()
        first_seen = (later - timedelta(hours=2, minutes=30)).isoformat().replace("+00:00", "Z")
        _article(s, story, 2, channel="trending", title="示例银行新华路网点", text="", now=later,
                 metrics={"rank": 3, "heat": 1_250_000}, label="neutral", p=0.3, category="other",
                 meta={"trending": {"list": "weibo_hot", "list_name": "微博热搜", "rank": 3, "heat": 1_250_000,
                                    "reach": WEIBO_HOT_REACH, "first_seen_at": first_seen,
                                    "last_seen_at": later.isoformat()}})
        s.commit()
        after = score_stories(s, ctx=ctx, clock=clock)
        assert len(after) == 1
        order = ["I", "II", "III", "IV", None]
        assert order.index(after[0].level) < order.index(before[0].level), (before[0].level, after[0].level)
        assert after[0].score > before[0].score
        assert after[0].factors["trending"]["reason"] == "登上微博热搜第3位，在榜2.5小时（榜单日覆盖约5亿人）"
        assert after[0].level in {"I", "II"}
        assert len(s.scalars(select(StoryRisk)).all()) == 2
        # the "why this alert" table of the dashboard names the factor in Chinese
        rows = {r.key: r for r in factor_rows(after[0].factors)}
        assert rows["trending"].label == "热榜热度"
        assert rows["trending"].reason.startswith("登上微博热搜第3位")


def test_entries_that_break_the_contract_are_not_trusted():
    def art(meta, channel="trending", metrics=None):
        return Article(channel=channel, title="示例银行", meta=meta, metrics=metrics or {})

    good = {"list_name": "抖音热榜", "rank": "7", "reach": 600_000_000, "first_seen_at": "2026-11-23T01:00:00Z",
            "last_seen_at": "2026-11-23T02:30:00+00:00"}
    facts = trending_facts(art({"trending": good}))
    assert facts == TrendingFacts("抖音热榜", 7, 1.5, 600_000_000, "示例银行")
    assert trending_facts(art({"trending": good}, channel="social")) is None
    assert trending_facts(art({"trending": "第一"})) is None
    assert trending_facts(art({"trending": {**good, "rank": True}})) is None  # a bool is no rank
    assert trending_facts(art({"trending": {**good, "rank": 0}})) is None
    assert trending_facts(art({"trending": {"list": "baidu", "rank": None}}, metrics={"rank": 9})).rank == 9
    odd = trending_facts(art({"trending": {**good, "first_seen_at": "昨天", "reach": -5}}))
    assert odd is not None and odd.hours == 0.0 and odd.reach is None
    # rank samples become the timeline: each change of rank, hours from first seen (repeats and NULLs dropped)
    t0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    samples = [(t0 + timedelta(minutes=30), 3), (t0, 12), (t0 + timedelta(minutes=45), 3), (t0, None)]
    assert trending_facts(art({"trending": good}), samples).timeline == ((0.0, 12), (0.5, 3))


def test_bad_trending_settings_name_the_file_and_field(tmp_path: Path):
    p = tmp_path / "risk.yaml"
    p.write_text("trending: {rank_half_weight: 0}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"risk\.yaml: trending\.rank_half_weight"):
        load_risk_config(p)
    p.write_text("trending: {floors: [{level: II, reason: x, min_hourz: 2}]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"risk\.yaml: trending\.floors\.0\.min_hourz"):
        load_risk_config(p)
    p.write_text("trending: {run_categories: [bank_run]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"risk\.yaml.*trending\.run_categories: 'bank_run'"):
        load_risk_config(p)


def test_a_hot_search_entry_polled_for_hours_reaches_level_two_through_the_pipeline(tmp_path, org):
    """The trending source's real spider and store, then ingest, classification and scoring as the pipeline runs
    them: the bank's entry sits at #2 of 微博热搜; a re-poll 2.5 h later (same rank, so no new sample) rescores the
    story and the national-list floor lifts it to II."""
    from crawlers.crawl import crawl_sources
    from crawlers.ingest import process_fetched
    from crawlers.keywords import load_keyword_plans
    from crawlers.matching import Matcher
    from crawlers.sources import SourceConfig
    from crawlers.stories import StoryIndex
    from runner.schema import all_metadata
    from sentiment.rules import RuleBasedClassifier
    from sentiment.service import classify_pending
    from tests.crawlers.conftest import FAST, LocalSite
    from yuqing.clock import FrozenClock
    from yuqing.db import make_engine, make_sessionmaker

    site = LocalSite().start()
    engine = make_engine(f"sqlite:///{tmp_path / 'trending.db'}")
    all_metadata().create_all(engine)
    factory = make_sessionmaker(engine)
    clock = FrozenClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    fixture = PROJECT_ROOT / "tests" / "crawlers" / "fixtures" / "public" / "weibo-hot-search.json"
    site.add("/ajax/side/hotSearch", fixture.read_bytes(), content_type="application/json;charset=UTF-8")
    source = SourceConfig(
        id="weibo-hot-search", name="微博热搜", kind="trending", channel="trending",
        url=f"{site.base}/ajax/side/hotSearch", authority="social", private_network=site.base.removeprefix("http://"),
        respect_robots=False, trending={"items_path": "data.realtime", "skip_when": ["is_ad"],
                                        "fields": {"title": "word", "rank": "realpos", "heat": "num"},
                                        "reach": WEIBO_HOT_REACH})
    matcher = Matcher.from_org(org, load_keyword_plans(PROJECT_ROOT / "config" / "keywords.yaml"))
    index = StoryIndex()
    ctx = RiskContext(org=org, config=CFG, authorities={"weibo-hot-search": "social"})

    def poll() -> list[StoryRisk]:
        result = asyncio.run(crawl_sources([source], session_factory=factory, clock=clock,
                                           settings_overrides=dict(FAST)))[source.id]
        assert result.ok, result.errors
        with factory() as s:
            process_fetched(s, matcher=matcher, index=index, clock=clock)
            classify_pending(s, classifier=RuleBasedClassifier(), clock=clock)
            return score_stories(s, ctx=ctx, clock=clock)

    try:
        first = poll()
        assert len(first) == 1  # the bank's entry; the weather and football entries name no bank
        assert first[0].level not in {"I", "II"}
        assert first[0].factors["trending"]["reason"] == "登上微博热搜第2位，在榜0小时（榜单日覆盖约5亿人）"
        clock.advance(timedelta(hours=2, minutes=30))
        second = poll()
    finally:
        site.stop()
        engine.dispose()
    assert [r.story_id for r in second] == [first[0].story_id]
    assert second[0].level == "II" and second[0].score > first[0].score > 0
    assert "另有 1 条热榜条目，按负面计" in second[0].factors["polarity"]["reason"]
    assert second[0].factors["trending"]["reason"] == "登上微博热搜第2位，在榜2.5小时（榜单日覆盖约5亿人）"
    assert "登上全国性热榜并持续数小时" in second[0].factors["floor"]["reason"]
