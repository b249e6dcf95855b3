"""Dashboard users: seeding from the org chart, sign-in, API tokens and the units a user may see.

A user is a person of the org chart with a login. What they see is decided by their unit and roles: a liaison
sees their own unit and everything under it; monitors, commanders, leaders and admins see the whole branch their
unit belongs to (head-office staff see the whole bank).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import auth
from api.models import ApiToken, User
from yuqing.clock import Clock
from yuqing.org import ROLE_LABELS, OrgChart, Role

BRANCH_WIDE_ROLES = frozenset({Role.monitor, Role.commander, Role.leader, Role.admin})
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def seed_users(session: Session, org: OrgChart, *, password: str, clock: Clock) -> list[User]:
    """Create one user per org-chart person (login = person id); idempotent.

    Existing users keep their password; their name, roles and unit follow the org chart.
    """
    if not password:
        raise ValueError("seed_users needs a non-empty password")
    existing = {u.login: u for u in session.scalars(select(User).where(User.login.in_([p.id for p in org.people])))}
    users: list[User] = []
    for person in org.people:
        user = existing.get(person.id)
        roles = [r.value for r in person.roles]
        if user is None:
            user = User(login=person.id, person_id=person.id, name=person.name, roles=roles, unit_id=person.unit,
                        password_hash=auth.hash_password(password), active=True, created_at=clock.now())
            session.add(user)
        else:
            user.person_id, user.name, user.roles, user.unit_id = person.id, person.name, roles, person.unit
        users.append(user)
    session.flush()
    return users


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


MIN_PASSWORD_LENGTH = 10


def set_password(session: Session, *, login: str, password: str) -> User:
    """Replace a user's password and sign out all their sessions. Raises LookupError / ValueError."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        raise LookupError(f"no user with login {login!r}")
    user.password_hash = auth.hash_password(password)
    user.session_epoch = (user.session_epoch or 0) + 1
    session.flush()
    return user


def get_user_by_login(session: Session, *, login: str) -> User | None:
    """An active user by login."""
    user = session.scalar(select(User).where(User.login == login))
    return user if user is not None and user.active else None


def get_user(session: Session, *, user_id: int) -> User | None:
    """An active user by id."""
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def create_api_token(session: Session, *, user: User, name: str, clock: Clock) -> str:
    """Issue a bearer token for ``user``; returns the token itself, which is not stored anywhere."""
    token = auth.new_api_token()
    session.add(ApiToken(user_id=user.id, token_hash=auth.api_token_hash(token), name=name[:64],
                         created_at=clock.now()))
    session.flush()
    return token


def user_for_token(session: Session, *, token: str, clock: Clock) -> User | None:
    """The active user owning bearer ``token`` (and note its use), or None."""
    if not token.startswith(auth.API_TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == auth.api_token_hash(token)))
    if row is None:
        return None
    user = get_user(session, user_id=row.user_id)
    now = clock.now()
    if user is not None and (row.last_used_at is None or now - row.last_used_at > TOKEN_USE_RESOLUTION):
        row.last_used_at = now  # to the minute: a busy client must not turn every read into a write
    return user


def scope_root(org: OrgChart, *, unit_id: str, roles: list[str]) -> str:
    """The unit whose subtree a user with ``roles`` at ``unit_id`` may see."""
    if any(r in BRANCH_WIDE_ROLES for r in roles):
        return org.owning_branch(unit_id).id
    return unit_id


def scope_unit_ids(org: OrgChart, *, unit_id: str, roles: list[str]) -> frozenset[str]:
    """Every unit id a user may see: the scope root and everything under it (empty if the unit is unknown)."""
    try:
        root = scope_root(org, unit_id=unit_id, roles=roles)
    except KeyError:
        return frozenset()
    return frozenset([root, *(u.id for u in org.descendants(root))])


def role_labels(roles: list[str]) -> list[str]:
    """Chinese names of roles, in the order given (unknown roles are skipped)."""
    return [ROLE_LABELS[Role(r)] for r in roles if r in Role.__members__]
