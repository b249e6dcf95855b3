"""YAML import and export of the configuration, so a bank can keep it in git.

Export is a zip of every effective document (the database copy where one was saved, else the file) under its
document name — ``org.yaml``, ``checklists/run.yaml`` — exactly the layout of ``config/``, so unpacking it over a
checkout of the configuration and committing shows in ``git diff`` what the console changed. Import takes such a
zip (or a directory, or a single ``.yaml``), validates every document together and saves all of them or none
(``api.config_admin.save_checked``); documents whose text equals the effective one are left alone, so an
export imported back unchanged saves nothing.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sqlalchemy.orm import Session

from api.config_admin import MAX_DOCUMENT_CHARS, save_checked
from yuqing import config_store
from yuqing.clock import Clock
from yuqing.settings import Settings

MAX_BUNDLE_BYTES = 10 * 1024 * 1024  # uncompressed, all documents together (a zip bomb stops here)
MAX_BUNDLE_FILES = 500


class BundleError(ValueError):
    """An upload that is not a configuration bundle (said in Chinese: it is shown on the import form)."""


@dataclass
class ImportResult:
    problems: list[str] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)  # documents saved as a new version
    unchanged: list[str] = field(default_factory=list)  # documents equal to the effective text: nothing to do


def effective_documents(session: Session, settings: Settings) -> dict[str, str]:
    """Every document that exists (database or file), name → effective text, in the console's order."""
    return {d.name: config_store.effective_text(session, settings, d.name)
            for d in config_store.list_documents(session, settings) if d.source != "missing"}


def export_zip(session: Session, settings: Settings) -> bytes:
    """The effective configuration as a zip (deterministic entry times, so two exports of the same texts match)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in effective_documents(session, settings).items():
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))
    return buf.getvalue()


def _decode(name: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{name}：不是 UTF-8 文本（第 {exc.start} 字节）") from None
    if len(text) > MAX_DOCUMENT_CHARS:
        raise BundleError(f"{name}：文件过大（上限 {MAX_DOCUMENT_CHARS} 个字符）")
    return text


def _strip_common_folder(names: list[str]) -> dict[str, str]:
    """Entry name → document name; a single folder around everything (``config/…``, as a git checkout's
    ``config`` directory zipped whole) is dropped."""
    parts = [PurePosixPath(n).parts for n in names]
    firsts = {p[0] for p in parts}
    folder = next(iter(firsts)) if len(firsts) == 1 else None
    if folder and folder != config_store.CHECKLISTS and all(len(p) > 1 for p in parts):
        return {n: "/".join(p[1:]) for n, p in zip(names, parts, strict=True)}
    return {n: n for n in names}


def read_zip(data: bytes) -> dict[str, str]:
    """The documents of a zip: ``.yaml`` entries only (directories and other files such as a README are ignored);
    an entry that is not a configuration document is refused by the validation that follows."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BundleError("上传的文件不是 zip 压缩包") from None
    with zf:
        entries = [i for i in zf.infolist() if not i.is_dir() and i.filename.endswith((".yaml", ".yml"))]
        if len(entries) > MAX_BUNDLE_FILES:
            raise BundleError(f"压缩包中的文件过多（上限 {MAX_BUNDLE_FILES} 个）")
        if sum(i.file_size for i in entries) > MAX_BUNDLE_BYTES:
            raise BundleError(f"压缩包解压后过大（上限 {MAX_BUNDLE_BYTES // 1024 // 1024} MiB）")
        mapping = _strip_common_folder([i.filename for i in entries])
        out: dict[str, str] = {}
        for info in entries:
            name = mapping[info.filename]
            with zf.open(info) as fh:
                out[name] = _decode(name, fh.read(MAX_BUNDLE_BYTES + 1))
    if not out:
        raise BundleError("压缩包中没有 .yaml 配置文件")
    return out


def read_directory(directory: Path) -> dict[str, str]:
    """The documents of a directory laid out like ``config/`` (top-level ``*.yaml`` and ``checklists/*.yaml``)."""
    out: dict[str, str] = {}
    for path in sorted([*directory.glob("*.yaml"), *(directory / config_store.CHECKLISTS).glob("*.yaml")]):
        name = path.relative_to(directory).as_posix()
        out[name] = _decode(name, path.read_bytes())
    if not out:
        raise BundleError(f"{directory} 中没有 .yaml 配置文件")
    return out


def read_upload(filename: str, data: bytes, *, name: str = "") -> dict[str, str]:
    """An uploaded zip, or one ``.yaml`` saved as ``name`` (default: the file's own name)."""
    if filename.lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
        return read_zip(data)
    target = (name or PurePosixPath(filename).name).strip()
    if not target:
        raise BundleError("请选择要导入的文件")
    return {target: _decode(target, data)}


def import_documents(session: Session, documents: Mapping[str, str], *, actor: str, settings: Settings,
                     clock: Clock, note: str = "") -> ImportResult:
    """Validate the changed documents together and save them all, or none when any problem is found."""
    result = ImportResult()
    changed: dict[str, str] = {}
    for name, text in documents.items():
        current = config_store.effective_text(session, settings, name) if config_store.is_document_name(name) \
            else None
        (result.unchanged.append(name) if current == text else changed.__setitem__(name, text))
    if not changed:
        return result
    result.problems = save_checked(session, changed, actor=actor, settings=settings, clock=clock,
                                   note=note or "导入", action="config.import")
    if not result.problems:
        result.saved = sorted(changed)
    return result
