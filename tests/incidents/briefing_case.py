"""A viral-complaint case built the way the pipeline leaves it, for the briefing tests: a complaint whose author
and text carry personal data, a Weibo post that spreads, reposts, a news article, a hostile post, their
classifications, the story's risk, the alert and incident (through ``incidents.service``), a level rise, a filed
初报, a published statement, a leader's acknowledgement — and, on demand, the closing and 终报."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from crawlers.models import Article, Mention, SourceState, Story
from incidents import flows, service
from incidents.models import Incident, Statement, StatementVersion
from sentiment.models import Classification, StoryRisk
from yuqing.clock import FrozenClock

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Asia/Shanghai
COMPLAINANT = "张伟明"
PHONE, ID_NUMBER, CARD = "13812345678", "420102199001011234", "6222021234567890123"
HOSTILE_TITLE = '<script>alert("x")</script><img src=x onerror=alert(1)>示例银行新华路网点'
HOSTILE_URL = "javascript:alert(document.cookie)"
COMPLAINT_TEXT = (f"投诉人：{COMPLAINANT}，手机{PHONE}，身份证号{ID_NUMBER}。"
                  "我在示例银行江城分行新华路网点取5万元现金被拒绝，"
                  f"柜员说必须提前一天预约。我的银行卡号{CARD}，卡里是我自己的钱。柜员态度恶劣，还叫保安把我父亲请出去。"
                  "请银行给个说法。")
WEIBO_TEXT = ("七旬老人在示例银行新华路网点取自己的5万元养老钱被拒，柜员说没预约不能取。"
              "老人急着交住院押金，在柜台前急得直掉眼泪。这就是银行的服务态度吗？")
NEWS_TEXT = ("本报讯 江城市民张女士反映，其父在示例银行江城分行新华路网点取款5万元时被告知需提前预约。"
             "银行方面表示，个人单笔提取5万元以上现金需提前预约，网点将加强告知解释工作。"
             "记者注意到，多家银行均有类似的大额取现预约规定。")
REPOSTS = ["取自己的钱还要预约，银行的服务态度太差了！", "老人取钱被拒，柜员说没预约不能取，太寒心了。",
           "银行的服务态度太差了，取自己的钱还这么难。", "支持老人维权，银行应该道歉。"]


@dataclass
class Case:
    incident: Incident
    story: Story
    articles: list[Article]


def make_case(session: Session, *, org, policy, clock: FrozenClock, close: bool = False) -> Case:
    """The case at START + 6 h (clock moved along); with ``close`` it is closed at +10 h (final report due)."""
    t0 = START
    story = Story(title="示例银行新华路网点不让取自己的钱，5万块说没预约就不给", unit_id="xinhualu",
                  first_seen_at=t0, last_seen_at=t0 + timedelta(hours=3), article_count=0)
    session.add(story)
    session.flush()
    arts: list[Article] = []

    def add(source: str, channel: str, minutes: int, title: str, text: str, *, author: str | None = None,
            url: str | None = None, metrics: dict | None = None, label: str = "negative",
            unit: str = "xinhualu") -> Article:
        n = len(arts) + 1
        link = url or f"https://{source}.example/post/{n}"
        a = Article(source_id=source, channel=channel, url=link, url_hash=hashlib.sha256(f"{link}{n}".encode())
                    .hexdigest(), title=title, text=text, author=author, published_at=t0 + timedelta(minutes=minutes),
                    fetched_at=t0 + timedelta(minutes=minutes + 3), content_hash=hashlib.sha256(text.encode())
                    .hexdigest(), metrics=metrics or {}, stage="scored", story_id=story.id)
        session.add(a)
        session.flush()
        session.add(Mention(article_id=a.id, unit_id=unit, is_primary=True, terms=["新华路网点"], snippet=text[:80]))
        session.add(Classification(article_id=a.id, label=label, negative_prob=0.9 if label == "negative" else 0.1,
                                   category="service_attitude", model="test", classified_at=a.fetched_at))
        arts.append(a)
        return a

    add("complaints", "complaint", 0, "示例银行新华路网点不让取自己的钱，态度极差", COMPLAINT_TEXT, author=COMPLAINANT)
    add("weibo", "social", 20, "", WEIBO_TEXT, author="江城热点", metrics={"reposts": 4454, "comments": 2117,
                                                                          "likes": 13932})
    for k, text in enumerate(REPOSTS):
        add("weibo", "social", 60 + 25 * k, "", text, author=f"网友{k}", metrics={"reposts": 10 * k, "likes": k})
    add("jcwb-rss", "news", 130, "七旬老人取5万元被拒 银行：大额取现需预约", NEWS_TEXT, author="江城晚报",
        metrics={}, label="neutral")
    add("weibo", "social", 170, HOSTILE_TITLE, HOSTILE_TITLE + "取钱太难了。", author="hostile", url=HOSTILE_URL,
        metrics={"reposts": 999, "comments": 10, "likes": 5})
    story.article_count = len(arts)
    story.first_article_id = arts[0].id
    session.add(SourceState(source_id="weibo", last_run_at=t0 + timedelta(hours=5),
                            last_success_at=t0 + timedelta(hours=5), runs=10, items_total=7))
    clock.set(t0 + timedelta(minutes=40))
    risk = StoryRisk(story_id=story.id, computed_at=clock.now(), score=66.0, level="III", category="service_attitude",
                     factors={"velocity": {"value": 0.9, "reason": "两小时内转发量增长十倍"},
                              "reach": {"value": 0.7, "reason": "作者粉丝数超过十万"},
                              "locality": {"value": 1.1, "reason": "涉及层级：网点"}})
    session.add(risk)
    session.flush()
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    incident = session.get(Incident, out.incident_id)
    clock.set(t0 + timedelta(minutes=50))
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="liuqiang", clock=clock)
    clock.set(t0 + timedelta(hours=2, minutes=30))
    flows.change_level(session, incident_id=incident.id, new_level="II", reason="省级媒体转载，传播加快",
                       user_login="liuqiang", org=org, policy=policy, clock=clock)
    clock.set(t0 + timedelta(hours=3))
    flows.file_report(session, incident_id=incident.id, kind="initial", text="初报正文", user_login="liuqiang",
                      clock=clock)
    flows.acknowledge_as_leader(session, incident_id=incident.id, user_login="chenjing", clock=clock)
    published = t0 + timedelta(hours=4)
    st = Statement(incident_id=incident.id, kind="holding", status="published", current_version=1,
                   created_by="liuqiang", created_at=published, updated_at=published, published_by="liuqiang",
                   published_at=published, published_where="江城分行官方微博", published_version=1)
    st.versions = [StatementVersion(number=1, text="我行已关注到相关情况，正在核实，将及时回应。", author="liuqiang",
                                    created_at=published)]
    session.add(st)
    clock.set(t0 + timedelta(hours=6))
    if close:
        clock.set(t0 + timedelta(hours=10))
        flows.close_incident(session, incident_id=incident.id, user_login="liuqiang",
                             summary="客户已取款，网点负责人当面致歉。", clock=clock)
        clock.set(t0 + timedelta(hours=11))
    session.commit()
    return Case(incident=incident, story=story, articles=arts)
