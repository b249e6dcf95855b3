"""系统管理 · 用户与角色 (``/admin/users``): the people of the org chart with their accounts.

A roles change is an org.yaml save (validated, versioned, applied to the user at once); password reset, token
revocation, deactivation and activation act on the account and are audited; non-admins are refused."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from api.models import ApiToken, User
from api.users import create_api_token
from tests.api.conftest import csrf_of
from yuqing import config_store
from yuqing.models import AuditEntry


def _user(session, login: str) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.login == login))


def test_users_page_lists_people_and_acts_on_accounts(app, login_as, session, clock, users):
    app.state.config_check_seconds = 0
    admin = login_as("admin")
    page = admin.get("/admin/users")
    assert page.status_code == 200
    assert "王敏" in page.text and "wangmin" in page.text and "从未" in page.text
    csrf = csrf_of(page.text)
    assert login_as("wangmin").get("/admin/users").status_code == 403

    reset = admin.post("/admin/users/reset-password", data={"csrf_token": csrf, "login": "wujun"})
    assert reset.status_code == 200
    password = re.search(r'<code class="temporary-password">([^<]+)</code>', reset.text).group(1)
    assert _user(session, "wujun").must_change_password is True
    signed_in = login_as("wujun", unescape(password))  # the temporary password works, and must be changed
    assert signed_in.get("/").headers["location"] == "/account/password"

    create_api_token(session, user=users["zhengli"], name="integration", clock=clock)
    session.commit()
    assert admin.post("/admin/users/revoke-tokens", data={"csrf_token": csrf, "login": "zhengli"}).status_code == 303
    session.expire_all()
    assert all(t.revoked_at is not None for t in session.scalars(select(ApiToken).where(
        ApiToken.user_id == users["zhengli"].id)))

    assert admin.post("/admin/users/deactivate", data={"csrf_token": csrf, "login": "zhengli"}).status_code == 422
    assert admin.post("/admin/users/deactivate", data={"csrf_token": csrf, "login": "admin",
                                                      "reason": "x"}).status_code == 409
    assert admin.post("/admin/users/deactivate", data={"csrf_token": csrf, "login": "zhengli",
                                                      "reason": "调岗"}).status_code == 303
    assert _user(session, "zhengli").active is False
    assert "调岗" in admin.get("/admin/users").text
    assert admin.post("/admin/users/activate", data={"csrf_token": csrf, "login": "zhengli"}).status_code == 303
    assert _user(session, "zhengli").active is True and _user(session, "zhengli").must_change_password is True
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "admin")))
    assert {"password.reset", "token.revoked", "user.deactivated", "user.activated"} <= actions


def test_changing_roles_saves_org_yaml_and_applies_it(app, login_as, session):
    app.state.config_check_seconds = 0
    admin = login_as("admin")
    csrf = csrf_of(admin.get("/admin/users").text)
    done = admin.post("/admin/users/roles", data={"csrf_token": csrf, "login": "zhengli",
                                                   "roles": ["liaison", "monitor"]})
    assert done.status_code == 303, done.text
    session.expire_all()
    doc = config_store.get_document(session, "org.yaml")
    assert doc.version == 1 and "修改 zhengli 的角色" in config_store.revisions(session, "org.yaml")[0].note
    assert doc.content.startswith("# Org chart of the fictional")  # the file's comments are kept
    assert sorted(_user(session, "zhengli").roles) == ["liaison", "monitor"]
    assert sorted(str(r) for r in app.state.org.person("zhengli").roles) == ["liaison", "monitor"]
    # an admin cannot drop their own admin role here, and unknown roles are refused
    assert admin.post("/admin/users/roles", data={"csrf_token": csrf, "login": "admin",
                                                   "roles": ["monitor"]}).status_code == 409
    assert admin.post("/admin/users/roles", data={"csrf_token": csrf, "login": "zhengli",
                                                   "roles": ["superuser"]}).status_code == 422
    assert config_store.get_document(session, "org.yaml").version == 1
