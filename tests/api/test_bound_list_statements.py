"""The API's hot lists are built once per shape with bind parameters (``api.listings.*_bound``,
``paginate(params=…)``; docs/benchmarks.md, API throughput, sixth round): every page, total and cursor must be what
the statements built per request give — ties on the sort keys, the alert queue's mixed-direction keyset, the
article list's risk head and capped count, each filter given or not — on both databases; the SQL sent must be the
same text (parameter names aside); and rows read on the session's connection must still see the session's
unflushed changes, as ``Session.execute`` does."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite

from api import listings
from api.pagination import CURSOR_SALT, PageRequest, _after_condition, _bound_count, _bound_page_rows, paginate

BOTH_DATABASES = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                         indirect=True)
SIGNER = URLSafeSerializer("bound-list-tests-4Rt8Vz3Nc6Bk1Yd5Gf0JsHq2xW9pLm7", salt=CURSOR_SALT)
UNITS = frozenset({"xinhualu", "guangminglu"})


def _plain(row) -> tuple:
    """A row as comparable values: entities by their class and primary key, columns as they are."""
    return tuple((type(v).__name__, inspect(v).identity) if hasattr(v, "__table__") else v for v in row)


def _walk(session, build, *, limit: int = 2, **kw) -> list[tuple]:
    """Every page of one list: (rows, total, capped, cursor) per page, following ``next_cursor``."""
    pages, cursor = [], None
    for _ in range(50):
        page = PageRequest(cursor=cursor, limit=limit, serializer=SIGNER)
        got = build(page, **kw)
        pages.append(([_plain(r) for r in got.rows], got.total, got.total_capped, got.next_cursor))
        cursor = got.next_cursor
        if cursor is None:
            return pages
    raise AssertionError("more than 50 pages")


def _seed(make, clock) -> None:
    now = clock.now()
    tied = now - timedelta(minutes=30)  # several articles, alerts and stories share this time: ties go by id
    stories = []
    for n, (unit, score, level) in enumerate([("xinhualu", 81.0, "I"), ("guangminglu", 81.0, "II"),
                                               ("xinhualu", 12.0, None), ("guangminglu", 55.0, "III")]):
        story = make.story(unit_id=unit, title=f"话题{n}", at=tied if n < 2 else now - timedelta(minutes=n))
        make.story_risk(story=story, score=score, level=level, at=now - timedelta(hours=1))
        stories.append(story)
    stories.append(make.story(unit_id="xinhualu", title="无风险", at=tied))  # no risk row: sorts as 0
    for n in range(14):
        make.article(story=stories[n % 5] if n % 6 else None, unit_id=sorted(UNITS)[n % 2],
                     title=f"文章{n}", label=["negative", "neutral", None][n % 3],
                     negative_prob=[0.9, 0.5, 0.9][n % 3], channel=["news", "social"][n % 2],
                     at=tied if n % 4 == 0 else now - timedelta(minutes=n))
    make.article(story=stories[0], unit_id="binjiang", title="别的单位", at=now)  # outside UNITS
    for n, (status, ack_in) in enumerate([("open", timedelta(minutes=15)), ("open", timedelta(minutes=15)),
                                          ("open", -timedelta(minutes=5)), ("acknowledged", timedelta(0)),
                                          ("dismissed", timedelta(0)), ("open", timedelta(minutes=15))]):
        on = make.story(unit_id=sorted(UNITS)[n % 2], title=f"预警{n}", at=tied)  # one alert per story
        make.alert(story=on, status=status, ack_in=ack_in, at=tied, level=["I", "II"][n % 2],
                   risk_score=[81.0, 55.0][n % 2])
    for n, (status, level) in enumerate([("open", "II"), ("closed", "II"), ("responding", "I"), ("open", "II"),
                                         ("reviewed", "III")]):
        make.incident(unit_id=sorted(UNITS)[n % 2], level=level, status=status, at=tied, story=stories[n % 4])
    make.session.commit()


def _per_request_and_bound(session, name: str, values: dict, **paginate_kw):
    """The two ways one list is paged: statements built for this request, and the built-once ones."""
    build, bound = getattr(listings, name), getattr(listings, f"{name}_bound")

    def per_request(page, **_):
        stmt, order = build(**values)
        extra = dict(paginate_kw)
        if name == "articles":
            if values.get("sort") == "risk":
                extra["head"] = build(**values, scored_only=True)
            extra["count"] = build(**{k: v for k, v in values.items() if k != "plain"}, count_only=True)[0]
        return paginate(session, stmt, order=order, page=page, scope="s", **extra)

    def built_once(page, **_):
        stmt, order, params = bound(**values)
        extra = dict(paginate_kw)
        if name == "articles":
            if values.get("sort") == "risk":
                extra["head"] = bound(**values, scored_only=True)[:2]
            extra["count"] = bound(**{k: v for k, v in values.items() if k != "plain"}, count_only=True)[0]
        return paginate(session, stmt, order=order, page=page, scope="s", params=params, **extra)

    return per_request, built_once


CASES = [
    *[("articles", dict(unit_ids=UNITS, sort=sort, plain=plain, **f)) for sort in ("risk", "time", "negative")
      for plain in (True, False) for f in ({}, {"label": "negative"}, {"channel": "social", "label": ""})],
    ("articles", dict(unit_ids=UNITS, sort="time", plain=True, category="withdrawal_bank_run",
                      source="jiangcheng-news")),
    ("mentions", dict(unit_ids=UNITS)),
    ("mentions", dict(unit_ids=UNITS, primary_only=True)),
    *[("alerts", dict(unit_ids=UNITS, sort=sort, plain=plain, **f)) for sort in ("urgent", "time", "risk")
      for plain in (True, False) for f in ({}, {"status": "open"}, {"level": "II", "status": ""})],
    *[("incidents", dict(unit_ids=UNITS, sort=sort, **f)) for sort in ("level", "time")
      for f in ({}, {"statuses": ["open", "responding"]}, {"level": "II"}, {"statuses": []})],
    *[("stories", dict(unit_ids=UNITS, include_unattributed=whole, sort=sort)) for sort in ("time", "risk")
      for whole in (True, False)],
]


@BOTH_DATABASES
def test_built_once_lists_page_exactly_as_the_statements_built_per_request(make, session, clock):
    _seed(make, clock)
    for name, values in CASES:
        per_request, built_once = _per_request_and_bound(session, name, values)
        expected = _walk(session, per_request)
        assert _walk(session, built_once) == expected, (name, values)
        assert sum(len(rows) for rows, *_ in expected) == expected[0][1] > 2, (name, values)  # several pages
    # the article and mention lists' capped count: the cap reached, and not
    for cap in (3, 1000):
        for name, values in [("articles", dict(unit_ids=UNITS, sort="time", plain=True)),
                             ("mentions", dict(unit_ids=UNITS))]:
            per_request, built_once = _per_request_and_bound(session, name, values, count_cap=cap)
            expected = _walk(session, per_request)
            assert _walk(session, built_once) == expected, (name, cap)
            assert expected[0][2] is (cap == 3)


@BOTH_DATABASES
def test_plain_rows_read_on_the_connection_see_the_session_s_unflushed_changes(make, session, clock):
    from incidents.models import Alert

    _seed(make, clock)
    story = make.story(unit_id="xinhualu", title="未提交")
    session.flush()
    session.add(Alert(story_id=story.id, unit_id="xinhualu", level="I", risk_score=99.0, category="other",
                      title="未提交的预警", factors={}, status="open", created_at=clock.now(),
                      updated_at=clock.now(), ack_due_at=clock.now()))  # pending: not flushed yet
    stmt, order, params = listings.alerts_bound(unit_ids=UNITS, sort="risk", plain=True)
    got = paginate(session, stmt, order=order, page=PageRequest(cursor=None, limit=2, serializer=SIGNER),
                   scope="s", params=params)
    assert listings.AlertRow._make(got.rows[0]).title == "未提交的预警"


def _normal(sql: str) -> str:
    """SQL with its parameters' names taken out (the built-once statements name theirs)."""
    sql = re.sub(r"__\[POSTCOMPILE_\w+\]", "__[POSTCOMPILE]", sql)
    sql = re.sub(r"%\(\w+\)s", "%()s", sql)
    return re.sub(r":\w+", ":p", sql)


