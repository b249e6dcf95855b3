"""Read queries behind the API and the dashboard, each scoped to the units the caller may see.

Routes never query directly; they call these (reads) or the incidents service (writes). ``unit_ids`` is always
the caller's scope from ``api.users.scope_unit_ids``.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import Select, and_, bindparam, func, select, text
from sqlalchemy.orm import Session, selectinload

from api.listings import SNIPPET_CHARS, alert_queue_order, in_scope, reaches
from crawlers.models import PUBLISHED_LOCAL_KEY, Article, Mention, Story
from incidents.models import Alert, Incident, Task
from sentiment.models import Classification, StoryRisk
from yuqing.db import plain_rows


def ping(session: Session) -> None:
    """Raise if the database cannot answer."""
    session.execute(text("SELECT 1"))


# --- incidents -----------------------------------------------------------------------------------------------
def list_incidents(session: Session, *, unit_ids: Collection[str], status: str | None = None,
                   level: str | None = None, limit: int = 100) -> list[Incident]:
    """Incidents of the given units, most severe first, then newest, checklists loaded (the step clocks and the
    task counts read them). Timelines are not loaded: the list's clocks read only the few timeline rows they need
    (``incidents.queries.incidents_facts``), and a case's timeline grows by a row per article added — loading
    every timeline of 200 cases was most of the incident page's time (docs/benchmarks.md, large lists)."""
    stmt = select(Incident).where(Incident.unit_id.in_(unit_ids)).options(selectinload(Incident.tasks))
    if status:
        stmt = stmt.where(Incident.status.in_(incident_statuses(status)))
    if level:
        stmt = stmt.where(Incident.level == level)
    stmt = stmt.order_by(Incident.level, Incident.opened_at.desc(), Incident.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def incident_level_counts(session: Session, *, unit_ids: Collection[str], status: str | None = None
                          ) -> dict[str, int]:
    """How many incidents of the given units there are per level (the overview's tiles), counted by the database."""
    stmt = select(Incident.level, func.count()).where(Incident.unit_id.in_(unit_ids)).group_by(Incident.level)
    if status:
        stmt = stmt.where(Incident.status.in_(incident_statuses(status)))
    return {str(level): int(n) for level, n in session.execute(stmt)}


def incident_statuses(status: str) -> list[str]:
    """A status filter: ``active`` (every status before closing), ``ended`` (closed, reviewed or merged) or one
    status."""
    from incidents.lifecycle import ACTIVE, ENDED

    groups = {"active": ACTIVE, "ended": ENDED}
    return sorted(str(s) for s in groups[status]) if status in groups else [status]


def get_incident(session: Session, *, incident_id: int) -> Incident | None:
    """An incident with its tasks and timeline loaded."""
    return session.scalar(_INCIDENT, {"incident_id": incident_id})


def alert_for_incident(session: Session, *, incident_id: int) -> Alert | None:
    return session.scalar(_ALERT_FOR_INCIDENT, {"incident_id": incident_id})


# built once, the incident bound per call (see _LATEST_RISKS): the incident page reads both
_INCIDENT = (select(Incident).where(Incident.id == bindparam("incident_id"))
             .options(selectinload(Incident.tasks), selectinload(Incident.events)))
_ALERT_FOR_INCIDENT = select(Alert).where(Alert.incident_id == bindparam("incident_id")).order_by(Alert.id).limit(1)


def get_task(session: Session, *, task_id: int) -> Task | None:
    return session.get(Task, task_id)


# --- alerts --------------------------------------------------------------------------------------------------
def list_alerts(session: Session, *, unit_ids: Collection[str], status: str | None = None,
                limit: int = 100, above_ids: Collection[str] = ()) -> list[Alert]:
    """Alerts of the given units in the queue's order (``api.listings.alert_queue_order``: open ones by deadline
    first, on the index made for it); ``above_ids``: see ``api.listings.in_scope``."""
    stmt = select(Alert).where(in_scope(Alert.unit_id, Alert.story_id, unit_ids, above_ids))
    if status:
        stmt = stmt.where(Alert.status == status)
    stmt = stmt.order_by(*(expr.desc() if desc else expr.asc() for expr, desc in alert_queue_order())).limit(limit)
    return list(session.scalars(stmt))


def count_alerts(session: Session, *, unit_ids: Collection[str], status: str | None = None,
                 above_ids: Collection[str] = ()) -> int:
    stmt = (select(func.count()).select_from(Alert)
            .where(in_scope(Alert.unit_id, Alert.story_id, unit_ids, above_ids)))
    if status:
        stmt = stmt.where(Alert.status == status)
    return int(session.scalar(stmt) or 0)


def list_handled_alerts(session: Session, *, unit_ids: Collection[str], limit: int = 50,
                        above_ids: Collection[str] = ()) -> list[Alert]:
    """Alerts of the given units that are no longer open (acknowledged, dismissed …), newest first: the alert
    page's second list. Asked for as such rather than picked out of the first 100 alerts of the queue, which once
    more than 100 alerts were open held none of them (and an index on the creation time answers it)."""
    stmt = (select(Alert).where(in_scope(Alert.unit_id, Alert.story_id, unit_ids, above_ids),
                                Alert.status != "open")
            .order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit))
    return list(session.scalars(stmt))


