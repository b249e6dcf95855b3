"""The ingest step: fetched articles → org-chart mentions and stories, one committed article at a time.

Spiders store raw ``Article`` rows with ``stage == "fetched"``; this step matches each against the org chart and
the keyword plans, writes its ``Mention`` rows, assigns it to a ``Story`` (see ``crawlers.stories`` for the
rules) and moves it to ``matched`` or ``irrelevant`` so the sentiment stage can find it.

Transactions: ``process_fetched`` first matches the whole batch in one transaction and settles the articles that
do not concern the bank there (most of a crawl: they need no story and no clustering lock), then **commits after
every relevant article**, so a crash (the process killed, the database gone) loses at most the batch or the
article in hand, which is still ``fetched`` and is processed cleanly by the next run.
Mentions are upserted on (article_id, unit_id), an article already assigned to a story keeps it, and the
in-memory ``StoryIndex`` is only updated after the commit succeeded (``StoryIndex.assign`` changes nothing) —
re-running after a crash creates no duplicate mentions or stories. Each article is selected ``FOR UPDATE SKIP
LOCKED`` (PostgreSQL), so several workers can share the queue: a worker that dies holds nothing once its connection
is gone (the article's transaction rolls back and it stays ``fetched``). Matching runs in parallel; clustering does
not: a relevant article's transaction takes the ``story_assignment`` counter's row lock (``crawlers.claims.bump``;
on SQLite the write lock, taken first), brings the index up to date with what other workers assigned
(``StoryIndex.sync``), assigns, logs the assignment in ``story_assignments`` and commits, so two workers never split
a story. Articles are taken oldest first by when they
happened (publish time, else fetch time; then fetch time and id): one crawl round brings a complaint from 09:00 and
a repost from 10:30 together, and clustering should meet the story in the order the world told it.

One article must not stop the others. What an article's own content makes matching or clustering raise would
raise again on every retry, and since articles are taken oldest first it would stay at the head of the queue and
block ingest — and every stage after it — for good. So such an error is *isolated*: the article's transaction is
rolled back, the article is moved to stage ``ingest_failed`` with the error in ``meta['ingest_error']`` (logged
with its traceback, counted in ``IngestReport.failed``), and the batch goes on. ``requeue_failed`` puts failed
articles back once the cause is fixed. What is not the article's doing still stops the batch, rolled back and
re-raised, the article left ``fetched`` for the next round: an interruption (``KeyboardInterrupt``, task
cancellation — any ``BaseException`` that is not an ``Exception``) and an unusable database (lost connection,
locked or read-only file, schema out of date: any database error except ``DataError`` and ``IntegrityError``,
which the article's own values cause).

Per-article match details (primary unit, plan hits, risk words, how the story was chosen, and ``thread_id``: the
first article of the sub-thread it continues — a repost its original's, a copy its report's, an article that joined
by topic its own) are kept in ``Article.meta['match']`` so an operator can see why, and so the story index can be
rebuilt after a restart.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from crawlers.claims import STORY_ASSIGNMENT, StoryAssignment, bump, take_sqlite_write_lock
from crawlers.matching import Matcher, MatchResult
from crawlers.models import Article, ArticlePlanHit, ArticleStage, Mention, Story
from crawlers.stories import (
    ClusteringTurn,
    StoryIndex,
    TurnQueue,
    article_time,
    check_turn,
    original_text,
    story_text,
    topic_grams,
)
from yuqing.clock import Clock
from yuqing.text import repair_text

log = logging.getLogger(__name__)

INDEX_LOOKBACK = timedelta(days=7)
STORY_TITLE_CHARS = 120
# The stage of an article whose matching or clustering raised.
INGEST_FAILED = ArticleStage.ingest_failed
INGEST_ERROR_KEY = "ingest_error"  # Article.meta[...]: {"error": "<type>: <message>", "at": ISO time}
MAX_ERROR_CHARS = 500


@dataclass
class IngestReport:
    processed: int = 0
    relevant: int = 0
    irrelevant: int = 0
    new_stories: int = 0
    joined_stories: int = 0
    duplicates: int = 0
    failed: int = 0  # articles whose own content made matching raise: moved to INGEST_FAILED, not processed

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class _Outcome:
    relevant: bool
    story_id: int | None = None
    new_story: bool = False
    joined: bool = False
    duplicate: bool = False
    signature: tuple[int, ...] = ()
    seq: int = 0  # the story_assignments seq of this article's clustering step (0: not clustered)


def process_fetched(session: Session, *, matcher: Matcher, index: StoryIndex, clock: Clock,
                    limit: int = 500) -> IngestReport:
    """Match, attribute and cluster up to ``limit`` fetched articles, oldest first: the irrelevant ones settled in
    one transaction, then a commit after each relevant article."""
    report = IngestReport()
    ids = session.scalars(
        select(Article.id).where(Article.stage == ArticleStage.fetched)
        .order_by(func.coalesce(Article.published_at, Article.fetched_at), Article.fetched_at, Article.id)
        .limit(limit)).all()
    session.rollback()  # end the listing's read
    sqlite = session.get_bind().dialect.name == "sqlite"
    irrelevant, matched = _irrelevant_in_bulk(session, ids, matcher=matcher, sqlite=sqlite)
    report.processed += irrelevant
    report.irrelevant += irrelevant
    queue = TurnQueue(i for i in ids if i in matched)  # the rest: a transaction each, under the clustering lock
    for article_id in queue:  # in ingest order; an earlier article still waiting goes first (crawlers.stories)
        try:
            # SQLite has one writer: take the clustering lock (the write lock) first, so what follows reads the
            # latest. PostgreSQL takes it after matching, which runs in parallel across workers.
            seq = bump(session, STORY_ASSIGNMENT) if sqlite else None
            outcome = _process_one(session, article_id, matcher=matcher, index=index, seq=seq,
                                   matched=matched.get(article_id))
            session.commit()
        except ClusteringTurn as turn:
            session.rollback()
            if queue.waits_for(turn):
                continue
            break  # another worker has held the earlier article for long: the next batch starts from it
        except Exception as exc:
            session.rollback()
            if not _is_articles_own(exc):
                raise
            log.exception("ingest: article %s failed and is set aside (stage %s)", article_id, INGEST_FAILED)
            report.failed += _set_aside(session, article_id, exc, clock.now())
            continue
        except BaseException:
            session.rollback()
            raise
        if outcome is None:
            continue  # taken by another worker, or no longer fetched
        report.processed += 1
        if not outcome.relevant:
            report.irrelevant += 1
            continue
        report.relevant += 1
        report.new_stories += outcome.new_story
        report.joined_stories += outcome.joined
        report.duplicates += outcome.duplicate
        # Only now, with the work durable, does the in-memory index learn about it.
        if outcome.new_story and outcome.signature and outcome.story_id is not None:
            index.add(outcome.story_id, signature=list(outcome.signature), key=f"s{outcome.story_id}")
        article = session.get(Article, article_id)
        if article is not None:
            index.remember(article)
        index.watermark = max(index.watermark, outcome.seq)  # everything before it was synced under the lock
    index.prune(clock.now() - max(INDEX_LOOKBACK, index.lookback))
    if report.processed or report.failed:
        log.info("ingest batch", extra=report.as_dict())
    return report


# What the batch's matching found for an article left to the per-article step: the texts it matched (title, text,
# original) and the result (None: matching raised on it, and the per-article step matches it again on its own).
Matched = tuple[tuple[str, str, str], MatchResult | None]


def _irrelevant_in_bulk(session: Session, ids: list[int], *, matcher: Matcher,
                        sqlite: bool) -> tuple[int, dict[int, Matched | None]]:
    """Match the articles of ``ids`` in one transaction and settle the irrelevant ones there (stage, match details,
    stale mentions dropped) with one commit; returns how many were settled and the articles still to process one
    at a time, with what their matching found: the relevant ones (clustering takes its lock per article; they are
    not matched a second time unless their text changed meanwhile) and any whose matching raised (matched again
    alone, so that article alone is set aside).

    Most of a crawl does not name the bank, and those articles need neither the clustering lock nor a story, so a
    transaction per article bought nothing for them. An article another worker holds or already took is left out,
    as the per-article step does. When the database refuses the batch for an article's values, the batch is rolled
    back and every article goes the per-article way (which isolates the culprit); any other database error is
    raised with nothing changed."""
    if not ids:
        return 0, {}
    try:
        if sqlite:  # read after taking the one write lock, as the per-article step does (claims.take_sqlite_write_lock)
            take_sqlite_write_lock(session)
        articles = session.scalars(
            select(Article).where(Article.id.in_(ids), Article.stage == ArticleStage.fetched)
            .with_for_update(skip_locked=True)).all()
        later: dict[int, Matched | None] = {}
        settled: list[int] = []
        for article in articles:
            texts = (article.text or "", article.title or "", original_text(article.meta))
            try:
                result = matcher.match(texts[0], title=texts[1], original=texts[2])
            except Exception:  # its own content: the per-article step sets it aside with its error
                later[article.id] = (texts, None)
                continue
            if result.relevant:
                later[article.id] = (texts, result)
                continue
            _mark_irrelevant(article, result)
            settled.append(article.id)
        if settled:
            session.execute(delete(Mention).where(Mention.article_id.in_(settled)))
            session.execute(delete(ArticlePlanHit).where(ArticlePlanHit.article_id.in_(settled)))
        session.commit()
    except Exception as exc:
        session.rollback()
        if not _is_articles_own(exc):
            raise
        log.warning("ingest: the batch was refused (%s); matching its articles one at a time", exc)
        return 0, dict.fromkeys(ids)
    except BaseException:
        session.rollback()
        raise
    return len(settled), later


def _mark_irrelevant(article: Article, result: MatchResult) -> None:
    article.stage = ArticleStage.irrelevant
    article.meta = {**_without_error(article.meta), "match": {
        "bank_mentioned": result.bank_mentioned, "excluded_by": result.excluded_by,
        "units": [m.unit_id for m in result.mentions]}}


def requeue_failed(session: Session, article_ids: list[int] | None = None) -> int:
    """Put failed articles (all, or those of ``article_ids``) back to ``fetched`` for the next ingest; commits.

    Their last error stays in ``meta['ingest_error']`` until they are matched. Returns how many were requeued."""
    query = select(Article).where(Article.stage == INGEST_FAILED)
    if article_ids is not None:
        query = query.where(Article.id.in_(article_ids))
    articles = session.scalars(query).all()
    for article in articles:
        article.stage = ArticleStage.fetched
    session.commit()
    return len(articles)


def _is_articles_own(exc: Exception) -> bool:
    """Whether ``exc`` comes from the article in hand (it would raise again on every retry) rather than from the
    database being unusable (which the next round may find working again)."""
    if isinstance(exc, DataError | IntegrityError):
        return True  # the database refuses this article's values
    return not isinstance(exc, DBAPIError | DisconnectionError | PoolTimeoutError)


def _set_aside(session: Session, article_id: int, exc: Exception, now: datetime) -> int:
    """Move a failed article to ``INGEST_FAILED`` with its error, in a transaction of its own; 1 if it was moved
    (0 when another worker took it meanwhile). A failure here is the database's: rolled back and raised."""
    try:
        article = session.scalars(
            select(Article).where(Article.id == article_id, Article.stage == ArticleStage.fetched)
            .with_for_update(skip_locked=True)).first()
        if article is None:
            session.rollback()
            return 0
        message = repair_text(" ".join(f"{type(exc).__name__}: {exc}".split()))[:MAX_ERROR_CHARS]
        article.meta = {**(article.meta or {}), INGEST_ERROR_KEY: {"error": message, "at": now.isoformat()}}
        article.stage = INGEST_FAILED
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return 1


