"""Configuration documents kept in the database: the admin console's edits, applied without a restart.

Every configuration file under ``config/`` (``org.yaml``, ``sources.yaml``, ``checklists/xxx.yaml`` …) is a
*document*. Until an admin saves one it is read from its file; once saved, the database copy
(``config_documents``) wins over the file — the *effective* text — and every saved version is kept in
``config_revisions`` so the console can show the history, diffs and restore an old version.

The loaders of every layer read files by path, so a process that runs on database documents gets an *effective
configuration directory* (``materialise``): under ``<data dir>/config-effective/`` one directory per generation,
holding each database document as a file and, for every document still read from its file, a symbolic link to that
file (so a file edited on disk is still picked up where the loaders re-read it). ``effective_settings`` returns a
copy of the settings pointing at it; with no database documents the settings are returned unchanged.

``save_document`` does not validate: callers (``api.config_admin.validate_and_save``, ``yuqing config import``)
validate the whole configuration with the proposed text first. Core module: imports only ``yuqing.*``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Integer, String, Text, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from yuqing.clock import Clock
from yuqing.db import Base, UTCDateTime
from yuqing.settings import Settings

CHECKLISTS = "checklists"
# Every top-level document, in the order the console lists them, with what it is (shown to the admin).
DOCUMENTS: dict[str, str] = {
    "org.yaml": "组织架构：总行、分行、支行、网点及人员、角色与联系方式",
    "sources.yaml": "信息源：要抓取的新闻网站、RSS、列表页、接口与社交平台",
    "sources.public.yaml": "公开信息源目录（默认全部停用，启用后参与抓取）",
    "keywords.yaml": "监测方案：关键词（必含 / 任一 / 排除）",
    "levels.yaml": "事件分级（Ⅰ–Ⅳ级）、确认与报告时限、上报链、安静时段",
    "channels.yaml": "通知渠道：站内消息、邮件、企业微信 / 钉钉 / 飞书机器人、短信、电话",
    "risk.yaml": "风险评分：因子权重、各级阈值、热榜规则",
    "regulators.yaml": "监管报告对象：金融监管局、人民银行及报告模板",
    "statements.yaml": "口径模板：初步回应、澄清说明、致歉声明",
    "reports.yaml": "舆情日报 / 周报的发送对象与时间",
    "complaints.yaml": "投诉处理：时限、客户信息可见范围、考核目标",
    "evidence.yaml": "证据留存：删帖监测、截图任务",
    "holidays.yaml": "节假日与调休（chinesecalendar 未收录的年份）",
    "stories.yaml": "事件归并：同一事件在多长时间内继续接收新的报道",
}
CHECKLIST_DESCRIPTION = "处置清单：各步骤的负责角色与时限"
_NAME = re.compile(r"^(?:[a-z][a-z0-9_.-]*\.yaml|checklists/[A-Za-z0-9][A-Za-z0-9_.-]*\.yaml)$")
KEEP_GENERATIONS = 10  # effective directories kept under var/ (older ones are removed when a new one is written)
PRUNE_AFTER_SECONDS = 86400.0  # … once they are over a day old


class ConfigDocument(Base):
    """The effective database copy of one configuration document (wins over the file of the same name)."""

    __tablename__ = "config_documents"

    name: Mapped[str] = mapped_column(String(200), primary_key=True, doc="e.g. sources.yaml, checklists/run.yaml")
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, doc="1 for the first save, +1 for each save after")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(64))


class ConfigRevision(Base):
    """Every saved version of a document, never changed: the history, its diffs and what a restore goes back to."""

    __tablename__ = "config_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True,
                                    doc="grows with every save of any document: the configuration generation")
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    saved_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True)
class DocumentInfo:
    """One row of the console's list: a document, where its effective text comes from and its latest version."""

    name: str
    description: str
    source: str  # "database" or "file" ("missing": neither; the loaders then use their defaults or refuse)
    version: int  # 0 while it is read from its file
    updated_at: datetime | None
    updated_by: str | None
    path: Path  # the file it is (or was) read from

    @property
    def source_label(self) -> str:
        return {"database": "数据库", "file": "文件"}.get(self.source, "不存在")


class UnknownDocument(ValueError):
    """A name that is not one of the configuration documents (or tries to leave the configuration directory)."""


def is_document_name(name: str) -> bool:
    """A top-level document of ``DOCUMENTS`` or ``checklists/<name>.yaml`` (no other directories, no ``..``)."""
    return name in DOCUMENTS or (bool(_NAME.match(name)) and name.startswith(f"{CHECKLISTS}/") and ".." not in name)


def check_name(name: str) -> str:
    if not is_document_name(name):
        raise UnknownDocument(f"不是配置文件：{name}（可用：{'、'.join(DOCUMENTS)}、checklists/*.yaml）")
    return name


