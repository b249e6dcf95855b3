"""Evidence packages: an incident's articles as they were fetched, with hashes anyone can check.

``export_package`` writes a zip holding, for every article linked to the incident (the stories of its alerts and
its own story), each stored capture (``crawlers.models.ArticleCapture``) decompressed to the bytes as served
under ``pages/``, and a ``manifest.json`` naming each file with its SHA-256, size, URL, fetch time, HTTP status,
response headers and the article and story ids, plus the incident's number and the export time.
``verify_package`` re-hashes every file of such a zip against its manifest, needing nothing but the zip.

Every screenshot of those articles (``incidents.evidence_models.ArticleScreenshot``) goes under ``screenshots/``
as the PNG stored, with its SHA-256, the time it was taken, the URL, whether the live page or a stored capture was
rendered, and the article's deletion if the deletion watch found one.

A capture cut at ``capture_max_bytes`` is exported as kept: its manifest entry says ``truncated`` and gives the
SHA-256 and size of everything served beside those of the file. The packaged pages are crawled, hostile bytes:
they are only hashed and copied, never parsed or rendered here.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from crawlers.models import Article, ArticleCapture, CaptureKind
from crawlers.pipelines import captured_bytes
from incidents.evidence_models import ArticleScreenshot, ArticleWatch
from incidents.lifecycle import ACTIVE, ENDED
from incidents.models import Alert, Incident

MANIFEST = "manifest.json"
FORMAT = "yuqing-evidence/1"
_CHUNK = 1024 * 1024


class EvidenceError(Exception):
    """An export or a package that cannot be read; message in Chinese."""


@dataclass
class Problem:
    path: str
    kind: str  # mismatch | missing | unlisted
    message: str  # Chinese


@dataclass
class VerifyResult:
    files: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def incident_story_ids(session: Session, incident: Incident) -> set[int]:
    """The stories linked to an incident: its own and those of its alerts."""
    story_ids = set(session.scalars(select(Alert.story_id).where(Alert.incident_id == incident.id)))
    if incident.story_id is not None:
        story_ids.add(incident.story_id)
    return story_ids


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise EvidenceError(f"事件 {incident_id} 不存在")
    return incident


def incident_articles(session: Session, incident_id: int) -> tuple[Incident, list[Article]]:
    """The incident and the articles of its stories (what its evidence is about), by id."""
    incident = get_incident(session, incident_id)
    story_ids = incident_story_ids(session, incident)
    if not story_ids:
        return incident, []
    return incident, list(session.scalars(select(Article).where(Article.story_id.in_(sorted(story_ids)))
                                          .order_by(Article.id)))


def watched_articles(session: Session, now: datetime, *, closed_for_days: int) -> dict[int, bool]:
    """Article id → whether an active incident links it, for every article of an active incident or of one
    closed less than ``closed_for_days`` ago (what the screenshot job and the deletion watch look after)."""
    since = now - timedelta(days=closed_for_days)
    incidents = session.scalars(select(Incident).where(or_(
        Incident.status.in_([str(s) for s in ACTIVE]),
        and_(Incident.status.in_([str(s) for s in ENDED]), Incident.closed_at.is_not(None),
             Incident.closed_at >= since))).order_by(Incident.id))
    watched: dict[int, bool] = {}
    for incident in incidents:
        story_ids = incident_story_ids(session, incident)
        if not story_ids:
            continue
        active = incident.status in ACTIVE
        for article_id in session.scalars(select(Article.id).where(Article.story_id.in_(sorted(story_ids)))):
            watched[article_id] = watched.get(article_id, False) or active
    return watched


def incident_captures(session: Session, incident_id: int) -> tuple[Incident, list[tuple[Article, ArticleCapture]]]:
    """The incident and every capture of the articles of its stories, oldest fetch first."""
    incident = get_incident(session, incident_id)
    story_ids = incident_story_ids(session, incident)
    if not story_ids:
        return incident, []
    rows = session.execute(
        select(Article, ArticleCapture).join(ArticleCapture, ArticleCapture.article_id == Article.id)
        .where(Article.story_id.in_(sorted(story_ids)))
        .order_by(ArticleCapture.fetched_at, ArticleCapture.id)).all()
    return incident, [(a, c) for a, c in rows]


def export_package(session: Session, incident_id: int, out: Path, now: datetime) -> dict[str, Any]:
    """Write the incident's evidence zip to ``out``; returns the manifest written."""
    incident, captures = incident_captures(session, incident_id)
    files: list[dict[str, Any]] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for article, cap in captures:
            data = captured_bytes(cap)
            ext = "json" if cap.kind == CaptureKind.api_record else "html"
            path = f"pages/article-{article.id}-capture-{cap.id}.{ext}"
            zf.writestr(path, data)
            files.append({
                "path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                "url": cap.url, "fetched_at": cap.fetched_at.isoformat(), "status": cap.status,
                "headers": cap.headers or {}, "kind": cap.kind, "article_id": article.id,
                "story_id": article.story_id, "title": article.title,
                "truncated": cap.truncated, "served_sha256": cap.sha256, "served_size": cap.size,
            })
        shots = _write_screenshots(session, zf, incident)
        files.extend(shots)
        manifest = {
            "format": FORMAT,
            "incident": {"id": incident.id, "number": incident.number},
            "exported_at": now.isoformat(),
            "files": files,
        }
        zf.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest


