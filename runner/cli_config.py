"""``yuqing config …``: the configuration documents from the command line — list, show, export, import.

Export writes every effective document (the database copy an admin saved in the console, else the file) as a zip or
into a directory laid out like ``config/``, so a bank can commit it to git; import reads such a zip or directory
(or one ``.yaml``), validates all of it together with the start-up loaders and saves all or nothing
(``api.config_transfer``), audited under the ``--as`` login. Running processes apply an import without restart.
``check-config`` also validates the database documents (``check_database_documents``).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from runner.cli_base import _fail, _user_session
from yuqing.settings import Settings

config_app = typer.Typer(help="Configuration documents: list, show, export to / import from YAML (zip or directory).",
                         no_args_is_help=True)


def _clock(ctx: typer.Context):
    from yuqing.clock import SystemClock

    injected = (ctx.obj or {}).get("clock") if isinstance(ctx.obj, dict) else None
    return injected or SystemClock()


@config_app.command("list")
def list_documents() -> None:
    """Every document: where its effective text comes from (file / database) and its version."""
    from yuqing import config_store

    settings, factory = _user_session()
    with factory() as session:
        for d in config_store.list_documents(session, settings):
            when = d.updated_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M") if d.updated_at else ""
            version = f"v{d.version} {d.updated_by} {when}" if d.version else str(d.path)
            typer.echo(f"{d.name:<34} {d.source_label:<4} {version}")


@config_app.command("show")
def show(name: Annotated[str, typer.Argument(help="document name, e.g. levels.yaml or checklists/generic.yaml")]
         ) -> None:
    """Print a document's effective text (stdout); where it comes from goes to stderr."""
    from yuqing import config_store

    settings, factory = _user_session()
    if not config_store.is_document_name(name):
        _fail(f"不是配置文件：{name}")
    with factory() as session:
        doc = config_store.get_document(session, name)
        text = config_store.effective_text(session, settings, name)
    path = config_store.file_for(settings, name)
    if doc is None and not path.is_file():
        _fail(f"{name}: 数据库与文件中都没有（{path}）")
    typer.echo(f"# {config_store.document_label(name, doc.version) if doc else path}", err=True)
    typer.echo(text, nl=False)


@config_app.command("export")
def export(out: Annotated[Path, typer.Option("--out", help="a .zip file, or a directory (files written in it)")]
           ) -> None:
    """Write every effective document to ``--out`` (zip or directory, layout of config/)."""
    from api.config_transfer import effective_documents, export_zip

    settings, factory = _user_session()
    with factory() as session:
        if out.suffix.lower() == ".zip":
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(export_zip(session, settings))
            count = len(effective_documents(session, settings))
        else:
            documents = effective_documents(session, settings)
            for name, text in documents.items():
                target = out / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            count = len(documents)
    typer.echo(f"exported {count} documents to {out}")


@config_app.command("import")
def import_(ctx: typer.Context,
            source: Annotated[Path, typer.Argument(help="a .zip, a directory laid out like config/, or one .yaml")],
            as_login: Annotated[str | None, typer.Option("--as", help="the admin recorded as having imported it")]
            = None,
            name: Annotated[str, typer.Option(help="save a single .yaml under this document name")] = "",
            note: Annotated[str, typer.Option(help="note for the version history and audit log")] = "") -> None:
    """Validate every document of SOURCE together; save all of them (new versions, audited) or none (exit 2)."""
    from api.config_transfer import BundleError, import_documents, read_directory, read_upload

    settings, factory = _user_session()
    try:
        if source.is_dir():
            documents = read_directory(source)
        elif source.is_file():
            documents = read_upload(source.name, source.read_bytes(), name=name)
        else:
            _fail(f"{source}: 不存在")
    except BundleError as exc:
        _fail(str(exc))
    with factory() as session:
        actor = _actor(session, as_login)
        result = import_documents(session, documents, actor=actor, settings=settings, clock=_clock(ctx),
                                  note=note or f"yuqing config import {source.name}")
    if result.problems:
        typer.echo(f"错误 error: 未导入任何文件，共 {len(result.problems)} 处问题:", err=True)
        for i, line in enumerate(result.problems, 1):
            typer.echo(f"{i}. {line}", err=True)
        raise typer.Exit(2)
    typer.echo(f"imported {len(result.saved)} documents" + (f": {', '.join(result.saved)}" if result.saved else "")
               + f"; {len(result.unchanged)} unchanged")


def _actor(session, as_login: str | None) -> str:
    """``--as``: an active user with the admin role; without it the operating-system user, marked ``cli:``."""
    from api.users import get_user_by_login

    if as_login is None:
        return f"cli:{getpass.getuser()}"[:64]
    user = get_user_by_login(session, login=as_login)
    if user is None or "admin" not in (user.roles or []):
        _fail(f"--as {as_login}: 不是在用的系统管理员账号")
    return user.login


def check_database_documents(settings: Settings) -> Settings:
    """For ``check-config``: when the database holds configuration documents, list every problem of the effective
    configuration (naming ``org.yaml (数据库版本 2)``) and exit 2, else say which documents come from the database
    and return settings reading the effective configuration. A database that does not exist yet, or predates the
    documents table, changes nothing (the files are the configuration)."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from api.config_admin import problem_lines
    from runner.config_reload import has_store
    from yuqing import config_store
    from yuqing.db import engine_for

    url = settings.effective_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return settings
    engine = engine_for(settings)
    try:
        if not has_store(engine):
            return settings
        with Session(engine) as session:
            versions = {n: d.version for n, d in config_store.database_documents(session).items()}
            if not versions:
                return settings
            problems = [line for _, line in problem_lines(session, settings, {})]
            effective, _ = config_store.effective_settings(session, settings)
    except SQLAlchemyError as exc:
        typer.echo(f"注意 note: database not read ({str(exc).splitlines()[0][:200]}); checking the files only",
                   err=True)
        return settings
    finally:
        engine.dispose()
    if problems:
        typer.echo(f"错误 error: 配置有 {len(problems)} 处问题 invalid configuration:", err=True)
        for i, line in enumerate(problems, 1):
            typer.echo(f"{i}. {line}", err=True)
        raise typer.Exit(2)
    listed = ", ".join(config_store.document_label(n, v) for n, v in sorted(versions.items()))
    typer.echo(f"database documents (they win over the files): {listed}")
    return effective
