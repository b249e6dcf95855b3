"""Dashboard users: seeding from the org chart, sign-in, passwords, API tokens and the units a user may see.

A user is a person of the org chart with a login. What they see is decided by their unit and roles: a liaison
sees their own unit and everything under it; monitors, commanders, leaders and admins see the whole branch their
unit belongs to (head-office staff see the whole bank).

The org chart is the source of truth for who may sign in: ``sync_with_org`` deactivates the user of every person
who has left it (sessions signed out, tokens revoked, audited), and every start of ``yuqing run`` / ``yuqing api``
runs it. Passwords set by someone else (seeding, an admin's reset) must be changed by the user at the next
sign-in. API tokens always expire and can be listed and revoked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from api import audit, auth
from api.models import ApiToken, User
from yuqing.clock import Clock
from yuqing.org import ROLE_LABELS, OrgChart, Role
from yuqing.text import repair_text

# --- who may do what changed in this process: bearer tokens checked earlier are read again (api.deps.TokenCache) ---
credentials_generation = 0


def credentials_changed(session: Session) -> None:
    """Note that a token was revoked or a user's standing (active, roles, unit) changed through ``session``: counted
    now and again when the session commits, so a request that read the old row just before the commit does not
    keep it (other processes see the change when their cache's few seconds are up)."""
    global credentials_generation
    credentials_generation += 1
    session.info["credentials_changed"] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    global credentials_generation
    if session.info.pop("credentials_changed", False):
        credentials_generation += 1

BRANCH_WIDE_ROLES = frozenset({Role.monitor, Role.commander, Role.leader, Role.admin, Role.legal})
TOKEN_USE_RESOLUTION = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 10
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 365
LEFT_ORG_REASON = "人员已不在组织架构中"


class AccountError(ValueError):
    """A refused account change; ``str()`` is a Chinese message fit for the user."""


def seed_users(session: Session, org: OrgChart, *, password: str, clock: Clock,
               must_change: bool = True, one_hash: bool = False) -> list[User]:
    """Create one user per org-chart person (login = person id); idempotent.

    New users get ``password`` as an initial password that must be changed at first sign-in (``must_change``;
    only the throwaway demo database turns that off). Existing users keep their password; their name, roles and
    unit follow the org chart. Users of people no longer in the chart are deactivated (``sync_with_org``).
    ``one_hash``, for the demo only (its password is published): every new user gets the same argon2 hash
    (one salt) instead of a hash of their own, 0.2 s of CPU each at the default cost.
    """
    if not password:
        raise ValueError("seed_users needs a non-empty password")
    existing = {u.login: u for u in session.scalars(select(User).where(User.login.in_([p.id for p in org.people])))}
    users: list[User] = []
    shared_hash: str | None = None
    for person in org.people:
        user = existing.get(person.id)
        roles = [r.value for r in person.roles]
        if user is None:
            if one_hash:
                shared_hash = shared_hash or auth.hash_password(password)
            user = User(login=person.id, person_id=person.id, name=person.name, roles=roles, unit_id=person.unit,
                        password_hash=shared_hash or auth.hash_password(password), active=True,
                        created_at=clock.now(),
                        must_change_password=must_change)
            session.add(user)
        else:
            user.person_id, user.name, user.roles, user.unit_id = person.id, person.name, roles, person.unit
            credentials_changed(session)
        users.append(user)
    session.flush()
    sync_with_org(session, org, clock=clock)
    return users


@dataclass
class SyncReport:
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)


def sync_with_org(session: Session, org: OrgChart, *, clock: Clock) -> SyncReport:
    """Make users follow the org chart: name, roles and unit updated; people who left deactivated.

    A deactivated user's sessions are signed out and tokens revoked at once, and the audit log says why. A
    person who comes back is not reactivated silently: an admin runs ``yuqing user activate``.
    """
    people = {p.id: p for p in org.people}
    report = SyncReport()
    for user in session.scalars(select(User).where(User.active.is_(True))):
        person = people.get(user.person_id or user.login)
        if person is None:
            deactivate(session, user=user, reason=LEFT_ORG_REASON, actor="system", clock=clock)
            report.deactivated.append(user.login)
            continue
        roles = [r.value for r in person.roles]
        if (user.name, list(user.roles or []), user.unit_id) != (person.name, roles, person.unit):
            user.name, user.roles, user.unit_id = person.name, roles, person.unit
            credentials_changed(session)
            report.updated.append(user.login)
    session.flush()
    return report


def deactivate(session: Session, *, user: User, reason: str, actor: str, clock: Clock) -> None:
    """Stop a user from signing in: sessions signed out, every token revoked, audited."""
    now = clock.now()
    user.active = False
    credentials_changed(session)
    user.deactivated_at, user.deactivated_reason = now, reason[:200]
    user.session_epoch = (user.session_epoch or 0) + 1
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
        token.revoked_at, token.revoked_by = now, actor[:64]
    audit.record(session, clock=clock, actor=actor, action="user.deactivated", object_type="user",
                 object_id=user.login, detail=f"账号已停用：{reason}")


