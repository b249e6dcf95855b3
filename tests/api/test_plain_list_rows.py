"""``/api/v1/articles`` and ``/api/v1/alerts`` read plain columns, not ORM objects (docs/benchmarks.md, API
throughput, fourth round): their items must be exactly what the object form builds — every fallback included (no
classification, no story or risk, a mention without a snippet and an article text longer than the snippet, a risk
without a level, alerts overdue, escalated, acknowledged and dismissed) — on both databases. And the incident
page's clock facts, built from the rows it shows instead of queried again, are the queried ones."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api import listings, queries, views

BOTH_DATABASES = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                         indirect=True)
LONG_TEXT = "储户反映示例银行新华路网点暂停大额取现，" * 20  # 200 characters: the snippet is its first 160


def entity_feed(session, org, unit_ids, sort):
    """The feed as the object form built it (``mention_reads`` over ``Article`` / ``Classification`` / risk)."""
    stmt, order = listings.articles(unit_ids=unit_ids, sort=sort)
    rows = session.execute(stmt.order_by(*(e.desc() if d else e.asc() for e, d in order))).all()
    best = queries.best_mentions(session, [a.id for a, _, _ in rows], unit_ids)
    return [m.model_dump(mode="json") for m in views.mention_reads(
        org, [queries.FeedRow(a, best[a.id], c, r) for a, c, r in rows if a.id in best])]


@BOTH_DATABASES
def test_the_article_feed_from_plain_rows_is_what_the_objects_gave(client, make, session, org, users, token_for,
                                                                   clock):
    now = clock.now()
    risky = make.story(unit_id="xinhualu", title="挤兑传言")
    make.story_risk(story=risky, score=81.0, level="I", at=now - timedelta(hours=1))
    unlevelled = make.story(unit_id="xinhualu", title="排队")
    make.story_risk(story=unlevelled, score=12.0, level=None, at=now - timedelta(hours=2))
    make.article(story=risky, title="新华路网点挤兑", at=now - timedelta(minutes=5))
    make.article(story=risky, title="", text=LONG_TEXT, snippet="", at=now - timedelta(minutes=6))  # no title
    make.article(story=unlevelled, title="未分类", label=None, at=now - timedelta(minutes=7))
    make.article(story=None, title="无话题", channel="social", source_id="weibo-like", negative_prob=0.2,
                 label="neutral", category="other", at=now - timedelta(minutes=8))
    make.article(story=None, title="别的网点", unit_id="guangminglu", at=now - timedelta(minutes=9))
    make.session.commit()
    for login in ("wangmin", "huangwei"):  # the whole bank, and a liaison of 新华路 (not 光明路)
        principal_units = _units(client, token_for(login))
        for sort in ("time", "risk", "negative"):
            got = client.get("/api/v1/articles", params={"sort": sort, "limit": 50}, headers=token_for(login))
            assert got.status_code == 200, got.text
            assert got.json()["items"] == entity_feed(session, org, principal_units, sort), (login, sort)
    snippets = {i["title"]: i["snippet"] for i in client.get("/api/v1/articles", headers=token_for("wangmin"))
                .json()["items"]}
    assert snippets["（无标题）"] == LONG_TEXT[:160]  # the mention had none: the text's first 160 characters


@BOTH_DATABASES
def test_the_alert_list_from_plain_rows_is_what_the_objects_gave(client, make, session, org, users, token_for,
                                                                 clock):
    from incidents.models import Alert

    now = clock.now()
    for n, (status, ack_in, step) in enumerate([("open", timedelta(minutes=15), 0), ("open", -timedelta(minutes=1), 0),
                                                ("open", timedelta(minutes=30), 2), ("acknowledged", timedelta(0), 0),
                                                ("dismissed", timedelta(0), 0)]):
        story = make.story(unit_id="xinhualu" if n % 2 else "guangminglu", title=f"预警{n}")
        alert = make.alert(story=story, status=status, ack_in=ack_in, at=now - timedelta(minutes=n))
        alert.escalation_step = step
        if status == "acknowledged":
            alert.acknowledged_at, alert.acknowledged_by = now, "wangmin"
        if status == "dismissed":
            alert.dismissed_at, alert.dismissed_by, alert.dismissed_reason = now, "wangmin", "误报"
    make.session.commit()
    for sort in ("urgent", "time", "risk"):
        got = client.get("/api/v1/alerts", params={"sort": sort, "limit": 50}, headers=token_for("wangmin"))
        assert got.status_code == 200, got.text
        by_id = {a.id: a for a in session.query(Alert)}
        expected = [views.alert_read(org, by_id[i["id"]], now).model_dump(mode="json") for i in got.json()["items"]]
        assert got.json()["items"] == expected and len(expected) == 5, sort


def _units(client, headers) -> frozenset[str]:
    """The caller's unit scope as the API works it out from the token (``api.users.scope_unit_ids``)."""
    from api import users as api_users

    app = client.app
    with app.state.session_factory() as s:
        owner = api_users.user_for_token(s, token=headers["Authorization"].split(" ", 1)[1], clock=app.state.clock)
        assert owner is not None
        return api_users.scope_unit_ids(app.state.org, unit_id=owner.unit_id, roles=[str(r) for r in owner.roles])


