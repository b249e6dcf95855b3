"""Scoring remembers an article's risk facts between rounds (``sentiment.service._story_facts``): the facts it
gives must be those worked out afresh, on SQLite and PostgreSQL — when nothing changed, when a re-poll changed an
article's counts, and when the story grew — and a story whose articles are all remembered reads none again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from crawlers.models import Article, ArticleStage, Story
from sentiment import service
from sentiment.models import Classification
from sentiment.risk import RiskConfig
from sentiment.service import RiskContext


def _article(story: Story, i: int, now, metrics: dict) -> Article:
    return Article(source_id="weibo", channel="social", url=f"http://example.test/{i}", url_hash=f"h{i}", title="",
                   text=f"示例银行新华路网点不让取钱，凭什么！（{i}）", published_at=now - timedelta(hours=2),
                   fetched_at=now, content_hash=f"c{i}", metrics=metrics, stage=ArticleStage.scored,
                   story_id=story.id)


def _add(session, story: Story, i: int, now, metrics: dict) -> Article:
    a = _article(story, i, now, metrics)
    session.add(a)
    session.flush()
    session.add(Classification(article_id=a.id, label="negative", negative_prob=0.9, category="service",
                               model="rules", classified_at=now, cues=[]))
    session.commit()
    return a


def _afresh(session, story, ctx, now):
    service._FACTS_BY_ENGINE.clear()
    return service._story_facts(session, story, ctx, now)


def test_remembered_facts_equal_fresh_ones(session_factory, clock, org):
    ctx = RiskContext(org=org, config=RiskConfig(), authorities={"weibo": "social"})
    with session_factory() as s:
        now = clock.now()
        story = Story(title="新华路网点拒绝取款", unit_id="xinhualu", first_seen_at=now, last_seen_at=now,
                      article_count=3)
        s.add(story)
        s.commit()
        posts = [_add(s, story, i, now, {"reposts": 10 * i, "comments": i}) for i in range(3)]
        fresh = _afresh(s, story, ctx, now)
        assert len(fresh.articles) == 3
        assert service._story_facts(s, story, ctx, now) == fresh  # remembered

        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_rest):
            statements.append(statement)

        event.listen(s.get_bind(), "before_cursor_execute", seen)
        try:
            assert service._story_facts(s, story, ctx, now) == fresh
        finally:
            event.remove(s.get_bind(), "before_cursor_execute", seen)
        assert statements and not any("articles.text" in q for q in statements)  # all remembered: no text read

        # a re-poll changes one article's counts: its facts are worked out again
        posts[1].metrics = {"reposts": 5000, "comments": 300, "followers": 100000}
        s.commit()
        after = service._story_facts(s, story, ctx, now)
        assert after == _afresh(s, story, ctx, now)
        assert [f.reposts for f in after.articles] == [0, 5000, 20]

        # the story grows
        service._story_facts(s, story, ctx, now)
        _add(s, story, 3, now, {"reposts": 7})
        grown = service._story_facts(s, story, ctx, now)
        assert grown == _afresh(s, story, ctx, now) and len(grown.articles) == 4

        # another risk context (a configuration reload) starts afresh
        other = RiskContext(org=org, config=RiskConfig(), authorities={"weibo": "central_media"})
        assert {f.authority for f in service._story_facts(s, story, other, now).articles} == {"central_media"}
