"""话题详情 (``/stories/{id}``): one story — its copies by sub-thread, first source, spread, risk and evidence.

Who may open it is decided exactly as ``GET /api/v1/stories/{id}`` decides: the story's unit must be in the
user's scope (``ensure_unit``); a story attributed to no unit is shown to whole-bank users only. The articles are
the same read models as the API's (``views.story_read``); grouping by sub-thread uses the ``thread_id`` ingest
records in ``meta.match`` (the article a repost chain started from). Evidence is listed, not rendered: a link to
the page captured, the capture's time, status, size and SHA-256 (``yuqing evidence export`` gives the bytes).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import charts, present, queries, views
from api.deps import IdPath, OrgDep, PageUser, SessionDep, ensure_story
from api.pages import render
from crawlers.models import Article, ArticleCapture, ArticleMetricSample
from incidents.models import Alert, Incident
from sentiment.models import StoryRisk

router = APIRouter(tags=["dashboard"], include_in_schema=False)

RISK_HISTORY_ROWS = 100
SPREAD_BUCKETS = 48


@router.get("/stories/{story_id}", response_class=HTMLResponse)
def story_page(request: Request, me: PageUser, session: SessionDep, org: OrgDep, story_id: IdPath) -> Response:
    story = queries.get_story(session, story_id=story_id)
    if story is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"话题 {story_id} 不存在")
    ensure_story(session, me, org, story)
    tz = request.app.state.settings.tz
    read = views.story_read(session, org, story)
    articles = {a.id: a for a in story.articles}
    threads: dict[int, list[Any]] = defaultdict(list)
    for a in read.articles:
        match = (articles[a.id].meta or {}).get("match") or {}
        thread = match.get("thread_id")
        threads[thread if isinstance(thread, int) else a.id].append(a)
    first = next((a for a in read.articles if a.id == story.first_article_id), None)
    risks = list(session.scalars(select(StoryRisk).where(StoryRisk.story_id == story.id)
                                 .order_by(StoryRisk.computed_at.desc(), StoryRisk.id.desc())
                                 .limit(RISK_HISTORY_ROWS)))
    alert = session.scalar(select(Alert).where(Alert.story_id == story.id))
    incidents = list(session.scalars(select(Incident).where(Incident.story_id == story.id).order_by(Incident.id)))
    captures = list(session.scalars(select(ArticleCapture).where(ArticleCapture.article_id.in_(list(articles)))
                                    .order_by(ArticleCapture.fetched_at, ArticleCapture.id)))
    return render(request, "story.html", me, "mentions", {
        "story": read, "first": first, "threads": sorted(threads.items(), key=lambda kv: _thread_start(kv[1])),
        "risks": [views.risk_read(r) for r in risks],
        "alert": views.alert_read(org, alert, request.app.state.clock.now()) if alert else None,
        "incidents": incidents, "status_names": present.INCIDENT_STATUS_LABELS, "captures": captures,
        "article_titles": {a.id: a.title for a in read.articles},
        "spread": Markup(spread_svg(session, list(articles.values()), tz))})


def _thread_start(items: list[Any]) -> datetime:
    return min((a.published_at or a.fetched_at) for a in items)


def spread_svg(session: Session, articles: list[Article], tz: Any) -> str:
    """Articles first seen and engagement observed (reposts + comments + likes, each article's latest sample
    at the end of the bucket, summed) per hour — or per day when the story spans more than two days."""
    times = [(a.published_at or a.fetched_at) for a in articles]
    if not times:
        return charts.spread_chart([])
    samples = session.execute(select(ArticleMetricSample.article_id, ArticleMetricSample.observed_at,
                                     ArticleMetricSample.reposts + ArticleMetricSample.comments
                                     + ArticleMetricSample.likes)
                              .where(ArticleMetricSample.article_id.in_([a.id for a in articles]))
                              .order_by(ArticleMetricSample.observed_at)).all()
    last = max([*times, *(s[1] for s in samples)])
    first = min(times)
    step = timedelta(hours=1) if last - first <= timedelta(days=2) else timedelta(days=1)
    local_first = first.astimezone(tz)
    start = (local_first.replace(minute=0, second=0, microsecond=0) if step == timedelta(hours=1)
             else local_first.replace(hour=0, minute=0, second=0, microsecond=0))
    n = int((last - start) / step) + 1
    if n > SPREAD_BUCKETS:  # the latest buckets; earlier articles are counted in the first one shown
        start, n = start + step * (n - SPREAD_BUCKETS), SPREAD_BUCKETS
    fmt = "%m-%d %H时" if step == timedelta(hours=1) else "%m-%d"
    points = []
    for i in range(n):
        lo, hi = start + step * i, start + step * (i + 1)
        new = sum(1 for t in times if (lo <= t < hi) or (i == 0 and t < lo))
        latest: dict[int, int] = {}
        for aid, at, total in samples:
            if at < hi:
                latest[aid] = int(total or 0)
        points.append((lo.strftime(fmt), new, sum(latest.values())))
    return charts.spread_chart(points)
