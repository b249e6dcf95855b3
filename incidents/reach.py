"""Telling the branches a head-office alert concerns.

A post that names the bank and the places of several branches ("示例银行江城和汉北两地的网点都在限制取现") is the head
office's story and alert (``crawlers.matching`` rule i), but it is about each of those branches too: the matcher
adds a secondary mention for each unit whose place it names (rule j). This module finds those units for an alert
and queues a message to each one's duty monitors (the first step of the escalation chain built at that unit), so
the branches hear of it when the head office does — and again at each higher level, and when a later article of
the story names another branch.

The message says who owns the alert: the branch monitors may read it (``api.listings.in_scope``) but do not
acknowledge it for the head office, so it carries no deadline, and opening it in the inbox records a receipt,
not an acknowledgement of the alert.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.models import Article, Mention
from incidents.escalation import build_chain
from incidents.messages import compose
from incidents.models import Alert
from incidents.notify import queue_notifications
from incidents.policy import Policy
from yuqing.org import OrgChart, Person

PURPOSE = "alert_reach"
PURPOSE_LABEL = "辖区知会"


def reached_units(session: Session, org: OrgChart, alert: Alert) -> list[str]:
    """Units below the alert's own unit that an article of its story names, outermost first, then in org-chart
    order; a unit inside another listed one is left out (the outer unit's monitors are its monitors too)."""
    named = session.scalars(select(Mention.unit_id).join(Article, Article.id == Mention.article_id)
                            .where(Article.story_id == alert.story_id).distinct()).all()
    known = {u.id for u in org.units}
    below = [u for u in named if u in known and u != alert.unit_id
             and alert.unit_id in {a.id for a in org.ancestors(u)}]
    outer = [u for u in below if not any(o != u and o in {a.id for a in org.ancestors(u)} for o in below)]
    order = {u.id: i for i, u in enumerate(org.units)}
    return sorted(outer, key=lambda u: (org.depth(u), order[u]))


def notify_reached(session: Session, *, alert: Alert, org: OrgChart, policy: Policy, now: datetime) -> int:
    """Queue the alert's current level to the duty monitors of every unit it reaches (once per level, person and
    channel however often this runs); returns how many messages were queued."""
    if alert.status == "dismissed":  # a false alarm tells nobody (incidents.service.DISMISSED)
        return 0
    units = reached_units(session, org, alert)
    if not units:
        return 0
    roles = policy.levels_file.escalation_roles(alert.level)[:1]
    owners = {p for step in build_chain(org, alert.unit_id, roles) for p in step.people}
    people: list[Person] = []
    for unit_id in units:
        for step in build_chain(org, unit_id, roles):
            people += [org.person(pid) for pid in step.people
                       if pid not in owners and all(p.id != pid for p in people)]
    if not people:
        return 0
    names = "、".join(org.unit(u).short_name or org.unit(u).name for u in units)
    owner = org.unit(alert.unit_id)
    subject, body = compose(
        purpose=PURPOSE, level=alert.level, unit_name=owner.short_name or owner.name, title=alert.title,
        score=alert.risk_score, category=alert.category, factors=alert.factors, link=f"/alerts#alert-{alert.id}",
        tz=policy.timezone,
        note=f"帖文点名了{names}辖区的地点。本预警由{owner.short_name or owner.name}确认和处置，"
             f"请关注本辖区网点动态，按需向上级报告。")
    return queue_notifications(session, people=people, policy=policy, now=now, alert=alert,
                               incident_id=None, purpose=PURPOSE, level=alert.level,
                               key=f"alert:{alert.id}:reach:{alert.level}", message=(subject, body))
