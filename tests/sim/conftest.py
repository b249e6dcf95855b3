"""Fixtures for the simulated internet: one real server on 127.0.0.1 for the whole package, driven by a
FrozenClock that each test sets to the instant it wants to look at.

The server runs in its own thread and event loop so the tests can stay plain synchronous httpx code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from sim.scenario import DEFAULT_START, Scenario, build_scenario
from sim.server import SimServer
from tests.sim.running import serving
from yuqing.clock import FrozenClock


@dataclass
class RunningSim:
    clock: FrozenClock
    scenario: Scenario
    server: SimServer
    base_url: str


@pytest.fixture(scope="session")
def sim_scenario() -> Scenario:
    return build_scenario(DEFAULT_START)


@pytest.fixture(scope="session")
def running_sim(sim_scenario: Scenario) -> Iterator[RunningSim]:
    clock = FrozenClock(DEFAULT_START)
    server = SimServer(clock, sim_scenario, weibo_rate_limit=1000, slow_page_seconds=0.2)
    with serving(server):
        yield RunningSim(clock, sim_scenario, server, server.base_url)


@pytest.fixture
def sim(running_sim: RunningSim) -> Iterator[RunningSim]:
    running_sim.clock.set(DEFAULT_START)
    yield running_sim


@pytest.fixture
def client(sim: RunningSim) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=10) as c:
        yield c
