"""舆情反弹 (resurgence): a case the office had put down — monitoring, closed or reviewed — whose story comes back.

The pipeline calls :func:`handle_resurgence` from ``service.handle_story_risk`` each time the story's risk is
recomputed. The rule, written once here and applied once per resurgence:

* the case is ``monitoring``, ``closed`` or ``reviewed``;
* its story has **new negative articles** (classified negative; a clarification, an apology or a "the customer got
  her money" follow-up is the story ending, not coming back): fetched after the watermark — the moment the case
  entered its current rest
  (转入持续监测 for a monitoring case, 结案 for a closed or reviewed one), moved on by every resurgence recorded on it
  and every decision on a flag, so the same articles never count twice;
* the new risk is **at or above the case's level** (the level the sentiment stage computed: its score reached the
  level's threshold in config/risk.yaml, or a floor rule applies); a lower level is a tail, not a comeback;
* and the risk is **rising**: its score is higher than the story's previous computation. A story fading after its
  peak keeps a high level for a while (the scores saturate, floors hold), and a follow-up such as "the customer got
  her money" is a new article too; neither is a comeback.

What it does (the reason, "舆情反弹：…", names the new level and score, the new articles' count and the first new
source, and goes on the timeline, in the audit log and in every message):

* a **monitoring** case is reopened by the system (``responding``; the one move the system may make on its own,
  ``lifecycle.SYSTEM_ACTIONS``, written under the actor ``system``); a higher level is applied through the normal
  change-level flow (``flows.apply_level``: tasks and clocks re-planned, the reason on the timeline); the commander
  and, when the level rose, the new level's reporting chain are told;
* a **closed or reviewed** case is never reopened silently: it is **flagged** (shown on the incident page and in
  every list until the commander or a leader reopens it or records, with :func:`dismiss_flag`, why not), the story's
  alert is raised again (open, with a new acknowledgement deadline and escalation, so the duty desk sees it on the
  alerts page) and the commander, the duty monitors and — when the level is higher — the new level's reporting
  chain are told. The level of an ended case is not changed (the lifecycle allows level changes only on running
  cases); the flag and the messages carry the new level, and whoever reopens the case raises it through the
  normal flow.

While a flag stands, further rounds add nothing (one resurgence, one message); after a decision, a later comeback
(new articles after the decision) flags the case again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from crawlers.models import Article
from incidents.errors import IncidentError
from incidents.escalation import build_chain
from incidents.levels import is_higher, level_title
from incidents.lifecycle import ENDED, Action, IncidentStatus, system_may
from incidents.messages import compose, local_time, plain_line
from incidents.models import Alert, Incident, TimelineEvent
from incidents.notify import queue_notifications
from incidents.policy import Policy
from incidents.routing import resolve_chain
from sentiment.models import Classification, StoryRisk
from yuqing import audit_chain
from yuqing.clock import Clock, FrozenClock, ensure_utc
from yuqing.org import OrgChart, Person, Role

log = logging.getLogger(__name__)

SYSTEM = "system"
RESURGENCE = "resurgence"  # timeline kind: a comeback, recorded (and, on an ended case, the flag)
DECIDED = "resurgence_dismissed"  # timeline kind: a person decided not to reopen a flagged case
WATCHED = frozenset({IncidentStatus.monitoring, IncidentStatus.closed, IncidentStatus.reviewed})
_SOURCE_KINDS = {"news": "新闻", "social": "社交媒体", "complaint": "投诉平台", "regulator": "监管网站",
                 "trending": "热搜榜单"}


@dataclass(frozen=True)
class ResurgenceFlag:
    """A standing 舆情反弹 flag on an ended case: what came back, and when."""

    event_id: int
    at: datetime
    level: str
    score: float
    new_articles: int
    first_source: str
    text: str


@dataclass(frozen=True)
class ResurgenceOutcome:
    """What :func:`handle_resurgence` did, for the pipeline's outcome."""

    action: str  # "reopened" | "flagged"
    level_change: tuple[str, str] | None
    notifications_queued: int


# --- the rule, on plain values ---------------------------------------------------------------------------------

def is_resurgence(*, status: str, incident_level: str, new_level: str | None, new_score: float,
                  previous_score: float | None, new_articles: int, flagged: bool) -> bool:
    """The rule of the module docstring: a watched case, new articles since the watermark, a level at or above
    the case's, a rising score, and no flag already standing."""
    if status not in WATCHED or flagged or new_level is None or new_articles < 1:
        return False
    if is_higher(incident_level, new_level):  # lower than the case: a tail, not a comeback
        return False
    return previous_score is None or new_score > previous_score


