"""The article feed at scale: the risk order served from its head (stories with a risk above 0, walked from the
riskiest) gives exactly the rows and cursors of the whole statement, and totals stop counting at the cap."""

from __future__ import annotations

from datetime import timedelta

import pytest

BOTH_DATABASES = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                         indirect=True)


def walk(client, headers: dict[str, str], **params) -> tuple[list[dict], list[dict]]:
    items, bodies, cursor = [], [], None
    for _ in range(100):
        r = client.get("/api/v1/articles", params={**params, **({"cursor": cursor} if cursor else {})},
                       headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        bodies.append(body)
        cursor = body["next_cursor"]
        if cursor is None:
            return items, bodies
    raise AssertionError("the cursor never ran out")


@BOTH_DATABASES
def test_risk_pages_from_the_head_match_the_whole_order_across_ties_zero_risk_and_no_story(client, make, token_for,
                                                                                           clock):
    now = clock.now()
    expected: list[tuple[float, float, object, str]] = []  # (story score, negative prob, time, title)
    for s, (score, newer) in enumerate([(50.0, None), (50.0, None), (30.0, 80.0), (0.0, None), (None, None)]):
        story = make.story(unit_id="xinhualu", title=f"话题{s}")
        if score is not None:
            make.story_risk(story=story, score=score, level=None, at=now - timedelta(hours=2))
        if newer is not None:  # the newest row counts, not the highest
            make.story_risk(story=story, score=newer, level=None, at=now - timedelta(hours=1))
        current = newer if newer is not None else (score or 0.0)
        for a, neg in enumerate([0.9, 0.5, 0.9]):  # equal negative probabilities: time, then id decide
            at = now - timedelta(minutes=10 * a + s)
            title = f"话题{s}-{a}"
            make.article(story=story, title=title, negative_prob=neg, at=at)
            expected.append((current, neg, at, title))
    make.article(story=None, title="无话题", negative_prob=0.95, at=now)
    expected.append((0.0, 0.95, now, "无话题"))
    make.session.commit()
    h = token_for("wangmin")
    whole = client.get("/api/v1/articles", params={"limit": 200}, headers=h).json()
    # ids rise with creation, so among equal keys the later-made row comes first (id descending)
    order = [t for *_, t in sorted(expected, key=lambda e: (e[0], e[1], e[2]), reverse=True)]
    assert [a["title"] for a in whole["items"]] == order  # 80 (newest row) first, the two tied at 50, then 0s
    for limit in (1, 2, 3, 5):
        walked, bodies = walk(client, h, limit=limit)
        assert [a["title"] for a in walked] == [a["title"] for a in whole["items"]], limit
        assert {b["total"] for b in bodies} == {16} and not any(b["total_capped"] for b in bodies)


@BOTH_DATABASES
def test_totals_stop_at_the_cap_and_say_so(client, make, token_for, clock, monkeypatch):
    from api.routers import articles

    for i in range(5):
        make.article(story=None, title=f"第{i}篇", at=clock.now() - timedelta(minutes=i))
    make.session.commit()
    h = token_for("wangmin")
    monkeypatch.setattr(articles, "TOTAL_CAP", 3)
    walked, bodies = walk(client, h, limit=2, sort="time")
    assert len(walked) == 5  # the cap limits the count, never the rows served
    assert [(b["total"], b["total_capped"]) for b in bodies] == [(3, True)] * 3
    monkeypatch.setattr(articles, "TOTAL_CAP", 5)
    body = client.get("/api/v1/articles", params={"limit": 2}, headers=h).json()
    assert (body["total"], body["total_capped"]) == (5, False)
    mentions = client.get("/api/v1/mentions", params={"limit": 2}, headers=h).json()
    assert (mentions["total"], mentions["total_capped"]) == (5, False)
