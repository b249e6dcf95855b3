"""舆情信息 (``/mentions``): the monitor's workbench — search, filters, sorting, keyset pages and charts.

Every filter lives in the URL (a GET form), so a filtered list can be bookmarked and sent to a colleague. The list
is scoped exactly as the alerts page and the JSON feed are: articles with a mention of one of the user's units
(``Principal.unit_ids``), narrowed to one unit and the units under it only when the user may see it
(``ensure_unit``). A value that cannot be a filter is answered with this page, status 400 and a Chinese message
saying which field is wrong — never a 500. Each row shows the post's own tone (its classification) and, apart
from it, its story's current level, so a neutral repost of a level-I story reads as what it is.

The charts are computed over the whole filtered set (not just the page shown) and drawn as inline SVG on the
server (``api.charts``). Over a million articles that aggregation costs more than the page itself, and the same
filters are asked for again and again (every next page, every refresh), so each app keeps the charts of a filter
and scope for :data:`CHART_TTL_S` seconds (:class:`ChartCache`): they may lag the newest articles by that long.
The total shown is the charts' own count of the filtered set (exact, and as old as the charts: up to a minute); the
page runs no count query of its own.
"""

from __future__ import annotations

import threading
import time as monotonic_time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from itsdangerous import URLSafeSerializer
from markupsafe import Markup
from sqlalchemy import ColumnElement, Select, case, func, select, text
from sqlalchemy.orm import Session

from api import admin_forms, charts, listings, present, queries, search, views
from api.deps import OrgDep, PageUser, Principal, SessionDep, ensure_unit
from api.pages import render
from api.pagination import CURSOR_SALT, PageRequest, paginate
from crawlers.models import Article, ArticleMetricSample, ArticlePlanHit, Mention
from sentiment.models import Classification
from yuqing.categories import CATEGORIES, LEVEL_ORDER
from yuqing.org import OrgChart

router = APIRouter(tags=["dashboard"], include_in_schema=False)

PAGE_SIZE = 50
CHART_TTL_S = 60.0
CHART_CACHE_SIZE = 256
SORT_LABELS = {"risk": "按风险", "time": "按时间", "reach": "按传播量"}
FIELDS = ("q", "since", "until", "unit", "source", "channel", "sentiment", "category", "level", "plan", "sort")
MAX_PARAM_CHARS = 100


class BadFilter(ValueError):
    """A filter value that cannot be used; the message names the field, in Chinese."""


@dataclass
class Filters:
    """The filters as typed (kept in the form and in every link) and as used by the query."""

    raw: dict[str, str] = field(default_factory=dict)
    query: search.SearchQuery | None = None
    since: datetime | None = None
    until: datetime | None = None
    unit_ids: frozenset[str] = frozenset()
    sort: str = "risk"

    def get(self, name: str) -> str:
        return self.raw.get(name, "")

    def link(self, **changes: str) -> str:
        """This list's URL with some parameters changed (an empty value drops one)."""
        params = {k: v for k, v in {**self.raw, **changes}.items() if v}
        return "/mentions" + (f"?{urlencode(params)}" if params else "")


def parse_filters(params: Any, me: Principal, org: OrgChart, source_ids: set[str], tz: Any,
                  plans: Collection[str] = ()) -> Filters:
    """Check every filter; :class:`BadFilter` names the first bad one, HTTP 403 for a unit outside the scope.
    ``plans``: the names of the topic keyword plans in force (``plan``: 监测方案)."""
    raw = {name: (params.get(name) or "").strip() for name in FIELDS}
    raw = {k: v for k, v in raw.items() if v}
    f = Filters(raw=raw, unit_ids=me.unit_ids)
    for name, value in raw.items():
        if len(value) > MAX_PARAM_CHARS:
            raise BadFilter(f"筛选条件“{name}”过长（最多 {MAX_PARAM_CHARS} 个字符）")
    try:
        f.query = search.parse(raw.get("q", ""))
    except search.BadQuery as exc:
        raise BadFilter(str(exc)) from None
    f.since = _local_day(raw.get("since"), "起始日期", tz)
    until = _local_day(raw.get("until"), "截止日期", tz)
    f.until = until + timedelta(days=1) if until else None  # the end day is included
    if f.since and f.until and f.since >= f.until:
        raise BadFilter("起始日期晚于截止日期")
    if unit := raw.get("unit"):
        try:
            org.unit(unit)
        except KeyError:
            raise BadFilter("单位无效：请从列表中选择") from None
        ensure_unit(me, unit)  # 403: not the user's unit
        f.unit_ids = frozenset([unit, *(u.id for u in org.descendants(unit))]) & me.unit_ids
    checks = {"source": (source_ids, "信息源"), "channel": (set(present.CHANNEL_LABELS), "渠道"),
              "sentiment": (set(present.SENTIMENT_LABELS), "倾向"), "category": (set(CATEGORIES), "风险类别"),
              "level": (set(LEVEL_ORDER), "等级"), "plan": (set(plans), "监测方案"),
              "sort": (set(SORT_LABELS), "排序方式")}
    for name, (allowed, label) in checks.items():
        if name in raw and raw[name] not in allowed:
            raise BadFilter(f"{label}无效：请从列表中选择")
    f.sort = raw.get("sort", "risk")
    return f


