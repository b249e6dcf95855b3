"""Exposure risk of a story, as a product of named factors that a monitor can read ("why this alert").

raw = polarity × severity × authority × reach × velocity × locality × trending; risk = 100 × (1 − e^(−raw / k)),
then mapped to a level by thresholds from config. polarity and severity are in 0–1 and set the base; the others are
multipliers (a lone post with no interaction has reach 0.5; provincial media has authority 2). The saturating
curve keeps compounding factors from pinning every spreading story at 100, so the levels stay apart: with the
defaults a lone negative complaint is IV, a post spreading beyond its author III, local media III–II,
provincial media with fast spread II, and a viral run rumour I.

Hot lists (微博热搜, 知乎热榜, …) are reach a platform has already measured: an entry naming the bank is a strong
signal even when it is only a title with no interactions of its own. Such an entry counts as at least
``trending.entry_signal`` negative (unless positive or a clarification), its best rank, its hours on the list and
the list's daily audience make the ``trending`` multiplier (1 for a story on no list), and the trending floors set a
minimum level whatever the tone — a story on a national list for hours is at least II, one in the top ten for an
hour with run or rumour words is I.
Every factor is returned with its value and a Chinese reason. Pure: plain values in, plain values out.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from yuqing.categories import LEVEL_ORDER, category_label
from yuqing.yamlfile import load_model

AUTHORITY_LABELS = {
    "national_media": "全国性媒体",
    "provincial_media": "省级媒体",
    "local_media": "地方媒体",
    "regulator": "监管部门",
    "complaint_platform": "投诉平台",
    "social": "社交媒体",
    "self_media": "自媒体",
}
# The Chinese name of each factor in "why this alert" (dashboard, briefings): one table, so a new factor is named
# everywhere at once. A floor lifts the level above what the score alone gives, so it must say so in words.
FACTOR_LABELS = {
    "polarity": "负面程度",
    "severity": "类别严重度",
    "authority": "来源影响力",
    "reach": "传播范围",
    "velocity": "传播速度",
    "locality": "涉及层级",
    "trending": "热榜热度",
    "floor": "保底分级规则",
    "stale": "时效",
}
UNIT_KIND_LOCALITY = {"outlet": "网点", "sub_branch": "支行", "city_branch": "二级分行", "branch": "分行",
                      "head_office": "总行"}


class LevelFloor(BaseModel):
    """A trigger from the level table (e.g. a run rumour that has spread is level I whatever the score says)."""

    model_config = ConfigDict(extra="forbid")

    level: str = Field(pattern=r"^(I|II|III|IV)$")
    reason: str = Field(min_length=1, description="shown to the monitor, in Chinese")
    categories: list[str] = Field(default_factory=list, description="story category must be one of these")
    authorities: list[str] = Field(default_factory=list, description="a negative item must come from one of these")
    min_negative_items: int = Field(1, ge=1)
    min_engagement: int = Field(0, ge=0)

    def applies(self, category: str, negatives: list[ArticleFacts], engagement: int) -> bool:
        if self.categories and category not in self.categories:
            return False
        if self.authorities and not any(a.authority in self.authorities for a in negatives):
            return False
        return len(negatives) >= self.min_negative_items and engagement >= self.min_engagement


class TrendingFloor(BaseModel):
    """A minimum level for a story with a hot-list entry that is high enough, long enough, on a big enough list."""

    model_config = ConfigDict(extra="forbid")

    level: str = Field(pattern=r"^(I|II|III|IV)$")
    reason: str = Field(min_length=1, description="shown to the monitor, in Chinese")
    max_rank: int | None = Field(None, ge=1, description="the entry ranked at or above this (1 is the top)")
    min_hours: float = Field(0.0, ge=0, description="hours on the list (last seen − first seen)")
    min_reach: int = Field(0, ge=0, description="the list's daily audience")
    risk_words: bool = Field(False, description="the entry must carry a run / rumour word or a run category")


class TrendingRisk(BaseModel):
    """How a hot-list entry feeds the score: factor = 1 + max_boost × rank part × time part × reach part."""

    model_config = ConfigDict(extra="forbid")

    max_boost: float = Field(3.0, ge=0, description="the factor's ceiling is 1 + max_boost")
    entry_signal: float = Field(
        0.5, ge=0, le=1, description="how negative a hot-list entry that is neither positive nor a clarification "
        "counts at least (its title is often too short for the tone to say anything)")
    rank_half_weight: float = Field(
        15.0, gt=0, description="rank part = 1 / (1 + ((rank − 1) / this)²): 1 at the top, 0.5 at rank this + 1")
    hours_scale: float = Field(2.0, gt=0, description="time part = 0.3 + 0.7 × (1 − e^(−hours / this))")
    national_reach: int = Field(
        100_000_000, ge=1, description="a list with this daily audience or more is national (reach part 1)")
    unknown_reach_part: float = Field(0.5, ge=0, le=1, description="reach part when the list's audience is unknown")
    risk_words: list[str] = Field(default_factory=lambda: [
        "挤兑", "倒闭", "跑路", "破产", "暴雷", "爆雷", "限制取现", "取不出", "取不了", "不让取", "兑付", "传言",
        "谣言", "传闻", "网传"], description="run / rumour words looked for in an entry's title")
    run_categories: list[str] = Field(
        default_factory=lambda: ["withdrawal_bank_run", "liquidity_risk"],
        description="an entry classified in one of these counts as carrying risk words")
    floors: list[TrendingFloor] = Field(default_factory=lambda: [
        TrendingFloor(level="II", reason="登上全国性热榜并持续数小时", min_reach=100_000_000, min_hours=2.0),
        TrendingFloor(level="I", reason="挤兑/谣言类话题进入热榜前十并持续1小时以上", max_rank=10, min_hours=1.0,
                      risk_words=True)])

    def rank_part(self, rank: int) -> float:
        return 1.0 / (1.0 + ((max(rank, 1) - 1) / self.rank_half_weight) ** 2)

    def time_part(self, hours: float) -> float:
        return 0.3 + 0.7 * (1.0 - math.exp(-max(hours, 0.0) / self.hours_scale))

    def reach_part(self, reach: int | None) -> float:
        if not reach or reach <= 0:
            return self.unknown_reach_part
        return min(1.0, math.log10(1 + reach) / math.log10(1 + self.national_reach))

    def factor(self, entry: TrendingFacts) -> float:
        """The multiplier one entry earns: rises as its best rank improves, with hours on the list and with the
        list's audience."""
        return 1.0 + self.max_boost * (self.rank_part(entry.best_rank) * self.time_part(entry.hours)
                                       * self.reach_part(entry.reach))

    def has_risk_words(self, entry: TrendingFacts, category: str) -> bool:
        return category in self.run_categories or any(w in entry.title for w in self.risk_words)


