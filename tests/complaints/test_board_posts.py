"""Crawled complaint-board posts that name a unit become complaints — once, whatever the re-polls and restarts — and a
complaint that goes viral is ONE case: linked to the incident its story opens, now or later."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import func, select

import incidents.playbooks  # noqa: F401  (first: incidents.service must not start its own import cycle)
from crawlers.models import Article, Mention, Story
from incidents import scheduled, service
from incidents.complaints import links
from incidents.complaints.clocks import deadlines
from incidents.complaints.models import Complaint, ComplaintEvent
from incidents.complaints.queries import complaint_view
from incidents.models import Incident
from sentiment.models import Classification, StoryRisk
from tests.complaints.support import local, real_policy
from yuqing.clock import FrozenClock

POLICY = real_policy()
PUBLISHED = local(2026, 11, 23, 21, 15)


def post(s, clock, *, url: str, channel: str = "complaint", unit: str | None = "xinhualu", stage: str = "classified",
         story: Story | None = None, duplicate: bool = False) -> Article:
    """A post as the crawler, matcher and classifier leave it (the contract of those stages)."""
    now = clock.now()
    if story is None:
        story = Story(title="新华路网点乱收费", unit_id=unit, first_seen_at=now, last_seen_at=now, article_count=1)
        s.add(story)
        s.flush()
    a = Article(source_id="heimao", channel=channel, url=url, url_hash=hashlib.sha256(url.encode()).hexdigest(),
                title="示例银行新华路网点乱收费", text="办卡被收了200元年费，柜员说不清楚，电话13912345678",
                author="王小明", published_at=PUBLISHED, fetched_at=now, content_hash=url, stage=stage,
                story_id=story.id, is_duplicate=duplicate)
    s.add(a)
    s.flush()
    if unit is not None:
        s.add(Mention(article_id=a.id, unit_id=unit, is_primary=True, terms=["新华路网点"]))
    s.add(Classification(article_id=a.id, label="negative", negative_prob=0.9, category="opaque_fees",
                         model="test", classified_at=now))
    s.flush()
    return a


def board_round(session_factory, org, clock) -> int:
    """The pipeline's board-post stage in a fresh session (as after a restart), committed."""
    with session_factory() as s:
        made = links.complaints_from_board_posts(s, org=org, policy=POLICY, clock=clock)
        s.commit()
        return made


def test_a_board_post_naming_a_unit_becomes_one_complaint_however_often_it_is_polled(session_factory, org):
    clock = FrozenClock(local(2026, 11, 24, 9, 0))
    with session_factory() as s:
        a = post(s, clock, url="https://tousu.example/1")
        post(s, clock, url="https://tousu.example/2", unit=None)  # names no unit of the bank
        post(s, clock, url="https://tousu.example/3", duplicate=True)  # a near-identical copy
        post(s, clock, url="https://news.example/4", channel="news")  # not a complaint board
        post(s, clock, url="https://tousu.example/5", stage="fetched")  # not yet matched
        s.commit()
        article_id = a.id
    assert board_round(session_factory, org, clock) == 1
    assert board_round(session_factory, org, clock) == 0  # re-polled, restarted: still one
    clock.advance(timedelta(hours=1))
    assert board_round(session_factory, org, clock) == 0
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1
        c = s.scalar(select(Complaint))
        assert (c.article_id, c.channel, c.unit_id, c.category, c.severity) == \
            (article_id, "web_post", "xinhualu", "opaque_fees", "general")
        assert c.received_at == PUBLISHED  # counted from the post's publication, not from when it was crawled
        assert c.description.startswith("示例银行新华路网点乱收费\n\n办卡被收了200元年费")
        assert any(e.kind == "board_post" for e in c.events)
        view = complaint_view(c, cfg=POLICY.complaints, tz=POLICY.timezone, calendar=None, now=clock.now(),
                              reveal=False)
        assert view["customer"]["name"] != "王小明" and "王" in view["customer"]["name"]  # masked as usual


def test_a_viral_complaint_is_one_case_with_the_incident_its_story_opens(session_factory, org):
    clock = FrozenClock(local(2026, 11, 24, 9, 0))
    with session_factory() as s:
        story_id = post(s, clock, url="https://tousu.example/viral").story_id
        s.commit()
    board_round(session_factory, org, clock)
    # the story spreads: reposts on Weibo, the risk reaches level II and the pipeline opens the incident
    clock.advance(timedelta(hours=5))
    with session_factory() as s:
        risk = StoryRisk(story_id=story_id, computed_at=clock.now(), score=70, level="II", category="opaque_fees",
                         factors={})
        s.add(risk)
        s.flush()
        incident_id = service.handle_story_risk(s, story_risk=risk, org=org, policy=POLICY, clock=clock).incident_id
        s.commit()
    with session_factory() as s:
        scheduled.run_scheduled(s, org=org, policy=POLICY, clock=clock)
        s.commit()
    with session_factory() as s:
        c = s.scalar(select(Complaint))
        incident = s.get(Incident, incident_id)
        assert c.incident_id == incident_id  # one case
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
        linked = [e for e in incident.events if e.kind == "complaint_linked"]
        assert len(linked) == 1 and c.number in linked[0].text
        due = deadlines(c.received_at, c.severity, POLICY.complaints, tz=POLICY.timezone)
        contact = next(t for t in incident.tasks if t.key == "contact_complainant")
        assert contact.due_at == due["contact"]  # 48 h from the post: 25 Nov 21:15
        assert any(e.kind == "incident_linked" for e in s.scalars(select(ComplaintEvent)))

    # a second complaint post joining the story after the incident opened is linked at once
    with session_factory() as s:
        story = s.get(Story, story_id)
        post(s, clock, url="https://tousu.example/viral-2", story=story)
        s.commit()
    board_round(session_factory, org, clock)
    with session_factory() as s:
        assert sorted(c.incident_id for c in s.scalars(select(Complaint))) == [incident_id, incident_id]