def _local_day(value: str | None, label: str, tz: Any) -> datetime | None:
    """A ``YYYY-MM-DD`` date in the display time zone → its start in UTC."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{label}格式无效：请使用 2026-11-23 这样的日期") from None
    if not 2000 <= day.year <= 2100:
        raise BadFilter(f"{label}超出范围（2000 至 2100 年）")
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def reach_subquery() -> Any:
    """Each article's peak engagement observed (reposts + comments + likes of its metric samples)."""
    total = ArticleMetricSample.reposts + ArticleMetricSample.comments + ArticleMetricSample.likes
    return (select(ArticleMetricSample.article_id, func.max(total).label("reach"))
            .group_by(ArticleMetricSample.article_id).subquery())


Order = list[tuple[ColumnElement[Any], bool]]


def filtered(session: Session, f: Filters, *, scored_only: bool = False,
             count_only: bool = False) -> tuple[Select, Order]:
    """The filtered statement (Article, Classification, the story's current StoryRisk) and its keyset order;
    ``scored_only``: its head for the risk order, ``count_only``: its article ids to count (``listings.articles``)."""
    level = f.get("level")
    stmt, order = listings.articles(unit_ids=f.unit_ids, label=f.get("sentiment") or None,
                                    category=f.get("category") or None, channel=f.get("channel") or None,
                                    source=f.get("source") or None, since=f.since, until=f.until,
                                    sort="time" if f.sort == "time" else "risk", scored_only=scored_only,
                                    count_only=count_only, with_risk=bool(level))
    if level:
        stmt = stmt.where(listings.CurrentRisk.level == level)
    if plan := f.get("plan"):  # the articles the plan fired on (ingest's rows, read through their index)
        stmt = stmt.where(Article.id.in_(select(ArticlePlanHit.article_id).where(ArticlePlanHit.plan == plan)))
    if f.query is not None:
        stmt = stmt.where(search.condition(f.query, session.get_bind().dialect.name))
    if count_only:
        return stmt, order
    if f.sort == "reach":
        reach = reach_subquery()
        stmt = stmt.outerjoin(reach, reach.c.article_id == Article.id)
        order = [(func.coalesce(reach.c.reach, 0), True), (listings.recency(), True), (Article.id, True)]
    return stmt, order


@router.get("/mentions", response_class=HTMLResponse)
def mentions_page(request: Request, me: PageUser, session: SessionDep, org: OrgDep) -> Response:
    state = request.app.state
    tz = state.settings.tz
    sources = {s.id: s.name for s in state.sources}
    plans = topic_plan_names(session, state.settings)
    context: dict[str, Any] = {"filters": Filters(), "error": "", "rows": [], "total": 0, "next_link": "",
                               "charts": {}, "reach": {}, "plan_hits": {}, **_choices(org, me, sources, plans)}
    try:
        f = parse_filters(request.query_params, me, org, set(sources), tz, plans=plans)
        context["filters"] = f
        stmt, order = filtered(session, f)
        head = filtered(session, f, scored_only=True) if f.sort == "risk" else None
        page = PageRequest(cursor=request.query_params.get("cursor") or None, limit=PAGE_SIZE,
                           serializer=URLSafeSerializer(state.settings.secret_key, salt=CURSOR_SALT))
        scope = page.scope("mentions-page", **f.raw, units=f.unit_ids)
        page.after(scope, len(order))  # a bad cursor is refused before the charts are computed for it
        # the charts count the whole filtered set anyway (and are kept a minute): their total is the list's total,
        # so the page runs no count of its own — over a million articles that count was most of a filtered page
        chart_set = chart_cache(request.app).get(
            (tuple(sorted((k, v) for k, v in f.raw.items() if k != "sort")), tuple(sorted(f.unit_ids))),
            lambda: chart_svgs(session, f, org=org, sources=sources, tz=tz))
        got = paginate(session, stmt, order=order, page=page, scope=scope, head=head, known_total=chart_set.total,
                       walk=head_walk(session, head, chart_set.total) if head is not None else None)
    except BadFilter as exc:
        context["filters"] = Filters(raw={k: v for k in FIELDS if (v := (request.query_params.get(k) or "")[:100])})
        context["error"] = str(exc)
        return render(request, "mentions.html", me, "mentions", context, status_code=400)
    except HTTPException as exc:
        if exc.status_code != 400:
            raise
        context["error"] = str(exc.detail)  # a cursor not made for this list
        return render(request, "mentions.html", me, "mentions", context, status_code=400)
    best = queries.best_mentions(session, [a.id for a, _, _ in got.rows], f.unit_ids)
    rows = [queries.FeedRow(a, best[a.id], c, r) for a, c, r in got.rows if a.id in best]
    context.update(
        rows=views.mention_reads(org, rows), total=f"{got.total:,}",
        paged=bool(request.query_params.get("cursor")),
        next_link=f.link(cursor=got.next_cursor) if got.next_cursor else "",
        reach=article_reach(session, [r.article.id for r in rows]), charts=chart_set.svgs,
        plan_hits={r.article.id: plan_hits(r.article) for r in rows})
    return render(request, "mentions.html", me, "mentions", context)


