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
    route_state_built_once,
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


@pytest.fixture
def cli_db(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator:
    """A migrated embedded database in ``tmp_path`` for driving ``yuqing …`` through typer's CliRunner; yields a
    session factory on it so a test can check what the command stored."""
    from typer.testing import CliRunner

    from runner.cli import app
    from yuqing.db import make_engine, make_sessionmaker
    from yuqing.settings import load_settings

    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    assert CliRunner().invoke(app, ["migrate"]).exit_code == 0
    engine = make_engine(load_settings().effective_database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def cli_users_db(cli_db):
    """``cli_db`` with a dashboard user for every person of the org chart (``yuqing user seed``)."""
    from typer.testing import CliRunner

    from runner.cli import app

    seeded = CliRunner().invoke(app, ["user", "seed"], input="first-password-1\nfirst-password-1\n")
    assert seeded.exit_code == 0, seeded.output
    return cli_db
