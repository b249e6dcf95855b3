"""Fixtures of the complaint API and dashboard tests: the API tests' app, users and signed-in clients
(``tests/api/conftest.py``, re-used by name), plus clients holding a user's bearer token."""

# ruff: noqa: F811 — the fixtures below take the re-exported ones as arguments, by name

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.users import create_api_token
from tests.api.conftest import (  # noqa: F401 — fixtures, used by name
    app,
    app_with,
    cheap_password_hashing,
    csrf_of_fixture,
    db,
    login_as,
    password,
    policy,
    session,
    users,
)


@pytest.fixture
def bearer(app, session: Session, users, clock) -> Iterator[Callable[[str], TestClient]]:
    """A client of the JSON API holding ``login``'s bearer token (and no cookie)."""
    clients: list[TestClient] = []

    def _client(login: str) -> TestClient:
        token = create_api_token(session, user=users[login], name=f"test-{login}", clock=clock)
        session.commit()
        c = TestClient(app, follow_redirects=False)
        c.headers["Authorization"] = f"Bearer {token}"
        clients.append(c)
        return c

    yield _client
    for c in clients:
        c.close()
