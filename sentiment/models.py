"""Tables owned by the sentiment stage: per-article classifications and per-story risk history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
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

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    score: Mapped[float] = mapped_column(Float)
    level: Mapped[str | None] = mapped_column(String(4), doc="I-IV, or None below the alert threshold")
    category: Mapped[str] = mapped_column(String(32))
    factors: Mapped[dict] = mapped_column(JSONType, default=dict, doc="each factor's value and why")
    handled_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, index=True, doc="set by incidents in the same transaction as the alert it caused")
