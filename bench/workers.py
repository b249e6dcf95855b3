"""``python -m bench workers``: ingest scaling with ``yuqing worker`` processes, time to alert, RSS of ``yuqing run``.

Issue 13's worker benchmarks, each beside its baseline in the same run, on the local PostgreSQL (a database of its
own per measurement, created from one seeded template and dropped after):

1. **ingest scaling** — a backlog of ``--articles`` articles stored raw (stage ``fetched``, by the real crawl of a
   local full-text feed: most name a unit of the bank, the rest are city news) is drained by 1, 2 and 4 ``yuqing
   worker`` processes *per stage* (ingest, classify, score; the rule classifier: ``YUQING_MODEL_DIR`` points at
   nothing). The backlog is held back (stage ``bench_hold``) until every worker has started, so start-up is not
   counted. Baseline: the same stage functions (``runner.stages.ingest`` / ``classify`` / ``score``) called in
   this process, one stage drained after the other. Reported: articles/s end to end, when each stage had handled
   its last article, and the CPU seconds the worker processes (or this process) spent (PostgreSQL's own CPU is
   not counted: it runs on the same two cores);
2. **time to alert** — a local site publishes ``--alert-items`` items, each about a different outlet and event and
   strong enough to alert, at known times (spread over about two poll intervals); ``yuqing run`` polls it every
   ``--poll`` seconds and delivers to a local webhook receiver. Per alert: arrival at the receiver − the item's
   publish time; p50 / p95 against the target p95 ≤ poll interval + 10 s;
3. **RSS of ``yuqing run``** — ``VmRSS`` of the process sampled every 0.5 s over the time-to-alert run, peak
   (``VmHWM``) and steady (median of the samples after the first alert), with the shipped model loaded, beside the
   same run with the rule classifier; against the 1.5 GB target.

The machine is shared: ``uptime`` is printed before and after and written with the results; nothing is asserted.
Results: ``bench/results/workers.json`` and ``.md`` (``--out`` to write elsewhere, as the test does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import yaml

from bench.common import cpu_model, nearest_rank, say

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ADMIN_DSN = os.environ.get("YUQING_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-workers-5Tq8Lm2Xc7Vb1Nz4Rd9Kp3Gf6Js0Hw"
HOOK_SECRET = "bench-workers-hook-2Wd7Lq4Xn9Vc"
YUQING = [str(ROOT / ".venv/bin/yuqing")] if (ROOT / ".venv/bin/yuqing").exists() else [
    sys.executable, "-m", "runner.cli"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
RSS_TARGET_MB = 1536

# Units of the sample org chart (config/org.yaml) and events: one per alerting item, so each is its own story.
UNITS = ["新华路网点", "人民广场网点", "解放大道网点", "滨江花园网点", "中南路网点", "首义路网点", "科技园网点",
         "大学城网点", "光明路支行", "滨江支行", "高新区支行", "江城分行"]
EVENTS = [
    "拒绝七旬老人取款，储户排长队担心挤兑，现场一度混乱，有人称银行要倒闭",
    "员工泄露数千名客户身份证和账户信息，被不法分子用于电信诈骗，多人存款被盗",
    "委托外包公司暴力催收，深夜上门辱骂威胁借款人家属，家属报警求助",
    "销售的理财产品到期无法兑付，上百名投资者聚集讨要本金，称被误导购买高风险产品",
    "柜员私自挪用储户存款八十万元，储户发现后投诉无门，银行拒绝赔偿",
    "系统故障导致全天无法办理业务，自动取款机吞卡，储户滞留数小时无人处理",
    "因违规放贷和反洗钱不力被监管部门罚款三百万元，相关负责人被警告",
    "保安殴打前来维权的储户，视频在网上疯传，涉事银行拒绝道歉",
    "高息揽储被叫停，储户担心资金安全纷纷提前支取，网点现金告急",
    "违规收取账户管理费和短信费，多名老年客户被乱扣费投诉后仍未退还",
    "工作人员态度恶劣，辱骂残疾客户，客户家属向监管部门实名举报",
    "贷款审批人员收受贿赂违规发放贷款，造成巨额坏账，已被公安机关立案调查",
]
FILLER = [  # sentences any local report may carry, drawn at random so no two backlog articles read alike
    "昨天下午，江城市民王先生来到本报热线。", "事情要从上个月说起。", "多位知情人士向记者证实了这一说法。",
    "记者随后拨打了该行客服电话。", "截至发稿时，当事双方仍在协商。", "这已经不是当地第一次出现类似情况。",
    "有网友在社交平台发布了现场照片。", "律师认为，金融机构应当承担相应责任。", "附近商户表示当天人流明显增多。",
    "当地金融监管部门已经介入调查。", "一位不愿透露姓名的员工说，内部已经开会讨论。",
    "消费者协会提醒市民保留相关凭证。", "该事件在本地论坛引发热议，评论超过两千条。",
    "家住汉阳的李女士也有相似遭遇。", "专家建议储户通过正规渠道反映诉求。",
    "据了解，涉事人员已被停职。", "记者在现场看到，大厅内秩序有些混乱。", "银行方面回应称正在核实情况。",
    "有市民拨打了一二三四五热线。", "事发时正值午休时间，柜台只开了一个窗口。", "多家媒体对此进行了报道。",
    "一名老人的子女连夜从外地赶回。", "社区工作人员也赶到现场协调。", "目前相关视频播放量已超过十万次。",
]
CITY = ["社区志愿者开展敬老服务", "地铁新线试运营", "图书馆举办阅读周", "马拉松赛报名启动", "公园菊花展开幕"]


# ---- services on 127.0.0.1 -----------------------------------------------------------------------------------

class Feed:
    """An RSS feed of full-text items (no article pages to fetch). ``items`` are (tag, title, text, visible_at):
    an item is listed from ``visible_at`` (a ``time.time()``), with that moment as its ``pubDate``."""

    def __init__(self, items: list[tuple[str, str, str, float]]) -> None:
        self.items = items
        self.polls: list[float] = []
        self.publish_at_first_poll = False  # the items appear (and are dated) when the first poll arrives
        self.lock = threading.Lock()
        self.other: list[str] = []  # paths asked for besides the feed
        self.trickle_seconds = 0.0
        self.started = time.time()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                now = time.time()
                with feed.lock:
                    if self.path.startswith("/feed.xml"):
                        feed.polls.append(now)
                        if feed.publish_at_first_poll and len(feed.polls) == 1:
                            feed.items[:] = [(tag, title, text, now) for tag, title, text, _ in feed.items]
                        body, ctype = feed.body(now), "application/rss+xml; charset=utf-8"
                    else:
                        feed.other.append(self.path)
                        body, ctype = feed.page(self.path.rsplit("/", 1)[-1].removesuffix(".html")), "text/html"
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def body(self, now: float) -> bytes:
        trickle = []  # city news (no bank named) every `trickle_seconds`: a busy source has news at every poll
        if self.trickle_seconds:
            for k in range(int((now - self.started) // self.trickle_seconds) + 1):
                topic = CITY[k % len(CITY)]
                trickle.append((f"c{k}", f"江城快讯{k}：{topic}", f"江城第{k}号快讯：{topic}，市民反响热烈。",
                                self.started + k * self.trickle_seconds))
        items = "".join(
            f"<item><title>{title}</title><link>{self.base}/n/{tag}.html</link>"
            f"<pubDate>{format_datetime(datetime.fromtimestamp(at, UTC))}</pubDate>"
            f"<content:encoded><![CDATA[<p>{text}</p>]]></content:encoded></item>"
            for tag, title, text, at in [*self.items, *trickle] if at <= now)
        return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
                'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>江城新闻</title>'
                f"{items}</channel></rss>").encode()

    def page(self, tag: str) -> bytes | None:
        """An item's article page (the crawler may fetch it although the feed carries the full text)."""
        if tag.startswith("c") and tag[1:].isdigit():
            topic = CITY[int(tag[1:]) % len(CITY)]
            return f"<html><head><meta charset='utf-8'><title>{topic}</title></head><body><p>{topic}</p>".encode()
        for item_tag, title, text, _ in self.items:
            if item_tag == tag:
                return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
                        f"<h1>{title}</h1><div class='content'><p>{text}</p></div></body></html>").encode()
        return None

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Hook:
    """A webhook receiver: every POST's arrival time (``time.time()``) and body are recorded; answers 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.posts.append((time.time(), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "11")
                self.end_headers()
                self.wfile.write(b'{"ok":true}')

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# ---- databases and configuration -----------------------------------------------------------------------------

def _dsn(name: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + name


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)


def _drop(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _config(tmp: Path, feed: Feed, *, poll: int, authority: str, max_items: int, hook: Hook | None) -> Path:
    """A copy of config/ with one source (the feed) and, with ``hook``, the webhook channel on (no quiet hours)."""
    config = tmp / "config"
    shutil.copytree(ROOT / "config", config)
    (config / "sources.public.yaml").unlink(missing_ok=True)
    (config / "sources.yaml").write_text(
        "sources:\n"
        f"  - id: bench\n    name: 江城新闻\n    kind: rss\n    channel: news\n    url: {feed.base}/feed.xml\n"
        f"    authority: {authority}\n    poll_interval: {poll}\n    max_items: {max_items}\n"
        f"    private_network: 127.0.0.1:{feed.port}\n    respect_robots: false\n", encoding="utf-8")
    if hook is not None:
        channels = yaml.safe_load((config / "channels.yaml").read_text(encoding="utf-8"))
        channels["channels"]["webhook"].update(enabled=True, url=hook.url, secret_env="YQ_BENCH_HOOK_SECRET")
        (config / "channels.yaml").write_text(yaml.safe_dump(channels, allow_unicode=True), encoding="utf-8")
    levels = yaml.safe_load((config / "levels.yaml").read_text(encoding="utf-8"))
    levels.pop("quiet_hours", None)  # deliver at whatever hour the bench runs
    (config / "levels.yaml").write_text(yaml.safe_dump(levels, allow_unicode=True), encoding="utf-8")
    return config


def _env(tmp: Path, config: Path, database_url: str, *, model: bool) -> dict[str, str]:
    env = {**os.environ, "YUQING_DATABASE_URL": database_url, "YUQING_DATA_DIR": str(tmp),
           "YUQING_CONFIG_DIR": str(config), "YUQING_SOURCES_FILE": str(config / "sources.yaml"),
           "YUQING_ALLOW_PRIVATE_SOURCES": "bench", "YUQING_SECRET_KEY": SECRET,
           "YQ_BENCH_HOOK_SECRET": HOOK_SECRET, "YUQING_API_PORT": str(_free_port()),
           "YUQING_WORKER_HEARTBEAT_SECONDS": "1", "YUQING_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}
    if model:
        env.pop("YUQING_MODEL_DIR", None)  # the shipped model
    else:
        env["YUQING_MODEL_DIR"] = str(tmp / "no-model")  # the rule baseline
    return env


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _rss(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB."""
    got = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            got[key] = int(value.split()[0]) / 1024
    return got.get("VmRSS", 0.0), got.get("VmHWM", 0.0)


