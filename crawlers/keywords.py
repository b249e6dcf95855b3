"""Keyword plans (监测方案): named word lists an admin edits in ``config/keywords.yaml``.

Monitors of the Chinese web are configured this way — "must contain one of each group, any of these, none of
those" — so admins can tune what counts without touching code. Two roles:

* ``topic`` plans (the default) label what an article is about (e.g. 风险事件: 挤兑/取不出钱/暴力催收…). Their hit
  words are recorded per article and drive the same-unit story rule in ``crawlers.stories``.
* ``filter`` plans only carry ``exclude`` words; any of them in an article makes it irrelevant altogether (e.g.
  示例代码/示例程序 — programming text where the alias 示例行 means "example line").

Words are matched after the same normalisation as org-unit names (``crawlers.matching.normalise``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from yuqing.yamlfile import load_model

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class KeywordPlan(BaseModel):
    """One named plan: every ``must`` group hits (any alternative of a group), at least one ``any`` word hits
    (when ``any`` is given), and no ``exclude`` word appears."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    role: Literal["topic", "filter"] = "topic"
    category: str | None = Field(default=None, description="risk category code this plan suggests, if any")
    must: list[list[Word]] = Field(default_factory=list, description="all groups must hit; a group = alternatives")
    any: list[Word] = Field(default_factory=list)
    exclude: list[Word] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> KeywordPlan:
        if any(not group for group in self.must):
            raise ValueError("must: a group may not be empty")
        if self.role == "filter":
            if not self.exclude:
                raise ValueError("exclude: a filter plan needs at least one exclude word")
            if self.must or self.any:
                raise ValueError("must/any: a filter plan only takes exclude words")
        elif not self.must and not self.any:
            raise ValueError("must/any: a topic plan needs must groups or any words")
        return self

    def words(self) -> set[str]:
        """Every word the plan looks for (for building the automaton)."""
        return {w for group in self.must for w in group} | set(self.any) | set(self.exclude)

    def evaluate(self, found: set[str]) -> list[str] | None:
        """Given the set of (normalised) words found in a text, the plan's hit words, or None if it does not fire.

        A filter plan "fires" when one of its exclude words is present.
        """
        if self.role == "filter":
            hits = sorted(w for w in self.exclude if w in found)
            return hits or None
        if any(w in found for w in self.exclude):
            return None
        hits: list[str] = []
        for group in self.must:
            group_hits = [w for w in group if w in found]
            if not group_hits:
                return None
            hits.extend(group_hits)
        if self.any:
            any_hits = [w for w in self.any if w in found]
            if not any_hits:
                return None
            hits.extend(any_hits)
        return sorted(set(hits))


class KeywordPlans(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plans: list[KeywordPlan] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> KeywordPlans:
        seen: set[str] = set()
        for i, plan in enumerate(self.plans):
            if plan.name in seen:
                raise ValueError(f"plans[{i}].name: duplicate plan name {plan.name!r}")
            seen.add(plan.name)
        return self


def load_keyword_plans(path: Path | str) -> list[KeywordPlan]:
    """Load ``config/keywords.yaml``; errors name the file, the field and the reason."""
    return load_model(path, KeywordPlans).plans
