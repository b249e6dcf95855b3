"""``yuqing report``: the 舆情专报 of an incident and the 舆情日报 / 舆情周报, as html, pdf or docx.

Part of the composition root (it wires the database, the org chart, the policy and the sources to
``incidents.briefings``). Reports are "as of" now — or of the newest record, for a simulated demo database that runs
ahead of the wall clock. Without ``--date`` / ``--week`` the latest day / week that has data is reported.
"""

from __future__ import annotations

import time
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

report_app = typer.Typer(help="Briefings for leadership: 舆情专报 (incident), 舆情日报 (daily), 舆情周报 (weekly), "
                              "as html, pdf or docx.", no_args_is_help=True)


class Format(StrEnum):
    html = "html"
    pdf = "pdf"
    docx = "docx"


class Kind(StrEnum):
    initial = "initial"
    follow_up = "follow_up"
    final = "final"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="html (email-safe), pdf or docx")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="file to write (default: a name in the current "
                                                                  "directory, printed)")]


@report_app.command("incident")
def report_incident(ctx: typer.Context,
                    incident_id: Annotated[int, typer.Argument(min=1, help="incident id")],
                    kind: Annotated[Kind, typer.Option("--kind", help="initial (初报), follow_up (续报), "
                                                                      "final (终报)")] = Kind.initial,
                    fmt: FormatOpt = Format.html, out: OutOpt = None) -> None:
    """舆情专报 of an incident, drafted from the data (extractive, cited, complainants masked)."""
    from incidents.briefings import service
    from incidents.errors import IncidentError

    with _Context(ctx) as c:
        try:
            briefing = service.incident_briefing(c.session, incident_id=incident_id, kind=kind.value, org=c.org,
                                                 policy=c.policy, now=c.as_of)
        except IncidentError as exc:
            _fail(exc.user_message, code=1)
        c.write(briefing, fmt, out, default=f"{briefing.number}.{fmt.value}")


@report_app.command("daily")
def report_daily(ctx: typer.Context,
                 day: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default: the latest day "
                                                                        "with data)")] = None,
                 fmt: FormatOpt = Format.html, out: OutOpt = None) -> None:
    """舆情日报 of one day (Asia/Shanghai)."""
    from incidents.briefings import service

    with _Context(ctx) as c:
        if day is None:
            chosen = service.latest_day(c.session, c.as_of)
        else:
            try:
                chosen = date.fromisoformat(day)
            except ValueError:
                _fail(f"--date {day!r} is not YYYY-MM-DD")
        report = service.daily_report(c.session, day=chosen, org=c.org, policy=c.policy, now=c.as_of,
                                      sources=c.sources)
        c.write(report.briefing, fmt, out, default=f"{report.briefing.number}.{fmt.value}")


@report_app.command("weekly")
def report_weekly(ctx: typer.Context,
                  week: Annotated[str | None, typer.Option("--week", help="YYYY-Www, e.g. 2026-W48 (default: the "
                                                                          "latest week with data)")] = None,
                  fmt: FormatOpt = Format.html, out: OutOpt = None) -> None:
    """舆情周报 of one ISO week (Monday to Sunday, Asia/Shanghai)."""
    from incidents.briefings import service

    with _Context(ctx) as c:
        if week is None:
            year, number = service.latest_week(c.session, c.as_of)
        else:
            try:
                year, number = service.parse_week(week)
            except ValueError:
                _fail(f"--week {week!r} is not YYYY-Www (e.g. 2026-W48)")
        report = service.weekly_report(c.session, year=year, week=number, org=c.org, policy=c.policy, now=c.as_of,
                                       sources=c.sources)
        c.write(report.briefing, fmt, out, default=f"{report.briefing.number}.{fmt.value}")


class _Context:
    """Settings, a session, the org chart, the policy and the sources; ``ctx.obj["clock"]`` may inject a clock."""

    def __init__(self, ctx: typer.Context):
        self.ctx = ctx

    def __enter__(self) -> _Context:
        from crawlers.sources import load_sources
        from incidents.briefings import service
        from incidents.policy import load_policy
        from runner.cli import _settings
        from yuqing.clock import SystemClock
        from yuqing.db import engine_for, make_sessionmaker
        from yuqing.errors import ConfigError
        from yuqing.org import load_org

        settings = _settings()
        try:
            self.org = load_org(settings.org_path)
            self.policy = load_policy(settings.levels_path, settings.checklists_path)
            try:
                self.sources = load_sources(settings.sources_path) or None  # none configured: the recorded states
            except ConfigError:
                self.sources = None
        except ConfigError as exc:
            _fail(str(exc))
        self.engine = engine_for(settings)
        self.session = make_sessionmaker(self.engine)()
        injected = (self.ctx.obj or {}).get("clock") if isinstance(self.ctx.obj, dict) else None
        self.as_of = service.report_time(self.session, (injected or SystemClock()).now())
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.session.close()
        self.engine.dispose()

    def write(self, briefing, fmt: Format, out: Path | None, *, default: str) -> None:
        from incidents.briefings import service

        data = service.render(briefing, fmt.value)
        path = out or Path(default)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        typer.echo(f"{path}\t{briefing.title}\t{len(data)} bytes\t{time.perf_counter() - self.started:.2f}s")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"错误 error: {message}", err=True)
    raise typer.Exit(code)
