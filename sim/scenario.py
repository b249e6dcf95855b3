"""The scenario: all sim content placed on one timeline, with stable ids and ground truth.

Content modules speak in offsets from the start; ``build_scenario(start)`` turns them into absolute UTC times, gives
every item a stable id (ids depend only on the content and a fixed seed, not on ``start``, so tests and
benchmarks are repeatable), generates the repost cascades along each post's growth curve, and exposes what is
visible at any instant. The servers ask it; they never keep their own notion of time.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from sim.content import complaints_bg, crisis, hostile, news_bg, regulator, users, weibo_bg
from sim.model import (
    INCIDENT,
    Article,
    Complaint,
    Growth,
    Penalty,
    WeiboPost,
    WeiboUser,
    at,
)

BEIJING = timezone(timedelta(hours=8), "CST")
SEED = 20261123
# A convenient default start for tests and benchmarks: 09:00 Beijing time, a working Monday.
DEFAULT_START = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING).astimezone(UTC)

SITES = ("news", "province", "weibo", "complaints", "regulator")


@dataclass(frozen=True)
class PlacedArticle:
    article: Article
    id: int
    published: datetime

    @property
    def key(self) -> str:
        return self.article.key

    @property
    def path(self) -> str:
        if self.article.site == "province":
            return f"/province/content/{self.id}.html"
        return f"/news/a/{self.id}.html"


@dataclass(frozen=True)
class PlacedPost:
    post: WeiboPost
    id: int
    published: datetime
    user: WeiboUser
    text: str  # full text as shown (reposts carry the //@ chain)
    root_key: str | None  # key of the original being forwarded (reposts only)
    growth: Growth

    @property
    def key(self) -> str:
        return self.post.key

    @property
    def path(self) -> str:
        return f"/weibo/{self.user.id}/{self.id}"


@dataclass(frozen=True)
class PlacedComplaint:
    complaint: Complaint
    id: int
    published: datetime
    progress: tuple[tuple[datetime, str, str], ...]

    @property
    def key(self) -> str:
        return self.complaint.key

    @property
    def path(self) -> str:
        return f"/complaints/detail/{self.id}.html"

    def state(self, now: datetime) -> tuple[str, list[tuple[datetime, str, str]]]:
        """Current status and the progress entries visible at ``now``."""
        seen = [p for p in self.progress if p[0] <= now]
        return (seen[-1][1] if seen else "处理中"), seen


@dataclass(frozen=True)
class PlacedPenalty:
    penalty: Penalty
    id: int
    published: datetime

    @property
    def key(self) -> str:
        return self.penalty.key

    @property
    def path(self) -> str:
        return f"/regulator/detail/{self.id}.html"


@dataclass(frozen=True)
class TimelineEvent:
    """A scripted beat of the crisis, for docs, the demo summary and benchmark expectations."""

    offset: timedelta
    site: str
    key: str
    summary: str


@dataclass
class Scenario:
    start: datetime
    duration: timedelta
    news: list[PlacedArticle] = field(default_factory=list)
    province: list[PlacedArticle] = field(default_factory=list)
    weibo: list[PlacedPost] = field(default_factory=list)
    complaints: list[PlacedComplaint] = field(default_factory=list)
    penalties: list[PlacedPenalty] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    deletions: dict[str, datetime] = field(default_factory=dict)  # weibo post key → when it is taken down

    # ---- time ----
    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def progress(self, now: datetime) -> float:
        elapsed = (now - self.start).total_seconds()
        return max(0.0, min(1.0, elapsed / self.duration.total_seconds()))

    def finished(self, now: datetime) -> bool:
        return now >= self.end

    # ---- visibility ----
    def visible_news(self, now: datetime) -> list[PlacedArticle]:
        """Visible 江城晚报网 articles, newest first."""
        return _newest_first(self.news, now)

    def visible_province(self, now: datetime) -> list[PlacedArticle]:
        return _newest_first(self.province, now)

    def visible_weibo(self, now: datetime) -> list[PlacedPost]:
        """Posts published and not taken down by ``now``, newest first."""
        return [p for p in _newest_first(self.weibo, now) if not self.is_deleted(p, now)]

    def delete_post(self, key: str, at: datetime) -> None:
        """Take the weibo post ``key`` down at ``at``: from then its page shows 该微博已被删除 (HTTP 200, a removal
        page in place of the post), the API's search and timeline no longer list it and ``statuses/show`` answers
        ``{"error": "该微博已被删除"}``."""
        self.post_by_key(key)  # an unknown key is a KeyError now, not a silent no-op
        self.deletions[key] = at

    def is_deleted(self, post: PlacedPost, now: datetime) -> bool:
        at = self.deletions.get(post.key)
        return at is not None and at <= now

    def visible_complaints(self, now: datetime) -> list[PlacedComplaint]:
        return _newest_first(self.complaints, now)

    def visible_penalties(self, now: datetime) -> list[PlacedPenalty]:
        return _newest_first(self.penalties, now)

    def counts(self, now: datetime) -> dict[str, int]:
        return {
            "news": len(self.visible_news(now)),
            "province": len(self.visible_province(now)),
            "weibo": len(self.visible_weibo(now)),
            "complaints": len(self.visible_complaints(now)),
            "regulator": len(self.visible_penalties(now)),
        }

    def totals(self) -> dict[str, int]:
        return {
            "news": len(self.news),
            "province": len(self.province),
            "weibo": len(self.weibo),
            "complaints": len(self.complaints),
            "regulator": len(self.penalties),
        }

    # ---- lookup and ground truth ----
    def find(self, key: str) -> PlacedArticle | PlacedPost | PlacedComplaint | PlacedPenalty:
        for group in (self.news, self.province, self.weibo, self.complaints, self.penalties):
            for item in group:
                if item.key == key:
                    return item
        raise KeyError(key)

    def post_by_id(self, post_id: int) -> PlacedPost | None:
        return self._posts_by_id.get(post_id)

    def post_by_key(self, key: str) -> PlacedPost:
        return self._posts_by_key[key]

    def ground_truth(self) -> dict[str, str]:
        """Truth label per item path (site-relative URL), for scoring alerts in tests and benchmarks."""
        out: dict[str, str] = {}
        for a in self.news + self.province:
            out[a.path] = a.article.truth
        for p in self.weibo:
            out[p.path] = p.post.truth
        for c in self.complaints:
            out[c.path] = c.complaint.truth
        for r in self.penalties:
            out[r.path] = r.penalty.truth
        return out

    def __post_init__(self) -> None:
        self._posts_by_id: dict[int, PlacedPost] = {}
        self._posts_by_key: dict[str, PlacedPost] = {}

    def _index(self) -> None:
        self._posts_by_id = {p.id: p for p in self.weibo}
        self._posts_by_key = {p.key: p for p in self.weibo}


def _newest_first(items, now):  # type: ignore[no-untyped-def]
    return sorted((i for i in items if i.published <= now), key=lambda i: (i.published, i.id), reverse=True)


# ------------------------------------------------------------------------------------------------------------
# building
# ------------------------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\{(date|d0|t0)\}")


def fill(text: str, published: datetime, start: datetime) -> str:
    """Replace ``{date}`` / ``{d0}`` / ``{t0}`` with the item's date, the start date and the start hour (Beijing)."""
    local = published.astimezone(BEIJING)
    s = start.astimezone(BEIJING)
    values = {"date": f"{local.month}月{local.day}日", "d0": f"{s.month}月{s.day}日", "t0": f"{s.hour}时许"}
    return _TOKEN.sub(lambda m: values[m.group(1)], text)


