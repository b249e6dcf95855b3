"""``incidents.queries.incidents_facts`` reads the level history, reports, leadership acknowledgements and reviews of
several incidents in one query (a tagged UNION ALL, docs/benchmarks.md, API throughput, fifth round): each
incident's facts must be what ``incident_facts_from`` builds from that incident's own records read one kind at a
time — with the records of three incidents interleaved in time and in id, an incident with none, and records out
of time order — on both databases. The incident list answers with those facts' clocks: they must match too."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incidents import queries as incident_queries
from incidents import regulators
from incidents.models import IncidentReport, IncidentReview, LeadershipAcknowledgement, TimelineEvent

BOTH_DATABASES = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                         indirect=True)


@BOTH_DATABASES
def test_several_incidents_facts_in_one_query_are_each_incident_s_own(client, make, session, clock, users,
                                                                      token_for):
    now = clock.now()
    t0 = now - timedelta(hours=30)
    incidents = [make.incident(level=level, at=t0 + timedelta(minutes=n))
                 for n, level in enumerate(["III", "II", "IV"])]
    a, b, quiet = incidents
    # interleaved: a's and b's records alternate in id, and each has one recorded after a later one in time
    for minutes, who, data in [(90, a, {"from": "II", "to": "I"}), (80, b, {"from": "II", "to": "I"}),
                               (60, a, {"from": "III", "to": "II"}), (50, b, {"to": "III"})]:
        session.add(TimelineEvent(incident_id=who.id, at=t0 + timedelta(minutes=minutes), kind="level_changed",
                                  actor="system", text="", data=data))
        session.add(TimelineEvent(incident_id=who.id, at=t0 + timedelta(minutes=minutes + 1), kind="note",
                                  actor="system", text="", data={}))
    for n, (who, kind) in enumerate([(b, "initial"), (a, "initial"), (a, "follow_up"), (b, "final"),
                                     (a, "final")]):
        session.add(IncidentReport(incident_id=who.id, kind=kind, version=n + 1, level="II", text="报告",
                                   author="liuqiang", filed_at=t0 + timedelta(hours=6 - n)))
    for who, hours in [(a, 2), (b, 1), (a, 1)]:
        session.add(LeadershipAcknowledgement(incident_id=who.id, leader_id="chenjing", level="II", note="",
                                              at=t0 + timedelta(hours=hours)))
    for who, hours in [(b, 20), (a, 22)]:
        session.add(IncidentReview(incident_id=who.id, author="liuqiang", filed_at=t0 + timedelta(hours=hours),
                                   closed_at=t0 + timedelta(hours=19), text="复盘", went_well="", went_badly=""))
    session.commit()
    session.expire_all()
    loaded = [session.get(type(a), i.id) for i in incidents]

    together = incident_queries.incidents_facts(session, loaded)
    for incident in loaded:
        own = incident_queries.incident_facts_from(
            incident, reports=incident_queries.reports_of(session, incident.id),
            acks=incident_queries.leadership_acks_of(session, incident.id),
            reviews=incident_queries.reviews_of(session, incident.id),
            regulator_reports=regulators.reports_of(session, incident.id))
        assert together[incident.id] == own, incident.id
    assert [level for level, _ in together[a.id].level_history] == ["III", "II", "I"]
    assert together[b.id].reports["leadership_notice"] == [t0 + timedelta(hours=1)]
    assert together[quiet.id].reports == {} and len(together[quiet.id].level_history) == 1

    # the list's clocks come from these facts: each row's are the incident page's
    listed = client.get("/api/v1/incidents", params={"limit": 50}, headers=token_for("wangmin")).json()["items"]
    for row in listed:
        page = client.get(f"/api/v1/incidents/{row['id']}", headers=token_for("wangmin")).json()
        assert row["clocks"] == page["clocks"], row["id"]
    assert {row["id"] for row in listed} == {i.id for i in incidents}
