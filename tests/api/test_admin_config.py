"""系统管理 · 配置文件 through the dashboard and ``/api/v1/config``: the editor validates with the start-up loaders and
keeps the typed text, saves versions with history, diff and restore, the API answers 422 with every problem, the
running app applies a saved org chart without restart, and export → import round-trips (import all or nothing)."""

from __future__ import annotations

import io
import re
import zipfile
from html import unescape

import pytest
from sqlalchemy import select

from api.models import User
from tests.api.conftest import csrf_of
from yuqing import config_store
from yuqing.models import AuditEntry
from yuqing.settings import PROJECT_ROOT


def _file(name: str) -> str:
    return (PROJECT_ROOT / "config" / name).read_text(encoding="utf-8")


@pytest.fixture
def admin(app, login_as):
    app.state.config_check_seconds = 0  # check the generation on every request (1 s in service)
    return login_as("admin")


def test_only_admins_see_the_console(admin, login_as):
    page = admin.get("/admin/config")
    assert page.status_code == 200
    for name in ("org.yaml", "sources.yaml", "levels.yaml", "risk.yaml", "checklists/"):
        assert name in page.text
    assert "系统管理" in admin.get("/").text
    monitor = login_as("wangmin")
    assert monitor.get("/admin/config").status_code == 403
    assert monitor.get("/admin/config/org.yaml").status_code == 403
    assert monitor.get("/admin/config/export").status_code == 403
    assert "系统管理" not in monitor.get("/").text


def test_editor_validates_saves_diffs_and_restores(admin, session):
    url = "/admin/config/risk.yaml"
    page = admin.get(url)
    original = _file("risk.yaml")
    assert page.status_code == 200 and unescape(re.search(r'<textarea[^>]*>(.*?)</textarea>', page.text, re.S)
                                                  .group(1)) == original
    csrf = csrf_of(page.text)
    broken = original.replace("thresholds:", "thresholds: 7\nunused:", 1)
    assert broken != original
    checked = admin.post(url, data={"csrf_token": csrf, "action": "validate", "content": broken, "base_version": 0})
    assert checked.status_code == 422
    assert "risk.yaml (本次修改)" in unescape(checked.text) and "unused" in unescape(checked.text)
    assert unescape(checked.text).count("thresholds: 7") == 1  # what was typed is kept in the editor
    refused = admin.post(url, data={"csrf_token": csrf, "action": "save", "content": broken, "base_version": 0})
    assert refused.status_code == 422 and config_store.get_document(session, "risk.yaml") is None

    first = original + "\n# 第一次调整\n"
    saved = admin.post(url, data={"csrf_token": csrf, "action": "save", "content": first, "note": "调参",
                                  "base_version": 0})
    assert saved.status_code == 303 and saved.headers["location"] == f"{url}?done=saved"
    second = first.replace("# 第一次调整", "# 第二次调整")
    assert admin.post(url, data={"csrf_token": csrf, "action": "save", "content": second,
                                 "base_version": 1}).status_code == 303
    stale = admin.post(url, data={"csrf_token": csrf, "action": "save", "content": first, "base_version": 1})
    assert stale.status_code == 409 and "版本 2" in stale.text  # someone saved since: not overwritten
    session.expire_all()
    assert config_store.get_document(session, "risk.yaml").content == second

    diff = admin.get(f"{url}?diff=2")
    assert "<del>-# 第一次调整</del>" in diff.text and "<ins>+# 第二次调整</ins>" in diff.text
    restored = admin.post(url, data={"csrf_token": csrf, "action": "restore", "version": 1})
    assert restored.status_code == 303
    session.expire_all()
    doc = config_store.get_document(session, "risk.yaml")
    assert (doc.version, doc.content, doc.updated_by) == (3, first, "admin")
    history = admin.get(url).text
    assert "恢复版本 1" in history and "调参" in history
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "config")).all()
    assert actions == ["config.save"] * 3
    # without the CSRF token nothing is saved
    assert admin.post(url, data={"action": "save", "content": original, "base_version": 3}).status_code == 403


