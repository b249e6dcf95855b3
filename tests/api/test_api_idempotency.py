"""Idempotency-Key on the API's creates: a retry gets the first answer and acts once; the same key with another
request is 409; a refused request frees its key; keys are per caller."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.models import IdempotencyRecord
from incidents.models import Incident, IncidentReport, Statement

BOTH_DATABASES = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                         indirect=True)


def count(session, model, **where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).filter_by(**where)) or 0


@BOTH_DATABASES
def test_a_retried_report_is_filed_once_and_answers_the_first_result(client, make, token_for, session):
    incident = make.incident(unit_id="xinhualu", status="responding")
    make.session.commit()
    h = {**token_for("liuqiang"), "Idempotency-Key": "ticket-4711"}
    body = {"kind": "initial", "text": "初报：新华路网点排队情况已核实。"}
    first = client.post(f"/api/v1/incidents/{incident.id}/reports", json=body, headers=h)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    again = client.post(f"/api/v1/incidents/{incident.id}/reports", json=body, headers=h)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert count(session, IncidentReport, incident_id=incident.id) == 1

    other = client.post(f"/api/v1/incidents/{incident.id}/reports", json={**body, "text": "另一份初报"}, headers=h)
    assert other.status_code == 409 and "幂等键" in other.json()["detail"]
    assert count(session, IncidentReport, incident_id=incident.id) == 1

    # another caller's identical key is another request
    chenjing = {**token_for("chenjing"), "Idempotency-Key": "ticket-4711"}
    follow = client.post(f"/api/v1/incidents/{incident.id}/reports", json={"kind": "follow_up", "text": "续报"},
                         headers=chenjing)
    assert follow.status_code == 200 and "idempotent-replayed" not in follow.headers
    assert count(session, IncidentReport, incident_id=incident.id) == 2


def test_a_refused_request_frees_its_key_and_no_key_means_no_record(client, make, token_for, session):
    incident = make.incident(unit_id="xinhualu", status="responding")
    make.session.commit()
    url = f"/api/v1/incidents/{incident.id}/reports"
    h = {**token_for("liuqiang"), "Idempotency-Key": "retry-me"}
    follow_up = {"kind": "follow_up", "text": "续报"}
    refused = client.post(url, json=follow_up, headers=h)  # a 续报 before the 初报 is refused
    assert refused.status_code == 409 and "初报" in refused.json()["detail"]
    assert count(session, IdempotencyRecord) == 0
    plain = client.post(url, json={"kind": "initial", "text": "初报"}, headers=token_for("liuqiang"))
    assert plain.status_code == 200 and count(session, IdempotencyRecord) == 0
    filed = client.post(url, json=follow_up, headers=h)  # the corrected order, the same key
    assert filed.status_code == 200 and "idempotent-replayed" not in filed.headers
    assert count(session, IdempotencyRecord) == 1 and count(session, IncidentReport, incident_id=incident.id) == 2


def test_opening_an_incident_and_drafting_a_statement_take_a_key(client, make, token_for, session):
    story = make.story(unit_id="xinhualu", title="新华路网点排长队")
    make.article(story=story)
    alert = make.alert(story=story)
    make.session.commit()
    h = {**token_for("liuqiang"), "Idempotency-Key": "open-1"}
    opened = client.post(f"/api/v1/alerts/{alert.id}/incident", headers=h)
    assert opened.status_code == 200, opened.text
    again = client.post(f"/api/v1/alerts/{alert.id}/incident", headers=h)
    assert again.status_code == 200 and again.json()["id"] == opened.json()["id"]
    assert count(session, Incident) == 1

    incident_id = opened.json()["id"]
    hd = {**token_for("liuqiang"), "Idempotency-Key": "draft-1"}
    body = {"kind": "holding", "text": "我行已关注到相关情况，正在核实。"}
    d1 = client.post(f"/api/v1/incidents/{incident_id}/statements", json=body, headers=hd)
    d2 = client.post(f"/api/v1/incidents/{incident_id}/statements", json=body, headers=hd)
    assert d1.status_code == d2.status_code == 200 and d1.json() == d2.json()
    assert count(session, Statement, incident_id=incident_id) == 1
    assert client.post(f"/api/v1/alerts/{alert.id}/incident", headers=hd).status_code == 409  # key of a draft


def test_a_key_is_remembered_for_a_week(client, make, token_for, session, clock):
    from datetime import timedelta

    incident = make.incident(unit_id="xinhualu", status="responding")
    make.session.commit()
    url = f"/api/v1/incidents/{incident.id}/reports"
    h = {**token_for("liuqiang"), "Idempotency-Key": "weekly"}
    assert client.post(url, json={"kind": "initial", "text": "初报"}, headers=h).status_code == 200
    clock.advance(timedelta(days=6))
    follow = {"kind": "follow_up", "text": "续报"}
    assert client.post(url, json={"kind": "initial", "text": "初报"}, headers=h).headers["idempotent-replayed"]
    clock.advance(timedelta(days=1, seconds=1))
    later = client.post(url, json=follow, headers=h)  # the key is forgotten: another request may use it
    assert later.status_code == 200 and "idempotent-replayed" not in later.headers
    assert count(session, IncidentReport, incident_id=incident.id) == 2
