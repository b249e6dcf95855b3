"""The bearer-token cache (``api.deps.TokenCache``): a token revoked or a user deactivated through this process stops
working on the next request; changed by another process (the CLI, another ``yuqing api`` worker: simulated here by
writing the row without an ORM session), it stops working once the cache's ``TOKEN_CACHE_S`` are up, not later."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from api import deps, users
from api.models import ApiToken, User


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _cached(app, now: FakeMonotonic) -> deps.TokenCache:
    app.state.token_cache = deps.TokenCache(now=now)
    return app.state.token_cache


def test_a_token_revoked_elsewhere_stops_working_when_the_cache_time_is_up(app, client, token_for, db):
    now = FakeMonotonic()
    _cached(app, now)
    headers = token_for("wangmin")
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    with db.kw["bind"].begin() as conn:  # another process revokes it: no ORM session of this one is involved
        conn.execute(update(ApiToken).values(revoked_at=ApiToken.created_at))
    now.t += deps.TOKEN_CACHE_S / 2
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200  # the documented window
    now.t += deps.TOKEN_CACHE_S / 2 + 0.01
    assert client.get("/api/v1/incidents", headers=headers).status_code == 401


def test_a_token_revoked_through_the_api_stops_working_at_once(app, client, token_for, session):
    now = FakeMonotonic()
    _cached(app, now)
    victim, admin = token_for("zhoufang"), token_for("wangmin")
    assert client.get("/api/v1/incidents", headers=victim).status_code == 200
    token_id = session.scalar(select(ApiToken.id).join(User).where(User.login == "zhoufang"))
    revoked = client.delete(f"/api/v1/tokens/{token_id}", headers=victim)  # its owner revokes it
    assert revoked.status_code == 200, revoked.text
    assert client.get("/api/v1/incidents", headers=victim).status_code == 401  # same instant: no time passed
    assert client.get("/api/v1/incidents", headers=admin).status_code == 200


def test_a_user_deactivated_in_this_process_is_refused_at_once(app, client, token_for, session, clock):
    now = FakeMonotonic()
    _cached(app, now)
    headers = token_for("zhoufang")
    assert client.get("/api/v1/alerts", headers=headers).status_code == 200
    user = session.scalar(select(User).where(User.login == "zhoufang"))
    users.deactivate(session, user=user, reason="测试", actor="wangmin", clock=clock)
    session.commit()
    assert client.get("/api/v1/alerts", headers=headers).status_code == 401


def test_guessed_tokens_are_not_remembered(app, client):
    cache = _cached(app, FakeMonotonic())
    for i in range(3):
        assert client.get("/api/v1/alerts", headers={"Authorization": f"Bearer yq_guess{i}"}).status_code == 401
    assert cache._entries == {}


def test_the_cache_forgets_everything_when_full(org):
    now = FakeMonotonic()
    cache = deps.TokenCache(max_entries=2, now=now)
    p = deps.Principal(user_id=1, login="a", name="a", roles=(), unit_id="u", unit_ids=frozenset(), csrf=None,
                       via="token")
    t, later = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    gen = users.credentials_generation
    cache.put("h1", org, later, p, generation=gen)
    cache.put("h2", org, later, p, generation=gen)
    assert cache.get("h1", org, t) is p
    assert cache.get("h1", org.model_copy(), t) is None  # a reloaded chart: the scope is worked out again
    assert cache.get("h1", org, later) is None  # the token's own expiry, on the app's clock
    cache.put("h3", org, later, p, generation=gen)
    assert cache.get("h1", org, t) is None and cache.get("h3", org, t) is p
    now.t += deps.TOKEN_CACHE_S
    assert cache.get("h3", org, t) is None


def test_a_token_revoked_while_its_check_reads_the_database_is_not_remembered(app, client, token_for, db, clock,
                                                                             monkeypatch):
    """The check reads the token (still active), then this process revokes it and commits, and another request's
    lookup empties the cache, all before the check stores what it read: the stale read is not remembered, so the
    next request is refused at once, not after ``TOKEN_CACHE_S``."""
    now = FakeMonotonic()
    cache = _cached(app, now)
    headers = token_for("zhoufang")
    assert client.get("/api/v1/alerts", headers=headers).status_code == 200  # last_used_at noted: no write below
    now.t += deps.TOKEN_CACHE_S + 0.01  # that check is forgotten: the next one reads the database
    real = users.user_for_token

    def read_then_revoked(session, *, token, clock):
        owner = real(session, token=token, clock=clock)
        assert owner is not None and not owner.token_use_noted
        with db() as other:
            token_id = other.scalar(select(ApiToken.id).join(User).where(User.login == "zhoufang"))
            users.revoke_api_token(other, token_id=token_id, actor="wangmin", clock=clock)
            other.commit()
        cache.get("another request's token", app.state.org, clock.now())  # sees the change: empties the cache
        return owner

    monkeypatch.setattr(users, "user_for_token", read_then_revoked)
    assert client.get("/api/v1/alerts", headers=headers).status_code == 200  # it began before the revocation
    monkeypatch.setattr(users, "user_for_token", real)
    assert client.get("/api/v1/alerts", headers=headers).status_code == 401  # no time passed