def topic_plan_names(session: Session, settings: Any) -> list[str]:
    """The names of the topic keyword plans in force, in their configured order (filter plans only exclude: they
    are never an article's hit)."""
    return [p.name for p in admin_forms.current_plans(session, settings) if p.role == "topic"]


def plan_hits(article: Article) -> list[str]:
    """The topic plans an article hit when it was matched (``meta['match']['plan_hits']``), by name."""
    hits = ((article.meta or {}).get("match") or {}).get("plan_hits") or {}
    return sorted(str(name) for name in hits) if isinstance(hits, dict) else []


# --- how PostgreSQL reads the head of the risk order ------------------------------------------------------------
WALK_BUDGET = 20_000  # articles the walk may expect to read for one page (PAGE_SIZE + 1 matches)
WALK_RISK_ROWS = 2_000  # the walk reads the stories of at most this many of the highest risk rows
# the planner settings of a walk: index scans and nested loops only, in this process (no parallel workers)
WALK_SETTINGS = {"enable_hashjoin": "off", "enable_mergejoin": "off", "enable_bitmapscan": "off",
                 "enable_seqscan": "off", "max_parallel_workers_per_gather": "0"}
_ESTIMATE_S = 60.0
_estimates: dict[tuple[str, str], tuple[float, float | None]] = {}  # (database URL, what) → (valid until, value)


def head_walk(session: Session, head: tuple[Select, Order], matching: int
              ) -> tuple[Select, Order, Callable[[], AbstractContextManager[Any]]] | None:
    """The head of the risk order (``filtered(scored_only=True)``) cut to the riskiest stories and read as a walk,
    for :func:`api.pagination.paginate` to ask first — or None (SQLite; a filtered set of ``matching`` articles,
    the charts' exact total, too small for a short walk), and the head is read as the planner likes.

    The head walks ``ix_story_risks_score`` from the riskiest story and tests each of its articles against the
    scope and the filters, one page at a time; for matches spread evenly it reads about ``(PAGE_SIZE + 1) ×
    articles / matching`` articles. PostgreSQL cannot know that: it estimates a phrase search (新华路: 6,632 rows
    estimated, 80,655 found over a million articles) and a channel + tone + month far off, and then either hashes
    every match first (searching 新华路 among negative posts for a sub-branch liaison: 3.9 s) or runs the walk in
    parallel workers, whose start-up was most of the page's time on a busy machine (``docs/benchmarks.md``, large
    lists). So when the walk should be short by the charts' count, it runs with :data:`WALK_SETTINGS`
    (``walk_the_head``) — but only over the stories whose current score is at least the score of the
    :data:`WALK_RISK_ROWS`-th highest risk row: matches are not spread evenly (searching two words that name a
    few quiet stories, 3,900 matches, walked 2.5 s for a page), and the cut bounds what a walk can read. Every
    article of a story at or above the cut sorts before every article below it, so a full page of the cut head is
    exactly the head's first page; when the cut head cannot fill the page, ``paginate`` asks the head itself,
    planned as usual."""
    if session.get_bind().dialect.name != "postgresql" or matching <= 0:
        return None
    if (PAGE_SIZE + 1) * (_estimate(session, "articles") or 0.0) / matching >= WALK_BUDGET:
        return None
    cut = _estimate(session, "cut")
    stmt = head[0] if cut is None else head[0].where(listings.CurrentRisk.score >= cut)
    return stmt, head[1], lambda: walk_the_head(session)


