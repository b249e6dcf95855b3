"""Plain data for the simulated internet.

Content modules describe items relative to the scenario start (``offset``); ``sim.scenario`` turns them into
absolute times and stable ids. Every item carries a ground-truth ``truth`` label so benchmarks can score alerts
(precision matters: most of the sim is deliberately about something else).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

# Ground-truth labels.
INCIDENT = "incident"  # the 新华路网点 withdrawal story, its rumours and its clarification
BANK_POSITIVE = "bank_positive"  # good news about 示例银行
BANK_NEUTRAL = "bank_neutral"  # neutral mentions of 示例银行 (products, notices, clarifications of nothing)
BANK_BACKGROUND = "bank_background"  # old or minor negatives about 示例银行 unrelated to the incident
DISTRACTOR = "distractor"  # other banks, same-named places, unrelated news, telecom complaints…
HOSTILE = "hostile"  # pages that exist to test crawler robustness

TRUTH_LABELS = (INCIDENT, BANK_POSITIVE, BANK_NEUTRAL, BANK_BACKGROUND, DISTRACTOR, HOSTILE)


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> timedelta:
    """Offset from the scenario start; negative values are background from the days before."""
    return timedelta(days=days, hours=hours, minutes=minutes)


@dataclass(frozen=True)
class Growth:
    """Counters of a post as a sum of logistic phases, so they rise, jump and plateau over simulated time.

    ``phases`` are ``(weight, midpoint_minutes, width_minutes)`` measured from the post's own publish time;
    weights sum to 1. Each phase is normalised to 0 at age 0, so counters start at zero and never decrease.
    """

    reposts: int = 0
    comments: int = 0
    attitudes: int = 0
    phases: tuple[tuple[float, float, float], ...] = ((1.0, 45.0, 15.0),)

    def fraction(self, age_minutes: float) -> float:
        if age_minutes <= 0:
            return 0.0
        total = 0.0
        for weight, mid, width in self.phases:
            lo = _sigmoid(-mid / width)
            value = (_sigmoid((age_minutes - mid) / width) - lo) / (1.0 - lo)
            total += weight * value
        return max(0.0, min(1.0, total))

    def at_age(self, age_minutes: float) -> tuple[int, int, int]:
        f = self.fraction(age_minutes)
        return (math.floor(self.reposts * f), math.floor(self.comments * f), math.floor(self.attitudes * f))

    def inverse(self, fraction: float) -> float:
        """Age (minutes) at which the curve reaches ``fraction``; used to time generated reposts."""
        lo, hi = 0.0, 60.0 * 48
        for _ in range(50):
            mid = (lo + hi) / 2
            if self.fraction(mid) < fraction:
                lo = mid
            else:
                hi = mid
        return hi


def _sigmoid(x: float) -> float:
    if x < -60:
        return 0.0
    if x > 60:
        return 1.0
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class Article:
    """A news article on 江城晚报网 (``site="news"``) or 楚江网 (``site="province"``).

    ``encoding``: ``utf-8``; ``gbk`` (meta and Content-Type header both say gbk); ``gb2312-meta`` (only a meta tag
    declares gb2312, the header has no charset); ``gbk-header`` (only the Content-Type header declares it).
    ``kind`` marks hostile pages: ``xss``, ``malformed``, ``flaky``, ``missing``, ``huge``, ``slow``.
    ``{date}``, ``{d0}``, ``{t0}`` in the text become the item's date, the scenario start date and hour.
    """

    key: str
    offset: timedelta
    title: str
    body: tuple[str, ...]
    truth: str
    site: str = "news"
    channel: str = "本地"
    source: str = "江城晚报"
    author: str = ""
    editor: str = "李文"
    encoding: str = "utf-8"
    layout: int = 0
    kind: str = "normal"
    summary: str = ""
    comments: tuple[tuple[str, str], ...] = ()  # reader comments (nickname, text) shown under the article


@dataclass(frozen=True)
class WeiboUser:
    key: str
    id: int
    screen_name: str
    followers_count: int
    verified: bool = False
    verified_type: int = -1  # -1 none, 0 personal (orange V), 1..7 organisations (blue V); 3 = media
    description: str = ""
    location: str = "湖北 江城"


@dataclass(frozen=True)
class WeiboPost:
    """An original post, or a repost when ``repost_of`` names the key of the post being forwarded."""

    key: str
    offset: timedelta
    user: str
    text: str
    truth: str
    pic_num: int = 0
    video: bool = False
    repost_of: str | None = None
    growth: Growth = field(default_factory=Growth)
    # taken down this long after it was posted: its page then shows 该微博已被删除 and the API no longer lists it
    deleted_after: timedelta | None = None


@dataclass(frozen=True)
class Complaint:
    key: str
    offset: timedelta
    title: str
    content: str
    target: str
    demand: str
    amount: str
    truth: str
    author: str = "匿名用户"
    # (offset, status, note): status changes over time; the last one at or before now is shown
    progress: tuple[tuple[timedelta, str, str], ...] = ()


@dataclass(frozen=True)
class Penalty:
    key: str
    offset: timedelta
    doc_no: str
    party: str
    facts: str
    punishment: str
    authority: str
    truth: str
    legal_rep: str = ""
