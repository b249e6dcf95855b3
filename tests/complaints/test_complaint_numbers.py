"""Concurrent intake leaves no gaps in the day's numbers: eight tickets posted at once through the API on
PostgreSQL get TS-20261123-001 … 008."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.users import create_api_token
from tests.complaints.web import WALK_IN


@pytest.mark.postgres
@pytest.mark.parametrize("db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_eight_parallel_posts_take_eight_consecutive_numbers(app, session, users, clock):
    token = create_api_token(session, user=users["wangmin"], name="tickets", clock=clock)
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    # the first complaint makes the deployment's customer-key secret (a one-off race of its own)
    with TestClient(app) as first:
        assert first.post("/api/v1/complaints", json=WALK_IN, headers=headers).status_code == 201

    def post(i: int) -> str:
        with TestClient(app) as c:
            r = c.post("/api/v1/complaints", json={**WALK_IN, "description": f"第{i}张工单"}, headers=headers)
            assert r.status_code == 201, r.text
            return r.json()["number"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = sorted(pool.map(post, range(8)))
    assert numbers == [f"TS-20261123-{n:03d}" for n in range(2, 10)]