def activate(session: Session, *, login: str, org: OrgChart, actor: str, clock: Clock) -> User:
    """Let a deactivated user sign in again, if their person is in the org chart; they must set a new password."""
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        raise LookupError(f"no user with login {login!r}")
    if (user.person_id or user.login) not in {p.id for p in org.people}:
        raise AccountError(f"{login} 不在组织架构中，不能启用")
    user.active, user.deactivated_at, user.deactivated_reason = True, None, None
    user.must_change_password = True
    audit.record(session, clock=clock, actor=actor, action="user.activated", object_type="user",
                 object_id=user.login, detail="账号已重新启用（须修改密码）")
    session.flush()
    return user


def authenticate(session: Session, *, login: str, password: str) -> User | None:
    """The active user with this login and password, or None (taking as long either way)."""
    user = session.scalar(select(User).where(User.login == login)) if login else None
    if user is None or not user.active:
        auth.burn_password_check(password)
        return None
    if not auth.verify_password(user.password_hash, password):
        return None
    if auth.password_needs_rehash(user.password_hash):
        user.password_hash = auth.hash_password(password)
    return user


def set_password(session: Session, *, login: str, password: str, clock: Clock, temporary: bool = True,
                 actor: str = "admin") -> User:
    """An admin sets a user's password and signs out all their sessions. Raises LookupError / AccountError.

    A password someone else chose is ``temporary``: the user must replace it at the next sign-in.
    """
    _check_strength(password, login=login)
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        raise LookupError(f"no user with login {login!r}")
    user.password_hash = auth.hash_password(password)
    user.session_epoch = (user.session_epoch or 0) + 1
    user.must_change_password = temporary
    user.password_changed_at = clock.now()
    audit.record(session, clock=clock, actor=actor, action="password.reset", object_type="user",
                 object_id=user.login, detail="管理员重设密码" + ("（须在下次登录时修改）" if temporary else ""))
    session.flush()
    return user


def change_own_password(session: Session, *, user: User, current: str, new: str, clock: Clock) -> None:
    """The user replaces their own password (after proving the current one); other sessions are signed out."""
    if not auth.verify_password(user.password_hash, current):
        raise AccountError("当前密码不正确")
    if new == current:
        raise AccountError("新密码不能与当前密码相同")
    _check_strength(new, login=user.login)
    user.password_hash = auth.hash_password(new)
    user.must_change_password = False
    user.password_changed_at = clock.now()
    user.session_epoch = (user.session_epoch or 0) + 1
    audit.record(session, clock=clock, actor=user.login, action="password.changed", object_type="user",
                 object_id=user.login, detail="用户修改了自己的密码")
    session.flush()


def _check_strength(password: str, *, login: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符 (password must have at least "
                           f"{MIN_PASSWORD_LENGTH} characters)")
    if login and login.lower() in password.lower():
        raise AccountError("密码不能包含登录名")
    if len(set(password)) < 4:
        raise AccountError("密码过于简单")


def get_user_by_login(session: Session, *, login: str) -> User | None:
    """An active user by login."""
    user = session.scalar(select(User).where(User.login == login))
    return user if user is not None and user.active else None


def get_user(session: Session, *, user_id: int) -> User | None:
    """An active user by id."""
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


# --- API tokens ------------------------------------------------------------------------------------------------
def create_api_token(session: Session, *, user: User, name: str, clock: Clock,
                     days: int = DEFAULT_TOKEN_DAYS, actor: str | None = None) -> str:
    """Issue a bearer token for ``user`` valid for ``days``; returns the token itself, which is not stored."""
    return issue_api_token(session, user=user, name=name, clock=clock, days=days, actor=actor)[0]


def issue_api_token(session: Session, *, user: User, name: str, clock: Clock, days: int = DEFAULT_TOKEN_DAYS,
                    actor: str | None = None) -> tuple[str, ApiToken]:
    """``create_api_token`` returning the stored row as well."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise AccountError(f"令牌有效期须为 1–{MAX_TOKEN_DAYS} 天")
    token = auth.new_api_token()
    now = clock.now()
    row = ApiToken(user_id=user.id, token_hash=auth.api_token_hash(token),
                   name=repair_text(name).strip()[:64] or "token", created_at=now,
                   expires_at=now + timedelta(days=days))
    session.add(row)
    session.flush()
    audit.record(session, clock=clock, actor=actor or user.login, action="token.created", object_type="api_token",
                 object_id=row.id, detail=f"为 {user.login} 签发 API 令牌「{row.name}」，{days} 天后过期")
    return token, row


def token_expiry(row: ApiToken) -> datetime:
    """When a token stops working (tokens from before expiry existed: the default lifetime after creation)."""
    return row.expires_at or row.created_at + timedelta(days=DEFAULT_TOKEN_DAYS)


def token_status(row: ApiToken, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if token_expiry(row) <= now else "active"


def list_api_tokens(session: Session, *, user_id: int | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens (newest first) with their owner's login; one user's when ``user_id`` is given."""
    stmt = select(ApiToken, User.login).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id.desc())
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return [(row, login) for row, login in session.execute(stmt)]


