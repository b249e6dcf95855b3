"""Tables owned by the sentiment stage: per-article classifications, per-story risk history, and the labels
monitors give by their actions (dismissing an alert, raising one by hand) so the classifier can learn from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONType, UTCDateTime


class Classification(Base):
    """What the classifier said about one article (polarity, risk category), and which model said it."""

    __tablename__ = "classifications"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(16), doc="negative | neutral | positive")
    negative_prob: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(64))
    classified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cues: Mapped[list] = mapped_column(JSONType, default=list, doc="the words/rules behind the decision")


class StoryRisk(Base):
    """A story's risk at one moment; a new row each time it is recomputed, so the rise is visible."""

    __tablename__ = "story_risks"
    # "is there a newer risk row of this story?" from the index alone (api.listings.CurrentRisk), and the riskiest
    # stories first (the risk order of the article lists); migration 0019
    __table_args__ = (Index("ix_story_risks_story_id_id", "story_id", "id"), Index("ix_story_risks_score", "score"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    score: Mapped[float] = mapped_column(Float)
    level: Mapped[str | None] = mapped_column(String(4), doc="I-IV, or None below the alert threshold")
    category: Mapped[str] = mapped_column(String(32))
    factors: Mapped[dict] = mapped_column(JSONType, default=dict, doc="each factor's value and why")
    handled_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, index=True, doc="set by incidents in the same transaction as the alert it caused")


class FeedbackLabel(Base):
    """A monitor's judgement of one article, implied by an action on its alert: a dismissal (误报) says the article
    the classifier called negative is not negative exposure; a manual raise (人工立案/升级) says an article it called
    neutral or positive is. One row per article and source; ``text`` is exactly what the classifier saw."""

    __tablename__ = "feedback_labels"
    __table_args__ = (UniqueConstraint("article_id", "source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    story_id: Mapped[int | None] = mapped_column(Integer, index=True, doc="the story the action was taken on")
    alert_id: Mapped[int | None] = mapped_column(Integer, doc="the alert acted on (no FK: incidents sits above)")
    source: Mapped[str] = mapped_column(String(16), doc="dismissal | manual_raise")
    label: Mapped[str] = mapped_column(String(16), doc="the monitor's polarity: neutral | negative")
    about_bank: Mapped[bool] = mapped_column(Boolean)
    category: Mapped[str] = mapped_column(String(32), doc="the classification's risk category")
    text: Mapped[str] = mapped_column(Text, doc="crawled passage the classifier saw; plain text, never rendered")
    predicted_label: Mapped[str] = mapped_column(String(16), doc="what the classifier had said")
    negative_prob: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(64), doc="the classifier that was corrected")
    labelled_by: Mapped[str] = mapped_column(String(64))
    labelled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
