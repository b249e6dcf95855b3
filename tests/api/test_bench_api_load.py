"""``python -m bench api-load``'s load generator: its hand-written HTTP/1.1 client reads real answers of the app
(a Content-Length body, keep-alive, a 401), and a short drive reports every figure it promises."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from bench.api_load import RawClient, drive
from tests.e2e.served_app import ServedApp


@pytest.fixture
def served(app: FastAPI) -> Iterator[ServedApp]:
    server = ServedApp(app)
    yield server
    server.stop()


def test_the_raw_client_reads_answers_on_one_connection(served: ServedApp, token_for, make):
    make.crisis()
    token = token_for("wangmin")["Authorization"].split()[1]

    async def scenario():
        http = RawClient("127.0.0.1", served.port, {"Authorization": f"Bearer {token}"})
        health = await http.get("/healthz")
        writer = http.writer
        alerts = await http.get("/api/v1/alerts?limit=5")
        same_connection = http.writer is writer
        anonymous = RawClient("127.0.0.1", served.port, {})
        refused = await anonymous.get("/api/v1/alerts")
        await http.close()
        await anonymous.close()
        return health, alerts, same_connection, refused

    health, alerts, same_connection, refused = asyncio.run(scenario())
    assert health == (200, b'{"status":"ok"}')
    assert alerts[0] == 200 and len(json.loads(alerts[1])["items"]) >= 1
    assert same_connection
    assert refused[0] == 401


def test_a_short_drive_reports_rates_percentiles_and_its_own_cpu(served: ServedApp, token_for, make):
    make.crisis()
    token = token_for("wangmin")["Authorization"].split()[1]
    row = asyncio.run(drive(f"http://127.0.0.1:{served.port}", [token], {"incident": [1], "story": [1]}, 2, 4.0,
                            paths=["/healthz", "/api/v1/alerts?limit=5"]))
    assert row["requests"] > 0 and row["errors"] == {}
    assert row["rps"] > 0 and row["p50"] <= row["p95"] <= row["p99"]
    assert row["client_cpu_us_per_request"] > 0 and 0 < row["client_cpu_share"] <= 1.5
