"""Tables of the evidence kept for incident-linked articles beyond their captures: screenshots and the deletion
watch (``incidents.screenshots``, ``incidents.deletion_watch``).

They sit with incidents because *which* articles are watched is an incident question (the articles of an
incident's stories); the bytes and the browser are the crawlers' (``crawlers.screenshot``,
``crawlers.guarded_fetch``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONType, UTCDateTime


class RenderSource:
    live = "live"  # the page as the web served it when the picture was taken
    capture = "capture"  # the stored capture's bytes (the live page was gone or unreachable)


class ArticleScreenshot(Base):
    """One full-page screenshot of an article: the PNG, its SHA-256, when, of what URL, rendered from what."""

    __tablename__ = "article_screenshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    url: Mapped[str] = mapped_column(Text, doc="the URL rendered (after redirects of the page itself)")
    render_source: Mapped[str] = mapped_column(String(16), doc="a RenderSource: live | capture")
    capture_id: Mapped[int | None] = mapped_column(
        ForeignKey("article_captures.id", ondelete="SET NULL"), doc="the capture rendered (render_source capture)")
    http_status: Mapped[int | None] = mapped_column(Integer, doc="the live page's HTTP status")
    page_sha256: Mapped[str | None] = mapped_column(String(64), doc="of the document bytes rendered")
    sha256: Mapped[str] = mapped_column(String(64), index=True, doc="of the PNG bytes")
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    page_height: Mapped[int] = mapped_column(Integer, doc="the page's full height in CSS pixels")
    clipped: Mapped[bool] = mapped_column(Boolean, default=False, doc="taller than the limit: only its top shown")
    blocked: Mapped[int] = mapped_column(Integer, default=0, doc="sub-requests refused (SSRF check, limits)")
    note: Mapped[str] = mapped_column(Text, default="", doc="Chinese: why the capture was rendered, what is cut")
    png: Mapped[bytes] = mapped_column(LargeBinary)


class ArticleWatch(Base):
    """The evidence jobs' state of one incident-linked article: its deletion (when found, on what evidence),
    when to check it next, and the screenshot attempts that failed (retried with backoff)."""

    __tablename__ = "article_watch"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="when a check found it deleted")
    deletion_evidence: Mapped[dict | None] = mapped_column(
        JSONType, doc="the check that found it deleted: status, reason, the response's SHA-256 and size, URL")
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    check_failures: Mapped[int] = mapped_column(Integer, default=0, doc="checks in a row that got no answer")
    shot_attempts: Mapped[int] = mapped_column(Integer, default=0, doc="screenshot attempts that failed")
    shot_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="no screenshot attempt before this")
    shot_last_error: Mapped[str | None] = mapped_column(Text)
    shot_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CheckOutcome:
    present = "present"  # the page is there
    deleted = "deleted"  # 404 / 410, or a removal notice instead of the content
    failed = "failed"  # no usable answer (5xx, timeout, refused): says nothing about deletion


class ArticleDeletionCheck(Base):
    """Every re-fetch of an incident-linked article and what it showed — kept, so "still online at T" is
    evidence too."""

    __tablename__ = "article_deletion_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16), doc="a CheckOutcome")
    reason: Mapped[str | None] = mapped_column(Text, doc="http_404, http_410, notice:…, or the failure")
    sha256: Mapped[str | None] = mapped_column(String(64), doc="of the response body read")
    size: Mapped[int | None] = mapped_column(Integer)