def _estimate(session: Session, what: str) -> float | None:
    """Read at most once a minute per process (neither needs to be exact: they choose a plan, not the rows):
    ``articles``, the planner's own count of articles (``pg_class.reltuples``, kept by ANALYZE; 0 for a table
    never analysed, i.e. a new and small one); ``cut``, the score of the :data:`WALK_RISK_ROWS`-th highest risk
    row (a short walk down ``ix_story_risks_score``; None when there are fewer rows, and the walk is short
    anyway)."""
    key = (str(session.get_bind().url), what)
    now = monotonic_time.monotonic()
    hit = _estimates.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    if what == "articles":
        value: float | None = max(float(session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = 'articles'::regclass")) or 0.0), 0.0)
    else:
        value = session.scalar(text("SELECT score FROM story_risks ORDER BY score DESC OFFSET :k LIMIT 1"),
                               {"k": WALK_RISK_ROWS - 1})
    _estimates[key] = (now + _ESTIMATE_S, value)
    return value


@contextmanager
def walk_the_head(session: Session) -> Iterator[None]:
    """PostgreSQL's :data:`WALK_SETTINGS` for the statements run inside (``set_config(…, true)``: this transaction
    only), then each setting back at its session value (``pg_settings.reset_val``, what ``RESET`` restores): the
    rest of the request plans as usual. One statement each way. When the head's statement fails nothing is set
    back: the failed transaction is rolled back, its local settings with it (a statement in it would only fail
    again and hide the first error)."""
    params = {f"v{i}": v for i, v in enumerate(WALK_SETTINGS.values())}
    session.execute(text("SELECT " + ", ".join(f"set_config('{n}', :v{i}, true)"
                                               for i, n in enumerate(WALK_SETTINGS))), params)
    yield
    session.execute(text("SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name IN ("
                         + ", ".join(f"'{n}'" for n in WALK_SETTINGS) + ")"))


def _choices(org: OrgChart, me: Principal, sources: dict[str, str], plans: Collection[str] = ()) -> dict[str, Any]:
    units = [(u.id, u.short_name or u.name) for u in org.units if u.id in me.unit_ids]
    return {"unit_choices": units, "source_choices": sorted(sources.items(), key=lambda kv: kv[1]),
            "channel_choices": list(present.CHANNEL_LABELS.items()),
            "sentiment_choices": list(present.SENTIMENT_LABELS.items()),
            "category_choices": list(CATEGORIES.items()),
            "level_choices": [(lv, f"{lv}级 {present.level_name(lv)}") for lv in LEVEL_ORDER],
            "plan_choices": [(name, name) for name in plans],
            "sort_choices": list(SORT_LABELS.items())}


def article_reach(session: Session, article_ids: list[int]) -> dict[int, int]:
    if not article_ids:
        return {}
    total = ArticleMetricSample.reposts + ArticleMetricSample.comments + ArticleMetricSample.likes
    rows = session.execute(select(ArticleMetricSample.article_id, func.max(total))
                           .where(ArticleMetricSample.article_id.in_(article_ids))
                           .group_by(ArticleMetricSample.article_id))
    return {aid: int(n or 0) for aid, n in rows}


# --- charts over the whole filtered set ------------------------------------------------------------------------
@dataclass(frozen=True)
class ChartSet:
    """The four charts of one filtered set, and how many articles the set holds (what they were drawn from)."""

    svgs: dict[str, Markup]
    total: int


class ChartCache:
    """The charts of recent (filters, scope) pairs for ``ttl`` seconds, least recently used dropped past ``size``.

    Per app (``app.state``), so per server process; thread-safe (sync routes run in a thread pool). Two requests
    missing the same key at once both compute it: cheaper than making one wait on the other's lock."""

    def __init__(self, ttl: float = CHART_TTL_S, size: int = CHART_CACHE_SIZE):
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[Any, tuple[float, ChartSet]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Any) -> ChartSet:
        now = monotonic_time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                self._items.move_to_end(key)
                return hit[1]
        value = compute()
        with self._lock:
            self._items[key] = (now + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def chart_cache(app: Any) -> ChartCache:
    cache = getattr(app.state, "mention_charts", None)
    if cache is None:
        cache = app.state.mention_charts = ChartCache()
    return cache


def chart_base(session: Session, f: Filters) -> Any:
    """The filtered articles as (id, time, tone, source) rows for the charts, built from the lean counting statement
    (``filtered(count_only=True)``): the page's own statement also outer-joins every article's story risk (an
    anti-join over all risk rows), which no chart reads and which was most of the first view's time over a million
    articles (docs/benchmarks.md, large lists). The tone is outer-joined here when no filter joined it already."""
    stmt, _ = filtered(session, f, count_only=True)
    if not (f.get("sentiment") or f.get("category")):
        stmt = stmt.outerjoin(Classification, Classification.article_id == Article.id)
    return stmt.with_only_columns(Article.id.label("aid"), listings.recency().label("at"),
                                  func.coalesce(Classification.label, "").label("label"),
                                  Article.source_id.label("source_id")).order_by(None).subquery()


def chart_svgs(session: Session, f: Filters, *, org: OrgChart, sources: dict[str, str], tz: Any) -> ChartSet:
    dialect = session.get_bind().dialect.name
    base = chart_base(session, f)
    hour = _hour_bucket(base.c.at, dialect, tz)
    by_hour: dict[tuple[str, str], int] = defaultdict(int)
    by_source: Counter[str] = Counter()
    # one pass over the filtered set for three charts: (hour, tone, source) → count
    for bucket, label, source_id, n in session.execute(
            select(hour, base.c.label, base.c.source_id, func.count()).group_by(hour, base.c.label,
                                                                                base.c.source_id)):
        by_hour[(_local_hour_text(bucket, tz), label)] += int(n)
        by_source[sources.get(source_id, source_id)] += int(n)
    sentiment_names = {**present.SENTIMENT_LABELS, "": "待分析"}
    out: dict[str, str] = {}
    if by_hour:
        starts = {b: datetime.strptime(b, "%Y-%m-%d %H") for b, _ in by_hour}
        unit, buckets = charts.time_buckets(min(starts.values()), max(starts.values()))
        counts: dict[tuple[datetime, str], int] = defaultdict(int)
        for (b, label), n in by_hour.items():
            start = starts[b] if unit == "hour" else starts[b].replace(hour=0)
            counts[(start, sentiment_names.get(label, "待分析"))] += n
        out["volume"] = charts.volume_chart(counts, unit=unit, buckets=buckets)
    else:
        out["volume"] = charts.volume_chart({}, unit="hour", buckets=[])
    shares: Counter[str] = Counter()
    for (_, label), n in by_hour.items():
        shares[sentiment_names.get(label, "待分析")] += n
    out["sentiment"] = charts.share_chart("倾向分布", dict(shares), charts.SENTIMENT_COLOURS)
    out["source"] = charts.share_chart("来源分布", dict(by_source))
    negative = func.sum(case((base.c.label == "negative", 1), else_=0))
    heat = session.execute(select(Mention.unit_id, func.count(func.distinct(Mention.article_id)), negative)
                           .join(base, base.c.aid == Mention.article_id)
                           .where(Mention.unit_id.in_(f.unit_ids)).group_by(Mention.unit_id)).all()
    out["heat"] = charts.heat_chart({views.unit_ref(org, u).name: (int(t), int(n or 0)) for u, t, n in heat})
    # our SVG markup; every label in it escaped by to_svg
    return ChartSet({k: Markup(v) for k, v in out.items()}, total=sum(by_source.values()))


def _hour_bucket(column: Any, dialect: str, tz: Any) -> Any:
    """The hour of a UTC timestamp, computed by the database: on PostgreSQL the UTC hour as a timestamp
    (``date_trunc``; grouping by it is much cheaper than by a formatted string per row, and the display zone's
    hours are whole hours from UTC), turned into local text by :func:`_local_hour_text`; on SQLite already the
    local ``YYYY-MM-DD HH`` text."""
    if dialect == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    offset = datetime.now(tz).utcoffset() or timedelta(0)  # Asia/Shanghai has no daylight saving
    hours = int(offset.total_seconds() // 3600)
    return func.strftime("%Y-%m-%d %H", column, f"{hours:+d} hours")


def _local_hour_text(bucket: Any, tz: Any) -> str:
    """``YYYY-MM-DD HH`` in the display time zone of a bucket from :func:`_hour_bucket`."""
    if isinstance(bucket, datetime):  # PostgreSQL: a UTC hour without a zone
        return bucket.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H")
    return str(bucket)