# --- the pipeline's hook ---------------------------------------------------------------------------------------

def handle_resurgence(session: Session, *, incident: Incident, alert: Alert | None, story_risk: StoryRisk,
                      org: OrgChart, policy: Policy, now: datetime) -> ResurgenceOutcome | None:
    """Apply the rule to a freshly computed risk of the incident's story; None when it is not a resurgence."""
    if incident.status not in WATCHED or incident.story_id is None or story_risk.story_id != incident.story_id:
        return None
    since, seen_id = _watermark(incident)
    new = list(session.scalars(select(Article).where(
        Article.story_id == incident.story_id, Article.fetched_at > since, Article.id > seen_id)
        .order_by(func.coalesce(Article.published_at, Article.fetched_at), Article.id)))
    previous = session.scalar(select(StoryRisk.score).where(
        StoryRisk.story_id == story_risk.story_id, StoryRisk.id != story_risk.id,
        StoryRisk.computed_at <= story_risk.computed_at).order_by(StoryRisk.computed_at.desc(), StoryRisk.id.desc())
        .limit(1))
    # Only what can make a story worse counts: a clarification, an apology or a "the customer got her money"
    # follow-up joining the story after it came to rest is the story ending, not coming back.
    labels = dict(session.execute(select(Classification.article_id, Classification.label)
                                  .where(Classification.article_id.in_([a.id for a in new]))).all()) if new else {}
    new = [a for a in new if labels.get(a.id) == "negative"]
    if not is_resurgence(status=incident.status, incident_level=incident.level, new_level=story_risk.level,
                         new_score=float(story_risk.score), previous_score=previous, new_articles=len(new),
                         flagged=active_flag(incident) is not None):
        return None
    new_level = str(story_risk.level)
    first = new[0]
    source = _source(first)
    rest = "持续监测" if incident.status == IncidentStatus.monitoring else "结案"
    facts = (f"风险升至{level_title(new_level)}，评分 {story_risk.score:.1f}"
             + (f"（上次 {previous:.1f}）" if previous is not None else "")
             + f"；{rest}以来新增相关信息 {len(new)} 条，首条来自{source}："
             + f"“{plain_line(first.title or first.text, 40)}”")
    reopen = system_may(Action.reopen, incident.status)
    higher = is_higher(new_level, incident.level)
    if reopen:
        text = f"舆情反弹：{facts}。系统已重新打开事件" + (f"，并升为{level_title(new_level)}" if higher else "")
    else:
        text = (f"舆情反弹：{facts}。事件已{'复盘' if incident.status == IncidentStatus.reviewed else '结案'}，"
                "系统未自动重新打开，已重新发出预警，请应急处置负责人研判是否重新打开")
    data = {"level": new_level, "score": float(story_risk.score), "previous_score": previous,
            "new_articles": len(new), "first_article_id": first.id, "first_source": source,
            "last_article_id": max(a.id for a in new), "from_status": str(incident.status),
            "action": "reopened" if reopen else "flagged", "alert_id": alert.id if alert else None}
    event = TimelineEvent(incident=incident, at=now, kind=RESURGENCE, actor=SYSTEM, text=text, data=data)
    session.add(event)
    session.flush()
    audit_chain.append(session, at=now, actor=SYSTEM, action="incident.resurgence", object_type="incident",
                       object_id=incident.id, detail=f"{incident.number} {data['action']}", data=data)
    level_change = None
    if reopen:
        from incidents import flows  # flows builds on the service, which calls this module

        flows.reopen_incident(session, incident_id=incident.id, user_login=SYSTEM, reason=text,
                              clock=FrozenClock(now))
        if higher:
            old = incident.level
            flows.apply_level(session, incident=incident, new_level=new_level, reason=text, actor=SYSTEM,
                              alert=alert, org=org, policy=policy, now=now, notify=False)
            level_change = (old, new_level)
    elif alert is not None:
        _raise_alert_again(session, alert=alert, org=org, policy=policy, now=now)
    queued = _tell(session, incident=incident, alert=None if reopen else alert, event=event, level=new_level,
                   higher=higher, risk=story_risk, org=org, policy=policy, now=now)
    session.flush()
    log.info("resurgence", extra={"incident_id": incident.id, "action": data["action"], "level": new_level,
                                  "new_articles": len(new), "queued": queued})
    return ResurgenceOutcome(action=str(data["action"]), level_change=level_change, notifications_queued=queued)