def build_scenario(start: datetime) -> Scenario:
    """Place all content on a timeline starting at ``start`` (aware; converted to UTC)."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(UTC)
    rng = random.Random(SEED)
    sc = Scenario(start=start, duration=crisis.DURATION)

    def when(offset: timedelta) -> datetime:
        return start + offset

    # articles: ids in time order, not contiguous (real CMS ids never are)
    news = sorted(news_bg.NEWS + crisis.NEWS + hostile.ARTICLES, key=lambda a: (a.offset, a.key))
    next_id = 480_112
    for art in news:
        next_id += rng.randint(3, 40)
        sc.news.append(PlacedArticle(art, next_id, when(art.offset)))
    prov = sorted(news_bg.PROVINCE + crisis.PROVINCE, key=lambda a: (a.offset, a.key))
    next_id = 6_120_300
    for art in prov:
        next_id += rng.randint(20, 300)
        sc.province.append(PlacedArticle(art, next_id, when(art.offset)))

    # complaints
    all_complaints = list(crisis.COMPLAINTS) + _background_complaints(rng)
    next_id = 17_356_000_000
    for c in sorted(all_complaints, key=lambda c: (c.offset, c.key)):
        next_id += rng.randint(50, 900)
        progress = tuple((when(o), status, note) for o, status, note in c.progress) or (
            (when(c.offset), "处理中", "投诉已提交，等待商家处理"),
        )
        sc.complaints.append(PlacedComplaint(c, next_id, when(c.offset), progress))

    # regulator
    next_id = 1_120_000
    for p in sorted(regulator.PENALTIES, key=lambda p: p.offset):
        next_id += rng.randint(7, 90)
        sc.penalties.append(PlacedPenalty(p, next_id, when(p.offset)))

    # weibo
    _build_weibo(sc, rng)
    sc._index()
    sc.timeline = _timeline()
    return sc


_REPLIES = (
    "您好，您反映的问题已收到，我们已安排专员跟进处理，请保持电话畅通。",
    "非常抱歉给您带来不好的体验，客服将在24小时内与您联系核实。",
    "您好，已为您登记工单，处理结果将通过短信通知您。",
    "亲，您的问题我们非常重视，已转交相关部门处理。",
)


def _background_complaints(rng: random.Random) -> list[Complaint]:
    out = []
    for i, (minutes, title, content, target, demand, amount, final, truth) in enumerate(complaints_bg.ENTRIES):
        offset = at(minutes=minutes)
        progress = [(offset, "处理中", "投诉已提交，等待商家处理")]
        if final in ("已回复", "已完成"):
            progress.append((offset + at(hours=rng.uniform(2, 30)), "已回复", rng.choice(_REPLIES)))
        if final == "已完成":
            progress.append((offset + at(days=rng.uniform(2, 5)), "已完成", "用户确认问题已解决。"))
        out.append(Complaint(
            key=f"c-bg-{i:02d}", offset=offset, title=title, content=content, target=target, demand=demand,
            amount=amount, truth=truth, author=f"黑猫用户{rng.randint(10000000, 99999999)}",
            progress=tuple(progress),
        ))
    return out


def _build_weibo(sc: Scenario, rng: random.Random) -> None:
    user_by_key = dict(users.USER_BY_KEY)
    reposters: list[WeiboUser] = []
    for i, name in enumerate(crisis.REPOSTERS):
        u = WeiboUser(f"r{i:02d}", 5_100_000_000 + rng.randint(0, 2_800_000_000), name,
                      int(rng.lognormvariate(5.5, 1.3)) + 3)
        reposters.append(u)
        user_by_key[u.key] = u

    originals: list[WeiboPost] = list(crisis.WEIBO)
    for i, (minutes, ukey, text, pics, (r, c, a), truth) in enumerate(weibo_bg.POSTS):
        mid = rng.uniform(30, 120)
        originals.append(WeiboPost(
            key=f"w-bg-{i:03d}", offset=at(minutes=minutes), user=ukey, text=text, truth=truth, pic_num=pics,
            growth=Growth(r, c, a, phases=((1.0, mid, mid / 3),)),
        ))
    by_key = {p.key: p for p in originals}

    reposts: list[WeiboPost] = []
    horizon = sc.duration - at(minutes=2)
    # incident cascades: hand-written comments timed along the original's curve
    for root_key, comments in crisis.REPOST_COMMENTS.items():
        root = by_key[root_key]
        reposts += _cascade(root, comments, reposters, rng, horizon, spread=0.97)
    # background cascades: a few generic reposts on the busier posts
    for post in originals:
        if post.truth == INCIDENT or post.growth.reposts < 10:
            continue
        k = min(16, 3 + post.growth.reposts // 20)
        comments = [rng.choice(weibo_bg.GENERIC_REPOSTS) for _ in range(k)]
        reposts += _cascade(post, comments, reposters, rng, None, spread=0.9)

    all_posts = sorted(originals + reposts, key=lambda p: (p.offset, p.key))
    placed: dict[str, PlacedPost] = {}
    next_id = 5_061_231_190_000_000
    for post in all_posts:
        next_id += rng.randint(1_000, 90_000)
        user = user_by_key[post.user]
        root_key = None
        text = post.text
        if post.repost_of is not None:
            parent = placed[post.repost_of]
            root_key = parent.root_key or parent.key
            if parent.root_key is not None:  # forwarding a repost: weibo keeps the chain in the text
                text = f"{post.text}//@{parent.user.screen_name}:{parent.text}"
        placed[post.key] = PlacedPost(post, next_id, sc.start + post.offset, user, text, root_key, post.growth)
    sc.weibo = list(placed.values())
    sc.deletions.update({p.key: p.published + p.post.deleted_after for p in sc.weibo
                         if p.post.deleted_after is not None})


def _cascade(root: WeiboPost, comments: list[str], reposters: list[WeiboUser], rng: random.Random,
             horizon: timedelta | None, spread: float) -> list[WeiboPost]:
    out: list[WeiboPost] = []
    n = len(comments)
    for i, comment in enumerate(comments):
        frac = spread * (i + rng.uniform(0.2, 0.8)) / n
        offset = root.offset + timedelta(seconds=round(root.growth.inverse(frac) * 60))
        if horizon is not None and offset > horizon:
            offset = horizon - timedelta(seconds=rng.randint(0, 1800) + 60 * i)
        if offset <= root.offset:
            offset = root.offset + at(minutes=1 + i)
        parent, parent_user = root.key, root.user
        earlier = [p for p in out if p.offset < offset]
        if earlier and rng.random() < 0.35:
            chosen = rng.choice(earlier)
            parent, parent_user = chosen.key, chosen.user
        user = rng.choice([u for u in reposters if u.key != parent_user]).key
        mine = max(1, root.growth.reposts // 40)
        out.append(WeiboPost(
            key=f"{root.key}-rt{i:02d}", offset=offset, user=user, text=comment,
            truth=root.truth, repost_of=parent,
            growth=Growth(mine, mine * 2, mine * 5, phases=((1.0, 40, 15),)),
        ))
    return out


def _timeline() -> list[TimelineEvent]:
    return [
        TimelineEvent(at(minutes=0), "complaints", "c-xinhua-1", "投诉：新华路网点拒绝取现5万元，态度差"),
        TimelineEvent(at(minutes=20), "weibo", "w-root", "家属发布视频微博，开始转发"),
        TimelineEvent(at(minutes=95), "weibo", "w-hot-local", "本地资讯大号转发视频"),
        TimelineEvent(at(hours=2), "news", "n-xinhua-1", "江城晚报网报道（GBK 页面）"),
        TimelineEvent(at(hours=2, minutes=5), "complaints", "c-xinhua-2", "第二条同类投诉"),
        TimelineEvent(at(hours=4), "province", "p-xinhua-1", "楚江网（省级媒体）报道"),
        TimelineEvent(at(hours=4, minutes=22), "weibo", "w-bigv", "财经大V评论，转发激增"),
        TimelineEvent(at(hours=5), "weibo", "w-rumour", "“示例银行要倒闭”挤兑谣言"),
        TimelineEvent(at(hours=5, minutes=25), "complaints", "c-xinhua-3", "受谣言影响的提前支取投诉"),
        TimelineEvent(at(hours=6), "weibo", "w-official", "示例银行江城分行官方微博情况说明"),
        TimelineEvent(at(hours=6, minutes=12), "news", "n-xinhua-2", "江城晚报网报道银行回应"),
        TimelineEvent(at(hours=6, minutes=40), "province", "p-xinhua-2", "楚江网报道辟谣"),
        TimelineEvent(at(hours=7, minutes=30), "weibo", "w-police", "江城网警辟谣"),
        TimelineEvent(at(hours=8, minutes=50), "weibo", "w-relative-2", "家属更新：钱已取到，银行致歉"),
        TimelineEvent(at(hours=10, minutes=5), "news", "n-xinhua-3", "后续报道：客户已取到钱，银行致歉"),
        TimelineEvent(crisis.DURATION, "sim", "end", "情景结束"),
    ]
