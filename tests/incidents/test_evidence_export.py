"""Done-when of the evidence bullet of issue 14: the pipeline runs on the sim crisis, the incident it opens
exports an evidence package that verifies, and the package no longer verifies once one byte of a page changes
(or a listed file is missing, or a file is not listed, or the manifest is not one)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from crawlers.models import Article
from incidents.models import Incident
from runner.cli import app
from runner.runtime import build_runtime, run_round
from sim.demo_sources import DEMO_SOURCES_FILE, SIM_HOST_PORT_VARIABLE, demo_source_ids
from sim.scenario import DEFAULT_START, build_scenario
from sim.server import SimServer
from tests.sim.running import serving
from yuqing.clock import FrozenClock
from yuqing.db import make_engine
from yuqing.migrate import upgrade
from yuqing.settings import load_settings

TOKEN = "evidence-test-token"
runner = CliRunner()


@pytest.fixture(scope="module")
def crisis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, FrozenClock]]:
    """One pipeline round over the simulated internet three hours into the crisis, in a SQLite file."""
    clock = FrozenClock(DEFAULT_START + timedelta(hours=3))
    server = SimServer(clock, build_scenario(DEFAULT_START), weibo_token=TOKEN, slow_page_seconds=0.1)
    data = tmp_path_factory.mktemp("evidence")
    db = data / "crisis.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    mp = pytest.MonkeyPatch()
    mp.setenv("YUQING_WEIBO_TOKEN", TOKEN)
    try:
        with serving(server):
            settings = load_settings(data_dir=data, sources_file=DEMO_SOURCES_FILE,
                                     allow_private_sources=demo_source_ids())
            rt = build_runtime(settings, clock=clock, source_vars={SIM_HOST_PORT_VARIABLE: f"{server.host}:"
                                                                   f"{server.port}"}, engine=engine)
            rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "YUQING_RETRY_BACKOFF": 0.01}
            asyncio.run(run_round(rt))
    finally:
        mp.undo()
        engine.dispose()
    yield db, clock


def _cli(db: Path, clock: FrozenClock, *args: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("YUQING_DATA_DIR", str(db.parent))
    return runner.invoke(app, list(args), obj={"clock": clock})


def _export(crisis, tmp_path: Path, monkeypatch) -> tuple[Path, dict, Incident]:
    db, clock = crisis
    with Session(make_engine(f"sqlite:///{db}")) as s:
        incident = s.scalars(select(Incident).where(Incident.unit_id == "xinhualu")).first()
        assert incident is not None
        s.expunge(incident)
    out = tmp_path / "evidence.zip"
    result = _cli(db, clock, "evidence", "export", str(incident.id), "--out", str(out), monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert incident.number in result.output
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    return out, manifest, incident


def _rewrite(src: Path, dst: Path, change) -> None:
    """Copy a zip member by member, letting ``change(name, data)`` return new bytes (or None to drop it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = change(name, zin.read(name))
            if data is not None:
                zout.writestr(name, data)


def test_demo_incident_evidence_exports_and_verifies(crisis, tmp_path, monkeypatch):
    db, clock = crisis
    out, manifest, incident = _export(crisis, tmp_path, monkeypatch)
    assert manifest["incident"] == {"id": incident.id, "number": incident.number}
    assert manifest["exported_at"] == clock.now().isoformat()
    files = manifest["files"]
    assert len(files) >= 2
    with Session(make_engine(f"sqlite:///{db}")) as s, zipfile.ZipFile(out) as zf:
        for entry in files:
            data = zf.read(entry["path"])
            assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["size"]
            article = s.get(Article, entry["article_id"])
            assert article is not None and entry["url"] == article.url and entry["story_id"] == article.story_id
            assert entry["fetched_at"] and entry["headers"].get("Content-Type")
            assert entry["served_sha256"] == entry["sha256"] and not entry["truncated"]
    assert {f["kind"] for f in files} >= {"page"}  # news pages as served, not only API records

    ok = _cli(db, clock, "evidence", "verify", str(out), monkeypatch=monkeypatch)
    assert ok.exit_code == 0, ok.output
    assert f"{len(files)} 个文件" in ok.output and "校验通过" in ok.output


def test_one_changed_byte_fails_verification_naming_the_file(crisis, tmp_path, monkeypatch):
    db, clock = crisis
    out, manifest, _ = _export(crisis, tmp_path, monkeypatch)
    target = next(f["path"] for f in manifest["files"] if f["kind"] == "page")
    changed = tmp_path / "changed.zip"

    def flip(name: str, data: bytes) -> bytes:
        if name != target:
            return data
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]

    _rewrite(out, changed, flip)
    bad = _cli(db, clock, "evidence", "verify", str(changed), monkeypatch=monkeypatch)
    assert bad.exit_code == 1
    assert f"校验失败：文件 {target} 的 SHA-256 与清单不符" in bad.output

    as_json = _cli(db, clock, "evidence", "verify", str(changed), "--json", monkeypatch=monkeypatch)
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert not report["ok"] and [(p["path"], p["kind"]) for p in report["problems"]] == [(target, "mismatch")]

    # a byte changed inside the zip file itself (its CRC no longer matches) is caught as well
    stored = tmp_path / "stored-bytes.zip"
    _rewrite(out, stored, lambda name, data: data)  # ZIP_STORED: the page's bytes lie in the file as they are
    raw = bytearray(stored.read_bytes())
    with zipfile.ZipFile(stored) as zf:
        info = zf.getinfo(target)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.file_size // 2] ^= 0x01
    stored.write_bytes(bytes(raw))
    broken = _cli(db, clock, "evidence", "verify", str(stored), monkeypatch=monkeypatch)
    assert broken.exit_code == 1 and f"文件 {target}" in broken.output


def test_missing_unlisted_and_malformed_are_reported(crisis, tmp_path, monkeypatch):
    db, clock = crisis
    out, manifest, _ = _export(crisis, tmp_path, monkeypatch)
    first = manifest["files"][0]["path"]

    missing = tmp_path / "missing.zip"
    _rewrite(out, missing, lambda name, data: None if name == first else data)
    result = _cli(db, clock, "evidence", "verify", str(missing), monkeypatch=monkeypatch)
    assert result.exit_code == 1 and f"清单中的文件 {first} 不在证据包中" in result.output

    extra = tmp_path / "extra.zip"
    _rewrite(out, extra, lambda name, data: data)
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr("pages/added.html", b"<p>not fetched</p>")
    result = _cli(db, clock, "evidence", "verify", str(extra), monkeypatch=monkeypatch)
    assert result.exit_code == 1 and "文件 pages/added.html 不在清单中" in result.output

    for bad_manifest, says in ((b"{not json", "不是有效的 JSON"), (b'{"files": {}}', "缺少文件列表"),
                               (json.dumps({"files": [{"path": first}]}).encode(), "缺少 path 或 64 位 sha256")):
        malformed = tmp_path / "malformed.zip"
        _rewrite(out, malformed, lambda name, data, m=bad_manifest: m if name == "manifest.json" else data)
        result = _cli(db, clock, "evidence", "verify", str(malformed), monkeypatch=monkeypatch)
        assert result.exit_code == 2 and says in result.output, result.output

    nothing = tmp_path / "not-a-zip.zip"
    nothing.write_bytes(b"hello")
    result = _cli(db, clock, "evidence", "verify", str(nothing), monkeypatch=monkeypatch)
    assert result.exit_code == 2 and "无法读取证据包" in result.output
