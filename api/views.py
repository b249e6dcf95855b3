"""Builds the read models of ``api.schemas`` from database rows, the org chart and the clock.

The JSON routes return these models and the dashboard templates render the very same ones, so a page and the API
can never show different facts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from api import present, queries
from api.listings import AlertRow
from api.schemas import (
    ActionItemRead,
    AlertRead,
    AppliedPlaybookRead,
    ArticleRead,
    ClockRead,
    FactorRead,
    IncidentComplaintRead,
    IncidentListRead,
    IncidentRead,
    LeaderAckRead,
    MentionListRead,
    RegulatorReportRead,
    ReportRead,
    ResurgenceRead,
    ReviewRead,
    RiskRead,
    SourceRead,
    StoryListRead,
    StoryRead,
    TaskRead,
    TimelineEventRead,
    UnitRef,
)
from crawlers.health import health_report
from crawlers.models import PUBLISHED_LOCAL_KEY, Article, Mention, SourceState, Story
from crawlers.sources import SourceConfig
from crawlers.timewindow import SHANGHAI
from incidents import action_items, playbooks, regulators, resurgence
from incidents import queries as incident_queries
from incidents.clocks import IncidentFacts, compute_clocks
from incidents.complaints.links import incident_complaints
from incidents.models import (
    REPORT_KIND_LABELS,
    Alert,
    Incident,
    IncidentReport,
    IncidentReview,
    LeadershipAcknowledgement,
    RegulatorReport,
    ReportKind,
    Task,
)
from incidents.policy import Policy
from sentiment.models import Classification, StoryRisk
from yuqing.clock import Clock
from yuqing.org import ROLE_LABELS, OrgChart, Role

log = logging.getLogger(__name__)
SNIPPET_CHARS = 160


def unit_ref(org: OrgChart, unit_id: str) -> UnitRef:
    try:
        unit = org.unit(unit_id)
    except KeyError:
        return UnitRef(id=unit_id, name="未知单位")
    return UnitRef(id=unit.id, name=unit.short_name or unit.name)


def person_name(org: OrgChart, person_id: str | None) -> str | None:
    """The name of an org-chart person (user logins are person ids); 系统 for the system itself."""
    if not person_id:
        return None
    if person_id == "system":
        return "系统"
    try:
        return org.person(person_id).name
    except KeyError:
        return person_id


def factor_reads(factors: dict[str, Any] | None) -> list[FactorRead]:
    return [FactorRead(key=r.key, label=r.label, value=r.value, reason=r.reason)
            for r in present.factor_rows(factors)]


def risk_read(risk: StoryRisk | None) -> RiskRead | None:
    if risk is None:
        return None
    return RiskRead(score=risk.score, level=risk.level, level_name=present.level_name(risk.level),
                    category=risk.category, category_name=present.category_name(risk.category),
                    computed_at=risk.computed_at, factors=factor_reads(risk.factors))


def snippet(article: Article, mention: Mention | None) -> str:
    if mention is not None and mention.snippet:
        return mention.snippet
    return (article.text or "")[:SNIPPET_CHARS]


def page_time(published_at: datetime | None, published_local: str | None) -> datetime | None:
    """The publish instant in the zone the page gave it (``meta[PUBLISHED_LOCAL_KEY]``, written when the article was
    stored), else in Beijing time: the column keeps only the UTC instant."""
    if published_at is None:
        return None
    if published_local:
        try:
            local = datetime.fromisoformat(published_local)
        except ValueError:
            local = None
        if local is not None and local.tzinfo is not None and local == published_at:
            return local
    return published_at.astimezone(SHANGHAI)


def article_read(article: Article, classification: Classification | None, mention: Mention | None) -> ArticleRead:
    c = classification
    return ArticleRead(
        id=article.id, title=article.title or "（无标题）", url=article.url, source_id=article.source_id,
        channel=article.channel, channel_name=present.label(present.CHANNEL_LABELS, article.channel),
        author=article.author, published_at=article.published_at,
        published_local=page_time(article.published_at, (article.meta or {}).get(PUBLISHED_LOCAL_KEY)),
        fetched_at=article.fetched_at,
        snippet=snippet(article, mention),
        label=c.label if c else None, label_name=present.label(present.SENTIMENT_LABELS, c.label) if c else None,
        negative_prob=c.negative_prob if c else None, category=c.category if c else None,
        category_name=present.category_name(c.category) if c else None, is_duplicate=article.is_duplicate)


def mention_reads(org: OrgChart, rows: Iterable[queries.FeedRow]) -> list[MentionListRead]:
    out = []
    for row in rows:
        a, c, r = row.article, row.classification, row.risk
        out.append(MentionListRead(
            article_id=a.id, title=a.title or "（无标题）", url=a.url, source_id=a.source_id, channel=a.channel,
            channel_name=present.label(present.CHANNEL_LABELS, a.channel), published_at=a.published_at,
            fetched_at=a.fetched_at, unit=unit_ref(org, row.mention.unit_id), snippet=snippet(a, row.mention),
            label=c.label if c else None,
            label_name=present.label(present.SENTIMENT_LABELS, c.label) if c else None,
            negative_prob=c.negative_prob if c else None, category=c.category if c else None,
            category_name=present.category_name(c.category) if c else None, story_id=a.story_id,
            risk_score=r.score if r else None, risk_level=r.level if r else None,
            risk_level_name=present.level_name(r.level) if r and r.level else None))
    return out


def feed_reads(org: OrgChart, rows: Iterable[Sequence[Any]],
               best: dict[int, tuple[str, str | None]]) -> list[MentionListRead]:
    """``mention_reads`` from plain rows: ``rows`` in the column order of ``api.listings.feed_columns`` and each
    article's mention to show from ``api.queries.best_mention_rows`` (an article without one is left out, as there).
    The fields and their fallbacks are exactly ``mention_reads``' (the text head stands for ``article.text``)."""
    out = []
    for (article_id, title, url, source_id, channel, published_at, fetched_at, story_id, text_head, label,
         negative_prob, category, risk_score, risk_level) in rows:
        shown = best.get(article_id)
        if shown is None:
            continue
        unit_id, mention_snippet = shown
        out.append(MentionListRead(
            article_id=article_id, title=title or "（无标题）", url=url, source_id=source_id, channel=channel,
            channel_name=present.label(present.CHANNEL_LABELS, channel), published_at=published_at,
            fetched_at=fetched_at, unit=unit_ref(org, unit_id), snippet=mention_snippet or text_head or "",
            label=label, label_name=present.label(present.SENTIMENT_LABELS, label) if label is not None else None,
            negative_prob=negative_prob, category=category,
            category_name=present.category_name(category) if label is not None else None, story_id=story_id,
            risk_score=risk_score, risk_level=risk_level,
            risk_level_name=present.level_name(risk_level) if risk_level else None))
    return out


