"""Tables owned by the crawling stage: what was fetched, what it mentions, and which story it belongs to.

Articles move through ``stage`` values (fetched → matched | irrelevant → classified → scored) so every later step
can find its work by querying, and a restart after a crash resumes exactly where it stopped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yuqing.db import Base, JSONType, UTCDateTime


class ArticleStage:
    fetched = "fetched"  # stored raw, not yet matched against the org chart
    irrelevant = "irrelevant"  # mentions no unit of the bank (or excluded by a keyword plan)
    matched = "matched"  # has mentions and a story, awaiting classification
    classified = "classified"  # sentiment done, awaiting risk scoring / alerting
    scored = "scored"  # risk computed and handed to incidents
    ingest_failed = "ingest_failed"  # its own content made matching raise; set aside (`yuqing ingest requeue`)


class Channel:
    news = "news"
    social = "social"
    complaint = "complaint"
    regulator = "regulator"
    trending = "trending"  # hot lists (热搜 / 热榜): one article per entry, rank and heat as metrics


class SourceState(Base):
    """Health of one configured source: 'nothing found' must never hide 'nothing crawled'."""

    __tablename__ = "source_states"

    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_new_item_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    items_last_run: Mapped[int] = mapped_column(Integer, default=0)
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict] = mapped_column(JSONType, default=dict, doc="counters from the last run (status codes…)")
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SeenUrl(Base):
    """Every URL fetched, with validators for conditional GET (incremental crawling)."""

    __tablename__ = "seen_urls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url_hash: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text)
    source_id: Mapped[str] = mapped_column(String(64), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    etag: Mapped[str | None] = mapped_column(String(256))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)


class Story(Base):
    """A group of articles telling the same story (reposts, rewrites); alerts attach to stories, not copies."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[str | None] = mapped_column(String(64), index=True, doc="most specific unit named")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    first_article_id: Mapped[int | None] = mapped_column(Integer, doc="earliest published copy: the first source")
    minhash: Mapped[list | None] = mapped_column(JSONType, doc="signature of the founding text, to rebuild LSH")

    articles: Mapped[list[Article]] = relationship(back_populates="story", order_by="Article.published_at")


PUBLISHED_LOCAL_KEY = "published_local"  # Article.meta[...]: the publish time with the page's offset (ISO 8601)


class Article(Base):
    """One fetched item: a news article, a social post, a complaint or a regulator notice."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(64), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(256))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    encoding: Mapped[str | None] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    metrics: Mapped[dict] = mapped_column(JSONType, default=dict, doc="reposts, comments, likes, followers…")
    meta: Mapped[dict] = mapped_column(JSONType, default=dict)
    stage: Mapped[str] = mapped_column(String(16), default=ArticleStage.fetched, index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    is_duplicate: Mapped[bool] = mapped_column(Boolean, default=False, doc="near-identical copy of another article")

    story: Mapped[Story | None] = relationship(back_populates="articles")
    mentions: Mapped[list[Mention]] = relationship(back_populates="article", cascade="all, delete-orphan")


# Every list orders articles by this expression, then id: "newest first" pages walk the index (migration 0019)
Index("ix_articles_recency", func.coalesce(Article.published_at, Article.fetched_at), Article.id)

# The articles waiting for ingest in the order it clusters them (crawlers.stories.ingest_order): "the first article
# still fetched before this one" (check_turn) is a range of this index, not a walk through every article
# (migration 0021)
Index("ix_articles_ingest_order", Article.stage, func.coalesce(Article.published_at, Article.fetched_at),
      Article.fetched_at, Article.id)

# The search index's per-round pending query (crawlers.search_index.pending_ids) compares every matched article's
# content_hash with its index row: read off this index it never touches the table (id is in every SQLite index
# entry as the rowid; PostgreSQL needs it as a column for an index-only scan) (migration 0023)
Index("ix_articles_stage_hash", Article.stage, Article.content_hash, Article.id)

# The complaint-board job's per-round query (incidents.complaints.links.complaints_from_board_posts: classified posts
# of the complaint channel without a complaint yet) reads the complaint channel's posts off this index instead of
# every relevant article's row (migration 0024)
Index("ix_articles_channel_stage", Article.channel, Article.stage, Article.is_duplicate, Article.id)


class ArticlePlanHit(Base):
    """A relevant article that a topic keyword plan (监测方案) fired on, by the plan's name: the 舆情信息 page's
    监测方案 filter reads these (``api.mentions``). Written by ingest beside the article's mentions (the plans that
    are the keys of ``meta['match']['plan_hits']``), and dropped when the article is matched again without them.
    A plan renamed or removed later leaves its old rows under the old name (as the articles' ``meta`` does)."""

    __tablename__ = "article_plan_hits"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    plan: Mapped[str] = mapped_column(String(64), primary_key=True)


# "the articles of plan P" for the filter: a range of this index, then the article rows (migration 0022)
Index("ix_article_plan_hits_plan", ArticlePlanHit.plan, ArticlePlanHit.article_id)


class Mention(Base):
    """An article naming a unit of the bank; the primary mention is the most specific unit named."""

    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("article_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    terms: Mapped[list] = mapped_column(JSONType, default=list, doc="the names/aliases found")
    snippet: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float] = mapped_column(Float, default=1.0)

    article: Mapped[Article] = relationship(back_populates="mentions")


class ArticleMetricSample(Base):
    """Counters of a post observed at a time: the spread timeline and the velocity factor come from these."""

    __tablename__ = "article_metric_samples"
    __table_args__ = (UniqueConstraint("article_id", "observed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reposts: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    # a hot-list entry's place and heat at this time (channel trending); NULL for every other article
    rank: Mapped[int | None] = mapped_column(Integer)
    heat: Mapped[int | None] = mapped_column(Integer)


class CaptureKind:
    page = "page"  # an HTTP response of the article's own page: bytes and headers as served
    feed_item = "feed_item"  # full text carried inside a feed entry: the feed's content, wrapped as HTML by us
    api_record = "api_record"  # one record of a JSON API response, re-serialised (UTF-8 JSON, keys as served)


class ArticleCapture(Base):
    """Evidence of one fetch of an article: the raw bytes (zlib-compressed, cut at a configured size), their
    SHA-256, the response headers and the fetch time. A re-fetch whose bytes changed adds a row; one that
    served the same bytes adds none, so every distinct version served is kept."""

    __tablename__ = "article_captures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=CaptureKind.page)
    url: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict] = mapped_column(JSONType, default=dict, doc="response headers as served (latin-1)")
    sha256: Mapped[str] = mapped_column(String(64), index=True, doc="of every byte served, even when truncated")
    size: Mapped[int] = mapped_column(Integer, doc="bytes served")
    stored_sha256: Mapped[str] = mapped_column(String(64), doc="of the bytes kept (equal to sha256 unless cut)")
    stored_size: Mapped[int] = mapped_column(Integer)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False, doc="only the first stored_size bytes kept")
    body: Mapped[bytes] = mapped_column(LargeBinary, doc="zlib-compressed bytes kept")
