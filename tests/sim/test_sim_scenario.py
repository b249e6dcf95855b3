"""The scenario as data: deterministic, time-shiftable, and shaped like the scripted crisis."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from sim.model import INCIDENT, Growth
from sim.scenario import DEFAULT_START, build_scenario


def test_ids_are_deterministic_and_independent_of_start():
    a = build_scenario(DEFAULT_START)
    b = build_scenario(datetime(2027, 3, 1, 2, 30, tzinfo=UTC))
    assert [p.id for p in a.weibo] == [p.id for p in b.weibo]
    assert [x.id for x in a.news] == [x.id for x in b.news]
    assert b.find("w-root").published - b.start == timedelta(minutes=20)


def test_timeline_order_and_duration():
    sc = build_scenario(DEFAULT_START)
    assert sc.duration == timedelta(hours=12)
    assert sc.progress(sc.start - timedelta(hours=1)) == 0.0 and sc.progress(sc.end) == 1.0
    offsets = {e.key: e.offset for e in sc.timeline}
    assert offsets["c-xinhua-1"] < offsets["w-root"] < offsets["n-xinhua-1"] < offsets["p-xinhua-1"]
    assert offsets["p-xinhua-1"] < offsets["w-rumour"] < offsets["w-official"] < offsets["n-xinhua-3"]
    for event in sc.timeline[:-1]:
        assert sc.find(event.key).published == sc.start + event.offset


def test_incident_reposts_happen_inside_the_scenario():
    sc = build_scenario(DEFAULT_START)
    for post in sc.weibo:
        if post.post.truth == INCIDENT:
            assert sc.start <= post.published < sc.end
        if post.root_key is not None:
            assert sc.post_by_key(post.root_key).published < post.published


@pytest.mark.parametrize("ages", [(0, 1, 5, 30, 60, 120, 240, 480, 1440)])
def test_growth_is_monotonic(ages):
    g = Growth(1000, 500, 3000, phases=((0.4, 30, 10), (0.6, 200, 40)))
    values = [g.at_age(a) for a in ages]
    assert values[0] == (0, 0, 0)
    assert all(x <= y for a, b in itertools.pairwise(values) for x, y in zip(a, b, strict=True))
    assert values[-1][0] >= 990
