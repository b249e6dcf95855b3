"""The sentiment stage of the pipeline: classify matched articles, then recompute the risk of stories that
changed (new articles or new spread counts). Work is found by querying article stages, so a restart resumes, and
each stage claims its items (a leased batch for classify, the story's row for score), so two processes running
the same stage never process an item twice."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Integer, Text, bindparam, cast, func, select, update
from sqlalchemy.orm import Session, selectinload

from crawlers.claims import claim, claim_token, drop_claims, hold, live_claims, release_many
from crawlers.models import Article, ArticleMetricSample, ArticleStage, SeenUrl, Story
from sentiment.classifier import Classifier
from sentiment.models import Classification, StoryRisk
from sentiment.passages import passages_about
from sentiment.risk import ArticleFacts, RiskConfig, StoryFacts, TrendingFacts, score_story
from sentiment.rules import calming_and_risk_words, is_thin
from yuqing.clock import Clock, SystemClock
from yuqing.org import OrgChart
from yuqing.owed_claims import OwedClaims

DEFAULT_AUTHORITY = {"news": "local_media", "social": "social", "complaint": "complaint_platform",
                     "regulator": "regulator"}


CLASSIFY = "classify"  # the work_claims kind of the classify stage
CLASSIFY_LEASE = timedelta(minutes=5)  # how long a claimed batch stays another worker's: far above one batch's time

# The statements every pipeline round runs are built once, their values bound per call: building a statement and
# working out its cache key was about a fifth of a round's CPU (a backtest replay's profile), paid again on every
# round although the SQL never changes. A statement object is immutable, so one is shared by every session.
_CLASSIFY_CANDIDATES = (select(Article.id).where(Article.stage == ArticleStage.matched,
                                                 Article.id.not_in(live_claims(CLASSIFY, bindparam("now"))))
                        .order_by(Article.id).limit(bindparam("batch_size", type_=Integer))
                        .with_for_update(skip_locked=True))

# Claims this process failed to give back because the database itself had gone (an outage mid-batch: the batch
# fails, and so does the DELETE that should return its claims). Nobody else can take those articles until the
# lease passes - five minutes of a pipeline standing still after a few seconds' outage - although this process
# knows the work was not done. They are given back at the start of the next classify call, once the database answers.
# Kept per database (its URL), as one process may use more than one (the tests do).
_OWED_CLAIMS: OwedClaims[tuple[str, list[int]]] = OwedClaims()


def _give_back_owed_claims(session: Session) -> int:
    """Return the claims an earlier call of this process could not give back (see ``_OWED_CLAIMS``); returns how
    many were still held. Raises, keeping them owed, while the database is still away."""

    def give(session: Session, owed: list[tuple[str, list[int]]]) -> int:
        dropped = sum(drop_claims(session, kind=CLASSIFY, token=token, item_ids=ids) for token, ids in owed)
        session.commit()
        return dropped

    return _OWED_CLAIMS.give_back(session, give)


def classify_pending(session: Session, *, classifier: Classifier, clock: Clock, batch_size: int = 64,
                     lease_clock: Clock | None = None, lease: timedelta = CLASSIFY_LEASE) -> int:
    """Classify every article at stage ``matched``, oldest id first, a batch at a time; returns how many.

    Safe to run in several processes at once: each batch is first *claimed* (``crawlers.claims``: a lease of
    ``lease`` in ``work_claims``, committed before the model runs), so another runner skips it; the model runs with
    no transaction open; then each result is written only if the claim is still ours (released in the same
    transaction), so an item whose lease ran out and was taken by another runner is recorded once. A runner that
    dies leaves its claims, and the items are picked up once the lease has passed; one that fails gives its
    unfinished claims back at once. Leases are measured on ``lease_clock`` (real time by default, not the demo's
    scaled clock: they concern processes). On SQLite (one writer) the claim is simply serial. A failure that also
    kept the claims from being given back (the database went away) leaves them owed, and the next call in this
    process gives them back first, so the articles wait for the database, not for the lease.
    """
    _give_back_owed_claims(session)
    lease_clock = lease_clock or SystemClock()
    token = claim_token()
    done = 0
    while True:
        now = lease_clock.now()
        candidates = session.scalars(_CLASSIFY_CANDIDATES, {"now": now, "batch_size": batch_size}).all()
        if not candidates:
            session.rollback()
            return done
        ids = claim(session, kind=CLASSIFY, item_ids=candidates, token=token, now=now, until=now + lease)
        session.commit()
        if not ids:
            continue  # another runner claimed these first; look again
        try:
            done += _classify_claimed(session, ids, classifier=classifier, clock=clock, token=token)
        except BaseException:
            try:
                session.rollback()
                drop_claims(session, kind=CLASSIFY, token=token, item_ids=ids)
                session.commit()
            except BaseException:  # the database is away too: give them back when it answers again
                _OWED_CLAIMS.owe(session, (token, list(ids)))
                with contextlib.suppress(Exception):
                    session.rollback()
            raise


def _classify_claimed(session: Session, ids: list[int], *, classifier: Classifier, clock: Clock, token: str) -> int:
    """Run the model on claimed articles and record each result whose claim is still ours; commits once.

    The claimed ids were chosen in an earlier transaction: another runner may have classified some of them and
    released its claims in between (so ours succeeded). Those are read again here, in a transaction that starts
    after our claim was committed, and handed back without running the model on them a second time.
    """
    articles = session.scalars(select(Article).where(Article.id.in_(ids), Article.stage == ArticleStage.matched)
                               .options(selectinload(Article.mentions)).order_by(Article.id)).all()
    gone = sorted(set(ids) - {a.id for a in articles})
    if gone:
        drop_claims(session, kind=CLASSIFY, token=token, item_ids=gone)
        session.commit()
        if not articles:
            return 0
    texts = []
    for a in articles:
        terms = [t for m in a.mentions for t in (m.terms or [])]
        texts.append(passages_about(a.title, a.text, terms))
    order = [a.id for a in articles]
    session.rollback()  # no transaction (no snapshot, no lock) while the model runs
    preds = classifier.predict(texts)
    now = clock.now()
    # the batch's writes in a few statements, not three per article: the claims still ours (an article whose lease
    # ran out and was taken by another runner counts with that runner's result, not ours), the articles of those
    # still at ``matched`` moved on, and a Classification for each that has none
    ours = release_many(session, kind=CLASSIFY, item_ids=order, token=token)
    moved: set[int] = set()
    if ours:
        moved = {int(i) for i in session.execute(
            update(Article).where(Article.id.in_(sorted(ours)), Article.stage == ArticleStage.matched)
            .values(stage=ArticleStage.classified).returning(Article.id)).scalars()}
    have = set(session.scalars(select(Classification.article_id).where(Classification.article_id.in_(moved)))) \
        if moved else set()
    for article_id, p in zip(order, preds, strict=True):
        if article_id in moved and article_id not in have:
            session.add(Classification(article_id=article_id, label=p.label, negative_prob=p.negative_prob,
                                       category=p.category, model=classifier.name, classified_at=now,
                                       cues=list(p.cues)))
    session.commit()
    return len(moved)


@dataclass(frozen=True)
class RiskContext:
    org: OrgChart
    config: RiskConfig
    authorities: Mapping[str, str]  # source id → authority


def score_stories(session: Session, *, ctx: RiskContext, clock: Clock, min_change: float = 1.0) -> list[StoryRisk]:
    """Recompute risk for stories with newly classified articles or new spread counts.

    A new ``StoryRisk`` row is written only when the score moved by ``min_change`` or the level changed, so the
    history shows the rise without a row per poll. Each story is scored in a short transaction of its own that
    holds the story's row (``crawlers.claims.hold``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock
    on SQLite): a second scorer running at the same time skips
    it, and one that comes after finds the work done (its articles moved to ``scored``) and writes nothing.
    Commits per story; returns the new rows.
    """
    now = clock.now()
    candidates = _stories_with_work(session, story_ids=None)
    session.rollback()
    created: list[StoryRisk] = []
    for story_id in sorted(candidates):
        try:
            story = session.get(Story, story_id) if hold(session, Story.id, story_id) else None
            if story is None or not _has_work(session, story_id):
                session.rollback()  # another scorer holds it, or has done it since we looked
                continue
            row = _score_one(session, story, ctx=ctx, now=now, min_change=min_change)
            if row is not None:
                created.append(row)
            # built here, not once with a bound story id: the session synchronises the update's WHERE to the
            # articles it holds by evaluating it in Python, and that evaluation does not see values bound per call
            session.execute(update(Article).where(Article.story_id == story_id,
                                                  Article.stage == ArticleStage.classified)
                            .values(stage=ArticleStage.scored))
            session.commit()
        except BaseException:
            session.rollback()
            raise
    # Classified articles without a story have nothing to score.
    session.execute(_STORYLESS_SCORED)
    session.commit()
    return created


_STORYLESS_SCORED = (update(Article).where(Article.stage == ArticleStage.classified, Article.story_id.is_(None))
                     .values(stage=ArticleStage.scored))
_HAS_NEW_ARTICLE = (select(Article.id).where(Article.stage == ArticleStage.classified,
                                             Article.story_id == bindparam("story_id")).limit(1))


def _has_work(session: Session, story_id: int) -> bool:
    """Whether the story still has work (``_stories_with_work`` of it is not empty), checked under its lock: a
    classified article not yet scored settles it in one query — the usual case, as a story is re-scored when it
    grows — and only otherwise are its spread samples and hot-list re-polls compared with its last risk row."""
    if session.scalar(_HAS_NEW_ARTICLE, {"story_id": story_id}) is not None:
        return True
    return bool(_stories_with_work(session, story_ids=[story_id]))


def _stories_with_work(session: Session, *, story_ids: list[int] | None) -> set[int]:
    """Stories (all, or those of ``story_ids``) with classified articles not yet scored, or with spread samples or
    hot-list re-polls newer than their last risk row."""
    if story_ids is None:
        found = set(session.scalars(_NEW_ARTICLE_STORIES).all())
        last_computed = dict(session.execute(_LAST_COMPUTED).all())
    else:
        found = set(session.scalars(_NEW_ARTICLE_STORIES_OF, {"story_ids": story_ids}).all())
        last_computed = dict(session.execute(_LAST_COMPUTED_OF, {"story_ids": story_ids}).all())
    # the stories already found need no second look: a big story grows on most rounds, and comparing all its
    # articles' samples again each time was most of this
    rest = sorted(sid for sid in last_computed if sid not in found)
    if rest:
        rows = session.execute(_LAST_SAMPLED, {"story_ids": rest}).all()
        found |= {sid for sid, seen in rows if seen is not None and seen > last_computed[sid]}
        # A hot-list entry polled again: its hours on the list grew even when its rank did not move (no sample).
        polled = session.execute(_LAST_POLLED, {"story_ids": rest}).all()
        found |= {sid for sid, seen in polled if seen is not None and seen > last_computed[sid]}
    return found


_NEW_ARTICLE_STORIES = select(Article.story_id).where(Article.stage == ArticleStage.classified,
                                                      Article.story_id.is_not(None))
_NEW_ARTICLE_STORIES_OF = _NEW_ARTICLE_STORIES.where(Article.story_id.in_(bindparam("story_ids", expanding=True)))
_LAST_COMPUTED = select(StoryRisk.story_id, func.max(StoryRisk.computed_at)).group_by(StoryRisk.story_id)
_LAST_COMPUTED_OF = _LAST_COMPUTED.where(StoryRisk.story_id.in_(bindparam("story_ids", expanding=True)))
_LAST_SAMPLED = (select(Article.story_id, func.max(ArticleMetricSample.observed_at))
                 .join(ArticleMetricSample, ArticleMetricSample.article_id == Article.id)
                 .where(Article.story_id.in_(bindparam("story_ids", expanding=True)))
                 .group_by(Article.story_id))
_LAST_POLLED = (select(Article.story_id, func.max(SeenUrl.last_fetched_at))
                .join(SeenUrl, SeenUrl.url_hash == Article.url_hash)
                .where(Article.story_id.in_(bindparam("story_ids", expanding=True)), Article.channel == "trending")
                .group_by(Article.story_id))


def _score_one(session: Session, story: Story, *, ctx: RiskContext, now: datetime,
               min_change: float) -> StoryRisk | None:
    """Score one story; add and return a new risk row when the score or level moved, else None."""
    facts = _story_facts(session, story, ctx, now)
    if facts is None:
        return None
    result = score_story(facts, ctx.config)
    previous = session.scalars(_PREVIOUS_RISK, {"story_id": story.id}).first()
    if previous is not None and abs(previous.score - result.score) < min_change and previous.level == result.level:
        return None
    row = StoryRisk(story_id=story.id, computed_at=now, score=result.score, level=result.level,
                    category=result.category, factors=result.factors)
    session.add(row)
    return row


_PREVIOUS_RISK = (select(StoryRisk).where(StoryRisk.story_id == bindparam("story_id"))
                  .order_by(StoryRisk.computed_at.desc(), StoryRisk.id.desc()).limit(1))


def trending_facts(article: Article, samples: Sequence[tuple[datetime, int | None]] = ()) -> TrendingFacts | None:
    """A hot-list entry's rank, hours on the list and audience from ``article.meta["trending"]`` (written by the
    trending source: list, list_name, rank, heat, reach, first_seen_at, last_seen_at) and its rank over time from
    ``samples`` ((observed_at, rank) of its metric samples), or None for any other article. The values come from a
    crawled page: anything unreadable is left out rather than trusted."""
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
    timeline: list[tuple[float, int]] = []
    for observed, seen_rank in sorted((s for s in samples if s[1] is not None and s[1] >= 1), key=lambda s: s[0]):
        if first is None or (timeline and timeline[-1][1] == seen_rank):
            continue
        at = _utc(observed.isoformat()) if isinstance(observed, datetime) else None
        if at is not None:
            timeline.append((max(0.0, (at - first).total_seconds() / 3600), int(seen_rank)))  # type: ignore[arg-type]
    return TrendingFacts(list_name=str(name)[:40], rank=rank, hours=hours,
                         reach=reach if reach and reach > 0 else None, title=article.title or "",
                         timeline=tuple(timeline))


def _rank_samples(session: Session, article: Article) -> list[tuple[datetime, int | None]]:
    if article.channel != "trending":
        return []
    return [(at, rank) for at, rank in session.execute(_RANK_SAMPLES, {"article_id": article.id}).all()]


_RANK_SAMPLES = (select(ArticleMetricSample.observed_at, ArticleMetricSample.rank)
                 .where(ArticleMetricSample.article_id == bindparam("article_id"),
                        ArticleMetricSample.rank.is_not(None))
                 .order_by(ArticleMetricSample.observed_at))


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


@lru_cache(maxsize=8192)
def _tone(title: str | None, text: str | None) -> tuple[bool, bool, frozenset[str], tuple[str, ...]]:
    """(``is_calming``, ``is_thin``, ``risk_word_categories``, the risk words) of an article's title and text,
    remembered by the texts themselves: a story is re-scored on every round it grows, and every article of it was
    scanned again each time. (8,192 texts: the articles of the stories being scored, a few megabytes.)"""
    calming, risk_words, terms = calming_and_risk_words(f"{title}\n{text}")
    return calming, is_thin(text or title), risk_words, terms


# An article's risk facts, remembered between rounds by its id and its spread counts as the database holds them
# (their JSON text): a story is re-scored on every round it grows, and turning every article of a big story into
# facts again each time (reading its texts, decoding its counts and times) made scoring quadratic in the story's
# size. Nothing else of the facts changes once an article is classified: its source, channel, times, title and
# text are never updated and its classification is written once (``classify_pending``); only a re-poll's counts
# change (``crawlers.pipelines``), and they are read every time. Hot-list entries are never remembered (their rank
# history is read each time). Kept per database engine and risk context, in memory only.
FACTS_KEPT = 50_000  # articles remembered per database (the articles of the stories being scored; a few MB)


@dataclass
class _FactsMemory:
    ctx: RiskContext
    facts: dict[int, tuple[tuple, ArticleFacts]] = field(default_factory=dict)  # id → (_SEEN values, facts)


_FACTS_BY_ENGINE: WeakKeyDictionary[Any, _FactsMemory] = WeakKeyDictionary()
# What is compared before remembered facts are reused: the counts (as the database's JSON text, not decoded) and,
# so that a row that took a deleted row's id (a test's emptied database) reads as new, the article's identity and
# its classification; the last three are the classification's.
_SEEN = (Article.url_hash, Article.content_hash, cast(Article.metrics, Text).label("metrics_text"),
         Classification.label, Classification.negative_prob, Classification.category)


def _facts_memory(session: Session, ctx: RiskContext) -> _FactsMemory:
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    memory = _FACTS_BY_ENGINE.get(engine)
    if memory is None or memory.ctx is not ctx or len(memory.facts) > FACTS_KEPT:
        memory = _FACTS_BY_ENGINE[engine] = _FactsMemory(ctx=ctx)  # a new configuration starts afresh
    return memory


def _story_facts(session: Session, story: Story, ctx: RiskContext, now: datetime) -> StoryFacts | None:
    # plain columns, not ORM objects; and of an article already turned into facts only its counts' text (above)
    memory = _facts_memory(session, ctx)
    listed = [(row[0], tuple(row[1:])) for row in session.execute(_LISTED, {"story_id": story.id})]
    if not listed:
        return None
    known = memory.facts
    missing = [article_id for article_id, seen in listed
               if (hit := known.get(article_id)) is None or hit[0] != seen]
    fresh: dict[int, ArticleFacts] = {}
    if missing:
        for chunk in range(0, len(missing), 500):
            for row in session.execute(_FACT_ROWS, {"ids": missing[chunk:chunk + 500]}):
                fresh[row[0]] = facts = _article_facts(session, row, ctx)
                if facts.trending is None:
                    known[row[0]] = (tuple(row[8:]), facts)
    articles = [(article_id, fresh[article_id] if article_id in fresh else known[article_id][1])
                for article_id, _ in listed]
    hour_ago = now - timedelta(hours=1)
    engagement_before = 0
    # each article's latest spread sample an hour ago, for all the story's articles in one query (a big story is
    # re-scored on every round it grows: one query per article made that quadratic)
    before: dict[int, int] = {}  # article id → its interactions then (plain columns: only the counts are read)
    if any(facts.published_at <= hour_ago for _, facts in articles):
        for article_id, reposts, comments, likes in session.execute(
                _COUNTS_BEFORE, {"story_id": story.id, "hour_ago": hour_ago}):
            before[article_id] = reposts + comments + likes  # (article_id, observed_at) is unique: one per article
    for article_id, facts in articles:
        if facts.published_at <= hour_ago:
            engagement_before += before.get(article_id, 0)
    facts_list = [facts for _, facts in articles]
    unit_kind = "head_office"
    if story.unit_id and any(u.id == story.unit_id for u in ctx.org.units):
        unit_kind = ctx.org.unit(story.unit_id).kind.value
    return StoryFacts(articles=facts_list, unit_kind=unit_kind, engagement_hour_ago=engagement_before, now=now)


_LISTED = (select(Article.id, *_SEEN).join(Classification, Classification.article_id == Article.id)
           .where(Article.story_id == bindparam("story_id")))
_FACT_ROWS = (select(Article.id, Article.source_id, Article.channel, Article.published_at, Article.fetched_at,
                     Article.title, Article.text, Article.metrics, *_SEEN)
              .join(Classification, Classification.article_id == Article.id)
              .where(Article.id.in_(bindparam("ids", expanding=True))))
_LATEST_BEFORE = (select(ArticleMetricSample.article_id, func.max(ArticleMetricSample.observed_at).label("at"))
                  .where(ArticleMetricSample.article_id.in_(
                      select(Article.id).where(Article.story_id == bindparam("story_id"))),
                      ArticleMetricSample.observed_at <= bindparam("hour_ago"))
                  .group_by(ArticleMetricSample.article_id).subquery())
_COUNTS_BEFORE = (select(ArticleMetricSample.article_id, ArticleMetricSample.reposts, ArticleMetricSample.comments,
                         ArticleMetricSample.likes)
                  .join(_LATEST_BEFORE, (_LATEST_BEFORE.c.article_id == ArticleMetricSample.article_id)
                        & (_LATEST_BEFORE.c.at == ArticleMetricSample.observed_at)))


def _article_facts(session: Session, row: Any, ctx: RiskContext) -> ArticleFacts:
    """One article's facts from its plain columns (``_story_facts``' second query)."""
    article_id, source_id, channel, published_at, fetched_at, title, text, metrics = row[:8]
    label, negative_prob, category = row[-3:]
    m = metrics or {}
    trending = None
    calming, thin, cues, terms = _tone(title, text)
    if channel == "trending":
        entry = session.get(Article, article_id)
        trending = trending_facts(entry, _rank_samples(session, entry)) if entry is not None else None
    return ArticleFacts(
        published_at=published_at or fetched_at,
        authority=ctx.authorities.get(source_id, DEFAULT_AUTHORITY.get(channel, "social")),
        channel=channel, label=label, negative_prob=negative_prob, category=category,
        reposts=int(m.get("reposts", 0) or 0), comments=int(m.get("comments", 0) or 0),
        likes=int(m.get("likes", 0) or 0), followers=int(m.get("followers", 0) or 0),
        calming=calming, thin=thin, trending=trending, risk_words=cues, risk_terms=terms)

