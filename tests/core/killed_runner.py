"""A stage runner that is killed mid-batch, for tests/core/test_concurrency_kill.py.

    python tests/core/killed_runner.py classify|ingest DATABASE_URL SCHEMA

It starts the stage on the PostgreSQL schema given and, once it holds its work (classify: the batch claimed and
the model running; ingest: the article's row locked and being matched), prints ``holding`` and hangs until killed.
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import create_engine

from yuqing.clock import SystemClock
from yuqing.db import make_sessionmaker


def _hang() -> None:
    print("holding", flush=True)
    time.sleep(600)


def main() -> None:
    mode, url, schema = sys.argv[1:]
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    session = make_sessionmaker(engine)()
    if mode == "classify":
        from sentiment.service import classify_pending

        class Hanging:
            name = "hanging"

            def predict(self, texts):
                _hang()

        classify_pending(session, classifier=Hanging(), clock=SystemClock(), batch_size=16)
    else:
        from crawlers.ingest import process_fetched
        from crawlers.keywords import load_keyword_plans
        from crawlers.matching import Matcher
        from crawlers.stories import StoryIndex
        from yuqing.org import load_org
        from yuqing.settings import PROJECT_ROOT

        matcher = Matcher.from_org(load_org(PROJECT_ROOT / "config/org.yaml"),
                                   load_keyword_plans(PROJECT_ROOT / "config/keywords.yaml"))
        matcher.match = lambda *a, **k: _hang()
        process_fetched(session, matcher=matcher, index=StoryIndex(), clock=SystemClock())


if __name__ == "__main__":
    main()
