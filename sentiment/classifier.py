"""The classifier interface every sentiment model implements, and what a prediction carries.

The pipeline depends only on this interface, so the rule-based baseline (``sentiment.rules``) and the
transformers model that replaces it are interchangeable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

LABELS = ("negative", "neutral", "positive")
LABEL_NAMES = {"negative": "负面", "neutral": "中性", "positive": "正面"}


@dataclass(frozen=True)
class Prediction:
    label: str
    negative_prob: float
    category: str
    cues: tuple[str, ...] = field(default_factory=tuple)


class Classifier(Protocol):
    name: str

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order."""
        ...
