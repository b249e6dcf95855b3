"""Rounds with nothing due: what lets the scheduled jobs pass over a case or complaint between its deadlines.

The scheduled jobs (``incidents.scheduled``, ``incidents.complaints.scheduled``) run on every pipeline round over
every case and complaint that can still owe something, and on most rounds nothing of most of them is due. After a
job has looked at one, it remembers the earliest time that one can next need a notice together with everything the
job read about it (its row, its tasks, its clock facts); on later rounds, while the time has not come and what it
reads is the same, the job passes over it without working out its clocks and owners or reading its notices.

Why this is safe: a job's notices for one record depend only on what it reads of that record, the notices already
sent, the configuration and the time. What it read is compared on every round (a step done, a deadline moved, a
new level: looked at again at once); a notice sent meanwhile by another process only removes work; and a new
configuration (a reload gives new ``OrgChart`` / ``Policy`` objects) starts afresh. The remembered time errs early,
never late (it is the time the job compares the clock with, before quiet hours or anything else that makes it wait
longer), so a notice goes out in the same round as without the skip. Kept per database engine and in memory only:
a restart looks at everything once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import inspect
from sqlalchemy.orm import Session

NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass
class NotBefore:
    """record id → (what the job read of it, the earliest time it can next need a notice)."""

    org: Any
    policy: Any
    known: dict[int, tuple[Any, datetime]] = field(default_factory=dict)

    def nothing_due(self, record_id: int, read: Any, now: datetime) -> bool:
        """True when ``record_id`` was looked at, reads the same, and its next possible notice is after ``now``."""
        seen = self.known.get(record_id)
        return seen is not None and now < seen[1] and seen[0] == read

    def remember(self, record_id: int, read: Any, next_due: datetime | None) -> None:
        """``next_due``: after ``now`` (None: something may be due already, look at it every round)."""
        if next_due is None:
            self.known.pop(record_id, None)
        else:
            self.known[record_id] = (read, next_due)

    def keep_only(self, ids: Any) -> None:
        """Forget the records no longer watched (closed, reviewed): they are never looked at again."""
        for gone in set(self.known) - set(ids):
            del self.known[gone]


_BY_ENGINE: WeakKeyDictionary[Any, dict[str, NotBefore]] = WeakKeyDictionary()


def not_before(session: Session, job: str, *, org: Any, policy: Any) -> NotBefore:
    """The remembered times of ``job`` on the session's database, for this configuration."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    jobs = _BY_ENGINE.get(engine)
    if jobs is None:
        jobs = _BY_ENGINE[engine] = {}
    kept = jobs.get(job)
    if kept is None or kept.org is not org or kept.policy is not policy:
        kept = jobs[job] = NotBefore(org, policy)
    return kept


def forget_all() -> None:
    """Forget every remembered time (tests compare rounds with and without them)."""
    _BY_ENGINE.clear()


def row_values(obj: Any) -> tuple:
    """Every mapped column of an ORM object, as read."""
    return tuple(getattr(obj, key) for key in _column_keys(type(obj)))


@lru_cache(maxsize=64)
def _column_keys(cls: type) -> tuple[str, ...]:
    """The mapped column attributes of ``cls`` (looked up once: ``inspect`` on every row of every round was a
    measurable part of the round)."""
    return tuple(attr.key for attr in inspect(cls).column_attrs)


def earliest(times: list[datetime], now: datetime) -> datetime | None:
    """The first of ``times`` if it is after ``now``; None if one is due already; ``NEVER`` for none."""
    due = min(times, default=NEVER)
    return due if due > now else None
