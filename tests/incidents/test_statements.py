"""Statements (口径) on SQLite and PostgreSQL: the whole workflow from a template to publication, every refusal with
the Chinese message people see, versions kept and diffed, approvals dropped by an edit, the typed timeline events
and audit entries, the checklist steps a statement completes, and the review's "time to first statement"."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crawlers.models import Article, Story
from incidents import flows, queries, service
from incidents import statements as st
from incidents.errors import IncidentError
from incidents.models import Incident, Statement, StatementVersion, TaskStatus, TimelineEvent
from sentiment.models import StoryRisk
from yuqing.clock import FrozenClock
from yuqing.errors import ConfigError
from yuqing.models import AuditEntry
from yuqing.org import OrgChart, Person, Role

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Asia/Shanghai
CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def session(session_factory):
    with session_factory() as s:
        yield s


@pytest.fixture(scope="module")
def templates() -> st.StatementTemplates:
    return st.load_templates(CONFIG / st.TEMPLATES_FILE)


def open_case(session, org, policy, clock, *, category: str = "withdrawal_bank_run", level: str = "II",
              unit_id: str = "xinhualu") -> Incident:
    now = clock.now()
    story = Story(title="示例银行新华路网点挤兑传闻", unit_id=unit_id, first_seen_at=now, last_seen_at=now,
                  article_count=1)
    session.add(story)
    session.flush()
    url = f"https://weibo.example/{story.id}"
    digest = hashlib.sha256(url.encode()).hexdigest()
    session.add(Article(source_id="weibo", channel="social", url=url, url_hash=digest, title=story.title,
                        text=story.title, fetched_at=now, published_at=now - timedelta(minutes=30),
                        content_hash=digest, story_id=story.id, stage="scored"))
    risk = StoryRisk(story_id=story.id, computed_at=now, score=75, level=level, category=category, factors={})
    session.add(risk)
    session.flush()
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    incident = session.get(Incident, out.incident_id)
    flows.acknowledge_incident(session, incident_id=incident.id, user_login="wangmin", clock=clock)
    return incident


def fill(text: str) -> str:
    """What the commander does with the draft: every 【待核实…】 replaced by a verified fact."""
    return st.PENDING.sub("（已核实）", text)


def audit_actions(session, statement_id: int) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "statement",
                                                                AuditEntry.object_id == str(statement_id))
                                .order_by(AuditEntry.id)))


def test_a_statement_runs_from_template_to_publication(session, org, policy, clock, templates):
    incident = open_case(session, org, policy, clock)
    assert queries.first_statement_at(session, incident) is None
    clock.advance(timedelta(minutes=10))
    s = st.draft_statement(session, incident_id=incident.id, kind="clarification", user_login="liuqiang", org=org,
                           templates=templates, clock=clock)
    first = s.versions[0].text
    assert s.status == "draft" and s.template_key == "bank_run_clarification" and s.current_version == 1
    assert "示例银行江城分行新华路网点" in first and "2026年11月23日" in first and "11月23日" in first
    assert first.rstrip().endswith("2026年11月23日") and "示例银行江城分行\n" in first
    assert "{" not in first and st.pending_marks(first)

    with pytest.raises(IncidentError) as refused:
        st.submit_statement(session, statement_id=s.id, user_login="liuqiang", clock=clock)
    assert "【待核实】内容未填写" in refused.value.user_message
    with pytest.raises(IncidentError) as refused:
        st.publish(session, statement_id=s.id, user_login="liuqiang", where="官方微博", clock=clock)
    assert refused.value.user_message == "口径未经领导审签，不能发布（当前状态：草稿）"
    with pytest.raises(IncidentError) as refused:
        st.legal_approve(session, statement_id=s.id, user_login="qianyu", clock=clock)
    assert "不能法律合规审核通过" in refused.value.user_message

    clock.advance(timedelta(minutes=5))
    st.edit_statement(session, statement_id=s.id, text=fill(first), user_login="liuqiang", clock=clock,
                      note="填写核实情况")
    st.submit_statement(session, statement_id=s.id, user_login="liuqiang", clock=clock)
    with pytest.raises(IncidentError) as refused:
        st.approve(session, statement_id=s.id, user_login="chenjing", org=org, clock=clock)
    assert "待法律合规审核" in refused.value.user_message  # legal first
    with pytest.raises(IncidentError) as refused:
        st.publish(session, statement_id=s.id, user_login="liuqiang", where="官方微博", clock=clock)
    assert refused.value.user_message == "口径未经领导审签，不能发布（当前状态：待法律合规审核）"
    clock.advance(timedelta(minutes=5))
    st.legal_approve(session, statement_id=s.id, user_login="qianyu", clock=clock, note="表述无法律风险")
    with pytest.raises(IncidentError) as refused:
        st.publish(session, statement_id=s.id, user_login="liuqiang", where="官方微博", clock=clock)
    assert "当前状态：待领导审签" in refused.value.user_message
    clock.advance(timedelta(minutes=5))
    st.approve(session, statement_id=s.id, user_login="chenjing", org=org, clock=clock)
    assert (s.status, s.approved_by, s.approved_version, s.legal_by, s.legal_version) == (
        "approved", "chenjing", 2, "qianyu", 2)
    tasks = {t.key: t for t in incident.tasks}
    assert tasks["leadership_signoff"].status == TaskStatus.done and tasks["leadership_signoff"].done_by == "chenjing"

    # an edit after the sign-off: a new version, the approvals of version 2 are dropped, back to draft
    clock.advance(timedelta(minutes=5))
    second = s.versions[1].text
    st.edit_statement(session, statement_id=s.id, text=second + "\n特此说明。", user_login="liuqiang", clock=clock)
    assert (s.status, s.current_version, s.approved_by, s.legal_by) == ("draft", 3, None, None)
    with pytest.raises(IncidentError) as refused:
        st.publish(session, statement_id=s.id, user_login="liuqiang", where="官方微博", clock=clock)
    assert refused.value.user_message == "口径未经领导审签，不能发布（当前状态：草稿）"
    st.submit_statement(session, statement_id=s.id, user_login="liuqiang", clock=clock)
    st.legal_approve(session, statement_id=s.id, user_login="qianyu", clock=clock)
    clock.advance(timedelta(minutes=5))
    st.approve(session, statement_id=s.id, user_login="sunhua", org=org, clock=clock)  # the 行长 signs this time
    approved_at = s.approved_at
    with pytest.raises(IncidentError) as refused:
        st.publish(session, statement_id=s.id, user_login="liuqiang", where="官方微博", clock=clock,
                   published_at=approved_at - timedelta(minutes=1))
    assert refused.value.user_message == "发布时间不能早于领导审签时间"
    with pytest.raises(IncidentError) as refused:
        st.publish(session, statement_id=s.id, user_login="liuqiang", where="官方微博", clock=clock,
                   published_at=clock.now() + timedelta(minutes=1))
    assert refused.value.user_message == "发布时间不能晚于当前时间"
    with pytest.raises(IncidentError) as refused:
        st.publish(session, statement_id=s.id, user_login="liuqiang", where="  ", clock=clock)
    assert "发布渠道" in refused.value.user_message
    with pytest.raises(IncidentError) as refused:
        st.publish(session, statement_id=s.id, user_login="liuqiang", where="官方微博", url="javascript:alert(1)",
                   clock=clock)
    assert "http" in refused.value.user_message
    clock.advance(timedelta(minutes=10))
    went_out = clock.now() - timedelta(minutes=3)
    st.publish(session, statement_id=s.id, user_login="liuqiang", where="江城分行官方微博",
               url="https://weibo.example/jcfh/1", published_at=went_out, clock=clock)
    session.commit()

    session.expire_all()
    s = session.get(Statement, s.id)
    assert (s.status, s.published_where, s.published_version, s.published_by) == (
        "published", "江城分行官方微博", 3, "liuqiang")
    assert s.published_at == went_out and queries.first_statement_at(session, incident) == went_out
    tasks = {t.key: t for t in session.get(Incident, incident.id).tasks}
    assert tasks["official_clarification"].status == TaskStatus.done
    with pytest.raises(IncidentError) as refused:
        st.edit_statement(session, statement_id=s.id, text="更正", user_login="liuqiang", clock=clock)
    assert "已发布的口径不能修改" in refused.value.user_message
    with pytest.raises(IncidentError) as refused:
        st.publish(session, statement_id=s.id, user_login="liuqiang", where="官方网站", clock=clock)
    assert refused.value.user_message == "该口径已登记发布"

    # every version kept as written; approvals and the drop on the record
    versions = session.scalars(select(StatementVersion).where(StatementVersion.statement_id == s.id)
                               .order_by(StatementVersion.number)).all()
    assert [v.number for v in versions] == [1, 2, 3]
    assert versions[0].text == first and versions[1].text == fill(first) and versions[2].text.endswith("特此说明。")
    assert versions[0].note.startswith("由模板") and versions[1].note == "填写核实情况"
    assert [d.action for d in s.decisions] == [
        "submitted", "legal_approved", "approved", "approvals_dropped", "submitted", "legal_approved", "approved",
        "published"]
    dropped = s.decisions[3]
    assert dropped.version == 2 and "法律合规审核" in dropped.note and "领导审签" in dropped.note
    assert [d.actor for d in s.decisions if d.action == "approved"] == ["chenjing", "sunhua"]
    assert audit_actions(session, s.id) == [
        "statement.draft", "statement.edit", "statement.submit", "statement.legal_approve", "statement.approve",
        "statement.edit", "statement.submit", "statement.legal_approve", "statement.approve", "statement.publish"]
    kinds = [e.kind for e in session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
                                              .order_by(TimelineEvent.id)) if e.kind.startswith("statement_")]
    assert kinds == ["statement_drafted", "statement_edited", "statement_submitted", "statement_legal_approved",
                     "statement_approved", "statement_edited", "statement_submitted", "statement_legal_approved",
                     "statement_approved", "statement_published"]

    # the diff between any two versions: line level, changed lines character by character
    rows = st.diff_versions(s, 1, 2)
    changed = [r for r in rows if r.op == "~"]
    assert changed and all(r.op in " ~" for r in rows)
    old_lines, new_lines = versions[0].text.splitlines(), versions[1].text.splitlines()
    for r in changed:  # each changed line reads as the old line without insertions and the new without deletions
        assert "".join(t for op, t in r.segments if op != "insert") in old_lines
        assert "".join(t for op, t in r.segments if op != "delete") in new_lines
    assert any(op == "delete" and "客服电话" in t for r in changed for op, t in r.segments)
    assert any(op == "insert" and "已" in t for r in changed for op, t in r.segments)
    rows = st.diff_versions(s, 2, 3)
    assert [r.segments for r in rows if r.op == "+"] == [(("insert", "特此说明。"),)]
    assert "+特此说明。" in st.unified_diff(s, 2, 3) and "--- 第2版" in st.unified_diff(s, 2, 3)
    assert st.diff_versions(s, 3, 3) == [st.DiffRow(" ", (("equal", line),)) for line in versions[2].text.splitlines()]

    # the review measures the time to the first statement from the alert
    flows.close_incident(session, incident_id=incident.id, user_login="liuqiang", summary="谣言已澄清", clock=clock)
    clock.advance(timedelta(hours=1))
    review = flows.review_incident(session, incident_id=incident.id, user_login="liuqiang", text="复盘", clock=clock)
    assert review.seconds_to_statement == int((went_out - START).total_seconds())
    with pytest.raises(IncidentError) as refused:  # a reviewed case's statements are closed too
        st.draft_statement(session, incident_id=incident.id, kind="holding", user_login="liuqiang", org=org,
                           templates=templates, clock=clock)
    assert "已复盘" in refused.value.user_message


def test_sign_off_only_by_a_leader_of_the_incidents_chain(session, org, policy, clock, templates):
    other = Person(id="binjiang-boss", name="滨江支行行长", unit="binjiang", roles=[Role.leader])
    sub = Person(id="gml-boss", name="光明路支行行长", unit="guangminglu", roles=[Role.leader])
    chart = OrgChart.model_validate({**org.model_dump(), "people": [*org.model_dump()["people"],
                                                                     other.model_dump(), sub.model_dump()]})
    incident = open_case(session, chart, policy, clock)
    assert st.chain_leaders(chart, "xinhualu") == ["chenjing", "sunhua", "gml-boss"]
    assert "binjiang-boss" not in st.chain_leaders(chart, "xinhualu")
    s = st.draft_statement(session, incident_id=incident.id, kind="holding", user_login="liuqiang", org=chart,
                           templates=None, text="我行已关注到相关信息，正在核实。", clock=clock)
    assert s.template_key is None and s.versions[0].note == ""
    st.submit_statement(session, statement_id=s.id, user_login="liuqiang", clock=clock)
    st.legal_approve(session, statement_id=s.id, user_login="qianyu", clock=clock)
    for login in ("binjiang-boss", "liuqiang", "qianyu"):  # out of the chain, or not a leader at all
        with pytest.raises(IncidentError) as refused:
            st.approve(session, statement_id=s.id, user_login=login, org=chart, clock=clock)
        assert refused.value.code == "forbidden"
        assert refused.value.user_message.startswith("只有本事件所属单位及上级单位的领导可以审签口径")
        assert "陈静" in refused.value.user_message and "光明路支行行长" in refused.value.user_message
    with pytest.raises(IncidentError) as refused:  # nor may they send it back
        st.request_changes(session, statement_id=s.id, user_login="binjiang-boss", roles=["leader"], org=chart,
                           reason="不同意", clock=clock)
    assert refused.value.code == "forbidden"
    with pytest.raises(IncidentError) as refused:  # legal has passed it: only a leader may return it now
        st.request_changes(session, statement_id=s.id, user_login="qianyu", roles=["legal"], org=chart,
                           reason="再看看", clock=clock)
    assert refused.value.user_message == "法律合规审核已通过，此时只能由领导退回修改"
    with pytest.raises(IncidentError) as refused:
        st.request_changes(session, statement_id=s.id, user_login="gml-boss", roles=["leader"], org=chart,
                           reason="  ", clock=clock)
    assert refused.value.user_message == "退回修改必须填写原因"
    st.request_changes(session, statement_id=s.id, user_login="gml-boss", roles=["leader"], org=chart,
                       reason="请补充网点营业时间", clock=clock)
    assert (s.status, s.legal_by, s.approved_by) == ("draft", None, None)
    assert s.decisions[-1].action == "changes_requested" and s.decisions[-1].note == "请补充网点营业时间"
    event = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "statement_changes_requested")).one()
    assert "请补充网点营业时间" in event.text and event.actor == "gml-boss"
    with pytest.raises(IncidentError) as refused:  # unchanged text is not a new version
        st.edit_statement(session, statement_id=s.id, text="我行已关注到相关信息，正在核实。", user_login="liuqiang",
                          clock=clock)
    assert refused.value.user_message == "口径内容没有变化，未生成新版本"
    st.edit_statement(session, statement_id=s.id, text="我行已关注到相关信息，正在核实。网点正常营业。",
                      user_login="liuqiang", clock=clock)
    st.submit_statement(session, statement_id=s.id, user_login="liuqiang", clock=clock)
    st.request_changes(session, statement_id=s.id, user_login="qianyu", roles=["legal"], org=chart,
                       reason="“正常营业”请注明时间", clock=clock)
    assert s.status == "draft" and audit_actions(session, s.id)[-1] == "statement.request_changes"
    session.commit()


def test_roles_and_forms_follow_the_table(session, org, policy, clock):
    incident = open_case(session, org, policy, clock)
    assert st.may(["commander"], st.StatementAction.draft) and not st.may(["monitor"], st.StatementAction.draft)
    legal = st.StatementAction.legal_approve
    assert st.may(["legal"], legal) and not st.may(["leader"], legal)
    assert not st.may(["commander"], st.StatementAction.approve) and st.may(["leader"], st.StatementAction.approve)
    assert st.may_act(["commander"], "liuqiang", st.StatementAction.draft, None, org=org, incident=incident)
    s = st.draft_statement(session, incident_id=incident.id, kind="apology", user_login="liuqiang", org=org,
                           templates=None, text="致歉", clock=clock)
    assert not st.may_act(["legal"], "qianyu", st.StatementAction.legal_approve, s, org=org, incident=incident)
    assert st.role_names(st.StatementAction.request_changes) == "分行领导、法律合规"
    with pytest.raises(IncidentError) as refused:
        st.draft_statement(session, incident_id=incident.id, kind="poem", user_login="liuqiang", org=org,
                           templates=None, text="x", clock=clock)
    assert refused.value.code == "bad_request"


def test_every_category_and_kind_has_a_template_that_fills_in(org, templates):
    from yuqing.categories import CATEGORIES

    incident = Incident(id=1, number="YQ-1", title="t", unit_id="kejiyuan", level="III", category="other",
                        playbook="generic", opened_at=START)
    values = st.template_values(org, incident, now=START + timedelta(days=1), tz="Asia/Shanghai")
    assert values == {"bank": "示例银行", "branch": "示例银行江城分行", "unit": "示例银行江城分行科技园网点",
                      "unit_short": "科技园网点", "event_date": "11月23日", "date": "2026年11月24日"}
    for category in CATEGORIES:
        for kind in st.StatementKind:
            t = templates.find(category, kind)
            text = st.render_template(t, values)
            assert t.kind == kind and t.category in (category, "default")
            assert "{" not in text and "}" not in text and st.pending_marks(text), (category, kind)
            assert len(text) < 600, f"{t.key}: a statement should be short"
            for promise in ("赔偿", "补偿", "开除", "免职", "保证", "承诺"):
                assert promise not in text, f"{t.key} promises {promise}"


@pytest.mark.parametrize(("yaml_text", "field", "reason"), [
    ("templates:\n  - {key: a, category: default, kind: holding, title: t, text: '{nope}'}\n"
     "  - {key: b, category: default, kind: clarification, title: t, text: x}\n"
     "  - {key: c, category: default, kind: apology, title: t, text: x}\n",
     "templates.0.text", "unknown placeholder(s) {nope}"),
    ("templates:\n  - {key: a, category: weather, kind: holding, title: t, text: x}\n",
     "templates.0.category", "unknown category 'weather'"),
    ("templates:\n  - {key: a, category: default, kind: poem, title: t, text: x}\n", "templates.0.kind", "holding"),
    ("templates:\n  - {key: a, category: default, kind: holding, title: t, text: x}\n",
     "templates", "no 'default' template for kind(s) clarification, apology"),
    ("templates:\n  - {key: a, category: default, kind: holding, title: t, text: x, tone: warm}\n",
     "templates.0.tone", "Extra inputs"),
])
def test_template_errors_name_the_file_and_the_field(tmp_path, yaml_text, field, reason):
    path = tmp_path / "statements.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        st.load_templates(path)
    message = str(err.value)
    assert str(path) in message and field in message and reason in message, message
