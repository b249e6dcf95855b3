"""A 重要 / 紧急 complaint is reported to the unit's leadership the moment it is entered — through the API, the
dashboard form, ``yuqing complaint add`` and a crawled complaint-board post — not at the next scheduled round; and
only once: a replay under the same idempotency key, a double click and the round that runs afterwards tell nobody
again.

xinhualu's leadership: its nearest commander 刘强 (liuqiang) and the branch's 分管 leader 陈静 (chenjing); a 紧急
complaint reaches every leader of the branch (孙华, sunhua, too). The API clock stands at 2026-11-23 09:00."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from typer.testing import CliRunner

from crawlers.models import Article, Mention, Story
from incidents import scheduled
from incidents.complaints import links
from incidents.complaints.models import Complaint
from runner.cli import app as cli_app
from sentiment.models import Classification
from tests.complaints.support import local, outbox, real_policy
from tests.complaints.web import WALK_IN
from yuqing.clock import FrozenClock

POLICY = real_policy()
LEADERSHIP = "complaint_leadership"


def told(session) -> list[str]:
    session.rollback()  # see what the app committed
    return [who for who, _ in outbox(session, purpose=LEADERSHIP)]


def a_round(session, org, clock) -> None:
    """The pipeline's scheduled round, afterwards: it must not tell again."""
    scheduled.run_scheduled(session, org=org, policy=POLICY, clock=clock)
    session.commit()


def test_the_api_tells_leadership_at_entry_and_a_retry_or_the_round_does_not_again(bearer, session, org, clock):
    api = bearer("wangmin")
    body = {**WALK_IN, "channel": "hotline", "severity": "重要"}
    first = api.post("/api/v1/complaints", json=body, headers={"Idempotency-Key": "ticket-1"})
    assert first.status_code == 201, first.text
    assert told(session) == ["liuqiang", "chenjing"]
    assert [e["kind"] for e in first.json()["events"]] == ["received", "leadership_told"]
    retry = api.post("/api/v1/complaints", json=body, headers={"Idempotency-Key": "ticket-1"})
    assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
    a_round(session, org, clock)
    assert told(session) == ["liuqiang", "chenjing"]
    events = api.get(f"/api/v1/complaints/{first.json()['id']}").json()["events"]
    assert [e["kind"] for e in events].count("leadership_told") == 1
    # a 一般 complaint is not leadership's business
    assert api.post("/api/v1/complaints", json={**WALK_IN, "description": "排队时间过长"}).status_code == 201
    assert told(session) == ["liuqiang", "chenjing"]


def test_the_form_tells_leadership_of_an_urgent_complaint_once_however_often_it_is_sent(login_as, csrf_of,
                                                                                        session, org, clock):
    outlet = login_as("huangwei")
    form = outlet.get("/complaints/new").text
    key = form.split('name="idempotency_key" value="', 1)[1].split('"', 1)[0]
    data = {k: v for k, v in WALK_IN.items() if k != "severity"} | {
        "severity": "urgent", "received_at": "2026-11-23T08:30", "idempotency_key": key,
        "csrf_token": csrf_of(form)}
    first = outlet.post("/complaints", data=data)
    assert first.status_code == 303, first.text[-1500:]
    assert told(session) == ["liuqiang", "chenjing", "sunhua"]
    again = outlet.post("/complaints", data=data)  # a double click: the record made first, nobody told twice
    assert again.headers["location"].split("?")[0] == first.headers["location"].split("?")[0]
    a_round(session, org, clock)
    assert told(session) == ["liuqiang", "chenjing", "sunhua"]
    page = outlet.get(first.headers["location"]).text
    assert page.count("紧急投诉报告单位领导：已生成通知，排队发送给刘强、陈静、孙华") == 1
    assert "发送通知" not in page  # queued, not sent: the outbox records delivery


runner = CliRunner()




def test_the_cli_tells_leadership_at_entry_once(cli_db, org):
    clock = FrozenClock(local(2026, 11, 24, 23, 0))  # at night: leadership messages do not wait

    def add(*extra: str):
        return runner.invoke(cli_app, ["complaint", "add", "--unit", "xinhualu", "--channel", "letter", "--severity",
                                       "重要", "--received-at", "2026-11-24T16:00:00+08:00", "--category",
                                       "opaque_fees", "--text", "来信反映年费多收", "--idempotency-key", "letter-9",
                                       *extra], obj={"clock": clock})

    first = add()
    assert first.exit_code == 0, first.output
    assert "已生成报告单位领导的通知（重要投诉），排队发送" in first.stdout
    again = add("--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["created"] is False
    with cli_db() as s:
        assert told(s) == ["liuqiang", "chenjing"]
        a_round(s, org, clock)
        assert told(s) == ["liuqiang", "chenjing"]


def test_a_board_post_at_an_important_severity_is_told_once_across_re_polls(session_factory, org):
    policy = POLICY.model_copy(update={"complaints": POLICY.complaints.model_copy(
        update={"board_post_severity": "important"})})
    clock = FrozenClock(local(2026, 11, 24, 9, 0))
    url = "https://tousu.example/77"
    with session_factory() as s:
        story = Story(title="新华路网点乱收费", unit_id="xinhualu", first_seen_at=clock.now(),
                      last_seen_at=clock.now(), article_count=1)
        s.add(story)
        s.flush()
        a = Article(source_id="heimao", channel="complaint", url=url, url_hash=hashlib.sha256(url.encode()).hexdigest(),
                    title="示例银行新华路网点乱收费", text="办卡被收了200元年费", author="王小明",
                    published_at=local(2026, 11, 23, 21, 15), fetched_at=clock.now(), content_hash=url,
                    stage="classified", story_id=story.id, is_duplicate=False)
        s.add(a)
        s.flush()
        s.add(Mention(article_id=a.id, unit_id="xinhualu", is_primary=True, terms=["新华路网点"]))
        s.add(Classification(article_id=a.id, label="negative", negative_prob=0.9, category="opaque_fees",
                             model="test", classified_at=clock.now()))
        s.commit()
    for _ in range(2):  # polled again, restarted: one complaint, told once
        with session_factory() as s:
            links.complaints_from_board_posts(s, org=org, policy=policy, clock=clock)
            s.commit()
    with session_factory() as s:
        assert s.scalar(select(Complaint.severity)) == "important"
        assert told(s) == ["liuqiang", "chenjing"]
        scheduled.run_scheduled(s, org=org, policy=policy, clock=clock)
        s.commit()
        assert told(s) == ["liuqiang", "chenjing"]