class RiskConfig(BaseModel):
    """Weights and thresholds; defaults mirror config/risk.yaml."""

    model_config = ConfigDict(extra="forbid")

    severity: dict[str, float] = Field(default_factory=lambda: {
        "withdrawal_bank_run": 1.0, "liquidity_risk": 1.0, "regulatory_penalty": 0.9, "data_leak_fraud": 0.85,
        "violent_collection": 0.85, "staff_misconduct": 0.85, "product_mis_selling": 0.75,
        "system_failure": 0.65, "opaque_fees": 0.6, "service_attitude": 0.6, "other": 0.4})
    authority: dict[str, float] = Field(default_factory=lambda: {
        "national_media": 3.0, "regulator": 3.0, "provincial_media": 2.0, "local_media": 1.5,
        "complaint_platform": 1.0, "social": 1.0, "self_media": 0.9})
    locality: dict[str, float] = Field(default_factory=lambda: {
        "outlet": 1.1, "sub_branch": 1.1, "city_branch": 1.0, "branch": 1.0, "head_office": 0.8})
    # level: minimum score (I is the most severe)
    thresholds: dict[str, float] = Field(default_factory=lambda: {"I": 80, "II": 60, "III": 30, "IV": 5})
    saturation: float = Field(5.0, gt=0, description="k in 100 × (1 − e^(−raw / k))")
    min_negative_prob: float = Field(0.5, ge=0, le=1, description="a story with no article this negative is no risk")
    topic_polarity: dict[str, float] = Field(
        default_factory=lambda: {"withdrawal_bank_run": 0.7, "liquidity_risk": 0.7, "regulatory_penalty": 0.55},
        description="categories that are a risk whatever the tone: a calm rumour of a run counts as this negative")
    stale_after_hours: float = Field(
        72, gt=0, description="a story whose newest item is older than this when first seen is history, not an alert")
    floors: list[LevelFloor] = Field(default_factory=list, description="triggers that force a minimum level")
    trending: TrendingRisk = Field(default_factory=TrendingRisk, description="hot-list reach (trending factor)")

    @model_validator(mode="after")
    def _check(self) -> RiskConfig:
        if set(self.thresholds) != set(LEVEL_ORDER):
            raise ValueError("thresholds: must give exactly the levels I, II, III and IV")
        values = [self.thresholds[lv] for lv in LEVEL_ORDER]
        if values != sorted(values, reverse=True):
            raise ValueError("thresholds: must decrease from I to IV")
        if "other" not in self.severity:
            raise ValueError("severity: must include 'other'")
        for code, value in self.topic_polarity.items():
            if code not in self.severity:
                raise ValueError(f"topic_polarity.{code}: not a category of severity")
            if not 0 < value <= 1:
                raise ValueError(f"topic_polarity.{code}: must be in (0, 1]")
        for code in self.trending.run_categories:
            if code not in self.severity:
                raise ValueError(f"trending.run_categories: {code!r} is not a category of severity")
        return self


