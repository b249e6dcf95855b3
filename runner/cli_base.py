"""What every ``yuqing`` command module shares: settings (with logging configured), the Chinese error exit, and a
migrated database's session factory.

It sits below ``runner.cli`` and the command modules it registers (``runner.cli_complaints`` …), so any of them can
be imported first: a command module that took these from ``runner.cli`` would import the whole command line,
which imports the command modules back while the first one is still half-initialised (an import cycle).
"""

from __future__ import annotations

import typer

from yuqing.errors import ConfigError
from yuqing.logs import configure_logging
from yuqing.settings import Settings, load_settings


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(str(exc))
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"错误 error: {message}", err=True)
    raise typer.Exit(code)


def _user_session():
    from yuqing.db import engine_for, make_sessionmaker
    from yuqing.migrate import upgrade

    settings = _settings()
    engine = engine_for(settings)
    upgrade(engine)
    return settings, make_sessionmaker(engine)