def revoke_api_token(session: Session, *, token_id: int, actor: str, clock: Clock,
                     owner_id: int | None = None) -> ApiToken:
    """Revoke a token (idempotent). With ``owner_id`` only that user's token may be revoked (LookupError else)."""
    row = session.get(ApiToken, token_id)
    if row is None or (owner_id is not None and row.user_id != owner_id):
        raise LookupError(f"令牌不存在（编号 {token_id}）")
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = clock.now(), actor[:64]
        credentials_changed(session)
        audit.record(session, clock=clock, actor=actor, action="token.revoked", object_type="api_token",
                     object_id=row.id, detail=f"API 令牌「{row.name}」已吊销")
    session.flush()
    return row


@dataclass(frozen=True)
class TokenOwner:
    """What a request needs of a bearer token's owner (the columns, not an ORM object: this runs on every API
    request, and building a ``User`` and an ``ApiToken`` with their identity-map bookkeeping was a measurable share
    of a short list's CPU — docs/benchmarks.md, API throughput)."""

    id: int
    login: str
    name: str
    roles: list[str]
    unit_id: str
    must_change_password: bool
    token_use_noted: bool  # last_used_at was moved: the caller commits
    token_expires_at: datetime  # when the token stops working


def user_for_token(session: Session, *, token: str, clock: Clock) -> TokenOwner | None:
    """The active user owning bearer ``token`` if it is neither revoked nor expired (and note its use), or None.

    Read from the database on every call. The API asks it through ``api.deps.TokenCache``, which believes a token
    it checked for ``TOKEN_CACHE_S`` seconds: a token revoked or a user deactivated by another process (the CLI,
    another API worker) can keep working that long there; through the same process, not at all."""
    if not token.startswith(auth.API_TOKEN_PREFIX):
        return None
    # the token and its owner in one statement, plain columns
    found = session.execute(
        select(ApiToken.id, ApiToken.created_at, ApiToken.expires_at, ApiToken.revoked_at, ApiToken.last_used_at,
               User.id, User.login, User.name, User.roles, User.unit_id, User.must_change_password, User.active)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == auth.api_token_hash(token))).first()
    now = clock.now()
    if found is None:
        return None
    token_id, created_at, expires_at, revoked_at, last_used_at, uid, login, name, roles, unit_id, must, active = found
    expires = expires_at or created_at + timedelta(days=DEFAULT_TOKEN_DAYS)
    if revoked_at is not None or expires <= now:
        return None
    if not active:
        return None
    noted = last_used_at is None or now - last_used_at > TOKEN_USE_RESOLUTION
    if noted:  # to the minute: a busy client must not turn every read into a write
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return TokenOwner(id=uid, login=login, name=name, roles=list(roles or []), unit_id=unit_id,
                      must_change_password=bool(must), token_use_noted=noted, token_expires_at=expires)


def scope_root(org: OrgChart, *, unit_id: str, roles: list[str]) -> str:
    """The unit whose subtree a user with ``roles`` at ``unit_id`` may see."""
    if any(r in BRANCH_WIDE_ROLES for r in roles):
        return org.owning_branch(unit_id).id
    return unit_id


def scope_unit_ids(org: OrgChart, *, unit_id: str, roles: list[str]) -> frozenset[str]:
    """Every unit id a user may see: the scope root and everything under it (empty if the unit is unknown).

    Remembered per org chart object (the chart is never changed in place: a reload builds a new one), because
    walking the tree costs a quadratic scan of the units on every request of a user at the head office."""
    entry = _SCOPES.get(id(org))
    if entry is None or entry[0] is not org:  # keeping the chart in the entry keeps its id from being reused
        if len(_SCOPES) >= 8:
            _SCOPES.clear()
        entry = _SCOPES[id(org)] = (org, {})
    key = (unit_id, tuple(sorted(roles)))
    found = entry[1].get(key)
    if found is None:
        found = entry[1][key] = _scope_unit_ids(org, unit_id=unit_id, roles=roles)
    return found


_SCOPES: dict[int, tuple[OrgChart, dict[tuple[str, tuple[str, ...]], frozenset[str]]]] = {}


def _scope_unit_ids(org: OrgChart, *, unit_id: str, roles: list[str]) -> frozenset[str]:
    try:
        root = scope_root(org, unit_id=unit_id, roles=roles)
    except KeyError:
        return frozenset()
    return frozenset([root, *(u.id for u in org.descendants(root))])


def scope_above_ids(org: OrgChart, *, unit_id: str, roles: list[str]) -> frozenset[str]:
    """The units above a user's scope (the head office for a branch user, nothing for the head office).

    A story of one of them is visible to the user too when one of its articles names a unit of the scope — a
    head-office post naming the places of several branches (``crawlers.matching`` rule j) — so that each branch
    it concerns sees it (``api.listings.reaches``)."""
    try:
        root = scope_root(org, unit_id=unit_id, roles=roles)
        return frozenset(u.id for u in org.ancestors(root)[1:])
    except KeyError:
        return frozenset()


def role_labels(roles: list[str]) -> list[str]:
    """Chinese names of roles, in the order given (unknown roles are skipped)."""
    return [ROLE_LABELS[Role(r)] for r in roles if r in Role.__members__]