def describe(name: str) -> str:
    """The Chinese description of a document, for the console."""
    return CHECKLIST_DESCRIPTION if name.startswith(f"{CHECKLISTS}/") else DOCUMENTS.get(name, "")


def document_files(config_dir: Path | Settings) -> dict[str, Path]:
    """Each document's file. With ``Settings`` its per-file overrides count (``YUQING_SOURCES_FILE`` …); files that
    sit beside ``levels.yaml`` (channels, regulators, complaints) follow it, as the loaders do."""
    if isinstance(config_dir, Settings):
        s = config_dir
        base, org, sources, levels, checklists = (s.config_dir, s.org_path, s.sources_path, s.levels_path,
                                                  s.checklists_path)
    else:
        base = Path(config_dir)
        org, sources, levels, checklists = base / "org.yaml", base / "sources.yaml", base / "levels.yaml", \
            base / CHECKLISTS
    files = {name: base / name for name in DOCUMENTS}
    files.update({"org.yaml": org, "sources.yaml": sources, "levels.yaml": levels})
    for beside_levels in ("channels.yaml", "regulators.yaml", "complaints.yaml"):
        files[beside_levels] = levels.parent / beside_levels
    if checklists.is_dir():
        for path in sorted(checklists.glob("*.yaml")):
            files[f"{CHECKLISTS}/{path.name}"] = path
    return files


def file_for(config_dir: Path | Settings, name: str) -> Path:
    check_name(name)
    files = document_files(config_dir)
    if name in files:
        return files[name]
    checklists = config_dir.checklists_path if isinstance(config_dir, Settings) else Path(config_dir) / CHECKLISTS
    return checklists / name.split("/", 1)[1]


