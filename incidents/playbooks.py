"""Several playbooks on one incident: an incident that is a complaint, a media exposure and a rumour gets the union
of the matching checklists, each step once.

Which apply: every *specific* playbook whose rule matches the incident — its category (the one it opened with, or
the category its story is classified as now), its level and the channels its story has reached. The generic
fallback (a playbook whose rule is empty) applies only when nothing specific matches; once applied, a playbook stays
(a specific one joining later adds its steps beside the fallback's). Decided so because each specific playbook is a
complete plan for its kind of case — the fallback's broad steps (协调相关部门 …) would only repeat them.

Merging: steps with the same ``key`` are one task. Its owner is the step of the highest-priority playbook; its
deadline is the stricter (earlier) of the candidates, and its title comes from the step that set that deadline, so
a figure in a title is always that task's own. Steps with ``due_from: first_published`` count from the first post's
publication (the earliest ``published_at`` of the story's articles; the opening when none is known — the task's
note says which).

When a level rise or the story's growth (a complaint channel joining a media story, a new category) makes another
playbook match, it is recorded (``incident_playbooks``: which, when, at what level and why), its missing steps
are added, open tasks it has a stricter deadline for are tightened, and one timeline entry says why. On a lowered
level, open tasks no applied playbook still has at that level become not applicable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, bindparam, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from incidents.clocks import step_due_at
from incidents.levels import level_title
from incidents.messages import CHANNEL_LABELS
from incidents.models import Alert, Incident, Task, TaskStatus
from incidents.policy import Playbook, PlaybookRule, PlaybookStep, Policy
from incidents.record_tasks import done_by_records
from incidents.regulators import step_note, step_title
from yuqing.categories import category_label
from yuqing.clock import ensure_utc
from yuqing.db import Base, UTCDateTime
from yuqing.org import OrgChart


class AppliedPlaybook(Base):
    """One playbook applied to an incident: when, at which level and why."""

    __tablename__ = "incident_playbooks"
    __table_args__ = (UniqueConstraint("incident_id", "playbook_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    playbook_id: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(4), doc="the incident's level when it was applied")
    reason: Mapped[str] = mapped_column(Text, default="", doc="why it applies, in Chinese")


@dataclass(frozen=True)
class StoryContext:
    """What decides which playbooks match, beside the level: the categories and the channels of the story."""

    categories: tuple[str, ...]
    channels: tuple[str, ...]
    first_published: datetime | None


@dataclass(frozen=True)
class PlannedStep:
    """One merged step: the task it becomes at a level, counted from a moment."""

    key: str
    title: str
    owner: PlaybookStep  # the highest-priority playbook's step (its owner role)
    due_at: datetime | None
    note: str
    playbook_id: str  # whose deadline (and title) it carries


@dataclass
class Replan:
    """What a re-plan changed, for the caller's timeline entry."""

    joined: list[Playbook] = field(default_factory=list)
    why: dict[str, str] = field(default_factory=dict)  # joined playbook id -> why it applies now
    context: StoryContext | None = None
    added: list[str] = field(default_factory=list)
    tightened: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


# --- which playbooks -------------------------------------------------------------------------------------------
def is_fallback(playbook: Playbook) -> bool:
    rule = playbook.applies_to
    return not (rule.categories or rule.levels or rule.channels)


def by_priority(playbooks: Iterable[Playbook], policy: Policy) -> list[Playbook]:
    """Highest priority first; ties in file-name order (the order ``policy.playbooks`` was loaded in)."""
    order = list(policy.playbooks)
    return sorted(playbooks, key=lambda p: (-p.applies_to.priority, order.index(p.id) if p.id in order else 0))


