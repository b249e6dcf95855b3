"""``config/stories.yaml``: the windows story clustering looks back over (pydantic; errors name the file and the
field). A missing file means the defaults of ``crawlers.stories``.

Only what a bank may reasonably want to tune is here: how long a story stays open to new tellings of the same
event at the same unit (``window_hours``), how long a *slow* story — mis-selling, collection calls, fees, told
victim after victim over weeks — stays open after its last telling (``slow_days``), and which events are slow.
The thresholds of the text and topic rules stay in code, where their tests are.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crawlers.stories import DEFAULT_SLOW_WINDOW, DEFAULT_WINDOW, EVENT_CONCEPTS, SLOW_EVENTS, StoryIndex
from yuqing.yamlfile import load_model

STORIES_FILE = "stories.yaml"


class StoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_hours: float = Field(default=DEFAULT_WINDOW / timedelta(hours=1), gt=0, le=24 * 14,
                                description="a story takes tellings at its unit (and its unit's line) this long "
                                            "after its last one")
    slow_days: float = Field(default=DEFAULT_SLOW_WINDOW / timedelta(days=1), gt=0, le=90,
                             description="a slow story takes new tellings of its main event at its unit this "
                                         "long after its last one")
    slow_events: list[str] = Field(default_factory=lambda: sorted(SLOW_EVENTS),
                                   description="event concepts whose stories are slow (crawlers.stories "
                                               "EVENT_CONCEPTS)")

    @field_validator("slow_events")
    @classmethod
    def _known_events(cls, v: list[str]) -> list[str]:
        unknown = [e for e in v if e not in EVENT_CONCEPTS]
        if unknown:
            raise ValueError(f"未知事件：{'、'.join(unknown)}（可选：{'、'.join(EVENT_CONCEPTS)}） "
                             f"(unknown event concepts)")
        return v

    @model_validator(mode="after")
    def _slow_not_shorter(self) -> StoryConfig:
        if timedelta(days=self.slow_days) < timedelta(hours=self.window_hours):
            raise ValueError("slow_days 不能短于 window_hours (the slow window cannot be shorter than the window)")
        return self

    def index(self, **kwargs: Any) -> StoryIndex:
        """A fresh ``StoryIndex`` with these windows."""
        return StoryIndex(window=timedelta(hours=self.window_hours), slow_window=timedelta(days=self.slow_days),
                          slow_events=self.slow_events, **kwargs)


def load_story_config(path: Path | str) -> StoryConfig:
    """Load ``config/stories.yaml``; errors name the file and the field. A missing file means the defaults."""
    return load_model(path, StoryConfig) if Path(path).exists() else StoryConfig()
