"""Cursor pagination for every list of the JSON API: ``{"items": [...], "total": n, "next_cursor": "…" | null}``.

Why keyset and not offset: the lists the API serves (mentions, alerts, the audit log, the outbox) grow while people
page through them; an offset shifts by one row each time something new arrives, so a client walking the pages
would see a row twice or miss one. A cursor names the last row served by its sort key and id, and the next page is
"the rows after that key" — stable under inserts, and an index range scan rather than a skip over N rows.

The cursor is opaque to clients: the sort key values, the list it belongs to (route, sort and filters) and nothing
else, signed with the app's ``secret_key`` (itsdangerous). A cursor that was altered, truncated, made for another
list or another filter, or is simply garbage answers 400 with the API's usual ``{"detail": "…"}`` — never a 500
and never a silently different page.

Two ways in, one cursor format:

* :func:`paginate` for a SQLAlchemy ``select``: the caller gives the ORDER BY as ``(expression, descending)``
  pairs ending with a unique id; expressions must never be NULL (wrap nullable columns in ``coalesce``), because
  the keyset comparison ``(a, b) > (x, y)`` is not defined for NULL.
* :func:`paginate_list` for lists held in memory (configuration: sources, keyword plans, the org chart), with a
  key function instead of SQL expressions.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, HTTPException, Query, Request, status
from itsdangerous import BadData, URLSafeSerializer
from pydantic import BaseModel, Field
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators

T = TypeVar("T")
Item = TypeVar("Item")

TOTAL_CAP = 10_000  # counting past this costs a scan of every matching row; nobody pages that far
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_CHARS = 1024
CURSOR_SALT = "yuqing.api.cursor"
BAD_CURSOR = "翻页游标（cursor）无效：请使用上一页响应中的 next_cursor，且筛选与排序条件保持不变"


class Page(BaseModel, Generic[T]):
    """One page of a list. ``total`` counts every item matching the filters (all pages), up to
    :data:`TOTAL_CAP` on the lists that can grow to millions of rows (articles, mentions), where ``total_capped``
    then says the true count is larger; ``next_cursor`` is passed back as ``?cursor=`` for the next page and is null
    on the last one."""

    items: list[T]
    total: int = Field(ge=0, description="符合筛选条件的总数（所有页）；文章与提及列表最多数到 10000，"
                                         "超过时 total 为 10000 且 total_capped 为 true")
    total_capped: bool = Field(False, description="为 true 时实际总数超过 total（界面显示为“10000+”）")
    next_cursor: str | None = Field(description="下一页游标（原样作为 cursor 参数传回）；为空表示已是最后一页")


@dataclass(frozen=True)
class PageRequest:
    """What the client asked for: the cursor (None: the first page), the page size, and the signer."""

    cursor: str | None
    limit: int
    serializer: URLSafeSerializer

    def scope(self, route: str, **params: Any) -> str:
        """A short digest naming one list: the route plus every filter and sort that shapes it. A cursor made for
        one scope is refused by every other (a page of 'negative, newest first' never continues 'all, by risk')."""
        canonical = json.dumps([route, sorted((k, _plain(v)) for k, v in params.items())], ensure_ascii=False,
                               default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def after(self, scope: str, width: int | None) -> list[Any] | None:
        """The sort key the cursor points after (None on the first page); 400 for any cursor not made here, for
        this list, with ``width`` key values (None: any number — a list now empty has no key to compare with)."""
        if self.cursor is None:
            return None
        try:
            raw = self.serializer.loads(self.cursor)
        except (BadData, ValueError, TypeError, UnicodeError):
            raise bad_cursor() from None
        if not (isinstance(raw, dict) and raw.get("s") == scope and isinstance(raw.get("k"), list)
                and (width is None or len(raw["k"]) == width)):
            raise bad_cursor()
        return [_decode(v) for v in raw["k"]]

    def make(self, scope: str, key: Sequence[Any]) -> str:
        return self.serializer.dumps({"s": scope, "k": [_encode(v) for v in key]})


def bad_cursor() -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, BAD_CURSOR)


async def page_request(request: Request,  # async: no I/O, so no worker-thread hop (api.deps)
                 cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS,
                                                     description="上一页响应中的 next_cursor（首页不传）")] = None,
                 limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数")] = DEFAULT_LIMIT
                 ) -> PageRequest:
    secret = request.app.state.settings.secret_key
    return PageRequest(cursor=cursor or None, limit=limit, serializer=URLSafeSerializer(secret, salt=CURSOR_SALT))


PageDep = Annotated[PageRequest, Depends(page_request)]


@dataclass(frozen=True)
class Fetched(Generic[Item]):
    rows: list[Item]
    total: int
    next_cursor: str | None
    total_capped: bool = False  # the count stopped at the cap: there are more than ``total`` rows


def paginate(session: Session, stmt: Select, *, order: Sequence[tuple[ColumnElement[Any], bool]],
             page: PageRequest, scope: str, count_cap: int | None = None,
             head: tuple[Select, Sequence[tuple[ColumnElement[Any], bool]]] | None = None,
             count: Select | None = None, known_total: int | None = None,
             count_key: Hashable | None = None,
             walk: tuple[Select, Sequence[tuple[ColumnElement[Any], bool]],
                         Callable[[], AbstractContextManager[Any]]] | None = None,
             params: Mapping[str, Any] | None = None) -> Fetched[Any]:
    """One page of ``stmt`` (a select without ORDER BY or LIMIT) in ``order``.

    ``order`` is ``(expression, descending)`` pairs, the last a unique id, none ever NULL. Rows come back as the
    statement would return them (``Row`` objects; ``row[0]`` is the entity of a one-entity select). ``total`` is
    the count of the whole filtered statement — or, with ``count_cap``, of at most that many rows (the count stops
    there, ``total_capped`` says so): an exact count of a million matching articles reads every one of them, which
    is most of the cost of a page, for a number the reader only needs as "more than 10,000".

    ``head``: an optional ``(statement, order)`` whose rows, in its order, are exactly the first rows of ``stmt``
    in ``order`` (same entities, same key values), cheaper to page through (``api.listings.articles`` with
    ``scored_only``). It is asked first; only when it cannot fill the page is ``stmt`` itself paged.

    ``count``: an optional statement with exactly ``stmt``'s rows but fewer columns and joins, counted instead of
    it (``listings.articles(count_only=True)``): joins that cannot change the number of rows still cost a join per
    row counted, and the database cannot always prove they are harmless and drop them.

    ``walk``: an optional ``(statement, order, context)`` asked before ``head``, inside ``context()``, whose rows
    are exactly the first rows of ``head`` whenever it has a full page (the 舆情信息 page: the head cut at a risk
    score, read with planner settings that make PostgreSQL walk it, ``api.mentions.head_walk``). When it has not,
    ``head`` and then ``stmt`` are asked as usual, outside the context.

    ``known_total``: the caller already knows the total (the 舆情信息 page: its charts counted the set); no count.

    ``count_key`` (with ``count_cap``): a hashable naming this list exactly (route, filters and the caller's units).
    A list found to hold more than ``count_cap`` rows is remembered as such for :data:`CAPPED_MEMO_S` seconds per
    process, and its next pages and next readers skip the count: counting up to the cap reads ten thousand rows and
    their joins, on every first page of the busiest lists. Only "more than the cap" is remembered — a list that
    large does not shrink below it within a minute — so smaller totals stay exact on every request.

    ``params``: ``stmt``, ``order``, ``head`` and ``count`` were built once for their shape (which filters, which
    sort: ``api.listings``' ``*_bound`` builders) with bind parameters, and ``params`` holds this request's values
    for them. The statements derived from them here — the page with its sort key columns, ORDER BY and LIMIT, with
    and without the keyset condition, and the count — are then built once per shape too (:func:`_bound_page`,
    :func:`_bound_count`), with the limit and the cursor's key values bound, and rows of plain columns are read
    on the session's connection, not through the ORM's execution (``Session.execute`` sets up ORM loading even
    for plain columns). Why: building a list's statements and working out their cache keys was about a third of
    a list request's CPU (docs/benchmarks.md, API throughput, sixth round); the SQL sent is the same text with
    the same values, only the parameters' names differ. Not with ``walk``.
    """
    if params is not None:
        if walk is not None:
            raise ValueError("paginate: walk is not built once (params)")
        return _paginate_bound(session, stmt, order=order, page=page, scope=scope, count_cap=count_cap, head=head,
                               count=count, known_total=known_total, count_key=count_key, params=params)
    width = len(stmt.column_descriptions)  # one per entity or column asked for (not per table column)
    after = page.after(scope, len(order))
    rows = None
    heads = [walk] if walk is not None else []
    if head is not None:
        heads.append((head[0], head[1], nullcontext))
    for head_stmt, head_order, context in heads:
        with context():
            rows = _page_rows(session, head_stmt, head_order, after, page.limit)
        if len(rows) > page.limit:
            break
        rows = None  # this head ran out on this page: the next one (at last the whole statement) answers
    if rows is None:
        rows = _page_rows(session, stmt, order, after, page.limit)

    def counted() -> int:
        counted = (count if count is not None else stmt).order_by(None)
        if count_cap is not None:
            counted = counted.limit(count_cap + 1)
        return session.scalar(select(func.count()).select_from(counted.subquery())) or 0

    return _fetched(session, rows, width=width, page=page, scope=scope, first_page=after is None,
                    count_cap=count_cap, known_total=known_total, count_key=count_key, count_rows=counted)


def _paginate_bound(session: Session, stmt: Select, *, order: Sequence[tuple[ColumnElement[Any], bool]],
                    page: PageRequest, scope: str, count_cap: int | None,
                    head: tuple[Select, Sequence[tuple[ColumnElement[Any], bool]]] | None,
                    count: Select | None, known_total: int | None, count_key: Hashable | None,
                    params: Mapping[str, Any]) -> Fetched[Any]:
    """:func:`paginate` for statements built once with bind parameters (``params``): the same steps in the same
    order — head first, then the whole statement, the count only when needed, the capped memo — on statements
    derived once per shape."""
    width = _width(stmt)
    after = page.after(scope, len(order))
    if session.autoflush and (session.new or session.deleted or session.dirty):
        session.flush()  # what Session.execute's autoflush would do before the connection's reads below
    rows = None
    if head is not None:
        rows = _bound_page_rows(session, head[0], head[1], after, page.limit, params)
        if len(rows) <= page.limit:
            rows = None  # the head ran out on this page: the whole statement answers
    if rows is None:
        rows = _bound_page_rows(session, stmt, order, after, page.limit, params)

    def counted() -> int:
        return session.connection().scalar(_bound_count(count if count is not None else stmt, count_cap),
                                           params) or 0

    return _fetched(session, rows, width=width, page=page, scope=scope, first_page=after is None,
                    count_cap=count_cap, known_total=known_total, count_key=count_key, count_rows=counted)


def _fetched(session: Session, rows: Sequence[Any], *, width: int, page: PageRequest, scope: str, first_page: bool,
             count_cap: int | None, known_total: int | None, count_key: Hashable | None,
             count_rows: Callable[[], int]) -> Fetched[Any]:
    """The page out of ``rows`` (up to one more than the limit, each with its sort key after ``width`` columns),
    its total and its next cursor — for both forms of :func:`paginate`. The total is counted (``count_rows``) only
    when nothing else tells it: the caller's known total, a first page holding the whole list, or the capped memo."""
    more = len(rows) > page.limit
    memo = (str(session.get_bind().url), count_key, count_cap) if count_key is not None and count_cap else None
    if known_total is not None:
        total = known_total
    elif first_page and not more:
        total = len(rows)  # the whole list is on this first page: no count needed
    elif memo is not None and _capped_memo.holds(memo):
        total = count_cap + 1  # type: ignore[operator]
    else:
        total = count_rows()
        if memo is not None and total > count_cap:  # type: ignore[operator]
            _capped_memo.note(memo)
    capped = count_cap is not None and total > count_cap
    rows = rows[:page.limit]
    next_cursor = page.make(scope, list(rows[-1][width:])) if more and rows else None
    return Fetched([r[:width] for r in rows], count_cap if capped else int(total), next_cursor,
                   total_capped=capped)


# Statements derived once from a built-once statement, keyed by what shapes them (the statement's and the
# order's identity — both live as long as the process, held in the value so the ids stay theirs — and the cursor
# key values' Python types, which decide the bound values' SQL types in a mixed-direction keyset condition).
_DERIVED: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_DERIVED_LIMIT = 4096  # shapes are few (lists x filters given x sorts); a bound on a programming error


def _derived(key: tuple[Any, ...], keep: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """The statement ``build()`` made for ``key`` (once per process; a race builds it twice, harmlessly)."""
    found = _DERIVED.get(key)
    if found is None:
        if len(_DERIVED) >= _DERIVED_LIMIT:
            _DERIVED.clear()
        found = (build(), keep)
        _DERIVED[key] = found
    return found[0]


def _width(stmt: Select) -> int:
    """``len(stmt.column_descriptions)``, and whether its rows are plain columns (no ORM entity), worked out once
    per built-once statement: ``column_descriptions`` walks the statement's entities on every call."""
    return _derived(("width", id(stmt)), (stmt,), lambda: len(stmt.column_descriptions))


def _plain_rows(stmt: Select) -> bool:
    """True when every column of ``stmt`` is a column, not an ORM entity: such rows read on the connection are
    the rows ``Session.execute`` gives (no identity map, loader options or entities involved)."""
    return _derived(("plain", id(stmt)), (stmt,),
                    lambda: not any(isinstance(d.get("type"), type) for d in stmt.column_descriptions))


PAGE_LIMIT_PARAM = "_page_limit"


def _after_param(i: int) -> str:
    return f"_page_after_{i}"


def _bound_page_rows(session: Session, stmt: Select, order: Sequence[tuple[ColumnElement[Any], bool]],
                     after: list[Any] | None, limit: int, params: Mapping[str, Any]) -> list[Any]:
    """:func:`_page_rows` on a built-once statement: the keyed, ordered and limited statement derived once per
    shape (and per the cursor values' types), this page's limit and key values bound."""
    types = None if after is None else tuple(type(v) for v in after)

    def build() -> Select:
        keyed = stmt.add_columns(*(expr.label(f"_page_key_{i}") for i, (expr, _) in enumerate(order)))
        if after is not None:
            keyed = keyed.where(_after_condition(order, after, bound=True))
        ordering = [expr.desc() if desc else expr.asc() for expr, desc in order]
        return keyed.order_by(*ordering).limit(bindparam(PAGE_LIMIT_PARAM, type_=Integer))

    keyed = _derived(("page", id(stmt), id(order), types), (stmt, order), build)
    values = {**params, PAGE_LIMIT_PARAM: limit + 1}
    if after is not None:
        values.update((_after_param(i), v) for i, v in enumerate(after))
    if _plain_rows(stmt):
        return list(session.connection().execute(keyed, values).all())
    return list(session.execute(keyed, values).all())


def _bound_count(counted: Select, count_cap: int | None) -> Select:
    """The count of a built-once statement (at most ``count_cap + 1`` rows of it), built once per shape."""
    def build() -> Select:
        inner = counted.order_by(None)
        if count_cap is not None:
            inner = inner.limit(count_cap + 1)
        return select(func.count()).select_from(inner.subquery())

    return _derived(("count", id(counted), count_cap), (counted,), build)


CAPPED_MEMO_S = 60.0
CAPPED_MEMO_SIZE = 1024


class _CappedMemo:
    """The lists lately found to hold more than their count cap, each for :data:`CAPPED_MEMO_S` seconds (per
    process, least recently noted dropped past :data:`CAPPED_MEMO_SIZE`; thread-safe: sync routes share it)."""

    def __init__(self) -> None:
        self._until: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def holds(self, key: Hashable) -> bool:
        with self._lock:
            until = self._until.get(key)
            return until is not None and until > time.monotonic()

    def note(self, key: Hashable) -> None:
        with self._lock:
            self._until[key] = time.monotonic() + CAPPED_MEMO_S
            self._until.move_to_end(key)
            while len(self._until) > CAPPED_MEMO_SIZE:
                self._until.popitem(last=False)


_capped_memo = _CappedMemo()


def _page_rows(session: Session, stmt: Select, order: Sequence[tuple[ColumnElement[Any], bool]],
               after: list[Any] | None, limit: int) -> list[Any]:
    """Up to ``limit + 1`` rows of ``stmt`` after the key ``after``, each followed by its sort key values."""
    keyed = stmt.add_columns(*(expr.label(f"_page_key_{i}") for i, (expr, _) in enumerate(order)))
    if after is not None:
        keyed = keyed.where(_after_condition(order, after))
    ordering = [expr.desc() if desc else expr.asc() for expr, desc in order]
    return list(session.execute(keyed.order_by(*ordering).limit(limit + 1)).all())


def paginate_list(items: Sequence[Item], *, key: Callable[[Item], tuple[Any, ...]], page: PageRequest,
                  scope: str) -> Fetched[Item]:
    """One page of an in-memory list, ascending by ``key`` (a tuple of JSON-able values, unique per item)."""
    ordered = sorted(items, key=key)
    start = 0
    after = page.after(scope, len(key(ordered[0])) if ordered else None)
    if after is not None and ordered:
        mark = tuple(after)
        try:
            start = next((i for i, it in enumerate(ordered) if key(it) > mark), len(ordered))
        except TypeError:  # a key of other types than this list's (signed by us, so only after a code change)
            raise bad_cursor() from None
    chunk = ordered[start:start + page.limit]
    more = start + page.limit < len(ordered)
    return Fetched(list(chunk), len(ordered), page.make(scope, list(key(chunk[-1]))) if more and chunk else None)


def _after_condition(order: Sequence[tuple[ColumnElement[Any], bool]], after: Sequence[Any], *,
                     bound: bool = False) -> ColumnElement[bool]:
    """Rows strictly after ``after`` in ``order``: (a > x) or (a = x and b > y) or … (with < for descending).

    When every key runs the same way this is the row comparison ``(a, b) < (x, y)``, which both databases turn
    into a range on an index over ``(a, b)``; the OR form makes PostgreSQL walk the index from the top, so a deep
    page costs as much as every page before it.

    ``bound``: the key values as named bind parameters (``_page_after_<i>``, given at execution) of the SQL types
    the values themselves would be bound with, so a statement built once serves every cursor of its shape."""
    def value(i: int, expr: ColumnElement[Any], op: Any) -> Any:
        if not bound:
            return after[i]
        # the type a literal value gets when compared with ``expr`` (SQLAlchemy's own coercion)
        return BindParameter(_after_param(i), None, type_=expr.type.coerce_compared_value(op, after[i]))

    if len({desc for _, desc in order}) == 1:
        keys = tuple_(*(expr for expr, _ in order))
        values = tuple_(*(BindParameter(_after_param(i), None, type_=expr.type) if bound else literal(v, expr.type)
                          for i, ((expr, _), v) in enumerate(zip(order, after, strict=True))))
        return keys < values if order[0][1] else keys > values
    alternatives = []
    for i, (expr, desc) in enumerate(order):
        equal_before = [order[j][0] == value(j, order[j][0], operators.eq) for j in range(i)]
        beyond = (expr < value(i, expr, operators.lt)) if desc else (expr > value(i, expr, operators.gt))
        alternatives.append(and_(*equal_before, beyond))
    return or_(*alternatives)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    raise TypeError(f"cannot page by a {type(value).__name__} key")  # a programming error, not bad input


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"dt"} or not isinstance(value["dt"], str):
            raise bad_cursor()
        try:
            return datetime.fromisoformat(value["dt"])
        except ValueError:
            raise bad_cursor() from None
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    raise bad_cursor()


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(str(v) for v in value)
    return value
