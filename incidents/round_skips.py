"""Rounds with nothing due: what lets the scheduled jobs pass over a case or complaint between its deadlines.

The scheduled jobs (``incidents.scheduled``, ``incidents.complaints.scheduled``) run on every pipeline round over
every case and complaint that can still owe something, and on most rounds nothing of most of them is due. After a
job has looked at one, it remembers the earliest time that one can next need a notice together with what the
timing of its notices depends on (for a case: its status, level, unit, commander, opening time, its tasks'
deadlines, states and owners, its clock facts; for a complaint: its clocks' times, severity and owners — each job
names its columns); on later rounds, while the time has not come and those read the same, the job passes over it
without working out its clocks and owners or reading its notices. The jobs that use it: the deadline notices and
the reporting-chain escalations (``incidents.scheduled``: a case's groups not yet escalated, until the first of
their deadlines, while its latest telling is the same), the complaint reminders (``incidents.complaints.scheduled``)
and the complaint-step sync of linked cases (``incidents.complaints.links``: no time, only "what it reads is the
same as when it last changed nothing").

Why this is safe: whether and when a job's notices for one record fall due depends only on those values, the
notices already sent, the configuration and the time (what a notice *says* — a title, a description — is read
from the record when one is due). The values are compared on every round (a step done, a deadline moved, a new
level: looked at again at once); a change to anything else (a case's summary or peak risk while its story grows)
leaves the record passed over; a notice sent meanwhile by another process only removes work; and a new
configuration (a reload gives new ``OrgChart`` / ``Policy`` objects) starts afresh. The remembered time errs early,
never late (it is the time the job compares the clock with, before quiet hours or anything else that makes it wait
longer), so a notice goes out in the same round as without the skip. Kept per database engine and in memory only:
a restart looks at everything once. Records are remembered by id, and each job's values include the record's
creation or opening time, so a row that took a deleted row's id (SQLite may reuse the highest id) reads
differently and is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

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


def earliest(times: list[datetime], now: datetime) -> datetime | None:
    """The first of ``times`` if it is after ``now``; None if one is due already; ``NEVER`` for none."""
    due = min(times, default=NEVER)
    return due if due > now else None
