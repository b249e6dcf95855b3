"""Accounts that can be trusted: login throttling and lock-out, the password-hashing gate, expiring and revocable
API tokens, forced change of initial passwords, and users following the org chart."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import auth, throttle
from api.models import ApiToken, LoginThrottle, User
from api.users import DEFAULT_TOKEN_DAYS, create_api_token, seed_users, sync_with_org
from yuqing.models import AuditEntry
from yuqing.org import OrgChart

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _attempt(client: TestClient, csrf_of, login: str, password: str, address: str | None = None):
    page = client.get("/login")
    return client.post("/login", data={"login": login, "password": password, "csrf_token": csrf_of(page.text)})


# --- throttling -----------------------------------------------------------------------------------------------
def test_five_wrong_passwords_lock_the_login_even_against_the_right_one_and_audit_it(client, session, csrf_of,
                                                                                   password, clock):
    for _ in range(throttle.DEFAULT_POLICY.login_failures - 1):
        assert _attempt(client, csrf_of, "wangmin", "wrong-guess").status_code == 401
    locking = _attempt(client, csrf_of, "wangmin", "wrong-guess")
    assert locking.status_code == 429 and "已暂时锁定" in locking.text
    assert int(locking.headers["retry-after"]) == 15 * 60
    right = _attempt(client, csrf_of, "wangmin", password)
    assert right.status_code == 429, "a locked login must not be let in, even with the right password"
    assert client.get("/").status_code == 303
    locks = session.scalars(select(AuditEntry).where(AuditEntry.action == "login.locked")).all()
    assert [(e.object_type, e.object_id) for e in locks] == [("login", "wangmin")]
    # After the lock-out the right password works and resets the count.
    clock.advance(timedelta(minutes=16))
    assert _attempt(client, csrf_of, "wangmin", password).status_code == 303
    session.expire_all()
    assert session.scalar(select(LoginThrottle).where(LoginThrottle.scope == "login")) is None


def test_a_locked_login_is_refused_without_computing_a_password_hash(client, csrf_of, monkeypatch):
    for _ in range(throttle.DEFAULT_POLICY.login_failures):
        _attempt(client, csrf_of, "liuqiang", "wrong-guess")
    calls = []
    real_verify = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda h, p: calls.append(1) or real_verify(h, p))
    assert _attempt(client, csrf_of, "liuqiang", "another-guess").status_code == 429
    assert calls == []


def test_repeated_lock_outs_last_longer(client, csrf_of, clock, session):
    for expected_minutes in (15, 30, 60):
        for _ in range(throttle.DEFAULT_POLICY.login_failures):
            r = _attempt(client, csrf_of, "chenjing", "wrong-guess")
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) == expected_minutes * 60
        clock.advance(timedelta(minutes=expected_minutes, seconds=1))


def test_unknown_logins_lock_exactly_like_real_ones(client, csrf_of):
    answers = {}
    for login in ("wangmin", "no-such-user"):
        answers[login] = [_attempt(client, csrf_of, login, "wrong-guess").status_code for _ in range(6)]
    assert answers["wangmin"] == answers["no-such-user"] == [401, 401, 401, 401, 429, 429]


def test_one_address_guessing_many_logins_is_locked_out(client, csrf_of, session, org: OrgChart, password, clock):
    logins = [p.id for p in org.people]
    statuses = []
    for i in range(throttle.DEFAULT_POLICY.address_failures + 2):
        statuses.append(_attempt(client, csrf_of, logins[i % len(logins)] + f"-x{i // len(logins)}",
                                 "Winter2026!").status_code)
    assert statuses[:throttle.DEFAULT_POLICY.address_failures - 1] == [401] * (
        throttle.DEFAULT_POLICY.address_failures - 1)
    assert statuses[-1] == 429
    # The address lock holds even for a correct password of an untouched login.
    assert _attempt(client, csrf_of, "zhoufang", password).status_code == 429
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "login.locked",
                                                    AuditEntry.object_type == "address"))
    assert entry is not None and entry.object_id == "testclient"


def test_behind_a_trusted_proxy_the_forwarded_address_is_throttled_not_the_proxy(app_with, csrf_of, session):
    app = app_with(trusted_proxies="127.0.0.1")
    with TestClient(app, follow_redirects=False, client=("127.0.0.1", 5000)) as c:
        page = c.get("/login")
        for _ in range(3):
            c.post("/login", data={"login": "wangmin", "password": "x", "csrf_token": csrf_of(page.text)},
                   headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    rows = {r.key: r.failures for r in session.scalars(select(LoginThrottle).where(
        LoginThrottle.scope == "address"))}
    assert rows == {"203.0.113.7": 3}


# --- the password-hashing gate ----------------------------------------------------------------------------------
class Overlap:
    """Wraps a function so that it takes ``seconds`` and records how many calls ran at the same time."""

    def __init__(self, seconds: float):
        self.seconds, self.running, self.peak, self._lock = seconds, 0, 0, threading.Lock()

    def wrap(self, fn):
        def timed(*args):
            with self._lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            time.sleep(self.seconds)
            with self._lock:
                self.running -= 1
            return fn(*args)

        return timed


def test_password_gate_runs_at_most_its_concurrency_and_refuses_beyond_its_queue():
    gate = auth.PasswordGate(concurrency=2, queue=3)
    overlap = Overlap(0.05)
    slow = overlap.wrap(lambda: 1)

    async def crowd() -> list[object]:
        return await asyncio.gather(*(gate.run(slow) for _ in range(12)), return_exceptions=True)

    results = asyncio.run(crowd())
    assert overlap.peak == 2
    assert results.count(1) == 5
    assert sum(isinstance(r, auth.PasswordGateBusy) for r in results) == 7
    assert gate.refused == 7 and gate.pending == 0


def test_a_crowd_of_guessers_gets_busy_answers_not_a_stalled_server(app, monkeypatch):
    """Forty concurrent sign-ins against a real server: at most the gate's concurrency hash at once, the overflow
    is refused with 503 and Retry-After, and a read sent in the middle of the crowd is answered."""
    import httpx

    from api.server import bound_port, serve_api, stop_api

    app.state.password_gate = auth.PasswordGate(concurrency=2, queue=4)
    overlap = Overlap(0.2)
    monkeypatch.setattr(auth, "verify_password", overlap.wrap(auth.verify_password))

    async def scenario() -> tuple[list[httpx.Response], int, int]:
        handle = await serve_api(app, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{bound_port(handle[0])}"
        try:
            async def guess(i: int) -> httpx.Response:
                # a generous client timeout: on a loaded machine forty sign-ins behind a gate of two take a while,
                # and a client giving up is not what this test is about (a stall shows as the read never answered)
                async with httpx.AsyncClient(base_url=base, timeout=60) as c:
                    page = await c.get("/login")
                    csrf = CSRF.search(page.text).group(1)
                    return await c.post("/login", data={"login": "wangmin", "password": f"guess-{i}",
                                                        "csrf_token": csrf})

            async def read_during() -> int:
                await asyncio.sleep(0.1)
                async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                    return (await c.get("/healthz")).status_code

            *answers, health = await asyncio.gather(*(guess(i) for i in range(40)), read_during())
            return answers, health, app.state.password_gate.refused
        finally:
            await stop_api(handle)

    answers, health, refused = asyncio.run(scenario())
    statuses = [r.status_code for r in answers]
    assert health == 200
    assert overlap.peak <= 2
    assert statuses.count(503) == refused >= 1
    assert all(r.headers["retry-after"] == "5" for r in answers if r.status_code == 503)
    assert set(statuses) <= {401, 429, 503} and 401 in statuses


def test_sign_ins_waiting_for_the_gate_hold_no_database_connection(app, monkeypatch):
    """A sign-in queued behind the password gate must not keep a pooled connection: forty of them would hold the
    whole pool and stall every other request (measured by `python -m bench login-flood`)."""
    import httpx

    from api.server import bound_port, serve_api, stop_api

    gate = auth.PasswordGate(concurrency=1, queue=5)
    app.state.password_gate = gate
    release = threading.Event()
    real_verify = auth.verify_password

    def blocked_verify(stored: str, pw: str) -> bool:
        release.wait(10)
        return real_verify(stored, pw)

    monkeypatch.setattr(auth, "verify_password", blocked_verify)
    pool = app.state.session_factory.kw["bind"].pool

    async def scenario() -> tuple[int, list[int]]:
        handle = await serve_api(app, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{bound_port(handle[0])}"
        try:
            async def guess(i: int) -> int:
                async with httpx.AsyncClient(base_url=base, timeout=20) as c:
                    page = await c.get("/login")
                    r = await c.post("/login", data={"login": f"user{i}", "password": "guess",
                                                     "csrf_token": CSRF.search(page.text).group(1)})
                    return r.status_code

            tasks = [asyncio.create_task(guess(i)) for i in range(4)]
            for _ in range(500):
                if gate.pending == 4:
                    break
                await asyncio.sleep(0.01)
            assert gate.pending == 4, "one sign-in hashing and three waiting"
            held = pool.checkedout()
            release.set()
            return held, list(await asyncio.gather(*tasks))
        finally:
            release.set()
            await stop_api(handle)

    held, statuses = asyncio.run(scenario())
    assert held <= 1, f"{held} connections held while one sign-in hashes and three wait"
    assert statuses == [401, 401, 401, 401]


# --- forced password change -------------------------------------------------------------------------------------
@pytest.fixture
def fresh_user(session, org, clock) -> User:
    """A user seeded with an initial password, as `yuqing user seed` creates them."""
    session.query(User).delete()
    session.commit()
    seed_users(session, org, password="Initial-pass-2026", clock=clock)
    session.commit()
    return session.scalar(select(User).where(User.login == "zhoufang"))


def test_a_seeded_password_must_be_changed_before_anything_else(client, csrf_of, fresh_user, session):
    r = _attempt(client, csrf_of, "zhoufang", "Initial-pass-2026")
    assert r.status_code == 303 and r.headers["location"] == "/account/password"
    for path in ["/", "/alerts", "/incidents", "/sources", "/account"]:
        redirect = client.get(path)
        assert redirect.status_code == 303 and redirect.headers["location"] == "/account/password", path
    assert client.get("/api/v1/incidents").status_code == 403
    page = client.get("/account/password")
    assert page.status_code == 200 and "初始密码" in page.text
    csrf = csrf_of(page.text)
    weak = client.post("/account/password", data={"current": "Initial-pass-2026", "new": "zhoufang-123",
                                                  "confirm": "zhoufang-123", "csrf_token": csrf})
    assert weak.status_code == 422 and "登录名" in weak.text
    same = client.post("/account/password", data={"current": "Initial-pass-2026", "new": "Initial-pass-2026",
                                                  "confirm": "Initial-pass-2026", "csrf_token": csrf})
    assert same.status_code == 422
    wrong = client.post("/account/password", data={"current": "not-it-at-all", "new": "Own-secret-2026!",
                                                   "confirm": "Own-secret-2026!", "csrf_token": csrf})
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.text
    no_csrf = client.post("/account/password", data={"current": "Initial-pass-2026", "new": "Own-secret-2026!",
                                                     "confirm": "Own-secret-2026!"})
    assert no_csrf.status_code == 403
    done = client.post("/account/password", data={"current": "Initial-pass-2026", "new": "Own-secret-2026!",
                                                  "confirm": "Own-secret-2026!", "csrf_token": csrf})
    assert done.status_code == 303
    assert client.get("/").status_code == 200, "the new cookie carries the new session epoch"
    session.expire_all()
    user = session.scalar(select(User).where(User.login == "zhoufang"))
    assert not user.must_change_password and user.password_changed_at is not None
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "password.changed")) is not None


def test_changing_the_password_signs_out_other_sessions(login_as, csrf_of):
    first, second = login_as("wangmin"), login_as("wangmin")
    page = first.get("/account/password")
    r = first.post("/account/password", data={"current": "Demo-2026!pass", "new": "Brand-new-pass-77",
                                              "confirm": "Brand-new-pass-77", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 303


# --- API tokens -------------------------------------------------------------------------------------------------
def test_tokens_expire(client, session, users, clock):
    token = create_api_token(session, user=users["wangmin"], name="ticketing", clock=clock, days=1)
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    clock.advance(timedelta(days=1, seconds=1))
    r = client.get("/api/v1/incidents", headers=headers)
    assert r.status_code == 401


def test_tokens_from_before_expiry_existed_expire_after_the_default_lifetime(client, session, users, clock):
    token = create_api_token(session, user=users["wangmin"], name="old", clock=clock)
    row = session.scalar(select(ApiToken))
    row.expires_at = None
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/alerts", headers=headers).status_code == 200
    clock.advance(timedelta(days=DEFAULT_TOKEN_DAYS, seconds=1))
    assert client.get("/api/v1/alerts", headers=headers).status_code == 401


def test_tokens_are_listed_issued_and_revoked_through_the_api(client, token_for, session, clock):
    headers = token_for("liuqiang")
    created = client.post("/api/v1/tokens", json={"name": "值班脚本", "days": 30}, headers=headers)
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("yq_") and body["status"] == "active" and body["user"] == "liuqiang"
    new_headers = {"Authorization": f"Bearer {body['token']}"}
    listing = client.get("/api/v1/tokens", headers=new_headers).json()
    assert {t["name"] for t in listing["items"]} == {"test", "值班脚本"}
    assert all("token" not in t for t in listing["items"])
    assert client.delete(f"/api/v1/tokens/{body['id']}", headers=headers).json()["status"] == "revoked"
    assert client.get("/api/v1/tokens", headers=new_headers).status_code == 401
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "token.revoked"))
    assert entry is not None and entry.actor == "liuqiang"


def test_a_user_cannot_revoke_or_list_another_users_tokens_but_an_admin_can(client, token_for, session, users,
                                                                           clock):
    other = token_for("wangmin")
    other_id = session.scalar(select(ApiToken.id).where(ApiToken.user_id == users["wangmin"].id))
    mine = token_for("zhoufang")
    assert client.delete(f"/api/v1/tokens/{other_id}", headers=mine).status_code == 404
    assert client.get("/api/v1/tokens?all=true", headers=mine).status_code == 403
    admin_login = next(u.login for u in users.values() if "admin" in u.roles)
    admin = token_for(admin_login)
    assert {t["user"] for t in client.get("/api/v1/tokens?all=true", headers=admin).json()["items"]} >= {
        "wangmin", "zhoufang"}
    assert client.delete(f"/api/v1/tokens/{other_id}", headers=admin).status_code == 200
    assert client.get("/api/v1/alerts", headers=other).status_code == 401


def test_token_writes_need_a_bearer_token_not_the_session_cookie(login_as):
    c = login_as("wangmin")
    assert c.post("/api/v1/tokens", json={"name": "x"}).status_code == 401
    assert c.get("/api/v1/tokens").status_code == 200


def test_tokens_are_issued_and_revoked_from_the_account_page(login_as, csrf_of, session):
    c = login_as("liuqiang")
    page = c.get("/account")
    assert page.status_code == 200 and "API 令牌" in page.text
    issued = c.post("/account/tokens", data={"name": "舆情日报推送", "days": "7", "csrf_token": csrf_of(page.text)})
    assert issued.status_code == 200 and "只显示这一次" in issued.text
    token = issued.text.split('<code class="token">')[1].split("<")[0]
    assert token.startswith("yq_")
    with TestClient(c.app) as api:
        assert api.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        row = session.scalar(select(ApiToken).where(ApiToken.name == "舆情日报推送"))
        forged = c.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": "forged-csrf-token-00000"})
        assert forged.status_code == 403
        r = c.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": csrf_of(c.get("/account").text)})
        assert r.status_code == 303
        assert api.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "已吊销" in c.get("/account").text


# --- the org chart decides who may sign in ------------------------------------------------------------------------
def test_a_person_removed_from_the_org_chart_loses_sessions_and_tokens(login_as, client, session, users, org,
                                                                      clock, token_for, password, csrf_of):
    c = login_as("zhoufang")
    headers = token_for("zhoufang")
    assert c.get("/").status_code == 200
    smaller = org.model_copy(update={"people": [p for p in org.people if p.id != "zhoufang"]})
    report = sync_with_org(session, smaller, clock=clock)
    session.commit()
    assert report.deactivated == ["zhoufang"]
    assert c.get("/").status_code == 303
    assert client.get("/api/v1/incidents", headers=headers).status_code == 401
    assert _attempt(client, csrf_of, "zhoufang", password).status_code == 401
    user = session.scalar(select(User).where(User.login == "zhoufang"))
    assert not user.active and user.deactivated_reason == "人员已不在组织架构中"
    assert all(t.revoked_at is not None for t in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)))
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "user.deactivated"))
    assert entry is not None and entry.object_id == "zhoufang"
    # Seeding again (the chart unchanged) does not bring them back.
    seed_users(session, smaller, password="Another-initial-1", clock=clock)
    session.commit()
    assert not session.scalar(select(User).where(User.login == "zhoufang")).active


def test_throttle_counts_and_locks_on_both_databases(session_factory, clock):
    """The throttle's row locking and nested-transaction insert, on SQLite and PostgreSQL."""
    with session_factory() as s:
        for _ in range(4):
            assert throttle.record_failure(s, login="Wangmin ", address="198.51.100.4", clock=clock) is None
        s.commit()
    with session_factory() as s:
        lock = throttle.record_failure(s, login="wangmin", address="198.51.100.4", clock=clock)
        s.commit()
        assert lock is not None and lock.scope == "login" and lock.until == clock.now() + timedelta(minutes=15)
        assert throttle.current_lock(s, login="WANGMIN", address="192.0.2.1", clock=clock) == lock
        assert throttle.current_lock(s, login="chenjing", address="192.0.2.1", clock=clock) is None
        assert throttle.unlock(s, login="wangmin")
        s.commit()
        assert throttle.current_lock(s, login="wangmin", address="192.0.2.1", clock=clock) is None
        address_row = s.scalar(select(LoginThrottle).where(LoginThrottle.scope == "address"))
        assert address_row.failures == 5 and address_row.locked_until is None