# --- a person's decision on a flag -----------------------------------------------------------------------------

DECIDE_ROLES = frozenset({Role.commander, Role.leader})  # the case runners, who could also reopen it


def dismiss_flag(session: Session, *, incident_id: int, user_login: str, reason: str, clock: Clock) -> TimelineEvent:
    """研判不重新打开: a commander or leader records why a flagged ended case stays closed. The flag goes; the
    re-raised alert, if still open, is acknowledged (its escalation stops). A later comeback flags it again."""
    now = clock.now()
    incident = session.get(Incident, incident_id)
    if incident is None:
        from incidents.errors import NotFound

        raise NotFound("incident", incident_id, "事件")
    flag = active_flag(incident)
    if flag is None:
        raise IncidentError(f"incident {incident.number} has no standing resurgence flag",
                            "该事件没有待研判的舆情反弹提示")
    if not reason.strip():
        raise IncidentError("decision needs a reason", "请填写不重新打开事件的理由", code="reason_required")
    seen = session.scalar(select(func.max(Article.id)).where(Article.story_id == incident.story_id)) or 0
    event = TimelineEvent(incident=incident, at=now, kind=DECIDED, actor=user_login,
                          text=f"舆情反弹研判：暂不重新打开事件：{plain_line(reason, 200)}",
                          data={"reason": reason.strip(), "resurgence_event_id": flag.event_id,
                                "last_article_id": int(seen)})
    session.add(event)
    audit_chain.append(session, at=now, actor=user_login, action="incident.resurgence_dismiss",
                       object_type="incident", object_id=incident.id, detail=incident.number,
                       data={"reason": reason.strip(), "resurgence_event_id": flag.event_id})
    alert = session.scalar(select(Alert).where(Alert.incident_id == incident.id, Alert.status == "open"))
    if alert is not None:
        from incidents.service import acknowledge_alert

        acknowledge_alert(session, alert_id=alert.id, user_login=user_login, clock=FrozenClock(now))
    session.flush()
    return event


# --- reads -----------------------------------------------------------------------------------------------------

def active_flag(incident: Incident) -> ResurgenceFlag | None:
    """The standing flag of an ended case: its latest resurgence since it closed, not yet decided on."""
    if incident.status not in ENDED or incident.closed_at is None:
        return None
    closed = ensure_utc(incident.closed_at)
    latest = None
    for ev in _ordered(incident.events):
        if ev.kind == RESURGENCE and ensure_utc(ev.at) >= closed and ev.data.get("action") == "flagged":
            latest = ev
        elif ev.kind == DECIDED and latest is not None:
            latest = None
    if latest is None:
        return None
    d = latest.data
    return ResurgenceFlag(event_id=latest.id, at=ensure_utc(latest.at), level=str(d.get("level", incident.level)),
                          score=float(d.get("score") or 0.0), new_articles=int(d.get("new_articles") or 0),
                          first_source=str(d.get("first_source") or ""), text=latest.text)


# built once, the incidents bound per call (the incident list reads it on every page with an ended incident)
_FLAGGED = (select(TimelineEvent.incident_id)
            .where(TimelineEvent.incident_id.in_(bindparam("ids", expanding=True)), TimelineEvent.kind == RESURGENCE)
            .distinct())


def active_flags(session: Session, incidents: list[Incident]) -> dict[int, ResurgenceFlag]:
    """The standing flags of several incidents (for lists), in one query for the ended ones."""
    ended = [i for i in incidents if i.status in ENDED]
    if not ended:
        return {}
    flagged = set(session.scalars(_FLAGGED, {"ids": [i.id for i in ended]}))
    out = {}
    for incident in ended:
        if incident.id in flagged and (flag := active_flag(incident)) is not None:
            out[incident.id] = flag
    return out


# --- helpers ---------------------------------------------------------------------------------------------------

def _watermark(incident: Incident) -> tuple[datetime, int]:
    """(the moment after which articles are new, the highest article id already accounted for)."""
    rest = incident.monitoring_at if incident.status == IncidentStatus.monitoring else incident.closed_at
    since = ensure_utc(rest or incident.responding_at or incident.opened_at)
    seen = 0
    for ev in incident.events:
        if ev.kind in (RESURGENCE, DECIDED):
            since = max(since, ensure_utc(ev.at))
            seen = max(seen, int(ev.data.get("last_article_id") or 0))
    return since, seen


