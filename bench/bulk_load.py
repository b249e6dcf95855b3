"""A large, realistic PostgreSQL data set for the list benchmarks: articles, mentions, stories, alerts, incidents.

``python -m bench.bulk_load --articles 1000000`` (or through ``python -m bench large-lists --articles …``) fills
the database ``bench_lists_<N/1000>k`` on the local server (created when missing; ``--db-url`` for another) with:

* ``articles`` varied Chinese posts built from complaint, rumour, service-notice and good-news sentences around the
  org chart's units (their short names and aliases), over ``--months`` months (default 6) of published times,
  spread over the news / social / complaint / regulator / trending channels and the demo's sources;
* ``stories`` of 1–40 copies each (most stories small, a few large), each with a unit, a first source and a
  risk history (``story_risks``: 1–3 rows, the newest with a level for about one story in eight);
* ``mentions`` (the post's unit, plus its parent for one in five), ``classifications`` (tone, category, negative
  probability) and the real search index (``article_search``: the bigram ``tsvector`` cut by
  ``crawlers.search_index``, exactly as the pipeline indexes an article);
* ``alerts`` for every story whose newest risk has a level, ``incidents`` for one alert in ten (with a timeline
  and a checklist), and the org chart's users (``seed_users``) with one API token each.

The schema comes from the project's migrations (``yuqing.migrate.upgrade``), so the indexes are the real ones.
Rows go in with ``COPY`` (psycopg); the secondary indexes of the loaded tables are dropped first and recreated
from their own definitions (``pg_indexes.indexdef``) afterwards, the usual way to bulk load, then ``VACUUM (ANALYZE)``.
A load is idempotent: when the database already holds exactly ``--articles`` articles loaded with the same seed
(a comment on the ``articles`` table, written last, records it), nothing is loaded again; otherwise the database
is dropped, created and migrated afresh, so a load that stopped half-way (indexes dropped) never leaves a
half-indexed database behind. Only this database is touched; ``--drop`` drops it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.engine import make_url

from bench.common import say
from crawlers.search_index import document_tokens, tsvector_literal

SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"


def default_url(articles: int) -> str:
    """One database per size (``bench_lists_1000k``), so the small default run never reloads the big one."""
    return f"{SERVER_URL}/bench_lists_{articles // 1000}k"
TABLES = ["article_search", "classifications", "mentions", "story_risks", "timeline_events", "tasks", "alerts",
          "incidents", "articles", "stories"]
END = datetime(2026, 12, 1, tzinfo=UTC)

# (channel, source id, weight)
SOURCES = [("news", "jcwb-rss", 14), ("news", "jcwb-sitemap", 6), ("news", "jcwb-list", 4), ("news", "cjw-rss", 8),
           ("social", "weibo-search", 40), ("complaint", "complaints", 18), ("regulator", "regulator-penalties", 2),
           ("trending", "weibo-hot", 3), ("news", "people-daily", 5)]
TONES = [("negative", 0.45), ("neutral", 0.40), ("positive", 0.15)]
CATEGORIES = ["service_attitude", "product_mis_selling", "opaque_fees", "system_failure", "withdrawal_bank_run",
              "violent_collection", "data_leak_fraud", "staff_misconduct", "other"]
NEGATIVE = ["{u}柜员态度恶劣，排队两个小时还没办成业务。", "在{u}取现被拒，说大额取现要提前一天预约。",
            "{u}理财经理推荐的产品亏了百分之{n}，当初说是保本的。", "{u}的ATM机吞卡，打客服电话一直占线。",
            "网友爆料{u}门口排起长队，有人说要挤兑。", "{u}手机银行转账失败但扣了{n}元，至今没有退回。",
            "听说{u}的老板跑路了，大家赶紧去取钱。", "{u}催收电话打到单位，影响很坏。",
            "{u}收了莫名其妙的账户管理费{n}元，没有任何提示。", "有人在{u}办卡后个人信息被泄露，接到诈骗电话。",
            "{u}员工私下向客户推销非本行产品。", "老人在{u}柜台前急得直掉眼泪，工作人员不理不睬。"]
NEUTRAL = ["{u}将于本周六进行系统升级，部分业务暂停办理。", "{u}调整营业时间，节假日照常营业。",
           "记者走访{u}，网点秩序正常。", "{u}发布关于防范电信诈骗的提示。", "{u}已关注到网络上的相关情况，正在核实。",
           "据了解，{u}当日共办理业务{n}笔。", "市民在{u}咨询房贷利率调整事宜。"]
POSITIVE = ["{u}工作人员帮助老人找回遗失的存折，获赠锦旗。", "{u}开展金融知识进社区活动，受到居民好评。",
            "{u}获评年度文明规范服务示范单位。", "{u}为小微企业发放贷款{n}万元。",
            "{u}员工拦截一起电信诈骗，为客户挽回损失{n}万元。"]
FILLER = ["今天天气不错，路上车很多。", "希望银行把规矩讲明白。", "评论区很多人说遇到过类似情况。",
          "事情还在进一步发酵中。", "相关部门表示将依法依规处理。", "大家怎么看？", "转发扩散。",
          "后续情况我们将继续关注。",
          "江城晚报记者联系了当事人。", "有网友表示理解，也有网友表示不满。"]
TITLES = ["网友爆料：{s}", "投诉：{s}", "江城晚报：{s}", "{s}", "热议｜{s}", "记者调查：{s}"]


@dataclass(frozen=True)
class UnitInfo:
    id: str
    parent: str | None
    names: tuple[str, ...]
    weight: float


def org_units() -> list[UnitInfo]:
    """The org chart's units with a weight: outlets and sub-branches are named most, the head office least."""
    from yuqing.org import load_org
    from yuqing.settings import load_settings

    org = load_org(load_settings().org_path)
    weights = {"head_office": 0.3, "branch": 2.0, "city_branch": 1.0, "sub_branch": 3.0, "outlet": 2.5}
    out = []
    for u in org.units:
        names = tuple(dict.fromkeys([u.short_name or u.name, u.name, *u.aliases]))
        out.append(UnitInfo(u.id, u.parent, names, weights.get(str(u.kind), 1.0)))
    return out


