"""Validate and save configuration documents: the admin console's and ``yuqing config import``'s one way in.

A proposed text is checked the way start-up checks the configuration: the effective configuration (database
documents over files, ``yuqing.config_store``) is written to a temporary directory with the proposed text in place
of the document's current one, and ``api.config_check.config_problems`` — the same pydantic loaders and cross-file
checks as ``yuqing check-config`` — runs over it. Each problem is one line as check-config prints it,
``file: field: reason``, the file named as the admin knows it: ``sources.yaml (本次修改)`` for the text being
checked, ``org.yaml (数据库版本 3)`` for a database document, the file's path otherwise.

Problems that another document already had before the change are not blamed on it (``pre_existing``): otherwise
two broken files could never be fixed one at a time. Everything the change breaks elsewhere — a person removed
from org.yaml whom levels.yaml's reporting chain names — is reported and stops the save.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from api import audit
from api.config_check import config_problems
from yuqing import config_store
from yuqing.clock import Clock
from yuqing.settings import Settings

PROPOSED = "本次修改"
MAX_DOCUMENT_CHARS = 1_000_000


@dataclass
class Validation:
    """What checking some proposed documents found: the problems that stop a save, and those that were there
    already in documents the change did not touch (shown, not blocking)."""

    problems: list[str] = field(default_factory=list)
    pre_existing: list[str] = field(default_factory=list)


def problem_lines(session: Session, settings: Settings, overlay: Mapping[str, str]) -> list[tuple[str | None, str]]:
    """``(document name or None, line)`` for every problem of the effective configuration with ``overlay`` in."""
    versions = {name: doc.version for name, doc in config_store.database_documents(session).items()}
    files = config_store.document_files(settings)
    with tempfile.TemporaryDirectory(prefix="yuqing-config-check-") as tmp:
        root = Path(tmp)
        effective = config_store.materialise(session, settings, overlay, root=root)
        directory = effective.config_dir
        out = []
        for path, fld, reason in config_problems(effective):
            name = config_store.name_in(directory, path)
            if name is None:
                label = str(path)
            elif name in overlay:
                label = f"{name} ({PROPOSED})"
            elif name in versions:
                label = config_store.document_label(name, versions[name])
            else:
                label = str(files.get(name, path))
            out.append((name, f"{label}: {fld}: {reason}" if fld else f"{label}: {reason}"))
    return out


def check_documents(session: Session, documents: Mapping[str, str], *, settings: Settings) -> Validation:
    """Validate ``documents`` (name → proposed text) together, in place of their effective texts."""
    result = Validation()
    for name, text in documents.items():
        if not config_store.is_document_name(name):
            known = "、".join(config_store.DOCUMENTS)
            result.problems.append(f"{name}: 不是配置文件（可用：{known}、checklists/*.yaml）")
        elif len(text) > MAX_DOCUMENT_CHARS:
            result.problems.append(f"{name}: 文件过大（上限 {MAX_DOCUMENT_CHARS} 个字符）")
    if result.problems:
        return result
    proposed = problem_lines(session, settings, documents)
    if not proposed:
        return result
    before = {line for name, line in problem_lines(session, settings, {}) if name not in documents}
    for name, line in proposed:
        (result.pre_existing if name not in documents and line in before else result.problems).append(line)
    return result


def validate_document(name: str, text: str, *, settings: Settings, session: Session) -> list[str]:
    """Every problem the configuration would have with ``text`` as document ``name`` (empty: it may be saved)."""
    return check_documents(session, {name: text}, settings=settings).problems


def save_checked(session: Session, documents: Mapping[str, str], *, actor: str, settings: Settings, clock: Clock,
                 note: str = "", action: str = "config.save") -> list[str]:
    """Validate ``documents`` together; save them all and audit each (then commit) only when none has a problem.
    Returns the problems (empty when saved)."""
    problems = check_documents(session, documents, settings=settings).problems
    if problems:
        return problems
    for name, text in documents.items():
        old = config_store.get_document(session, name)
        version = config_store.save_document(session, name, text, actor=actor, clock=clock, note=note)
        audit.record(session, clock=clock, actor=actor, action=action, object_type="config", object_id=name,
                     detail=f"保存配置 {name}（版本 {version}）" + (f"：{note}" if note else ""),
                     data={"version": version, "sha256": config_store.sha256_of(text),
                           "previous_sha256": old.sha256 if old is not None else None, "note": note[:500]})
    session.commit()
    return []


def validate_and_save(session: Session, name: str, text: str, *, principal: object, settings: Settings,
                      clock: Clock, note: str = "") -> list[str]:
    """Problems → nothing saved, the problems returned; else saved as a new version, audited, committed, ``[]``.

    ``principal`` is the signed-in ``api.deps.Principal`` (its ``login`` is recorded), or a login string for the
    CLI."""
    actor = principal if isinstance(principal, str) else principal.login  # type: ignore[attr-defined]
    return save_checked(session, {name: text}, actor=actor, settings=settings, clock=clock, note=note)