def story_list_reads(session: Session, org: OrgChart, stories: list[Story]) -> list[StoryListRead]:
    risks = queries.latest_risks(session, [s.id for s in stories])
    return [_story_list_read(org, s, risks.get(s.id)) for s in stories]


def story_read(session: Session, org: OrgChart, story: Story) -> StoryRead:
    """A story with its articles (the evidence), first source first."""
    risk = queries.latest_risks(session, [story.id]).get(story.id)
    arts = list(story.articles)
    ids = [a.id for a in arts]
    cls = queries.classifications(session, ids)
    mentions = queries.best_mentions(session, ids)
    base = _story_list_read(org, story, risk)
    return StoryRead(**base.model_dump(), articles=[article_read(a, cls.get(a.id), mentions.get(a.id))
                                                    for a in arts])


def story_detail(session: Session, org: OrgChart, story: Story) -> StoryRead:
    """``story_read`` from plain rows (``queries.story_article_rows``, ``queries.best_mention_rows``) for a story
    whose articles are not loaded: the same model, field by field (the API's story and the incident page; the
    dashboard's story page keeps ``story_read``, as it reads more of each article)."""
    risk = queries.latest_risks(session, [story.id]).get(story.id)
    rows = queries.story_article_rows(session, story_id=story.id)
    shown = queries.best_mention_rows(session, [r.id for r in rows], None)
    base = _story_list_read(org, story, risk)
    return StoryRead(**base.model_dump(), articles=[article_row_read(r, shown.get(r.id)) for r in rows])


