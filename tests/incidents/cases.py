"""Test helper: open an incident the way the pipeline does (a story with one post, a risk row, handle_story_risk)."""

from __future__ import annotations

import hashlib

from crawlers.models import Article, Story
from incidents import service
from sentiment.models import StoryRisk


def open_case(session, org, policy, clock, *, level: str, score: float) -> int:
    """A 挤兑传闻 story at 新华路 with one Weibo post, scored at ``level``; returns the incident's id."""
    now = clock.now()
    story = Story(title="示例银行新华路网点挤兑传闻", unit_id="xinhualu", first_seen_at=now, last_seen_at=now,
                  article_count=1)
    session.add(story)
    session.flush()
    url = f"https://weibo.example/post/{story.id}"
    digest = hashlib.sha256(url.encode()).hexdigest()
    session.add(Article(source_id="weibo", channel="social", url=url, url_hash=digest, title=story.title,
                        text=story.title, fetched_at=now, published_at=now, content_hash=digest,
                        story_id=story.id, stage="scored"))
    risk = StoryRisk(story_id=story.id, computed_at=now, score=score, level=level, category="withdrawal_bank_run",
                     factors={})
    session.add(risk)
    session.flush()
    return service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock).incident_id


def cli_database(monkeypatch, tmp_path):
    """A migrated SQLite database under ``tmp_path`` with the org chart's users seeded, made through the CLI the way
    an operator would (``yuqing migrate``, ``yuqing user seed``); returns its engine and a session factory on it."""
    from typer.testing import CliRunner

    from runner.cli import app
    from yuqing.db import make_engine, make_sessionmaker
    from yuqing.settings import load_settings

    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert runner.invoke(app, ["user", "seed"], input="first-password-1\nfirst-password-1\n").exit_code == 0
    engine = make_engine(load_settings().effective_database_url)
    return engine, make_sessionmaker(engine)
