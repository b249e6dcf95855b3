"""Several playbooks on one incident, on SQLite and PostgreSQL: the union of every matching checklist without a
duplicate step, the stricter deadline and the higher-priority owner, a playbook joining when the story reaches a new
channel or the level rises (with the reason on the timeline), and complaint deadlines counted from the first post."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crawlers.models import Article, Story
from incidents import flows, playbooks, service
from incidents.clocks import add_working_days, policy_calendar
from incidents.models import Incident, TaskStatus, TimelineEvent
from incidents.policy import Playbook
from sentiment.models import StoryRisk
from yuqing.models import AuditEntry

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Asia/Shanghai: the conftest clock's start
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def session(session_factory):
    with session_factory() as s:
        yield s


def post(session, story: Story, channel: str, published: datetime | None, now: datetime) -> None:
    url = f"https://{channel}.example/{story.id}/{session.scalar(select(Article.id).order_by(Article.id.desc()))}"
    digest = hashlib.sha256(url.encode()).hexdigest()
    session.add(Article(source_id=channel, channel=channel, url=url, url_hash=digest, title=story.title,
                        text=story.title, fetched_at=now, published_at=published, content_hash=digest,
                        story_id=story.id, stage="scored"))
    session.flush()


def risk(session, story: Story, clock, *, level: str, category: str):
    r = StoryRisk(story_id=story.id, computed_at=clock.now(), score=70, level=level, category=category, factors={})
    session.add(r)
    session.flush()
    return r


def open_case(session, org, policy, clock, *, channels: dict[str, datetime | None], level: str = "II",
              category: str = "service_attitude") -> tuple[Incident, Story]:
    now = clock.now()
    story = Story(title="示例银行新华路网点拒绝客户取款", unit_id="xinhualu", first_seen_at=now, last_seen_at=now,
                  article_count=len(channels))
    session.add(story)
    session.flush()
    for channel, published in channels.items():
        post(session, story, channel, published, now)
    out = service.handle_story_risk(session, story_risk=risk(session, story, clock, level=level, category=category),
                                    org=org, policy=policy, clock=clock)
    return session.get(Incident, out.incident_id), story


def tasks(incident: Incident) -> dict:
    return {t.key: t for t in incident.tasks}


def events(session, incident, kind):
    return list(session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id,
                                                            TimelineEvent.kind == kind)))


def test_a_complaint_a_media_exposure_and_a_rumour_get_the_union_without_duplicate_steps(
        session, org, policy, clock):
    posted = START - timedelta(hours=3)
    incident, _ = open_case(session, org, policy, clock, category="withdrawal_bank_run",
                            channels={"complaint": posted, "social": posted + timedelta(minutes=20),
                                      "news": START - timedelta(minutes=30)})
    applied = playbooks.applied_of(session, incident)
    assert [a.playbook_id for a in applied] == ["rumour_bank_run", "media_exposure", "viral_complaint"]
    assert incident.playbook == "rumour_bank_run"  # the first (highest priority) one
    assert "风险类别为存取款受限/挤兑谣言" in applied[0].reason and "新闻媒体" in applied[1].reason
    assert "涉及投诉平台" in applied[2].reason  # a complaint whatever its category
    keys = [t.key for t in incident.tasks]
    assert not [k for k, n in Counter(keys).items() if n > 1]
    expected = {s.key for pb in ("rumour_bank_run", "media_exposure", "viral_complaint")
                for s in policy.playbooks[pb].steps_for("II")}
    assert set(keys) == expected
    t = tasks(incident)
    # The same step in three playbooks: the stricter deadline (rumour: 60 min, media: 30 at II, complaint: 60 at II).
    assert t["preserve_evidence"].due_at == START + timedelta(minutes=30)
    # media's, whose deadline won
    assert t["preserve_evidence"].title == "保全证据：核对报道的系统截图与原始网页、导出证据包并记录首发来源"
    # contact_complainant: media's 24 h at level II from the opening beats the complaint rule's 48 h from the post.
    assert t["contact_complainant"].due_at == START + timedelta(hours=24)
    assert t["contact_complainant"].title == "联系当事客户，核实诉求并跟进处理"
    # register_complaint is the complaint playbook's alone: 24 h from the first post, and the note says so.
    assert t["register_complaint"].due_at == posted + timedelta(hours=24)
    assert "期限自首条帖子发布（11月23日07:00）起算" in t["register_complaint"].note
    opened = events(session, incident, "opened")[0]
    assert "谣言及挤兑风险处置清单" in opened.text and "投诉发酵处置清单" in opened.text
    assert opened.data["playbooks"] == ["rumour_bank_run", "media_exposure", "viral_complaint"]


def test_the_owner_comes_from_the_higher_priority_playbook(session, org, policy, clock):
    a = Playbook.model_validate({"id": "a", "name": "甲", "applies_to": {"categories": ["other"], "priority": 9},
                                 "steps": [{"key": "s", "title": "甲步骤", "owner_role": "commander",
                                            "due_minutes": 600}]})
    b = Playbook.model_validate({"id": "b", "name": "乙", "applies_to": {"categories": ["other"], "priority": 1},
                                 "steps": [{"key": "s", "title": "乙步骤（1小时内）", "owner_role": "monitor",
                                            "due_minutes": 60}]})
    custom = policy.model_copy(update={"playbooks": {"a": a, "b": b, "generic": policy.playbooks["generic"]}})
    [step] = playbooks.plan_steps([b, a], level="III", start=START, opened_at=START, first_published=None,
                                  policy=custom, org=org, unit_id="xinhualu")
    assert (step.owner.owner_role, step.due_at, step.title, step.playbook_id) == (
        "commander", START + timedelta(hours=1), "乙步骤（1小时内）", "b")


def test_a_complaint_channel_joining_a_media_story_adds_the_complaint_steps_and_says_why(session, org, policy,
                                                                                          clock):
    incident, story = open_case(session, org, policy, clock, level="III",
                                channels={"news": START - timedelta(minutes=40)})
    assert [a.playbook_id for a in playbooks.applied_of(session, incident)] == ["media_exposure"]
    before = {t.key for t in incident.tasks}
    clock.advance(timedelta(hours=1))
    post(session, story, "complaint", START - timedelta(hours=5), clock.now())  # an older complaint surfaces
    service.handle_story_risk(session, story_risk=risk(session, story, clock, level="III",
                                                       category="service_attitude"),
                              org=org, policy=policy, clock=clock)
    assert [a.playbook_id for a in playbooks.applied_of(session, incident)] == ["media_exposure", "viral_complaint"]
    keys = [t.key for t in incident.tasks]
    assert len(keys) == len(set(keys))
    added = set(keys) - before
    assert {"register_complaint", "public_reply", "resolve_case", "similar_complaints"} <= added
    assert "preserve_evidence" not in added and "contact_complainant" not in added
    [ev] = events(session, incident, "playbook_added")
    assert "追加处置清单“投诉发酵处置清单”（涉及投诉平台）" in ev.text and f"新增任务{len(added)}项" in ev.text
    assert ev.data["playbooks"] == ["viral_complaint"] and "complaint" in ev.data["channels"]
    # The complaint time limits count from that older post, not from the incident's opening.
    t = tasks(incident)
    assert t["register_complaint"].due_at == START - timedelta(hours=5) + timedelta(hours=24)
    assert t["resolve_case"].due_at == add_working_days(START - timedelta(hours=5), 5, "Asia/Shanghai",
                                                        calendar=policy_calendar(policy))
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "incident.playbook")) is not None
    # The next round changes nothing and says nothing.
    service.handle_story_risk(session, story_risk=risk(session, story, clock, level="III",
                                                       category="service_attitude"),
                              org=org, policy=policy, clock=clock)
    assert len(events(session, incident, "playbook_added")) == 1 and len(incident.tasks) == len(keys)


def test_a_level_rise_that_makes_another_playbook_match_adds_it_with_the_reason(session, org, policy, clock):
    severe = Playbook.model_validate({
        "id": "severe", "name": "特别重大事件处置清单", "applies_to": {"levels": ["I"], "priority": 10},
        "steps": [{"key": "crisis_group", "title": "成立应急处置领导小组", "owner_role": "commander",
                   "due_minutes": 30},
                  {"key": "preserve_evidence", "title": "保全证据：截图并保存链接（10分钟内）", "owner_role": "monitor",
                   "due_minutes": 10}]})
    custom = policy.model_copy(update={"playbooks": {**policy.playbooks, "severe": severe}})
    incident, _ = open_case(session, org, custom, clock, level="III", channels={"news": START})
    assert "severe" not in {a.playbook_id for a in playbooks.applied_of(session, incident)}
    assert tasks(incident)["preserve_evidence"].due_at == START + timedelta(hours=1)
    clock.advance(timedelta(minutes=20))
    flows.change_level(session, incident_id=incident.id, new_level="I", reason="央视报道", user_login="liuqiang",
                       org=org, policy=custom, clock=clock)
    assert "severe" in {a.playbook_id for a in playbooks.applied_of(session, incident)}
    t = tasks(incident)
    assert t["crisis_group"].due_at == clock.now() + timedelta(minutes=30)
    assert t["preserve_evidence"].due_at == clock.now() + timedelta(minutes=10)  # tightened, its title with it
    assert t["preserve_evidence"].title == "保全证据：截图并保存链接（10分钟内）"
    [ev] = events(session, incident, "level_changed")
    assert "追加处置清单“特别重大事件处置清单”" in ev.text and ev.data["playbooks_added"] == ["severe"]


def test_lowering_the_level_drops_open_steps_no_applied_playbook_has_at_that_level(session, org, policy, clock):
    incident, _ = open_case(session, org, policy, clock, level="II",
                            channels={"news": START, "complaint": START - timedelta(hours=1)})
    assert {"preliminary_solution", "regulator_report", "leadership_notice"} <= set(tasks(incident))
    clock.advance(timedelta(hours=1))
    flows.change_level(session, incident_id=incident.id, new_level="III", reason="传播回落", user_login="liuqiang",
                       org=org, policy=policy, clock=clock)
    t = tasks(incident)
    for key in ("preliminary_solution", "regulator_report", "leadership_notice"):
        assert t[key].status == TaskStatus.not_applicable and "不再适用" in t[key].note
    assert t["register_complaint"].status == TaskStatus.todo


def test_a_complaint_whose_publication_time_is_unknown_counts_from_the_opening_and_says_so(session, org, policy,
                                                                                            clock):
    incident, _ = open_case(session, org, policy, clock, level="III", channels={"complaint": None})
    t = tasks(incident)
    assert t["register_complaint"].due_at == START + timedelta(hours=24)
    assert t["register_complaint"].note == "首条帖子发布时间未知，期限自立案时起算"
    # 重要投诉 (level III): 5 working days, from Monday 10:00 to the next Monday 10:00.
    assert t["resolve_case"].due_at.astimezone(SH) == datetime(2026, 11, 30, 10, 0, tzinfo=SH)


def test_the_generic_fallback_applies_only_when_nothing_specific_matches(policy):
    assert [p.id for p in playbooks.matching(policy, categories=["regulatory_penalty"], level="II",
                                             channels=["regulator"])] == ["generic"]
    assert [p.id for p in playbooks.matching(policy, categories=["service_attitude"], level="III",
                                             channels=["social"])] == ["viral_complaint"]
    # A run rumour on social media alone is no complaint.
    assert [p.id for p in playbooks.matching(policy, categories=["withdrawal_bank_run"], level="III",
                                             channels=["social"])] == ["rumour_bank_run"]


def test_a_step_added_after_its_record_exists_is_added_done_citing_the_record(session, org, policy, clock):
    from incidents import statements as st
    from yuqing.settings import PROJECT_ROOT

    templates = st.load_templates(PROJECT_ROOT / "config" / "statements.yaml")
    incident, story = open_case(session, org, policy, clock, level="III",
                                channels={"complaint": START - timedelta(minutes=40)})
    assert "legal_review" not in tasks(incident)
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="wangmin", clock=clock)
    s = st.draft_statement(session, incident_id=incident.id, kind="holding", user_login="liuqiang", org=org,
                           templates=templates, clock=clock)
    st.edit_statement(session, statement_id=s.id, text=st.PENDING.sub("（已核实）", s.versions[0].text),
                      user_login="liuqiang", clock=clock)
    st.submit_statement(session, statement_id=s.id, user_login="liuqiang", clock=clock)
    clock.advance(timedelta(minutes=5))
    approved_at = clock.now()
    st.legal_approve(session, statement_id=s.id, user_login="qianyu", clock=clock)
    # A newspaper picks the story up: the media playbook joins, with its legal-review step.
    clock.advance(timedelta(hours=1))
    post(session, story, "news", clock.now(), clock.now())
    service.handle_story_risk(session, story_risk=risk(session, story, clock, level="III",
                                                       category="service_attitude"),
                              org=org, policy=policy, clock=clock)
    assert "media_exposure" in [a.playbook_id for a in playbooks.applied_of(session, incident)]
    legal = tasks(incident)["legal_review"]
    assert legal.status == TaskStatus.done and legal.done_by == "qianyu" and legal.done_at == approved_at
    assert "法律合规审核" in legal.note and "追加前已有记录" in legal.note
    # Steps whose record does not exist yet are added open.
    assert tasks(incident)["leadership_signoff"].status == TaskStatus.todo