def pg_dsn(url: str) -> str:
    """A libpq connection string for psycopg from a SQLAlchemy URL."""
    u = make_url(url)
    parts = [f"host={u.host or '127.0.0.1'}", f"port={u.port or 5432}", f"dbname={u.database}",
             f"user={u.username or 'postgres'}"]
    if u.password:
        parts.append(f"password={u.password}")
    return " ".join(parts)


def ensure_database(url: str) -> None:
    """Create the benchmark database when it does not exist (connecting to the server's ``postgres`` database)."""
    u = make_url(url)
    admin = pg_dsn(url).replace(f"dbname={u.database}", "dbname=postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{u.database}"')
            say(f"created database {u.database}")


def unreachable(url: str) -> str | None:
    """Why the PostgreSQL server of ``url`` cannot be used (None when it answers), so ``make bench`` on a machine
    without one skips the PostgreSQL benchmarks with that line instead of failing."""
    u = make_url(url)
    try:
        with psycopg.connect(pg_dsn(url).replace(f"dbname={u.database}", "dbname=postgres"), connect_timeout=5):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {u.host}:{u.port or 5432} not reachable ({str(exc).strip().splitlines()[0]})"


def drop_database(url: str) -> None:
    u = make_url(url)
    admin = pg_dsn(url).replace(f"dbname={u.database}", "dbname=postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')


def migrate(url: str) -> None:
    from yuqing.db import make_engine
    from yuqing.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def marker(articles: int, seed: int, months: int) -> str:
    return json.dumps({"bench_lists": 1, "articles": articles, "seed": seed, "months": months})


def already_loaded(conn: psycopg.Connection, articles: int, seed: int, months: int) -> bool:
    row = conn.execute("SELECT obj_description('articles'::regclass, 'pg_class')").fetchone()
    return bool(row and row[0] == marker(articles, seed, months))


# --- rows --------------------------------------------------------------------------------------------------------
def _pick(rnd: random.Random, weighted: list[tuple[object, float]]) -> object:
    return rnd.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _copy_text(value: object) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    s = str(value)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Copier:
    """Buffers rows of one table and sends them with ``COPY … FROM STDIN`` in chunks."""

    def __init__(self, conn: psycopg.Connection, table: str, columns: list[str], chunk: int = 0):
        """``chunk``: send every this many rows (0: only when :meth:`flush` is called, for tables whose foreign
        keys must find their parents sent first)."""
        self.conn, self.table, self.columns, self.chunk = conn, table, columns, chunk
        self.buf = io.StringIO()
        self.pending = 0
        self.count = 0

    def add(self, *values: object) -> None:
        self.buf.write("\t".join(_copy_text(v) for v in values) + "\n")
        self.pending += 1
        if self.chunk and self.pending >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        cols = ", ".join(self.columns)
        with self.conn.cursor() as cur, cur.copy(f"COPY {self.table} ({cols}) FROM STDIN") as cp:
            cp.write(self.buf.getvalue())
        self.count += self.pending
        self.buf, self.pending = io.StringIO(), 0


def story_sizes(rnd: random.Random, articles: int) -> Iterator[int]:
    """Story sizes summing to ``articles``: mostly 1–5 copies, one in fifty up to 40 (a story that spread)."""
    left = articles
    while left > 0:
        n = rnd.randint(10, 40) if rnd.random() < 0.02 else rnd.choice((1, 1, 1, 2, 2, 3, 4, 5, 6, 8))
        n = min(n, left)
        left -= n
        yield n


def load(url: str, *, articles: int, seed: int = 7, months: int = 6, force: bool = False,
         upgrade: bool = True) -> dict[str, object]:
    """Create, migrate and fill the database (see the module docstring); returns what was done and how long.
    ``upgrade=False`` leaves the schema of a database already loaded as it is (to measure an older revision).

    One load of a database at a time: two benchmarks started together on the same size (two sessions of this
    shared machine did) each found it half-loaded, and each dropped it under the other. A session-level advisory
    lock on the server's ``postgres`` database, named after the benchmark database, makes the second wait for the
    first and then reuse what it loaded."""
    u = make_url(url)
    admin = pg_dsn(url).replace(f"dbname={u.database}", "dbname=postgres")
    with psycopg.connect(admin, autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"bench.bulk_load:{u.database}",))
        return _load(url, articles=articles, seed=seed, months=months, force=force, upgrade=upgrade)


def _load(url: str, *, articles: int, seed: int, months: int, force: bool, upgrade: bool) -> dict[str, object]:
    t0 = time.perf_counter()
    ensure_database(url)
    if upgrade:
        migrate(url)
    with psycopg.connect(pg_dsn(url)) as conn:
        if not force and already_loaded(conn, articles, seed, months):
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
            say(f"bench database already holds {articles:,} articles (seed {seed}); reusing it")
            return {"reused": True, "counts": counts, "seconds": round(time.perf_counter() - t0, 1)}
    # anything else (another size, a load that stopped half-way with its indexes dropped): start from scratch
    drop_database(url)
    ensure_database(url)
    migrate(url)
    with psycopg.connect(pg_dsn(url)) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (TABLES,)).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.commit()
        counts = _fill(conn, articles=articles, seed=seed, months=months)
        t_rows = time.perf_counter() - t0
        say(f"rows loaded in {t_rows:.0f} s; recreating {len(indexes)} indexes")
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
        # VACUUM as well as ANALYZE: a database in use has been vacuumed by autovacuum long since, and only a vacuumed
        # table lets PostgreSQL answer a count from an index alone (index-only scans read the visibility map)
        conn.autocommit = True
        for table in TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")
        conn.autocommit = False
        conn.execute(f"COMMENT ON TABLE articles IS '{marker(articles, seed, months)}'")
        conn.commit()
    _seed_users(url)
    return {"reused": False, "counts": counts, "rows_seconds": round(t_rows, 1),
            "seconds": round(time.perf_counter() - t0, 1)}


