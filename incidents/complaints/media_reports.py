"""An outlet's report that a journalist is asking questions or filming (记者正在询问/拍摄), before anything is
published: it opens the media-exposure alert at once instead of waiting for a crawler to find the story.

The report becomes an internal-report story (source 内部报告, channel 新闻媒体 — the outlet concerned is the press —
address ``internal://media_report/<key>``, never shown as a link) and an alert at ``media_report_level`` (II by
default) through the pipeline's own entry point, so the duty desk of the general office is told at once and the
level's policy decides whether an incident opens (at II it does, with the media-exposure playbook). With an
idempotency key a resubmission (a double click, a retried request) returns the first report's alert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.models import Article, Channel
from incidents.complaints.flows import ComplaintError
from incidents.complaints.links import internal_story, new_report_key, open_by_report
from incidents.messages import plain_line
from incidents.models import Alert, Incident, TimelineEvent
from incidents.policy import Policy
from yuqing import audit_chain
from yuqing.categories import CATEGORIES
from yuqing.clock import Clock
from yuqing.org import OrgChart

TEXT_LIMIT = 4000
KIND = "media_report"


@dataclass(frozen=True)
class MediaReport:
    """What the report opened: the alert, and the incident when the level's policy opened one."""

    alert_id: int
    incident_id: int | None
    incident_number: str | None
    level: str
    story_id: int
    created: bool


def report_media_inquiry(session: Session, *, unit_id: str, text: str, actor: str, org: OrgChart, policy: Policy,
                         clock: Clock, category: str = "other", idempotency_key: str | None = None) -> MediaReport:
    """Record an outlet's "a journalist is asking / filming" report and open the media-exposure alert. Raises
    ComplaintError (English and Chinese, naming the field) for an unknown unit or category or an empty text."""
    try:
        unit = org.unit(unit_id)
    except KeyError:
        raise ComplaintError(f"unknown unit {unit_id!r} (not in the org chart)",
                             f"机构不存在：{unit_id or '（空）'}（不在机构设置中）", field="unit_id") from None
    body = (text or "").strip()
    if not body:
        raise ComplaintError("text is empty: say who is asking or filming, and about what",
                             "请填写报告内容：哪家媒体的记者、在询问或拍摄什么", field="text")
    if len(body) > TEXT_LIMIT:
        raise ComplaintError(f"text longer than {TEXT_LIMIT} characters", f"报告内容过长（不超过 {TEXT_LIMIT} 字）",
                             field="text")
    if category not in CATEGORIES:
        raise ComplaintError(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}",
                             f"风险类别无效：{category}", field="category")
    key = (idempotency_key or "").strip()
    if len(key) > 200:
        raise ComplaintError("idempotency_key longer than 200 characters", "幂等键过长（不超过 200 字符）",
                             field="idempotency_key")
    address = hashlib.sha256(f"{actor}\n{key}".encode()).hexdigest()[:32] if key else new_report_key()
    # what was asked, so a retry is told apart from a second, different report sent under the same key
    fingerprint = hashlib.sha256(f"{unit.id}\n{category}\n{body}".encode()).hexdigest()
    existing = _existing(session, address, fingerprint)
    if existing is not None:
        return existing
    now = clock.now()
    name = unit.short_name or unit.name
    title = plain_line(f"{name}报告：记者正在询问/拍摄（尚未见报）——{body}", 80)
    level = policy.complaints.media_report_level
    story = internal_story(session, kind=KIND, key=address, channel=Channel.news, unit_id=unit.id, title=title,
                           text=body, at=now, actor=actor, now=now,
                           meta={"unit_id": unit.id, "request_fingerprint": fingerprint})
    opened = open_by_report(session, story=story, level=level, category=category, actor=actor, org=org,
                            policy=policy, clock=clock, reason=f"{name}报告记者正在询问/拍摄（尚未见报）",
                            open_incident=False)
    alert = session.scalar(select(Alert).where(Alert.story_id == story.id))
    assert alert is not None
    incident = opened if isinstance(opened, Incident) else None
    if incident is not None:
        session.add(TimelineEvent(incident=incident, at=now, kind="media_report", actor=actor,
                                  text=f"{actor} 报告（内部报告，尚未见报）：{plain_line(body, 300)}",
                                  data={"unit_id": unit.id, "story_id": story.id}))
    audit_chain.append(session, at=now, actor=actor, action="media_report.create", object_type="alert",
                       object_id=alert.id, detail=title,
                       data={"unit_id": unit.id, "level": alert.level, "story_id": story.id,
                             "incident_id": incident.id if incident else None})
    session.flush()
    return MediaReport(alert_id=alert.id, incident_id=incident.id if incident else None,
                       incident_number=incident.number if incident else None, level=alert.level,
                       story_id=story.id, created=True)


def _existing(session: Session, address: str, fingerprint: str) -> MediaReport | None:
    """The report already stored under this key when it asked the same; ComplaintError (conflict) when it did not.
    Reports stored before fingerprints were kept have none and are taken as the same."""
    url = f"internal://{KIND}/{address}"
    article = session.scalar(select(Article).where(Article.url_hash == hashlib.sha256(url.encode()).hexdigest()))
    if article is None or article.story_id is None:
        return None
    stored = (article.meta or {}).get("request_fingerprint")
    if stored is not None and stored != fingerprint:
        raise ComplaintError("this idempotency key was already used for a different media report",
                             "幂等键已用于另一条内容不同的媒体采访报告", field="idempotency_key", code="conflict")
    alert = session.scalar(select(Alert).where(Alert.story_id == article.story_id))
    if alert is None:
        return None
    incident = session.get(Incident, alert.incident_id) if alert.incident_id else None
    return MediaReport(alert_id=alert.id, incident_id=incident.id if incident else None,
                       incident_number=incident.number if incident else None, level=alert.level,
                       story_id=article.story_id, created=False)