# ---- 1. ingest scaling -----------------------------------------------------------------------------------------

def _backlog_items(n: int, relevant_share: float) -> list[tuple[str, str, str, float]]:
    """``n`` items, ``relevant_share`` of them about a unit of the bank (many stories), the rest city news."""
    old = time.time() - 3600
    rng = random.Random(13)
    items = []
    every = max(1, round(1 / (1 - relevant_share))) if relevant_share < 1 else 0
    for i in range(n):
        if every and i % every == 0:
            topic = CITY[i % len(CITY)]
            title, text = f"江城快讯{i}：{topic}", f"江城第{i}号快讯：{topic}，共有{i % 97 + 3}位工作人员参与。"
        else:  # a unit and an event, told in a varied text: a story per (unit, event) at most, not one story
            unit, event = UNITS[rng.randrange(len(UNITS))], EVENTS[rng.randrange(len(EVENTS))]
            title = f"示例银行{unit}{event.split('，')[0]}（{i}）"
            filler = "".join(rng.sample(FILLER, 4))
            text = (f"{filler}据第{i}位读者反映，示例银行{unit}{event}。当事人称已经等了{rng.randrange(2, 90)}天，"
                    f"涉及金额{rng.randrange(1, 500)}万元。{''.join(rng.sample(FILLER, 3))}")
        items.append((f"b{i}", title, text, old + i * 0.01))
    return items


