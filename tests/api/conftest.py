"""API test fixtures: a fresh SQLite database per test, seeded users, the app and a logged-in client helper."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import fastapi.routing
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api import auth
from api.app import create_app
from api.models import User
from api.users import create_api_token, seed_users
from crawlers.sources import SourceConfig
from incidents.policy import Policy, load_policy
from tests.helpers import created_sqlite_engine
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.org import OrgChart
from yuqing.settings import PROJECT_ROOT, Settings

PASSWORD = "Demo-2026!pass"
TEST_SECRET_KEY = "api-tests-7Hq2xW9pLm4Rt8Vz3Nc6Bk1Yd5Gf0Js"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _load_factories():
    """Load ``factories.py`` beside this file under a unique module name (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("yuqing_api_test_factories", Path(__file__).with_name("factories.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


factories = _load_factories()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with small parameters: same code path, milliseconds instead of ~100 ms per hash."""
    monkeypatch.setattr(auth, "password_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(auth, "_DUMMY_HASH", None)


_ROUTE_STATE: dict[tuple[int, str], tuple[object, object]] = {}  # (route, inclusion) -> (route, its built state)


@pytest.fixture(autouse=True)
def route_state_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test builds a new app from the same routers, and FastAPI (0.165) builds each included route's state
    (its dependant and ~10 pydantic adapters; ~1,600 for the app) lazily, per app, on the first request that walks
    past it: ~0.6 s of CPU for the first request of each test's app, far more than the test's own requests. That
    state depends only on the route and how its router is included (prefix, tags, dependencies, responses), the
    same for every app here, so the first app's is reused. The one per-app input, the dependency-overrides
    provider (the app), is left out of the key: the tests set no ``dependency_overrides`` (checked). Where
    FastAPI has no ``_EffectiveRouteContext.from_api_route`` (another version), nothing is changed."""
    context_cls = getattr(fastapi.routing, "_EffectiveRouteContext", None)
    build = getattr(context_cls, "from_api_route", None)
    if build is None:
        return

    def from_api_route(cls, *, original_route, include_context):
        assert not getattr(include_context.dependency_overrides_provider, "dependency_overrides", None), \
            "a test overrides dependencies: route state built for another app would not see it"
        key = (id(original_route), repr(dataclasses.replace(include_context, dependency_overrides_provider=None)))
        known = _ROUTE_STATE.get(key)
        if known is not None and known[0] is original_route:
            return known[1]
        state = build(original_route=original_route, include_context=include_context)
        _ROUTE_STATE[key] = (original_route, state)
        return state

    monkeypatch.setattr(context_cls, "from_api_route", classmethod(from_api_route))


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(PROJECT_ROOT / "config" / "levels.yaml", PROJECT_ROOT / "config" / "checklists")


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A fresh SQLite database; tests parametrized with ``indirect=["db"]`` also run on PostgreSQL."""
    if getattr(request, "param", "sqlite") == "postgres":
        yield make_sessionmaker(request.getfixturevalue("postgres_engine"))
        return
    engine = created_sqlite_engine(tmp_path / "api.db")
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def session(db: sessionmaker[Session]) -> Iterator[Session]:
    s = db()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def make(session: Session, clock: FrozenClock):
    """Row factories bound to this test's session and clock."""
    return factories.Factories(session, clock)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture(name="csrf_of")
def csrf_of_fixture() -> Callable[[str], str]:
    return csrf_of


@pytest.fixture
def users(session: Session, org: OrgChart, clock: FrozenClock) -> dict[str, User]:
    # Users who have already replaced their initial password (the forced change is tested in test_accounts.py).
    seeded = seed_users(session, org, password=PASSWORD, clock=clock, must_change=False)
    session.commit()
    return {u.login: u for u in seeded}


def _source(source_id: str, name: str, channel: str = "news", kind: str = "rss") -> SourceConfig:
    return SourceConfig(id=source_id, name=name, kind=kind, channel=channel, url=f"https://{source_id}.example/feed",
                        authority="local_media", poll_interval=600)


TEST_SOURCES = [_source("jiangcheng-news", "江城晚报网"), _source("weibo", "微博", "social"),
                _source("tousu", "投诉平台", "complaint"), _source("forum", "本地论坛"),
                _source("regulator", "监管公告", "regulator")]


@pytest.fixture
def app_with(db, org: OrgChart, clock: FrozenClock, policy: Policy, users, tmp_path: Path) -> Callable[..., FastAPI]:
    """Build the app with settings overridden (e.g. ``trusted_proxies``)."""

    def build(**overrides: object) -> FastAPI:
        settings = Settings(**{"secret_key": TEST_SECRET_KEY, "data_dir": tmp_path, **overrides})
        return create_app(settings=settings, session_factory=db, org=org, clock=clock, policy=policy,
                          sources=TEST_SOURCES)

    return build


@pytest.fixture
def app(app_with) -> FastAPI:
    return app_with()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def login_as(app: FastAPI):
    """A client signed in as ``login`` through the real login form."""
    clients: list[TestClient] = []

    def _login(login: str, password: str = PASSWORD) -> TestClient:
        c = TestClient(app, follow_redirects=False)
        clients.append(c)
        r = c.post("/login", data={"login": login, "password": password, "csrf_token": csrf_of(c.get("/login").text),
                                   "next": "/"})
        assert r.status_code == 303, r.text
        return c

    yield _login
    for c in clients:
        c.close()


@pytest.fixture
def token_for(session: Session, users: dict[str, User], clock: FrozenClock):
    """Bearer headers for ``login``."""

    def _token(login: str) -> dict[str, str]:
        token = create_api_token(session, user=users[login], name="test", clock=clock)
        session.commit()
        return {"Authorization": f"Bearer {token}"}

    return _token


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF field in page"
    return match.group(1)