def get_alert(session: Session, *, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


# --- stories and articles ------------------------------------------------------------------------------------
# Built once, values bound per call: building a statement and working out its cache key was about 40 % of the
# CPU of running a short one (docs/benchmarks.md, API throughput, fifth round), paid on every request of the API's
# lists and pages. A statement object is immutable, so one is shared by every session and thread.
_LATEST_RISKS = select(StoryRisk).where(StoryRisk.id.in_(
    select(func.max(StoryRisk.id)).where(StoryRisk.story_id.in_(bindparam("story_ids", expanding=True)))
    .group_by(StoryRisk.story_id).scalar_subquery()))


def latest_risks(session: Session, story_ids: Iterable[int]) -> dict[int, StoryRisk]:
    """The most recent risk row of each story."""
    ids = list(set(story_ids))
    if not ids:
        return {}
    return {r.story_id: r for r in session.scalars(_LATEST_RISKS, {"story_ids": ids})}


def list_stories(session: Session, *, unit_ids: Collection[str], include_unattributed: bool = False,
                 limit: int = 100) -> list[Story]:
    """Stories about the given units, most recently active first."""
    cond = Story.unit_id.in_(unit_ids)
    if include_unattributed:
        cond = cond | Story.unit_id.is_(None)
    stmt = select(Story).where(cond).order_by(Story.last_seen_at.desc(), Story.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def story_reaches(session: Session, *, story_id: int, unit_ids: Collection[str]) -> bool:
    """Whether an article of the story names one of ``unit_ids`` (``api.listings.reaches``)."""
    return bool(unit_ids) and bool(session.scalar(select(reaches(story_id, unit_ids))))


def get_story(session: Session, *, story_id: int) -> Story | None:
    return session.scalar(select(Story).where(Story.id == story_id).options(selectinload(Story.articles)))


# What a story's evidence list shows of each article (``api.views.story_detail``), in this order: the article's
# columns (its text only as its first ``SNIPPET_CHARS`` characters, shown when its mention has no snippet) and its
# classification's.
StoryArticleRow = namedtuple("StoryArticleRow", ["id", "title", "url", "source_id", "channel", "author",
                                                 "published_at", "fetched_at", "text_head", "is_duplicate",
                                                 "label", "negative_prob", "category", "published_local"])


_STORY_ARTICLE_ROWS = (
    select(Article.id, Article.title, Article.url, Article.source_id, Article.channel, Article.author,
           Article.published_at, Article.fetched_at, func.substr(Article.text, 1, SNIPPET_CHARS),
           Article.is_duplicate, Classification.label, Classification.negative_prob, Classification.category,
           Article.meta[PUBLISHED_LOCAL_KEY].as_string())
    .outerjoin(Classification, Classification.article_id == Article.id)
    .where(Article.story_id == bindparam("story_id")).order_by(Article.published_at))


def story_article_rows(session: Session, *, story_id: int) -> list[StoryArticleRow]:
    """A story's articles as plain rows with their classification (one per article, so the outer join adds no
    row), ordered as ``Story.articles`` is (by ``published_at`` alone, as that relationship loads them).

    Why not ``Story.articles``: the API's story and the incident page show a story's evidence, and loading every
    article as an object (its full text, metrics and meta JSON decoded) plus a classification object each was most
    of the CPU of ``/api/v1/stories/{id}`` (docs/benchmarks.md, API throughput); one query less too."""
    return [StoryArticleRow(*row) for row in plain_rows(session, _STORY_ARTICLE_ROWS, {"story_id": story_id})]


def classifications(session: Session, article_ids: Iterable[int]) -> dict[int, Classification]:
    ids = list(set(article_ids))
    if not ids:
        return {}
    return {c.article_id: c for c in session.scalars(select(Classification)
                                                      .where(Classification.article_id.in_(ids)))}


def best_mentions(session: Session, article_ids: Iterable[int],
                  unit_ids: Collection[str] | None = None) -> dict[int, Mention]:
    """One mention per article to show: the primary one when visible, else the first visible one."""
    ids = list(set(article_ids))
    if not ids:
        return {}
    stmt = select(Mention).where(Mention.article_id.in_(ids))
    if unit_ids is not None:
        stmt = stmt.where(Mention.unit_id.in_(unit_ids))
    best: dict[int, Mention] = {}
    for m in session.scalars(stmt.order_by(Mention.is_primary.desc(), Mention.id)):
        best.setdefault(m.article_id, m)
    return best


def best_mention_rows(session: Session, article_ids: Iterable[int],
                      unit_ids: Collection[str] | None) -> dict[int, tuple[str, str | None]]:
    """``best_mentions`` as plain ``(unit_id, snippet)`` per article id: the same choice (the primary mention when
    visible, else the first visible one; any unit's with ``unit_ids`` None), without building a ``Mention``
    object per mention of the page."""
    ids = list(set(article_ids))
    if not ids:
        return {}
    if unit_ids is None:
        rows = plain_rows(session, _MENTION_ROWS, {"article_ids": ids})  # plain columns: on the connection
    else:
        rows = plain_rows(session, _VISIBLE_MENTION_ROWS, {"article_ids": ids, "unit_ids": list(unit_ids)})
    best: dict[int, tuple[str, str | None]] = {}
    for article_id, unit_id, snippet in rows:
        best.setdefault(article_id, (unit_id, snippet))
    return best


_MENTION_ROWS = (select(Mention.article_id, Mention.unit_id, Mention.snippet)
                 .where(Mention.article_id.in_(bindparam("article_ids", expanding=True)))
                 .order_by(Mention.is_primary.desc(), Mention.id))
_VISIBLE_MENTION_ROWS = _MENTION_ROWS.where(Mention.unit_id.in_(bindparam("unit_ids", expanding=True)))


@dataclass(frozen=True)
class FeedRow:
    article: Article
    mention: Mention
    classification: Classification | None
    risk: StoryRisk | None


def mention_feed(session: Session, *, unit_ids: Collection[str], label: str | None = None,
                 sort: str = "risk", limit: int = 50) -> list[FeedRow]:
    """Articles mentioning the given units, ranked by their story's current risk (or newest first)."""
    newest_risk = (select(StoryRisk.story_id, func.max(StoryRisk.id).label("risk_id"))
                   .group_by(StoryRisk.story_id).subquery())
    visible = select(Mention.id).where(and_(Mention.article_id == Article.id, Mention.unit_id.in_(unit_ids)))
    stmt: Select = (select(Article, Classification, StoryRisk)
                    .outerjoin(Classification, Classification.article_id == Article.id)
                    .outerjoin(newest_risk, newest_risk.c.story_id == Article.story_id)
                    .outerjoin(StoryRisk, StoryRisk.id == newest_risk.c.risk_id)
                    .where(visible.exists()))
    if label:
        stmt = stmt.where(Classification.label == label)
    recency = func.coalesce(Article.published_at, Article.fetched_at)
    if sort == "time":
        stmt = stmt.order_by(recency.desc(), Article.id.desc())
    else:
        stmt = stmt.order_by(func.coalesce(StoryRisk.score, 0.0).desc(),
                             func.coalesce(Classification.negative_prob, 0.0).desc(), recency.desc(),
                             Article.id.desc())
    rows = session.execute(stmt.limit(limit)).all()
    mentions = best_mentions(session, [a.id for a, _, _ in rows], unit_ids)
    return [FeedRow(a, mentions[a.id], c, r) for a, c, r in rows if a.id in mentions]


# --- sources -------------------------------------------------------------------------------------------------