def _settings(tmp: Path, config: Path, database_url: str):
    from yuqing.settings import Settings

    return Settings(data_dir=tmp, secret_key=SECRET, config_dir=config, sources_file=config / "sources.yaml",
                    allow_private_sources=["bench"], database_url=database_url)


def _seed(template: str, tmp: Path, config: Path) -> dict:
    """Migrate the template database and crawl the backlog feed into it once (the articles stay ``fetched``)."""
    from runner import stages
    from runner.runtime import build_runtime
    from runner.workers import ensure_job_schema
    from sentiment.batch import choose_classifier
    from yuqing.clock import SystemClock
    from yuqing.db import engine_for
    from yuqing.migrate import upgrade

    url = _dsn(template).replace("postgresql://", "postgresql+psycopg://")
    settings = _settings(tmp, config, url)
    engine = engine_for(settings)
    try:
        upgrade(engine)
        ensure_job_schema(settings)
        rt = build_runtime(settings, clock=SystemClock(), engine=engine, classifier=choose_classifier(None, rules=True))
        rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "LOG_LEVEL": "ERROR"}
        rt.evidence_config = None
        t0 = time.perf_counter()
        report = asyncio.run(stages.crawl_these(rt, rt.sources))
        took = time.perf_counter() - t0
    finally:
        engine.dispose()
    with psycopg.connect(_dsn(template)) as conn:
        fetched = conn.execute("SELECT count(*) FROM articles WHERE stage = 'fetched'").fetchone()[0]
    return {"stored": fetched, "crawl_seconds": round(took, 1), "new_articles": report.new_articles}