def _process_one(session: Session, article_id: int, *, matcher: Matcher, index: StoryIndex,
                 seq: int | None = None, matched: Matched | None = None) -> _Outcome | None:
    article = session.scalars(
        select(Article).where(Article.id == article_id, Article.stage == ArticleStage.fetched)
        .with_for_update(skip_locked=True)).first()
    if article is None:
        return None
    original = original_text(article.meta)
    texts = (article.text or "", article.title or "", original)
    if matched is not None and matched[1] is not None and matched[0] == texts:
        result = matched[1]  # matched in this batch, and the texts have not changed since
    else:
        result = matcher.match(texts[0], title=texts[1], original=original)
    if not result.relevant:
        _mark_irrelevant(article, result)
        _sync_mentions(session, article, None)
        return _Outcome(relevant=False)

    check_turn(session, article)  # before any write or the lock when an earlier article is plainly still waiting
    _sync_mentions(session, article, result)
    story_unit = result.primary_unit_id if result.primary_unit_id != matcher.root_unit_id else None
    grams = sorted(topic_grams(result.topic)) if story_unit else []
    # Rule 3 (crawlers.stories): an article about the bank, a branch or a sub-branch may be the same event as an
    # established story of a unit below it; its own topic grams are compared, not stored on any unit's profile.
    scope = matcher.units_below.get(result.primary_unit_id or matcher.root_unit_id, ())
    scope_grams = grams or sorted(topic_grams(result.topic))
    # Rule 5: the units on the article's own line — above it (but the head office) and below it.
    related = (*sorted(a for a, below in matcher.units_below.items() if story_unit in below
                       and a != matcher.root_unit_id), *matcher.units_below.get(story_unit, ())) if story_unit else ()
    at = article_time(article)
    outcome: _Outcome
    reason = "kept"
    topic_score = 0.0
    shared_words: list[str] = []
    thread_id = ((article.meta or {}).get("match") or {}).get("thread_id") or article.id
    # The clustering lock (held to commit): one assigner at a time, and the index first learns what other
    # processes assigned since it last looked, so two ingest workers never split a story.
    if seq is None:
        seq = bump(session, STORY_ASSIGNMENT)
    index.sync(session)
    check_turn(session, article)  # every article before it in ingest order is clustered first (crawlers.stories)
    story = session.get(Story, article.story_id) if article.story_id is not None else None
    if story is not None:
        outcome = _Outcome(relevant=True, story_id=story.id, seq=seq)
    else:
        assignment = index.assign(
            story_text(article.title, article.text, article.meta), unit_id=story_unit,
            risk_words=result.risk_words, at=at, original=original or None, grams=grams,
            categories=result.categories, scope=scope, scope_grams=scope_grams, related=related)
        reason = assignment.reason
        topic_score = assignment.topic_score
        shared_words = assignment.shared_words
        story = session.get(Story, assignment.story_id) if assignment.story_id is not None else None
        if story is None:
            story = Story(title=_story_title(article, original), unit_id=result.primary_unit_id, first_seen_at=at,
                          last_seen_at=at, article_count=1, first_article_id=article.id,
                          minhash=assignment.signature or None)
            session.add(story)
            session.flush()
            reason = "new"
            outcome = _Outcome(relevant=True, story_id=story.id, new_story=True,
                               signature=tuple(assignment.signature), seq=seq)
        else:
            _join(session, story, article, at, story_unit, root_unit_id=matcher.root_unit_id)
            thread_id = _thread_of(session, story, assignment.nearest) or article.id
            article.is_duplicate = assignment.is_duplicate
            outcome = _Outcome(relevant=True, story_id=story.id, joined=True, duplicate=assignment.is_duplicate,
                               seq=seq)
        article.story_id = story.id
    session.add(StoryAssignment(seq=seq, article_id=article.id, story_id=story.id))
    article.stage = ArticleStage.matched
    article.meta = {**_without_error(article.meta), "match": {
        "primary_unit_id": result.primary_unit_id, "story_unit_id": story_unit,
        "plan_hits": result.plan_hits, "risk_words": result.risk_words, "categories": result.categories,
        "story_reason": reason, "topic_score": topic_score, "shared_words": shared_words,
        # an article naming only the bank keeps the grams rules 3 and 6 compared, for the story's whole profile
        "topic_grams": grams if story_unit else scope_grams, "thread_id": thread_id}}
    return outcome


