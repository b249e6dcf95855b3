"""The filtered SELECTs behind the JSON API's lists, each with the sort orders it offers.

Each builder returns ``(statement, order)`` for :func:`api.pagination.paginate`: a statement already limited to the
caller's units (``unit_ids`` from ``api.users.scope_unit_ids``, exactly what the dashboard shows them) and the
keyset order, whose expressions are never NULL (nullable times fall back to another column, scores to 0) and
always end with the row id so the order is total.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select
from sqlalchemy.orm import selectinload

from crawlers.models import Article, Mention, Story
from incidents.models import Alert, Incident, IncidentReport, Notification, Task, TimelineEvent
from sentiment.models import Classification, StoryRisk
from yuqing.db import UTCDateTime

Order = list[tuple[ColumnElement[Any], bool]]  # (expression, descending)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # 'no deadline' sorts last


def _newest_risk() -> Any:
    return (select(StoryRisk.story_id, func.max(StoryRisk.id).label("risk_id"))
            .group_by(StoryRisk.story_id).subquery())


def articles(*, unit_ids: Collection[str], label: str | None = None, category: str | None = None,
             channel: str | None = None, source: str | None = None, since: datetime | None = None,
             until: datetime | None = None, sort: str = "risk") -> tuple[Select, Order]:
    """Articles naming one of ``unit_ids`` with their classification and their story's newest risk.

    ``sort``: ``risk`` (story risk, then the article's own negative probability, newest first), ``time`` (newest
    first: published, else fetched) or ``negative`` (the article's own negative probability)."""
    newest = _newest_risk()
    visible = select(Mention.id).where(and_(Mention.article_id == Article.id, Mention.unit_id.in_(unit_ids)))
    stmt = (select(Article, Classification, StoryRisk)
            .outerjoin(Classification, Classification.article_id == Article.id)
            .outerjoin(newest, newest.c.story_id == Article.story_id)
            .outerjoin(StoryRisk, StoryRisk.id == newest.c.risk_id)
            .where(visible.exists()))
    recency = func.coalesce(Article.published_at, Article.fetched_at)
    if label:
        stmt = stmt.where(Classification.label == label)
    if category:
        stmt = stmt.where(Classification.category == category)
    if channel:
        stmt = stmt.where(Article.channel == channel)
    if source:
        stmt = stmt.where(Article.source_id == source)
    if since is not None:
        stmt = stmt.where(recency >= since)
    if until is not None:
        stmt = stmt.where(recency < until)
    negative = func.coalesce(Classification.negative_prob, 0.0)
    order: Order
    if sort == "time":
        order = [(recency, True), (Article.id, True)]
    elif sort == "negative":
        order = [(negative, True), (recency, True), (Article.id, True)]
    else:
        order = [(func.coalesce(StoryRisk.score, 0.0), True), (negative, True), (recency, True), (Article.id, True)]
    return stmt, order


def mentions(*, unit_ids: Collection[str], primary_only: bool = False, article_id: int | None = None,
             since: datetime | None = None, until: datetime | None = None) -> tuple[Select, Order]:
    """Mention rows (an article naming a unit) of ``unit_ids``, newest article first."""
    recency = func.coalesce(Article.published_at, Article.fetched_at)
    stmt = (select(Mention, Article).join(Article, Article.id == Mention.article_id)
            .where(Mention.unit_id.in_(unit_ids)))
    if primary_only:
        stmt = stmt.where(Mention.is_primary.is_(True))
    if article_id is not None:
        stmt = stmt.where(Mention.article_id == article_id)
    if since is not None:
        stmt = stmt.where(recency >= since)
    if until is not None:
        stmt = stmt.where(recency < until)
    return stmt, [(recency, True), (Mention.id, True)]


def alerts(*, unit_ids: Collection[str], status: str | None = None, level: str | None = None,
           sort: str = "urgent") -> tuple[Select, Order]:
    """Alerts of ``unit_ids``. ``urgent``: open ones first by acknowledgement deadline, then the rest newest
    first (the dashboard's queue); ``time``: newest first; ``risk``: highest score first."""
    stmt = select(Alert).where(Alert.unit_id.in_(unit_ids))
    if status:
        stmt = stmt.where(Alert.status == status)
    if level:
        stmt = stmt.where(Alert.level == level)
    if sort == "time":
        return stmt, [(Alert.created_at, True), (Alert.id, True)]
    if sort == "risk":
        return stmt, [(Alert.risk_score, True), (Alert.id, True)]
    is_open = case((Alert.status == "open", 1), else_=0)
    due = func.coalesce(Alert.ack_due_at, Alert.created_at)
    return stmt, [(is_open, True), (due, False), (Alert.created_at, True), (Alert.id, True)]


def incidents(*, unit_ids: Collection[str], statuses: list[str] | None = None, level: str | None = None,
              sort: str = "level") -> tuple[Select, Order]:
    """Incidents of ``unit_ids`` (timelines loaded: the clocks read them). ``level``: most severe first, then
    newest (the dashboard's order); ``time``: newest first."""
    stmt = select(Incident).where(Incident.unit_id.in_(unit_ids)).options(selectinload(Incident.events))
    if statuses:
        stmt = stmt.where(Incident.status.in_(statuses))
    if level:
        stmt = stmt.where(Incident.level == level)
    if sort == "time":
        return stmt, [(Incident.opened_at, True), (Incident.id, True)]
    return stmt, [(Incident.level, False), (Incident.opened_at, True), (Incident.id, True)]


def stories(*, unit_ids: Collection[str], include_unattributed: bool, sort: str = "time") -> tuple[Select, Order]:
    """Stories about ``unit_ids`` (and those attributed to no unit, for whole-bank callers). ``time``: most
    recently active first; ``risk``: highest current risk first."""
    cond = Story.unit_id.in_(unit_ids)
    if include_unattributed:
        cond = cond | Story.unit_id.is_(None)
    if sort == "risk":
        newest = _newest_risk()
        stmt = (select(Story).outerjoin(newest, newest.c.story_id == Story.id)
                .outerjoin(StoryRisk, StoryRisk.id == newest.c.risk_id).where(cond))
        return stmt, [(func.coalesce(StoryRisk.score, 0.0), True), (Story.last_seen_at, True), (Story.id, True)]
    return select(Story).where(cond), [(Story.last_seen_at, True), (Story.id, True)]


def tasks(*, unit_ids: Collection[str], status: str | None = None, owner_id: str | None = None,
          incident_id: int | None = None, active_only: bool = False) -> tuple[Select, Order]:
    """Checklist tasks of incidents of ``unit_ids``, earliest deadline first (no deadline last)."""
    from incidents.lifecycle import ACTIVE

    stmt = select(Task).join(Incident, Incident.id == Task.incident_id).where(Incident.unit_id.in_(unit_ids))
    if status:
        stmt = stmt.where(Task.status == status)
    if owner_id:
        stmt = stmt.where(Task.owner_id == owner_id)
    if incident_id is not None:
        stmt = stmt.where(Task.incident_id == incident_id)
    if active_only:
        stmt = stmt.where(Incident.status.in_(sorted(str(s) for s in ACTIVE)))
    due = func.coalesce(Task.due_at, literal(FAR_FUTURE, UTCDateTime))
    return stmt, [(due, False), (Task.incident_id, False), (Task.position, False), (Task.id, False)]


def timeline(*, incident_id: int, kind: str | None = None) -> tuple[Select, Order]:
    """An incident's timeline, oldest first (the record as it happened)."""
    stmt = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
    if kind:
        stmt = stmt.where(TimelineEvent.kind == kind)
    return stmt, [(TimelineEvent.at, False), (TimelineEvent.id, False)]


def filed_reports(*, incident_id: int) -> tuple[Select, Order]:
    """初报 / 续报 / 终报 filed on an incident, in filing order."""
    stmt = select(IncidentReport).where(IncidentReport.incident_id == incident_id)
    return stmt, [(IncidentReport.filed_at, False), (IncidentReport.id, False)]


def outbox(*, channel: str | None = None, status: str | None = None, recipient: str | None = None
           ) -> tuple[Select, Order]:
    """Every message the system sent or tried, newest first (the admins' 发送记录)."""
    stmt = select(Notification)
    if channel:
        stmt = stmt.where(Notification.channel == channel)
    if status:
        stmt = stmt.where(Notification.status == status)
    if recipient:
        stmt = stmt.where(Notification.recipient_id == recipient)
    return stmt, [(Notification.id, True)]