def matching(policy: Policy, *, categories: Iterable[str], level: str, channels: Iterable[str]) -> list[Playbook]:
    """Every specific playbook that matches (highest priority first), or the fallback(s) when none does."""
    cats, chans = list(dict.fromkeys(categories)), list(channels)
    specific = [p for p in policy.playbooks.values() if not is_fallback(p)
                and any(p.applies_to.matches(category=c, level=level, channels=chans) for c in cats)]
    if specific:
        return by_priority(specific, policy)
    return by_priority([p for p in policy.playbooks.values() if is_fallback(p)], policy)


def why(rule: PlaybookRule, *, categories: Sequence[str], level: str, channels: Sequence[str]) -> str:
    """The part of a playbook's rule the incident meets, in Chinese (e.g. 传播渠道包含新闻媒体)."""
    parts = []
    on = [c for c in rule.any_category_on if c in channels]
    if on:
        parts.append(f"涉及{'、'.join(CHANNEL_LABELS.get(c, c) for c in on)}")
    else:
        if rule.categories:
            hit = [c for c in categories if c in rule.categories]
            parts.append(f"风险类别为{'、'.join(category_label(c) for c in hit)}")
        if rule.channels:
            hit = [c for c in rule.channels if c in channels]
            parts.append(f"传播渠道包含{'、'.join(CHANNEL_LABELS.get(c, c) for c in hit)}")
    if rule.levels:
        parts.append(f"事件为{level_title(level)}")
    return "，".join(parts) or "无更具体的处置清单适用"


# --- the merge ------------------------------------------------------------------------------------------------
def plan_steps(playbooks: Sequence[Playbook], *, level: str, start: datetime, opened_at: datetime,
               first_published: datetime | None, policy: Policy, org: OrgChart, unit_id: str) -> list[PlannedStep]:
    """The union of the playbooks' steps at ``level``, each key once, in the order the playbooks (by priority)
    list them. ``start`` is when steps are planned (the opening, a level rise, a playbook joining)."""
    zone = ZoneInfo(policy.timezone)
    ranked = by_priority(playbooks, policy)
    candidates: dict[str, list[tuple[datetime | None, int, Playbook, PlaybookStep, str]]] = {}
    for rank, pb in enumerate(ranked):
        for step in pb.steps_for(level):
            anchor, note = start, ""
            if step.due_from == "first_published":
                if first_published is not None:
                    anchor = first_published
                    local = first_published.astimezone(zone)
                    note = f"期限自首条帖子发布（{local.month}月{local.day}日{local:%H:%M}）起算"
                else:
                    anchor, note = opened_at, "首条帖子发布时间未知，期限自立案时起算"
            due = step_due_at(step, level=level, start=anchor, policy=policy)
            candidates.setdefault(step.key, []).append((due, rank, pb, step, note if due is not None else ""))
    out = []
    for key, cands in candidates.items():
        owner = cands[0][3]
        dated = [c for c in cands if c[0] is not None]
        due, _, pb, step, note = min(dated, key=lambda c: (c[0], c[1])) if dated else cands[0]
        extra = step_note(key=key, regs=policy.regulators, org=org, unit_id=unit_id)
        out.append(PlannedStep(
            key=key, title=step_title(step.title, key=key, regs=policy.regulators, org=org, unit_id=unit_id),
            owner=owner, due_at=due, note="；".join(n for n in (note, extra) if n), playbook_id=pb.id))
    return out


# --- reads ----------------------------------------------------------------------------------------------------
# built once, the incident id bound per call: the incident page reads it on every view (the API's dearest page)
_APPLIED_OF = (select(AppliedPlaybook).where(AppliedPlaybook.incident_id == bindparam("incident_id"))
               .order_by(AppliedPlaybook.applied_at, AppliedPlaybook.id))


def applied_of(session: Session, incident: Incident) -> list[AppliedPlaybook]:
    """The playbooks applied to an incident, in the order they were applied."""
    return list(session.scalars(_APPLIED_OF, {"incident_id": incident.id}))


def applied_playbooks(session: Session, incident: Incident, policy: Policy) -> list[Playbook]:
    """The applied playbooks still in config, highest priority first (an incident recorded before playbooks were
    tracked has its ``incidents.playbook`` one)."""
    return _known(policy, incident, [a.playbook_id for a in applied_of(session, incident)])