def _write_screenshots(session: Session, zf: zipfile.ZipFile, incident: Incident) -> list[dict[str, Any]]:
    """Every screenshot of the incident's articles under ``screenshots/``, oldest first; their manifest entries."""
    story_ids = incident_story_ids(session, incident)
    if not story_ids:
        return []
    rows = session.execute(
        select(Article, ArticleScreenshot).join(ArticleScreenshot, ArticleScreenshot.article_id == Article.id)
        .where(Article.story_id.in_(sorted(story_ids)))
        .order_by(ArticleScreenshot.taken_at, ArticleScreenshot.id)).all()
    watches = {w.article_id: w for w in session.scalars(
        select(ArticleWatch).where(ArticleWatch.article_id.in_({a.id for a, _ in rows})))} if rows else {}
    entries = []
    for article, shot in rows:
        path = f"screenshots/article-{article.id}-screenshot-{shot.id}.png"
        zf.writestr(path, shot.png)
        watch = watches.get(article.id)
        entries.append({
            "path": path, "sha256": hashlib.sha256(shot.png).hexdigest(), "size": len(shot.png),
            "kind": "screenshot", "url": shot.url, "taken_at": shot.taken_at.isoformat(),
            "render_source": shot.render_source, "capture_id": shot.capture_id, "http_status": shot.http_status,
            "page_sha256": shot.page_sha256, "recorded_sha256": shot.sha256, "clipped": shot.clipped,
            "page_height": shot.page_height, "note": shot.note, "article_id": article.id,
            "story_id": article.story_id, "title": article.title,
            "article_deleted_at": watch.deleted_at.isoformat() if watch and watch.deleted_at else None,
        })
    return entries


def verify_package(path: Path) -> VerifyResult:
    """Check every file of an evidence zip against its manifest: problems in manifest order (a changed file, a
    listed file missing), then files in the zip the manifest does not list. Raises ``EvidenceError`` for what is
    not a readable package (not a zip, no manifest, a manifest that is not the expected JSON)."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise EvidenceError(f"无法读取证据包 {path}：{exc}") from exc
    with zf:
        names = set(zf.namelist())
        if MANIFEST not in names:
            raise EvidenceError(f"证据包中没有 {MANIFEST}")
        entries = _read_manifest(zf)
        result = VerifyResult(files=len(entries))
        listed: set[str] = set()
        for entry in entries:
            name, expected = entry["path"], entry["sha256"].lower()
            listed.add(name)
            if name not in names:
                result.problems.append(Problem(name, "missing", f"清单中的文件 {name} 不在证据包中"))
                continue
            digest, size = _hash_member(zf, name)
            if digest != expected:
                result.problems.append(Problem(name, "mismatch", f"文件 {name} 的 SHA-256 与清单不符（清单 "
                                                                 f"{expected}，实际 {digest}，{size} 字节）"))
        for name in sorted(names - listed - {MANIFEST}):
            if not name.endswith("/"):
                result.problems.append(Problem(name, "unlisted", f"文件 {name} 不在清单中"))
    return result


def _read_manifest(zf: zipfile.ZipFile) -> list[dict[str, Any]]:
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise EvidenceError(f"{MANIFEST} 不是有效的 JSON：{exc}") from exc
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list):
        raise EvidenceError(f"{MANIFEST} 格式错误：缺少文件列表 files")
    seen: set[str] = set()
    for i, entry in enumerate(files, 1):
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str) and entry["path"]
                and isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64):
            raise EvidenceError(f"{MANIFEST} 格式错误：第 {i} 个文件条目缺少 path 或 64 位 sha256")
        if entry["path"] in seen:
            raise EvidenceError(f"{MANIFEST} 格式错误：文件 {entry['path']} 重复列出")
        seen.add(entry["path"])
    return files


def _hash_member(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    try:
        with zf.open(name) as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    # a changed byte fails the member's CRC check, or its decompression: the file does not match either way
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        return f"（无法读取：{exc}）", size
    return digest.hexdigest(), size
