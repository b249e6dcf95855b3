"""The filtered SELECTs behind the JSON API's lists, each with the sort orders it offers.

Each builder returns ``(statement, order)`` for :func:`api.pagination.paginate`: a statement already limited to the
caller's units (``unit_ids`` from ``api.users.scope_unit_ids``, exactly what the dashboard shows them) and the
keyset order, whose expressions are never NULL (nullable times fall back to another column, scores to 0) and
always end with the row id so the order is total.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Collection
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    bindparam,
    case,
    exists,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.orm import aliased, raiseload

from crawlers.models import Article, Mention, Story
from incidents.models import Alert, Incident, IncidentReport, Notification, Task, TimelineEvent
from sentiment.models import Classification, StoryRisk
from yuqing.db import UTCDateTime

Order = list[tuple[ColumnElement[Any], bool]]  # (expression, descending)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # 'no deadline' sorts last


def _given(value: Any) -> bool:
    """Whether a filter applies: a bind parameter (a statement built once for a shape with this filter) or a
    truthy value (an empty string or list filters nothing, as it always has)."""
    return isinstance(value, BindParameter) or bool(value)


def _one_of(values: Any) -> Any:
    """The right side of an ``IN``: an (expanding) bind parameter as it is, a collection sorted (so the SQL and
    its parameters do not depend on a set's iteration order)."""
    return values if isinstance(values, BindParameter) else sorted(values)


def _bind(name: str, given: bool, *, expanding: bool = False) -> BindParameter[Any] | None:
    return bindparam(name, expanding=expanding) if given else None


def _current_risks() -> Any:
    """Each story's newest risk row: a row with no newer one of the same story (an anti-join on the
    ``(story_id, id)`` index). Written as NOT EXISTS rather than ``GROUP BY story_id`` + ``max(id)`` so the planner
    may probe it per row for a short page (a nested loop) or hash it for a whole-table sort; the aggregate form
    always computed the newest row of every story in the database first, on every page."""
    newer = aliased(StoryRisk)
    return select(StoryRisk).where(~exists().where(newer.story_id == StoryRisk.story_id,
                                                   newer.id > StoryRisk.id)).subquery("current_risk")


# The newest risk row of a story, as an entity to outer-join on ``CurrentRisk.story_id`` (filters and sort keys
# about a list's story risk use this, not ``StoryRisk``).
CurrentRisk = aliased(StoryRisk, _current_risks())


def visible_to(unit_ids: Collection[str]) -> ColumnElement[bool]:
    """Articles with a mention of one of ``unit_ids`` (the caller's scope, computed once per request): a semi-join
    probing the unique ``(article_id, unit_id)`` index, never a per-row function."""
    return exists().where(Mention.article_id == Article.id, Mention.unit_id.in_(_one_of(unit_ids)))


def in_scope(unit_col: Any, story_col: Any, unit_ids: Collection[str],
             above_ids: Collection[str] | None = None) -> ColumnElement[bool]:
    """Rows (alerts, stories) of ``unit_ids``, and — when ``above_ids`` (the units above the caller's scope) are
    given — rows of those units whose story has an article naming a unit of ``unit_ids``: a head-office post
    naming the places of several branches is each of those branches' to see (``crawlers.matching`` rule j)."""
    own = unit_col.in_(_one_of(unit_ids))
    if not _given(above_ids):
        return own
    return own | (unit_col.in_(_one_of(above_ids)) & reaches(story_col, unit_ids))


def reaches(story_col: Any, unit_ids: Collection[str]) -> ColumnElement[bool]:
    """Whether an article of the story ``story_col`` names a unit of ``unit_ids``."""
    return exists().where(Article.story_id == story_col, Mention.article_id == Article.id,
                          Mention.unit_id.in_(_one_of(unit_ids)))


def recency() -> ColumnElement[Any]:
    """An article's time: published, else fetched. Indexed as an expression (``ix_articles_recency``) together with
    the id, so "newest first" pages walk that index instead of sorting every visible article."""
    return func.coalesce(Article.published_at, Article.fetched_at)


SNIPPET_CHARS = 160  # an article's own snippet when its mention has none: the first characters of its text


def feed_columns() -> tuple[ColumnElement[Any], ...]:
    """What ``/api/v1/articles`` shows of an article, its classification and its story's current risk, in the order
    ``api.views.feed_reads`` unpacks them; the text only as its first :data:`SNIPPET_CHARS` characters (``substr``
    counts characters on both databases, as Python's slice does)."""
    return (Article.id, Article.title, Article.url, Article.source_id, Article.channel, Article.published_at,
            Article.fetched_at, Article.story_id, func.substr(Article.text, 1, SNIPPET_CHARS),
            Classification.label, Classification.negative_prob, Classification.category,
            CurrentRisk.score, CurrentRisk.level)


def articles(*, unit_ids: Collection[str], label: str | None = None, category: str | None = None,
             channel: str | None = None, source: str | None = None, since: datetime | None = None,
             until: datetime | None = None, sort: str = "risk", scored_only: bool = False,
             count_only: bool = False, with_risk: bool = False, plain: bool = False) -> tuple[Select, Order]:
    """Articles naming one of ``unit_ids`` with their classification and their story's newest risk.

    ``sort``: ``risk`` (story risk, then the article's own negative probability, newest first), ``time`` (newest
    first: published, else fetched) or ``negative`` (the article's own negative probability).

    ``scored_only`` (with ``sort="risk"``): only the articles whose story's current risk is above 0 — the head of
    the risk order, since every other article sorts as 0 after them — joined from the risk side and ordered by
    the bare score, so the database can walk ``ix_story_risks_score`` from the top, take each story's articles and
    stop after one page (an incremental sort) instead of sorting every visible article by a key that spans three
    tables. Pass it to :func:`api.pagination.paginate` as ``head``: the rows and cursors are the same as the whole
    statement's for as long as the head has a full page.

    ``count_only``: the same rows as bare article ids, for ``paginate(count=…)``: the classification is joined only
    when a filter reads it and the story's risk only with ``with_risk`` (a filter on its level), since neither join
    changes how many articles there are (one classification per article, one current risk per story).

    ``plain``: the columns of :func:`feed_columns` instead of the three ORM entities (``api.views.feed_reads``
    builds the API's rows from them): an article's full text, metrics and meta were read, decoded and turned into
    objects for every row of a page only to show 160 characters, and building the entities was most of the CPU of
    ``/api/v1/articles`` (docs/benchmarks.md, API throughput). Same rows, same order, same keys."""
    if count_only:
        stmt = select(Article.id).where(visible_to(unit_ids))
        if _given(label) or _given(category):
            stmt = stmt.join(Classification, Classification.article_id == Article.id)
        if with_risk:
            stmt = stmt.join(CurrentRisk, CurrentRisk.story_id == Article.story_id)
    else:
        stmt = (select(*feed_columns()) if plain else select(Article, Classification, CurrentRisk))
        stmt = (stmt.select_from(Article)
                .outerjoin(Classification, Classification.article_id == Article.id)
                .where(visible_to(unit_ids)))
        if scored_only:
            stmt = stmt.join(CurrentRisk, CurrentRisk.story_id == Article.story_id).where(CurrentRisk.score > 0)
        else:
            stmt = stmt.outerjoin(CurrentRisk, CurrentRisk.story_id == Article.story_id)
    when = recency()
    if _given(label):
        stmt = stmt.where(Classification.label == label)
    if _given(category):
        stmt = stmt.where(Classification.category == category)
    if _given(channel):
        stmt = stmt.where(Article.channel == channel)
    if _given(source):
        stmt = stmt.where(Article.source_id == source)
    if since is not None:
        stmt = stmt.where(when >= since)
    if until is not None:
        stmt = stmt.where(when < until)
    negative = func.coalesce(Classification.negative_prob, 0.0)
    order: Order
    if sort == "time":
        order = [(when, True), (Article.id, True)]
    elif sort == "negative":
        order = [(negative, True), (when, True), (Article.id, True)]
    else:
        score = CurrentRisk.score if scored_only else func.coalesce(CurrentRisk.score, 0.0)
        order = [(score, True), (negative, True), (when, True), (Article.id, True)]
    return stmt, order


def articles_bound(*, unit_ids: Collection[str], label: str | None = None, category: str | None = None,
                   channel: str | None = None, source: str | None = None, since: datetime | None = None,
                   until: datetime | None = None, sort: str = "risk", scored_only: bool = False,
                   count_only: bool = False, with_risk: bool = False, plain: bool = False
                   ) -> tuple[Select, Order, dict[str, Any]]:
    """:func:`articles` built once per shape (which filters are given, the sort and the form) with bind
    parameters, and this call's values for them: ``(statement, order, params)`` for ``paginate(params=…)``.
    The statement and order are the very objects every call of this shape gets, so the statements
    ``paginate`` derives from them are built once too."""
    values = {"label": label, "category": category, "channel": channel, "source": source}
    shape = {k: _given(v) for k, v in values.items()} | {"since": since is not None, "until": until is not None}
    stmt, order = _articles_shape(**shape, sort=sort, scored_only=scored_only, count_only=count_only,
                                  with_risk=with_risk, plain=plain)
    params = {"unit_ids": sorted(unit_ids), "since": since, "until": until} | values
    return stmt, order, {k: v for k, v in params.items() if k == "unit_ids" or shape[k]}


@lru_cache(maxsize=256)
def _articles_shape(*, label: bool, category: bool, channel: bool, source: bool, since: bool, until: bool,
                    sort: str, scored_only: bool, count_only: bool, with_risk: bool,
                    plain: bool) -> tuple[Select, Order]:
    return articles(unit_ids=bindparam("unit_ids", expanding=True), label=_bind("label", label),
                    category=_bind("category", category), channel=_bind("channel", channel),
                    source=_bind("source", source), since=_bind("since", since), until=_bind("until", until),
                    sort=sort, scored_only=scored_only, count_only=count_only, with_risk=with_risk, plain=plain)


def mentions(*, unit_ids: Collection[str], primary_only: bool = False, article_id: int | None = None,
             since: datetime | None = None, until: datetime | None = None) -> tuple[Select, Order]:
    """Mention rows (an article naming a unit) of ``unit_ids``, newest article first."""
    when = recency()
    stmt = (select(Mention, Article).join(Article, Article.id == Mention.article_id)
            .where(Mention.unit_id.in_(_one_of(unit_ids))))
    if primary_only:
        stmt = stmt.where(Mention.is_primary.is_(True))
    if article_id is not None:
        stmt = stmt.where(Mention.article_id == article_id)
    if since is not None:
        stmt = stmt.where(when >= since)
    if until is not None:
        stmt = stmt.where(when < until)
    return stmt, [(when, True), (Mention.id, True)]


def mentions_bound(*, unit_ids: Collection[str], primary_only: bool = False, article_id: int | None = None,
                   since: datetime | None = None, until: datetime | None = None
                   ) -> tuple[Select, Order, dict[str, Any]]:
    """:func:`mentions` built once per shape, and this call's values (see :func:`articles_bound`)."""
    given = {"article_id": article_id, "since": since, "until": until}
    shape = {k: v is not None for k, v in given.items()}
    stmt, order = _mentions_shape(primary_only=primary_only, **shape)
    return stmt, order, {"unit_ids": sorted(unit_ids)} | {k: v for k, v in given.items() if shape[k]}


@lru_cache(maxsize=64)
def _mentions_shape(*, primary_only: bool, article_id: bool, since: bool, until: bool) -> tuple[Select, Order]:
    return mentions(unit_ids=bindparam("unit_ids", expanding=True), primary_only=primary_only,
                    article_id=_bind("article_id", article_id), since=_bind("since", since),
                    until=_bind("until", until))


# What ``api.views.alert_read`` reads of an alert, as plain columns (``alerts(plain=True)``), and the row type
# carrying them under the attributes' own names so ``alert_read`` takes either it or an ``Alert``.
ALERT_COLUMNS = (Alert.id, Alert.story_id, Alert.unit_id, Alert.level, Alert.risk_score, Alert.category,
                 Alert.title, Alert.factors, Alert.status, Alert.created_at, Alert.updated_at, Alert.ack_due_at,
                 Alert.acknowledged_at, Alert.acknowledged_by, Alert.dismissed_reason, Alert.dismissed_at,
                 Alert.dismissed_by, Alert.escalation_step, Alert.incident_id)
AlertRow = namedtuple("AlertRow", [c.key for c in ALERT_COLUMNS])  # type: ignore[misc]


def alerts(*, unit_ids: Collection[str], status: str | None = None, level: str | None = None,
           sort: str = "urgent", plain: bool = False, above_ids: Collection[str] | None = None
           ) -> tuple[Select, Order]:
    """Alerts of ``unit_ids``. ``urgent``: open ones first by acknowledgement deadline, then the rest newest
    first (the dashboard's queue); ``time``: newest first; ``risk``: highest score first.

    ``plain``: the columns of :data:`ALERT_COLUMNS` (make each row an :data:`AlertRow`) instead of ``Alert``
    objects — a list only reads them, and building the objects was a good part of ``/api/v1/alerts``' CPU.
    ``above_ids``: see :func:`in_scope`."""
    stmt = ((select(*ALERT_COLUMNS) if plain else select(Alert))
            .where(in_scope(Alert.unit_id, Alert.story_id, unit_ids, above_ids)))
    if _given(status):
        stmt = stmt.where(Alert.status == status)
    if _given(level):
        stmt = stmt.where(Alert.level == level)
    if sort == "time":
        return stmt, [(Alert.created_at, True), (Alert.id, True)]
    if sort == "risk":
        return stmt, [(Alert.risk_score, True), (Alert.id, True)]
    return stmt, alert_queue_order()


def alerts_bound(*, unit_ids: Collection[str], status: str | None = None, level: str | None = None,
                 sort: str = "urgent", plain: bool = False, above_ids: Collection[str] = ()
                 ) -> tuple[Select, Order, dict[str, Any]]:
    """:func:`alerts` built once per shape, and this call's values (see :func:`articles_bound`)."""
    given = {"status": status, "level": level, "above_ids": sorted(above_ids) or None}
    shape = {k: _given(v) for k, v in given.items()}
    stmt, order = _alerts_shape(**shape, sort=sort, plain=plain)
    return stmt, order, {"unit_ids": sorted(unit_ids)} | {k: v for k, v in given.items() if shape[k]}


@lru_cache(maxsize=64)
def _alerts_shape(*, status: bool, level: bool, above_ids: bool, sort: str, plain: bool) -> tuple[Select, Order]:
    return alerts(unit_ids=bindparam("unit_ids", expanding=True), status=_bind("status", status),
                  level=_bind("level", level), sort=sort, plain=plain,
                  above_ids=_bind("above_ids", above_ids, expanding=True))


def alert_queue_order() -> Order:
    """The alert queue's order: open alerts first, by acknowledgement deadline (else creation time), then the rest;
    newest first within a deadline. Exactly the expressions of the index ``ix_alerts_queue`` (migration 0020), so a
    page of the queue walks that index instead of sorting every alert of the caller's units; the constants are
    written into the SQL (not bound) so the database can match the index whatever plan it caches."""
    is_open = case((Alert.status == literal_column("'open'"), literal_column("1")), else_=literal_column("0"))
    due = func.coalesce(Alert.ack_due_at, Alert.created_at)
    return [(is_open, True), (due, False), (Alert.created_at, True), (Alert.id, True)]


def incidents(*, unit_ids: Collection[str], statuses: list[str] | None = None, level: str | None = None,
              sort: str = "level") -> tuple[Select, Order]:
    """Incidents of ``unit_ids`` (neither checklists nor timelines loaded: ``views.incident_list_reads`` reads the
    few task and timeline columns a list needs in a query each, see ``api.queries.list_incidents``). ``level``: most
    severe first, then newest (the dashboard's order); ``time``: newest first."""
    # no checklists: the list reads only each task's status, key and deadline, and ``views.incident_list_reads``
    # reads those as plain rows (``incidents.queries.task_facts``); touching ``tasks`` here raises instead of
    # loading each incident's checklist one by one
    stmt = select(Incident).where(Incident.unit_id.in_(_one_of(unit_ids))).options(raiseload(Incident.tasks))
    if _given(statuses):
        stmt = stmt.where(Incident.status.in_(statuses))
    if _given(level):
        stmt = stmt.where(Incident.level == level)
    if sort == "time":
        return stmt, [(Incident.opened_at, True), (Incident.id, True)]
    return stmt, [(Incident.level, False), (Incident.opened_at, True), (Incident.id, True)]


def incidents_bound(*, unit_ids: Collection[str], statuses: list[str] | None = None, level: str | None = None,
                    sort: str = "level") -> tuple[Select, Order, dict[str, Any]]:
    """:func:`incidents` built once per shape, and this call's values (see :func:`articles_bound`); the statuses
    in the caller's order, as :func:`incidents` binds them."""
    shape = {"statuses": _given(statuses), "level": _given(level)}
    stmt, order = _incidents_shape(**shape, sort=sort)
    given = {"statuses": list(statuses or ()), "level": level}
    return stmt, order, {"unit_ids": sorted(unit_ids)} | {k: v for k, v in given.items() if shape[k]}


@lru_cache(maxsize=64)
def _incidents_shape(*, statuses: bool, level: bool, sort: str) -> tuple[Select, Order]:
    return incidents(unit_ids=bindparam("unit_ids", expanding=True),
                     statuses=_bind("statuses", statuses, expanding=True),  # type: ignore[arg-type]
                     level=_bind("level", level), sort=sort)


def stories(*, unit_ids: Collection[str], include_unattributed: bool, sort: str = "time",
            above_ids: Collection[str] | None = None) -> tuple[Select, Order]:
    """Stories about ``unit_ids`` (and those attributed to no unit, for whole-bank callers; ``above_ids``: see
    :func:`in_scope`). ``time``: most recently active first; ``risk``: highest current risk first."""
    cond = in_scope(Story.unit_id, Story.id, unit_ids, above_ids)
    if include_unattributed:
        cond = cond | Story.unit_id.is_(None)
    if sort == "risk":
        stmt = select(Story).outerjoin(CurrentRisk, CurrentRisk.story_id == Story.id).where(cond)
        return stmt, [(func.coalesce(CurrentRisk.score, 0.0), True), (Story.last_seen_at, True), (Story.id, True)]
    return select(Story).where(cond), [(Story.last_seen_at, True), (Story.id, True)]


def stories_bound(*, unit_ids: Collection[str], include_unattributed: bool, sort: str = "time",
                  above_ids: Collection[str] = ()) -> tuple[Select, Order, dict[str, Any]]:
    """:func:`stories` built once per shape, and this call's values (see :func:`articles_bound`)."""
    stmt, order = _stories_shape(include_unattributed=include_unattributed, sort=sort, above=bool(above_ids))
    return stmt, order, {"unit_ids": sorted(unit_ids)} | ({"above_ids": sorted(above_ids)} if above_ids else {})


@lru_cache(maxsize=16)
def _stories_shape(*, include_unattributed: bool, sort: str, above: bool) -> tuple[Select, Order]:
    return stories(unit_ids=bindparam("unit_ids", expanding=True), include_unattributed=include_unattributed,
                   sort=sort, above_ids=_bind("above_ids", above, expanding=True))


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