def _known(policy: Policy, incident: Incident, ids: Sequence[str]) -> list[Playbook]:
    ids = list(ids) or [incident.playbook]
    known = [policy.playbooks[i] for i in dict.fromkeys(ids) if i in policy.playbooks]
    if not known:  # every template it used was removed from config since
        known = [policy.choose_playbook(category=incident.category, level=incident.level)]
    return by_priority(known, policy)


def story_context(session: Session, *, story_id: int | None, categories: Iterable[str]) -> StoryContext:
    """The categories given, the story's channels and its first post's publication time."""
    from crawlers.models import Article

    channels: tuple[str, ...] = ()
    first = None
    if story_id is not None:
        channels = tuple(sorted(session.scalars(select(Article.channel).where(Article.story_id == story_id)
                                                .distinct())))
        first = session.scalar(select(func.min(Article.published_at)).where(Article.story_id == story_id))
    return StoryContext(tuple(dict.fromkeys(c for c in categories if c)), channels,
                        ensure_utc(first) if first is not None else None)


def incident_context(session: Session, incident: Incident, alert: Alert | None = None) -> StoryContext:
    """:func:`story_context` of an incident: its own category and the one its alert has now."""
    if alert is None:
        alert = session.scalar(select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id).limit(1))
    return story_context(session, story_id=incident.story_id,
                         categories=[incident.category, alert.category if alert is not None else ""])


# --- changes --------------------------------------------------------------------------------------------------
def open_checklist(session: Session, *, incident: Incident, playbooks: Sequence[Playbook], context: StoryContext,
                   org: OrgChart, policy: Policy, now: datetime) -> list[Task]:
    """The new incident's checklist: the merged steps of ``playbooks`` (from :func:`matching`), each application
    recorded."""
    planned = plan_steps(playbooks, level=incident.level, start=now, opened_at=incident.opened_at,
                         first_published=context.first_published, policy=policy, org=org, unit_id=incident.unit_id)
    tasks = [_add(session, incident, p, org=org, policy=policy, start=now) for p in planned]
    for pb in playbooks:
        session.add(AppliedPlaybook(incident_id=incident.id, playbook_id=pb.id, applied_at=now, level=incident.level,
                                    reason="立案时适用：" + why(pb.applies_to, categories=context.categories,
                                                               level=incident.level, channels=context.channels)))
    return tasks