def _fill(conn: psycopg.Connection, *, articles: int, seed: int, months: int) -> dict[str, int]:
    rnd = random.Random(seed)
    units = org_units()
    unit_weights = [(u, u.weight) for u in units]
    sources = [((c, s), float(w)) for c, s, w in SOURCES]
    span = timedelta(days=30 * months).total_seconds()
    c_story = Copier(conn, "stories", ["id", "title", "unit_id", "first_seen_at", "last_seen_at", "article_count",
                                       "first_article_id"])
    c_art = Copier(conn, "articles", ["id", "source_id", "channel", "url", "url_hash", "title", "text",
                                      "published_at", "fetched_at", "content_hash", "metrics", "meta", "stage",
                                      "story_id", "is_duplicate"])
    c_men = Copier(conn, "mentions", ["article_id", "unit_id", "is_primary", "terms", "snippet", "score"])
    c_cls = Copier(conn, "classifications", ["article_id", "label", "negative_prob", "category", "model",
                                             "classified_at", "cues"])
    c_risk = Copier(conn, "story_risks", ["story_id", "computed_at", "score", "level", "category", "factors",
                                          "handled_at"])
    c_search = Copier(conn, "article_search", ["article_id", "content_hash", "indexed_at", "document"])
    c_alert = Copier(conn, "alerts", ["id", "story_id", "unit_id", "level", "risk_score", "category", "title",
                                      "factors", "status", "created_at", "updated_at", "ack_due_at",
                                      "acknowledged_at", "acknowledged_by", "escalation_chain", "escalation_step",
                                      "incident_id"])
    c_inc = Copier(conn, "incidents", ["id", "number", "title", "unit_id", "level", "category", "playbook", "status",
                                       "story_id", "opened_at", "acknowledged_at", "commander_id", "summary",
                                       "peak_risk"])
    c_event = Copier(conn, "timeline_events", ["incident_id", "at", "kind", "actor", "text", "data"])
    c_task = Copier(conn, "tasks", ["incident_id", "position", "key", "title", "owner_role", "owner_id", "due_at",
                                    "status", "note"])
    article_id = 0
    alert_id = 0
    incident_id = 0
    numbers: dict[str, int] = {}
    pending_alerts: list[tuple] = []
    last_report = time.perf_counter()
    for story_id, size in enumerate(story_sizes(rnd, articles), 1):
        unit: UnitInfo = _pick(rnd, unit_weights)  # type: ignore[assignment]
        tone = _pick(rnd, TONES)
        category = rnd.choice(CATEGORIES) if tone == "negative" else "other"
        pool = {"negative": NEGATIVE, "neutral": NEUTRAL, "positive": POSITIVE}[str(tone)]
        core = rnd.choice(pool)
        start = END - timedelta(seconds=rnd.random() * span)
        first_id = article_id + 1
        last_seen = start
        story_title = ""
        for k in range(size):
            article_id += 1
            channel, source = _pick(rnd, sources)  # type: ignore[misc]
            name = rnd.choice(unit.names)
            sentence = core.format(u=name, n=rnd.randint(2, 90))
            parts = [sentence] + [rnd.choice(FILLER) for _ in range(rnd.randint(1, 5))]
            if rnd.random() < 0.3:
                other = rnd.choice(pool)
                parts.insert(rnd.randrange(1, len(parts) + 1), other.format(u=name, n=rnd.randint(2, 90)))
            rnd.shuffle(parts[1:])
            title = rnd.choice(TITLES).format(s=sentence[:rnd.randint(12, 24)].rstrip("，。"))
            body = "".join(parts)
            story_title = story_title or title
            published = start + timedelta(minutes=k * rnd.uniform(1, 90))
            last_seen = max(last_seen, published)
            fetched = published + timedelta(seconds=rnd.randint(30, 900))
            url = f"https://{source}.example.cn/p/{article_id}"
            digest = hashlib.sha256(url.encode()).hexdigest()
            content = hashlib.sha256((title + body).encode()).hexdigest()
            metrics = json.dumps({"reposts": rnd.randint(0, 500), "comments": rnd.randint(0, 200),
                                  "likes": rnd.randint(0, 2000)}) if channel in ("social", "trending") else "{}"
            c_art.add(article_id, source, channel, url, digest, title, body,
                      None if rnd.random() < 0.02 else published, fetched, content, metrics, "{}", "scored",
                      story_id, k > 0 and rnd.random() < 0.3)
            c_men.add(article_id, unit.id, True, json.dumps([name], ensure_ascii=False), sentence[:80], 1.0)
            if unit.parent and rnd.random() < 0.2:
                c_men.add(article_id, unit.parent, False, "[]", sentence[:80], 0.6)
            own = str(tone) if rnd.random() < 0.8 else str(_pick(rnd, TONES))
            neg = {"negative": rnd.uniform(0.6, 0.99), "neutral": rnd.uniform(0.1, 0.6)}.get(own, rnd.uniform(0, .2))
            c_cls.add(article_id, own, round(neg, 4), category, "blend-bench", fetched + timedelta(seconds=20),
                      "[]")
            c_search.add(article_id, content, fetched + timedelta(seconds=30),
                         tsvector_literal(document_tokens(title, body)))
        c_story.add(story_id, story_title, unit.id, start, last_seen, size, first_id)
        # risk history: 1-3 rows; a level on the newest one for about one story in eight (more if negative)
        level = None
        if tone == "negative" and rnd.random() < 0.25:
            level = rnd.choices(["IV", "III", "II", "I"], weights=[50, 30, 15, 5])[0]
        score = {"I": 85, "II": 70, "III": 55, "IV": 42}.get(level or "", 0) + rnd.uniform(0, 10) if level else \
            rnd.uniform(0, 38)
        for r in range(rnd.randint(1, 3)):
            at = start + timedelta(minutes=30 * (r + 1))
            last = r == 2 or rnd.random() < 0.5
            c_risk.add(story_id, at, round(score * (0.7 + 0.3 * last), 2), level if last else None, category,
                       "{}", at if level and last else None)
            if last:
                break
        if level:
            alert_id += 1
            pending_alerts.append((alert_id, story_id, unit.id, level, round(score, 2), category, story_title,
                                   start + timedelta(minutes=31)))
        if c_art.pending >= 20_000:  # parents first: articles point at stories, the rest at articles
            for t in (c_story, c_art, c_men, c_cls, c_risk, c_search):
                t.flush()
            conn.commit()
        if time.perf_counter() - last_report > 15:
            last_report = time.perf_counter()
            say(f"  {article_id:,} / {articles:,} articles")
    for t in (c_story, c_art, c_men, c_cls, c_risk, c_search):
        t.flush()
        conn.commit()
    # incidents first (alerts point at them): one alert in ten, the more severe the likelier
    incident_of: dict[int, int] = {}
    for aid, story_id, unit_id, level, score, category, title, created in pending_alerts:
        if rnd.random() < {"I": 0.8, "II": 0.4, "III": 0.1, "IV": 0.03}[level]:
            incident_id += 1
            incident_of[aid] = incident_id
            day = created.strftime("%Y%m%d")
            numbers[day] = numbers.get(day, 0) + 1
            status = rnd.choice(["open", "acknowledged", "responding", "monitoring", "closed", "closed", "reviewed"])
            c_inc.add(incident_id, f"YQ-{day}-{numbers[day]:03d}", title, unit_id, level, category, "default", status,
                      story_id, created, created + timedelta(minutes=8), "liuqiang", "", score)
            for e, kind in enumerate(["opened", "notified", "acknowledged", "article_added", "task_done"]):
                c_event.add(incident_id, created + timedelta(minutes=5 * e), kind, "system", f"{kind} #{e}", "{}")
            for p, key in enumerate(["verify", "evidence", "spread", "statement", "leaders", "report", "remedy"]):
                c_task.add(incident_id, p, key, f"步骤 {key}", "commander", "liuqiang",
                           created + timedelta(hours=p + 1), "done" if rnd.random() < 0.5 else "todo", "")
    c_inc.flush()
    c_event.flush()
    c_task.flush()
    for aid, story_id, unit_id, level, score, category, title, created in pending_alerts:
        inc = incident_of.get(aid)
        status = "acknowledged" if inc else rnd.choices(["open", "acknowledged", "dismissed"], weights=[2, 6, 2])[0]
        c_alert.add(aid, story_id, unit_id, level, score, category, title, "{}", status, created, created,
                    created + timedelta(minutes=15), created + timedelta(minutes=9) if status != "open" else None,
                    "wangmin" if status != "open" else None, "[]", 0, inc)
    c_alert.flush()
    conn.commit()
    for table, col in (("stories", "id"), ("articles", "id"), ("alerts", "id"), ("incidents", "id")):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'), (SELECT max({col}) FROM {table}))")
    conn.commit()
    return {"articles": c_art.count, "stories": c_story.count, "mentions": c_men.count,
            "story_risks": c_risk.count, "alerts": c_alert.count, "incidents": c_inc.count,
            "timeline_events": c_event.count, "tasks": c_task.count}


def _seed_users(url: str) -> None:
    from sqlalchemy.orm import Session

    from api.users import seed_users
    from yuqing.clock import SystemClock
    from yuqing.db import make_engine
    from yuqing.org import load_org
    from yuqing.settings import load_settings

    engine = make_engine(url)
    with Session(engine) as session:
        seed_users(session, load_org(load_settings().org_path), password="bench-password-not-secret",
                   clock=SystemClock(), must_change=False)
        session.commit()
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bulk_load", description=__doc__.split("\n\n")[0])
    p.add_argument("--db-url", help="SQLAlchemy URL of the database to fill (default: bench_lists_<N/1000>k on the "
                   "local server)")
    p.add_argument("--articles", type=int, default=100_000)
    p.add_argument("--months", type=int, default=6)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--force", action="store_true", help="load again even when the same data set is there")
    p.add_argument("--drop", action="store_true", help="drop the benchmark database and exit")
    args = p.parse_args(argv)
    args.db_url = args.db_url or default_url(args.articles)
    if args.drop:
        drop_database(args.db_url)
        return 0
    print(json.dumps(load(args.db_url, articles=args.articles, seed=args.seed, months=args.months,
                          force=args.force), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