@BOTH_DATABASES
def test_the_incident_page_s_clock_facts_from_its_own_rows_are_the_queried_facts(make, session, clock):
    """``incidents.queries.incident_facts_from`` (the incident page: facts from the records it shows) gives what
    ``incident_facts`` queries — level changes out of order, reports of every kind, acknowledgements, reviews and
    two reports to the same authority (the first one counts) included."""
    from incidents import queries as incident_queries
    from incidents import regulators
    from incidents.models import (
        IncidentReport,
        IncidentReview,
        LeadershipAcknowledgement,
        RegulatorReport,
        TimelineEvent,
    )

    now = clock.now()
    t0 = now - timedelta(hours=30)
    incident = make.incident(level="III", at=t0)
    # a level change recorded after a later one (ids out of time order), and a note that is not history
    for minutes, data, kind in [(90, {"from": "II", "to": "I"}, "level_changed"),
                                (60, {"from": "III", "to": "II"}, "level_changed"), (70, {}, "note")]:
        session.add(TimelineEvent(incident_id=incident.id, at=t0 + timedelta(minutes=minutes), kind=kind,
                                  actor="system", text="", data=data))
    for n, kind in enumerate(["initial", "follow_up", "follow_up", "final"]):
        session.add(IncidentReport(incident_id=incident.id, kind=kind, version=n + 1, level="II", text="报告",
                                   author="liuqiang", filed_at=t0 + timedelta(hours=2 + n)))
    session.add(LeadershipAcknowledgement(incident_id=incident.id, leader_id="chenjing", level="II", note="",
                                          at=t0 + timedelta(hours=1)))
    session.add(IncidentReview(incident_id=incident.id, author="liuqiang", filed_at=t0 + timedelta(hours=20),
                               closed_at=t0 + timedelta(hours=19), text="复盘", went_well="", went_badly=""))
    for hours in (5, 3):  # recorded later but earlier in time: the clock stops at the earlier one
        session.add(RegulatorReport(incident_id=incident.id, kind="regulator_report", recipient_name="监管部门",
                                    method="phone", reference="", text="报告", level="II", reported_by="liuqiang",
                                    reported_at=t0 + timedelta(hours=hours)))
    incident.acknowledged_at, incident.closed_at, incident.status = t0 + timedelta(minutes=5), now, "closed"
    session.commit()
    session.expire_all()
    loaded = session.get(type(incident), incident.id)
    queried = incident_queries.incident_facts(session, loaded)
    from_rows = incident_queries.incident_facts_from(
        loaded, reports=incident_queries.reports_of(session, incident.id),
        acks=incident_queries.leadership_acks_of(session, incident.id),
        reviews=incident_queries.reviews_of(session, incident.id),
        regulator_reports=regulators.reports_of(session, incident.id))
    assert from_rows == queried
    assert [level for level, _ in queried.level_history] == ["III", "II", "I"]
    assert queried.reports["regulator_report"] == [t0 + timedelta(hours=3)]