def sha256_of(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def get_document(session: Session, name: str) -> ConfigDocument | None:
    return session.get(ConfigDocument, name)


def effective_text(session: Session, config_dir: Path | Settings, name: str) -> str:
    """The database document if one was saved, else the file's text (``""`` when neither exists)."""
    doc = get_document(session, check_name(name))
    if doc is not None:
        return doc.content
    path = file_for(config_dir, name)
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def save_document(session: Session, name: str, content: str, *, actor: str, clock: Clock, note: str = "") -> int:
    """Store ``content`` as the next version of ``name`` (and a revision row); returns the new version number.

    Does not validate and does not commit: callers validate first and commit with their audit entry. Saving the
    text the document already has still makes a new version (a restore is recorded as such)."""
    check_name(name)
    now = clock.now()
    digest = sha256_of(content)
    doc = session.get(ConfigDocument, name, with_for_update=True)
    created = False
    if doc is None:
        # Two first saves of one document at once: both find no row. The loser's insert fails on the primary key;
        # it then locks the winner's row and becomes the next version instead of answering a server error.
        try:
            with session.begin_nested():
                doc = ConfigDocument(name=name, content=content, sha256=digest, version=1, updated_at=now,
                                     updated_by=actor)
                session.add(doc)
                session.flush()
            created = True
        except IntegrityError:
            doc = session.get(ConfigDocument, name, with_for_update=True, populate_existing=True)
            if doc is None:  # the winner rolled back in between: nothing to conflict with any more
                raise
    if not created:
        doc.content, doc.sha256, doc.version, doc.updated_at, doc.updated_by = (content, digest, doc.version + 1,
                                                                               now, actor)
    session.add(ConfigRevision(name=name, version=doc.version, content=content, sha256=digest, saved_at=now,
                               saved_by=actor, note=note))
    session.flush()
    return doc.version


def config_generation(session: Session) -> int:
    """The newest revision id (0 before the first save): changes with every save of any document. One indexed
    ``max()`` — cheap enough to ask before every request and every pipeline round."""
    return int(session.scalar(_GENERATION) or 0)


_GENERATION = select(func.coalesce(func.max(ConfigRevision.id), 0))  # built once: asked on every round


def database_documents(session: Session) -> dict[str, ConfigDocument]:
    return {d.name: d for d in session.scalars(select(ConfigDocument).order_by(ConfigDocument.name))}


def list_documents(session: Session, config_dir: Path | Settings) -> list[DocumentInfo]:
    """Every document — each top-level one, every checklist file and every checklist saved only in the database —
    with where its effective text comes from."""
    files = document_files(config_dir)
    saved = database_documents(session)
    names = list(DOCUMENTS) + sorted({n for n in [*files, *saved] if n.startswith(f"{CHECKLISTS}/")})
    out = []
    for name in names:
        doc = saved.get(name)
        path = files.get(name) or file_for(config_dir, name)
        source = "database" if doc is not None else ("file" if path.is_file() else "missing")
        out.append(DocumentInfo(name=name, description=describe(name), source=source,
                                version=doc.version if doc else 0, updated_at=doc.updated_at if doc else None,
                                updated_by=doc.updated_by if doc else None, path=path))
    return out


def revisions(session: Session, name: str) -> list[ConfigRevision]:
    """The saved versions of ``name``, newest first."""
    return list(session.scalars(select(ConfigRevision).where(ConfigRevision.name == check_name(name))
                                .order_by(ConfigRevision.version.desc())))


def revision(session: Session, name: str, version: int) -> ConfigRevision | None:
    return session.scalar(select(ConfigRevision).where(ConfigRevision.name == check_name(name),
                                                       ConfigRevision.version == version))


def document_label(name: str, version: int) -> str:
    """How an error names a document: ``sources.yaml (数据库版本 3)`` for a database copy, the name for a file."""
    return f"{name} (数据库版本 {version})" if version else name


# --- the effective configuration directory --------------------------------------------------------------------


def write_tree(target: Path, texts: Mapping[str, str], links: Mapping[str, Path]) -> None:
    """Write ``texts`` as files and ``links`` as symbolic links (to absolute paths) under ``target``."""
    (target / CHECKLISTS).mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (target / name).write_text(text, encoding="utf-8")
    for name, path in links.items():
        if name not in texts:
            os.symlink(Path(path).resolve(), target / name)


def effective_layout(session: Session, settings: Settings,
                     overlay: Mapping[str, str] | None = None) -> tuple[dict[str, str], dict[str, Path], str]:
    """What an effective directory holds: database texts (and ``overlay``, proposed texts that win over both),
    links to the files of the other documents, and a digest of it all (the directory's name)."""
    texts = {name: doc.content for name, doc in database_documents(session).items()}
    texts.update(overlay or {})
    links = {name: path for name, path in document_files(settings).items() if name not in texts and path.is_file()}
    h = hashlib.sha256()
    for name in sorted(texts):
        h.update(f"T{name}\0{sha256_of(texts[name])}\0".encode())
    for name in sorted(links):
        h.update(f"L{name}\0{links[name].resolve()}\0".encode())
    return texts, links, h.hexdigest()[:16]


def effective_settings(session: Session, settings: Settings) -> tuple[Settings, dict[str, int]]:
    """Settings whose configuration paths read the effective documents, and the database version of each
    document read from the database (for error messages). Unchanged settings when nothing is in the database."""
    versions = {name: doc.version for name, doc in database_documents(session).items()}
    if not versions:
        return settings, {}
    return materialise(session, settings), versions


def materialise(session: Session, settings: Settings, overlay: Mapping[str, str] | None = None,
                *, root: Path | None = None) -> Settings:
    """Write the effective configuration directory for the database's documents (plus ``overlay``) and return
    settings pointing at it. Directories are named by their content, written to a temporary name and renamed into
    place, so processes sharing a data directory never see a half-written one."""
    texts, links, digest = effective_layout(session, settings, overlay)
    base = root or settings.data_dir / "config-effective"
    target = base / f"gen-{config_generation(session)}-{digest}"
    if not target.is_dir():
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
        write_tree(tmp, texts, links)
        try:
            tmp.rename(target)
        except OSError:  # another process wrote the same directory first: same content, keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
        if root is None:
            _prune(base, keep=target)
    return pointing_at(settings, target)


def pointing_at(settings: Settings, directory: Path) -> Settings:
    """``settings`` reading every configuration document from ``directory`` (per-file overrides cleared)."""
    return settings.model_copy(update={"config_dir": directory, "org_file": None, "sources_file": None,
                                       "levels_file": None, "checklists_dir": None})


def _prune(base: Path, *, keep: Path) -> None:
    """Remove effective directories beyond the ``KEEP_GENERATIONS`` newest that are also over a day old (processes
    on other databases may share the data directory; one whose directory went anyway writes it again at its next
    generation check, ``runner.config_reload`` / ``api.config_live``)."""
    dirs = sorted((p for p in base.glob("gen-*") if p.is_dir() and p != keep), key=lambda p: p.stat().st_mtime)
    cutoff = time.time() - PRUNE_AFTER_SECONDS
    for old in dirs[: max(0, len(dirs) - (KEEP_GENERATIONS - 1))]:
        if old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)


def name_in(directory: Path, path: str | Path) -> str | None:
    """The document name of ``path`` inside an effective ``directory`` (None when it is elsewhere)."""
    try:
        rel = Path(path).relative_to(directory)
    except ValueError:
        return None
    name = rel.as_posix()
    return name if is_document_name(name) else None


def names_of(items: Iterable[DocumentInfo]) -> list[str]:
    return [i.name for i in items]
