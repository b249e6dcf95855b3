"""Replaying a backtest file through the real pipeline on a simulated clock.

Each line becomes the ``RecordItem`` a JSON-API spider would have yielded and is stored by the crawler's own
``store_many`` (a tick's items in one transaction, as a poll's; repair, dedup on the URL, metric samples: a later
line with the same id and higher counts is a re-poll); then ``run_round(rt, crawl=False)`` runs every stage after
crawling — matching, classification, stories, risk, alerts, incidents, scheduled escalations and reminders, the
日报 / 周报, and delivery through the outbox to recording senders. Nothing is computed beside the pipeline: the
decisions are read back from the records it wrote (``runner.backtest.decisions``).

Granularity (``ReplayOptions``): the clock moves in ticks. While items arrive, and for ``fine_for`` after the last
one, a tick is ``step`` long (default 5 minutes, like a crawler polling every 5 minutes); an item is stored at the
first tick at or after the time it was observed (its ``fetched_at`` is that tick), and one round runs per tick, so
acknowledgement and overdue timers fire at most ``step`` late. In a quiet stretch (no item for ``fine_for``) a
tick is ``idle_step`` long (default 1 hour), and the next item is taken at its own time, after which ticks of
``step`` resume. The replay ends ``tail`` after the last item (or at ``until``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from runner.backtest.config import merged_config_dir
from runner.backtest.input import Line, in_replay_order
from runner.backtest.senders import SendLog, recording_senders
from yuqing.clock import FrozenClock

log = logging.getLogger("yuqing.backtest")

SOURCE_PREFIX = "backtest"


class BacktestError(Exception):
    """A backtest that cannot run (a database holding real data, …); the message is for the operator."""


@dataclass(frozen=True)
class ReplayOptions:
    step: timedelta = timedelta(minutes=5)
    idle_step: timedelta = timedelta(hours=1)
    fine_for: timedelta = timedelta(hours=6)
    tail: timedelta = timedelta(hours=6)
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.step <= timedelta(0) or self.idle_step <= timedelta(0):
            raise ValueError("step and idle_step must be positive")


@dataclass
class ReplayStats:
    rounds: int = 0
    stored: dict[str, int] = field(default_factory=dict)  # store outcome → count (new, updated, unchanged, …)
    store_errors: list[str] = field(default_factory=list)
    round_errors: list[str] = field(default_factory=list)
    after_end: int = 0
    start: datetime | None = None
    end: datetime | None = None


@dataclass
class Replayed:
    """A finished replay: the database it wrote (still open) and how to read it."""

    rt: Any  # runner.runtime.Runtime
    lines: list[Line]
    stats: ReplayStats
    send_log: SendLog
    ids_by_url: dict[str, list[str]]  # url_hash → input ids (several ids may share a URL: one article)


def source_id(line: Line) -> str:
    """The source an item is stored under: one per (source_type, authority), so risk reads the authority."""
    return f"{SOURCE_PREFIX}-{line.item.source_type}-{line.item.effective_authority}"


def record_item(line: Line) -> Any:
    """The ``RecordItem`` a JSON-API spider would have yielded for this line (the line itself is the raw record
    kept as evidence)."""
    from crawlers.spiders.items import RecordItem

    it = line.item
    metrics = {k: v for k, v in (("reposts", it.reposts), ("comments", it.comments), ("likes", it.likes),
                                 ("followers", it.followers)) if v is not None}
    meta: dict[str, Any] = {"backtest_id": it.id, "source_type": it.source_type}
    if it.source:
        meta["source_name"] = it.source
    if it.source_type == "trending":  # what the trending spider writes (crawlers.spiders.trending)
        seen = it.at.isoformat()
        meta["trending"] = {"list": source_id(line), "list_name": it.source or "热榜", "rank": it.rank,
                            "heat": it.heat, "reach": it.reach, "first_seen_at": seen, "last_seen_at": seen}
        metrics.update({k: v for k, v in (("rank", it.rank), ("heat", it.heat)) if v is not None})
    elif it.rank is not None:
        meta["rank"] = it.rank
    for key in ("retweeted_id", "retweeted_text", "retweeted_author"):  # the keys the Weibo mapping fills
        if getattr(it, key):
            meta[key] = getattr(it, key)
    raw = json.dumps(it.model_dump(mode="json", exclude_none=True), ensure_ascii=False, sort_keys=True)
    return RecordItem(source_id=source_id(line), channel=it.channel, url=it.effective_url, external_id=it.id,
                      text=it.text, title=it.title, author=it.author, published_at=it.published_at,
                      metrics=metrics, meta=meta, raw=raw.encode("utf-8"), status=200,
                      headers={"Content-Type": "application/json"})


def prepare_settings(workdir: Path, *, config_dir: Path | None, db_url: str | None,
                     patches: dict[str, dict[str, Any]] | None = None) -> Any:
    """Settings pointing at a merged config directory under ``workdir`` and the database (default: a SQLite file
    in ``workdir``)."""
    from yuqing.settings import load_settings

    merged = merged_config_dir(workdir / "config", config_dir, patches)
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    return load_settings(config_dir=merged, org_file=None, sources_file=None, levels_file=None, checklists_dir=None,
                         data_dir=data, database_url=db_url or f"sqlite:///{(workdir / 'backtest.db').resolve()}")


def open_database(settings: Any, *, throwaway: bool = False) -> Any:
    """The migrated engine; refuses a database that already holds articles or alerts (a backtest writes made-up
    history into it: never into a live database). A ``throwaway`` SQLite file (the default temporary one) skips
    the fsync of every commit: it is deleted after the run, so durability buys nothing and costs most of the
    replay's wall time on a busy disk."""
    from sqlalchemy import event

    from crawlers.models import Article
    from incidents.models import Alert
    from yuqing.db import engine_for, make_sessionmaker
    from yuqing.migrate import upgrade

    engine = engine_for(settings)
    if throwaway and engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda conn, _record: conn.execute("PRAGMA synchronous=OFF"))
    try:
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            held = (session.scalar(select(func.count()).select_from(Article)) or 0) + (
                session.scalar(select(func.count()).select_from(Alert)) or 0)
    except BaseException:
        engine.dispose()
        raise
    if held:
        engine.dispose()
        where = engine.url.render_as_string(hide_password=True)
        raise BacktestError(f"数据库 {where} 已有数据（文章或预警），回测只能写入空数据库：请用新的数据库或省略 --db")
    return engine


