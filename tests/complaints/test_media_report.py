"""An outlet's "a journalist is asking / filming" report (before anything is published) opens the media-exposure
alert directly — through the function, ``yuqing complaint media-report`` and ``POST /api/v1/media-reports`` — and
the general office's duty desk is told at once through the normal alert path."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from crawlers.models import Article, Story
from incidents.complaints.flows import ComplaintError
from incidents.complaints.media_reports import report_media_inquiry
from incidents.models import Alert, Incident, Notification
from incidents.playbooks import applied_of
from runner.cli import app as cli_app
from tests.complaints.support import local, real_policy
from yuqing.clock import FrozenClock

POLICY = real_policy()
TEXT = "江城电视台记者在大堂拍摄排队情况，并询问理财产品亏损的客户，尚未播出"


def test_the_report_opens_the_media_exposure_alert_and_tells_the_duty_desk(session_factory, org):
    clock = FrozenClock(local(2026, 11, 24, 14, 5))
    with session_factory() as s:
        out = report_media_inquiry(s, unit_id="xinhualu", text=TEXT, actor="huangwei", org=org, policy=POLICY,
                                   clock=clock, category="product_mis_selling", idempotency_key="pad-1")
        s.commit()
        alert = s.get(Alert, out.alert_id)
        assert (alert.level, alert.unit_id, alert.category) == ("II", "xinhualu", "product_mis_selling")
        article = s.scalar(select(Article).where(Article.story_id == out.story_id))
        # an internal report (内部报告), never pretending it was crawled
        assert article.source_id == "internal_report" and article.url.startswith("internal://media_report/")
        assert article.channel == "news" and article.author == "huangwei" and article.text == TEXT
        # the duty desk of the general office is told at once (the normal alert message)
        told = {n.recipient_id for n in s.scalars(select(Notification).where(Notification.alert_id == alert.id,
                                                                             Notification.purpose == "alert"))}
        assert {"wangmin", "zhaolei"} <= told
        # level II opens the incident by policy, with the media-exposure playbook, and says who reported
        incident = s.get(Incident, out.incident_id)
        assert incident is not None and incident.level == "II"
        assert "media_exposure" in [a.playbook_id for a in applied_of(s, incident)]
        assert any(e.kind == "media_report" and e.actor == "huangwei" for e in incident.events)
        # a retry with the same key returns the same alert, opens nothing new
        again = report_media_inquiry(s, unit_id="xinhualu", text=TEXT, actor="huangwei", org=org, policy=POLICY,
                                     clock=clock, category="product_mis_selling", idempotency_key="pad-1")
        assert (again.alert_id, again.created) == (out.alert_id, False)
        # the same key with another report (here: another category) is refused, not taken as the first one
        with pytest.raises(ComplaintError) as clash:
            report_media_inquiry(s, unit_id="xinhualu", text=TEXT, actor="huangwei", org=org, policy=POLICY,
                                 clock=clock, idempotency_key="pad-1")
        assert (clash.value.code, clash.value.field) == ("conflict", "idempotency_key")
        assert s.scalar(select(func.count()).select_from(Alert)) == 1


@pytest.mark.parametrize(("kwargs", "field"), [({"unit_id": "nowhere"}, "unit_id"), ({"text": "  "}, "text"),
                                               ({"category": "gossip"}, "category")])
def test_bad_reports_are_refused_naming_the_field_and_nothing_is_saved(session_factory, org, kwargs, field):
    clock = FrozenClock(local(2026, 11, 24, 14, 5))
    with session_factory() as s:
        with pytest.raises(ComplaintError) as err:
            report_media_inquiry(s, **({"unit_id": "xinhualu", "text": TEXT} | kwargs), actor="huangwei", org=org,
                                 policy=POLICY, clock=clock)
        assert err.value.field == field and err.value.zh and err.value.en
        s.rollback()
        assert s.scalar(select(func.count()).select_from(Story)) == 0


runner = CliRunner()




def test_the_cli_reports_as_the_outlet_head_and_refuses_other_roles_and_units(cli_users_db):
    clock = FrozenClock(local(2026, 11, 24, 14, 5))

    def report(*args: str):
        return runner.invoke(cli_app, ["complaint", "media-report", *args], obj={"clock": clock})

    done = report("--unit", "xinhualu", "--text", TEXT, "--as", "huangwei", "--json")
    assert done.exit_code == 0, done.output
    record = json.loads(done.stdout)
    assert record["level"] == "II" and record["incident_number"].startswith("YQ-20261124-")
    human = report("--unit", "xinhualu", "--text", "又有自媒体在门口直播", "--as", "wangmin")
    assert human.exit_code == 0, human.output
    assert "已生成媒体曝光预警（重大" in human.stdout and "已通知综合管理部值班" in human.stdout
    legal = report("--unit", "xinhualu", "--text", TEXT, "--as", "qianyu")
    assert legal.exit_code == 1 and "无权报告媒体采访" in legal.stderr
    elsewhere = report("--unit", "guangminglu", "--text", TEXT, "--as", "huangwei")
    assert elsewhere.exit_code == 1 and "无权" in elsewhere.stderr
    empty = report("--unit", "xinhualu", "--text", " ", "--as", "huangwei")
    assert empty.exit_code == 1 and "请填写报告内容" in empty.stderr
    with cli_users_db() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 2


def test_the_cli_raises_an_incident_from_a_complaint_and_links_another(cli_users_db):
    clock = FrozenClock(local(2026, 11, 24, 14, 5))

    def cli(*args: str):
        return runner.invoke(cli_app, ["complaint", *args], obj={"clock": clock})

    def add(severity: str) -> str:
        out = cli("add", "--unit", "xinhualu", "--channel", "hotline", "--severity", severity, "--received-at",
                  "2026-11-24T13:00:00+08:00", "--category", "opaque_fees", "--text", "理财赎回被拒", "--json")
        assert out.exit_code == 0, out.output
        return str(json.loads(out.stdout)["id"])

    first, second = add("紧急"), add("一般")
    raised = cli("raise", first, "--as", "liuqiang")
    assert raised.exit_code == 0, raised.output
    assert "已立案 YQ-20261124-" in raised.stdout and "II级" in raised.stdout
    with cli_users_db() as s:
        incident_id = s.scalar(select(Incident.id))
    refused = cli("link", second, "--incident", str(incident_id), "--as", "huangwei")
    assert refused.exit_code == 1 and "无权关联事件" in refused.stderr
    linked = cli("link", second, "--incident", str(incident_id), "--as", "wangmin")
    assert linked.exit_code == 0 and "已关联事件" in linked.stdout
    shown = json.loads(cli("show", second, "--json").stdout)
    assert shown["incident_id"] == incident_id
    again = cli("raise", second, "--as", "liuqiang")
    assert again.exit_code == 1 and "已关联事件" in again.stderr


def test_the_api_opens_the_alert_once_per_key_and_refuses_in_english(bearer, session, login_as):
    outlet = bearer("huangwei")
    body = {"unit_id": "xinhualu", "text": TEXT}
    first = outlet.post("/api/v1/media-reports", json=body, headers={"Idempotency-Key": "pad-7"})
    assert first.status_code == 201, first.text
    made = first.json()
    assert made["level"] == "II" and made["incident_url"] == f"/incidents/{made['incident_id']}"
    retry = outlet.post("/api/v1/media-reports", json=body, headers={"Idempotency-Key": "pad-7"})
    assert retry.status_code == 200 and retry.json()["alert_id"] == made["alert_id"]
    other = outlet.post("/api/v1/media-reports", json={**body, "text": TEXT + "（又来了一家电视台）"},
                        headers={"Idempotency-Key": "pad-7"})
    assert other.status_code == 409 and other.json()["detail"]["field"] == "idempotency_key"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Alert)) == 1
    assert bearer("qianyu").post("/api/v1/media-reports", json=body).status_code == 403  # legal reviews statements
    assert bearer("zhoufang").post("/api/v1/media-reports",
                                   json={**body, "unit_id": "binjianghuayuan"}).status_code == 403  # not her unit
    unknown = outlet.post("/api/v1/media-reports", json={**body, "unit_id": "nowhere"})
    assert unknown.status_code == 422 and unknown.json()["detail"]["field"] == "unit_id"
    blank = outlet.post("/api/v1/media-reports", json={**body, "text": "   "})
    assert blank.status_code == 422 and blank.json()["detail"] == {
        "field": "text", "message": "text is empty: say who is asking or filming, and about what"}
    assert login_as("huangwei").post("/api/v1/media-reports", json=body).status_code == 401  # never on the cookie
    page = login_as("liuqiang").get(made["incident_url"])
    assert page.status_code == 200 and "内部报告" in page.text and 'href="internal:' not in page.text
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Alert)) == 1


def test_the_dashboard_form_reports_and_keeps_the_text_on_a_refusal(login_as, csrf_of, session):
    outlet = login_as("huangwei")
    form = outlet.get("/media-reports/new")
    assert form.status_code == 200 and 'action="/media-reports"' in form.text
    assert 'href="/media-reports/new"' in outlet.get("/complaints/new").text  # reachable from the intake form
    token, key = csrf_of(form.text), 'name="idempotency_key" value="'
    idem = form.text.split(key, 1)[1].split('"', 1)[0]
    blank = outlet.post("/media-reports", data={"csrf_token": token, "unit_id": "xinhualu", "text": "  ",
                                                "category": "other", "idempotency_key": idem})
    assert blank.status_code == 422 and "请填写报告内容" in blank.text
    typed = "<script>alert(1)</script>记者在门口拍摄"
    done = outlet.post("/media-reports", data={"csrf_token": token, "unit_id": "xinhualu", "text": typed,
                                               "category": "other", "idempotency_key": idem})
    assert done.status_code == 303 and done.headers["location"].startswith("/incidents/")
    again = outlet.post("/media-reports", data={"csrf_token": token, "unit_id": "xinhualu", "text": typed,
                                                "category": "other", "idempotency_key": idem})
    assert again.headers["location"] == done.headers["location"]  # a double click opens one alert
    page = login_as("liuqiang").get(done.headers["location"])
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert login_as("qianyu").get("/media-reports/new").status_code == 403
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Alert)) == 1
