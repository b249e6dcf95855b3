"""话题详情 (/stories/{id}): copies by sub-thread, first source, spread, risk history and why, evidence, the alert
and incident — opened from the mentions page, scoped like the story API, crawled text escaped."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from crawlers.models import ArticleCapture, ArticleMetricSample
from crawlers.search_index import index_pending


def _story(make, session, clock):
    now = clock.now()
    story = make.story(title="新华路网点取现难")
    root = make.article(story=story, title="新华路网点取不出钱", text="原帖：排队两小时取现失败。",
                        at=now - timedelta(hours=6), channel="social", source_id="weibo")
    repost = make.article(story=story, title="转发：新华路网点取不出钱", text="转发", label="neutral",
                          negative_prob=0.1, at=now - timedelta(hours=5), channel="social", source_id="weibo")
    media = make.article(story=story, title="江城晚报：新华路网点回应", text="网点称系统升级导致。",
                         at=now - timedelta(hours=2))
    root.meta = {"match": {"thread_id": root.id}}
    repost.meta = {"match": {"thread_id": root.id}}
    media.meta = {"match": {"thread_id": media.id}}
    make.story_risk(story=story, at=now - timedelta(hours=5), score=41.0, level="III")
    make.story_risk(story=story, at=now - timedelta(hours=1), score=83.0, level="I")
    incident = make.incident(story=story, level="I")
    make.alert(story=story, level="I", status="acknowledged", incident=incident)
    session.add(ArticleMetricSample(article_id=root.id, observed_at=now - timedelta(hours=4), reposts=100,
                                    comments=20, likes=30))
    session.add(ArticleMetricSample(article_id=root.id, observed_at=now - timedelta(hours=1), reposts=900,
                                    comments=80, likes=300))
    body = b"<html>captured</html>"
    session.add(ArticleCapture(article_id=root.id, url="https://weibo.example/p/1", fetched_at=now - timedelta(hours=6),
                               status=200, headers={}, sha256=hashlib.sha256(body).hexdigest(), size=len(body),
                               stored_sha256=hashlib.sha256(body).hexdigest(), stored_size=len(body), body=b"x"))
    session.commit()
    return story, root, repost, media, incident


def test_the_story_page_shows_threads_first_source_spread_risk_evidence_and_handling(login_as, make, session,
                                                                                     clock):
    story, root, repost, media, incident = _story(make, session, clock)
    html = login_as("wangmin").get(f"/stories/{story.id}").text
    assert "<h1>新华路网点取现难</h1>" in html
    threads = html[html.index('id="articles"'):html.index('id="evidence"')]
    assert threads.count('class="thread"') == 2
    first_thread = threads[threads.index("分支 1"):threads.index("分支 2")]
    assert f'id="article-{root.id}"' in first_thread and f'id="article-{repost.id}"' in first_thread
    assert f'id="article-{media.id}"' not in first_thread
    assert "首发" in first_thread and f'<li id="article-{root.id}" class="first-source">' in first_thread
    assert "首发来源</dt><dd>微博（社交媒体）" in html
    repost_item = threads[threads.index(f'id="article-{repost.id}"'):]
    assert "本条倾向：<span class=\"sentiment sentiment-neutral\">中性</span>" in repost_item[:600]
    risk = html[html.index('id="risk"'):html.index('id="articles"')]
    assert "83.0" in risk and "41.0" in risk and "负面程度" in risk  # history and the "why" factors
    assert risk.index("83.0") < risk.index("41.0")  # newest first
    spread = html[html.index('id="spread"'):html.index('id="risk"')]
    assert "<svg" in spread and "新增报道 3 条，互动量峰值 1280" in spread
    evidence = html[html.index('id="evidence"'):]
    assert 'href="https://weibo.example/p/1"' in evidence and "21 字节" in evidence
    assert f'href="/incidents/{incident.id}"' in html and "/alerts#alert-" in html


def test_the_mentions_page_links_each_row_to_its_story(login_as, make, session, clock):
    story, *_ = _story(make, session, clock)
    index_pending(session, clock=clock)
    c = login_as("wangmin")
    html = c.get("/mentions", params={"q": "取不出钱"}).text
    links = set(re.findall(r'href="(/stories/\d+)"', html))
    assert links == {f"/stories/{story.id}"}
    assert c.get(links.pop()).status_code == 200


def test_scope_missing_and_unattributed_stories(login_as, make, session, clock):
    other = make.story(title="滨江花园网点排队", unit_id="binjianghuayuan")
    make.article(story=other, unit_id="binjianghuayuan", title="滨江花园网点排队")
    nobody = make.story(title="无归属话题", unit_id=None)
    session.commit()
    assert login_as("zhoufang").get(f"/stories/{other.id}").status_code == 403
    assert "滨江花园网点排队" not in login_as("zhoufang").get(f"/stories/{other.id}").text
    assert login_as("wangmin").get(f"/stories/{other.id}").status_code == 200
    assert login_as("wangmin").get(f"/stories/{nobody.id}").status_code == 403
    assert login_as("yangfan").get(f"/stories/{nobody.id}").status_code == 200
    missing = login_as("wangmin").get("/stories/2147483647")
    assert missing.status_code == 404 and "话题 2147483647 不存在" in missing.text


def test_crawled_text_on_the_story_page_is_escaped(login_as, make, session, clock):
    story = make.story(title="<script>alert(1)</script>话题")
    make.article(story=story, title="<img src=x onerror=alert(2)>", text="t", snippet="<i>x</i>",
                 url="javascript:alert(3)")
    session.commit()
    html = login_as("wangmin").get(f"/stories/{story.id}").text
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;话题" in html
    assert "<img src=x" not in html and "<i>x</i>" not in html
    assert 'href="javascript:' not in html


def test_alerts_and_incident_pages_link_the_story(login_as, make, session, clock):
    story, _root, _repost, _media, incident = _story(make, session, clock)
    open_story = make.story(title="另一话题")
    make.alert(story=open_story, level="III")
    session.commit()
    c = login_as("wangmin")
    alerts = c.get("/alerts").text
    assert f'href="/stories/{open_story.id}"' in alerts and f'href="/stories/{story.id}"' in alerts
    assert f'href="/stories/{story.id}">话题详情</a>' in c.get(f"/incidents/{incident.id}").text