def load_risk_config(path: Path | str) -> RiskConfig:
    return load_model(path, RiskConfig)


@dataclass(frozen=True)
class TrendingFacts:
    """A hot-list entry as the score sees it (``article.meta["trending"]`` and its rank samples)."""

    list_name: str  # 微博热搜, 知乎热榜 …
    rank: int  # the position the latest poll saw, 1 is the top
    hours: float  # hours on the list: last seen − first seen
    reach: int | None = None  # the list's daily audience, when the source says
    title: str = ""  # the entry's words as listed
    # (hours since first seen, rank) each time the rank changed, in time order; each holds until the next (the
    # last until ``hours``). Empty when unknown: the entry then counts as at ``rank`` the whole time.
    timeline: tuple[tuple[float, int], ...] = ()

    @property
    def best_rank(self) -> int:
        return min([self.rank, *(r for _, r in self.timeline)])

    def hours_at_or_above(self, max_rank: int) -> float:
        """Hours the entry spent at ``max_rank`` or higher (1 is the top)."""
        steps = self.timeline or ((0.0, self.rank),)
        total = 0.0
        for i, (start, rank) in enumerate(steps):
            end = steps[i + 1][0] if i + 1 < len(steps) else self.hours
            if rank <= max_rank:
                total += max(0.0, min(end, self.hours) - start)
        return total


@dataclass(frozen=True)
class ArticleFacts:
    published_at: datetime
    authority: str
    channel: str
    label: str
    negative_prob: float
    category: str
    reposts: int = 0
    comments: int = 0
    likes: int = 0
    followers: int = 0
    calming: bool = False  # a clarification or notice (辟谣, 情况说明, …): never a topic signal
    thin: bool = False  # a short reply or repost comment ("绝了//@…"): too few words of its own to set the tone
    trending: TrendingFacts | None = None  # set for an entry of a hot list
    # the topic categories whose risk words the item's own title and text contain
    # (``sentiment.rules.risk_word_categories``): a calm item counts for a topic only when its words name one
    risk_words: frozenset[str] = frozenset()
    risk_terms: tuple[str, ...] = ()  # the risk words themselves ("限制取", "现金不够"), named in "why this alert"


@dataclass(frozen=True)
class StoryFacts:
    articles: list[ArticleFacts]
    unit_kind: str
    engagement_hour_ago: int = 0  # total reposts+comments+likes one hour before ``now``
    now: datetime | None = None


@dataclass
class RiskResult:
    score: float
    level: str | None
    category: str
    factors: dict[str, dict] = field(default_factory=dict)


