"""Sign-in, sign-out, sessions, CSRF, API tokens and seeding users from the org chart."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api import auth
from api.login import safe_next
from api.models import User
from api.users import authenticate, scope_unit_ids, seed_users
from yuqing.models import AuditEntry


def test_login_with_right_password_sets_a_hardened_session_cookie_and_audits(client, session, password, csrf_of):
    page = client.get("/login")
    assert page.status_code == 200 and "登录" in page.text
    r = client.post("/login", data={"login": "wangmin", "password": password, "csrf_token": csrf_of(page.text),
                                    "next": "/incidents"})
    assert r.status_code == 303 and r.headers["location"] == "/incidents"
    cookie = r.headers["set-cookie"]
    assert auth.SESSION_COOKIE in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie
    home = client.get("/")
    assert home.status_code == 200 and "王敏" in home.text and "值班监测" in home.text and "退出" in home.text
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "login"))
    assert entry is not None and entry.actor == "wangmin"


def test_login_with_wrong_password_shows_chinese_error_and_audits_the_attempt(client, session, csrf_of):
    page = client.get("/login")
    r = client.post("/login", data={"login": "wangmin", "password": "wrong", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    assert client.get("/").status_code == 303  # still signed out
    unknown = client.post("/login", data={"login": "nobody", "password": "x", "csrf_token": csrf_of(page.text)})
    assert "用户名或密码错误" in unknown.text  # same answer: no login-name enumeration
    failed = session.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed")).all()
    assert {e.actor for e in failed} == {"wangmin", "nobody"}


def test_login_without_csrf_token_is_refused(client, password):
    client.get("/login")
    r = client.post("/login", data={"login": "wangmin", "password": password, "csrf_token": "forged-token-123456"})
    assert r.status_code == 403 and "CSRF" in r.text
    fresh = client.__class__(client.app, follow_redirects=False)  # no cookie at all
    assert fresh.post("/login", data={"login": "wangmin", "password": password}).status_code == 403


def test_protected_pages_redirect_to_login_with_the_way_back(client):
    for path in ["/", "/alerts", "/incidents", "/incidents/1", "/sources", "/partials/overview"]:
        r = client.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next=" + path.split("?")[0]), path


def test_tampered_session_cookie_is_ignored(client, login_as):
    c = login_as("wangmin")
    value = c.cookies.get(auth.SESSION_COOKIE)
    payload, _, signature = value.partition(".")
    forged_payload = auth.URLSafeTimedSerializer("guessed-key").dumps({"uid": 1, "csrf": "x" * 20})
    for forged in [payload + "x." + signature, forged_payload]:
        c.cookies.clear()
        c.cookies.set(auth.SESSION_COOKIE, forged)
        assert c.get("/").status_code == 303
    c.cookies.clear()
    c.cookies.set(auth.SESSION_COOKIE, value)
    assert c.get("/").status_code == 200


def test_logout_needs_csrf_clears_the_session_and_audits(login_as, session, csrf_of):
    c = login_as("liuqiang")
    home = c.get("/")
    assert c.post("/logout", data={"csrf_token": "nope-nope-nope-nope"}).status_code == 403
    assert c.get("/").status_code == 200
    r = c.post("/logout", data={"csrf_token": csrf_of(home.text)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/").status_code == 303
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "logout")).actor == "liuqiang"


def test_api_needs_a_token_or_session_and_never_accepts_the_cookie_for_writes(client, login_as, token_for):
    r = client.get("/api/v1/incidents")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/incidents", headers={"Authorization": "Bearer yq_bogus"}).status_code == 401
    assert client.get("/api/v1/incidents", headers=token_for("wangmin")).status_code == 200
    c = login_as("wangmin")
    assert c.get("/api/v1/incidents").status_code == 200  # the dashboard may read with its cookie
    assert c.post("/api/v1/alerts/1/ack").status_code == 401  # but never write: no cross-site forgery via the API


def test_api_token_is_stored_only_as_a_hash(session, users, clock):
    from api.models import ApiToken
    from api.users import create_api_token, user_for_token

    token = create_api_token(session, user=users["wangmin"], name="ci", clock=clock)
    stored = session.scalar(select(ApiToken))
    assert token not in stored.token_hash and stored.token_hash == auth.api_token_hash(token)
    assert user_for_token(session, token=token, clock=clock).login == "wangmin"
    assert stored.last_used_at == clock.now()


def test_seed_users_is_idempotent_and_follows_the_org_chart(session, org, clock, users, password):
    assert set(users) == {p.id for p in org.people}
    assert users["zhoufang"].unit_id == "guangminglu" and users["zhoufang"].roles == ["liaison"]
    assert users["yangfan"].roles == ["commander", "monitor"]
    again = seed_users(session, org, password="another-password", clock=clock)
    session.commit()
    assert len(again) == len(org.people)
    assert session.query(User).count() == len(org.people)
    assert authenticate(session, login="wangmin", password=password) is not None  # password kept
    assert authenticate(session, login="wangmin", password="another-password") is None
    assert users["wangmin"].password_hash.startswith("$argon2id$")


def test_scope_liaison_sees_own_subtree_branch_staff_see_branch_head_office_sees_all(org):
    liaison = scope_unit_ids(org, unit_id="guangminglu", roles=["liaison"])
    assert liaison == {"guangminglu", "renminguangchang", "jiefangdadao", "xinhualu"}
    outlet = scope_unit_ids(org, unit_id="xinhualu", roles=["liaison"])
    assert outlet == {"xinhualu"}
    monitor = scope_unit_ids(org, unit_id="jiangcheng", roles=["monitor"])
    assert "binjiang" in monitor and "xinhualu" in monitor and "head-office" not in monitor
    assert scope_unit_ids(org, unit_id="head-office", roles=["monitor"]) == {u.id for u in org.units}


def test_safe_next_only_allows_local_paths():
    assert safe_next("/incidents/3") == "/incidents/3"
    for hostile in ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "",
                    "/a\r\nSet-Cookie: x=1"]:
        assert safe_next(hostile) == "/", hostile


def test_logout_revokes_a_stolen_copy_of_the_cookie(login_as, csrf_of):
    c = login_as("liuqiang")
    stolen = c.cookies.get(auth.SESSION_COOKIE)
    c.post("/logout", data={"csrf_token": csrf_of(c.get("/").text)})
    thief = login_as("wangmin")  # any client; replace its cookie with the stolen one
    thief.cookies.clear()
    thief.cookies.set(auth.SESSION_COOKIE, stolen)
    assert thief.get("/").status_code == 303


def test_password_change_signs_out_every_session(login_as, session, clock):
    from api.users import set_password

    c = login_as("zhoufang")
    assert c.get("/").status_code == 200
    with pytest.raises(ValueError, match="at least"):
        set_password(session, login="zhoufang", password="short", clock=clock)
    with pytest.raises(LookupError):
        set_password(session, login="nobody", password="long-enough-password", clock=clock)
    set_password(session, login="zhoufang", password="a-new-long-password", clock=clock, temporary=False)
    session.commit()
    assert c.get("/").status_code == 303
    assert login_as("zhoufang", "a-new-long-password").get("/").status_code == 200