def article_row_read(row: queries.StoryArticleRow, mention: tuple[str, str | None] | None) -> ArticleRead:
    """``article_read`` of a plain row and its mention's ``(unit_id, snippet)``: the same fields and fallbacks (the
    text head stands for ``article.text``)."""
    snippet_text = mention[1] if mention is not None and mention[1] else (row.text_head or "")
    known = row.label is not None  # a classification row exists (its label is never NULL)
    return ArticleRead(
        id=row.id, title=row.title or "（无标题）", url=row.url, source_id=row.source_id, channel=row.channel,
        channel_name=present.label(present.CHANNEL_LABELS, row.channel), author=row.author,
        published_at=row.published_at, published_local=page_time(row.published_at, row.published_local),
        fetched_at=row.fetched_at, snippet=snippet_text,
        label=row.label, label_name=present.label(present.SENTIMENT_LABELS, row.label) if known else None,
        negative_prob=row.negative_prob, category=row.category,
        category_name=present.category_name(row.category) if known else None, is_duplicate=row.is_duplicate)


def _story_list_read(org: OrgChart, story: Story, risk: StoryRisk | None) -> StoryListRead:
    return StoryListRead(id=story.id, title=story.title, unit=unit_ref(org, story.unit_id) if story.unit_id else None,
                         first_seen_at=story.first_seen_at, last_seen_at=story.last_seen_at,
                         article_count=story.article_count, risk=risk_read(risk))


def task_read(org: OrgChart, task: Task, now: datetime) -> TaskRead:
    role_name = ROLE_LABELS[Role(task.owner_role)] if task.owner_role in Role.__members__ else task.owner_role
    overdue = task.status == "todo" and task.due_at is not None and task.due_at < now
    return TaskRead(id=task.id, incident_id=task.incident_id, position=task.position, key=task.key,
                    title=task.title, owner_role=task.owner_role, owner_role_name=role_name, owner_id=task.owner_id,
                    owner_name=person_name(org, task.owner_id), due_at=task.due_at, overdue=overdue,
                    status=task.status, status_name=present.label(present.TASK_STATUS_LABELS, task.status),
                    done_at=task.done_at, done_by=task.done_by,
                    done_by_name=person_name(org, task.done_by), note=task.note or "")


def alert_read(org: OrgChart, alert: Alert | AlertRow, now: datetime) -> AlertRead:
    """An alert, from its object or from the plain row of a list (``api.listings.AlertRow``)."""
    # an escalated alert missed its first deadline, whatever ack_due_at (the next step's time) says now
    overdue = alert.status == "open" and (bool(alert.escalation_step)
                                          or (alert.ack_due_at is not None and alert.ack_due_at < now))
    return AlertRead(
        id=alert.id, story_id=alert.story_id, unit=unit_ref(org, alert.unit_id), level=alert.level,
        level_name=present.level_name(alert.level), risk_score=alert.risk_score, category=alert.category,
        category_name=present.category_name(alert.category), title=alert.title, status=alert.status,
        status_name=present.label(present.ALERT_STATUS_LABELS, alert.status), created_at=alert.created_at,
        updated_at=alert.updated_at, ack_due_at=alert.ack_due_at, ack_overdue=overdue,
        escalation_step=alert.escalation_step or 0, acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_by_name=person_name(org, alert.acknowledged_by),
        dismissed_reason=alert.dismissed_reason, dismissed_at=alert.dismissed_at,
        dismissed_by=alert.dismissed_by, dismissed_by_name=person_name(org, alert.dismissed_by),
        incident_id=alert.incident_id, factors=factor_reads(alert.factors))


def incident_list_reads(session: Session, org: OrgChart, incidents: list[Incident], *, policy: Policy | None,
                        clock: Clock) -> list[IncidentListRead]:
    # the checklists as plain (key, status, due_at) rows in one query: (total, done) and the step deadlines are all
    # a list reads of them, and building some 400 ORM task objects was a third of the incident page's CPU
    tasks = incident_queries.task_facts(session, [i.id for i in incidents])
    counts = {i: (len(ts), sum(1 for _, status, _ in ts if status == "done")) for i, ts in tasks.items()}
    flags = resurgence.active_flags(session, incidents)
    # every incident's clock facts in a fixed number of queries, not six per incident (the list's cost at scale)
    facts = incident_queries.incidents_facts(session, incidents, tasks) if policy is not None else {}
    return [_incident_list_read(session, org, i, counts.get(i.id, (0, 0)), policy=policy, clock=clock,
                                flag=flags.get(i.id), facts=facts.get(i.id)) for i in incidents]