def score_story(facts: StoryFacts, config: RiskConfig | None = None) -> RiskResult:
    """Score a story from its classified articles; see the module docstring for the formula."""
    cfg = config or RiskConfig()
    arts = facts.articles
    if not arts:
        return RiskResult(0.0, None, "other", {})
    negatives = [a for a in arts if a.label == "negative"]
    # A rumour told calmly ("内部消息：……现金不够了，各网点限制取现") reads neutral, yet a run rumour is a risk
    # whatever its tone: a non-positive, non-calming item of a topic category counts as at least that negative.
    # So is a hot-list entry naming the bank: being on the list is exposure, whatever its few words say.
    signal = [max(a.negative_prob, _topic_signal(a, cfg), _trending_signal(a, cfg)) for a in arts]
    topical = [a for a, s in zip(arts, signal, strict=True) if a.label != "negative" and s > a.negative_prob
               and s >= cfg.min_negative_prob]
    concerning = negatives + topical
    listed = sum(1 for a in topical if a.trending is not None)
    # The story's tone is set by its most negative item that says something: "真的假的//@…" or "绝了" under a
    # bank's product launch is no complaint. Thin items still count in the share below, by their interactions;
    # a story of nothing but thin items is judged by them.
    judged = [s for a, s in zip(arts, signal, strict=True) if not a.thin] or signal
    thin_skipped = len(arts) - len(judged) if len(judged) < len(arts) else 0
    top_neg = max(judged)
    # Share of attention that is negative: items weigh by their own interactions, so one viral negative post
    # outweighs fifty bare reposts of it (whose short texts read as neutral), and media items weigh extra.
    # (square root of interactions; a media article counts like a post with 400 interactions).
    weights = [1.0 + math.sqrt(a.reposts + a.comments + a.likes) + (20.0 if a.channel == "news" else 0.0)
               for a in arts]
    concerning_ids = {id(a) for a in concerning}
    neg_share = sum(w for w, a in zip(weights, arts, strict=True) if id(a) in concerning_ids) / sum(weights)
    polarity = top_neg * (0.6 + 0.4 * neg_share) if top_neg >= cfg.min_negative_prob else 0.0

    category = _story_category(concerning or arts, cfg)
    severity = cfg.severity.get(category, cfg.severity["other"])

    neg_or_all = concerning or arts
    best_source = max(neg_or_all, key=lambda a: cfg.authority.get(a.authority, 1.0))
    authority = cfg.authority.get(best_source.authority, 1.0)

    engagement = sum(a.reposts + a.comments + a.likes for a in arts)
    followers = max((a.followers for a in arts), default=0)
    # log scale: a lone post 0.5, a hundred interactions ~1.3, ten thousand ~2.1, capped at 3
    reach = min(3.0, 0.5 + 0.4 * math.log10(1 + engagement) + 0.05 * math.log10(1 + followers)
                + 0.05 * (len(arts) - 1))

    now = facts.now or max(a.published_at for a in arts)
    recent = [a for a in arts if a.published_at >= now - timedelta(hours=1)]
    growth = max(0, engagement - facts.engagement_hour_ago)
    velocity = min(1.5, 1.0 + 0.1 * math.log10(1 + growth) + 0.05 * len(recent))

    locality = cfg.locality.get(facts.unit_kind, 1.0)

    hot = [a for a in arts if a.trending is not None]
    hot_best = max(hot, key=lambda a: cfg.trending.factor(a.trending)) if hot else None  # type: ignore[arg-type]
    trending = cfg.trending.factor(hot_best.trending) if hot_best and hot_best.trending else 1.0

    raw = polarity * severity * authority * reach * velocity * locality * trending
    score = 100.0 * (1.0 - math.exp(-raw / cfg.saturation))
    level = next((lv for lv in LEVEL_ORDER if score >= cfg.thresholds[lv]), None)
    factors = {
        "polarity": _f(polarity, f"最负面一条负面概率 {top_neg:.2f}"
                                 + (f"（不计 {thin_skipped} 条字数过少的短评/转发）" if thin_skipped else "")
                                 + f"，按互动加权的负面占比 {neg_share:.0%}"
                                 f"（{len(negatives)}/{len(arts)} 条负面"
                                 + (f"，另有 {len(topical) - listed} 条语气平静但属高风险话题的传言或报道"
                                    f"{_named_terms(topical)}，按负面计" if len(topical) > listed else "")
                                 + (f"，另有 {listed} 条热榜条目，按负面计" if listed else "") + "）"),
        "severity": _f(severity, f"风险类别：{category_label(category)}"),
        "authority": _f(authority, f"最具影响力的来源：{AUTHORITY_LABELS.get(best_source.authority, '其他')}"),
        "reach": _f(reach, f"互动量 {engagement}（转发/评论/点赞），最大粉丝数 {followers}，共 {len(arts)} 条"),
        "velocity": _f(velocity, f"近 1 小时新增互动 {growth}，新增 {len(recent)} 条"),
        "locality": _f(locality, f"涉及层级：{UNIT_KIND_LOCALITY.get(facts.unit_kind, '未知')}"),
    }
    if hot_best is not None and hot_best.trending is not None:
        factors["trending"] = _f(trending, trending_reason(hot_best.trending, len(hot)))
        for tfloor in cfg.trending.floors:
            # Reach a platform measured is a risk in any tone: these floors do not wait for a negative item.
            entry = next((a.trending for a in hot if a.trending is not None
                          and _trending_floor_applies(tfloor, a.trending, a.category, cfg.trending)), None)
            if entry is not None and (level is None or LEVEL_ORDER.index(tfloor.level) < LEVEL_ORDER.index(level)):
                level = tfloor.level
                where = (f"在前{tfloor.max_rank}位{_hours(entry.hours_at_or_above(tfloor.max_rank))}小时"
                         if tfloor.max_rank is not None else f"在榜{_hours(entry.hours)}小时")
                factors["floor"] = _f(1.0, f"触发分级规则（至少{tfloor.level}级）：{tfloor.reason}"
                                           f"（{entry.list_name}最高第{entry.best_rank}位，{where}）")
    if polarity > 0:
        for floor in cfg.floors:
            # A category trigger (a run rumour spreading) counts calm topical items too; an authority trigger
            # (national media, regulator) needs a negative item: a neutral penalty notice is not a crisis.
            counted = concerning if floor.categories else negatives
            if floor.applies(category, counted, engagement) and (
                    level is None or LEVEL_ORDER.index(floor.level) < LEVEL_ORDER.index(level)):
                level = floor.level
                factors["floor"] = _f(1.0, f"触发分级规则（至少{floor.level}级）：{floor.reason}")
    newest = max(a.published_at for a in arts)
    if now - newest > timedelta(hours=cfg.stale_after_hours):
        level = None
        factors["stale"] = _f(0.0, f"最新一条发布于 {cfg.stale_after_hours:g} 小时以前：作为历史信息记录，不预警")
    return RiskResult(round(score, 2), level, category, factors)


