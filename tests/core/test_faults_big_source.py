"""Fault: a source returning 10,000 items at once, under ``yuqing run`` on its default database, SQLite (one writer:
the crawl's 10,000 inserts and every other stage take turns).

One feed lists 10,000 full-text items (``max_items: 10000``, the admin's setting for a high-volume source); a second
source, a local news site, has two articles about a withdrawal refused at the bank's 新华路网点. Both are due at
start and crawled together. All 10,000 are stored exactly once — also after the big feed is polled again with the
same items — in bounded time and memory (the process's peak RSS, ``VmHWM``, is printed and held under a limit),
and meanwhile the pipeline keeps serving the other source: its alert is delivered while the big feed's items are
still arriving.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.core.faults_services import free_port, stop_process
from tests.core.test_faults_postgres import SECRET, YUQING, wait_for
from tests.core.workers_site import Site

ROOT = Path(__file__).resolve().parents[2]
ITEMS = 10_000
PEAK_RSS_LIMIT_MB = 1500  # the ceiling for `yuqing run`


class BigFeed:
    """An RSS feed of ``ITEMS`` full-text items (no article pages to fetch): city news that names no bank."""

    def __init__(self) -> None:
        self.polls = 0
        feed = self
        now = datetime.now(UTC)
        topics = ["社区志愿者开展敬老服务", "地铁新线试运营", "图书馆举办阅读周", "马拉松赛报名启动", "公园菊花展开幕"]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                feed.polls += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(feed.body)))
                self.end_headers()
                self.wfile.write(feed.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        base = f"http://127.0.0.1:{self.port}"
        items = "".join(
            f"<item><title>江城快讯{i}：{topics[i % 5]}</title><link>{base}/n/{i}.html</link>"
            f"<pubDate>{format_datetime(now - timedelta(seconds=ITEMS - i))}</pubDate>"
            f"<content:encoded><![CDATA[<p>江城第{i}号快讯：{topics[i % 5]}，市民反响热烈，"
            f"共有{i % 97 + 3}位工作人员参与，活动持续到{i % 12 + 8}点。</p>]]></content:encoded></item>"
            for i in range(ITEMS))
        self.body = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
                     'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>江城快讯</title>'
                     f"{items}</channel></rss>").encode()
        self.url = f"{base}/feed.xml"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_ten_thousand_items_at_once_are_stored_once_while_the_other_source_is_served(tmp_path):
    url = f"sqlite:///{tmp_path / 'yuqing.db'}"
    engine = create_engine(url, connect_args={"timeout": 30})
    big, site = BigFeed(), Site(articles=2).start()
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    (config / "sources.public.yaml").unlink(missing_ok=True)
    (config / "sources.yaml").write_text(
        "sources:\n"
        f"  - id: big\n    name: 江城快讯\n    kind: rss\n    channel: news\n    url: {big.url}\n"
        f"    authority: local_media\n    poll_interval: 600\n    max_items: {ITEMS}\n"
        f"    private_network: 127.0.0.1:{big.port}\n    respect_robots: false\n"
        f"  - id: jcwb\n    name: 江城晚报网\n    kind: rss\n    channel: news\n    url: {site.base}/feed.xml\n"
        f"    authority: local_media\n    poll_interval: 600\n    private_network: 127.0.0.1:{site.port}\n"
        f"    respect_robots: false\n", encoding="utf-8")
    env = {**os.environ, "YUQING_DATABASE_URL": url,
           "YUQING_DATA_DIR": str(tmp_path), "YUQING_CONFIG_DIR": str(config), "YUQING_SECRET_KEY": SECRET,
           "YUQING_ALLOW_PRIVATE_SOURCES": "big,jcwb", "YUQING_MODEL_DIR": str(tmp_path / "no-model"),
           "YUQING_API_PORT": str(free_port()), "YUQING_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}
    log = tmp_path / "run.log"

    def one(sql: str) -> object:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    proc = None
    try:
        done = subprocess.run([*YUQING, "migrate"], cwd=ROOT, env=env, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        with log.open("wb") as out:
            proc = subprocess.Popen([*YUQING, "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_for("the dashboard", lambda: "仪表盘" in log.read_text(errors="replace"), timeout=120, proc=proc,
                 log=log)
        t0 = time.monotonic()
        wait_for("the other source's alert delivered", lambda: one(
            "SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE n.status = 'sent'") > 0,
            timeout=600, proc=proc, log=log)
        alert_at = time.monotonic() - t0
        big_when_alerted = one("SELECT count(*) FROM articles WHERE source_id = 'big'")
        wait_for("all 10,000 stored", lambda: one("SELECT count(*) FROM articles WHERE source_id = 'big'") == ITEMS,
                 timeout=900, proc=proc, log=log)
        stored_at = time.monotonic() - t0
        wait_for("all 10,000 ingested", lambda: one("SELECT count(*) FROM articles WHERE stage = 'fetched'") == 0,
                 timeout=600, proc=proc, log=log)
        ingested_at = time.monotonic() - t0
        # The feed again, the same 10,000 items: the source is due now.
        polls = big.polls
        with engine.begin() as conn:
            conn.execute(text("UPDATE source_states SET next_poll_at = :at WHERE source_id = 'big'"),
                         {"at": (datetime.now(UTC) - timedelta(seconds=1)).replace(tzinfo=None)})
        wait_for("the second poll", lambda: big.polls > polls and one(
            "SELECT runs FROM source_states WHERE source_id = 'big'") >= 2, timeout=300, proc=proc, log=log)
        time.sleep(2)
        peak = peak_rss_mb(proc.pid)
        assert proc.poll() is None
    finally:
        if proc is not None:
            stop_process(proc)
        big.stop()
        site.stop()
    try:
        with engine.connect() as conn:
            urls = tuple(conn.execute(text("SELECT count(*), count(DISTINCT url) FROM articles "
                                           "WHERE source_id = 'big'")).one())
            stages = dict(conn.execute(text("SELECT stage, count(*) FROM articles GROUP BY stage")).all())
            state = tuple(conn.execute(text("SELECT runs, items_total, consecutive_failures FROM source_states "
                                            "WHERE source_id = 'big'")).one())
            alerts = conn.execute(text("SELECT count(*) FROM alerts")).scalar()
    finally:
        engine.dispose()
    print(f"\nalert of the other source delivered after {alert_at:.1f} s, with {big_when_alerted} of the big feed's "
          f"items stored; all {ITEMS} stored after {stored_at:.1f} s, ingested after {ingested_at:.1f} s; "
          f"peak RSS of yuqing run {peak:.0f} MB; big source state {state}; stages {stages}")
    assert urls == (ITEMS, ITEMS)  # all stored, once
    assert state[0] >= 2 and state[1] == ITEMS and state[2] == 0  # polled twice, 10,000 new in all, no failure
    assert alerts == 1
    assert big_when_alerted < ITEMS  # the other source was served while the big one was still arriving
    assert peak < PEAK_RSS_LIMIT_MB