def test_api_lists_reads_validates_and_saves_and_the_app_applies_an_org_change(app, client, token_for, session):
    app.state.config_check_seconds = 0
    headers = token_for("admin")
    listed = client.get("/api/v1/config", headers=headers).json()
    assert listed["total"] >= 14 and {"org.yaml", "levels.yaml"} <= {d["name"] for d in listed["items"]}
    doc = client.get("/api/v1/config/org.yaml", headers=headers).json()
    assert doc["source"] == "file" and doc["version"] == 0 and doc["content"] == _file("org.yaml")
    assert client.get("/api/v1/config/../settings.yaml", headers=headers).status_code == 404
    assert client.get("/api/v1/config/org.yaml", headers=token_for("wangmin")).status_code == 403

    bad = doc["content"].replace("name: 王敏", "name: ''", 1)
    answer = client.put("/api/v1/config/org.yaml", headers=headers, json={"content": bad})
    assert answer.status_code == 422, answer.text
    lines = [p["msg"] for p in answer.json()["detail"]]
    assert any(line.startswith("org.yaml (本次修改): people.0.name") for line in lines), answer.json()
    check = client.post("/api/v1/config/org.yaml/validate", headers=headers, json={"content": bad}).json()
    assert check["valid"] is False and check["problems"] == lines
    assert config_store.get_document(session, "org.yaml") is None

    renamed = doc["content"].replace("name: 王敏", "name: 王敏华", 1)
    saved = client.put("/api/v1/config/org.yaml", headers=headers, json={"content": renamed, "base_version": 0})
    assert saved.status_code == 200 and saved.json()["version"] == 1 and saved.json()["source"] == "database"
    assert client.put("/api/v1/config/org.yaml", headers=headers,
                      json={"content": renamed, "base_version": 0}).status_code == 409
    people = client.get("/api/v1/org", headers=headers).json()["people"]
    assert any(p["id"] == "wangmin" and p["name"] == "王敏华" for p in people)  # applied without restart
    session.expire_all()
    assert session.scalar(select(User.name).where(User.login == "wangmin")) == "王敏华"  # users follow the chart


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def test_export_import_round_trip_and_all_or_nothing(admin, session):
    exported = admin.get("/admin/config/export")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as zf:
        files = {n: zf.read(n).decode("utf-8") for n in zf.namelist()}
    assert files["levels.yaml"] == _file("levels.yaml") and any(n.startswith("checklists/") for n in files)
    csrf = csrf_of(admin.get("/admin/config").text)

    def upload(data: bytes, filename: str = "config.zip", **extra: str):
        return admin.post("/admin/config/import", data={"csrf_token": csrf, **extra},
                          files={"file": (filename, data, "application/octet-stream")})

    same = upload(exported.content)
    assert same.status_code == 200 and "未作修改" in same.text
    assert config_store.config_generation(session) == 0

    keywords = files["keywords.yaml"] + "\n# 导入测试\n"
    broken = {**files, "keywords.yaml": keywords, "risk.yaml": "weights: 1\n"}
    refused = upload(_zip({f"config/{n}": t for n, t in broken.items()}))  # a zipped config/ folder is fine
    assert refused.status_code == 422 and "risk.yaml (本次修改)" in unescape(refused.text)
    assert config_store.config_generation(session) == 0  # keywords.yaml was valid, but nothing is saved

    accepted = upload(_zip({**files, "keywords.yaml": keywords}))
    assert accepted.status_code == 200 and "已导入并生效：keywords.yaml" in accepted.text
    session.expire_all()
    assert config_store.get_document(session, "keywords.yaml").content == keywords
    single = upload(_file("holidays.yaml").encode() + b"\n# one file\n", filename="holidays.yaml")
    assert single.status_code == 200 and "holidays.yaml" in single.text
    again = admin.get("/admin/config/export")
    with zipfile.ZipFile(io.BytesIO(again.content)) as zf:
        assert zf.read("keywords.yaml").decode() == keywords
    assert upload(b"not a zip", filename="x.zip").status_code == 422
