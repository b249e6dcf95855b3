"""来源管理: sources added, edited, enabled and disabled through the API and the dashboard form — validated with
``SourceConfig`` (errors beside the fields, what was typed kept) and the whole configuration, saved into the
``sources.yaml`` / ``sources.public.yaml`` documents keeping the other entries and the file's comments, audited,
admins only."""

from __future__ import annotations

import re

import pytest
import yaml
from sqlalchemy import select

from api.yaml_entries import entries
from yuqing import config_store
from yuqing.models import AuditEntry
from yuqing.settings import PROJECT_ROOT

BOTH = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                              indirect=True)
NEW = {"id": "jcwb-rss", "name": "江城晚报网", "kind": "rss", "channel": "news",
       "url": "https://news.jcwb.example.cn/rss.xml", "authority": "local_media", "poll_interval": 300}


def own_text(session) -> str:
    session.rollback()
    return config_store.effective_text(session, PROJECT_ROOT / "config", "sources.yaml")


def catalogue_text(session) -> str:
    session.rollback()
    return config_store.effective_text(session, PROJECT_ROOT / "config", "sources.public.yaml")


@BOTH
def test_an_admin_adds_edits_and_disables_a_source_through_the_api(client, token_for, session, users):
    admin = token_for("admin")
    r = client.post("/api/v1/sources", json=NEW, headers=admin)
    assert r.status_code == 201, r.text
    text = own_text(session)
    assert entries(text, "sources") == [NEW]
    header = (PROJECT_ROOT / "config" / "sources.yaml").read_text(encoding="utf-8").split("sources: []")[0]
    assert text.startswith(header), "the file's comments are kept"

    r = client.post("/api/v1/sources", json={**NEW, "id": "second", "url": "https://b.example.cn/feed"},
                    headers=admin)
    assert r.status_code == 201, r.text
    r = client.patch("/api/v1/sources/jcwb-rss", json={"poll_interval": 900, "name": "江城晚报"}, headers=admin)
    assert r.status_code == 200, r.text
    r = client.patch("/api/v1/sources/second", json={"enabled": False}, headers=admin)
    assert r.status_code == 200 and r.json()["entry"]["enabled"] is False
    got = {e["id"]: e for e in entries(own_text(session), "sources")}
    assert got["jcwb-rss"]["poll_interval"] == 900 and got["jcwb-rss"]["name"] == "江城晚报"
    assert got["second"]["enabled"] is False and got["second"]["url"] == "https://b.example.cn/feed"

    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "source")).all()
    assert actions == ["source.create", "source.create", "source.update", "source.disable"]
    saves = session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "config")).all()
    assert saves == ["config.save"] * 4


def test_the_api_answers_422_with_each_problem_and_saves_nothing(client, token_for, session, users):
    admin = token_for("admin")
    bad = {**NEW, "id": "Bad Id", "poll_interval": 5, "kind": "listing"}
    r = client.post("/api/v1/sources", json=bad, headers=admin)
    assert r.status_code == 422
    where = {tuple(p["loc"]): p["msg"] for p in r.json()["detail"]}
    assert where[("body", "id")] == "格式不符"
    assert where[("body", "poll_interval")] == "不能小于 30"
    r = client.post("/api/v1/sources", json={**NEW, "url": "http://10.1.2.3/rss"}, headers=admin)
    assert r.status_code == 422 and "unsafe URL" in r.text, r.text  # the whole-configuration check (SSRF rule)
    r = client.post("/api/v1/sources", json={**NEW, "id": "people-finance-rss"}, headers=admin)  # a catalogue id
    assert r.status_code == 422 and "已存在" in r.text
    assert config_store.get_document(session, "sources.yaml") is None
    assert client.put("/api/v1/sources/nope", json=NEW, headers=admin).status_code == 404


def test_only_admins_change_sources(client, token_for, users):
    for login in ("wangmin", "liuqiang", "chenjing"):
        r = client.post("/api/v1/sources", json=NEW, headers=token_for(login))
        assert r.status_code == 403, login