def replan(session: Session, *, incident: Incident, level: str, up: bool, org: OrgChart, policy: Policy,
           now: datetime, actor: str, alert: Alert | None = None, joining_only: bool = False) -> Replan:
    """Re-plan the checklist for ``level`` (the incident's level already set to it) and the story as it is now.

    Playbooks that match now and were not applied join (recorded). Steps of every applied playbook at ``level``
    that have no task yet are added (on a rise or when a playbook joined); open tasks take the stricter of their
    deadline and the one planned now (deadlines already incurred never move out); on a fall (``up`` False), open
    tasks that no applied playbook has at ``level`` become not applicable. ``joining_only``: change nothing unless
    a playbook joins. Writes no timeline entry: the caller says why (a level change, the story's growth)."""
    ctx = incident_context(session, incident, alert)
    out = Replan(context=ctx)
    applied_ids = [a.playbook_id for a in applied_of(session, incident)]
    now_matching = matching(policy, categories=ctx.categories, level=level, channels=ctx.channels)
    out.joined = [p for p in now_matching if p.id not in (applied_ids or [incident.playbook]) and not is_fallback(p)]
    if joining_only and not out.joined:
        return out
    out.why = {p.id: why(p.applies_to, categories=ctx.categories, level=level, channels=ctx.channels)
               for p in out.joined}
    playbooks = by_priority([*_known(policy, incident, applied_ids), *out.joined], policy)
    planned = plan_steps(playbooks, level=level, start=now, opened_at=incident.opened_at,
                         first_published=ctx.first_published, policy=policy, org=org, unit_id=incident.unit_id)
    by_key = {t.key: t for t in incident.tasks}
    records: dict[str, tuple[datetime, str, str]] | None = None
    if up or out.joined:
        for p in planned:
            task = by_key.get(p.key)
            if task is None:
                task = _add(session, incident, p, org=org, policy=policy, start=now)
                out.added.append(p.title)
                if records is None:  # a step added after its record (legal approved before the media playbook)
                    records = done_by_records(session, incident)
                if task.key in records:
                    at, who, note = records[task.key]
                    task.status, task.done_at, task.done_by = TaskStatus.done, at, who
                    task.note = f"{note}（该步骤追加前已有记录）"
            elif task.status == TaskStatus.todo and p.due_at is not None and (task.due_at is None
                                                                               or p.due_at < task.due_at):
                task.due_at, task.title, task.note = p.due_at, p.title, p.note
                out.tightened.append(task.title)
    if not up:
        keys = {p.key for p in planned}
        every = {s.key for pb in playbooks for s in pb.steps}
        for task in incident.tasks:
            if task.status == TaskStatus.todo and task.key in every and task.key not in keys:
                task.status = TaskStatus.not_applicable
                task.note = f"等级降为{level_title(level)}后不再适用"
                task.done_at, task.done_by = now, actor
                out.dropped.append(task.title)
    for pb in out.joined:
        session.add(AppliedPlaybook(incident_id=incident.id, playbook_id=pb.id, applied_at=now, level=level,
                                    reason=out.why[pb.id]))
    return out


def follow_story(session: Session, *, incident: Incident, alert: Alert | None, org: OrgChart, policy: Policy,
                 now: datetime) -> Replan:
    """After the story grew (new channels, a new category): apply any playbook that matches now, with a timeline
    entry saying why. Nothing changes (and nothing is written) when no new playbook matches."""
    from incidents.service import SYSTEM, _audit, _event  # service imports this module's callers

    out = replan(session, incident=incident, level=incident.level, up=True, org=org, policy=policy, now=now,
                 actor=SYSTEM, alert=alert, joining_only=True)
    if not out.joined:
        return out
    ctx = out.context
    reasons = "；".join(f"“{p.name}”（{out.why[p.id]}）" for p in out.joined)
    _event(session, incident, now, "playbook_added", SYSTEM,
           f"事件传播情况变化，追加处置清单{reasons}" + (f"（{change_text(out)}）" if change_text(out) else ""),
           {"playbooks": [p.id for p in out.joined], "channels": list(ctx.channels),
            "categories": list(ctx.categories), "tasks_added": out.added, "tasks_tightened": out.tightened})
    _audit(session, now, SYSTEM, "incident.playbook", "incident", incident.id, ",".join(p.id for p in out.joined),
           {"playbooks": [p.id for p in out.joined], "channels": list(ctx.channels),
            "categories": list(ctx.categories), "tasks_added": len(out.added)})
    return out


def change_text(r: Replan) -> str:
    """``新增任务2项，1项任务期限提前`` — empty when nothing changed."""
    plan = []
    if r.added:
        plan.append(f"新增任务{len(r.added)}项")
    if r.tightened:
        plan.append(f"{len(r.tightened)}项任务期限提前")
    if r.dropped:
        plan.append(f"{len(r.dropped)}项任务不再适用")
    return "，".join(plan)


def _add(session: Session, incident: Incident, planned: PlannedStep, *, org: OrgChart, policy: Policy,
         start: datetime) -> Task:
    from incidents.service import _add_task  # service imports this module's callers

    task = _add_task(session, incident=incident, step=planned.owner, level=incident.level, start=start, org=org,
                     policy=policy)
    task.title, task.due_at, task.note = planned.title, planned.due_at, planned.note
    return task
