"""One crawl process for the politeness test: crawls the sources named on the command line once, with the domain
budget on, after waiting for a start signal so both processes crawl at the same time.

    python tests/core/politeness_crawler.py BASE_URL SQLITE_FILE GO_FILE DELAY REDIS_URL NAMESPACE SOURCE_ID...

Prints ``ready`` once imported and set up, then when it started crawling and each source's politeness stats as
JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from crawlers.crawl import crawl_sources
from crawlers.sources import SourceConfig
from runner.schema import all_metadata
from yuqing.clock import SystemClock
from yuqing.db import make_engine, make_sessionmaker


def main() -> None:
    base, db, go, delay, redis_url, namespace, *ids = sys.argv[1:]
    engine = make_engine(f"sqlite:///{db}")
    all_metadata().create_all(engine)
    sources = [SourceConfig(id=sid, name=sid, kind="rss", channel="news", url=f"{base}/{sid}/feed.xml",
                            authority="local_media", private_network=base.removeprefix("http://"),
                            respect_robots=False) for sid in ids]
    overrides = {"DOWNLOAD_DELAY": 0, "YUQING_DOMAIN_DELAY": float(delay), "YUQING_REDIS_URL": redis_url,
                 "YUQING_POLITENESS_NAMESPACE": namespace, "LOG_LEVEL": "ERROR", "DOWNLOAD_TIMEOUT": 10}
    import crawlers.extract  # imported before "ready": both processes start crawling together
    import crawlers.pipelines
    import crawlers.spiders  # noqa: F401

    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.01)
    started = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process of this machine
    results = asyncio.run(crawl_sources(sources, session_factory=make_sessionmaker(engine), clock=SystemClock(),
                                        settings_overrides=overrides))
    print(json.dumps({"started": started, "sources": {
        sid: {"ok": r.ok, "new": r.new_items,
              "stats": {k: v for k, v in r.stats.items() if k.startswith("politeness/")}}
        for sid, r in results.items()}}), flush=True)


if __name__ == "__main__":
    main()