@pytest.mark.parametrize("dialect", [postgresql.psycopg.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"])
def test_built_once_lists_send_the_same_sql(dialect, clock):
    from api.pagination import _page_rows

    class Capture:
        """A session that only records the statement it is asked to run."""

        def __init__(self):
            self.sent = []

        def execute(self, stmt, params=None):
            self.sent.append(stmt)
            return self

        def connection(self):
            return self

        def all(self):
            return []

    samples = {  # a cursor's key values, by the Python types the sort keys decode to
        "articles": {"time": [clock.now(), 5], "risk": [81.0, 0.9, clock.now(), 5], "negative": [0.9, clock.now(), 5]},
        "alerts": {"urgent": [1, clock.now(), clock.now(), 5], "time": [clock.now(), 5], "risk": [81.0, 5]},
        "incidents": {"level": ["II", clock.now(), 5], "time": [clock.now(), 5]},
        "stories": {"time": [clock.now(), 5], "risk": [12.0, clock.now(), 5]},
        "mentions": {None: [clock.now(), 5]},
    }
    checked = 0
    for name, values in CASES:
        build, bound = getattr(listings, name), getattr(listings, f"{name}_bound")
        stmt, order = build(**values)
        once, once_order, _ = bound(**values)
        for after in (None, samples[name][values.get("sort")]):
            old, new = Capture(), Capture()
            _page_rows(old, stmt, order, after, 20)
            _bound_page_rows(new, once, once_order, after, 20, {})
            assert _normal(str(old.sent[0].compile(dialect=dialect))) == \
                _normal(str(new.sent[0].compile(dialect=dialect))), (name, values, after)
            checked += 1
        count = _bound_count(once, 10_000)
        assert _normal(str(count.compile(dialect=dialect))) == _normal(str(
            _count_per_request(stmt, 10_000).compile(dialect=dialect))), (name, values)
    assert checked == 2 * len(CASES)
    # the keyset condition alone, both forms, every key type
    from incidents.models import Alert

    mixed = listings.alert_queue_order()
    after = [1, clock.now(), clock.now(), 7]
    assert _normal(str(_after_condition(mixed, after).compile(dialect=dialect))) == \
        _normal(str(_after_condition(mixed, after, bound=True).compile(dialect=dialect)))
    same_way = [(Alert.risk_score, True), (Alert.id, True)]
    assert _normal(str(_after_condition(same_way, [5.5, 7]).compile(dialect=dialect))) == \
        _normal(str(_after_condition(same_way, [5.5, 7], bound=True).compile(dialect=dialect)))


def _count_per_request(stmt, cap):
    from sqlalchemy import func, select

    return select(func.count()).select_from(stmt.order_by(None).limit(cap + 1).subquery())


@BOTH_DATABASES
def test_plain_rows_flush_pending_changes_only_when_the_session_autoflushes(make, session, clock):
    from sqlalchemy import select

    from crawlers.models import Story
    from yuqing.db import plain_rows

    titles = select(Story.title).where(Story.unit_id == "binjiang")
    make.session.add(Story(title="待写入", unit_id="binjiang", first_seen_at=clock.now(), last_seen_at=clock.now(),
                           article_count=0))
    with session.no_autoflush:  # as Session.execute there: the pending story is not written, so not read
        assert plain_rows(session, titles).all() == session.execute(titles).all() == []
    assert [t for (t,) in plain_rows(session, titles)] == [t for (t,) in session.execute(titles)] == ["待写入"]