def test_the_form_shows_errors_beside_fields_and_keeps_what_was_typed(login_as, csrf_of, session, users):
    admin = login_as("admin")
    page = admin.get("/admin/sources/new")
    assert page.status_code == 200
    form = {"csrf_token": csrf_of(page.text), "id": "jc-list", "name": "江城<列表>", "kind": "listing",
            "channel": "news", "url": "ftp://x.example.cn/", "authority": "local_media", "poll_interval": "10",
            "max_pages": "5", "max_items": "200", "enabled": "1", "respect_robots": "1",
            "extra": "json_api: [oops"}
    r = admin.post("/admin/sources/new", data=form)
    assert r.status_code == 422
    assert 'id="err-extra"' in r.text and "YAML 格式错误" in r.text
    form["extra"] = ""
    r = admin.post("/admin/sources/new", data=form)
    assert r.status_code == 422
    assert re.search(r'id="err-url"[^>]*>must be an http:// or https:// URL<', r.text), r.text
    assert re.search(r'id="err-poll_interval"[^>]*>不能小于 30<', r.text)
    assert 'value="江城&lt;列表&gt;"' in r.text and 'value="ftp://x.example.cn/"' in r.text  # kept, escaped
    assert config_store.get_document(session, "sources.yaml") is None

    form.update(url="https://x.example.cn/list_1.html", poll_interval="120", link_selector="ul.news a")
    r = admin.post("/admin/sources/new", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/admin/sources?saved=created"
    (entry,) = entries(own_text(session), "sources")
    assert entry["listing"] == {"link_selector": "ul.news a"} and entry["poll_interval"] == 120
    listing = admin.get("/admin/sources?saved=created")
    assert "江城&lt;列表&gt;" in listing.text and "来源已新增" in listing.text

    edit = admin.get("/admin/sources/jc-list/edit")
    assert 'value="ul.news a"' in edit.text
    form.update(csrf_token=csrf_of(edit.text), next_selector="a.next", name="江城列表")
    r = admin.post("/admin/sources/jc-list/edit", data=form)
    assert r.status_code == 303
    (entry,) = entries(own_text(session), "sources")
    assert entry["listing"] == {"link_selector": "ul.news a", "next_selector": "a.next"}
    assert entry["name"] == "江城列表"


def test_enabling_a_catalogue_entry_rewrites_only_its_enabled_value(login_as, csrf_of, session, users):
    admin = login_as("admin")
    page = admin.get("/admin/sources")
    assert page.status_code == 200 and "people-finance-rss" in page.text
    before = (PROJECT_ROOT / "config" / "sources.public.yaml").read_text(encoding="utf-8")
    r = admin.post("/admin/sources/people-finance-rss/enabled", data={"csrf_token": csrf_of(page.text), "enabled": "1"})
    assert r.status_code == 303, r.text
    after = catalogue_text(session)
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [("    enabled: false", "    enabled: true")]
    assert yaml.safe_load(after)["sources"][0]["enabled"] is True
    assert "已启用" in admin.get("/admin/sources").text


def test_a_private_network_source_needs_the_opt_in(app_with, token_for, session, users):
    from fastapi.testclient import TestClient

    body = {**NEW, "url": "http://127.0.0.1:8100/rss.xml", "private_network": "127.0.0.1:8100"}
    with TestClient(app_with(), follow_redirects=False) as client:
        r = client.post("/api/v1/sources", json=body, headers=token_for("admin"))
    assert r.status_code == 422 and "YUQING_ALLOW_PRIVATE_SOURCES" in r.text
    with TestClient(app_with(allow_private_sources=["jcwb-rss"]), follow_redirects=False) as client:
        r = client.post("/api/v1/sources", json=body, headers=token_for("admin"))
    assert r.status_code == 201, r.text


def test_non_admins_get_403_on_the_pages(login_as, users):
    monitor = login_as("wangmin")
    for path in ("/admin/sources", "/admin/sources/new", "/admin/sources/test-fetch", "/admin/keywords",
                 "/admin/channels"):
        assert monitor.get(path).status_code == 403, path