def incident_read(session: Session, org: OrgChart, incident: Incident, *, policy: Policy | None,
                  clock: Clock) -> IncidentRead:
    """The full incident page: clocks, checklist, timeline, evidence and why it was raised."""
    now = clock.now()
    tasks = list(incident.tasks)
    counts = (len(tasks), sum(1 for t in tasks if t.status == "done"))
    # the reports, acknowledgements, reviews and reports to authorities are shown below and stop the clocks: read
    # once, and the clock facts built from them and the loaded timeline and checklist (five queries fewer)
    filed = incident_queries.reports_of(session, incident.id)
    acks = incident_queries.leadership_acks_of(session, incident.id)
    reviews = incident_queries.reviews_of(session, incident.id)
    to_regulators = regulators.reports_of(session, incident.id)
    facts = (incident_queries.incident_facts_from(incident, reports=filed, acks=acks, reviews=reviews,
                                                  regulator_reports=to_regulators) if policy is not None else None)
    base = _incident_list_read(session, org, incident, counts, policy=policy, clock=clock,
                               flag=resurgence.active_flag(incident), facts=facts)
    alert = queries.alert_for_incident(session, incident_id=incident.id)
    story = session.get(Story, incident.story_id) if incident.story_id else None
    story_model = story_detail(session, org, story) if story is not None else None
    if story_model is not None and story_model.risk is not None and story_model.risk.factors:
        factors = story_model.risk.factors
    else:
        factors = factor_reads(alert.factors) if alert is not None else []
    return IncidentRead(
        **base.model_dump(), summary=incident.summary or "", playbook=incident.playbook,
        acknowledged_at=incident.acknowledged_at, closed_at=incident.closed_at, commander_id=incident.commander_id,
        peak_risk=incident.peak_risk, alert_id=alert.id if alert else None,
        tasks=[task_read(org, t, now) for t in tasks],
        timeline=[TimelineEventRead(id=e.id, at=e.at, kind=e.kind, actor=e.actor,
                                    actor_name=person_name(org, e.actor) or e.actor, text=e.text)
                  for e in incident.events],
        story=story_model, factors=factors, reports=report_reads(session, org, incident, filed),
        leadership_acknowledgements=leader_ack_reads(session, org, incident, acks),
        reviews=review_reads(session, org, incident, now, reviews), reviewed_at=incident.reviewed_at,
        playbooks=playbook_reads(session, incident, policy),
        regulator_reports=[regulator_report_read(org, r) for r in to_regulators],
        complaints=[IncidentComplaintRead(**c) for c in
                    incident_complaints(session, incident.id, policy=policy, now=now)] if policy is not None else [])


def _incident_list_read(session: Session, org: OrgChart, incident: Incident, counts: tuple[int, int], *,
                        policy: Policy | None, clock: Clock, flag: resurgence.ResurgenceFlag | None = None,
                        facts: IncidentFacts | None = None) -> IncidentListRead:
    return IncidentListRead(
        id=incident.id, number=incident.number, title=incident.title, level=incident.level,
        level_name=present.level_name(incident.level), unit=unit_ref(org, incident.unit_id),
        status=incident.status, status_name=present.label(present.INCIDENT_STATUS_LABELS, incident.status),
        category=incident.category, category_name=present.category_name(incident.category),
        opened_at=incident.opened_at, tasks_total=counts[0], tasks_done=counts[1],
        clocks=incident_clocks(session, incident, policy=policy, clock=clock, facts=facts),
        resurgence=resurgence_read(flag))


def resurgence_read(flag: resurgence.ResurgenceFlag | None) -> ResurgenceRead | None:
    if flag is None:
        return None
    return ResurgenceRead(at=flag.at, level=flag.level, level_name=present.level_name(flag.level), score=flag.score,
                          new_articles=flag.new_articles, first_source=flag.first_source, text=flag.text)


def incident_clocks(session: Session, incident: Incident, *, policy: Policy | None, clock: Clock,
                    facts: IncidentFacts | None = None) -> list[ClockRead]:
    """The incident's reporting clocks (确认, 报告领导, 初报, 续报…); none until a policy is loaded. ``facts``:
    the incident's clock facts when the caller read them for a whole list at once (``incidents_facts``)."""
    if policy is None:
        return []
    if facts is None:
        clocks = incident_queries.incident_clocks(session, incident=incident, policy=policy, clock=clock)
    else:
        clocks = compute_clocks(facts, policy=policy, now=clock.now())
    return [ClockRead(key=c.key, label=c.label, due_at=c.due_at, done_at=c.done_at, status=c.status,
                      overdue=c.status == "overdue", stopped_at=c.stopped_at, missed=c.missed) for c in clocks]


