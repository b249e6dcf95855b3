"""Complaints and incidents as one case: link, raise, complaint-board posts, and the complaint steps of an incident.

A complaint that goes viral is ONE case: the complaint (its customer, its clocks counted from receipt) is linked to
the incident the media side runs (its level, reporting chain, statements). This module is the only place that
joins them:

* :func:`link_incident` — link a complaint to an incident. The incident gets the complaint steps (the
  ``viral_complaint`` playbook joins if it had not) and, while a complaint is linked, those steps' deadlines are
  the complaint's own, counted from its receipt (the 48 h "contact the complainant" task is due at the complaint's
  contact deadline) and they are ticked by the complaint's record (registered, contacted, preliminary solution,
  resolved, return visit) — :func:`sync_incident_tasks`.
* :func:`raise_incident` — open an incident from a complaint (a 紧急 one, or one spreading): an internal-report
  story and an alert at the level ``incident_levels`` gives its severity, through the normal opening code (the
  level's reporting chain is told), then linked.
* :func:`complaints_from_board_posts` — a crawled complaint-board post (``channel: complaint``) that names a unit
  becomes a complaint (channel 网络发帖, received when it was published) once, whatever the re-polls and
  restarts (``article_id`` is unique and the idempotency key is the article's); :func:`link_board_complaints` links
  it to the incident its story opens, now or later.
* :func:`incident_complaints` — what an incident page shows: its complaints with their clocks.

An internal-report story (:func:`internal_story`) is how something nobody crawled gets a story, which alerts need:
its article's source is ``internal_report`` (shown as 内部报告), its address ``internal://…`` (never a link), and
it is created already scored, so no pipeline stage re-reads it as crawled text.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from crawlers.models import Article, ArticleStage, Channel, Mention, Story
from incidents.clocks import policy_calendar
from incidents.complaints.clocks import CLOCK_STATE_LABELS, clocks, deadlines
from incidents.complaints.flows import ComplaintError, ComplaintInput, create_complaint, get_complaint
from incidents.complaints.masking import mask_complaint_text
from incidents.complaints.models import (
    SEVERITY_LABELS,
    STATUS_LABELS,
    Complaint,
    ComplaintChannel,
    ComplaintEvent,
    Severity,
)
from incidents.complaints.queries import _unit_name
from incidents.complaints.scheduled import tell_leadership
from incidents.lifecycle import ENDED
from incidents.messages import local_time, plain_line
from incidents.models import Alert, Incident, Task, TaskStatus, TimelineEvent
from incidents.playbooks import AppliedPlaybook, applied_of, change_text, replan
from incidents.policy import Policy
from incidents.queries import INCIDENTS_WITH_TASKS
from incidents.round_skips import NEVER, not_before
from sentiment.models import Classification, StoryRisk
from sentiment.risk import RiskConfig
from yuqing import audit_chain
from yuqing.categories import CATEGORIES, category_label
from yuqing.clock import Clock, ensure_utc
from yuqing.org import OrgChart, Role

log = logging.getLogger(__name__)

SYSTEM = "system"
# Who may make a complaint and an incident one case (link it, or raise an incident from it) — the CLI, the API and
# the dashboard alike, for a complaint (and incident) in their scope: the duty monitor and the admin, who open
# incidents from alerts (api.actions.INCIDENT_OPENERS), and the commander and leaders, who run the case.
CASE_ROLES = frozenset({Role.monitor, Role.commander, Role.leader, Role.admin})
INTERNAL_SOURCE = "internal_report"
INTERNAL_SOURCE_NAME = "内部报告"
COMPLAINT_PLAYBOOK = "viral_complaint"
TEXT_LIMIT = 20000
# incident task key -> (complaint deadline it takes, what on the complaint record completes it)
_STEP_CLOCKS = {"register_complaint": "entry", "contact_complainant": "contact", "preliminary_solution": "resolve",
                "resolve_case": "resolve", "return_visit": None}


# --- link and raise ---------------------------------------------------------------------------------------------

def may_join_cases(roles: Iterable[str]) -> bool:
    """Whether someone with ``roles`` may link a complaint to an incident or raise one from it (``CASE_ROLES``;
    the scope check is the caller's)."""
    allowed = {r.value for r in CASE_ROLES}
    return any(str(r) in allowed for r in roles)


def link_incident(session: Session, complaint_id: int, incident_id: int, *, actor: str, clock: Clock,
                  org: OrgChart, policy: Policy) -> Complaint:
    """Link a complaint to an incident (one case): both timelines say so, the incident gets the complaint steps
    counted from the complaint's receipt. Linking again to the same incident changes nothing; a complaint already
    linked elsewhere is refused (one complaint, one case)."""
    c = get_complaint(session, complaint_id)
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise ComplaintError(f"incident {incident_id} not found", f"事件不存在（编号 {incident_id}）",
                             field="incident_id", code="not_found")
    if c.incident_id == incident.id:
        return c
    if c.incident_id is not None:
        other = session.get(Incident, c.incident_id)
        number = other.number if other else c.incident_id
        raise ComplaintError(f"complaint {c.number} is already linked to incident {number}",
                             f"投诉 {c.number} 已关联事件 {number}", field="incident_id", code="conflict")
    _link(session, c, incident, actor=actor, now=clock.now(), org=org, policy=policy)
    return c


def _link(session: Session, c: Complaint, incident: Incident, *, actor: str, now: datetime, org: OrgChart,
          policy: Policy) -> None:
    c.incident_id = incident.id
    c.updated_at = now
    who = "系统" if actor == SYSTEM else actor
    session.add(ComplaintEvent(complaint=c, at=now, kind="incident_linked", actor=actor,
                               text=f"{who}将投诉关联到舆情事件 {incident.number}（{plain_line(incident.title, 60)}）",
                               data={"incident_id": incident.id, "number": incident.number}))
    label = SEVERITY_LABELS.get(c.severity, c.severity)
    session.add(TimelineEvent(
        incident=incident, at=now, kind="complaint_linked", actor=actor,
        text=f"{who}关联客户投诉 {c.number}（{label}，{category_label(c.category)}，"
             f"受理于 {local_time(c.received_at, policy.timezone)}）：投诉处理步骤与时限自受理时起算",
        data={"complaint_id": c.id, "number": c.number, "severity": c.severity}))
    audit_chain.append(session, at=now, actor=actor, action="complaint.link_incident", object_type="complaint",
                       object_id=c.id, detail=f"{c.number} -> {incident.number}",
                       data={"incident_id": incident.id})
    session.flush()
    if incident.status not in ENDED:
        ensure_complaint_steps(session, incident, org=org, policy=policy, now=now, actor=actor, complaint=c)
        sync_incident_tasks(session, incident, policy=policy, now=now)
    session.flush()


def raise_incident(session: Session, complaint_id: int, *, actor: str, clock: Clock, org: OrgChart,
                   policy: Policy, level: str | None = None) -> Incident:
    """Open an incident from a complaint (a 紧急 one, or one spreading) through the normal opening code: an
    internal-report story of the complaint, an alert at ``level`` (default: ``incident_levels`` by severity), the
    incident with its playbooks and reporting chain, then the link."""
    now = clock.now()
    c = get_complaint(session, complaint_id)
    if c.incident_id is not None:
        other = session.get(Incident, c.incident_id)
        raise ComplaintError(f"complaint {c.number} already has incident {other.number if other else c.incident_id}",
                             f"投诉 {c.number} 已关联事件 {other.number if other else c.incident_id}",
                             field="incident_id", code="conflict")
    lv = level or policy.complaints.incident_levels[Severity(c.severity)]
    try:
        policy.level(lv)
    except KeyError:
        raise ComplaintError(f"unknown level {lv!r}", f"事件等级无效：{lv}", field="level") from None
    label = SEVERITY_LABELS.get(c.severity, c.severity)
    # titled by number, severity, category and unit; the description only masked (it may quote the customer), since
    # the title and the story travel on: incident messages, the alert's audit entry, both timelines
    summary = mask_complaint_text(c, c.description)
    title = plain_line(f"客户投诉{c.number}（{label}，{category_label(c.category)}，{_unit_name(org, c.unit_id)}）："
                       f"{summary}", 80)
    story = internal_story(session, kind="complaint", key=str(c.id), channel=Channel.complaint, unit_id=c.unit_id,
                           title=title, text=summary, at=ensure_utc(c.received_at), actor=actor, now=now,
                           meta={"complaint_id": c.id, "number": c.number})
    incident = open_by_report(session, story=story, level=lv, category=c.category, actor=actor, org=org,
                              policy=policy, clock=clock,
                              reason=f"由{label}投诉 {c.number} 立案（{'系统' if actor == SYSTEM else actor}）")
    link_incident(session, c.id, incident.id, actor=actor, clock=clock, org=org, policy=policy)
    return incident


def internal_story(session: Session, *, kind: str, key: str, channel: str, unit_id: str, title: str, text: str,
                   at: datetime, actor: str, now: datetime, meta: dict | None = None) -> Story:
    """A story of one internal-report article (source 内部报告, address ``internal://<kind>/<key>``), already
    scored so no pipeline stage treats it as crawled."""
    url = f"internal://{kind}/{key}"
    digest = hashlib.sha256(url.encode()).hexdigest()
    story = Story(title=title, unit_id=unit_id, first_seen_at=now, last_seen_at=now, article_count=1)
    session.add(story)
    session.flush()
    article = Article(source_id=INTERNAL_SOURCE, channel=channel, url=url, url_hash=digest, title=title,
                      text=text[:TEXT_LIMIT], author=actor[:256], published_at=at, fetched_at=now,
                      content_hash=hashlib.sha256(text.encode()).hexdigest(), metrics={},
                      meta={"internal_report": True, "kind": kind, "reported_by": actor} | (meta or {}),
                      stage=ArticleStage.scored, story_id=story.id, is_duplicate=False)
    session.add(article)
    session.flush()
    session.add(Mention(article_id=article.id, unit_id=unit_id, is_primary=True, terms=[], snippet="", score=1.0))
    story.first_article_id = article.id
    session.flush()
    return story


def open_by_report(session: Session, *, story: Story, level: str, category: str, actor: str, org: OrgChart,
                   policy: Policy, clock: Clock, reason: str, open_incident: bool = True) -> Incident | Alert:
    """The alert of an internal-report story at ``level`` through the pipeline's own entry point (so the duty
    desk is told and the level's policy opens the incident); with ``open_incident`` an incident is opened by hand
    when the level's policy leaves it as an alert. Returns the incident, or the alert when none was opened."""
    from incidents import service  # the opening code; service does not import this module

    threshold = RiskConfig().thresholds.get(level, 0.0)
    risk = StoryRisk(story_id=story.id, computed_at=clock.now(), score=float(threshold), level=level,
                     category=category if category in CATEGORIES else "other",
                     factors={"floor": {"value": 1.0, "reason": plain_line(f"内部报告：{reason}", 150)}})
    session.add(risk)
    session.flush()
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    risk.handled_at = clock.now()
    alert = session.get(Alert, out.alert_id) if out.alert_id else None
    if alert is None:
        raise ComplaintError("the report did not raise an alert", "内部报告未能生成预警", code="invalid_state")
    if out.incident_id is not None:
        incident = session.get(Incident, out.incident_id)
        assert incident is not None
        return incident
    if not open_incident:
        return alert
    alert.status, alert.acknowledged_at, alert.acknowledged_by = service.ACKNOWLEDGED, clock.now(), actor
    incident, _ = service._open_incident(session, alert=alert, story=story, actor=actor, org=org, policy=policy,
                                         now=clock.now())
    return incident


# --- the complaint steps of an incident -------------------------------------------------------------------------

def ensure_complaint_steps(session: Session, incident: Incident, *, org: OrgChart, policy: Policy, now: datetime,
                           actor: str, complaint: Complaint) -> list[str]:
    """Apply the complaint playbook to an incident that lacks it (its steps added, recorded and explained on the
    timeline); the titles of the tasks added."""
    if COMPLAINT_PLAYBOOK not in policy.playbooks:
        return []
    if COMPLAINT_PLAYBOOK in [a.playbook_id for a in applied_of(session, incident)] \
            or (not applied_of(session, incident) and incident.playbook == COMPLAINT_PLAYBOOK):
        return []
    if not applied_of(session, incident):  # an incident from before playbooks were recorded: record its first
        session.add(AppliedPlaybook(incident_id=incident.id, playbook_id=incident.playbook,
                                    applied_at=incident.opened_at, level=incident.level, reason="立案时适用"))
    session.add(AppliedPlaybook(incident_id=incident.id, playbook_id=COMPLAINT_PLAYBOOK, applied_at=now,
                                level=incident.level, reason=f"关联客户投诉 {complaint.number}"))
    session.flush()
    out = replan(session, incident=incident, level=incident.level, up=True, org=org, policy=policy, now=now,
                 actor=actor)
    pb = policy.playbooks[COMPLAINT_PLAYBOOK]
    session.add(TimelineEvent(incident=incident, at=now, kind="playbook_added", actor=actor,
                              text=f"关联客户投诉 {complaint.number}，追加处置清单“{pb.name}”"
                                   + (f"（{change_text(out)}）" if change_text(out) else ""),
                              data={"playbooks": [COMPLAINT_PLAYBOOK], "tasks_added": out.added,
                                    "complaint_id": complaint.id}))
    audit_chain.append(session, at=now, actor=actor, action="incident.playbook", object_type="incident",
                       object_id=incident.id, detail=COMPLAINT_PLAYBOOK,
                       data={"playbooks": [COMPLAINT_PLAYBOOK], "complaint_id": complaint.id,
                             "tasks_added": len(out.added)})
    return out.added


def sync_incident_tasks(session: Session, incident: Incident, *, policy: Policy, now: datetime,
                        first: Complaint | None = None) -> int:
    """Keep an incident's complaint steps in line with its earliest-received linked complaint: each open step's
    deadline is the complaint's (from receipt), and a step the complaint's record already completes is ticked,
    citing the record and its time. Returns how many tasks changed. ``first``: that complaint, when the caller
    read it (for many cases in one query)."""
    if incident.status in ENDED:
        return 0
    steps = [t for t in incident.tasks if t.key in _STEP_CLOCKS and t.status == TaskStatus.todo]
    if not steps:  # nothing left to keep in line (checked first: this runs for every linked case every round)
        return 0
    c = first if first is not None else session.scalar(
        select(Complaint).where(Complaint.incident_id == incident.id)
        .order_by(Complaint.received_at, Complaint.id).limit(1))
    if c is None:
        return 0
    cfg = policy.complaints
    due = deadlines(c.received_at, c.severity, cfg, tz=policy.timezone, calendar=policy_calendar(policy),
                    reply_base_at=c.reply_base_at, reply_limit_days=c.reply_limit_days)
    urgent = c.severity == Severity.urgent
    # step -> (when the record completes it, who did it (read from the complaint's timeline only when needed), note)
    done = {"register_complaint": (c.entered_at, lambda: c.entered_by, f"已登记投诉 {c.number}"),
            "contact_complainant": (c.contacted_at, lambda: _actor_of(c, "contacted", "acknowledged"),
                                    f"投诉 {c.number} 已联系客户"),
            "preliminary_solution": (c.preliminary_at, lambda: _actor_of(c, "preliminary", "proposed"),
                                     f"投诉 {c.number} 已提出初步方案"),
            "resolve_case": (c.resolved_at, lambda: c.closed_by or _actor_of(c, "closed"),
                             f"投诉 {c.number} 已办结"),
            "return_visit": (c.return_visit_at, lambda: _actor_of(c, "return_visit"),
                             f"投诉 {c.number} 已回访")}
    local = local_time(ensure_utc(c.received_at), policy.timezone)
    changed = 0
    for task in steps:
        at, actor, note = done[task.key]
        if at is not None:
            who = actor()
            task.status, task.done_at, task.done_by = TaskStatus.done, ensure_utc(at), (who or SYSTEM)[:64]
            task.note = f"{note}（以投诉记录为准）"
            session.add(TimelineEvent(incident=incident, at=now, kind="task_done", actor=SYSTEM,
                                      text=f"完成任务：{task.title}（{note}，记录于 "
                                           f"{local_time(at, policy.timezone)}）",
                                      data={"task_id": task.id, "key": task.key, "by_record": True,
                                            "complaint_id": c.id}))
            changed += 1
            continue
        key = _STEP_CLOCKS[task.key]
        if key is None:
            continue
        if task.key == "resolve_case" and urgent:
            key = "reply"  # 紧急: the 24 h clock is the preliminary solution; the full answer keeps the reply rule
        if task.key == "preliminary_solution" and not urgent:
            continue
        target = due[key]
        note = f"期限自投诉 {c.number} 受理（{local}）起算"  # not the playbook's "from the first post": no post
        if task.due_at is None or ensure_utc(task.due_at) != target or task.note != note:
            task.due_at = target
            task.note = note
            changed += 1
    session.flush()
    return changed


def sync_linked_incidents(session: Session, *, policy: Policy, now: datetime) -> int:
    """:func:`sync_incident_tasks` for every running incident with a linked complaint (the scheduled round).

    Only cases with a complaint step still to do are considered: this runs every round, and a linked case whose
    complaint steps are all done or not applicable has nothing to keep in line (``sync_incident_tasks`` returns at
    once for it), however many rounds it stays open. Of those, a case is loaded and synced only when what the sync
    reads of it — its complaint steps (``_STEP_COLUMNS``) and its first complaint's times, severity, limits and
    number (``_FIRST_COLUMNS``), read as plain rows — differs from when a sync last changed nothing for it: the
    sync is a function of them and the configuration, so it would change nothing again (``incidents.round_skips``:
    per process, a new configuration starts afresh)."""
    cases = dict(session.execute(_SYNC_CASES).all())
    skips = not_before(session, "complaint_step_sync", org=None, policy=policy)
    skips.keep_only(cases)
    if not cases:
        return 0
    steps: dict[int, list[tuple]] = {i: [] for i in cases}
    for row in session.execute(_SYNC_STEPS, {"ids": list(cases)}):
        steps[row[0]].append(tuple(row[1:]))
    # each case's earliest-received complaint, for all the cases in one query (not one query per case and round)
    firsts = {row[0]: tuple(row[1:]) for row in session.execute(_SYNC_FIRSTS, {"ids": list(cases)})}
    read = {i: (opened_at, tuple(steps[i]), firsts.get(i)) for i, opened_at in cases.items()}
    looked = [i for i in cases if not skips.nothing_due(i, read[i], now)]
    if not looked:
        return 0
    incidents = session.scalars(INCIDENTS_WITH_TASKS, {"ids": looked}).all()
    first = {c.incident_id: c for c in session.scalars(_SYNC_FIRST_COMPLAINTS,
                                                       {"ids": [firsts[i][0] for i in looked if i in firsts]})}
    changed = 0
    for incident in incidents:
        done = sync_incident_tasks(session, incident, policy=policy, now=now, first=first.get(incident.id))
        changed += done
        # a sync that changed something is looked at again next round (what it reads has changed, by itself)
        skips.remember(incident.id, read[incident.id], NEVER if not done else None)
    return changed


# What sync_incident_tasks reads of a case's complaint steps and of its first complaint (besides the configuration);
# the first complaint's id and creation time and the case's opening time (in ``read``) make a reused id a new record.
_STEP_COLUMNS = (Task.id, Task.key, Task.status, Task.due_at, Task.note)
_FIRST_COLUMNS = (Complaint.id, Complaint.created_at, Complaint.number, Complaint.severity, Complaint.received_at,
                  Complaint.reply_base_at, Complaint.reply_limit_days, Complaint.entered_at, Complaint.entered_by,
                  Complaint.contacted_at, Complaint.preliminary_at, Complaint.resolved_at, Complaint.closed_by,
                  Complaint.return_visit_at)


def _sync_statements() -> tuple:
    """``sync_linked_incidents``' statements, built once with the incident ids bound per call (``ids``, expanding):
    it runs on every pipeline round, and building a statement and working out its cache key cost more CPU than
    running these short ones. Same SQL as built per call; a statement is immutable, so one is shared by every
    session."""
    ids = bindparam("ids", expanding=True)
    linked = select(Complaint.incident_id).where(Complaint.incident_id.is_not(None))
    open_steps = select(Task.incident_id).where(Task.key.in_(list(_STEP_CLOCKS)), Task.status == TaskStatus.todo)
    cases = (select(Incident.id, Incident.opened_at).where(
        Incident.id.in_(linked), Incident.id.in_(open_steps), Incident.status.not_in(list(ENDED)))
        .order_by(Incident.id))
    steps = (select(Task.incident_id, *_STEP_COLUMNS).where(Task.incident_id.in_(ids), Task.key.in_(list(_STEP_CLOCKS)))
             .order_by(Task.incident_id, Task.id))
    place = func.row_number().over(partition_by=Complaint.incident_id,
                                   order_by=(Complaint.received_at, Complaint.id)).label("place")
    ranked = select(Complaint.id, place).where(Complaint.incident_id.in_(ids)).subquery()
    firsts = (select(Complaint.incident_id, *_FIRST_COLUMNS).join(ranked, ranked.c.id == Complaint.id)
              .where(ranked.c.place == 1))
    first_complaints = select(Complaint).where(Complaint.id.in_(ids))
    return cases, steps, firsts, first_complaints


_SYNC_CASES, _SYNC_STEPS, _SYNC_FIRSTS, _SYNC_FIRST_COMPLAINTS = _sync_statements()


def _actor_of(c: Complaint, *kinds: str) -> str | None:
    ev = next((e for e in c.events if e.kind in kinds), None)
    return ev.actor if ev is not None else None


# --- complaint-board posts --------------------------------------------------------------------------------------

def complaints_from_board_posts(session: Session, *, org: OrgChart, policy: Policy, clock: Clock) -> int:
    """Make a complaint of every crawled complaint-board post that names a unit and has none yet (after matching and
    classification: the category is the classifier's). Once per post: ``article_id`` is unique and the
    idempotency key is the article's, so a re-poll or a restart adds nothing. Returns how many were created."""
    now = clock.now()
    rows = session.execute(_BOARD_POSTS).all()
    created = 0
    for article, unit_id in rows:
        cls = session.get(Classification, article.id)
        category = cls.category if cls is not None and cls.category in CATEGORIES else "other"
        received = ensure_utc(article.published_at or article.fetched_at)
        text = "\n\n".join(p for p in ((article.title or "").strip(), (article.text or "").strip()) if p)
        data = ComplaintInput(
            channel=ComplaintChannel.web_post, received_at=min(received, now), unit_id=unit_id, category=category,
            severity=policy.complaints.board_post_severity, description=text[:TEXT_LIMIT],
            customer_name=(article.author or "")[:200], source_system=f"crawler:{article.source_id}"[:64],
            idempotency_key=f"article:{article.id}", article_id=article.id)
        try:
            with session.begin_nested():
                complaint, new = create_complaint(session, data, actor=SYSTEM, org=org, cfg=policy.complaints,
                                                  clock=clock, tz=policy.timezone)
        except ComplaintError as exc:
            log.warning("complaint-board post not recorded as a complaint",
                        extra={"article_id": article.id, "error": exc.en})
            continue
        if new:
            created += 1
            session.add(ComplaintEvent(complaint=complaint, at=now, kind="board_post", actor=SYSTEM,
                                       text=f"由投诉平台帖子自动登记（来源：{plain_line(article.source_id, 40)}）",
                                       data={"article_id": article.id, "url": article.url[:500]}))
            # a board post at a 重要 / 紧急 board_post_severity is reported at once, once (complaint_notices)
            tell_leadership(session, complaint, org=org, policy=policy, now=now)
    session.flush()
    if created:
        link_board_complaints(session, org=org, policy=policy, now=now)
    return created


def link_board_complaints(session: Session, *, org: OrgChart, policy: Policy, now: datetime) -> int:
    """Link every unlinked complaint made from a post to the incident its story opened (a complaint that went
    viral is one case); returns how many were linked."""
    rows = session.execute(_UNLINKED_BOARD_COMPLAINTS).all()
    for complaint_id, incident_id in rows:
        c, incident = session.get(Complaint, complaint_id), session.get(Incident, incident_id)
        if c is not None and incident is not None:
            _link(session, c, incident, actor=SYSTEM, now=now, org=org, policy=policy)
    return len(rows)


# The board jobs' statements, built once (they run on every pipeline round; see ``_sync_statements``).
_BOARD_POSTS = (select(Article, Mention.unit_id)
                .join(Mention, (Mention.article_id == Article.id) & Mention.is_primary.is_(True))
                .outerjoin(Complaint, Complaint.article_id == Article.id)
                .where(Article.channel == Channel.complaint, Article.source_id != INTERNAL_SOURCE,
                       Article.stage.in_([ArticleStage.classified, ArticleStage.scored]),
                       Article.is_duplicate.is_(False), Complaint.id.is_(None))
                .order_by(Article.id))
_UNLINKED_BOARD_COMPLAINTS = (select(Complaint.id, Alert.incident_id)
                              .join(Article, Article.id == Complaint.article_id)
                              .join(Alert, Alert.story_id == Article.story_id)
                              .where(Complaint.incident_id.is_(None), Alert.incident_id.is_not(None))
                              .order_by(Complaint.id))


# --- the incident side ------------------------------------------------------------------------------------------

# built once, the incident id bound per call (the incident page reads it on every view)
_INCIDENT_COMPLAINTS = (select(Complaint).where(Complaint.incident_id == bindparam("incident_id"))
                        .order_by(Complaint.received_at, Complaint.id))


def incident_complaints(session: Session, incident_id: int, *, policy: Policy, now: datetime) -> list[dict]:
    """The complaints linked to an incident with their clocks (what the incident page and API show; the customer is
    never in it — the complaint page masks and audits that). Times carry the policy timezone's offset
    (2026-11-24T09:40:00+08:00), as the complaint API prints them."""
    calendar = policy_calendar(policy)
    zone = ZoneInfo(policy.timezone)

    def local(at: datetime | None) -> datetime | None:
        return ensure_utc(at).astimezone(zone) if at is not None else None

    out = []
    for c in session.scalars(_INCIDENT_COMPLAINTS, {"incident_id": incident_id}):
        out.append({
            "id": c.id, "number": c.number, "severity": c.severity,
            "severity_label": SEVERITY_LABELS.get(c.severity, c.severity),
            "status": c.status, "status_label": STATUS_LABELS.get(c.status, c.status),
            "category": c.category, "category_label": category_label(c.category),
            "unit_id": c.unit_id, "received_at": local(c.received_at),
            "clocks": [{"key": k.key, "label": k.label, "due": local(k.due), "done_at": local(k.done_at),
                        "state": str(k.state(now)), "state_label": CLOCK_STATE_LABELS[k.state(now)]}
                       for k in clocks(c, policy.complaints, tz=policy.timezone, calendar=calendar)],
        })
    return out


def new_report_key() -> str:
    """A unique key for an internal report's address (internal://media_report/<key>)."""
    return uuid.uuid4().hex