def _thread_of(session: Session, story: Story, nearest: str | None) -> int | None:
    """The sub-thread a rule-1 join continues: that of the article it is most like (``a<id>``), or of the story's
    first article (``s<id>``: the founding text). An article that joined by rules 2–3 starts a sub-thread."""
    if not nearest:
        return None
    number = nearest[1:].split("#")[0]
    if not number.isdigit():
        return None
    target = session.get(Article, int(number)) if nearest[0] == "a" else (
        session.get(Article, story.first_article_id) if story.first_article_id else None)
    if target is None or target.story_id != story.id:
        return None
    return ((target.meta or {}).get("match") or {}).get("thread_id") or target.id


def _without_error(meta: dict | None) -> dict:
    """The article's meta without the error of an earlier failed attempt (it was requeued and is matched now)."""
    return {k: v for k, v in (meta or {}).items() if k != INGEST_ERROR_KEY}


def _sync_mentions(session: Session, article: Article, result: MatchResult | None) -> None:
    """Upsert one Mention per unit named, and drop stale ones (an article re-matched after a config change); the
    same for the topic plans it hit (``ArticlePlanHit``, the 舆情信息 page's 监测方案 filter)."""
    hits = set(session.scalars(select(ArticlePlanHit.plan).where(ArticlePlanHit.article_id == article.id)))
    wanted_plans = set(result.plan_hits) if result else set()
    if hits - wanted_plans:
        session.execute(delete(ArticlePlanHit).where(ArticlePlanHit.article_id == article.id,
                                                     ArticlePlanHit.plan.in_(hits - wanted_plans)))
    session.add_all(ArticlePlanHit(article_id=article.id, plan=plan) for plan in sorted(wanted_plans - hits))
    existing = {m.unit_id: m for m in session.scalars(select(Mention).where(Mention.article_id == article.id))}
    wanted = {m.unit_id: m for m in (result.mentions if result else [])}
    for unit_id, stale in existing.items():
        if unit_id not in wanted:
            session.delete(stale)
    for unit_id, m in wanted.items():
        row = existing.get(unit_id)
        if row is None:
            row = Mention(article_id=article.id, unit_id=unit_id)
            session.add(row)
        row.is_primary = m.is_primary
        row.terms = list(m.terms)
        row.snippet = m.snippet
        row.score = m.score


def _join(session: Session, story: Story, article: Article, at: datetime, unit_id: str | None, *,
          root_unit_id: str) -> None:
    if unit_id and story.unit_id in (None, root_unit_id):
        story.unit_id = unit_id  # a story first seen as "about the bank" turns out to be about one of its units
    story.article_count = (story.article_count or 0) + 1
    story.first_seen_at = min(story.first_seen_at, at)
    story.last_seen_at = max(story.last_seen_at, at)
    first = session.get(Article, story.first_article_id) if story.first_article_id else None
    if first is None or (article.published_at is not None
                         and (first.published_at is None or article.published_at < first.published_at)):
        story.first_article_id = article.id  # the earliest published copy is the first source


def _story_title(article: Article, original: str = "") -> str:
    """The article's title, else its text — for a repost, the original it forwards (not "转发微博")."""
    title = (article.title or "").strip()
    if not title:
        title = " ".join((original or article.text or "").split())
    return title[:STORY_TITLE_CHARS] or "（无标题）"