def report_reads(session: Session, org: OrgChart, incident: Incident,
                 rows: Sequence[IncidentReport] | None = None) -> list[ReportRead]:
    """``rows``: the incident's reports when the caller read them already (``incident_queries.reports_of``)."""
    rows = incident_queries.reports_of(session, incident.id) if rows is None else rows
    return [ReportRead(id=r.id, kind=r.kind, kind_name=REPORT_KIND_LABELS[ReportKind(r.kind)], version=r.version,
                       level=r.level, text=r.text, author=r.author, author_name=person_name(org, r.author) or r.author,
                       filed_at=r.filed_at) for r in rows]


def leader_ack_reads(session: Session, org: OrgChart, incident: Incident,
                     rows: Sequence[LeadershipAcknowledgement] | None = None) -> list[LeaderAckRead]:
    rows = incident_queries.leadership_acks_of(session, incident.id) if rows is None else rows
    return [LeaderAckRead(leader_id=a.leader_id, leader_name=person_name(org, a.leader_id) or a.leader_id,
                          level=a.level, note=a.note, at=a.at) for a in rows]


def playbook_reads(session: Session, incident: Incident, policy: Policy | None) -> list[AppliedPlaybookRead]:
    """Every checklist applied to the incident, in the order applied (incidents.playbooks)."""
    names = {p.id: p.name for p in policy.playbooks.values()} if policy is not None else {}
    return [AppliedPlaybookRead(id=a.playbook_id, name=names.get(a.playbook_id, a.playbook_id),
                                applied_at=a.applied_at, level=a.level, reason=a.reason)
            for a in playbooks.applied_of(session, incident)]


def regulator_report_read(org: OrgChart, r: RegulatorReport) -> RegulatorReportRead:
    """A report to the regulator or the central bank (the API's, the incident page's and the CLI's)."""
    return RegulatorReportRead(
        id=r.id, incident_id=r.incident_id, kind=r.kind, kind_name=regulators.REPORT_KINDS.get(r.kind, r.kind),
        recipient_key=r.recipient_key, recipient_name=r.recipient_name, method=r.method, reference=r.reference,
        text=r.text, level=r.level, reported_by=r.reported_by,
        reported_by_name=person_name(org, r.reported_by) or r.reported_by, reported_at=r.reported_at)


def review_reads(session: Session, org: OrgChart, incident: Incident, now: datetime | None = None,
                 rows: Sequence[IncidentReview] | None = None) -> list[ReviewRead]:
    rows = incident_queries.reviews_of(session, incident.id) if rows is None else rows
    return [ReviewRead(
        id=r.id, author=r.author, author_name=person_name(org, r.author) or r.author, filed_at=r.filed_at,
        closed_at=r.closed_at, first_post_at=r.first_post_at, seconds_to_detect=r.seconds_to_detect,
        seconds_to_acknowledge=r.seconds_to_acknowledge, seconds_to_leadership=r.seconds_to_leadership,
        seconds_to_statement=r.seconds_to_statement, seconds_to_close=r.seconds_to_close, text=r.text,
        went_well=r.went_well, went_badly=r.went_badly,
        action_items=[ActionItemRead(id=i.id, title=i.title, owner_id=i.owner_id,
                                     owner_name=person_name(org, i.owner_id) or i.owner_id, due_at=i.due_at,
                                     done_at=i.done_at,
                                     overdue=now is not None and action_items.is_overdue(i, now))
                      for i in r.action_items]) for r in rows]


def source_reads(session: Session, sources: Sequence[SourceConfig], now: datetime) -> list[SourceRead]:
    """Health of each configured source, judged once, by the crawling stage's own rules."""
    out = []
    for h in health_report(session, sources, now):
        state = session.get(SourceState, h.source_id)
        out.append(SourceRead(
            source_id=h.source_id, name=h.name, health=h.status, health_name=h.label, reason=h.reason,
            last_run_at=h.last_run_at, last_success_at=h.last_success_at, last_new_item_at=h.last_new_item_at,
            last_error=h.last_error, last_error_at=state.last_error_at if state else None,
            consecutive_failures=h.consecutive_failures, runs=(state.runs or 0) if state else 0,
            items_last_run=(state.items_last_run or 0) if state else 0, items_total=h.items_total,
            next_poll_at=h.next_poll_at))
    return out
