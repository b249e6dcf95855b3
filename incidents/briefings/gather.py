"""What a briefing is drafted from: reads over articles, mentions, stories, incidents, clocks, statements, reports.

Two shapes: ``incident_material`` (one case and its story, as of a moment) and ``period_material`` (every mention
and case of a day or a week). Both return plain dataclasses, so drafting is pure and testable without a database,
and both read in a handful of queries whatever the volume (a 10,000-mention day is one article query).

A mention's time is its publish time, or the time it was fetched when the source gave none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from crawlers.health import SourceHealth, health_report
from crawlers.models import Article, Channel, Mention, SourceState, Story
from crawlers.sources import SourceConfig
from incidents import queries
from incidents.clocks import ReportingClock, compute_clocks
from incidents.models import (
    Alert,
    Incident,
    IncidentReport,
    IncidentReview,
    LeadershipAcknowledgement,
    Statement,
    StatementStatus,
    StatementVersion,
    Task,
)
from incidents.policy import Policy
from sentiment.models import Classification, StoryRisk


@dataclass(frozen=True)
class Item:
    """One article as a briefing sees it."""

    id: int
    title: str
    text: str
    url: str
    source_id: str
    channel: str
    author: str | None
    published_at: datetime | None
    fetched_at: datetime
    evidence_hash: str
    metrics: dict
    unit_id: str | None  # the primary mention's unit
    label: str | None  # negative | neutral | positive | None (not classified yet)
    story_id: int | None
    is_duplicate: bool = False

    @property
    def at(self) -> datetime:
        return self.published_at or self.fetched_at

    @property
    def engagement(self) -> int:
        m = self.metrics or {}
        return sum(int(m.get(k) or 0) for k in ("reposts", "comments", "likes", "reads", "views"))


@dataclass(frozen=True)
class LevelStep:
    level: str
    at: datetime
    reason: str
    actor: str


@dataclass(frozen=True)
class PublishedStatement:
    kind: str
    published_at: datetime
    where: str
    url: str | None
    text: str


@dataclass
class IncidentMaterial:
    incident: Incident
    alert: Alert | None
    story: Story | None
    items: list[Item]  # the story's articles, oldest first
    level_history: list[LevelStep]
    tasks: list[Task]
    statements: list[PublishedStatement]
    reports: list[IncidentReport]
    leader_acks: list[LeadershipAcknowledgement]
    reviews: list[IncidentReview]
    risk: StoryRisk | None
    clocks: list[ReportingClock]
    as_of: datetime
    complainant_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IncidentRow:
    id: int
    number: str
    title: str
    unit_id: str
    level: str
    status: str
    category: str
    opened_at: datetime
    closed_at: datetime | None
    clocks: tuple[ReportingClock, ...]
    leader_acked: bool


@dataclass(frozen=True)
class SourceLine:
    health: SourceHealth | None
    source_id: str
    name: str
    items_in_period: int


@dataclass
class PeriodMaterial:
    start: datetime
    end: datetime
    items: list[Item]
    previous_total: int
    previous_negative: int
    stories: dict[int, Story]
    story_risks: dict[int, StoryRisk]
    incidents_new: list[IncidentRow]
    incidents_open: list[IncidentRow]
    incidents_closed: list[IncidentRow]
    sources: list[SourceLine]
    as_of: datetime
    complainant_names: list[str] = field(default_factory=list)
    leadership: list[IncidentRow] = field(default_factory=list)  # cases this report tells leadership about

    @property
    def incidents_all(self) -> list[IncidentRow]:
        seen: dict[int, IncidentRow] = {}
        for row in [*self.incidents_new, *self.incidents_open, *self.incidents_closed]:
            seen.setdefault(row.id, row)
        return sorted(seen.values(), key=lambda r: (r.opened_at, r.id))


def incident_material(session: Session, incident: Incident, *, policy: Policy, now: datetime) -> IncidentMaterial:
    """Everything a 专报 of ``incident`` may say, as of ``now`` (nothing later is read)."""
    alert = session.scalar(select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id).limit(1))
    story = session.get(Story, incident.story_id) if incident.story_id else None
    items = _items(session, [Article.story_id == story.id] if story else [Article.id.is_(None)], until=now)
    history: list[LevelStep] = []
    for ev in incident.events:
        if ev.at > now:
            continue
        if ev.kind == "opened":
            history.append(LevelStep(str(ev.data.get("level", incident.level)), ev.at, "立案", ev.actor))
        elif ev.kind == "level_changed" and ev.data.get("to"):
            history.append(LevelStep(str(ev.data["to"]), ev.at, str(ev.data.get("reason") or ""), ev.actor))
    if not history:
        history = [LevelStep(incident.level, incident.opened_at, "立案", "system")]
    statements = []
    for st in session.scalars(select(Statement).where(Statement.incident_id == incident.id,
                                                      Statement.status == StatementStatus.published,
                                                      Statement.published_at <= now)
                              .order_by(Statement.published_at)):
        version = session.scalar(select(StatementVersion).where(
            StatementVersion.statement_id == st.id,
            StatementVersion.number == (st.published_version or st.current_version)))
        statements.append(PublishedStatement(kind=st.kind, published_at=st.published_at, where=st.published_where or "",
                                             url=st.published_url, text=version.text if version else ""))
    risk = None
    if story is not None:
        risk = session.scalar(select(StoryRisk).where(StoryRisk.story_id == story.id, StoryRisk.computed_at <= now)
                              .order_by(StoryRisk.computed_at.desc(), StoryRisk.id.desc()).limit(1))
    return IncidentMaterial(
        incident=incident, alert=alert, story=story, items=items, level_history=history,
        tasks=list(incident.tasks), statements=statements,
        reports=[r for r in queries.reports_of(session, incident.id) if r.filed_at <= now],
        leader_acks=[a for a in queries.leadership_acks_of(session, incident.id) if a.at <= now],
        reviews=[r for r in queries.reviews_of(session, incident.id) if r.filed_at <= now], risk=risk,
        clocks=compute_clocks(queries.incident_facts(session, incident), policy=policy, now=now), as_of=now,
        complainant_names=complainant_names(session))


def period_material(session: Session, *, start: datetime, end: datetime, previous_start: datetime,
                    policy: Policy, now: datetime, sources: Sequence[SourceConfig] | None = None,
                    unit_ids: Iterable[str] | None = None, kind: str = "daily") -> PeriodMaterial:
    """Every mention in [start, end) (and the totals of [previous_start, start) for the trend), the cases opened,
    running and closed in it, and the health of the sources. ``unit_ids`` restricts to some units."""
    units = set(unit_ids) if unit_ids is not None else None
    items = _items(session, [_in_window(start, end)], until=None)
    if units is not None:
        items = [i for i in items if i.unit_id in units]
    prev = _items(session, [_in_window(previous_start, start)], until=None)
    if units is not None:
        prev = [i for i in prev if i.unit_id in units]
    story_ids = sorted({i.story_id for i in items if i.story_id is not None})
    stories = {s.id: s for s in session.scalars(select(Story).where(Story.id.in_(story_ids)))} if story_ids else {}
    risks: dict[int, StoryRisk] = {}
    if story_ids:
        for r in session.scalars(select(StoryRisk).where(StoryRisk.story_id.in_(story_ids), StoryRisk.computed_at < end)
                                 .order_by(StoryRisk.computed_at, StoryRisk.id)):
            risks[r.story_id] = r
    inc_q = select(Incident).where(Incident.opened_at < end).order_by(Incident.opened_at, Incident.id)
    if units is not None:
        inc_q = inc_q.where(Incident.unit_id.in_(sorted(units)))
    new, running, closed = [], [], []
    for inc in session.scalars(inc_q):
        row = _incident_row(session, inc, policy=policy, now=min(now, end))
        if start <= inc.opened_at < end:
            new.append(row)
        if inc.closed_at is not None and start <= inc.closed_at < end:
            closed.append(row)
        elif inc.closed_at is None or inc.closed_at >= end:
            running.append(row)
    counts = dict(session.execute(select(Article.source_id, func.count()).where(
        Article.fetched_at >= start, Article.fetched_at < end).group_by(Article.source_id)).all())
    lines: list[SourceLine] = []
    if sources is not None:
        for h in health_report(session, sources, now):
            lines.append(SourceLine(h, h.source_id, h.name, int(counts.get(h.source_id, 0))))
    else:
        for st in session.scalars(select(SourceState).order_by(SourceState.source_id)):
            lines.append(SourceLine(None, st.source_id, st.source_id, int(counts.get(st.source_id, 0))))
    leadership = [_incident_row(session, inc, policy=policy, now=now)
                  for inc in listed_incidents(session, policy=policy, kind=kind, at=now, unit_ids=units)]
    return PeriodMaterial(
        start=start, end=end, items=items, previous_total=len(prev),
        previous_negative=sum(1 for i in prev if i.label == "negative"), stories=stories, story_risks=risks,
        incidents_new=new, incidents_open=running, incidents_closed=closed, sources=lines, as_of=now,
        complainant_names=complainant_names(session), leadership=leadership)


def leadership_levels(policy: Policy, kind: str) -> list[str]:
    """The levels whose leadership is told by the ``kind`` (daily | weekly) report: ``leadership_notify_minutes``
    in levels.yaml (III: daily, IV: weekly by default)."""
    return [lv.code for lv in policy.levels_file.levels if lv.leadership_notify_minutes == kind]


def listed_incidents(session: Session, *, policy: Policy, kind: str, at: datetime,
                     unit_ids: Iterable[str] | None = None) -> list[Incident]:
    """The cases a ``kind`` report made at ``at`` tells leadership about: of its levels, opened by then, running or
    closed but not yet reviewed."""
    levels = leadership_levels(policy, kind)
    if not levels:
        return []
    rows = session.scalars(select(Incident).where(Incident.level.in_(levels), Incident.opened_at <= at,
                                                  Incident.status != "reviewed")
                           .order_by(Incident.opened_at, Incident.id))
    units = set(unit_ids) if unit_ids is not None else None
    return [i for i in rows if units is None or i.unit_id in units]


def latest_activity(session: Session) -> datetime | None:
    """The time of the newest relevant mention (for "the latest day that has data")."""
    at = session.scalar(select(func.max(func.coalesce(Article.published_at, Article.fetched_at)))
                        .where(Article.id.in_(select(Mention.article_id))))
    if isinstance(at, str):  # SQLite hands back coalesced datetimes as text
        at = datetime.fromisoformat(at)
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at


def latest_record(session: Session) -> datetime | None:
    """The newest moment anything was recorded (an article fetched, a timeline event)."""
    from incidents.models import TimelineEvent

    found = [session.scalar(select(func.max(Article.fetched_at))), session.scalar(select(func.max(TimelineEvent.at)))]
    found = [datetime.fromisoformat(a) if isinstance(a, str) else a for a in found if a is not None]
    return max((a if a.tzinfo else a.replace(tzinfo=UTC) for a in found), default=None)


def recent_item_times(session: Session, *, since: datetime, until: datetime) -> list[datetime]:
    """The times of the relevant mentions in [since, until]."""
    q = (select(Article.published_at, Article.fetched_at)
         .where(Article.id.in_(select(Mention.article_id)), _in_window(since, until)))
    return [p or f for p, f in session.execute(q)]


def complainant_names(session: Session) -> list[str]:
    """Authors of complaint-channel posts: the complainants, whose names every report masks."""
    return [a for a in session.scalars(select(Article.author).where(Article.channel == Channel.complaint,
                                                                     Article.author.is_not(None)).distinct()) if a]


# --- helpers ---------------------------------------------------------------------------------------------------

def _in_window(start: datetime, end: datetime):
    return or_(and_(Article.published_at >= start, Article.published_at < end),
               and_(Article.published_at.is_(None), Article.fetched_at >= start, Article.fetched_at < end))


def _items(session: Session, where: list, *, until: datetime | None) -> list[Item]:
    """Relevant articles (those with a primary mention) matching ``where``, oldest first, with their label. Reads
    only the columns a briefing uses (no ORM objects): a 10,000-mention day is one light query."""
    a = Article
    q = (select(a.id, a.title, a.text, a.url, a.source_id, a.channel, a.author, a.published_at, a.fetched_at,
                a.content_hash, a.metrics, Mention.unit_id, Classification.label, a.story_id, a.is_duplicate)
         .join(Mention, and_(Mention.article_id == a.id, Mention.is_primary.is_(True)))
         .outerjoin(Classification, Classification.article_id == a.id)
         .where(*where))
    if until is not None:
        q = q.where(a.fetched_at <= until)
    out = [Item(id=r[0], title=r[1] or "", text=r[2] or "", url=r[3], source_id=r[4], channel=r[5], author=r[6],
                published_at=r[7], fetched_at=r[8], evidence_hash=r[9], metrics=dict(r[10] or {}), unit_id=r[11],
                label=r[12], story_id=r[13], is_duplicate=bool(r[14]))
           for r in session.execute(q)]
    out.sort(key=lambda i: (i.at, i.id))
    return out


def _incident_row(session: Session, inc: Incident, *, policy: Policy, now: datetime) -> IncidentRow:
    clocks = compute_clocks(queries.incident_facts(session, inc), policy=policy, now=now)
    acked = session.scalar(select(func.count()).select_from(LeadershipAcknowledgement)
                           .where(LeadershipAcknowledgement.incident_id == inc.id)) or 0
    return IncidentRow(id=inc.id, number=inc.number, title=inc.title, unit_id=inc.unit_id, level=inc.level,
                       status=inc.status, category=inc.category, opened_at=inc.opened_at, closed_at=inc.closed_at,
                       clocks=tuple(clocks), leader_acked=acked > 0)
