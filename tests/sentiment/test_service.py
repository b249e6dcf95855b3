"""The sentiment stage over a real database (SQLite and PostgreSQL): classify matched articles once, score the
story, and rescore only when it spreads."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crawlers.models import Article, ArticleMetricSample, ArticleStage, Mention, Story
from sentiment.models import Classification, StoryRisk
from sentiment.risk import RiskConfig
from sentiment.rules import RuleBasedClassifier
from sentiment.service import RiskContext, classify_pending, score_stories


def _seed(session, clock) -> Story:
    now = clock.now()
    story = Story(title="新华路网点拒绝取款", unit_id="xinhualu", first_seen_at=now, last_seen_at=now,
                  article_count=2)
    session.add(story)
    session.flush()
    texts = [("complaint", "示例银行新华路网点拒绝取款，态度恶劣，太过分了", {}),
             ("social", "示例银行新华路网点不让取钱，凭什么！", {"reposts": 50, "comments": 20, "likes": 80})]
    for i, (channel, text, metrics) in enumerate(texts):
        a = Article(source_id="weibo" if channel == "social" else "complaints", channel=channel,
                    url=f"http://example.test/{i}", url_hash=f"h{i}", title="", text=text, published_at=now,
                    fetched_at=now, content_hash=f"c{i}", metrics=metrics, stage=ArticleStage.matched,
                    story_id=story.id)
        a.mentions.append(Mention(unit_id="xinhualu", is_primary=True, terms=["新华路网点"], snippet=text))
        session.add(a)
    session.commit()
    return story


def test_classify_then_score_then_rescore_on_spread(session_factory, clock, org):
    ctx = RiskContext(org=org, config=RiskConfig(), authorities={"weibo": "social", "complaints":
                                                                 "complaint_platform"})
    with session_factory() as s:
        story = _seed(s, clock)
        assert classify_pending(s, classifier=RuleBasedClassifier(), clock=clock) == 2
        assert classify_pending(s, classifier=RuleBasedClassifier(), clock=clock) == 0  # nothing twice
        labels = {c.label for c in s.scalars(select(Classification))}
        assert labels == {"negative"}
        first = score_stories(s, ctx=ctx, clock=clock)
        assert [r.story_id for r in first] == [story.id]
        assert first[0].level in {"III", "IV"} and first[0].handled_at is None
        assert set(first[0].factors) >= {"polarity", "reach", "locality"}
        assert score_stories(s, ctx=ctx, clock=clock) == []  # no change, no new row
        stages = set(s.scalars(select(Article.stage)))
        assert stages == {ArticleStage.scored}

        # the post spreads: a new metrics sample makes the story rescore higher
        clock.advance(timedelta(minutes=30))
        post = s.scalars(select(Article).where(Article.channel == "social")).one()
        post.metrics = {"reposts": 5000, "comments": 3000, "likes": 9000, "followers": 100000}
        s.add(ArticleMetricSample(article_id=post.id, observed_at=clock.now(), reposts=5000, comments=3000,
                                  likes=9000))
        s.commit()
        second = score_stories(s, ctx=ctx, clock=clock)
        assert len(second) == 1 and second[0].score > first[0].score
        assert len(s.scalars(select(StoryRisk)).all()) == 2


def test_why_this_alert_names_the_risk_words_of_a_calm_rumour(session_factory, clock, org):
    """A calmly worded run rumour the model reads neutral counts as negative by its words; the stored risk's
    polarity reason names them (read from the article's title and text by the scoring stage)."""
    ctx = RiskContext(org=org, config=RiskConfig(), authorities={"weibo": "social"})
    now = clock.now()
    with session_factory() as s:
        story = Story(title="内部消息", unit_id="xinhualu", first_seen_at=now, last_seen_at=now, article_count=1)
        s.add(story)
        s.flush()
        text = "内部消息：示例银行新华路网点现金不够，这两天都在限制取现，转给家里人"
        a = Article(source_id="weibo", channel="social", url="http://example.test/calm", url_hash="calm", title="",
                    text=text, published_at=now, fetched_at=now, content_hash="calm", stage=ArticleStage.classified,
                    metrics={"reposts": 900, "comments": 300, "likes": 500, "followers": 4000}, story_id=story.id)
        a.mentions.append(Mention(unit_id="xinhualu", is_primary=True, terms=["新华路网点"], snippet=text))
        s.add(a)
        s.flush()
        # the model's reading, fixed: neutral (the edge this test does not exercise)
        s.add(Classification(article_id=a.id, label="neutral", negative_prob=0.2, category="withdrawal_bank_run",
                             model="fixed", classified_at=now, cues=[]))
        s.commit()
        [risk] = score_stories(s, ctx=ctx, clock=clock)
        assert risk.level is not None
        assert "1 条语气平静但属高风险话题的传言或报道（含“限制取”“现金不够”），按负面计" in \
            risk.factors["polarity"]["reason"]