def _f(value: float, reason: str) -> dict:
    return {"value": round(value, 3), "reason": reason}


def trending_reason(entry: TrendingFacts, entries: int = 1) -> str:
    """"登上微博热搜第3位，在榜2.5小时（榜单日覆盖约5亿人）" — the strongest entry (its best rank, and where it is now
    when that differs), and how many there were."""
    audience = f"（榜单日覆盖约{_people(entry.reach)}）" if entry.reach else "（榜单覆盖人数未知）"
    now = f"（现第{entry.rank}位）" if entry.rank != entry.best_rank else ""
    more = f"；共 {entries} 条热榜记录" if entries > 1 else ""
    return f"登上{entry.list_name}第{entry.best_rank}位{now}，在榜{_hours(entry.hours)}小时{audience}{more}"


def _hours(hours: float) -> str:
    return f"{hours:.1f}".removesuffix(".0")


def _people(n: int) -> str:
    if n >= 100_000_000:
        return f"{n / 100_000_000:.1f}".removesuffix(".0") + "亿人"
    if n >= 10_000:
        return f"{n / 10_000:.0f}万人"
    return f"{n}人"


def _trending_floor_applies(floor: TrendingFloor, entry: TrendingFacts, category: str, cfg: TrendingRisk) -> bool:
    hours = entry.hours if floor.max_rank is None else entry.hours_at_or_above(floor.max_rank)
    if hours < floor.min_hours or (entry.reach or 0) < floor.min_reach:
        return False
    return not floor.risk_words or cfg.has_risk_words(entry, category)


def _trending_signal(article: ArticleFacts, cfg: RiskConfig) -> float:
    """How negative a hot-list entry counts (0 for any other item, a positive entry or a clarification)."""
    if article.trending is None or article.label == "positive" or article.calming:
        return 0.0
    return cfg.trending.entry_signal


def _named_terms(items: list[ArticleFacts], most: int = 4) -> str:
    """"（含“限制取”“现金不够”）": the risk words that made calm items count, the first ``most`` of them."""
    terms = list(dict.fromkeys(t for a in items for t in a.risk_terms))
    if not terms:
        return ""
    more = "等" if len(terms) > most else ""
    return "（含" + "".join(f"“{t}”" for t in terms[:most]) + more + "）"


def _topic_signal(article: ArticleFacts, cfg: RiskConfig) -> float:
    """How negative an item counts for being about a topic that is a risk in any tone (0 when it is not)."""
    if article.label == "positive" or article.calming:
        return 0.0
    # The learned category alone is not enough: it also files a bare "储户" (depositors) under a run. The item's own
    # words must name a topic that is a risk in any tone (挤兑, 限制取现, 倒闭, 罚款 …); then they count even when
    # the category head filed the item elsewhere.
    if not article.risk_words:
        return 0.0
    return max(cfg.topic_polarity.get(c, 0.0) for c in {article.category, *article.risk_words})


def _story_category(articles: list[ArticleFacts], cfg: RiskConfig) -> str:
    """Most severe category among the articles that carry one; 'other' only when nothing else is known."""
    # counted once (``Counter``), not ``cats.count`` per article: that was quadratic in a big story, re-scored on
    # every round it grows; ``max`` over the categories in order of first appearance picks the same one on a tie
    counts = Counter(a.category for a in articles if a.category != "other")
    if not counts:
        return "other"
    return max(counts, key=lambda c: (cfg.severity.get(c, 0.0), counts[c]))
