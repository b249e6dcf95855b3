"""Reading a replay's decisions back from the records the live code wrote.

Nothing here decides anything: every decision is a row the pipeline wrote during the replay.

* ``alert_opened`` / ``alert_level_changed`` — an ``alerts`` row, and the levels its duty monitors were told
  about (the outbox keys alert messages by level: ``alert:<id>:level:<L>``; an alert nobody could be told about
  shows only its current level);
* ``incident_opened``, ``level_changed``, ``task_overdue`` (a task's or a reporting clock's overdue step),
  ``reminder``, ``group_unacknowledged``, ``resurgence``, ``risk_rose_after_close``, ``complaint_linked``,
  ``playbook_added`` — the incident's timeline events; ``incident_merged`` — the ``merged_into`` event a merge
  (``incidents.merge``) writes on the case merged away, naming the case it joined (``into``). The pipeline never
  merges by itself: a merge is a person's act, so a replay shows one only when someone merged in its database;
* ``escalated`` — the audit log's ``alert.escalate`` entries (an alert past its acknowledgement deadline moved up
  its chain, with or without an incident);
* ``notification`` — outbox rows the delivery code marked sent after handing them to a (recording) channel, one
  decision per message (rows sharing purpose, subject and creation time), naming its channels and recipients.

``items`` of a decision are the input ids of its story's articles stored up to that moment (an article's
``fetched_at`` is the tick it entered the replay).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from runner.backtest.replay import Replayed
from yuqing.clock import ensure_utc

TIMELINE_DECISIONS = {
    "opened": "incident_opened",
    "level_changed": "level_changed",
    "deadline_overdue": "task_overdue",
    "deadline_reminder": "reminder",
    "group_unacknowledged": "group_unacknowledged",
    "resurgence": "resurgence",
    "risk_rose_after_close": "risk_rose_after_close",
    "complaint_linked": "complaint_linked",
    "playbook_added": "playbook_added",
    "merged_into": "incident_merged",
}
_ORDER = {"alert_opened": 0, "alert_level_changed": 1, "incident_opened": 2, "level_changed": 3, "escalated": 4,
          "reminder": 5, "task_overdue": 6, "notification": 9}


def collect(done: Replayed) -> dict[str, Any]:
    """The decisions (time-ordered), the summary, the replay's own figures and the input's hourly volume."""
    from crawlers.models import Article, Mention
    from incidents.models import Alert, Incident, Notification, TimelineEvent
    from yuqing.models import AuditEntry

    rt = done.rt
    tz = ZoneInfo(rt.settings.timezone)

    def iso(when: datetime | None) -> str | None:
        return ensure_utc(when).astimezone(tz).isoformat() if when is not None else None

    with rt.session_factory() as session:
        # story → [(fetched_at, [ids])] in the order articles entered the replay
        story_rows: dict[int, list[tuple[datetime, list[str]]]] = defaultdict(list)
        for story_id, key, fetched in session.execute(
                select(Article.story_id, Article.url_hash, Article.fetched_at)
                .where(Article.story_id.is_not(None)).order_by(Article.fetched_at, Article.id)):
            story_rows[story_id].append((ensure_utc(fetched), done.ids_by_url.get(key, [])))

        def items_of(story_id: int | None, at: datetime | None = None) -> list[str]:
            rows = story_rows.get(story_id or -1, [])
            if at is not None:
                rows = rows[:bisect_right([r[0] for r in rows], ensure_utc(at))]
            return list(dict.fromkeys(i for _, ids in rows for i in ids))

        alerts = {a.id: a for a in session.scalars(select(Alert).order_by(Alert.id))}
        incidents = {i.id: i for i in session.scalars(select(Incident).order_by(Incident.id))}
        alert_of_incident = {a.incident_id: a.id for a in alerts.values() if a.incident_id is not None}
        decisions: list[dict[str, Any]] = []

        def add(at: datetime, kind: str, *, incident: int | None, alert: int | None, level: str | None,
                story_id: int | None, **extra: Any) -> None:
            decisions.append({"at": ensure_utc(at), "decision": kind, "incident": incident, "alert": alert,
                              "level": level, "items": items_of(story_id, at), **extra})

        # incidents: level history from their timeline
        history: dict[int, list[tuple[datetime, str]]] = {}
        events = session.scalars(select(TimelineEvent).where(TimelineEvent.kind.in_(list(TIMELINE_DECISIONS)))
                                 .order_by(TimelineEvent.at, TimelineEvent.id)).all()
        for ev in events:
            if ev.kind == "opened":
                history.setdefault(ev.incident_id, []).append((ensure_utc(ev.at), str(ev.data.get("level"))))
            elif ev.kind == "level_changed":
                history.setdefault(ev.incident_id, []).append((ensure_utc(ev.at), str(ev.data.get("to"))))

        def incident_level(incident_id: int, at: datetime) -> str | None:
            hist = history.get(incident_id) or []
            level = None
            for when, lv in hist:
                if when <= ensure_utc(at):
                    level = lv
            return level or (incidents[incident_id].level if incident_id in incidents else None)

        for ev in events:
            inc = incidents.get(ev.incident_id)
            extra: dict[str, Any] = {}
            if ev.kind in ("deadline_overdue", "deadline_reminder"):
                extra = {"what": ev.data.get("item"), "step": ev.data.get("step")}
            elif ev.kind == "level_changed":
                extra = {"from": ev.data.get("from")}
            elif ev.kind == "merged_into":
                extra = {"into": ev.data.get("into"), "into_number": ev.data.get("into_number"), "by": ev.actor}
            add(ev.at, TIMELINE_DECISIONS[ev.kind], incident=ev.incident_id,
                alert=alert_of_incident.get(ev.incident_id), level=incident_level(ev.incident_id, ev.at),
                story_id=inc.story_id if inc else None, **extra)

        # alerts: opened, and each higher level the duty monitors were told about
        alert_levels: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
        for alert_id, key, created in session.execute(
                select(Notification.alert_id, Notification.dedup_key, Notification.created_at)
                .where(Notification.purpose == "alert", Notification.alert_id.is_not(None))
                .order_by(Notification.created_at, Notification.id)):
            parts = key.split(":")
            level = parts[3] if len(parts) > 3 and parts[2] == "level" else None
            if level and level not in [lv for _, lv in alert_levels[alert_id]]:
                alert_levels[alert_id].append((ensure_utc(created), level))
        def incident_then(alert: Any, at: datetime) -> int | None:
            """The alert's incident if it was open by ``at`` (an alert may come hours before its incident)."""
            inc = incidents.get(alert.incident_id) if alert.incident_id else None
            return inc.id if inc is not None and ensure_utc(inc.opened_at) <= ensure_utc(at) else None

        def alert_level(alert: Any, at: datetime) -> str:
            level = alert.level
            for when, lv in alert_levels.get(alert.id) or []:
                if when <= ensure_utc(at):
                    level = lv
            return level

        for alert in alerts.values():
            told = alert_levels.get(alert.id) or [(ensure_utc(alert.created_at), alert.level)]
            add(alert.created_at, "alert_opened", incident=incident_then(alert, alert.created_at), alert=alert.id,
                level=told[0][1], story_id=alert.story_id, unit=alert.unit_id)
            for when, level in told[1:]:
                add(when, "alert_level_changed", incident=incident_then(alert, when), alert=alert.id, level=level,
                    story_id=alert.story_id)

        # escalations (audit log)
        for entry in session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.escalate")
                                     .order_by(AuditEntry.at, AuditEntry.id)):
            alert = alerts.get(int(entry.object_id)) if entry.object_id.isdigit() else None
            if alert is None:
                continue
            add(entry.at, "escalated", incident=incident_then(alert, entry.at), alert=alert.id,
                level=alert_level(alert, entry.at),
                story_id=alert.story_id, step=entry.detail, people=list((entry.data or {}).get("people") or []))

        # messages handed to a channel
        messages: dict[tuple, dict[str, Any]] = {}
        for n in session.scalars(select(Notification).where(Notification.status == "sent")
                                 .order_by(Notification.sent_at, Notification.id)):
            key = (n.purpose, n.subject, n.created_at, n.alert_id, n.incident_id)
            msg = messages.get(key)
            if msg is None:
                msg = messages[key] = {"at": ensure_utc(n.sent_at or n.created_at), "n": n, "channels": set(),
                                       "recipients": set()}
            msg["channels"].add(n.channel)
            msg["recipients"].add(n.recipient_id)
        for msg in messages.values():
            n = msg["n"]
            alert = alerts.get(n.alert_id) if n.alert_id else None
            story_id = alert.story_id if alert else (
                incidents[n.incident_id].story_id if n.incident_id in incidents else None)
            level = (incident_level(n.incident_id, msg["at"]) if n.incident_id in incidents
                     else alert_level(alert, msg["at"]) if alert else None)
            add(msg["at"], "notification", incident=n.incident_id, alert=n.alert_id, level=level, story_id=story_id,
                purpose=n.purpose, channels=sorted(msg["channels"]), recipients=sorted(msg["recipients"]))

        decisions.sort(key=lambda d: (d["at"], _ORDER.get(d["decision"], 7), d["incident"] or 0, d["alert"] or 0))
        for d in decisions:
            d["at"] = iso(d["at"])

        summary_incidents = []
        for inc in incidents.values():
            hist = history.get(inc.id) or [(ensure_utc(inc.opened_at), inc.level)]
            summary_incidents.append({
                "id": inc.id, "number": inc.number, "unit": inc.unit_id, "opened_at": iso(inc.opened_at),
                "status": inc.status,
                "level": inc.level, "level_history": [{"level": lv, "at": iso(at)} for at, lv in hist],
                "title": inc.title, "items": items_of(inc.story_id)})
        stats = done.stats
        summary = {
            "items": len({ln.item.id for ln in done.lines}),
            "lines": len(done.lines),
            "mentions": session.scalar(select(func.count()).select_from(Mention)) or 0,
            "alerts": len(alerts),
            "incidents": summary_incidents,
            "alert_list": [{"id": a.id, "unit": a.unit_id, "level": a.level, "opened_at": iso(a.created_at),
                            "incident": a.incident_id, "title": a.title, "items": items_of(a.story_id)}
                           for a in alerts.values()],
            "replay": {"start": iso(stats.start), "end": iso(stats.end), "rounds": stats.rounds,
                       "stored": dict(sorted(stats.stored.items())), "store_errors": stats.store_errors[:20],
                       "round_errors": stats.round_errors[:20], "not_replayed_after_until": stats.after_end,
                       "messages_handed_to_channels": len(done.send_log.handed)},
        }
    return {"decisions": decisions, "summary": summary}
