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
