"""Incident numbers ``YQ-YYYYMMDD-NNN`` (the local date, Asia/Shanghai by default; NNN restarts each day), taken
from a per-day counter row so two processes opening incidents at the same moment never draw the same number.

Why a counter row and not "the highest number today + 1": two workers reading the maximum at once would both
write the same next number (the unique constraint on ``incidents.number`` would then fail one of them, and its
whole alert transaction with it). ``crawlers.claims.bump`` increments ``sequence_counters['incident:YYYYMMDD']``
with ``UPDATE … RETURNING``: the row stays locked until the incident's transaction commits, so a second worker
waits for the first and gets the next value. Gaps: none from concurrency or crashes — a transaction that rolls
back (a failed alert step, a killed worker) rolls its increment back too, so the next incident gets that number.
A counter missing for a day (the first incident of the day, or a database whose incidents were written before the
counter existed) starts at the highest number already taken that day. More than 999 incidents in a day widen
NNN to four digits rather than wrap.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.claims import bump
from incidents.models import Incident

PREFIX = "YQ"


def next_incident_number(session: Session, now: datetime, timezone: str) -> str:
    """The next number of ``now``'s local day; the caller's transaction holds the day's counter until it ends."""
    day = f"{now.astimezone(ZoneInfo(timezone)):%Y%m%d}"
    prefix = f"{PREFIX}-{day}-"
    seq = bump(session, f"incident:{day}", start=_highest_taken(session, prefix))
    return f"{prefix}{seq:03d}"


def _highest_taken(session: Session, prefix: str) -> int:
    """The highest NNN already used with ``prefix`` (0 if none): where a new day's counter starts."""
    taken = session.scalars(select(Incident.number).where(Incident.number.like(prefix + "%"))).all()
    return max((int(n.rsplit("-", 1)[1]) for n in taken if n.rsplit("-", 1)[1].isdigit()), default=0)
