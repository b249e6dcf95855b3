"""The audit log's hash chain: every ``audit_log`` row carries the SHA-256 of its own content and of the row
before it, so a row changed, removed or slipped in afterwards is found by ``verify`` (``yuqing audit verify``, the
admin page ``/admin/audit``).

Why it is built this way:

* **One writer path.** ``append`` is how code writes an entry (``api.audit.record`` and the incidents service call
  it), and ``chain_pending`` — run by a ``before_flush`` hook on every session (registered in ``yuqing.models``) —
  is where every new ``AuditEntry`` gets its id, ``prev_hash`` and ``row_hash``, however it was added. So a test or
  a future caller that does ``session.add(AuditEntry(...))`` is chained too, and nothing can forget to.
* **Hashes of what is stored.** Before hashing, the hook puts each field into the form the database will give back
  (the time in UTC, the JSON as it round-trips through the JSON column), and the hash is taken over that; so
  ``verify`` reading the row later computes the same bytes on SQLite and PostgreSQL.
* **Appends are serialised.** Under the lock (PostgreSQL: a transaction-scoped advisory lock keyed on the table's
  OID, so schemas never contend; SQLite: the database's single write lock, taken by a no-op write) the hook reads
  the newest row and numbers the new ones after it (id = last id + 1, in the order they were added), so id order
  is chain order. If the lock were ever bypassed, the explicit ids and the unique ``prev_hash`` make the database
  refuse a fork instead of storing one.
* **What it cannot prove.** Anyone able to write the table and run this code can rewrite the whole chain
  consistently (there is no secret in it). ``verify`` proves internal consistency; comparing the newest hash with
  one recorded elsewhere earlier (``--anchor ID:HASH``) proves nothing before that point was rewritten.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from yuqing.models import AuditEntry, DeploymentFact

GENESIS = "0" * 64  # the prev_hash of the very first row
LOCK_NAMESPACE = 0x5951  # high 32 bits of the PostgreSQL advisory lock key ("YQ"); low 32 bits: the table's OID
ARCHIVE_FACT = "audit_log.archived_through"  # deployment fact "ID:HASH": rows up to ID were archived
RECENT_HASHES = 4096  # how far back verify looks to tell "a row was inserted" from "a row was removed"
VERIFY_BATCH = 1000

_TABLE = AuditEntry.__table__
_COLUMNS = (_TABLE.c.id, _TABLE.c.at, _TABLE.c.actor, _TABLE.c.action, _TABLE.c.object_type, _TABLE.c.object_id,
            _TABLE.c.detail, _TABLE.c.data, _TABLE.c.prev_hash, _TABLE.c.row_hash)

# PostgreSQL only: refuse UPDATE, DELETE and TRUNCATE on audit_log (the migration and create_all both install it).
PG_GUARD_FUNCTION = "audit_log_refuse_change"
PG_GUARD_DDL = (
    f"""CREATE OR REPLACE FUNCTION {PG_GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$""",
    f"CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    f"FOR EACH ROW EXECUTE FUNCTION {PG_GUARD_FUNCTION}()",
    f"CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_GUARD_FUNCTION}()",
)
PG_GUARD_DROP = (
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    f"DROP FUNCTION IF EXISTS {PG_GUARD_FUNCTION}()",
)


class AppendOnlyError(RuntimeError):
    """An audit entry was changed or deleted through the ORM, or given an id of its own."""


# --- the hash --------------------------------------------------------------------------------------------------
def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept as is: one spelling for one value."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def as_stored_json(value: Any) -> Any:
    """``value`` as the JSON column gives it back (tuples become lists, keys strings); NaN is refused, since
    PostgreSQL refuses it and a hash must not depend on which database stored the row."""
    return json.loads(json.dumps(value, allow_nan=False))


def canonical_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column; use an aware datetime")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def compute_hash(*, at: datetime, actor: str, action: str, object_type: str, object_id: str, detail: str,
                 data: Any, prev_hash: str) -> str:
    """SHA-256 (hex) of the row's canonical serialisation: a canonical JSON object of its content and the
    previous row's hash, encoded as UTF-8 (lone surrogates, which only JSON escapes can carry, as they are)."""
    payload = {"at": canonical_time(at), "actor": actor, "action": action, "object_type": object_type,
               "object_id": object_id, "detail": detail, "data": data, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(payload).encode("utf-8", "surrogatepass")).hexdigest()


def hash_of_row(row: Any, prev_hash: str | None = None) -> str:
    """The hash a stored row (ORM object or result row) should carry, linked to ``prev_hash`` (default: its own)."""
    return compute_hash(at=row.at, actor=row.actor, action=row.action, object_type=row.object_type,
                        object_id=row.object_id, detail=row.detail, data=row.data,
                        prev_hash=row.prev_hash if prev_hash is None else prev_hash)


# --- writing ---------------------------------------------------------------------------------------------------
def append(session: Session, *, at: datetime, actor: str, action: str, object_type: str, object_id: object,
           detail: str = "", data: dict | None = None) -> AuditEntry:
    """Add one audit entry to the caller's transaction (it commits or rolls back with the action it records).

    Fields are cut to their column widths here, the same on every database; the chain fields are filled at flush.
    """
    entry = AuditEntry(at=at, actor=str(actor)[:64], action=str(action)[:64], object_type=str(object_type)[:32],
                       object_id=str(object_id)[:64], detail=str(detail or ""), data=data or {})
    session.add(entry)
    return entry


def chain_pending(session: Session) -> None:
    """Give every new ``AuditEntry`` of this flush its id and hashes; refuse changes and deletions.

    Called from the ``before_flush`` hook; a no-op (no query) when the flush holds no audit entry.
    """
    for obj in session.deleted:
        if isinstance(obj, AuditEntry):
            raise AppendOnlyError(f"audit_log is append-only: entry {obj.id} may not be deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) and session.is_modified(obj):
            raise AppendOnlyError(f"audit_log is append-only: entry {obj.id} may not be changed")
    new = [obj for obj in session.new if isinstance(obj, AuditEntry)]
    if not new:
        return
    new.sort(key=lambda obj: sa_inspect(obj).insert_order or 0)
    for entry in new:
        if entry.id is not None:
            raise AppendOnlyError("audit entries are numbered by the chain; do not set an id")
        _normalise(entry)
    last_id, last_hash = lock_and_read_head(session.connection(bind_arguments={"mapper": AuditEntry}))
    for entry in new:
        last_id += 1
        entry.id = last_id
        entry.prev_hash = last_hash
        entry.row_hash = last_hash = hash_of_row(entry)


def _normalise(entry: AuditEntry) -> None:
    """Put every hashed field in the form the database will store and give back."""
    if entry.at is None:
        raise ValueError("an audit entry needs its time (at)")
    canonical_time(entry.at)  # refuses a naive datetime, with the same message as the column type
    entry.at = entry.at.astimezone(UTC)
    for name in ("actor", "action", "object_type", "object_id"):
        value = getattr(entry, name)
        if value is not None and not isinstance(value, str):
            setattr(entry, name, str(value))
    entry.detail = "" if entry.detail is None else str(entry.detail)
    entry.data = as_stored_json({} if entry.data is None else entry.data)


def lock_and_read_head(conn: Connection) -> tuple[int, str]:
    """Take the append lock for the rest of the transaction, then read the newest row's (id, row_hash).

    The read comes after the lock, so it sees every append committed before ours (READ COMMITTED on
    PostgreSQL; on SQLite holding the write lock means our snapshot is the newest).
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock((CAST(:ns AS bigint) << 32) "
                          "| CAST(CAST(CAST('audit_log' AS regclass) AS oid) AS bigint))"), {"ns": LOCK_NAMESPACE})
    elif dialect == "sqlite":
        # A no-op write: it begins the write transaction (waiting for any other writer), and changes nothing.
        conn.exec_driver_sql("UPDATE audit_log SET id = id WHERE 0 = 1")
    row = conn.execute(select(_TABLE.c.id, _TABLE.c.row_hash).order_by(_TABLE.c.id.desc()).limit(1)).first()
    if row is None:
        return 0, GENESIS
    return int(row.id), row.row_hash or GENESIS


# --- verifying -------------------------------------------------------------------------------------------------
PROBLEM_NAMES = {"changed": "内容被修改", "removed": "记录被删除", "inserted": "记录被插入", "anchor": "与锚定哈希不符"}


@dataclass(frozen=True)
class ChainProblem:
    """The first row where the chain breaks: its id, what kind of break, and an explanation."""

    id: int
    kind: str  # changed | removed | inserted | anchor
    message: str  # English, for the CLI and the API
    message_zh: str  # Chinese, for the dashboard

    @property
    def kind_name(self) -> str:
        return PROBLEM_NAMES[self.kind]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "kind_name": self.kind_name, "message": self.message,
                "message_zh": self.message_zh}


@dataclass(frozen=True)
class ChainReport:
    rows: int  # rows checked (up to, not including, the first bad row)
    last_id: int | None  # the newest intact row
    last_hash: str | None
    problem: ChainProblem | None = None
    archived_through: int | None = None  # rows up to this id were archived (the chain starts after it)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "last_id": self.last_id, "last_hash": self.last_hash,
                "archived_through": self.archived_through,
                "problem": self.problem.to_json() if self.problem else None}


def parse_hash(value: str) -> str:
    """A row hash as printed by ``yuqing audit verify``: 64 hex digits (case ignored)."""
    digest = value.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"a hash is 64 hex digits, not {value!r}")
    return digest


def parse_anchor(value: str) -> tuple[int, str]:
    """``ID:HASH`` as printed by ``yuqing audit verify``."""
    ident, sep, digest = value.strip().partition(":")
    if not sep or not ident.strip().isdigit():
        raise ValueError(f"an anchor is ID:HASH (a row id and its hash), not {value!r}")
    return int(ident), parse_hash(digest)


def verify(conn: Connection | Session, *, start_hash: str | None = None,
           anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk the whole log in id order and report the first row that breaks the chain (or that all is intact).

    ``start_hash`` is the hash the first row must link to. By default: the hash recorded when older rows were
    archived (deployment fact ``audit_log.archived_through`` = ``ID:HASH``, see docs/security.md), else
    ``GENESIS``. ``anchor`` (id, hash) is a row's hash recorded elsewhere earlier: that row must still exist with
    that hash, so a rewrite of everything up to it (hashes recomputed) or the removal of the newest rows is found
    too.
    """
    archived: int | None = None
    if start_hash is None:
        fact = conn.execute(select(DeploymentFact.value).where(DeploymentFact.key == ARCHIVE_FACT)).scalar()
        start_hash = GENESIS
        if fact is not None:
            try:
                archived, start_hash = parse_anchor(fact)
            except ValueError:
                return ChainReport(0, None, None, ChainProblem(
                    0, "anchor", f"deployment fact {ARCHIVE_FACT} is {fact!r}, not ID:HASH",
                    f"归档记录（{ARCHIVE_FACT}）格式无效"))
    report = _walk(_batches(conn), start_hash=start_hash, anchor=anchor)
    return replace(report, archived_through=archived)


def _batches(conn: Connection | Session) -> Iterable[Any]:
    after = None
    while True:
        query = select(*_COLUMNS).order_by(_TABLE.c.id).limit(VERIFY_BATCH)
        if after is not None:
            query = query.where(_TABLE.c.id > after)
        rows = conn.execute(query).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def _walk(rows: Iterable[Any], *, start_hash: str, anchor: tuple[int, str] | None) -> ChainReport:
    expected = start_hash
    prev_id: int | None = None
    count = 0
    recent: OrderedDict[str, int] = OrderedDict()  # row_hash -> id of the rows just checked
    following: dict[int, int] = {}  # id -> the id of the row after it (for the rows in ``recent``)
    anchor_seen = False

    def report(problem: ChainProblem | None) -> ChainReport:
        return ChainReport(rows=count, last_id=prev_id, last_hash=None if prev_id is None else expected,
                           problem=problem)

    for row in rows:
        problem = _check(row, expected=expected, prev_id=prev_id, recent=recent, following=following,
                         start_hash=start_hash)
        if problem is not None:
            return report(problem)
        if anchor is not None and row.id == anchor[0]:
            anchor_seen = True
            if row.row_hash != anchor[1]:
                return report(ChainProblem(
                    row.id, "anchor",
                    f"row {row.id}: its hash is {row.row_hash}, but the anchor recorded {anchor[1]}: the chain up to "
                    "this row was rewritten (hashes recomputed)",
                    f"第 {row.id} 条记录的哈希与锚定值不符：该条及之前的记录被改写（哈希被重新计算）"))
        if prev_id is not None:
            following[prev_id] = row.id
        recent[row.row_hash] = row.id
        if len(recent) > RECENT_HASHES:
            _, old_id = recent.popitem(last=False)
            following.pop(old_id, None)
        expected, prev_id = row.row_hash, row.id
        count += 1
    if anchor is not None and not anchor_seen:
        where = "the newest rows were removed" if prev_id is None or anchor[0] > prev_id else "it was removed"
        return report(ChainProblem(
            anchor[0], "anchor" if prev_id is None or anchor[0] > prev_id else "removed",
            f"row {anchor[0]} (the anchor) is missing: {where}",
            f"锚定的第 {anchor[0]} 条记录不存在：" + ("最新的记录被删除" if prev_id is None or anchor[0] > prev_id
                                                   else "该记录被删除")))
    return report(None)


def _check(row: Any, *, expected: str, prev_id: int | None, recent: OrderedDict[str, int],
           following: dict[int, int], start_hash: str) -> ChainProblem | None:
    rid = row.id
    if not row.row_hash or not row.prev_hash:
        return ChainProblem(rid, "inserted", f"row {rid} has no hash: it was inserted outside the application",
                            f"第 {rid} 条记录没有哈希：它不是由本系统写入的")
    hash_ok = hash_of_row(row) == row.row_hash
    link_ok = row.prev_hash == expected
    if link_ok and hash_ok:
        return None
    if link_ok:
        return ChainProblem(rid, "changed",
                            f"row {rid}: content changed (its stored hash does not match its content)",
                            f"第 {rid} 条记录的内容被修改（存储的哈希与内容不符）")
    if not hash_ok:
        return ChainProblem(rid, "changed",
                            f"row {rid}: its hashes match neither its content nor the row before it (changed, or "
                            "inserted outside the application)",
                            f"第 {rid} 条记录的哈希既不符合其内容，也不与前一条相连（被修改，或不是由本系统写入）")
    if row.prev_hash in recent:
        linked = recent[row.prev_hash]
        first = following.get(linked, prev_id)
        return ChainProblem(first, "inserted",
                            f"row {first}: inserted — row {rid} links to row {linked}, so rows {first}..{prev_id} "
                            f"are not part of the chain (they were inserted, or row {rid} was)",
                            f"第 {first} 条记录是插入的：第 {rid} 条记录与第 {linked} 条相连，"
                            f"第 {first}–{prev_id} 条不在链上（它们被插入，或第 {rid} 条被插入）")
    if prev_id is None:
        start = "the first row's zeros" if start_hash == GENESIS else f"{start_hash}"
        return ChainProblem(rid, "removed",
                            f"row {rid}: rows before it were removed — it does not link to the start of the chain "
                            f"({start}; an archive must be recorded as docs/security.md describes)",
                            f"第 {rid} 条之前的记录被删除：它与链的起点不相连（归档须按 docs/security.md 登记）")
    if rid != prev_id + 1:
        gap = f"{prev_id + 1}" if rid == prev_id + 2 else f"{prev_id + 1}..{rid - 1}"
        return ChainProblem(rid, "removed",
                            f"row {rid}: row(s) {gap} removed (row {rid} does not link to row {prev_id})",
                            f"第 {gap} 条记录被删除（第 {rid} 条与第 {prev_id} 条不相连）")
    return ChainProblem(rid, "removed",
                        f"row {rid}: prev_hash mismatch — it does not link to row {prev_id}: a row between them was "
                        f"removed (ids renumbered), or row {prev_id} was rewritten with a recomputed hash",
                        f"第 {rid} 条记录与第 {prev_id} 条不相连：其间的记录被删除（编号被重排），"
                        f"或第 {prev_id} 条被改写并重新计算了哈希")