def _counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT stage, count(*) FROM articles GROUP BY stage").fetchall())


def _outcome(dsn: str) -> dict[str, int]:
    """What the drain left behind, to compare runs: classifications (one per relevant article if nothing was
    classified twice), stories, and relevant articles without a story."""
    with psycopg.connect(dsn) as conn:
        one = conn.execute("SELECT (SELECT count(*) FROM classifications), (SELECT count(*) FROM stories), "
                           "(SELECT count(*) FROM articles WHERE stage = 'scored' AND story_id IS NULL)").fetchone()
    return {"classifications": one[0], "stories": one[1], "scored_without_story": one[2]}


def _baseline(name: str, tmp: Path, config: Path) -> dict:
    """The stage functions in this process on the clone ``name``: ingest drained, then classify, then score."""
    from runner import stages
    from runner.runtime import build_runtime
    from sentiment.batch import choose_classifier
    from yuqing.clock import SystemClock
    from yuqing.db import engine_for

    url = _dsn(name).replace("postgresql://", "postgresql+psycopg://")
    settings = _settings(tmp, config, url)
    engine = engine_for(settings)
    per_stage: dict[str, dict] = {}
    try:
        rt = build_runtime(settings, clock=SystemClock(), engine=engine, classifier=choose_classifier(None, rules=True))
        rt.evidence_config = None
        before = _counts(_dsn(name))
        t_all, c_all = time.perf_counter(), time.process_time()
        for stage, pending in (("ingest", "fetched"), ("classify", "matched"), ("score", "classified")):
            t0, c0 = time.perf_counter(), time.process_time()
            while _counts(_dsn(name)).get(pending, 0):
                getattr(stages, stage)(rt)
            per_stage[stage] = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
        wall, cpu = time.perf_counter() - t_all, time.process_time() - c_all
    finally:
        engine.dispose()
    after = _counts(_dsn(name))
    outcome = _outcome(_dsn(name))
    return _scaling_row("baseline (stage functions in-process, one after another)", 0, before, after, wall, cpu,
                        {s: v["seconds"] for s, v in per_stage.items()}, outcome, cumulative=False)


def _scaling_row(label: str, workers: int, before: dict[str, int], after: dict[str, int], wall: float, cpu: float,
                 stage_seconds: dict[str, float], outcome: dict[str, int], *, cumulative: bool) -> dict:
    total = sum(before.values())
    relevant = total - after.get("irrelevant", 0) - after.get("ingest_failed", 0)
    handled = {"ingest": total, "classify": relevant, "score": relevant}
    stages = {}
    for stage, seconds in stage_seconds.items():
        stages[stage] = {"articles": handled[stage], "seconds": round(seconds, 2),
                         "articles_per_s": round(handled[stage] / seconds, 1) if seconds > 0 else None}
    return {"label": label, "workers_per_stage": workers, "articles": total, "relevant": relevant,
            "left_unprocessed": sum(after.get(s, 0) for s in ("fetched", "matched", "classified", "bench_hold")),
            "seconds": round(wall, 2), "articles_per_s": round(total / wall, 1) if wall > 0 else None,
            "cpu_seconds": round(cpu, 1), "stages": stages, **outcome,
            "stage_seconds_are": "since the start (stages overlap)" if cumulative else "the stage alone"}


