"""Shared state that lets several processes run the same stage at once: counters, leased claims, the clustering log.

Every pipeline stage finds its work by querying the database, so two processes running one stage would, without
this module, pick the same items. Three small tables make that safe on PostgreSQL (any number of workers) and keep
the single-process behaviour on SQLite (one writer at a time, so the same statements are trivially serial):

* ``sequence_counters`` — named counters bumped with ``UPDATE … SET value = value + 1 … RETURNING value``
  (:func:`bump`). The update takes the row's lock until the transaction ends, so the value is never handed out
  twice, and a transaction that rolls back gives its value back (no gaps). Incident numbers use one counter per
  local day (``incidents.numbering``); story clustering uses the counter ``story_assignment`` both as its lock (one
  assigner at a time, across processes) and as the order in which assignments happened.
* ``story_assignments`` — one row per article assigned to a story, numbered by that counter, so an ingest process
  can replay into its in-memory ``StoryIndex`` what other processes clustered since it last looked
  (``StoryIndex.sync``).
* ``work_claims`` — a lease on one item of one stage (``kind``, ``item_id``): who holds it (``claimed_by``, a token
  of one claiming call) and until when (``claimed_until``, real UTC time: leases are about processes, not the
  simulated world of the demo's scaled clock). Used where the work is too slow to keep a transaction open: the
  classifier's batch. A worker that dies leaves its claims; they expire after the lease and the next worker
  takes the items.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, mapped_column

from yuqing.db import Base, UTCDateTime

STORY_ASSIGNMENT = "story_assignment"  # the counter that serialises clustering and numbers story_assignments


class SequenceCounter(Base):
    """A named counter; its row lock is held by whoever bumped it until that transaction ends."""

    __tablename__ = "sequence_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class StoryAssignment(Base):
    """The clustering log: article ``article_id`` was assigned (or kept) in the ``seq``-th clustering step."""

    __tablename__ = "story_assignments"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    article_id: Mapped[int] = mapped_column(Integer, index=True)
    story_id: Mapped[int] = mapped_column(Integer)


class WorkClaim(Base):
    """A lease on one work item of one stage (``kind``: ``classify``)."""

    __tablename__ = "work_claims"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def bump(session: Session, name: str, *, start: int = 0) -> int:
    """Add one to counter ``name`` (created at ``start`` if missing) and return the new value.

    The counter's row stays locked until the caller's transaction ends, so concurrent callers are served one after
    the other and a rolled-back value is handed out again. On SQLite the update takes the database's write lock.
    """
    create = _CREATE_COUNTER["postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"]
    session.execute(create, {"counter": name, "first": start})
    return int(session.execute(_BUMP, {"counter": name}).scalar_one())


def hold(session: Session, key: InstrumentedAttribute[int], value: int) -> bool:
    """Take the row ``key == value`` for the rest of the transaction, so no other runner works on it meanwhile.

    PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``; False when another transaction holds the row (or it is gone),
    and the caller moves on. SQLite: the database's single write lock, taken at once by a write that changes
    nothing (waiting up to the busy timeout for another writer), so what the caller reads next is the latest; True
    when the row exists. Either way the caller reads its work *after* this call and commits or rolls back soon.
    """
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(select(key).where(key == value).with_for_update(skip_locked=True)).first() is not None
    take_sqlite_write_lock(session)
    return session.execute(select(key).where(key == value)).first() is not None


def take_sqlite_write_lock(session: Session) -> None:
    """SQLite: take the database's single write lock now, with a write that changes nothing (waiting up to the
    busy timeout for another writer). A transaction that read first and wrote later would instead fail at once
    (``database is locked``) when another connection committed in between; taking the lock first makes what the
    caller reads next the latest and its later writes safe."""
    session.execute(_TOUCH_NOTHING)


# Built once, the counter's name (and start) bound per call: ingest bumps the clustering counter and takes SQLite's
# write lock for every relevant article, and building these statements and their cache keys each time cost about
# as much as running them. Same SQL. No counter is ever loaded as an ORM object, so the updates need no
# synchronisation of the session (and could not do it by evaluation: their values are bound at execution).
_CREATE_COUNTER = {
    name: dialect.insert(SequenceCounter.__table__).values(name=bindparam("counter"), value=bindparam("first"))
    .on_conflict_do_nothing(index_elements=["name"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}
_BUMP = (update(SequenceCounter).where(SequenceCounter.name == bindparam("counter"))
         .values(value=SequenceCounter.value + 1).returning(SequenceCounter.value)
         .execution_options(synchronize_session=False))
_TOUCH_NOTHING = (update(SequenceCounter).where(SequenceCounter.name == "").values(value=SequenceCounter.value)
                  .execution_options(synchronize_session=False))


def claim_token() -> str:
    """A token naming one claiming call (unique across processes and threads)."""
    return uuid.uuid4().hex


def claim(session: Session, *, kind: str, item_ids: Sequence[int], token: str, now: datetime,
          until: datetime) -> list[int]:
    """Lease the items of ``item_ids`` that nobody holds (no claim, or an expired one) to ``token``; return them.

    One upsert decides: an existing live claim is left alone and its item is not returned. The caller commits.
    """
    if not item_ids:
        return []
    table = WorkClaim.__table__
    stmt = _insert(session, table).values(
        [{"kind": kind, "item_id": i, "claimed_by": token, "claimed_until": until} for i in item_ids])
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "item_id"],
        set_={"claimed_by": stmt.excluded.claimed_by, "claimed_until": stmt.excluded.claimed_until},
        where=table.c.claimed_until < now,
    ).returning(table.c.item_id)
    return sorted(int(i) for i in session.execute(stmt).scalars())


def release_many(session: Session, *, kind: str, item_ids: Sequence[int], token: str) -> set[int]:
    """Drop the claims ``token`` still holds on ``item_ids``, in one statement, and return the ids whose claim it
    held: the others' leases were lost (they expired and another worker took them), so their results must not be
    recorded."""
    ids = list(item_ids)
    if not ids:
        return set()
    table = WorkClaim.__table__
    return {int(i) for i in session.execute(
        delete(table).where(table.c.kind == kind, table.c.claimed_by == token, table.c.item_id.in_(ids))
        .returning(table.c.item_id)).scalars()}


def live_claims(kind: str, now: datetime):
    """Item ids of ``kind`` under a live lease at ``now`` (to leave out when looking for work)."""
    return select(WorkClaim.item_id).where(WorkClaim.kind == kind, WorkClaim.claimed_until >= now)


def drop_claims(session: Session, *, kind: str, token: str, item_ids: Iterable[int]) -> int:
    """Give back the claims ``token`` still holds on ``item_ids`` (work not done); returns how many."""
    ids = list(item_ids)
    if not ids:
        return 0
    result = session.execute(delete(WorkClaim).where(WorkClaim.kind == kind, WorkClaim.claimed_by == token,
                                                     WorkClaim.item_id.in_(ids)))
    return int(result.rowcount)