def _ordered(events: list[TimelineEvent]) -> list[TimelineEvent]:
    return sorted(events, key=lambda e: (ensure_utc(e.at), e.id or 0))


def _source(article: Article) -> str:
    kind = _SOURCE_KINDS.get(article.channel, article.channel)
    who = plain_line(article.author or article.source_id, 30)
    return f"{kind}·{who}"


def _raise_alert_again(session: Session, *, alert: Alert, org: OrgChart, policy: Policy, now: datetime) -> None:
    """The story's alert (one per story) is raised again: open, a fresh acknowledgement deadline and escalation
    chain at its level, so the duty desk sees it among the open alerts and it escalates if nobody acts."""
    before = alert.status
    alert.status = "open"
    alert.escalation_step = 0
    alert.ack_due_at = now + timedelta(minutes=policy.level(alert.level).ack_minutes)
    alert.escalation_chain = [s.to_json() for s in build_chain(
        org, alert.unit_id, policy.levels_file.escalation_roles(alert.level))]
    alert.updated_at = now
    audit_chain.append(session, at=now, actor=SYSTEM, action="alert.reraise", object_type="alert",
                       object_id=alert.id, detail=f"舆情反弹，预警重新发出（原状态 {before}）",
                       data={"level": alert.level, "incident_id": alert.incident_id})


def _tell(session: Session, *, incident: Incident, alert: Alert | None, event: TimelineEvent, level: str,
          higher: bool, risk: StoryRisk, org: OrgChart, policy: Policy, now: datetime) -> int:
    """One 舆情反弹 message to the commander, the duty monitors when the alert was raised again, and the new
    level's reporting chain when the level is higher — each person once, on their channels."""
    people: dict[str, Person] = {}
    commander = org.find_person(incident.commander_id) or next(iter(org.nearest_with_role(Role.commander,
                                                                                        incident.unit_id)), None)
    if commander is not None:
        people[commander.id] = commander
    if alert is not None and alert.escalation_chain:
        for pid in alert.escalation_chain[0].get("people", []):
            if (p := org.find_person(pid)) is not None:
                people.setdefault(p.id, p)
    groups = []
    if higher:
        lv = policy.level(level)
        groups = resolve_chain(org, incident.unit_id, lv.reporting_chain, default_ack_minutes=lv.ack_minutes)
        for g in groups:
            for p in g.people:
                people.setdefault(p.id, p)
    if not people:
        log.warning("resurgence has nobody to tell", extra={"incident_id": incident.id})
        return 0
    note = event.text
    if groups:
        note += "。" + "；".join(f"{g.label}请于{local_time(now + timedelta(minutes=g.ack_minutes), policy.timezone)}"
                                f"前确认" for g in groups if g.people)
    try:
        unit = org.unit(incident.unit_id).name
    except KeyError:
        unit = incident.unit_id
    message = compose(purpose="resurgence", level=level, unit_name=unit, title=incident.title, score=risk.score,
                      category=risk.category or incident.category, factors=risk.factors or {},
                      link=f"/incidents/{incident.id}", number=incident.number,
                      deadline=alert.ack_due_at if alert is not None else None, tz=policy.timezone, note=note)
    queued = queue_notifications(session, people=list(people.values()), policy=policy, now=now, alert=alert,
                                 incident_id=incident.id, purpose="resurgence",
                                 key=f"incident:{incident.id}:resurgence:{event.id}", message=message, level=level)
    if groups and incident.status not in ENDED:
        # the same record a level's telling leaves, so the chain's acknowledgement clocks run for these groups too
        told = [{"group": g.key, "label": g.label, "people": [p.id for p in g.people],
                 "ack_due_at": (now + timedelta(minutes=g.ack_minutes)).isoformat()} for g in groups]
        who = "；".join(f"{g['label']}（{len(g['people'])}人）" for g in told if g["people"])
        session.add(TimelineEvent(incident=incident, at=now, kind="reporting_chain", actor=SYSTEM,
                                  text=f"舆情反弹，按{level_title(level)}报告链通知：{who}",
                                  data={"level": level, "groups": told, "resurgence_event_id": event.id}))
    return queued