async def replay(lines: list[Line], settings: Any, engine: Any, options: ReplayOptions, *,
                 classifier: Any = None) -> Replayed:
    """Run the whole replay; returns the runtime (its database holds the result)."""
    from crawlers.pipelines import store_many
    from crawlers.spiders.urls import url_hash
    from runner.runtime import build_runtime, run_round
    from sentiment.service import RiskContext

    ordered = in_replay_order(lines)
    if not ordered:
        raise BacktestError("输入中没有任何条目 (no items to replay)")
    start = ordered[0].item.at
    last = ordered[-1].item.at
    end = options.until or (last + options.tail)
    clock = FrozenClock(start)
    send_log = SendLog()
    rt = build_runtime(settings, clock=clock, engine=engine, senders=recording_senders(send_log),
                       classifier=classifier)
    authorities = dict(rt.risk_ctx.authorities)
    authorities.update({source_id(ln): ln.item.effective_authority for ln in ordered})
    rt.risk_ctx = RiskContext(org=rt.risk_ctx.org, config=rt.risk_ctx.config, authorities=authorities)
    ids_by_url: dict[str, list[str]] = {}
    for ln in ordered:
        ids = ids_by_url.setdefault(url_hash(ln.item.effective_url), [])
        if ln.item.id not in ids:
            ids.append(ln.item.id)
    stats = ReplayStats(start=start, end=end)
    i, n = 0, len(ordered)
    t = start
    last_item_at = start
    while True:
        clock.set(t)
        first = i
        while i < n and ordered[i].item.at <= t:
            i += 1
        if i > first:  # the tick's items, stored as a crawler's poll stores them: one transaction for all
            polled = ordered[first:i]
            for line, result in zip(polled, store_many(rt.session_factory, [record_item(ln) for ln in polled], t),
                                    strict=True):
                stats.stored[result.outcome] = stats.stored.get(result.outcome, 0) + 1
                if result.error:
                    stats.store_errors.append(f"line {line.number}: {result.error}")
            last_item_at = ordered[i - 1].item.at
        report = await run_round(rt, crawl=False)
        stats.rounds += 1
        stats.round_errors.extend(report.errors)
        if t >= end:
            stats.after_end = n - i  # items observed after ``until``: not replayed
            break
        quiet = t - last_item_at >= options.fine_for
        nxt = t + (options.idle_step if quiet else options.step)
        if quiet and i < n and ordered[i].item.at < nxt:
            nxt = max(ordered[i].item.at, t + timedelta(seconds=1))
        t = min(nxt, end)
    return Replayed(rt=rt, lines=ordered, stats=stats, send_log=send_log, ids_by_url=ids_by_url)


def run_backtest(lines: list[Line], *, config_dir: Path | None = None, db_url: str | None = None,
                 options: ReplayOptions | None = None, patches: dict[str, dict[str, Any]] | None = None,
                 classifier: Any = None) -> dict[str, Any]:
    """Replay ``lines`` on a fresh database and return ``{"decisions": [...], "summary": {...}, "stats": ...,
    "volume": ...}`` (see ``runner.backtest.decisions``)."""
    from runner.backtest.decisions import collect

    options = options or ReplayOptions()
    with tempfile.TemporaryDirectory(prefix="yuqing-backtest-") as tmp:
        settings = prepare_settings(Path(tmp), config_dir=config_dir, db_url=db_url, patches=patches)
        engine = open_database(settings, throwaway=db_url is None)
        try:
            done = asyncio.run(replay(lines, settings, engine, options, classifier=classifier))
            return collect(done)
        finally:
            engine.dispose()