def _workers_run(name: str, k: int, tmp: Path, config: Path, timeout: float) -> dict:
    """``k`` ``yuqing worker`` processes for each of ingest, classify and score on the clone ``name``."""
    dsn = _dsn(name)
    env = _env(tmp, config, dsn.replace("postgresql://", "postgresql+psycopg://"), model=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE articles SET stage = 'bench_hold' WHERE stage = 'fetched'")
    before = {"fetched": _counts(dsn).get("bench_hold", 0)}
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        for stage in ("ingest", "classify", "score"):
            for i in range(k):
                log = tmp / f"worker-{k}-{stage}-{i}.log"
                logs.append(log)
                with log.open("wb") as out:
                    procs.append(subprocess.Popen([*YUQING, "worker", stage], cwd=ROOT, env=env, stdout=out,
                                                  stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        while not all("started" in log.read_text(errors="replace") for log in logs):
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                tails = [log.read_text(errors="replace")[-500:] for log in logs]
                raise RuntimeError(f"a worker did not start: {tails}")
            time.sleep(0.2)
        cpu0 = sum(_cpu_seconds(p.pid) for p in procs)
        t0 = time.perf_counter()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("UPDATE articles SET stage = 'fetched' WHERE stage = 'bench_hold'")
        drained: dict[str, float] = {}
        while time.perf_counter() - t0 < timeout:
            c = _counts(dsn)
            now = time.perf_counter() - t0
            if not c.get("fetched"):
                drained.setdefault("ingest", now)
            if "ingest" in drained and not c.get("matched"):
                drained.setdefault("classify", now)
            if "classify" in drained and not c.get("classified"):
                drained.setdefault("score", now)
                break
            time.sleep(0.25)
        wall = time.perf_counter() - t0
        cpu = sum(_cpu_seconds(p.pid) for p in procs) - cpu0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    after = _counts(dsn)
    outcome = _outcome(dsn)
    return _scaling_row(f"{k} worker process(es) per stage ({3 * k} processes)", k, before, after, wall, cpu,
                        drained, outcome, cumulative=True)


def ingest_scaling(articles: int, workers: list[int], timeout: float) -> dict:
    tag = uuid.uuid4().hex[:8]
    template = f"yq_bench_workers_{tag}_tpl"
    tmp = Path(tempfile.mkdtemp(prefix="yq-bench-workers-"))
    items = _backlog_items(articles, relevant_share=0.8)
    feed = Feed(items)
    config = _config(tmp, feed, poll=600, authority="local_media", max_items=articles, hook=None)
    made = [template]
    rows = []
    try:
        _admin(f'CREATE DATABASE "{template}"')
        say(f"workers: seeding {articles} raw articles (crawl of a local feed)…")
        seed = _seed(template, tmp, config)
        for k in [0, *workers]:
            clone = f"yq_bench_workers_{tag}_{k}"
            made.append(clone)
            _admin(f'CREATE DATABASE "{clone}" TEMPLATE "{template}"')
            say(f"workers: draining the backlog with {'the in-process baseline' if k == 0 else f'{k} per stage'}…")
            rows.append(_baseline(clone, tmp, config) if k == 0 else _workers_run(clone, k, tmp, config, timeout))
            _drop(clone)
    finally:
        feed.stop()
        for name in made:
            _drop(name)
        shutil.rmtree(tmp, ignore_errors=True)
    return {"seed": seed, "rows": rows}


# ---- 2 + 3. time to alert and RSS of yuqing run ----------------------------------------------------------------

def _alert_items(n: int, start: float, spread: float) -> list[tuple[str, str, str, float]]:
    """``n`` alerting items, each a different outlet and event, published evenly over ``spread`` seconds."""
    items = []
    for i in range(n):
        unit, event = UNITS[i % len(UNITS)], EVENTS[(i * 5) % len(EVENTS)]
        tag = f"YQB{i:02d}"
        title = f"示例银行{unit}{event.split('，')[0]} {tag}"
        text = f"据记者调查，示例银行{unit}{event}。多名市民表示愤怒，要求银行给出说法。"
        items.append((tag, title, text, start + i * spread / max(1, n - 1)))
    return items


def time_to_alert(n_items: int, poll: int, *, model: bool, timeout: float, spread: float | None = None) -> dict:
    """``yuqing run`` on a fresh database polling a site that publishes ``n_items`` alerting items at known
    times; arrival of each alert's first webhook message − its item's publish time; RSS sampled throughout.

    The items are published evenly over ``spread`` seconds (default two poll intervals) from 3 s after the first
    poll, so they fall at every phase of the poll cycle; ``spread=0`` publishes them all as the first poll
    arrives: the best case, no wait for a poll (the quick configuration of the test)."""
    tag = uuid.uuid4().hex[:8]
    name = f"yq_bench_tta_{tag}"
    tmp = Path(tempfile.mkdtemp(prefix="yq-bench-tta-"))
    hook = Hook()
    items: list[tuple[str, str, str, float]] = []
    spread = 2 * poll if spread is None else spread
    feed = Feed(items)  # filled once yuqing run is up (or as its first poll arrives, with spread 0)
    # A city news item every 10 s: every poll finds something new, as on a busy news source, so the poll gap stays
    # the configured interval (crawlers.health.next_interval: max(30 s, interval / 2) after news, while an idle
    # poll stretches the next gap 1.5 times, up to 4 times the interval).
    feed.trickle_seconds = 10.0
    if spread == 0:
        items.extend(_alert_items(n_items, float("inf"), 0))
        feed.publish_at_first_poll = True
    config = _config(tmp, feed, poll=poll, authority="national_media", max_items=200, hook=hook)
    env = _env(tmp, config, _dsn(name).replace("postgresql://", "postgresql+psycopg://"), model=model)
    samples: list[tuple[float, float]] = []
    proc = None
    _admin(f'CREATE DATABASE "{name}"')
    try:
        from yuqing.db import engine_for
        from yuqing.migrate import upgrade

        engine = engine_for(_settings(tmp, config, env["YUQING_DATABASE_URL"]))
        try:
            upgrade(engine)  # what `yuqing migrate` does for yuqing run (no job queue schema: no workers here)
        finally:
            engine.dispose()
        log = tmp / "run.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([*YUQING, "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        t_start = time.time()
        while not feed.polls:  # the first poll (of an empty feed): yuqing run is up and polling
            if proc.poll() is not None or time.time() - t_start > timeout:
                raise RuntimeError(f"yuqing run did not poll: {log.read_text(errors='replace')[-2000:]}")
            samples.append((time.time(), _rss(proc.pid)[0]))
            time.sleep(0.5)
        startup = time.time() - t_start
        # publish over two poll intervals, starting a little after the first poll: every phase of the poll cycle
        if spread:
            items.extend(_alert_items(n_items, feed.polls[0] + 3, spread))
        with feed.lock:
            last_publish = items[-1][3]
        first: dict[str, float] = {}
        while time.time() < last_publish + poll + 60 + timeout / 4:
            for at, body in list(hook.posts):
                for found in set(re.findall(rb"YQB\d\d", body)):
                    first.setdefault(found.decode(), at)
            if len(first) >= n_items:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"yuqing run exited: {log.read_text(errors='replace')[-2000:]}")
            samples.append((time.time(), _rss(proc.pid)[0]))
            time.sleep(0.5)
        time.sleep(2)
        samples.append((time.time(), _rss(proc.pid)[0]))
        peak = _rss(proc.pid)[1]
        cpu = _cpu_seconds(proc.pid)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        feed.stop()
        hook.stop()
        _drop(name)
        shutil.rmtree(tmp, ignore_errors=True)
    published = {t: at for t, _, _, at in items}
    delays = sorted(first[t] - published[t] for t in first)
    first_alert = min(first.values()) if first else None
    steady = [rss for at, rss in samples if first_alert is not None and at >= first_alert]
    return {"classifier": "shipped model" if model else "rule baseline", "poll_interval_s": poll,
            "published": f"evenly over {spread:g} s from 3 s after the first poll" if spread
            else "all at the first poll (best case: no wait for a poll)",
            "items": n_items, "alerted": len(delays), "target_p95_s": poll + 10,
            "p50_s": round(nearest_rank(delays, 50), 1) if delays else None,
            "p95_s": round(nearest_rank(delays, 95), 1) if delays else None,
            "max_s": round(delays[-1], 1) if delays else None,
            "delays_s": [round(d, 1) for d in delays], "startup_s": round(startup, 1),
            "rss_peak_mb": round(peak, 1), "rss_steady_mb": round(statistics.median(steady), 1) if steady else None,
            "rss_samples": len(samples), "rss_target_mb": RSS_TARGET_MB, "cpu_seconds": round(cpu, 1),
            "polls_s": [round(at - feed.polls[0], 1) for at in feed.polls],
            "poll_gaps_s": [round(b - a, 1) for a, b in zip(feed.polls, feed.polls[1:], strict=False)],
            "pages_fetched": len(feed.other),
            "published_s": [round(at - feed.polls[0], 1) for _, _, _, at in items]}


# ---- report ----------------------------------------------------------------------------------------------------

def _markdown(result: dict) -> str:
    lines = [f"# Worker benchmarks ({result['when']})", "",
             f"CPU: {result['cpu']}, {os.cpu_count()} cores, shared with other work: the load average is part of "
             "the result.", "", f"- uptime before: `{result['uptime_before']}`",
             f"- uptime after: `{result['uptime_after']}`", f"- command: `{result['command']}`", ""]
    scaling = result.get("ingest_scaling")
    if scaling:
        seed = scaling["seed"]
        lines += ["## Ingest scaling (PostgreSQL, rule classifier)", "",
                  f"Backlog: {seed['stored']} raw articles (crawled in {seed['crawl_seconds']} s). Per stage: "
                  "articles handled and articles/s; for workers the seconds are since the start (the stages "
                  "overlap), for the baseline each stage alone.", "",
                  "| run | articles/s end to end | seconds | ingest /s | classify /s | score /s | CPU s | left | "
                  "classifications | stories |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in scaling["rows"]:
            st = r["stages"]
            lines.append(f"| {r['label']} | {r['articles_per_s']} | {r['seconds']} | "
                         + " | ".join(str(st.get(s, {}).get("articles_per_s")) for s in ("ingest", "classify",
                                                                                          "score"))
                         + f" | {r['cpu_seconds']} | {r['left_unprocessed']} | {r['classifications']} | "
                           f"{r['stories']} |")
        lines.append("")
    alerts = result.get("time_to_alert") or []
    if alerts:
        lines += ["## Time to alert and RSS of `yuqing run`", "",
                  "Publish time on the local site → first webhook message of the item's alert at the receiver; "
                  f"items published {alerts[0]['published']}.", "",
                  "| classifier | poll s | measured poll gaps s | alerted / items | p50 s | p95 s | max s | "
                  "target p95 s | peak RSS MB | steady RSS MB | RSS target MB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in alerts:
            gaps = r["poll_gaps_s"]
            lines.append(f"| {r['classifier']} | {r['poll_interval_s']} | "
                         f"{min(gaps) if gaps else '–'}–{max(gaps) if gaps else '–'} | {r['alerted']} / {r['items']} | "
                         f"{r['p50_s']} | {r['p95_s']} | {r['max_s']} | {r['target_p95_s']} | {r['rss_peak_mb']} | "
                         f"{r['rss_steady_mb']} | {r['rss_target_mb']} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench workers", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=3000, help="raw articles in the backlog (default 3000)")
    parser.add_argument("--workers", default="1,2,4", help="worker processes per stage to measure (default 1,2,4)")
    parser.add_argument("--alert-items", type=int, default=12, help="alerting items published (default 12)")
    parser.add_argument("--poll", type=int, default=30, help="the source's poll interval, s (default 30, the least)")
    parser.add_argument("--spread", type=float, default=None,
                        help="publish the alerting items over this many seconds (default two poll intervals; 0: all "
                             "as the first poll arrives)")
    parser.add_argument("--no-model", action="store_true", help="time to alert with the rule classifier only")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: scaling, alert")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for one measurement")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for workers.json and workers.md")
    parser.add_argument("--name", default="workers", help="the results' file name without suffix (default workers)")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    result: dict = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu_model(),
                    "command": "python -m bench workers " + " ".join(argv if argv is not None else sys.argv[1:]),
                    "uptime_before": _uptime()}
    say(f"workers: uptime before: {result['uptime_before']}")
    if "scaling" not in skip:
        result["ingest_scaling"] = ingest_scaling(args.articles, [int(k) for k in args.workers.split(",") if k],
                                                  args.timeout)
    if "alert" not in skip:
        result["time_to_alert"] = []
        for model in [False] + ([] if args.no_model else [True]):
            say(f"workers: time to alert, yuqing run with the {'shipped model' if model else 'rule baseline'}…")
            result["time_to_alert"].append(time_to_alert(args.alert_items, args.poll, model=model,
                                                         timeout=args.timeout, spread=args.spread))
    result["uptime_after"] = _uptime()
    md = _markdown(result)
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                                                encoding="utf-8")
    (args.out / f"{args.name}.md").write_text(md + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
