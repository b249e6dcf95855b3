"""The sentiment stage of the pipeline: classify matched articles, then recompute the risk of stories that
changed (new articles or new spread counts). Work is found by querying article stages, so a restart resumes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawlers.models import Article, ArticleMetricSample, ArticleStage, Story
from sentiment.classifier import Classifier
from sentiment.models import Classification, StoryRisk
from sentiment.passages import passages_about
from sentiment.risk import ArticleFacts, RiskConfig, StoryFacts, TrendingFacts, score_story
from sentiment.rules import is_calming, is_thin
from yuqing.clock import Clock
from yuqing.org import OrgChart

DEFAULT_AUTHORITY = {"news": "local_media", "social": "social", "complaint": "complaint_platform",
                     "regulator": "regulator"}


def classify_pending(session: Session, *, classifier: Classifier, clock: Clock, batch_size: int = 64) -> int:
    """Classify every article at stage ``matched``; commits per batch. Returns how many were classified."""
    done = 0
    while True:
        articles = session.scalars(
            select(Article).where(Article.stage == ArticleStage.matched).order_by(Article.id).limit(batch_size)
        ).all()
        if not articles:
            return done
        texts = []
        for a in articles:
            terms = [t for m in a.mentions for t in (m.terms or [])]
            texts.append(passages_about(a.title, a.text, terms))
        preds = classifier.predict(texts)
        now = clock.now()
        for a, p in zip(articles, preds, strict=True):
            existing = session.get(Classification, a.id)
            if existing is None:
                session.add(Classification(article_id=a.id, label=p.label, negative_prob=p.negative_prob,
                                           category=p.category, model=classifier.name, classified_at=now,
                                           cues=list(p.cues)))
            a.stage = ArticleStage.classified
        session.commit()
        done += len(articles)


@dataclass(frozen=True)
class RiskContext:
    org: OrgChart
    config: RiskConfig
    authorities: Mapping[str, str]  # source id → authority


def score_stories(session: Session, *, ctx: RiskContext, clock: Clock, min_change: float = 1.0) -> list[StoryRisk]:
    """Recompute risk for stories with newly classified articles or new spread counts.

    A new ``StoryRisk`` row is written only when the score moved by ``min_change`` or the level changed, so the
    history shows the rise without a row per poll. Commits; returns the new rows.
    """
    now = clock.now()
    new_article_stories = set(session.scalars(
        select(Article.story_id).where(Article.stage == ArticleStage.classified, Article.story_id.is_not(None))
    ).all())
    last_computed = dict(session.execute(
        select(StoryRisk.story_id, func.max(StoryRisk.computed_at)).group_by(StoryRisk.story_id)).all())
    spread_stories: set[int] = set()
    if last_computed:
        rows = session.execute(
            select(Article.story_id, func.max(ArticleMetricSample.observed_at))
            .join(ArticleMetricSample, ArticleMetricSample.article_id == Article.id)
            .where(Article.story_id.in_(list(last_computed)))
            .group_by(Article.story_id)).all()
        spread_stories = {sid for sid, seen in rows if seen is not None and seen > last_computed[sid]}
    created: list[StoryRisk] = []
    for story_id in sorted(new_article_stories | spread_stories):
        story = session.get(Story, story_id)
        if story is None:
            continue
        facts = _story_facts(session, story, ctx, now)
        if facts is None:
            continue
        result = score_story(facts, ctx.config)
        previous = session.scalars(select(StoryRisk).where(StoryRisk.story_id == story_id)
                                   .order_by(StoryRisk.computed_at.desc(), StoryRisk.id.desc()).limit(1)).first()
        if previous is None or abs(previous.score - result.score) >= min_change or previous.level != result.level:
            row = StoryRisk(story_id=story_id, computed_at=now, score=result.score, level=result.level,
                            category=result.category, factors=result.factors)
            session.add(row)
            created.append(row)
    session.execute(
        Article.__table__.update().where(Article.stage == ArticleStage.classified).values(stage=ArticleStage.scored))
    session.commit()
    return created


def trending_facts(article: Article) -> TrendingFacts | None:
    """A hot-list entry's rank, hours on the list and audience from ``article.meta["trending"]`` (written by the
    trending source: list, list_name, rank, heat, reach, first_seen_at, last_seen_at), or None for any other
    article. The values come from a crawled page: anything unreadable is left out rather than trusted."""
    if article.channel != "trending":
        return None
    info = (article.meta or {}).get("trending")
    if not isinstance(info, dict):
        return None
    rank = _whole(info.get("rank"))
    if rank is None:
        rank = _whole((article.metrics or {}).get("rank"))
    if rank is None or rank < 1:
        return None
    first, last = _utc(info.get("first_seen_at")), _utc(info.get("last_seen_at"))
    hours = max(0.0, (last - first).total_seconds() / 3600) if first and last else 0.0
    reach = _whole(info.get("reach"))
    name = info.get("list_name") or info.get("list") or "热榜"
    return TrendingFacts(list_name=str(name)[:40], rank=rank, hours=hours,
                         reach=reach if reach and reach > 0 else None, title=article.title or "")


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
        return int(value.strip())
    return None


def _utc(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _story_facts(session: Session, story: Story, ctx: RiskContext, now: datetime) -> StoryFacts | None:
    rows = session.execute(
        select(Article, Classification).join(Classification, Classification.article_id == Article.id)
        .where(Article.story_id == story.id)).all()
    if not rows:
        return None
    hour_ago = now - timedelta(hours=1)
    facts, engagement_before = [], 0
    for article, cls in rows:
        m = article.metrics or {}
        published = article.published_at or article.fetched_at
        facts.append(ArticleFacts(
            published_at=published,
            authority=ctx.authorities.get(article.source_id, DEFAULT_AUTHORITY.get(article.channel, "social")),
            channel=article.channel, label=cls.label, negative_prob=cls.negative_prob, category=cls.category,
            reposts=int(m.get("reposts", 0) or 0), comments=int(m.get("comments", 0) or 0),
            likes=int(m.get("likes", 0) or 0), followers=int(m.get("followers", 0) or 0),
            calming=is_calming(f"{article.title}\n{article.text}"), thin=is_thin(article.text or article.title),
            trending=trending_facts(article)))
        if published <= hour_ago:
            sample = session.scalars(
                select(ArticleMetricSample).where(ArticleMetricSample.article_id == article.id,
                                                  ArticleMetricSample.observed_at <= hour_ago)
                .order_by(ArticleMetricSample.observed_at.desc()).limit(1)).first()
            if sample is not None:
                engagement_before += sample.reposts + sample.comments + sample.likes
    unit_kind = "head_office"
    if story.unit_id and any(u.id == story.unit_id for u in ctx.org.units):
        unit_kind = ctx.org.unit(story.unit_id).kind.value
    return StoryFacts(articles=facts, unit_kind=unit_kind, engagement_hour_ago=engagement_before, now=now)

